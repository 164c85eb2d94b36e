//! [`Engine`]: the one set of operations the CLI, the API and the wizard call. A thin façade:
//! each operation belongs to a part with explicit dependencies — [`crate::connections`],
//! [`crate::jobs`], [`crate::run`], [`crate::scheduler`], [`crate::alerts`] — over the
//! catalog, the key and the pool of sinks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sluice_core::format::FormatOptions;
use sluice_core::schema::DetectedSchema;
use sluice_core::secret::{SecretKey, Secrets};
use sluice_core::storage::{ConnectionConfig, Store};
use sluice_sinks::{BuiltSink, Inspect, SinkConfig};
use tokio_util::sync::CancellationToken;

use crate::access::LocalAccess;
use crate::alerts::{Alerting, Incident, Notifier};
use crate::catalog::Catalog;
use crate::catalog::sqlite::SqliteCatalog;
use crate::connections::{Connections, FileListing};
use crate::error::Kind;
use crate::files::{FileAction, FileActionResult, PlanReport};
use crate::jobs::{JobRequest, Jobs};
use crate::keyring::Keyring;
use crate::model::{ConnectionRecord, Job, JobUpdate, ProcessedFile, Run};
use crate::run::{Progress, RetryPolicy, RunOptions, Runner};
use crate::scheduler::Scheduler;
use crate::sinks::SinkPool;
use crate::{Error, Result};

pub(crate) mod rejected;
mod schema_edit;
mod versions;
pub use rejected::{Rejected, RejectedCount, RejectedRow};
pub use versions::{SchemaAccepted, SchemaEdit};

/// The catalog file's name in the data directory.
pub const CATALOG_FILE: &str = "catalog.db";
pub use sluice_sinks::duckdb::WAREHOUSE_FILE;

/// sluice's operations over one catalog and data directory.
pub struct Engine {
    catalog: Arc<dyn Catalog>,
    data_dir: PathBuf,
    keys: Arc<Keyring>,
    connections: Connections,
    jobs: Jobs,
    runner: Runner,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

fn data_dir_error(data_dir: &Path, e: std::io::Error) -> Error {
    Error::invalid_input(format!(
        "cannot create the data directory {}: {e}",
        data_dir.display()
    ))
}

impl Engine {
    /// Opens the data directory and the catalog: `catalog_url` names a PostgreSQL catalog
    /// (`postgres://…`), shared by several sluice processes; without it, the SQLite
    /// catalog in the data directory is used (created if needed).
    pub async fn open_with_catalog(data_dir: &Path, catalog_url: Option<&str>) -> Result<Self> {
        let Some(url) = catalog_url.filter(|u| !u.is_empty()) else {
            return Self::open(data_dir).await;
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::invalid(
                "catalog",
                format!(
                    "the catalog URL must start with postgres:// (got '{}'); leave it out to use the SQLite catalog in the data directory",
                    sluice_core::secret::redact_password(url)
                ),
            ));
        }
        std::fs::create_dir_all(data_dir).map_err(|e| data_dir_error(data_dir, e))?;
        let key =
            SecretKey::load_or_create(data_dir).map_err(|e| Error::invalid_input(e.to_string()))?;
        let catalog = crate::catalog::postgres::PostgresCatalog::connect(url).await?;
        Self::settled(Self::with_catalog(Arc::new(catalog), data_dir, key)).await
    }

