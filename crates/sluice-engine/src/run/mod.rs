//! The runner: one run of one job.
//!
//! 1. Reconcile ([`reconcile`]): a file left `loading` by a process that died is asked of
//!    the sink; if its load committed it is marked loaded, else its claim is dropped and it
//!    is loaded again.
//! 2. List and plan ([`crate::plan`]).
//! 3. Per file: claim it in the ledger, hand it to the job's [`FilePipeline`] (which checks
//!    its schema and streams it into the sink, rows and marker committing together), mark
//!    it loaded. A failure leaves table and ledger as they were and the run goes on with the
//!    next file. A transient failure (network, throttling, a busy destination) is retried
//!    with backoff ([`RetryPolicy`]); a failure in the data is not.
//!
//! On a shared catalog the files are offered to every worker on it, which load them beside
//! this process ([`share`]).
//!
//! A run waits `queued` while another run of its job holds the lease. After a shutdown is
//! asked for ([`Runner::shutdown`]) a run finishes the files it is loading and takes no more;
//! the files it leaves are the next run's. Every step goes to the run's log ([`log`]).

mod heartbeat;
mod load;
pub(crate) mod log;
mod options;
mod reconcile;
mod replay;
mod share;
mod survey;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sluice_core::storage::{FileEntry, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::log::{Level, RunLog};

use self::heartbeat::LeaseGuard;
pub use self::options::{Progress, Quiet, RetryPolicy, RunOptions, at_once};
use crate::alerts::Alerting;
use crate::catalog::{Catalog, Promotion};
use crate::connections::Connections;
use crate::jobs::Jobs;
use crate::model::{ChangedFiles, FileOutcome, Job, Run, RunFile, RunStatus};
use crate::pipeline::FilePipeline;
use crate::plan::Reason;
use crate::text::human_bytes;
use crate::{Error, Result};

/// How often a queued run asks whether the job is free.
pub const QUEUE_POLL: Duration = Duration::from_millis(500);

/// How long a count of waiting files is reused.
pub const WAITING_TTL: Duration = Duration::from_secs(30);

/// Carries out runs.
#[derive(Clone)]
pub(crate) struct Runner {
    catalog: Arc<dyn Catalog>,
    connections: Connections,
    jobs: Jobs,
    pub(crate) alerts: Alerting,
    log: RunLog,
    pub(crate) retry: RetryPolicy,
    /// How often a run renews its lease ([`crate::lease::HEARTBEAT_EVERY`]).
    pub(crate) heartbeat_every: Duration,
    /// Cancelled when the process is asked to stop: runs finish their current file and
    /// take no more; queued runs stay queued.
    shutdown: CancellationToken,
    /// Runs going on in the background (the API, the scheduler), waited for at shutdown.
    tasks: TaskTracker,
    /// Runs this process is carrying out or waiting to, so the scheduler does not take up
    /// a queued run twice.
    here: Arc<Mutex<HashSet<i64>>>,
    /// Files waiting per job, with when it was counted: listing a bucket on every metrics
    /// scrape would be slow and costly.
    waiting: Arc<Mutex<HashMap<i64, (u64, Instant)>>>,
}

impl Runner {
    pub(crate) fn new(
        catalog: Arc<dyn Catalog>,
        connections: Connections,
        jobs: Jobs,
        alerts: Alerting,
    ) -> Self {
        Self {
            log: RunLog::new(catalog.clone()),
            catalog,
            connections,
            jobs,
            alerts,
            retry: RetryPolicy::default(),
            heartbeat_every: crate::lease::HEARTBEAT_EVERY,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            here: Arc::new(Mutex::new(HashSet::new())),
            waiting: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    pub(crate) fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits for the background runs to stop (after [`Runner::shutdown`]), at most `limit`.
    pub(crate) async fn wait_for_runs(&self, limit: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(limit, self.tasks.wait()).await.is_ok()
    }

    fn here(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.here.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out a recorded run in the background (queued runs wait their turn).
    pub(crate) fn spawn(&self, job: Job, run_id: i64, options: RunOptions) {
        if !self.here().insert(run_id) {
            return;
        }
        let runner = self.clone();
        self.tasks.spawn(async move {
            if let Err(e) = runner.execute(&job, run_id, options, Arc::new(Quiet)).await {
                tracing::warn!(job = %job.name, run = run_id, "run failed: {e}");
            }
            runner.here().remove(&run_id);
        });
    }

    /// Takes up queued runs nobody in this process is waiting on (left by a process that
    /// stopped, or queued by another interface).
    pub(crate) async fn resume_queued(&self) -> Result<usize> {
        let mut resumed = 0;
        for (job, run_id) in self.catalog.queued_runs().await? {
            if self.here().contains(&run_id) {
                continue;
            }
            let job = self.catalog.job(&job).await?;
            self.spawn(job, run_id, RunOptions::default());
            resumed += 1;
        }
        Ok(resumed)
    }

    /// Records a new run of a job, `running` (or `queued` behind a running one, if `queue`),
    /// without loading anything.
    pub(crate) async fn start(&self, job_name: &str, queue: bool) -> Result<(Job, Run)> {
        let job = self.catalog.job(job_name).await?;
        let run = self
            .catalog
            .start_run(job.id, &crate::lease::this_runner(), None, queue)
            .await?;
        Ok((job, run))
    }

    /// Carries out a run recorded by [`Runner::start`]; a queued run first waits for the job
    /// to be free.
    pub(crate) async fn execute(
        &self,
        job: &Job,
        run_id: i64,
        options: RunOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Run> {
        let run = self.catalog.run(run_id).await?;
        if run.status == RunStatus::Queued && !self.wait_in_queue(run_id).await? {
            return self.catalog.run(run_id).await;
        }
        let lease = self.keep_lease(run_id);
        let trigger = if run.scheduled_for.is_some() {
            "the schedule"
        } else {
            "hand"
        };
        self.log
            .write(
                run_id,
                Level::Info,
                format!("run {run_id} of job '{}' started by {trigger}", job.name),
            )
            .await;
        let run = match self.run_files(job, run_id, options, progress, &lease).await {
            Ok(done) => {
                let status = done.status();
                let note = (done.left > 0).then(|| {
                    format!(
                        "stopped by a shutdown: {} file(s) left for the next run",
                        done.left
                    )
                });
                if let Some(note) = &note {
                    self.log.write(run_id, Level::Warn, note.clone()).await;
                }
                self.catalog
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
                self.log
                    .write(run_id, Level::Error, format!("run failed: {message}"))
                    .await;
                self.catalog
                    .finish_run(run_id, RunStatus::Failed, 0, 0, Some(&message))
                    .await?;
                let run = self.catalog.run(run_id).await?;
                self.alerts.after_run(job, &run).await;
                return Err(e);
            }
        };
        self.log
            .write(
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
        self.alerts.after_run(job, &run).await;
        self.forget_waiting(job.id);
        self.catalog.run(run_id).await
    }

    /// Waits until the queued run holds the job. False if it will not run here: another
    /// process started it, or a shutdown came first (it stays queued for the next start).
    async fn wait_in_queue(&self, run_id: i64) -> Result<bool> {
        let runner = crate::lease::this_runner();
        let mut told = false;
        loop {
            match self.catalog.promote_queued(run_id, &runner).await? {
                Promotion::Started => return Ok(true),
                Promotion::Gone => return Ok(false),
                Promotion::Waiting(busy) => {
                    if !told {
                        self.log
                            .write(run_id, Level::Info, format!("queued: {busy}"))
                            .await;
                        told = true;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(QUEUE_POLL) => {}
                () = self.shutdown.cancelled() => return Ok(false),
            }
        }
    }

    async fn run_files(
        &self,
        job: &Job,
        run_id: i64,
        options: RunOptions,
        progress: Arc<dyn Progress>,
        lease: &LeaseGuard,
    ) -> Result<Done> {
        if options.replay {
            return self.replay(job, run_id, lease).await;
        }
        let sink = self.jobs.sink(job)?;
        let recovered = self.reconcile(job, run_id, sink.as_ref()).await?;
        let mut outcomes = vec![FileOutcome::Recovered; recovered.len()];

        let store = self.connections.store(&job.connection).await?;
        let latest_only = !options.all_files.unwrap_or(!job.load_latest_only);
        let survey = self.survey(job, &store, latest_only, true).await?;
        self.identify_recovered(job, &store, &survey.ledger, &recovered)
            .await?;
        let (ledger, plan) = (&survey.ledger, &survey.plan);
        let pattern = &survey.pattern;
        self.log
            .write(
                run_id,
                Level::Info,
                format!(
                    "listed {} file(s) matching '{}' {}: {} already loaded, {} to load, {} over the size limit{}{}",
                    survey.listed,
                    pattern.glob(),
                    if pattern.prefix().is_empty() {
                        "in the connection".to_string()
                    } else {
                        format!("under '{}'", pattern.prefix())
                    },
                    plan.already_loaded(),
                    plan.take.len(),
                    plan.too_large().len(),
                    match plan.waiting().len() {
                        0 => String::new(),
                        n => format!(", {n} waiting"),
                    },
                    match plan.parked() {
                        0 => String::new(),
                        n => format!(", {n} parked after failing run after run"),
                    }
                ),
            )
            .await;
        for w in &survey.warnings {
            self.log.write(run_id, Level::Warn, w.clone()).await;
        }
        self.alerts
            .check_sizes(job, run_id, ledger, &plan.take)
            .await;
        progress.planned(plan.take.len());

        for repeat in &plan.repeats {
            self.catalog
                .record_same_content(
                    job.id,
                    run_id,
                    &repeat.file,
                    &repeat.content,
                    &repeat.same_as,
                )
                .await?;
            let message = if repeat.same_as == repeat.file.path {
                "only its timestamp changed: the same content is already loaded".to_string()
            } else {
                format!(
                    "the same content as {}, which is already loaded",
                    repeat.same_as
                )
            };
            outcomes.push(
                self.passed_over(
                    job,
                    run_id,
                    &repeat.file,
                    FileOutcome::SkippedSameContent,
                    message,
                    None,
                )
                .await?,
            );
        }
        for planned in &plan.files {
            let (outcome, hint) = match &planned.reason {
                Reason::TooLarge { .. } => (
                    FileOutcome::SkippedTooLarge,
                    Some(sluice_core::error::Hint::set(
                        "raise the job's size limit or split the file",
                        "max_file_size",
                        None,
                    )),
                ),
                Reason::Changed {
                    policy: ChangedFiles::Ignore,
                } => (FileOutcome::SkippedIgnoredChange, None),
                Reason::NotSettled { .. } | Reason::NoMarker { .. } => (FileOutcome::Waiting, None),
                _ => continue,
            };
            let message = match &planned.reason {
                Reason::TooLarge { limit } => format!(
                    "{} is {}, over the job's limit of {}",
                    planned.file.path,
                    human_bytes(planned.file.size),
                    human_bytes(*limit)
                ),
                other => other.describe(),
            };
            outcomes.push(
                self.passed_over(job, run_id, &planned.file, outcome, message, hint)
                    .await?,
            );
        }

        let pipeline = FilePipeline::new(
            job,
            &store,
            sink.as_ref(),
            self.catalog.as_ref(),
            Arc::clone(&progress),
            chrono::Utc::now(),
            run_id,
        );
        let mut left = 0;
        if job.load_type == sluice_sinks::LoadMode::Replace && plan.take.len() > 1 {
            if lease.lost.is_cancelled() {
                return Err(Error::LeaseLost { run_id });
            }
            for record in self
                .load_together(job, run_id, &pipeline, &plan.take)
                .await?
            {
                self.finish_file(job, run_id, &record).await?;
                progress.file_finished(&record);
                outcomes.push(record.outcome);
            }
        } else if self.shares(job) && plan.take.len() > 1 {
            let at_once = options::files_at_once(job, options.parallel);
            left = self
                .load_shared(
                    job, run_id, &pipeline, &plan.take, at_once, &progress, lease,
                )
                .await?;
            // The run's files as recorded, whichever worker loaded them.
            outcomes = self
                .catalog
                .run(run_id)
                .await?
                .files
                .iter()
                .map(|f| f.outcome)
                .collect();
        } else {
            // Up to `at_once` files load together, each in a load (and transaction) of its
            // own; their records follow the plan's order. A shutdown or a lost lease stops
            // files from starting; those started finish.
            let at_once = options::files_at_once(job, options.parallel);
            let mut loads = futures::stream::iter(0..plan.take.len())
                .map(|i| self.load_one(job, run_id, &pipeline, &plan.take[i], &progress, lease))
                .buffered(at_once);
            while let Some(loaded) = loads.next().await {
                let Some(settled) = loaded? else {
                    left += 1;
                    continue;
                };
                // Recorded in the plan's order, whichever file finished first.
                let record = settled.record;
                self.finish_file(job, run_id, &record).await?;
                if settled.parked {
                    self.alerts.file_parked(job, run_id, &record).await;
                }
                progress.file_finished(&record);
                outcomes.push(record.outcome);
            }
        }
        // Files recovered above are counted as loaded by this run, not as loaded before it.
        let recovered_listed = plan
            .files
            .iter()
            .filter(|p| recovered.contains(&(p.file.path.clone(), p.file.version_key())))
            .count() as u64;
        Ok(Done {
            seen: survey.listed as u64,
            already_loaded: plan.already_loaded().saturating_sub(recovered_listed),
            outcomes,
            left,
        })
    }

    /// Records a file the run passes over, and why.
    async fn passed_over(
        &self,
        job: &Job,
        run_id: i64,
        file: &FileEntry,
        outcome: FileOutcome,
        message: String,
        hint: Option<sluice_core::error::Hint>,
    ) -> Result<FileOutcome> {
        let record = RunFile {
            outcome,
            message: Some(message),
            hint,
            ..RunFile::taken(file)
        };
        self.finish_file(job, run_id, &record).await?;
        Ok(outcome)
    }

    /// Records a file's outcome in the run and its log, and settles its alerts.
    async fn finish_file(&self, job: &Job, run_id: i64, record: &RunFile) -> Result<()> {
        self.catalog.record_file(run_id, record).await?;
        let (level, what) = if record.outcome.is_loaded() {
            (
                Level::Info,
                format!(
                    "{}: {}, {} rows{}",
                    record.file_path,
                    record.outcome.label(),
                    record.rows_loaded,
                    record
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ),
            )
        } else {
            // Messages mostly start with the file's path already.
            let message = crate::text::without_path(
                record.message.as_deref().unwrap_or(""),
                &record.file_path,
            );
            let level = if record.outcome.is_failure() {
                Level::Error
            } else {
                Level::Warn
            };
            let hint = record
                .hint
                .as_ref()
                .filter(|h| !message.contains(&h.text))
                .map(|h| format!("; {}", h.text))
                .unwrap_or_default();
            (
                level,
                format!(
                    "{}: {}: {message}{hint}",
                    record.file_path,
                    record.outcome.label()
                ),
            )
        };
        self.log.write(run_id, level, what).await;
        if record.outcome.is_loaded() {
            self.alerts.file_arrived(job, record).await;
        }
        Ok(())
    }

    /// Drops the job's count of waiting files (a run changed it).
    pub(crate) fn forget_waiting(&self, job_id: i64) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&job_id);
    }

    /// How many files the job's next run would load: matching, not loaded, under the size
    /// limit, and (for a latest-only job) the newest. Counted by listing, at most once per
    /// [`WAITING_TTL`].
    pub(crate) async fn files_waiting(&self, job: &Job) -> Result<u64> {
        if let Some((n, at)) = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&job.id)
            && at.elapsed() < WAITING_TTL
        {
            return Ok(*n);
        }
        let store: Store = self.connections.store(&job.connection).await?;
        // A scrape does not read files to tell repeats from new ones.
        let plan = self
            .survey(job, &store, job.load_latest_only, false)
            .await?
            .plan;
        let n = plan.take.len() as u64;
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job.id, (n, Instant::now()));
        Ok(n)
    }
}

/// What [`Runner::run_files`] did.
struct Done {
    seen: u64,
    already_loaded: u64,
    outcomes: Vec<FileOutcome>,
    /// Files planned but not taken because of a shutdown.
    left: usize,
}

impl Done {
    fn status(&self) -> RunStatus {
        let failed = self.outcomes.iter().filter(|o| o.is_failure()).count();
        let loaded = self.outcomes.iter().filter(|o| o.is_loaded()).count();
        match (failed, loaded) {
            (0, _) => RunStatus::Succeeded,
            (_, 0) => RunStatus::Failed,
            _ => RunStatus::PartiallyFailed,
        }
    }
}
