//! Test-only fault injection: lets a test kill the process at a named point of a load, to
//! prove that a file interrupted there is loaded exactly once by the next run.
//!
//! Set `SLUICE_FAULT=<point>[:<n>]`; the process aborts the `n`-th time (default 1) it
//! reaches `<point>`. Points: `mid-load` (after appending a batch, before commit) and
//! `after-commit` (after the destination committed, before the ledger is updated). Unset,
//! this costs one environment lookup per load.
//!
//! `SLUICE_SLOW=<point>:<ms>` makes [`slow`] sleep at `<point>` (`batch`: after each batch
//! read), so a test can stop a process while a file is loading.

use std::sync::atomic::{AtomicU64, Ordering};

static HITS: AtomicU64 = AtomicU64::new(0);

/// Aborts the process if `SLUICE_FAULT` names `point` and this is its `n`-th hit.
pub fn hit(point: &str) {
    let Ok(spec) = std::env::var("SLUICE_FAULT") else {
        return;
    };
    let (name, n) = match spec.split_once(':') {
        Some((name, n)) => (name, n.parse::<u64>().unwrap_or(1)),
        None => (spec.as_str(), 1),
    };
    if name == point && HITS.fetch_add(1, Ordering::SeqCst) + 1 == n {
        eprintln!("SLUICE_FAULT: aborting at {point}");
        std::process::abort();
    }
}

/// Sleeps (blocking the thread) if `SLUICE_SLOW` names `point`; see the module docs.
pub fn slow(point: &str) {
    let Ok(spec) = std::env::var("SLUICE_SLOW") else {
        return;
    };
    if let Some((name, ms)) = spec.split_once(':')
        && name == point
        && let Ok(ms) = ms.parse::<u64>()
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
