//! A job's schema versions: listed, a proposed one approved, the schema edited (types,
//! names, dropped columns) as a new one.
//! Each change is made in the table first and then recorded (a crash between leaves a table
//! ahead of the job, which loads as before; asking again changes nothing twice).

use sluice_core::schema::TableChange;

use super::Engine;
pub use super::schema_edit::SchemaEdit;
use crate::error::Kind;
use crate::model::{
    Job, JobSettings, LedgerStatus, NewSchemaVersion, SchemaVersion, VersionStatus,
};
use crate::{Error, Result};

/// What approving or editing a schema did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaAccepted {
    pub version: SchemaVersion,
    /// Files refused for their schema that the next run tries again.
    pub files_retried: u64,
}

impl Engine {
    /// The job's schema versions, newest first.
    pub async fn schema_versions(&self, name: &str) -> Result<Vec<SchemaVersion>> {
        let job = self.catalog.job(name).await?;
        self.catalog.schema_versions(job.id).await
    }

    /// Accepts proposed schema version `n`: changes the table to hold it, makes it the job's
    /// schema, and lets the files refused for their schema load on the next run.
    ///
    /// # Errors
    /// [`Error::NotFound`] for no such version, [`Error::Conflict`] for one accepted already,
    /// the destination's when it cannot change the table so.
    pub async fn approve_schema(&self, name: &str, n: u32) -> Result<SchemaAccepted> {
        let job = self.catalog.job(name).await?;
        let versions = self.catalog.schema_versions(job.id).await?;
        let proposed = versions
            .iter()
            .find(|v| v.version == n)
            .ok_or_else(|| Error::not_found(Kind::SchemaVersion, format!("{n} of job '{name}'")))?;
        if proposed.status != VersionStatus::Proposed {
            return Err(Error::Conflict(format!(
                "schema version {n} of job '{name}' is {} already",
                proposed.status.as_str()
            )));
        }
        // Columns the job gained since the proposal stay.
        let mut schema = proposed.schema.clone();
        for c in &job.schema {
            if !schema.iter().any(|p| p.name == c.name) {
                schema.push(c.clone());
            }
        }
        let version = NewSchemaVersion {
            change: TableChange::between(&job.schema, &schema),
            schema,
            diff: proposed.diff.clone(),
            file_path: proposed.file_path.clone(),
            file_fingerprint: proposed.file_fingerprint.clone(),
            how: "approved".into(),
        };
        // Files of the approved file's exact columns pass the gate (the columns it lacks
        // load as NULL); others are checked against the new schema.
        let fingerprint = version
            .file_fingerprint
            .clone()
            .unwrap_or_else(|| version.fingerprint());
        self.accept(&job, Some(n), version, fingerprint, None).await
    }

    /// Edits the job's schema as a new version (see [`SchemaEdit`]): the table's columns
    /// are dropped, renamed and widened to match, the files keep loading by their own
    /// column names.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming an unknown column, a name that cannot be taken, a change
    /// that could lose values, or a rule or dedup key the edit would break.
    pub async fn edit_schema(&self, name: &str, edit: &SchemaEdit) -> Result<SchemaAccepted> {
        let job = self.catalog.job(name).await?;
        let edited = super::schema_edit::apply(&job, edit)?;
        let version = NewSchemaVersion {
            change: edited.change,
            schema: edited.schema,
            diff: None,
            file_path: None,
            file_fingerprint: None,
            how: "edited".into(),
        };
        // The files' columns are what they were: they match the edited job by their names.
        let fingerprint = job.schema_fingerprint.clone();
        let settings = (edited.settings != job.settings).then_some(edited.settings);
        self.accept(&job, None, version, fingerprint, settings.as_ref())
            .await
    }

    /// Makes `version` the job's schema; files of `fingerprint` pass the gate at once.
    async fn accept(
        &self,
        job: &Job,
        proposed: Option<u32>,
        version: NewSchemaVersion,
        fingerprint: String,
        settings: Option<&JobSettings>,
    ) -> Result<SchemaAccepted> {
        let sink = self.jobs.sink(job)?;
        sink.alter_table(&job.table_name, &version.change)
            .await
            .map_err(|e| {
                Error::Sink(e.about(format!(
                    "changing table {} ({})",
                    job.table_name, version.change
                )))
            })?;

        let accepted = self
            .catalog
            .accept_schema(job.id, proposed, &version, &fingerprint, settings)
            .await?;
        // Files refused for their schema (parked, too) load on the next run.
        let mut files_retried = 0;
        for f in self.catalog.processed_files(job.id).await? {
            let refused = f
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("failed_schema_mismatch"));
            if refused && matches!(f.status, LedgerStatus::Failed | LedgerStatus::Parked) {
                files_retried += self.catalog.retry_file(job.id, &f.file_path).await?;
            }
        }
        self.runner.forget_waiting(job.id);
        Ok(SchemaAccepted {
            version: accepted,
            files_retried,
        })
    }
}
