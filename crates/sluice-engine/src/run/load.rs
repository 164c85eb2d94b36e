//! One file of a run: claimed in the ledger, loaded through the job's pipeline, the claim
//! settled; tried again after a transient failure.

use sluice_core::storage::{FileEntry, Store};
use sluice_sinks::FileLoad;

use std::sync::Arc;

use super::Runner;
use super::heartbeat::LeaseGuard;
use super::log::Level;
use super::options::Progress;
use crate::catalog::FileFailure;
use crate::jobs::{group_load_id, load_id};
use crate::model::{FileOutcome, Job, RunFile};
use crate::pipeline::{Failure, FilePipeline};
use crate::plan::Take;
use crate::text::human_duration;
use crate::{Error, Result};

impl Runner {
    /// Loads one file of a run, with its retries (the caller records it); `None` when a
    /// shutdown came before it started.
    pub(super) async fn load_one(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        take: &Take,
        progress: &Arc<dyn Progress>,
        lease: &LeaseGuard,
    ) -> Result<Option<FileResult>> {
        if self.shutdown.is_cancelled() {
            return Ok(None);
        }
        if lease.lost.is_cancelled() {
            return Err(Error::LeaseLost { run_id });
        }
        progress.file_started(&take.file);
        self.load_with_retries(job, run_id, pipeline, take)
            .await
            .map(Some)
    }

