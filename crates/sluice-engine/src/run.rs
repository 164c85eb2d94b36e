//! The runner: one run of one job.
//!
//! 1. Reconcile: a file left `loading` by a process that died is asked of the sink; if its
//!    load committed it is marked loaded, else its claim is dropped and it is loaded again.
//! 2. List and plan ([`crate::plan`]).
//! 3. Per file: claim it in the ledger, check its schema against the job's, stream it into
//!    the sink (rows and marker commit together), mark it loaded. A failure leaves table and
//!    ledger as they were and the run goes on with the next file.

use std::collections::HashSet;
use std::sync::Arc;

use futures::TryStreamExt;
use sluice_core::format;
use sluice_core::schema::diff;
use sluice_core::storage::{FileEntry, FilePattern};
use sluice_sinks::{FileLoad, Sink};

use crate::Result;
use crate::engine::{Engine, load_id};
use crate::model::{FileOutcome, Job, Run, RunFile, RunStatus};

/// Hears about a run as it goes (a progress bar, a log).
pub trait Progress: Send + Sync {
    /// The run is about to load these files.
    fn planned(&self, _files: &[FileEntry]) {}
    fn file_started(&self, _file: &FileEntry) {}
    /// Rows read so far from the current file.
    fn rows(&self, _rows: u64) {}
    fn file_finished(&self, _file: &RunFile) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// Which files a run takes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Overrides the job's strategy: `Some(true)` takes all unprocessed files.
    pub all_files: Option<bool>,
}

