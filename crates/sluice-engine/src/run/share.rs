//! Runs shared among workers. On a shared (PostgreSQL) catalog, a run whose files may load
//! side by side offers them in the catalog once it has planned them; it loads them itself,
//! and every `sluice worker` or `sluice serve` on the catalog claims the next one no
//! worker holds ([`crate::catalog::TaskCatalog`]), so several machines load one large
//! backfill together. Each file is still loaded atomically with its marker, under the run's
//! ledger claim (fenced by the run's lease); the worker renews its hold on the file while
//! it loads. A worker that dies holding files frees them for the others: whoever takes an
//! orphaned file first asks the destination whether its load committed.
//!
//! The run belongs to the process that started it: its lease, its plan, its end. If that
//! process dies the run is interrupted as any run is, and the next run settles its files.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sluice_sinks::{Sink, SinkConfig};

use super::Runner;
use super::heartbeat::LeaseGuard;
use super::log::Level;
use super::options::{Progress, Quiet};
use crate::catalog::Task;
use crate::model::{FileOutcome, Job, LedgerStatus, RunFile};
use crate::pipeline::FilePipeline;
use crate::plan::Take;
use crate::{Error, Result};

/// How often a worker with nothing to do asks for a file, and how often a run waits on the
/// files other workers hold.
pub const TASK_POLL: Duration = Duration::from_millis(500);

impl Runner {
    /// Whether a run of `job` offers its files to the workers on the catalog: the catalog
    /// is shared, the job's files may load side by side ([`super::options::one_at_a_time`]),
    /// and the destination is one every worker writes to (not a DuckDB file, which one
    /// process at a time opens).
    pub(super) fn shares(&self, job: &Job) -> bool {
        self.catalog.is_shared()
            && !super::options::one_at_a_time(job)
            && !matches!(job.destination, SinkConfig::DuckDb(_))
    }

