//! The catalog: connections, jobs, runs, the ledger of processed files and alert incidents.
//!
//! One trait per concern — [`ConnectionCatalog`], [`JobCatalog`], [`Ledger`],
//! [`RunCatalog`], [`IncidentCatalog`] — and [`Catalog`], all of them, which
//! [`sqlite::SqliteCatalog`] (the default: one file in the data directory, migrated on open)
//! and [`postgres::PostgresCatalog`] (shared by many processes) implement from one set of
//! queries (`sql/`). Parts of the engine take the concern they need. The ledger's unique key
//! (job, file path, file version) is what makes a claim exclusive: of two runners, only one
//! can insert the claim.

pub mod postgres;
mod sql;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::alerts::{AlertKind, Incident};
use crate::model::{
    ConnectionRecord, FieldChange, Job, JobChange, LogLine, NewJob, NewSchemaVersion,
    ProcessedFile, Run, RunFile, RunStatus, RunTotals, SchemaVersion,
};
use crate::plan::Take;
use sluice_core::storage::{ConnectionConfig, FileEntry};
use sluice_sinks::SinkConfig;

/// Connections, with their credentials sealed.
///
/// # Errors
/// [`crate::Error::Catalog`] for database failures, and as each method says.
#[async_trait]
pub trait ConnectionCatalog: Send + Sync {
    /// Stores a connection whose credentials are already sealed.
    ///
    /// # Errors
    /// [`crate::Error::Exists`] if the name is taken.
    async fn add_connection(
        &self,
        name: &str,
        config: &ConnectionConfig,
    ) -> Result<ConnectionRecord>;
    /// Replaces a connection's config (credentials already sealed).
    async fn update_connection(&self, id: i64, config: &ConnectionConfig) -> Result<()>;
    async fn list_connections(&self) -> Result<Vec<ConnectionRecord>>;
    /// # Errors
    /// [`crate::Error::NotFound`] if there is no such connection.
    async fn connection(&self, name: &str) -> Result<ConnectionRecord>;
    /// # Errors
    /// [`crate::Error::InUse`] if jobs use it.
    async fn delete_connection(&self, name: &str) -> Result<()>;
}

/// Jobs: what to load from where, and how.
#[async_trait]
pub trait JobCatalog: Send + Sync {
    /// # Errors
    /// [`crate::Error::Exists`] if the name is taken.
    async fn create_job(&self, job: &NewJob) -> Result<Job>;
    async fn list_jobs(&self) -> Result<Vec<Job>>;
    /// # Errors
    /// [`crate::Error::NotFound`] if there is no such job.
    async fn job(&self, name: &str) -> Result<Job>;
    /// Replaces what can change about a job (see [`crate::model::JobUpdate`]) and records
    /// `changes` in its history, in one transaction.
    async fn update_job(&self, job: &Job, changes: &[FieldChange]) -> Result<()>;
    /// The job's history of changes, newest first.
    async fn job_changes(&self, job_id: i64) -> Result<Vec<JobChange>>;
    /// Deletes the job with its runs and ledger.
    async fn delete_job(&self, name: &str) -> Result<()>;
    /// Replaces the configs of connections and the destinations and alerts of jobs, all in
    /// one transaction (key rotation re-seals them).
    async fn update_secrets(
        &self,
        configs: &[(i64, ConnectionConfig)],
        jobs: &[SealedJob],
    ) -> Result<()>;
}

/// A job's sealed settings, as key rotation rewrites them.
#[derive(Debug, Clone)]
pub struct SealedJob {
    pub id: i64,
    pub destination: SinkConfig,
    pub alerts: crate::alerts::Alerts,
}

