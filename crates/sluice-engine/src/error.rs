/// Errors of the engine. Each message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named thing does not exist.
    #[error("{0}")]
    NotFound(String),

    /// A name is taken, or a thing is in use.
    #[error("{0}")]
    Conflict(String),

    /// Input that fails validation.
    #[error("{0}")]
    Invalid(String),

    /// Settings with invalid fields, each named.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<sluice_core::storage::config::FieldError>),

    /// The catalog database failed.
    #[error("catalog: {0}")]
    Catalog(String),

    /// An operation did not finish in time.
    #[error("{0}")]
    Timeout(String),

    #[error(transparent)]
    Core(#[from] sluice_core::Error),

    #[error(transparent)]
    Sink(#[from] sluice_sinks::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