impl Engine {
    /// Runs a job once. A run that finds nothing new succeeds with nothing to do.
    ///
    /// # Errors
    /// Only for failures around the files (unknown job, catalog, listing); a file that fails
    /// is recorded in the run, which ends `failed` or `partially_failed`.
    pub async fn run(
        &self,
        job_name: &str,
        options: RunOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Run> {
        let (job, run) = self.start_run(job_name).await?;
        self.execute_run(&job, run.id, options, progress).await
    }

    /// Records a new run of a job, `running`, without loading anything: interfaces that
    /// answer at once (the API) start here and then call [`Engine::execute_run`].
    pub async fn start_run(&self, job_name: &str) -> Result<(Job, Run)> {
        let job = self.catalog().job(job_name).await?;
        let run = self
            .catalog()
            .start_run(job.id, &crate::lease::this_runner(), None)
            .await?;
        Ok((job, run))
    }

    /// Carries out a run recorded by [`Engine::start_run`].
    pub async fn execute_run(
        &self,
        job: &Job,
        run_id: i64,
        options: RunOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Run> {
        let _lease = self.keep_lease(run_id);
        match self.run_files(job, run_id, options, progress).await {
            Ok((seen, already_loaded, outcomes)) => {
                let failed = outcomes.iter().filter(|o| o.is_failure()).count();
                let loaded = outcomes
                    .iter()
                    .filter(|o| matches!(o, FileOutcome::Loaded | FileOutcome::Recovered))
                    .count();
                let status = match (failed, loaded) {
                    (0, _) => RunStatus::Succeeded,
                    (_, 0) => RunStatus::Failed,
                    _ => RunStatus::PartiallyFailed,
                };
                self.catalog()
                    .finish_run(run_id, status, seen, already_loaded, None)
                    .await
            }
            Err(e) => {
                let message = e.to_string();
                self.catalog()
                    .finish_run(run_id, RunStatus::Failed, 0, 0, Some(&message))
                    .await?;
                Err(e)
            }
        }
    }

    /// Renews the run's lease every [`crate::lease::HEARTBEAT_EVERY`] until the guard drops.
    fn keep_lease(&self, run_id: i64) -> LeaseGuard {
        let catalog = self.catalog_handle();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::lease::HEARTBEAT_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = catalog.heartbeat(run_id).await {
                    tracing::warn!(run = run_id, "cannot renew the run's lease: {e}");
                }
            }
        });
        LeaseGuard(task)
    }

    /// Returns (files seen, files already loaded, outcomes of the files taken up).
    async fn run_files(
        &self,
        job: &Job,
        run_id: i64,
        options: RunOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<(u64, u64, Vec<FileOutcome>)> {
        let sink = self.sink(&job.destination)?;
        let recovered = self.reconcile(job, run_id, sink.as_ref()).await?;
        let mut outcomes = vec![FileOutcome::Recovered; recovered.len()];

        let store = self.store(&job.connection).await?;
        let pattern = FilePattern::new(&job.file_path_prefix, &job.file_pattern)?;
        let listing = store.list(&pattern).await?;
        let loaded: HashSet<(String, String)> = self
            .catalog()
            .processed_files(job.id)
            .await?
            .into_iter()
            .filter(|p| p.status == "loaded")
            .map(|p| (p.file_path, p.file_version))
            .collect();
        let latest_only = !options.all_files.unwrap_or(!job.load_latest_only);
        let plan = crate::plan::plan(&listing.files, &loaded, latest_only, job.max_file_size);
        progress.planned(&plan.take);

        for file in &plan.too_large {
            let record = RunFile {
                file_path: file.path.clone(),
                file_version: file.version_key(),
                file_size_bytes: file.size,
                outcome: FileOutcome::SkippedTooLarge,
                message: Some(format!(
                    "{} is {}, over the job's limit of {}; raise it with --max-file-size or split the file",
                    file.path,
                    human_bytes(file.size),
                    human_bytes(job.max_file_size)
                )),
                rows_loaded: 0,
            };
            self.catalog().record_file(run_id, &record).await?;
            progress.file_finished(&record);
            outcomes.push(record.outcome);
        }

        for file in &plan.take {
            progress.file_started(file);
            let record = self
                .load_file(job, run_id, &store, sink.as_ref(), file, progress.clone())
                .await?;
            self.catalog().record_file(run_id, &record).await?;
            progress.file_finished(&record);
            outcomes.push(record.outcome);
        }
        // Files recovered above are counted as loaded by this run, not as loaded before it.
        let recovered_listed = listing
            .files
            .iter()
            .filter(|f| recovered.contains(&(f.path.clone(), f.version_key())))
            .count() as u64;
        Ok((
            listing.files.len() as u64,
            plan.already_loaded - recovered_listed,
            outcomes,
        ))
    }

    /// Settles files a dead process left `loading`; returns those whose load had committed.
    async fn reconcile(
        &self,
        job: &Job,
        run_id: i64,
        sink: &dyn Sink,
    ) -> Result<HashSet<(String, String)>> {
        let mut recovered = HashSet::new();
        for p in self.catalog().processed_files(job.id).await? {
            if p.status != "loading" {
                continue;
            }
            match sink.was_loaded(&p.load_id).await? {
                Some(receipt) => {
                    tracing::info!(file = %p.file_path, "an interrupted load had committed; recording it");
                    self.catalog()
                        .mark_loaded(job.id, &p.file_path, &p.file_version, receipt.rows, run_id)
                        .await?;
                    recovered.insert((p.file_path.clone(), p.file_version.clone()));
                    let record = RunFile {
                        file_path: p.file_path,
                        file_version: p.file_version,
                        file_size_bytes: p.file_size_bytes,
                        outcome: FileOutcome::Recovered,
                        message: Some(
                            "the previous run stopped after the destination committed this file"
                                .into(),
                        ),
                        rows_loaded: receipt.rows,
                    };
                    self.catalog().record_file(run_id, &record).await?;
                }
                None => {
                    tracing::info!(file = %p.file_path, "an interrupted load had not committed; it will be loaded again");
                    self.catalog()
                        .release_claim(job.id, &p.file_path, &p.file_version)
                        .await?;
                }
            }
        }
        Ok(recovered)
    }

    async fn load_file(
        &self,
        job: &Job,
        run_id: i64,
        store: &sluice_core::storage::Store,
        sink: &dyn Sink,
        file: &FileEntry,
        progress: Arc<dyn Progress>,
    ) -> Result<RunFile> {
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
            rows_loaded: 0,
        };
        if !self
            .catalog()
            .claim_file(job.id, run_id, file, &load.load_id)
            .await?
        {
            // Another runner holds or finished it since the listing.
            record.outcome = FileOutcome::SkippedClaimed;
            return Ok(record);
        }
        // The destination's marker is the truth: a load that committed but whose ledger row
        // was lost (another runner released it) is recorded, not repeated.
        if let Some(receipt) = sink.was_loaded(&load.load_id).await? {
            self.catalog()
                .mark_loaded(job.id, &file.path, &version, receipt.rows, run_id)
                .await?;
            record.outcome = FileOutcome::Recovered;
            record.rows_loaded = receipt.rows;
            record.message = Some("already committed in the destination; recorded".into());
            return Ok(record);
        }
        match self
            .load_claimed(job, store, sink, file, &load, progress)
            .await
        {
            Ok(rows) => {
                sluice_core::fault::hit("after-commit");
                self.catalog()
                    .mark_loaded(job.id, &file.path, &version, rows, run_id)
                    .await?;
                record.rows_loaded = rows;
            }
            Err((outcome, message)) => {
                self.catalog()
                    .release_claim(job.id, &file.path, &version)
                    .await?;
                tracing::warn!(file = %file.path, "{message}");
                record.outcome = outcome;
                record.message = Some(message);
            }
        }
        Ok(record)
    }

    /// Checks the schema and loads; an error comes back as the file's outcome and message.
    async fn load_claimed(
        &self,
        job: &Job,
        store: &sluice_core::storage::Store,
        sink: &dyn Sink,
        file: &FileEntry,
        load: &FileLoad,
        progress: Arc<dyn Progress>,
    ) -> Result<u64, (FileOutcome, String)> {
        let detected = format::detect(store, file, &job.file_format_options)
            .await
            .map_err(core_failure)?;
        if detected.schema_fingerprint != job.schema_fingerprint {
            let d = diff(&job.schema, &detected.columns);
            if !d.is_empty() {
                let e = sluice_core::Error::SchemaMismatch {
                    path: file.path.clone(),
                    diff: d,
                };
                return Err((FileOutcome::FailedSchemaMismatch, e.to_string()));
            }
        }
        let batches = format::read(store, file, &job.file_format_options, &job.schema)
            .await
            .map_err(core_failure)?;
        let mut rows = 0u64;
        let batches = batches
            .inspect_ok(move |b| {
                rows += b.num_rows() as u64;
                progress.rows(rows);
            })
            .boxed();
        let receipt = sink
            .load(&job.table_name, &job.schema, load, job.load_type, batches)
            .await
            .map_err(|e| match e {
                sluice_sinks::Error::Source(e) => core_failure(e),
                other => (
                    FileOutcome::FailedDestination,
                    format!("{}: {other}", file.path),
                ),
            })?;
        Ok(receipt.rows)
    }
}

use futures::StreamExt as _;

/// Stops renewing a lease when the run ends.
struct LeaseGuard(tokio::task::JoinHandle<()>);

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn core_failure(e: sluice_core::Error) -> (FileOutcome, String) {
    let outcome = match &e {
        sluice_core::Error::Storage { .. } => FileOutcome::FailedStorage,
        sluice_core::Error::SchemaMismatch { .. } => FileOutcome::FailedSchemaMismatch,
        _ => FileOutcome::FailedParse,
    };
    (outcome, e.to_string())
}

/// `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    bytesize::ByteSize::b(n).display().iec().to_string()
}
