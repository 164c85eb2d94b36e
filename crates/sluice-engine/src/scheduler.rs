//! The scheduler inside `sluice serve`: starts the runs that are due.
//!
//! Whether a job is due is a pure function of its schedule, when the scheduler last
//! started it and the time ([`crate::schedule::Schedule::is_due`]); [`Engine::start_due_runs`]
//! takes the time as an argument so tests drive it with a controlled clock. A job already
//! running (a manual "run now", or another process) is skipped and tried again on the next
//! tick, so its fire is delayed, never doubled.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::Engine;
use crate::{Error, Quiet, Result, RunOptions};

impl Engine {
    /// Starts every job due at `now` and returns `(job, run id)` of the runs started; the
    /// runs go on in the background.
    pub async fn start_due_runs(
        self: &Arc<Self>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>> {
        let mut started = Vec::new();
        for job in self.jobs().await? {
            let last = self
                .catalog()
                .last_scheduled(job.id)
                .await?
                .unwrap_or(job.created_at);
            if !job.schedule.is_due(last, now) {
                continue;
            }
            let run = match self
                .catalog()
                .start_run(job.id, &crate::lease::this_runner(), Some(now))
                .await
            {
                Ok(run) => run,
                Err(Error::Conflict(m)) => {
                    tracing::info!(job = %job.name, "due but busy: {m}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            started.push((job.name.clone(), run.id));
            let engine = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(e) = engine
                    .execute_run(&job, run.id, RunOptions::default(), Arc::new(Quiet))
                    .await
                {
                    tracing::warn!(job = %job.name, run = run.id, "scheduled run failed: {e}");
                }
            });
        }
        Ok(started)
    }

    /// Checks for due jobs every `every`, forever (until the task is dropped).
    pub async fn run_scheduler(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match self.start_due_runs(Utc::now()).await {
                Ok(started) => {
                    for (job, run) in started {
                        tracing::info!(job = %job, run, "started a scheduled run");
                    }
                }
                Err(e) => tracing::warn!("the scheduler could not check the jobs: {e}"),
            }
        }
    }
}