/// Which file versions a job claimed and loaded.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// The job's ledger, newest first.
    async fn processed_files(&self, job_id: i64) -> Result<Vec<ProcessedFile>>;
    /// Claims a file version for loading: one not in the ledger, or one whose last load
    /// failed (not one parked). Fenced by the lease: only while `run_id` is running.
    /// Returns false if another run holds or finished it.
    ///
    /// # Errors
    /// [`crate::Error::LeaseLost`] if `run_id` no longer holds its job.
    async fn claim_file(
        &self,
        job_id: i64,
        run_id: i64,
        file: &FileEntry,
        load_id: &str,
        content: Option<&str>,
    ) -> Result<bool>;
    /// Records a file version whose content repeats a loaded file (`same_as`: that file's
    /// path, its own if only its timestamp changed) as loaded, with no rows: it is not
    /// looked at again. Fenced by the lease of `run_id`.
    async fn record_same_content(
        &self,
        job_id: i64,
        run_id: i64,
        file: &FileEntry,
        content: &str,
        same_as: &str,
    ) -> Result<()>;
    /// Marks a file version skipped by a person: runs pass over it. False if it is loaded
    /// or being loaded.
    async fn skip_file(&self, job_id: i64, file: &FileEntry) -> Result<bool>;
    /// Lets runs try a path's failed, parked or skipped versions again, their failures
    /// forgotten. Returns how many versions.
    async fn retry_file(&self, job_id: i64, file_path: &str) -> Result<u64>;
    /// Forgets a path's loaded versions, so that the next run loads it again (under a new
    /// load id). Returns how many versions.
    async fn forget_file(&self, job_id: i64, file_path: &str) -> Result<u64>;
    /// Records loads a deleted job left in the table as this job's, loaded.
    async fn adopt_files(&self, job_id: i64, files: &[Adopted]) -> Result<()>;
    /// Records the content identity (`md5:<hex>`) of a claimed or loaded file version
    /// hashed beside its load; a version whose identity is known keeps it.
    async fn record_content(
        &self,
        job_id: i64,
        file_path: &str,
        file_version: &str,
        content: &str,
    ) -> Result<()>;
    /// Marks a claimed file loaded, fenced by the lease of `run_id` (the run settling it).
    ///
    /// # Errors
    /// [`crate::Error::LeaseLost`] if `run_id` no longer holds its job or the claim is gone
    /// (the run that took the job over settles the file from the destination's marker).
    async fn mark_loaded(
        &self,
        job_id: i64,
        file_path: &str,
        file_version: &str,
        rows: u64,
        run_id: i64,
    ) -> Result<()>;
    /// Records that a claimed file's load failed with `error` (its outcome and message):
    /// its count of failures in a row goes up if it failed the same way last time, else
    /// starts at 1; at `park_after` (0: never) it is parked. Returns the count and whether
    /// it is now parked.
    async fn fail_file(
        &self,
        job_id: i64,
        file: &FileFailure<'_>,
        park_after: u32,
    ) -> Result<(u32, bool)>;
    /// Drops a claim whose load did not commit, for a reason not the file's (a transient
    /// failure, a stopped process): a later run takes the file again, its failures as they
    /// were.
    async fn release_claim(&self, job_id: i64, file_path: &str, file_version: &str) -> Result<()>;
}

/// A deleted job's load, taken over by a new job's ledger.
#[derive(Debug, Clone)]
pub struct Adopted {
    pub file_path: String,
    pub file_version: String,
    pub rows: u64,
    pub load_id: String,
    /// The file as listed now, if it still is.
    pub listed: Option<FileEntry>,
}

/// A failed load, as the ledger records it.
#[derive(Debug, Clone, Copy)]
pub struct FileFailure<'a> {
    pub file_path: &'a str,
    pub file_version: &'a str,
    pub run_id: i64,
    /// The outcome and message: two failures are the same when these are.
    pub error: &'a str,
}

/// Runs, their lease and queue, their files and log.
#[async_trait]
pub trait RunCatalog: Send + Sync {
    /// Records a new `running` run held by `runner`.
    ///
    /// While another run of the job holds a live lease ([`crate::lease`]), the new run is
    /// recorded `queued` if `queue` (or the run already waiting is returned: at most one
    /// waits); otherwise [`crate::Error::Busy`] says which run holds the job. A dead lease
    /// is marked interrupted and taken over.
    async fn start_run(
        &self,
        job_id: i64,
        runner: &str,
        scheduled_for: Option<DateTime<Utc>>,
        queue: bool,
    ) -> Result<Run>;
    /// Moves a queued run to `running` if the job's lease is free.
    async fn promote_queued(&self, run_id: i64, runner: &str) -> Result<Promotion>;
    /// Every queued run: (job name, run id), oldest first.
    async fn queued_runs(&self) -> Result<Vec<(String, i64)>>;
    /// When the scheduler last started the job, if ever.
    async fn last_scheduled(&self, job_id: i64) -> Result<Option<DateTime<Utc>>>;
    /// Renews a running run's lease; false if the run no longer holds it (another run took
    /// the job over after its heartbeat lapsed).
    async fn heartbeat(&self, run_id: i64) -> Result<bool>;
    /// The catalog's clock: leases are judged by one clock however many machines share
    /// the catalog.
    async fn now(&self) -> Result<DateTime<Utc>>;
    async fn record_file(&self, run_id: i64, file: &RunFile) -> Result<()>;
    async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        files_seen: u64,
        files_already_loaded: u64,
        error: Option<&str>,
    ) -> Result<Run>;
    /// The job's runs with their files, newest first.
    async fn runs(&self, job_id: i64, limit: u32) -> Result<Vec<Run>>;
    /// One run with its files and log.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] if there is no such run.
    async fn run(&self, run_id: i64) -> Result<Run>;
    /// The most recent `per_job` runs of every job in numbers, in one query (metrics).
    async fn run_totals(&self, per_job: u32) -> Result<Vec<RunTotals>>;
    /// Appends a line to a run's log.
    async fn log(&self, run_id: i64, level: &str, message: &str) -> Result<()>;
    async fn run_log(&self, run_id: i64) -> Result<Vec<LogLine>>;
}

