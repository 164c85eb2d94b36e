//! A run's lease, kept alive while it runs: a heartbeat in the catalog, and a token the
//! run checks between files once the lease is lost.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::Runner;

impl Runner {
    /// Renews the run's lease every [`Runner::heartbeat_every`] until the guard drops. The
    /// guard's `lost` is cancelled once the run no longer holds the job: another run took
    /// it over, or no heartbeat got through for [`crate::lease::LEASE_TIMEOUT`] (by then
    /// another process may take it over).
    pub(super) fn keep_lease(&self, run_id: i64) -> LeaseGuard {
        let catalog = Arc::clone(&self.catalog);
        let lost = CancellationToken::new();
        let flag = lost.clone();
        let every = self.heartbeat_every;
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            let mut renewed = Instant::now();
            loop {
                tick.tick().await;
                match catalog.heartbeat(run_id).await {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => {
                        tracing::warn!(
                            run = run_id,
                            "the run lost its lease: another run holds the job"
                        );
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(run = run_id, "cannot renew the run's lease: {e}");
                        if renewed.elapsed() >= crate::lease::LEASE_TIMEOUT {
                            break;
                        }
                    }
                }
            }
            flag.cancel();
        });
        LeaseGuard { task, lost }
    }
}

/// Stops renewing a lease when the run ends.
pub(super) struct LeaseGuard {
    task: tokio::task::JoinHandle<()>,
    /// Cancelled when the run has lost its lease.
    pub(super) lost: CancellationToken,
}

impl LeaseGuard {
    /// A guard for a worker loading a file of another process's run: that process keeps
    /// the run's lease; this one is never lost (the ledger fences the worker's claims).
    pub(super) fn unheld() -> Self {
        Self {
            task: tokio::spawn(async {}),
            lost: CancellationToken::new(),
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}
