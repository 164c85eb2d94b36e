//! A run's log: every step, in the catalog (for `runs show`, the UI and alerts) and in the
//! process log.

use std::sync::Arc;

use crate::catalog::RunCatalog;

/// The level of a run's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Writes run log lines.
#[derive(Clone)]
pub(crate) struct RunLog {
    catalog: Arc<dyn RunCatalog>,
}

impl RunLog {
    pub(crate) fn new(catalog: Arc<dyn RunCatalog>) -> Self {
        Self { catalog }
    }

    /// Appends to the run's log and to the process log. A log line that cannot be stored
    /// does not stop the run.
    pub(crate) async fn write(&self, run_id: i64, level: Level, message: String) {
        match level {
            Level::Info => tracing::info!(run = run_id, "{message}"),
            Level::Warn => tracing::warn!(run = run_id, "{message}"),
            Level::Error => tracing::error!(run = run_id, "{message}"),
        }
        if let Err(e) = self.catalog.log(run_id, level.as_str(), &message).await {
            tracing::warn!(run = run_id, "cannot store a log line: {e}");
        }
    }
}
