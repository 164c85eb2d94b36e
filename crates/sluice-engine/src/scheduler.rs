//! The scheduler inside `sluice serve`: starts the runs that are due.
//!
//! Whether a job is due is a pure function of its schedule, timezone, when the scheduler
//! last started it and the time ([`crate::schedule::Schedule::is_due`]);
//! [`crate::Engine::start_due_runs`] takes the time as an argument so tests drive it with a
//! controlled clock. A due job that is already running (a manual "run now", or another
//! process) gets one queued run, which starts when the running one ends: its fire is
//! delayed, never doubled. Paused jobs are not started.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::run::Runner;
use crate::{Result, RunOptions};

/// Starts due runs, takes up queued ones, checks freshness.
#[derive(Clone)]
pub(crate) struct Scheduler {
    catalog: Arc<dyn Catalog>,
    runner: Runner,
}

impl Scheduler {
    pub(crate) fn new(catalog: Arc<dyn Catalog>, runner: Runner) -> Self {
        Self { catalog, runner }
    }

    /// Starts (or queues) every job due at `now` and returns `(job, run id)` of the runs
    /// recorded; they go on in the background.
    pub(crate) async fn start_due_runs(&self, now: DateTime<Utc>) -> Result<Vec<(String, i64)>> {
        let mut started = Vec::new();
        // As stored: the run opens the destination's sealed credentials.
        for job in self.catalog.list_jobs().await? {
            if job.settings.paused {
                continue;
            }
            let last = self
                .catalog
                .last_scheduled(job.id)
                .await?
                .unwrap_or(job.created_at);
            if !job
                .settings
                .schedule
                .is_due(job.settings.timezone, last, now)
            {
                continue;
            }
            let run = self
                .catalog
                .start_run(job.id, &crate::lease::this_runner(), Some(now), true)
                .await?;
            started.push((job.name.clone(), run.id));
            self.runner.spawn(job, run.id, RunOptions::default());
        }
        Ok(started)
    }

    /// One tick of the scheduler at `now`: due runs, queued runs left waiting, freshness.
    pub(crate) async fn tick(&self, now: DateTime<Utc>) {
        match self.start_due_runs(now).await {
            Ok(started) => {
                for (job, run) in started {
                    tracing::info!(job = %job, run, "started a scheduled run");
                }
            }
            Err(e) => tracing::warn!("the scheduler could not check the jobs: {e}"),
        }
        if let Err(e) = self.runner.resume_queued().await {
            tracing::warn!("the scheduler could not take up queued runs: {e}");
        }
        if let Err(e) = self.runner.alerts.check_freshness(now).await {
            tracing::warn!("the scheduler could not check freshness: {e}");
        }
    }

    /// Ticks every `every` until a shutdown is asked for.
    pub(crate) async fn run(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.runner.shutdown_token().cancelled() => return,
            }
            self.tick(Utc::now()).await;
        }
    }
}

/// Resolves when the process is asked to stop: Ctrl-C or SIGTERM.
pub async fn stop_requested() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
