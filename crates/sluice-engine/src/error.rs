//! Errors of the engine, typed so that each interface can word them: the web layer maps
//! variants to status codes and form fields, the CLI adds the command or flag that helps.
//! No message names a CLI flag; what to do is data ([`Hint`]) where a setting does it.

use std::fmt;

use sluice_core::error::Hint;
use sluice_core::fields::FieldError;

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Connection,
    Job,
    Run,
    File,
    SchemaVersion,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connection => "connection",
            Self::Job => "job",
            Self::Run => "run",
            Self::File => "file",
            Self::SchemaVersion => "schema version",
        })
    }
}

/// Errors of the engine. Each message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named thing does not exist.
    #[error("{}", not_found(*kind, name))]
    NotFound { kind: Kind, name: String },

    /// A name is taken.
    #[error("a {kind} named '{name}' already exists; choose another name")]
    Exists { kind: Kind, name: String },

    /// A thing cannot be deleted while others use it.
    #[error("{message}")]
    InUse {
        kind: Kind,
        name: String,
        message: String,
    },

    /// The job is running and the caller did not ask to queue behind it.
    #[error("{message}")]
    Busy { job: String, message: String },

    /// The request conflicts with the state of what it acts on.
    #[error("{0}")]
    Conflict(String),

    /// The newest file's schema is not the one the user reviewed.
    #[error(
        "the schema of the newest file ({path}) changed since it was reviewed; detect it again"
    )]
    SchemaChanged { path: String },

    /// No file matches a job's prefix and pattern.
    #[error("{message}{}", with_hint(hint.as_ref()))]
    NoFiles { message: String, hint: Option<Hint> },

    /// Input that fails validation; `field` names the request field at fault.
    #[error("{message}{}", with_hint(hint.as_deref()))]
    Invalid {
        field: Option<String>,
        message: String,
        hint: Option<Box<Hint>>,
    },

    /// Settings with invalid fields, each named.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<FieldError>),

    /// The catalog database failed.
    #[error("catalog: {0}")]
    Catalog(String),

    /// The run no longer holds its job's lease (its heartbeat lapsed and another run took
    /// the job over): it stops, and what it was loading is settled by the run that holds it.
    #[error(
        "run {run_id} lost its lease on the job (its heartbeat lapsed); it stops here and the run holding the job settles its files"
    )]
    LeaseLost { run_id: i64 },

    /// An operation did not finish in time.
    #[error("{0}")]
    Timeout(String),

    #[error(transparent)]
    Core(#[from] sluice_core::Error),

    #[error(transparent)]
    Sink(#[from] sluice_sinks::Error),
}

fn with_hint(hint: Option<&Hint>) -> String {
    hint.map(|h| format!("; {}", h.text)).unwrap_or_default()
}

fn not_found(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Run => format!("no run {name}"),
        Kind::File => format!("nothing to do for {name}"),
        Kind::SchemaVersion => format!("no schema version {name}"),
        _ => format!("no {kind} named '{name}'"),
    }
}

impl Error {
    pub fn not_found(kind: Kind, name: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            name: name.into(),
        }
    }

    /// Invalid input, with the request field at fault.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.to_string()),
            message: message.into(),
            hint: None,
        }
    }

    /// Invalid input that no single field is at fault for.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::Invalid {
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    /// The request field at fault, as requests name it (`name`, `file_pattern`,
    /// `destination.url`), where one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => field.as_deref(),
            Self::Exists { .. } => Some("name"),
            Self::SchemaChanged { .. } => Some("schema_fingerprint"),
            Self::NoFiles { .. } => Some("file_pattern"),
            Self::Core(e) => e.field(),
            Self::Sink(sluice_sinks::Error::Invalid { field, .. }) => Some(field),
            Self::Sink(sluice_sinks::Error::TableMismatch { .. }) => Some("table_name"),
            Self::Sink(sluice_sinks::Error::Source(e)) => e.field(),
            _ => None,
        }
    }

    /// What to do about it, where a setting does it.
    pub fn hint(&self) -> Option<&Hint> {
        match self {
            Self::NoFiles { hint, .. } => hint.as_ref(),
            Self::Invalid { hint, .. } => hint.as_deref(),
            Self::Core(e) | Self::Sink(sluice_sinks::Error::Source(e)) => e.hint(),
            _ => None,
        }
    }

    /// Whether the same operation could succeed if tried again (network, a busy
    /// destination), as opposed to errors in the input or the data.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Core(e) => e.is_transient(),
            Self::Sink(e) => e.is_transient(),
            Self::Timeout(_) | Self::Catalog(_) | Self::Busy { .. } => true,
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
