//! One file of a run: claimed in the ledger, loaded through the job's pipeline, the claim
//! settled; tried again after a transient failure.

use sluice_core::storage::FileEntry;
use sluice_sinks::{FileLoad, Sink};

use super::Runner;
use super::log::Level;
use crate::Result;
use crate::jobs::load_id;
use crate::model::{FileOutcome, Job, RunFile};
use crate::pipeline::FilePipeline;
use crate::text::human_duration;

impl Runner {
    /// Loads a file, trying again after a transient failure as the retry policy allows
    /// (but not once a shutdown is asked for).
    pub(super) async fn load_with_retries(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        sink: &dyn Sink,
        file: &FileEntry,
    ) -> Result<RunFile> {
        let policy = self.retry;
        let mut wait = policy.backoff;
        let mut attempt = 1;
        loop {
            let (record, transient) = self.load_file(job, run_id, pipeline, sink, file).await?;
            if !transient || attempt >= policy.attempts || self.shutdown.is_cancelled() {
                return Ok(record);
            }
            attempt += 1;
            self.log
                .write(
                    run_id,
                    Level::Warn,
                    format!(
                        "{}: {} (transient); try {attempt} of {} in {}",
                        file.path,
                        record.message.as_deref().unwrap_or(""),
                        policy.attempts,
                        human_duration(wait)
                    ),
                )
                .await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.shutdown.cancelled() => return Ok(record),
            }
            wait = (wait * 2).min(policy.max_backoff);
        }
    }

    /// Claims a file, loads it through the pipeline and settles the claim; returns its
    /// record and whether its failure was transient.
    async fn load_file(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        sink: &dyn Sink,
        file: &FileEntry,
    ) -> Result<(RunFile, bool)> {
        let version = file.version_key();
        let load = FileLoad {
            load_id: load_id(job, file),
            file_path: file.path.clone(),
            file_version: version.clone(),
        };
        let mut record = RunFile {
            file_path: file.path.clone(),
            file_version: version.clone(),
            file_size_bytes: file.size,
            outcome: FileOutcome::Loaded,
            message: None,
            hint: None,
            rows_loaded: 0,
        };
        if !self
            .catalog
            .claim_file(job.id, run_id, file, &load.load_id)
            .await?
        {
            // Another runner holds or finished it since the listing.
            record.outcome = FileOutcome::SkippedClaimed;
            record.message = Some("another run holds or finished this file".into());
            return Ok((record, false));
        }
        // The destination's marker is the truth: a load that committed but whose ledger row
        // was lost (another runner released it) is recorded, not repeated.
        if let Some(receipt) = sink.was_loaded(&load.load_id).await? {
            self.catalog
                .mark_loaded(job.id, &file.path, &version, receipt.rows, run_id)
                .await?;
            record.outcome = FileOutcome::Recovered;
            record.rows_loaded = receipt.rows;
            record.message = Some("already committed in the destination; recorded".into());
            return Ok((record, false));
        }
        match pipeline.load(file, &load).await {
            Ok(loaded) => {
                sluice_core::fault::hit("after-commit");
                self.catalog
                    .mark_loaded(job.id, &file.path, &version, loaded.rows, run_id)
                    .await?;
                record.rows_loaded = loaded.rows;
                record.message = loaded.note;
                Ok((record, false))
            }
            Err(f) => {
                self.catalog
                    .release_claim(job.id, &file.path, &version)
                    .await?;
                record.outcome = f.outcome;
                record.message = Some(f.message);
                record.hint = f.hint;
                Ok((record, f.transient))
            }
        }
    }
}