    /// Offers the run's files to the workers on the catalog and loads them beside them,
    /// `at_once` at a time, until every file is done or a shutdown stops this process
    /// taking more. Returns how many files are left undone.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn load_shared(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        takes: &[Take],
        at_once: usize,
        progress: &Arc<dyn Progress>,
        lease: &LeaseGuard,
    ) -> Result<usize> {
        self.catalog.offer_files(run_id, job.id, takes).await?;
        self.log
            .write(
                run_id,
                Level::Info,
                format!(
                    "{} file(s) offered to the workers on the catalog; this process loads up to {at_once} at once",
                    takes.len()
                ),
            )
            .await;
        let me = crate::lease::this_runner();
        let slots =
            (0..at_once).map(|_| self.run_slot(job, run_id, pipeline, progress, lease, &me));
        futures::future::try_join_all(slots).await?;
        Ok(self.catalog.open_tasks(run_id).await? as usize)
    }

    /// One of a run's own loads: claims the run's next file, loads it, and so on until no
    /// file is left open (waiting on those other workers hold, and taking those a dead
    /// worker left), or a shutdown.
    async fn run_slot(
        &self,
        job: &Job,
        run_id: i64,
        pipeline: &FilePipeline<'_>,
        progress: &Arc<dyn Progress>,
        lease: &LeaseGuard,
        me: &str,
    ) -> Result<()> {
        loop {
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            if lease.lost.is_cancelled() {
                return Err(Error::LeaseLost { run_id });
            }
            if let Some(task) = self.catalog.claim_task(Some(run_id), me).await? {
                self.work_task(job, pipeline, &task, progress, lease, me)
                    .await?;
                continue;
            }
            if self.catalog.open_tasks(run_id).await? == 0 {
                return Ok(());
            }
            if self.catalog.free_orphaned_tasks().await? > 0 {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(TASK_POLL) => {}
                () = self.shutdown.cancelled() => return Ok(()),
            }
        }
    }

    /// Loads one claimed file of a shared run and records it as `me`'s; an orphaned file
    /// is first settled from the destination's marker and the ledger.
    async fn work_task(
        &self,
        job: &Job,
        pipeline: &FilePipeline<'_>,
        task: &Task,
        progress: &Arc<dyn Progress>,
        lease: &LeaseGuard,
        me: &str,
    ) -> Result<()> {
        let _hold = self.keep_task(task, me);
        let run_id = task.run_id;
        if task.orphaned && self.settle_orphan(job, task, pipeline.sink(), me).await? {
            return self.catalog.finish_task(run_id, task.position, me).await;
        }
        let Some(settled) = self
            .load_one(job, run_id, pipeline, &task.take, progress, lease)
            .await?
        else {
            return self.catalog.release_task(run_id, task.position, me).await;
        };
        let mut record = settled.record;
        record.worker = Some(me.to_string());
        self.finish_file(job, run_id, &record).await?;
        if settled.parked {
            self.alerts.file_parked(job, run_id, &record).await;
        }
        progress.file_finished(&record);
        self.catalog.finish_task(run_id, task.position, me).await
    }

    /// Settles a file whose worker died holding it; true if nothing is left to load: its
    /// load had committed (recorded as recovered), or it was marked loaded already.
    async fn settle_orphan(
        &self,
        job: &Job,
        task: &Task,
        sink: &dyn Sink,
        me: &str,
    ) -> Result<bool> {
        let file = &task.take.file;
        let version = file.version_key();
        let Some(entry) = self
            .catalog
            .processed_files(job.id)
            .await?
            .into_iter()
            .find(|p| p.file_path == file.path && p.file_version == version)
        else {
            return Ok(false);
        };
        match entry.status {
            LedgerStatus::Loading => {
                self.settle_interrupted(
                    job,
                    task.run_id,
                    sink,
                    entry,
                    &mut HashSet::new(),
                    Some(me),
                )
                .await
            }
            // It died between marking the file loaded and recording it in the run.
            LedgerStatus::Loaded if entry.run_id == Some(task.run_id) => {
                let recorded = self.catalog.run(task.run_id).await?.files.iter().any(|f| {
                    f.file_path == entry.file_path && f.file_version == entry.file_version
                });
                if !recorded {
                    let record = RunFile {
                        outcome: FileOutcome::Recovered,
                        message: Some(
                            "the worker loading it stopped after it was marked loaded".into(),
                        ),
                        rows_loaded: entry.rows_loaded,
                        worker: Some(me.to_string()),
                        ..RunFile::taken(file)
                    };
                    self.finish_file(job, task.run_id, &record).await?;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Renews this worker's hold on a file every [`Runner::heartbeat_every`] until the
    /// guard drops.
    fn keep_task(&self, task: &Task, me: &str) -> tokio_util::task::AbortOnDropHandle<()> {
        let catalog = Arc::clone(&self.catalog);
        let (run_id, position, me) = (task.run_id, task.position, me.to_string());
        let every = self.heartbeat_every;
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match catalog.renew_task(run_id, position, &me).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(run = run_id, position, "another worker took this file");
                        return;
                    }
                    Err(e) => tracing::warn!(run = run_id, "cannot renew the hold on a file: {e}"),
                }
            }
        }))
    }

    /// Loads files of shared runs that other processes planned, `at_once` at a time, until
    /// a shutdown: the files being loaded then finish and no more are taken.
    pub(crate) async fn help(&self, at_once: usize) {
        let me = crate::lease::this_runner();
        let slots = (0..at_once).map(|_| self.help_slot(&me));
        futures::future::join_all(slots).await;
    }

    async fn help_slot(&self, me: &str) {
        while !self.shutdown.is_cancelled() {
            let claimed = match self.catalog.claim_task(None, me).await {
                Ok(None) => self
                    .catalog
                    .free_orphaned_tasks()
                    .await
                    .map(|freed| (freed > 0).then_some(None)),
                other => other.map(|task| task.map(Some)),
            };
            match claimed {
                Ok(Some(Some(task))) => {
                    if let Err(e) = self.help_with(&task, me).await {
                        tracing::warn!(run = task.run_id, job = %task.job, "a file of a shared run failed: {e}");
                        let _ = self
                            .catalog
                            .release_task(task.run_id, task.position, me)
                            .await;
                    }
                    continue;
                }
                Ok(Some(None)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!("cannot ask the catalog for files to load: {e}"),
            }
            tokio::select! {
                () = tokio::time::sleep(TASK_POLL) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Loads one file of another process's run through that job's pipeline.
    async fn help_with(&self, task: &Task, me: &str) -> Result<()> {
        let job = self.catalog.job(&task.job).await?;
        let store = self.connections.store(&job.connection).await?;
        let sink = self.jobs.sink(&job)?;
        let progress: Arc<dyn Progress> = Arc::new(Quiet);
        let pipeline = FilePipeline::new(
            &job,
            &store,
            sink.as_ref(),
            self.catalog.as_ref(),
            Arc::clone(&progress),
            chrono::Utc::now(),
            task.run_id,
        );
        // The run's lease is its own process's; the ledger fences this worker's claims on
        // the run still holding it.
        let lease = LeaseGuard::unheld();
        self.work_task(&job, &pipeline, task, &progress, &lease, me)
            .await
    }
}
