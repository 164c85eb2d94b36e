//! One file of a run: claimed in the ledger, loaded through the job's pipeline, the claim
//! settled; tried again after a transient failure.

use sluice_core::storage::FileEntry;
use sluice_sinks::{FileLoad, Sink};

use super::Runner;
use super::log::Level;
use crate::Result;
use crate::catalog::FileFailure;
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
    ) -> Result<FileResult> {
        let policy = self.retry;
        let mut wait = policy.backoff;
        let mut attempt = 1;
        loop {
            let (record, transient) = self.load_file(job, run_id, pipeline, sink, file).await?;
            if transient {
                // Not the file's failure: its claim goes back as it was, to be tried again
                // now or by a later run.
                self.catalog
                    .release_claim(job.id, &file.path, &record.file_version)
                    .await?;
            }
            if !transient || attempt >= policy.attempts || self.shutdown.is_cancelled() {
                return self.settle(job, run_id, record, transient).await;
            }
            attempt += 1;
            self.log
                .write(
                    run_id,
                    Level::Warn,
                    format!(
                        "{}: {} (transient); try {attempt} of {} in {}",
                        file.path,
                        crate::text::without_path(
                            record.message.as_deref().unwrap_or(""),
                            &file.path
                        ),
                        policy.attempts,
                        human_duration(wait)
                    ),
                )
                .await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.shutdown.cancelled() => return Ok(FileResult { record, parked: false }),
            }
            wait = (wait * 2).min(policy.max_backoff);
        }
    }

    /// Settles a failed file's claim: a failure of the file's own (not a transient one,
    /// whose claim is already released) is counted against it, and the file is parked once
    /// it has failed the same way on the job's `park_after_failures` runs in a row.
    async fn settle(
        &self,
        job: &Job,
        run_id: i64,
        mut record: RunFile,
        transient: bool,
    ) -> Result<FileResult> {
        if !record.outcome.is_failure() || transient {
            return Ok(FileResult {
                record,
                parked: false,
            });
        }
        let error = format!(
            "{}: {}",
            record.outcome.as_str(),
            record.message.as_deref().unwrap_or("")
        );
        let failure = FileFailure {
            file_path: &record.file_path,
            file_version: &record.file_version,
            run_id,
            error: &error,
        };
        let park_after = job.settings.park_after_failures;
        let (failures, parked) = self.catalog.fail_file(job.id, &failure, park_after).await?;
        if parked {
            let message = record.message.take().unwrap_or_default();
            record.message = Some(format!(
                "{message} (the same failure in {failures} runs in a row: parked, not tried again; a new version of the file is taken as usual)"
            ));
        } else if failures > 1 && park_after > 0 {
            let message = record.message.take().unwrap_or_default();
            record.message = Some(format!(
                "{message} (failed the same way {failures} times in a row; parked at {park_after})"
            ));
        }
        Ok(FileResult { record, parked })
    }

    /// Claims a file, loads it through the pipeline; returns its record and whether its
    /// failure was transient. A failed load's claim is left for [`Runner::settle`].
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
        let committed = sink
            .was_loaded(&load.load_id)
            .await
            .map_err(|e| crate::Error::Sink(e.about(&file.path)))?;
        if let Some(receipt) = committed {
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
                record.outcome = f.outcome;
                record.message = Some(f.message);
                record.hint = f.hint;
                Ok((record, f.transient))
            }
        }
    }
}

/// A file's record once its claim is settled.
pub(super) struct FileResult {
    pub(super) record: RunFile,
    /// It failed the same way once too often and is parked now.
    pub(super) parked: bool,
}
