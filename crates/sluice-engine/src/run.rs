//! The runner: one run of one job.
//!
//! 1. Reconcile: a file left `loading` by a process that died is asked of the sink; if its
//!    load committed it is marked loaded, else its claim is dropped and it is loaded again.
//! 2. List and plan ([`crate::plan`]).
//! 3. Per file: claim it in the ledger, check its schema against the job's, stream it into
//!    the sink (rows and marker commit together), mark it loaded. A failure leaves table and
//!    ledger as they were and the run goes on with the next file. A transient failure
//!    (network, throttling, a busy destination) is retried with backoff ([`RetryPolicy`]);
//!    a failure in the data is not.
//!
//! A run waits `queued` while another run of its job holds the lease. After a shutdown is
//! asked for ([`Engine::shutdown`]) a run finishes the file it is loading and takes no more;
//! the files it leaves are the next run's. Every step goes to the run's log.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use sluice_core::format;
use sluice_core::schema::diff;
use sluice_core::storage::{FileEntry, FilePattern};
use sluice_sinks::{DirectSource, FileLoad, Sink};

use crate::Result;
use crate::catalog::Promotion;
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
    /// While another run of the job is going, wait for it in the queue instead of refusing.
    pub wait: bool,
}

/// How transient failures of a file are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per file in all, the first included.
    pub attempts: u32,
    /// The wait before the second try; it doubles for each try after.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// How often a queued run asks whether the job is free.
pub const QUEUE_POLL: Duration = Duration::from_millis(500);