    /// Opens the data directory, creating it and the SQLite catalog if needed.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| data_dir_error(data_dir, e))?;
        let key =
            SecretKey::load_or_create(data_dir).map_err(|e| Error::invalid_input(e.to_string()))?;
        let catalog = SqliteCatalog::open(&data_dir.join(CATALOG_FILE)).await?;
        Self::settled(Self::with_catalog(Arc::new(catalog), data_dir, key)).await
    }

    /// Finishes a key rotation a crash interrupted (see [`crate::secrets`]).
    async fn settled(self) -> Result<Self> {
        crate::secrets::settle_staged_key(&self.catalog, &self.keys).await?;
        Ok(self)
    }

    pub fn with_catalog(catalog: Arc<dyn Catalog>, data_dir: &Path, key: SecretKey) -> Self {
        let keys = Arc::new(Keyring::new(key, data_dir));
        let sinks = Arc::new(SinkPool::new(data_dir.to_path_buf()));
        let connections = Connections::new(catalog.clone(), Arc::clone(&keys), data_dir);
        let jobs = Jobs::new(
            catalog.clone(),
            Arc::clone(&keys),
            connections.clone(),
            sinks,
        );
        let alerts = Alerting::new(catalog.clone(), Arc::clone(&keys), Notifier::default());
        let runner = Runner::new(catalog.clone(), connections.clone(), jobs.clone(), alerts);
        Self {
            catalog,
            data_dir: data_dir.to_path_buf(),
            keys,
            connections,
            jobs,
            runner,
        }
    }

    pub fn catalog(&self) -> &dyn Catalog {
        self.catalog.as_ref()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    // ---- settings of the process, before the engine is shared ----

    /// Sets how transient failures are retried.
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.runner.retry = policy;
    }

    /// Sets how often a run renews its lease (default [`crate::lease::HEARTBEAT_EVERY`]).
    pub fn set_heartbeat_every(&mut self, every: Duration) {
        self.runner.heartbeat_every = every;
    }

    /// Confines what callers can name on this machine (`sluice serve` does; see
    /// [`crate::access`]): local connections to `access.local_roots`, DuckDB files to the
    /// data directory and `access.duckdb_roots`.
    pub fn confine(&mut self, access: LocalAccess) {
        self.connections.access = Some(access.clone());
        self.jobs.access = Some(access);
    }

    /// Points BigQuery destinations at another API (an emulator, a private endpoint), as
    /// `SLUICE_BIGQUERY_ENDPOINT` does; before any destination is used.
    ///
    /// # Errors
    /// When a destination was already built with another endpoint.
    pub fn set_bigquery_endpoint(&self, endpoint: Option<String>) -> Result<()> {
        if self.jobs.sinks().set_bigquery_endpoint(endpoint) {
            Ok(())
        } else {
            Err(Error::invalid_input(
                "set the BigQuery endpoint before any destination is used",
            ))
        }
    }

    /// Sets how alerts are sent.
    pub fn set_notifier(&mut self, notifier: Notifier) {
        self.runner.alerts = Alerting::new(self.catalog.clone(), Arc::clone(&self.keys), notifier);
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.runner.retry
    }

    // ---- connections ----

    /// Adds a connection after validating its settings; credentials are sealed before they
    /// are stored.
    ///
    /// # Errors
    /// [`Error::InvalidFields`] naming each invalid field; [`Error::Exists`] for a taken name.
    pub async fn add_connection(
        &self,
        name: &str,
        config: ConnectionConfig,
    ) -> Result<ConnectionRecord> {
        self.connections.add(name, config).await
    }

    /// Adds a connection from a URL and provider options (`region=…`, `access_key_id=…`).
    pub async fn add_connection_url(
        &self,
        name: &str,
        url: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<ConnectionRecord> {
        self.connections.add_url(name, url, options).await
    }

    /// Replaces a connection's settings. Credentials sent back as `••••` keep their stored value.
    pub async fn update_connection(
        &self,
        name: &str,
        config: ConnectionConfig,
    ) -> Result<ConnectionRecord> {
        self.connections.update(name, config).await
    }

    /// Connections with credentials redacted.
    pub async fn connections(&self) -> Result<Vec<ConnectionRecord>> {
        self.connections.list().await
    }

    pub async fn connection(&self, name: &str) -> Result<ConnectionRecord> {
        self.connections.get(name).await
    }

    /// The connection with this catalog id, for interfaces that name connections by id.
    pub async fn connection_by_id(&self, id: i64) -> Result<ConnectionRecord> {
        self.connections
            .list()
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| Error::not_found(Kind::Connection, id.to_string()))
    }

    pub async fn delete_connection(&self, name: &str) -> Result<()> {
        self.connections.delete(name).await
    }

    /// Opens a stored connection.
    pub async fn store(&self, connection: &str) -> Result<Store> {
        self.connections.store(connection).await
    }

    /// Seals every credential under a new key, in one transaction, and makes it the key.
    /// A crash at any point leaves every secret readable (see [`crate::secrets`]).
    pub async fn rotate_secret_key(&self) -> Result<crate::secrets::Rotation> {
        crate::secrets::rotate(&self.catalog, &self.keys).await
    }

    /// Lists one page at the connection's root; returns how many entries it held.
    pub async fn test_connection(&self, name: &str) -> Result<usize> {
        self.connections.test(name).await
    }

    // ---- files and schemas ----

    /// Lists matching files newest first; `limit` caps how many are returned.
    pub async fn list_files(
        &self,
        connection: &str,
        prefix: &str,
        pattern: &str,
        limit: Option<usize>,
        max_file_size: Option<u64>,
    ) -> Result<FileListing> {
        self.connections
            .list_files(connection, prefix, pattern, limit, max_file_size)
            .await
    }

    /// One page of a connection's matching files in name order, after `after` (the
    /// previous page's cursor); returns the page and the next page's cursor. Only that
    /// page's objects are listed from the store.
    pub async fn list_files_page(
        &self,
        connection: &str,
        prefix: &str,
        pattern: &str,
        after: Option<&str>,
        limit: usize,
        max_file_size: Option<u64>,
    ) -> Result<(FileListing, Option<String>)> {
        self.connections
            .list_files_page(connection, prefix, pattern, after, limit, max_file_size)
            .await
    }

    /// Detects the schema of one file (`path` relative to the connection's root).
    pub async fn detect(
        &self,
        connection: &str,
        path: &str,
        options: Option<FormatOptions>,
    ) -> Result<DetectedSchema> {
        self.connections.detect(connection, path, options).await
    }

    // ---- jobs ----

    /// Creates a job: detects the schema of the newest matching file (or checks a reviewed
    /// one against it), creates the destination table, and stores the job.
    pub async fn create_job(&self, req: JobRequest) -> Result<Job> {
        self.jobs.create(req).await
    }

    /// Changes a job's schedule, timezone, pause or alerts.
    pub async fn update_job(&self, name: &str, update: JobUpdate) -> Result<Job> {
        self.jobs.update(name, update).await
    }

    /// What a change to a job would do, without saving it: the fields it changes and, when
    /// it changes which files are taken, the plan of the next run under it.
    pub async fn preview_job_update(&self, name: &str, update: JobUpdate) -> Result<PlanReport> {
        let selection = update.changes_selection();
        let (job, changes) = self.jobs.preview_update(name, update).await?;
        let mut report = if selection {
            self.plan_of(&job, None).await?
        } else {
            PlanReport::empty(&job)
        };
        report.changes = changes;
        Ok(report)
    }

    /// The job's history of changes, newest first.
    pub async fn job_history(&self, name: &str) -> Result<Vec<crate::model::JobChange>> {
        let job = self.catalog.job(name).await?;
        self.catalog.job_changes(job.id).await
    }

    /// What the next run of a job would do, file by file, without loading anything
    /// (`all_files` as a run would be asked).
    pub async fn plan(&self, name: &str, all_files: Option<bool>) -> Result<PlanReport> {
        let job = self.catalog.job(name).await?;
        self.plan_of(&job, all_files).await
    }

    async fn plan_of(&self, job: &Job, all_files: Option<bool>) -> Result<PlanReport> {
        let store = self.connections.store(&job.connection).await?;
        let latest_only = !all_files.unwrap_or(!job.load_latest_only);
        let survey = self.runner.survey(job, &store, latest_only, true).await?;
        Ok(PlanReport::new(job, &store, survey.plan.files, latest_only).await)
    }

    /// A person's action on one of a job's files: skip it, try it again, or forget it so
    /// it loads again (`delete_rows`: with the rows it left in the table).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the ledger knows nothing to act on; [`Error::Invalid`] for
    /// deleting rows of a job without lineage.
    pub async fn file_action(
        &self,
        name: &str,
        file_path: &str,
        action: FileAction,
        delete_rows: bool,
    ) -> Result<FileActionResult> {
        let job = self.catalog.job(name).await?;
        let path = file_path.trim_start_matches('/');
        let not_found = |what: &str| Error::NotFound {
            kind: Kind::File,
            name: format!("{path} ({what} in job '{name}')"),
        };
        let (versions, rows_deleted, message) = match action {
            FileAction::Skip => {
                let store = self.connections.store(&job.connection).await?;
                let file = store.head(path).await?;
                if !self.catalog.skip_file(job.id, &file).await? {
                    return Err(Error::Conflict(format!(
                        "{path} is loaded or being loaded; only a file that is not loaded can be skipped"
                    )));
                }
                (
                    1,
                    None,
                    format!(
                        "{path}: skipped; runs pass over this version (a new version is taken as usual)"
                    ),
                )
            }
            FileAction::Retry => {
                let n = self.catalog.retry_file(job.id, path).await?;
                if n == 0 {
                    return Err(not_found("no failed, parked or skipped version"));
                }
                (n, None, format!("{path}: the next run tries it again"))
            }
            FileAction::Forget => {
                if delete_rows {
                    crate::files::can_delete_rows(&job)?;
                }
                let n = self.catalog.forget_file(job.id, path).await?;
                if n == 0 {
                    return Err(not_found("no loaded version"));
                }
                let rows = if delete_rows {
                    let sink = self.jobs.sink(&job)?;
                    Some(sink.delete_file_rows(&job.table_name, path).await?)
                } else {
                    None
                };
                let message = match rows {
                    Some(r) => format!(
                        "{path}: forgotten and its {r} row(s) deleted; the next run loads it again"
                    ),
                    None => format!(
                        "{path}: forgotten; the next run loads it again (its earlier rows stay in the table)"
                    ),
                };
                (n, rows, message)
            }
        };
        self.runner.forget_waiting(job.id);
        Ok(FileActionResult {
            file_path: path.to_string(),
            action,
            versions,
            rows_deleted,
            message,
        })
    }

    /// Jobs with their destination's credentials redacted.
    pub async fn jobs(&self) -> Result<Vec<Job>> {
        self.jobs.list().await
    }

    /// A job with its destination's credentials redacted.
    pub async fn job(&self, name: &str) -> Result<Job> {
        self.jobs.get(name).await
    }

    /// Deletes a job with its runs and ledger; the table stays unless `drop_table`.
    pub async fn delete_job(&self, name: &str, drop_table: bool) -> Result<()> {
        self.jobs.delete(name, drop_table).await
    }

    /// The sink of a destination as the user gave it (credentials in clear), if this
    /// engine may write there (see [`crate::access`]).
    pub fn sink(&self, destination: &SinkConfig) -> Result<Arc<dyn BuiltSink>> {
        self.jobs.check_destination(destination)?;
        self.jobs.sinks().get(destination)
    }

    /// Builds a destination from settings given in clear and checks that it answers
    /// (within [`crate::connections::CONNECTION_TEST_TIMEOUT`]).
    pub async fn test_destination(&self, destination: &SinkConfig) -> Result<()> {
        let sink = self.sink(destination)?;
        let limit = crate::connections::CONNECTION_TEST_TIMEOUT;
        match tokio::time::timeout(limit, sink.check()).await {
            Ok(answer) => Ok(answer?),
            Err(_) => Err(Error::Timeout(format!(
                "{} did not answer within {}s; check the address and the network",
                destination.redacted().describe(),
                limit.as_secs()
            ))),
        }
    }

    /// The table a stored job loads into, to read back (row counts, previews).
    pub async fn job_table(&self, job: &str) -> Result<Arc<dyn Inspect>> {
        let job = self.catalog.job(job).await?;
        Ok(self.jobs.sink(&job)?)
    }

    /// How many rows a job's table holds.
    pub async fn table_rows(&self, job: &str) -> Result<u64> {
        let table = self.catalog.job(job).await?.table_name;
        Ok(self.job_table(job).await?.count_rows(&table).await?)
    }

    pub async fn processed_files(&self, job: &str) -> Result<Vec<ProcessedFile>> {
        let job = self.catalog.job(job).await?;
        self.catalog.processed_files(job.id).await
    }

    /// The job's incidents, newest first.
    pub async fn incidents(&self, job: &str) -> Result<Vec<Incident>> {
        let job = self.catalog.job(job).await?;
        self.catalog.incidents(job.id, 50).await
    }

    // ---- runs ----

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
        let (job, run) = self.runner.start(job_name, options.wait).await?;
        self.runner.execute(&job, run.id, options, progress).await
    }

    /// Records a new run of a job, `running` (or `queued` behind a running one, if `queue`),
    /// without loading anything: interfaces that answer at once (the API) start here and
    /// then call [`Engine::execute_run`] or [`Engine::spawn_run`].
    pub async fn start_run(&self, job_name: &str, queue: bool) -> Result<(Job, Run)> {
        self.runner.start(job_name, queue).await
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
        self.runner.execute(job, run_id, options, progress).await
    }

    /// Carries out a recorded run in the background (queued runs wait their turn).
    pub fn spawn_run(&self, job: Job, run_id: i64, options: RunOptions) {
        self.runner.spawn(job, run_id, options);
    }

    /// Takes up queued runs nobody in this process is waiting on.
    pub async fn resume_queued(&self) -> Result<usize> {
        self.runner.resume_queued().await
    }

    pub async fn runs(&self, job: &str, limit: u32) -> Result<Vec<Run>> {
        let job = self.catalog.job(job).await?;
        self.catalog.runs(job.id, limit).await
    }

    pub async fn run_details(&self, run_id: i64) -> Result<Run> {
        self.catalog.run(run_id).await
    }

    /// How many files the job's next run would load (counted at most every 30 s).
    pub async fn files_waiting(&self, job: &Job) -> Result<u64> {
        self.runner.files_waiting(job).await
    }

    /// Cancelled once [`Engine::shutdown`] is called.
    pub fn shutdown_token(&self) -> &CancellationToken {
        self.runner.shutdown_token()
    }

    /// Asks every run of this process to finish its current file and stop.
    pub fn shutdown(&self) {
        self.runner.shutdown();
    }

    /// Waits for the background runs to stop (after [`Engine::shutdown`]), at most `limit`.
    /// Returns false if some were still going.
    pub async fn wait_for_runs(&self, limit: Duration) -> bool {
        self.runner.wait_for_runs(limit).await
    }

    /// Loads files of runs that other processes on a shared catalog offer ([`crate::run`]'s
    /// shared runs), up to `parallel` at once (default the machine's cores), until
    /// [`Engine::shutdown`]. On a catalog no other process shares, there is nothing to take
    /// and it only waits.
    pub async fn help_shared_runs(&self, parallel: Option<usize>) {
        if !self.catalog.is_shared() {
            self.shutdown_token().cancelled().await;
            return;
        }
        self.runner.help(crate::run::at_once(parallel)).await;
    }

    // ---- the scheduler ----

    fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.catalog.clone(), self.runner.clone())
    }

    /// Starts (or queues) every job due at `now`; returns `(job, run id)` of the runs
    /// recorded, which go on in the background.
    pub async fn start_due_runs(&self, now: DateTime<Utc>) -> Result<Vec<(String, i64)>> {
        self.scheduler().start_due_runs(now).await
    }

    /// One tick of the scheduler at `now`: due runs, queued runs left waiting, freshness.
    pub async fn tick(&self, now: DateTime<Utc>) {
        self.scheduler().tick(now).await;
    }

    /// Raises a freshness alert for each job whose newest file is older than its
    /// `freshness_hours` at `now`.
    pub async fn check_freshness(&self, now: DateTime<Utc>) -> Result<()> {
        self.runner.alerts.check_freshness(now).await
    }

    /// Ticks every `every` until a shutdown is asked for.
    pub async fn run_scheduler(self: Arc<Self>, every: Duration) {
        self.scheduler().run(every).await;
    }
}
