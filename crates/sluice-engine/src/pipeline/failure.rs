//! A file's failure, as the pipeline reports it to the runner.

use sluice_core::error::Hint;
use sluice_core::storage::FileEntry;

use crate::model::FileOutcome;

/// A file's failure: what it was, why, and whether trying again could help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub outcome: FileOutcome,
    pub message: String,
    pub hint: Option<Hint>,
    pub transient: bool,
}

impl Failure {
    /// The catalog failed while the file's schema version was recorded: worth a retry.
    pub(crate) fn catalog(file: &FileEntry, e: crate::Error) -> Self {
        Self {
            outcome: FileOutcome::FailedDestination,
            message: format!("{}: recording its schema version failed: {e}", file.path),
            hint: None,
            transient: true,
        }
    }

    /// The failure as a file's outcome in its run record.
    pub(crate) fn onto(&self, record: &mut crate::model::RunFile) {
        record.outcome = self.outcome;
        record.message = Some(self.message.clone());
        record.hint = self.hint.clone();
    }

    /// A reader's or gate's error as the file's outcome.
    pub(crate) fn from_core(e: sluice_core::Error) -> Self {
        let outcome = match &e {
            sluice_core::Error::Changed { .. } => FileOutcome::SkippedChanged,
            sluice_core::Error::Storage { .. } => FileOutcome::FailedStorage,
            sluice_core::Error::SchemaMismatch { .. } => FileOutcome::FailedSchemaMismatch,
            _ => FileOutcome::FailedParse,
        };
        Self {
            outcome,
            transient: e.is_transient(),
            hint: e.hint().cloned(),
            message: e.to_string(),
        }
    }

    /// A sink's error as the file's outcome: the reader's errors as the reader's.
    pub(crate) fn from_sink(file: &FileEntry, e: sluice_sinks::Error) -> Self {
        Self::from_sink_at(&file.path, e)
    }

    /// [`Failure::from_sink`] for the file at `path`.
    pub(crate) fn from_sink_at(path: &str, e: sluice_sinks::Error) -> Self {
        match e {
            sluice_sinks::Error::Source(e) => Self::from_core(e),
            other => Self {
                outcome: FileOutcome::FailedDestination,
                transient: other.is_transient(),
                hint: None,
                message: format!("{path}: {other}"),
            },
        }
    }
}