/// A file's failure: what it was, why, and whether trying again could help.
struct Failure {
    outcome: FileOutcome,
    message: String,
    transient: bool,
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
        let (job, run) = self.start_run(job_name, options.wait).await?;
        self.execute_run(&job, run.id, options, progress).await
    }

    /// Records a new run of a job, `running` (or `queued` behind a running one, if `queue`),
    /// without loading anything: interfaces that answer at once (the API) start here and
    /// then call [`Engine::execute_run`].
    pub async fn start_run(&self, job_name: &str, queue: bool) -> Result<(Job, Run)> {
        let job = self.catalog().job(job_name).await?;
        let run = self
            .catalog()
            .start_run(job.id, &crate::lease::this_runner(), None, queue)
            .await?;
        Ok((job, run))
    }

    /// Carries out a run recorded by [`Engine::start_run`]; a queued run first waits for
    /// the job to be free.
    pub async fn execute_run(
        &self,
        job: &Job,
        run_id: i64,
        options: RunOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Run> {
        let run = self.catalog().run(run_id).await?;
        if run.status == RunStatus::Queued && !self.wait_in_queue(run_id).await? {
            return self.catalog().run(run_id).await;
        }
        let _lease = self.keep_lease(run_id);
        let trigger = if run.scheduled_for.is_some() {
            "the schedule"
        } else {
            "hand"
        };
        self.log(
            run_id,
            Level::Info,
            format!("run {run_id} of job '{}' started by {trigger}", job.name),
        )
        .await;
        let result = self.run_files(job, run_id, options, progress).await;
        let run = match result {
            Ok(done) => {
                let failed = done.outcomes.iter().filter(|o| o.is_failure()).count();
                let loaded = done
                    .outcomes
                    .iter()
                    .filter(|o| matches!(o, FileOutcome::Loaded | FileOutcome::Recovered))
                    .count();
                let status = match (failed, loaded) {
                    (0, _) => RunStatus::Succeeded,
                    (_, 0) => RunStatus::Failed,
                    _ => RunStatus::PartiallyFailed,
                };
                let note = (done.left > 0).then(|| {
                    format!(
                        "stopped by a shutdown: {} file(s) left for the next run",
                        done.left
                    )
                });
                if let Some(note) = &note {
                    self.log(run_id, Level::Warn, note.clone()).await;
                }
                self.catalog()
                    .finish_run(
                        run_id,
                        status,
                        done.seen,
                        done.already_loaded,
                        note.as_deref(),
                    )
                    .await?
            }
            Err(e) => {
                let message = e.to_string();
                self.log(run_id, Level::Error, format!("run failed: {message}"))
                    .await;
                self.catalog()
                    .finish_run(run_id, RunStatus::Failed, 0, 0, Some(&message))
                    .await?;
                let run = self.catalog().run(run_id).await?;
                self.after_run(job, &run).await;
                return Err(e);
            }
        };
        self.log(
            run_id,
            Level::Info,
            format!(
                "run {} {}: {} file(s) loaded, {} skipped, {} failed; {} rows",
                run.id,
                run.status.as_str().replace('_', " "),
                run.files_loaded,
                run.files_skipped,
                run.files_failed,
                run.rows_loaded
            ),
        )
        .await;
        self.after_run(job, &run).await;
        self.forget_waiting(job.id);
        self.catalog().run(run_id).await
    }

    /// Waits until the queued run holds the job. False if it will not run here: another
    /// process started it, or a shutdown came first (it stays queued for the next start).
    async fn wait_in_queue(&self, run_id: i64) -> Result<bool> {
        let runner = crate::lease::this_runner();
        let mut told = false;
        loop {
            match self.catalog().promote_queued(run_id, &runner).await? {
                Promotion::Started => return Ok(true),
                Promotion::Gone => return Ok(false),
                Promotion::Waiting(busy) => {
                    if !told {
                        self.log(run_id, Level::Info, format!("queued: {busy}"))
                            .await;
                        told = true;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(QUEUE_POLL) => {}
                () = self.shutdown_token().cancelled() => return Ok(false),
            }
        }
    }

    /// Appends to the run's log and to the process log. A log line that cannot be stored
    /// does not stop the run.
    pub(crate) async fn log(&self, run_id: i64, level: Level, message: String) {
        match level {
            Level::Info => tracing::info!(run = run_id, "{message}"),
            Level::Warn => tracing::warn!(run = run_id, "{message}"),
            Level::Error => tracing::error!(run = run_id, "{message}"),
        }
        if let Err(e) = self.catalog().log(run_id, level.as_str(), &message).await {
            tracing::warn!(run = run_id, "cannot store a log line: {e}");
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

    async fn run_files(
        &self,
        job: &Job,
        run_id: i64,
        options: RunOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Done> {
        let sink = self.stored_sink(job)?;
        let recovered = self.reconcile(job, run_id, sink.as_ref()).await?;
        let mut outcomes = vec![FileOutcome::Recovered; recovered.len()];

        let store = self.store(&job.connection).await?;
        let pattern = FilePattern::new(&job.file_path_prefix, &job.file_pattern)?;
        let listing = store.list(&pattern).await?;
        let ledger = self.catalog().processed_files(job.id).await?;
        let loaded: HashSet<(String, String)> = ledger
            .iter()
            .filter(|p| p.status == "loaded")
            .map(|p| (p.file_path.clone(), p.file_version.clone()))
            .collect();
        let latest_only = !options.all_files.unwrap_or(!job.load_latest_only);
        let plan = crate::plan::plan(&listing.files, &loaded, latest_only, job.max_file_size);
        self.log(
            run_id,
            Level::Info,
            format!(
                "listed {} file(s) matching '{}' {}: {} already loaded, {} to load, {} over the size limit",
                listing.files.len(),
                pattern.glob(),
                if pattern.prefix().is_empty() {
                    "in the connection".to_string()
                } else {
                    format!("under '{}'", pattern.prefix())
                },
                plan.already_loaded,
                plan.take.len(),
                plan.too_large.len()
            ),
        )
        .await;
        self.check_sizes(job, run_id, &ledger, &plan.take).await;
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
            self.finish_file(job, run_id, &record).await?;
            progress.file_finished(&record);
            outcomes.push(record.outcome);
        }

        let mut left = 0;
        for (i, file) in plan.take.iter().enumerate() {
            if self.shutdown_token().is_cancelled() {
                left = plan.take.len() - i;
                break;
            }
            progress.file_started(file);
            let record = self
                .load_with_retries(job, run_id, &store, sink.as_ref(), file, &progress)
                .await?;
            self.finish_file(job, run_id, &record).await?;
            progress.file_finished(&record);
            outcomes.push(record.outcome);
        }
        // Files recovered above are counted as loaded by this run, not as loaded before it.
        let recovered_listed = listing
            .files
            .iter()
            .filter(|f| recovered.contains(&(f.path.clone(), f.version_key())))
            .count() as u64;
        Ok(Done {
            seen: listing.files.len() as u64,
            already_loaded: plan.already_loaded - recovered_listed,
            outcomes,
            left,
        })
    }

    /// Records a file's outcome in the run and its log, and settles its alerts.
    async fn finish_file(&self, job: &Job, run_id: i64, record: &RunFile) -> Result<()> {
        self.catalog().record_file(run_id, record).await?;
        let (level, what) = match record.outcome {
            FileOutcome::Loaded | FileOutcome::Recovered => (
                Level::Info,
                format!(
                    "{}: {}, {} rows",
                    record.file_path,
                    record.outcome.label(),
                    record.rows_loaded
                ),
            ),
            o => {
                // Messages mostly start with the file's path already.
                let message = record.message.as_deref().unwrap_or("");
                let message = message
                    .strip_prefix(record.file_path.as_str())
                    .and_then(|m| m.strip_prefix(": "))
                    .unwrap_or(message);
                let level = if o.is_failure() {
                    Level::Error
                } else {
                    Level::Warn
                };
                (
                    level,
                    format!("{}: {}: {message}", record.file_path, o.label()),
                )
            }
        };
        self.log(run_id, level, what).await;
        if matches!(record.outcome, FileOutcome::Loaded | FileOutcome::Recovered) {
            self.file_arrived(job, record).await;
        }
        Ok(())
    }

    /// Loads a file, trying again after a transient failure as the retry policy allows
    /// (but not once a shutdown is asked for).
    async fn load_with_retries(
        &self,
        job: &Job,
        run_id: i64,
        store: &sluice_core::storage::Store,
        sink: &dyn Sink,
        file: &FileEntry,
        progress: &Arc<dyn Progress>,
    ) -> Result<RunFile> {
        let policy = self.retry_policy();
        let mut wait = policy.backoff;
        let mut attempt = 1;
        loop {
            let (record, transient) = self
                .load_file(job, run_id, store, sink, file, progress.clone())
                .await?;
            if !transient || attempt >= policy.attempts || self.shutdown_token().is_cancelled() {
                return Ok(record);
            }
            attempt += 1;
            self.log(
                run_id,
                Level::Warn,
                format!(
                    "{}: {} (transient); try {attempt} of {} in {}",
                    file.path,
                    record.message.as_deref().unwrap_or(""),
                    policy.attempts,
                    humantime(wait)
                ),
            )
            .await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.shutdown_token().cancelled() => return Ok(record),
            }
            wait = (wait * 2).min(policy.max_backoff);
        }
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
                    self.finish_file(job, run_id, &record).await?;
                }
                None => {
                    self.log(
                        run_id,
                        Level::Warn,
                        format!(
                            "{}: an interrupted load had not committed; it will be loaded again",
                            p.file_path
                        ),
                    )
                    .await;
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
            rows_loaded: 0,
        };
        if !self
            .catalog()
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
            self.catalog()
                .mark_loaded(job.id, &file.path, &version, receipt.rows, run_id)
                .await?;
            record.outcome = FileOutcome::Recovered;
            record.rows_loaded = receipt.rows;
            record.message = Some("already committed in the destination; recorded".into());
            return Ok((record, false));
        }
        match self
            .load_claimed(job, store, sink, file, &load, progress)
            .await
        {
            Ok((rows, note)) => {
                sluice_core::fault::hit("after-commit");
                self.catalog()
                    .mark_loaded(job.id, &file.path, &version, rows, run_id)
                    .await?;
                record.rows_loaded = rows;
                record.message = note;
                Ok((record, false))
            }
            Err(f) => {
                self.catalog()
                    .release_claim(job.id, &file.path, &version)
                    .await?;
                record.outcome = f.outcome;
                record.message = Some(f.message);
                Ok((record, f.transient))
            }
        }
    }

    /// Checks the schema and loads; an error comes back as the file's outcome and message.
    /// Returns the rows loaded, and a note when the destination read the file itself.
    async fn load_claimed(
        &self,
        job: &Job,
        store: &sluice_core::storage::Store,
        sink: &dyn Sink,
        file: &FileEntry,
        load: &FileLoad,
        progress: Arc<dyn Progress>,
    ) -> Result<(u64, Option<String>), Failure> {
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
                return Err(Failure {
                    outcome: FileOutcome::FailedSchemaMismatch,
                    message: e.to_string(),
                    transient: false,
                });
            }
        }
        // Push-down: a destination that reads the file itself (BigQuery from gs://).
        if let Some(uri) = store.uri_of(&file.path) {
            let source = DirectSource {
                uri,
                format: detected
                    .format_options
                    .clone()
                    .unwrap_or_else(|| job.file_format_options.clone()),
            };
            if sink.loads_directly(&source) {
                let receipt = sink
                    .load_direct(&job.table_name, &job.schema, load, job.load_type, &source)
                    .await
                    .map_err(|e| destination_failure(file, e))?;
                progress.rows(receipt.rows);
                let note = format!("read by the destination from {} (push-down)", source.uri);
                return Ok((receipt.rows, Some(note)));
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
                sluice_core::fault::slow("batch");
            })
            .boxed();
        let receipt = sink
            .load(&job.table_name, &job.schema, load, job.load_type, batches)
            .await
            .map_err(|e| destination_failure(file, e))?;
        Ok((receipt.rows, None))
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

/// A sink's error as the file's outcome: the reader's errors as the reader's.
fn destination_failure(file: &FileEntry, e: sluice_sinks::Error) -> Failure {
    match e {
        sluice_sinks::Error::Source(e) => core_failure(e),
        other => Failure {
            outcome: FileOutcome::FailedDestination,
            transient: other.is_transient(),
            message: format!("{}: {other}", file.path),
        },
    }
}

fn core_failure(e: sluice_core::Error) -> Failure {
    let outcome = match &e {
        sluice_core::Error::Storage { .. } => FileOutcome::FailedStorage,
        sluice_core::Error::SchemaMismatch { .. } => FileOutcome::FailedSchemaMismatch,
        _ => FileOutcome::FailedParse,
    };
    Failure {
        outcome,
        transient: e.is_transient(),
        message: e.to_string(),
    }
}

/// What [`Engine::run_files`] did.
struct Done {
    seen: u64,
    already_loaded: u64,
    outcomes: Vec<FileOutcome>,
    /// Files planned but not taken because of a shutdown.
    left: usize,
}

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

/// `2s`, `1m 30s`.
fn humantime(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s < 60.0 {
        format!("{s:.0} s")
    } else {
        format!("{}m {}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    bytesize::ByteSize::b(n).display().iec().to_string()
}
