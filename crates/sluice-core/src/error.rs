use crate::schema::SchemaDiff;

/// Everything that can go wrong in storage, formats and schemas.
///
/// Messages name the file, line and column where there is one, and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid connection URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("{path}: {}: {source}", crate::storage::classify(source).advice())]
    Storage {
        path: String,
        #[source]
        source: object_store::Error,
    },

    #[error("invalid file pattern '{pattern}': {reason}")]
    InvalidPattern { pattern: String, reason: String },

    #[error("invalid option {option}: {reason}")]
    InvalidOption { option: String, reason: String },

    /// A value or record that cannot be read. `line` is 1-based and counts the header.
    #[error("{}", parse_message(path, *line, column.as_deref(), message, hint.as_deref()))]
    Parse {
        path: String,
        line: Option<u64>,
        column: Option<String>,
        message: String,
        hint: Option<String>,
    },

    #[error(
        "{path}: the file's columns differ from the job's schema:\n{diff}Edit the job's schema or move the file out of the job's pattern."
    )]
    SchemaMismatch { path: String, diff: SchemaDiff },
}

fn parse_message(
    path: &str,
    line: Option<u64>,
    column: Option<&str>,
    message: &str,
    hint: Option<&str>,
) -> String {
    let mut s = path.to_string();
    if let Some(line) = line {
        s.push_str(&format!(" line {line}"));
    }
    if let Some(column) = column {
        s.push_str(&format!(", column '{column}'"));
    }
    s.push_str(": ");
    s.push_str(message);
    if let Some(hint) = hint {
        s.push_str(" — ");
        s.push_str(hint);
    }
    s
}

impl Error {
    pub fn parse(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Parse {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// What kind of storage failure this is, if it is one.
    pub fn storage_failure(&self) -> Option<crate::storage::FailureKind> {
        match self {
            Self::Storage { source, .. } => Some(crate::storage::classify(source)),
            _ => None,
        }
    }

    pub fn storage(path: impl Into<String>, source: object_store::Error) -> Self {
        Self::Storage {
            path: path.into(),
            source,
        }
    }

    /// Whether retrying the same operation could succeed (network, throttling), as opposed
    /// to errors in the data or the configuration.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Storage { source, .. } if !matches!(
            source,
            object_store::Error::NotFound { .. }
                | object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
                | object_store::Error::InvalidPath { .. }
        ))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
