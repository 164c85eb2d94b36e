//! What a run is asked to do, how it retries, and who hears about it as it goes.

use std::time::Duration;

use sluice_core::storage::FileEntry;

use crate::model::RunFile;

/// Hears about a run as it goes (a progress bar, a log).
pub trait Progress: Send + Sync {
    /// The run is about to load these files.
    /// How many files the run takes.
    fn planned(&self, _files: usize) {}
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
    /// Load the rows the job's quarantine table holds again instead of new files.
    pub replay: bool,
    /// Files loaded at once, each in a load of its own (default: the machine's cores). A job
    /// whose files must go in one at a time loads them so whatever this says
    /// ([`files_at_once`]).
    pub parallel: Option<usize>,
}

/// How many of `job`'s files a run loads at once, asked for `parallel`: one where the order
/// of the loads matters or they would change the table under each other
/// ([`one_at_a_time`]), else `parallel`, by default the machine's cores.
pub(crate) fn files_at_once(job: &crate::model::Job, parallel: Option<usize>) -> usize {
    if one_at_a_time(job) {
        return 1;
    }
    at_once(parallel)
}

/// Whether `job`'s files must load one at a time: rows deduplicated by key (the first or
/// last loaded wins), or a schema policy that alters the table (`add-columns`, `widen`).
pub(crate) fn one_at_a_time(job: &crate::model::Job) -> bool {
    use crate::model::SchemaPolicy;
    job.settings.dedup.is_some()
        || matches!(
            job.settings.schema_policy,
            SchemaPolicy::AddColumns | SchemaPolicy::Widen
        )
}

/// How many loads at once `parallel` asks for: by default the machine's cores, at least 1.
pub fn at_once(parallel: Option<usize>) -> usize {
    parallel
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1)
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
