//! The schema gate: a file whose columns (detected from its sample) differ from the job's is
//! refused with the column-by-column difference, before a row of it is read.

use sluice_core::format;
use sluice_core::schema::{DetectedSchema, diff};
use sluice_core::storage::{FileEntry, Store};

use super::Failure;
use crate::model::{FileOutcome, Job};

/// Why a file does not pass the gate.
pub(crate) enum Gate {
    /// It holds no rows (what it holds instead): settled as loaded with none.
    Empty(String),
    Failed(Failure),
}

impl From<Failure> for Gate {
    fn from(f: Failure) -> Self {
        Self::Failed(f)
    }
}

pub(crate) struct SchemaGate<'a> {
    job: &'a Job,
}

impl<'a> SchemaGate<'a> {
    pub(crate) fn new(job: &'a Job) -> Self {
        Self { job }
    }

    /// What a file with no rows passes as: no columns (nothing is read of it).
    pub(crate) fn empty(&self) -> DetectedSchema {
        DetectedSchema::new(Vec::new(), 0, false, 0)
    }

    /// Detects the file's schema from its sample and checks it against the job's.
    pub(crate) async fn check(
        &self,
        store: &Store,
        file: &FileEntry,
    ) -> Result<DetectedSchema, Gate> {
        let reading = super::reading_of(&self.job.settings);
        let detected =
            match format::detect_with(store, file, &self.job.file_format_options, &reading).await {
                Ok(d) => d,
                Err(sluice_core::Error::NoRows { what, .. }) => return Err(Gate::Empty(what)),
                Err(e) => return Err(Failure::from_core(e).into()),
            };
        if detected.schema_fingerprint != self.job.schema_fingerprint {
            let d =
                diff(&self.job.schema, &detected.columns).as_read_by(&self.job.file_format_options);
            if !d.is_empty() {
                let e = sluice_core::Error::SchemaMismatch {
                    path: file.path.clone(),
                    diff: d,
                };
                return Err(Failure {
                    outcome: FileOutcome::FailedSchemaMismatch,
                    message: e.to_string(),
                    hint: None,
                    transient: false,
                }
                .into());
            }
        }
        Ok(detected)
    }
}