    /// Loads a file, trying again after a transient failure as the retry policy allows
    /// (but not once a shutdown is asked for).
    pub(super) async fn load_with_retries(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        take: &Take,
    ) -> Result<FileResult> {
        let file = &take.file;
        let policy = self.retry;
        let mut wait = policy.backoff;
        let mut attempt = 1;
        loop {
            let (record, transient) = self.load_file(job, run_id, pipeline, take).await?;
            let changed = record.outcome == FileOutcome::SkippedChanged;
            if transient || changed {
                // Not the file's failure (a transient one, or this version is gone): its
                // claim goes back as it was, to be tried again now or by a later run.
                self.catalog
                    .release_claim(job.id, &file.path, &record.file_version)
                    .await?;
            }
            if changed {
                return Ok(FileResult {
                    record,
                    parked: false,
                });
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
        take: &Take,
    ) -> Result<(RunFile, bool)> {
        let file = &take.file;
        let version = file.version_key();
        let load = FileLoad {
            load_id: load_id(job, file, take.generation),
            file_path: file.path.clone(),
            file_version: version.clone(),
        };
        let mut record = RunFile::taken(file);
        // The content's identity, when the plan knows it (the store's checksum, or hashed
        // to compare the file with loaded ones), is recorded with the claim; otherwise the
        // file is hashed while it loads, beside the load, and recorded after it, so that a
        // later copy or touch of the same bytes is known for what it is.
        if !self
            .catalog
            .claim_file(job.id, run_id, file, &load.load_id, take.content.as_deref())
            .await?
        {
            // Another runner holds or finished it since the listing.
            record.claimed_elsewhere();
            return Ok((record, false));
        }
        // Recorded as soon as it is known: a load seldom commits before its file is hashed.
        let hashing = take.content.is_none().then(|| {
            let (store, file) = (pipeline.store().clone(), file.clone());
            let (catalog, job_id, version) = (Arc::clone(&self.catalog), job.id, version.clone());
            tokio::spawn(async move {
                match store.content_hash(&file).await {
                    Ok(content) => {
                        sluice_core::fault::slow("before-content");
                        catalog
                            .record_content(job_id, &file.path, &version, &content)
                            .await
                    }
                    // The load reads the same version and says what went wrong with it.
                    Err(e) => {
                        tracing::debug!(file = %file.path, "not hashed: {e}");
                        Ok(())
                    }
                }
            })
        });
        let loaded = self
            .load_claimed(job, run_id, pipeline, take, &load, record)
            .await;
        if let Some(hashing) = hashing {
            if loaded.is_err() {
                hashing.abort();
            }
            match hashing.await {
                Ok(recorded) => recorded?,
                Err(e) if e.is_cancelled() => {}
                Err(e) => tracing::warn!(file = %file.path, "hashing failed: {e}"),
            }
        }
        loaded
    }

    /// Loads a claimed file: refused when it changed after it was loaded and the job fails
    /// such files, recorded when the destination already holds it, else loaded.
    async fn load_claimed(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        take: &Take,
        load: &FileLoad,
        mut record: RunFile,
    ) -> Result<(RunFile, bool)> {
        let file = &take.file;
        let version = &load.file_version;
        if take.fail {
            record.outcome = FileOutcome::FailedChanged;
            record.message = Some(format!(
                "{}: the file changed after it was loaded, and the job's policy for changed files is to fail them",
                file.path
            ));
            record.hint = Some(sluice_core::error::Hint::set(
                "choose what to do with changed files: reload, append or ignore",
                "changed_files",
                None,
            ));
            return Ok((record, false));
        }
        // The destination's marker is the truth: a load that committed but whose ledger row
        // was lost (another runner released it) is recorded, not repeated.
        let committed = pipeline
            .sink()
            .was_loaded(&load.load_id)
            .await
            .map_err(|e| crate::Error::Sink(e.about(&file.path)))?;
        if let Some(receipt) = committed {
            self.catalog
                .mark_loaded(job.id, &file.path, version, receipt.rows, run_id)
                .await?;
            record.outcome = FileOutcome::Recovered;
            record.rows_loaded = receipt.rows;
            record.message = Some("already committed in the destination; recorded".into());
            return Ok((record, false));
        }
        match pipeline.load(file, load, take.reload).await {
            Ok(loaded) => {
                sluice_core::fault::hit("after-commit");
                self.catalog
                    .mark_loaded(job.id, &file.path, version, loaded.rows, run_id)
                    .await?;
                record.rows_loaded = loaded.rows;
                record.rows_rejected = loaded.rejected;
                record.message = loaded.note;
                Ok((record, false))
            }
            Err(f) => {
                let transient = f.transient;
                f.onto(&mut record);
                Ok((record, transient))
            }
        }
    }

    /// A replace run of several files: all of them replace the table in one transaction,
    /// under one load id, or none does. Each file is claimed first; one that fails fails
    /// the load, and the others are passed over for the next run. Returns each file's record.
    pub(super) async fn load_together(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        takes: &[Take],
    ) -> Result<Vec<RunFile>> {
        let ids: Vec<String> = takes
            .iter()
            .map(|t| load_id(job, &t.file, t.generation))
            .collect();
        let group = group_load_id(job, &ids);
        let mut records = Vec::with_capacity(takes.len());
        let mut claimed: Vec<&FileEntry> = Vec::with_capacity(takes.len());
        for take in takes {
            let mut r = RunFile::taken(&take.file);
            match content_of(pipeline.store(), take).await {
                Err(f) => f.onto(&mut r),
                Ok(content) => {
                    if self
                        .catalog
                        .claim_file(job.id, run_id, &take.file, &group, Some(&content))
                        .await?
                    {
                        claimed.push(&take.file);
                    } else {
                        r.claimed_elsewhere();
                    }
                }
            }
            records.push(r);
        }
        // A file that could not be read or claimed: the table is not replaced without it.
        let blocked = records
            .iter()
            .find(|r| r.outcome != FileOutcome::Loaded)
            .map(|r| r.file_path.clone());
        if let Some(blocked) = blocked {
            for file in &claimed {
                self.catalog
                    .release_claim(job.id, &file.path, &file.version_key())
                    .await?;
            }
            for r in records
                .iter_mut()
                .filter(|r| r.outcome == FileOutcome::Loaded)
            {
                r.outcome = FileOutcome::SkippedWithOthers;
                r.message = Some(format!(
                    "the table is replaced with all the run's files at once, and {blocked} could not be taken"
                ));
            }
            for r in records.iter_mut().filter(|r| r.outcome.is_failure()) {
                let settled = self.settle(job, run_id, r.clone(), false).await?;
                *r = settled.record;
            }
            return Ok(records);
        }
        if let Some(receipt) = pipeline
            .sink()
            .was_loaded(&group)
            .await
            .map_err(|e| crate::Error::Sink(e.about(&group)))?
        {
            for (i, r) in records.iter_mut().enumerate() {
                r.outcome = FileOutcome::Recovered;
                r.rows_loaded = if i == 0 { receipt.rows } else { 0 };
                self.catalog
                    .mark_loaded(job.id, &r.file_path, &r.file_version, r.rows_loaded, run_id)
                    .await?;
            }
            return Ok(records);
        }
        match pipeline.load_together(&claimed, &group).await {
            Ok(rows) => {
                sluice_core::fault::hit("after-commit");
                let n = records.len();
                for (r, (rows, rejected)) in records.iter_mut().zip(rows) {
                    r.rows_loaded = rows;
                    r.rows_rejected = rejected;
                    r.message = Some(format!(
                        "loaded with the run's {n} files in one transaction, replacing the table"
                    ));
                    self.catalog
                        .mark_loaded(job.id, &r.file_path, &r.file_version, rows, run_id)
                        .await?;
                }
            }
            Err((at, f)) => {
                let failed = records[at].file_path.clone();
                for (i, r) in records.iter_mut().enumerate() {
                    if i == at {
                        f.onto(r);
                        if f.transient || f.outcome == FileOutcome::SkippedChanged {
                            self.catalog
                                .release_claim(job.id, &r.file_path, &r.file_version)
                                .await?;
                        } else {
                            *r = self.settle(job, run_id, r.clone(), false).await?.record;
                        }
                    } else {
                        r.outcome = FileOutcome::SkippedWithOthers;
                        r.message = Some(format!(
                            "the table is replaced with all the run's files at once, and {failed} failed; nothing was loaded"
                        ));
                        self.catalog
                            .release_claim(job.id, &r.file_path, &r.file_version)
                            .await?;
                    }
                }
            }
        }
        Ok(records)
    }
}

/// A file's content identity: known from the plan (the store's checksum, or hashed), or
/// hashed now, reading the version listed.
async fn content_of(store: &Store, take: &Take) -> std::result::Result<String, Failure> {
    match &take.content {
        Some(c) => Ok(c.clone()),
        None => store
            .content_hash(&take.file)
            .await
            .map_err(Failure::from_core),
    }
}

/// A file's record once its claim is settled.
pub(super) struct FileResult {
    pub(super) record: RunFile,
    /// It failed the same way once too often and is parked now.
    pub(super) parked: bool,
}