/// Alert incidents: a condition open from when it starts until it ends.
#[async_trait]
pub trait IncidentCatalog: Send + Sync {
    /// Opens an incident; `None` if one of this kind and key is already open (so its alert
    /// was already sent).
    async fn open_incident(
        &self,
        job_id: i64,
        kind: AlertKind,
        key: &str,
        summary: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>>;
    /// Closes the open incidents of a kind (with `key`, or any); returns them.
    async fn close_incidents(
        &self,
        job_id: i64,
        kind: AlertKind,
        key: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Vec<Incident>>;
    /// Records that an incident's alert went out, or why it did not.
    async fn mark_notified(
        &self,
        incident_id: i64,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()>;
    /// The job's incidents, newest first.
    async fn incidents(&self, job_id: i64, limit: u32) -> Result<Vec<Incident>>;
}

/// The versions of each job's schema.
#[async_trait]
pub trait SchemaCatalog: Send + Sync {
    /// The job's schema versions, newest first.
    async fn schema_versions(&self, job_id: i64) -> Result<Vec<SchemaVersion>>;
    /// Records a proposed version, unless one of the same columns is proposed already;
    /// returns the one that is.
    async fn propose_schema(
        &self,
        job_id: i64,
        version: &NewSchemaVersion,
    ) -> Result<SchemaVersion>;
    /// Makes `version`'s columns the job's schema, in one transaction: records it as
    /// accepted (the proposed version `proposed`, if given, becomes it), and sets the job's
    /// schema and the fingerprint its files are checked against (`file_fingerprint`), and
    /// its settings where the version changes them (an edit that renames or drops columns).
    async fn accept_schema(
        &self,
        job_id: i64,
        proposed: Option<u32>,
        version: &NewSchemaVersion,
        file_fingerprint: &str,
        settings: Option<&crate::model::JobSettings>,
    ) -> Result<SchemaVersion>;
}

/// A run's files shared among the processes on one catalog (`sluice worker`, `sluice
/// serve`): the run that planned them offers them, any worker claims the next one no worker
/// holds, and a file whose worker died is freed for another to settle
/// ([`crate::run`]'s shared runs).
#[async_trait]
pub trait TaskCatalog: Send + Sync {
    /// Offers a run's files, in load order, in one transaction.
    async fn offer_files(&self, run_id: i64, job_id: i64, takes: &[Take]) -> Result<()>;
    /// Claims for `worker` the next file no worker holds of a running run (of `run_id`
    /// only, if given): the oldest run's first. `None` if there is none.
    async fn claim_task(&self, run_id: Option<i64>, worker: &str) -> Result<Option<Task>>;
    /// Renews `worker`'s hold on a file; false if it no longer holds it.
    async fn renew_task(&self, run_id: i64, position: u32, worker: &str) -> Result<bool>;
    /// Marks a file done: it was recorded in the run.
    async fn finish_task(&self, run_id: i64, position: u32, worker: &str) -> Result<()>;
    /// Gives a file back unstarted (a shutdown, a transient failure of the worker's own).
    async fn release_task(&self, run_id: i64, position: u32, worker: &str) -> Result<()>;
    /// Frees the files of running runs held by workers that are dead ([`crate::lease`]),
    /// marked orphaned: whoever claims one next first asks the destination whether its
    /// load committed. Returns how many.
    async fn free_orphaned_tasks(&self) -> Result<u64>;
    /// How many of a run's offered files are not done.
    async fn open_tasks(&self, run_id: i64) -> Result<u64>;
}

/// One file of a shared run, as a worker claimed it.
#[derive(Debug, Clone)]
pub struct Task {
    pub run_id: i64,
    /// Its place in the run's load order.
    pub position: u32,
    /// The job's name.
    pub job: String,
    pub take: Take,
    /// Its last worker died holding it: its load may have committed.
    pub orphaned: bool,
}

/// Where the catalog lives.
pub trait Shared: Send + Sync {
    /// Whether processes on other machines may share this catalog (PostgreSQL), so that
    /// anything named relative to one machine's data directory means another thing on each.
    fn is_shared(&self) -> bool;
}

/// Everything sluice remembers.
pub trait Catalog:
    ConnectionCatalog
    + JobCatalog
    + Ledger
    + RunCatalog
    + IncidentCatalog
    + SchemaCatalog
    + TaskCatalog
    + Shared
{
}

impl<T> Catalog for T where
    T: ConnectionCatalog
        + JobCatalog
        + Ledger
        + RunCatalog
        + IncidentCatalog
        + SchemaCatalog
        + TaskCatalog
        + Shared
{
}

/// What became of a queued run asked to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Promotion {
    /// It is running now, under the caller's lease.
    Started,
    /// Another run still holds the job; the message says which.
    Waiting(String),
    /// It is no longer queued: another process started it.
    Gone,
}

/// Counts a run's outcomes: (loaded, skipped, failed).
pub(crate) fn tally(files: &[RunFile]) -> (u64, u64, u64) {
    let loaded = files.iter().filter(|f| f.outcome.is_loaded()).count();
    let skipped = files.iter().filter(|f| f.outcome.is_skipped()).count();
    let failed = files.iter().filter(|f| f.outcome.is_failure()).count();
    (loaded as u64, skipped as u64, failed as u64)
}
