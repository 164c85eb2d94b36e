//! [`Engine`]: the one set of operations the CLI, the API and the wizard call.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::format::{self, FormatOptions};
use sluice_core::names::TableName;
use sluice_core::schema::{Column, DetectedSchema};
use sluice_core::secret::{KeySource, SecretKey};
use sluice_core::storage::config::REDACTED;
use sluice_core::storage::{ConnectionConfig, FileEntry, FilePattern, Listing, Store};
use sluice_sinks::bigquery::{Auth, BigQuerySink};
use sluice_sinks::duckdb::DuckDbSink;
use sluice_sinks::postgres::PostgresSink;
use sluice_sinks::{LoadMode, Sink};

use crate::alerts::Notifier;
use crate::catalog::Catalog;
use crate::catalog::sqlite::SqliteCatalog;
use crate::model::{
    ConnectionRecord, DEFAULT_MAX_FILE_SIZE, Destination, Job, JobSettings, JobUpdate, NewJob,
    ProcessedFile, Run,
};
use crate::run::RetryPolicy;
use crate::{Error, Result};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long `test_connection` waits for an answer.
pub const CONNECTION_TEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The catalog file's name in the data directory.
pub const CATALOG_FILE: &str = "catalog.db";
/// The default DuckDB destination's file name in the data directory.
pub const WAREHOUSE_FILE: &str = "warehouse.duckdb";

/// One matching file, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedFile {
    pub name: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub over_limit: bool,
}

/// The files a prefix and pattern select.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileListing {
    pub files: Vec<ListedFile>,
    /// Matching files in all (before `limit`).
    pub count: usize,
    pub prefix: String,
    pub pattern: String,
    pub max_file_size: u64,
    /// When nothing matches: what was found instead and a broader pattern to try.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// What a user asks for when creating a job. `None`s are detected or defaulted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobRequest {
    pub name: String,
    pub connection: String,
    #[serde(default)]
    pub file_path_prefix: String,
    pub file_pattern: String,
    #[serde(default)]
    pub format: Option<FormatOptions>,
    #[serde(default = "yes")]
    pub load_latest_only: bool,
    #[serde(default)]
    pub table_name: Option<String>,
    #[serde(default)]
    pub load_type: LoadMode,
    /// A reviewed schema; its column names must be the file's, in order.
    #[serde(default)]
    pub schema: Option<Vec<Column>>,
    #[serde(default)]
    pub max_file_size: Option<u64>,
    /// Schedule, timezone, paused and alerts.
    #[serde(flatten)]
    pub settings: JobSettings,
    #[serde(default)]
    pub destination: Destination,
    /// The schema fingerprint the user reviewed; creation is refused if the newest file's
    /// schema no longer has it.
    #[serde(default)]
    pub expected_fingerprint: Option<String>,
}

fn yes() -> bool {
    true
}

/// Names of connections and jobs: 1–64 letters, digits, `-` and `_`.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid {kind} name '{name}': use 1–64 letters, digits, '-' and '_'"
        )))
    }
}

/// sluice's operations over one catalog and data directory.
pub struct Engine {
    catalog: Arc<dyn Catalog>,
    data_dir: PathBuf,
    duckdb: Mutex<HashMap<PathBuf, Arc<DuckDbSink>>>,
    /// PostgreSQL sinks by URL: one connection pool per database per process.
    postgres: Mutex<HashMap<String, Arc<PostgresSink>>>,
    /// BigQuery sinks by their config (as JSON): each keeps its access token.
    bigquery: Mutex<HashMap<String, Arc<BigQuerySink>>>,
    /// Seals and opens connection credentials.
    key: RwLock<SecretKey>,
    /// Cancelled when the process is asked to stop: runs finish their current file and
    /// take no more; queued runs stay queued.
    shutdown: CancellationToken,
    /// Runs going on in the background (the API, the scheduler), waited for at shutdown.
    tasks: TaskTracker,
    /// Runs this process is carrying out or waiting to, so the scheduler does not take
    /// up a queued run twice.
    here: Mutex<std::collections::HashSet<i64>>,
    retry: RetryPolicy,
    notifier: Notifier,
    /// Files waiting per job, with when it was counted: listing a bucket on every metrics
    /// scrape would be slow and costly.
    waiting: Mutex<HashMap<i64, (u64, std::time::Instant)>>,
}

/// How long a count of waiting files is reused.
pub const WAITING_TTL: Duration = Duration::from_secs(30);

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.data_dir)
            .finish()
    }
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
            return Err(Error::Invalid(format!(
                "the catalog URL must start with postgres:// (got '{}'); leave it out to use the SQLite catalog in the data directory",
                crate::catalog::postgres::redact_password(url)
            )));
        }
        std::fs::create_dir_all(data_dir).map_err(|e| {
            Error::Invalid(format!(
                "cannot create the data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let key = SecretKey::load_or_create(data_dir).map_err(|e| Error::Invalid(e.to_string()))?;
        let catalog = crate::catalog::postgres::PostgresCatalog::connect(url).await?;
        Ok(Self::with_catalog(Arc::new(catalog), data_dir, key))
    }

    /// Opens the data directory, creating it and the SQLite catalog if needed.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            Error::Invalid(format!(
                "cannot create the data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let key = SecretKey::load_or_create(data_dir).map_err(|e| Error::Invalid(e.to_string()))?;
        let catalog = SqliteCatalog::open(&data_dir.join(CATALOG_FILE)).await?;
        Ok(Self::with_catalog(Arc::new(catalog), data_dir, key))
    }

    pub fn with_catalog(catalog: Arc<dyn Catalog>, data_dir: &Path, key: SecretKey) -> Self {
        Self {
            catalog,
            data_dir: data_dir.to_path_buf(),
            duckdb: Mutex::new(HashMap::new()),
            postgres: Mutex::new(HashMap::new()),
            bigquery: Mutex::new(HashMap::new()),
            key: RwLock::new(key),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            here: Mutex::new(std::collections::HashSet::new()),
            retry: RetryPolicy::default(),
            notifier: Notifier::default(),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Drops the job's count of waiting files (a run changed it).
    pub(crate) fn forget_waiting(&self, job_id: i64) {
        self.waiting.lock().expect("waiting lock").remove(&job_id);
    }

    /// How many files the job's next run would load: matching, not loaded, under the size
    /// limit, and (for a latest-only job) the newest. Counted by listing, at most once per
    /// [`WAITING_TTL`].
    pub async fn files_waiting(&self, job: &Job) -> Result<u64> {
        if let Some((n, at)) = self.waiting.lock().expect("waiting lock").get(&job.id)
            && at.elapsed() < WAITING_TTL
        {
            return Ok(*n);
        }
        let store = self.store(&job.connection).await?;
        let pattern = FilePattern::new(&job.file_path_prefix, &job.file_pattern)?;
        let listing = store.list(&pattern).await?;
        let loaded: std::collections::HashSet<(String, String)> = self
            .catalog
            .processed_files(job.id)
            .await?
            .into_iter()
            .filter(|p| p.status == "loaded")
            .map(|p| (p.file_path, p.file_version))
            .collect();
        let plan = crate::plan::plan(
            &listing.files,
            &loaded,
            job.load_latest_only,
            job.max_file_size,
        );
        let n = plan.take.len() as u64;
        self.waiting
            .lock()
            .expect("waiting lock")
            .insert(job.id, (n, std::time::Instant::now()));
        Ok(n)
    }

    /// Sets how transient failures are retried (before the engine is shared).
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = policy;
    }

    /// Sets how alerts are sent (before the engine is shared).
    pub fn set_notifier(&mut self, notifier: Notifier) {
        self.notifier = notifier;
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    pub(crate) fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Cancelled once [`Engine::shutdown`] is called.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Asks every run of this process to finish its current file and stop.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits for the background runs to stop (after [`Engine::shutdown`]), at most `limit`.
    /// Returns false if some were still going.
    pub async fn wait_for_runs(&self, limit: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(limit, self.tasks.wait()).await.is_ok()
    }

    /// Carries out a recorded run in the background (queued runs wait their turn).
    pub fn spawn_run(self: &Arc<Self>, job: Job, run_id: i64, options: crate::RunOptions) {
        if !self.here.lock().expect("runs lock").insert(run_id) {
            return;
        }
        let engine = Arc::clone(self);
        self.tasks.spawn(async move {
            if let Err(e) = engine
                .execute_run(&job, run_id, options, Arc::new(crate::Quiet))
                .await
            {
                tracing::warn!(job = %job.name, run = run_id, "run failed: {e}");
            }
            engine.here.lock().expect("runs lock").remove(&run_id);
        });
    }

    /// Takes up queued runs nobody in this process is waiting on (left by a process that
    /// stopped, or queued by another interface).
    pub async fn resume_queued(self: &Arc<Self>) -> Result<usize> {
        let mut resumed = 0;
        for (job, run_id) in self.catalog.queued_runs().await? {
            if self.here.lock().expect("runs lock").contains(&run_id) {
                continue;
            }
            let job = self.catalog.job(&job).await?;
            self.spawn_run(job, run_id, crate::RunOptions::default());
            resumed += 1;
        }
        Ok(resumed)
    }

    fn key(&self) -> SecretKey {
        self.key.read().expect("key lock").clone()
    }

    pub fn catalog(&self) -> &dyn Catalog {
        self.catalog.as_ref()
    }

    pub(crate) fn catalog_handle(&self) -> Arc<dyn Catalog> {
        Arc::clone(&self.catalog)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    // ---- connections ----

    /// Adds a connection after validating its settings; credentials are sealed before they
    /// are stored.
    ///
    /// # Errors
    /// [`Error::InvalidFields`] naming each invalid field; [`Error::Conflict`] for a taken name.
    pub async fn add_connection(
        &self,
        name: &str,
        config: ConnectionConfig,
    ) -> Result<ConnectionRecord> {
        validate_name("connection", name)?;
        check_config(&config)?;
        let sealed = config.sealed(&self.key(), name);
        Ok(redact(self.catalog.add_connection(name, &sealed).await?))
    }

    /// Adds a connection from a URL and provider options (`region=…`, `access_key_id=…`).
    pub async fn add_connection_url(
        &self,
        name: &str,
        url: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<ConnectionRecord> {
        self.add_connection(name, ConnectionConfig::from_url(url, options)?)
            .await
    }

    /// Replaces a connection's settings. Credentials sent back as `••••` keep their stored value.
    pub async fn update_connection(
        &self,
        name: &str,
        config: ConnectionConfig,
    ) -> Result<ConnectionRecord> {
        let record = self.catalog.connection(name).await?;
        let previous = self.open_config(&record)?;
        let config = config.keep_secrets_from(&previous);
        check_config(&config)?;
        self.catalog
            .update_connections(&[(record.id, config.sealed(&self.key(), name))])
            .await?;
        self.connection(name).await
    }

    /// Connections with credentials redacted.
    pub async fn connections(&self) -> Result<Vec<ConnectionRecord>> {
        Ok(self
            .catalog
            .list_connections()
            .await?
            .into_iter()
            .map(redact)
            .collect())
    }

    pub async fn connection(&self, name: &str) -> Result<ConnectionRecord> {
        Ok(redact(self.catalog.connection(name).await?))
    }

    pub async fn delete_connection(&self, name: &str) -> Result<()> {
        self.catalog.delete_connection(name).await
    }

    /// A stored connection's settings with credentials opened.
    fn open_config(&self, record: &ConnectionRecord) -> Result<ConnectionConfig> {
        let key = self.key();
        record.config.opened(&key, &record.name).map_err(|(field, e)| {
            Error::Invalid(format!(
                "cannot open the {field} of connection '{}' with the secret key from {}: {e}. \
                 Use the key the connection was saved with (SLUICE_SECRET_KEY or the key file), or add the connection again",
                record.name, key.source
            ))
        })
    }

    /// Opens a stored connection.
    pub async fn store(&self, connection: &str) -> Result<Store> {
        let record = self.catalog.connection(connection).await?;
        let config = self.open_config(&record)?;
        config
            .build()
            .map_err(|e| Error::Invalid(format!("connection '{connection}': {e}")))
    }

    /// Seals every connection's credentials under a new key, in one transaction, and makes
    /// it the key. A key file is replaced (through `secret.key.new`, so a crash leaves the
    /// new key on disk); a key from `SLUICE_SECRET_KEY` is returned for the user to set.
    ///
    /// Returns the new key and how many connections were re-sealed.
    pub async fn rotate_secret_key(&self) -> Result<(SecretKey, usize)> {
        let records = self.catalog.list_connections().await?;
        let opened = records
            .iter()
            .map(|r| Ok((r, self.open_config(r)?)))
            .collect::<Result<Vec<_>>>()?;
        let old = self.key();
        let new = SecretKey::generate(old.source.clone());
        let staged = match &old.source {
            KeySource::File(path) => {
                let staged = path.with_extension("key.new");
                let _ = std::fs::remove_file(&staged);
                new.write_file(&staged).map_err(|e| {
                    Error::Invalid(format!("cannot write {}: {e}", staged.display()))
                })?;
                Some((staged, path.clone()))
            }
            KeySource::Env => None,
        };
        let resealed: Vec<(i64, ConnectionConfig)> = opened
            .iter()
            .map(|(r, c)| (r.id, c.sealed(&new, &r.name)))
            .collect();
        let destinations = self
            .catalog
            .list_jobs()
            .await?
            .into_iter()
            .filter(|j| j.destination != j.destination.redacted())
            .map(|j| {
                let opened = j.destination.opened(&old, &j.name).map_err(|e| {
                    Error::Invalid(format!(
                        "cannot open the destination URL of job '{}' with the secret key from {}: {e}",
                        j.name, old.source
                    ))
                })?;
                Ok((j.id, opened.sealed(&new, &j.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        self.catalog
            .update_secrets(&resealed, &destinations)
            .await?;
        if let Some((staged, path)) = staged {
            std::fs::rename(&staged, &path).map_err(|e| {
                Error::Invalid(format!(
                    "the connections use the key in {}, but it could not replace {}: {e}",
                    staged.display(),
                    path.display()
                ))
            })?;
        }
        *self.key.write().expect("key lock") = new.clone();
        Ok((new, resealed.len()))
    }

    /// Lists one page at the connection's root, within [`CONNECTION_TEST_TIMEOUT`].
    ///
    /// Returns how many entries the first page held.
    pub async fn test_connection(&self, name: &str) -> Result<usize> {
        let store = self.store(name).await?;
        match tokio::time::timeout(CONNECTION_TEST_TIMEOUT, store.check()).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(Error::Timeout(format!(
                "connection '{name}' did not answer within {}s; check the endpoint and the network",
                CONNECTION_TEST_TIMEOUT.as_secs()
            ))),
        }
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
        let store = self.store(connection).await?;
        let pattern = FilePattern::new(prefix, pattern)?;
        let listing = store.list(&pattern).await?;
        let max = max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
        let suggestion = suggest(&listing, &pattern);
        let count = listing.files.len();
        let files = listing
            .files
            .into_iter()
            .take(limit.unwrap_or(usize::MAX))
            .map(|f| ListedFile {
                over_limit: f.size > max,
                name: f.path,
                size: f.size,
                last_modified: f.last_modified,
            })
            .collect();
        Ok(FileListing {
            files,
            count,
            prefix: pattern.prefix().to_string(),
            pattern: pattern.glob().to_string(),
            max_file_size: max,
            suggestion,
        })
    }

    /// Detects the schema of one file (`path` relative to the connection's root).
    pub async fn detect(
        &self,
        connection: &str,
        path: &str,
        options: Option<FormatOptions>,
    ) -> Result<DetectedSchema> {
        let store = self.store(connection).await?;
        let file = store.head(path).await?;
        let options = FormatOptions::for_file(options, &file.path)?;
        Ok(format::detect(&store, &file, &options).await?)
    }

    // ---- destinations ----

    /// The sink of a destination as the user gave it (a PostgreSQL URL in clear); DuckDB
    /// files are opened and PostgreSQL pools made once per process. For a stored job's
    /// destination use [`Engine::job_sink`].
    pub fn sink(&self, destination: &Destination) -> Result<Arc<dyn Sink>> {
        match destination {
            Destination::Postgres { url } => {
                if SecretKey::is_sealed(url) || url.contains(REDACTED) {
                    return Err(Error::Invalid(
                        "the PostgreSQL URL is sealed or redacted (••••); give the URL with its password".into(),
                    ));
                }
                let mut open = self.postgres.lock().expect("sink cache lock");
                if let Some(sink) = open.get(url) {
                    return Ok(sink.clone());
                }
                let sink =
                    Arc::new(PostgresSink::new(url).map_err(|e| Error::Invalid(e.to_string()))?);
                open.insert(url.clone(), sink.clone());
                Ok(sink)
            }
            Destination::BigQuery(config) => {
                if let Auth::ServiceAccountKey { key_json } = &config.auth
                    && (SecretKey::is_sealed(key_json) || key_json == REDACTED)
                {
                    return Err(Error::Invalid(
                        "the BigQuery service-account key is sealed or redacted (••••); give the key".into(),
                    ));
                }
                let id = serde_json::to_string(config).expect("BigQuery configs serialize");
                let mut open = self.bigquery.lock().expect("sink cache lock");
                if let Some(sink) = open.get(&id) {
                    return Ok(sink.clone());
                }
                let sink = Arc::new(
                    BigQuerySink::new(config.clone()).map_err(|e| Error::Invalid(e.to_string()))?,
                );
                open.insert(id, sink.clone());
                Ok(sink)
            }
            Destination::DuckDb { path } => {
                let path = match path {
                    Some(p) if p.is_absolute() => p.clone(),
                    Some(p) => self.data_dir.join(p),
                    None => self.data_dir.join(WAREHOUSE_FILE),
                };
                let mut open = self.duckdb.lock().expect("sink cache lock");
                if let Some(sink) = open.get(&path) {
                    return Ok(sink.clone());
                }
                let sink = Arc::new(DuckDbSink::open(&path)?);
                open.insert(path, sink.clone());
                Ok(sink)
            }
        }
    }

    /// The sink a stored job loads into.
    pub async fn job_sink(&self, job: &str) -> Result<Arc<dyn Sink>> {
        let job = self.catalog.job(job).await?;
        self.stored_sink(&job)
    }

    /// The sink of a job as the catalog returns it: its destination's secrets opened.
    pub(crate) fn stored_sink(&self, job: &Job) -> Result<Arc<dyn Sink>> {
        let key = self.key();
        let destination = job.destination.opened(&key, &job.name).map_err(|e| {
            Error::Invalid(format!(
                "cannot open the destination URL of job '{}' with the secret key from {}: {e}. \
                 Use the key the job was created with (SLUICE_SECRET_KEY or the key file), or create the job again",
                job.name, key.source
            ))
        })?;
        self.sink(&destination)
    }

    // ---- jobs ----

    /// Creates a job: detects the schema of the newest matching file (or checks a reviewed
    /// one against it), creates the destination table, and stores the job.
    pub async fn create_job(&self, req: JobRequest) -> Result<Job> {
        validate_name("job", &req.name)?;
        req.settings.alerts.validate().map_err(Error::Invalid)?;
        match self.catalog.job(&req.name).await {
            Ok(_) => {
                return Err(Error::Conflict(format!(
                    "a job named '{}' already exists; choose another name or delete it with `sluice jobs delete {}`",
                    req.name, req.name
                )));
            }
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let connection = self.catalog.connection(&req.connection).await?;
        let store = self.store(&req.connection).await?;
        let pattern = FilePattern::new(&req.file_path_prefix, &req.file_pattern)?;
        let listing = store.list(&pattern).await?;
        let Some(newest) = listing.files.first().cloned() else {
            return Err(Error::NotFound(no_match_message(&listing, &pattern)));
        };
        let options = FormatOptions::for_file(req.format.clone(), &newest.path)?;
        let detected = format::detect(&store, &newest, &options).await?;
        if let Some(expected) = req
            .expected_fingerprint
            .as_deref()
            .filter(|f| !f.is_empty())
            && expected != detected.schema_fingerprint
        {
            return Err(Error::Conflict(format!(
                "the schema of the newest file ({}) changed since it was reviewed; detect it again",
                newest.path
            )));
        }
        let schema = match req.schema {
            Some(reviewed) => check_reviewed(&reviewed, &detected)?,
            None => detected.reviewed_columns(),
        };
        let table = match &req.table_name {
            Some(t) => TableName::parse(t),
            None => {
                let stem = pattern.table_stem();
                TableName::parse(if stem.is_empty() { &req.name } else { &stem })
                    .or_else(|_| TableName::parse(&format!("t_{}", req.name.replace('-', "_"))))
            }
        }
        .map_err(Error::Invalid)?;
        let max_file_size = req.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
        if max_file_size == 0 {
            return Err(Error::Invalid(
                "the maximum file size must be more than 0 bytes".into(),
            ));
        }
        let sink = self.sink(&req.destination)?;
        sink.ensure_table(&table, &schema).await?;
        let destination = req.destination.sealed(&self.key(), &req.name);
        let new = NewJob {
            uid: uuid::Uuid::new_v4().to_string(),
            name: req.name,
            connection_id: connection.id,
            file_path_prefix: pattern.prefix().to_string(),
            file_pattern: pattern.glob().to_string(),
            file_format_options: detected.format_options.clone().unwrap_or(options),
            load_latest_only: req.load_latest_only,
            schema,
            schema_fingerprint: detected.schema_fingerprint.clone(),
            destination,
            table_name: table,
            load_type: req.load_type,
            settings: req.settings,
            max_file_size,
        };
        Ok(self.shown(self.catalog.create_job(&new).await?))
    }

    /// Changes a job's schedule, timezone, pause or alerts.
    pub async fn update_job(&self, name: &str, update: JobUpdate) -> Result<Job> {
        let job = self.catalog.job(name).await?;
        let mut settings: JobSettings = job.settings.clone();
        update.apply(&mut settings);
        settings.alerts.validate().map_err(Error::Invalid)?;
        self.catalog.update_job_settings(job.id, &settings).await?;
        self.job(name).await
    }

    /// Jobs with their destination's password redacted.
    pub async fn jobs(&self) -> Result<Vec<Job>> {
        Ok(self
            .catalog
            .list_jobs()
            .await?
            .into_iter()
            .map(|j| self.shown(j))
            .collect())
    }

    /// A job with its destination's password redacted.
    pub async fn job(&self, name: &str) -> Result<Job> {
        Ok(self.shown(self.catalog.job(name).await?))
    }

    /// A stored job made safe to show: its destination opened, then redacted.
    fn shown(&self, mut job: Job) -> Job {
        let opened = job.destination.opened(&self.key(), &job.name);
        job.destination = opened.unwrap_or(job.destination).redacted();
        job
    }

    /// Deletes a job with its runs and ledger; the table stays unless `drop_table`.
    pub async fn delete_job(&self, name: &str, drop_table: bool) -> Result<()> {
        let job = self.catalog.job(name).await?;
        if drop_table {
            self.stored_sink(&job)?.drop_table(&job.table_name).await?;
        }
        self.catalog.delete_job(name).await
    }

    pub async fn runs(&self, job: &str, limit: u32) -> Result<Vec<Run>> {
        let job = self.catalog.job(job).await?;
        self.catalog.runs(job.id, limit).await
    }

    pub async fn run_details(&self, run_id: i64) -> Result<Run> {
        self.catalog.run(run_id).await
    }

    pub async fn processed_files(&self, job: &str) -> Result<Vec<ProcessedFile>> {
        let job = self.catalog.job(job).await?;
        self.catalog.processed_files(job.id).await
    }
}

fn redact(mut r: ConnectionRecord) -> ConnectionRecord {
    r.config = r.config.redacted();
    r
}

fn check_config(config: &ConnectionConfig) -> Result<()> {
    let errors = config.validate();
    if !errors.is_empty() {
        return Err(Error::InvalidFields(errors));
    }
    config.build()?;
    Ok(())
}

/// A reviewed schema keeps the file's column names in order; only types and modes change.
fn check_reviewed(reviewed: &[Column], detected: &DetectedSchema) -> Result<Vec<Column>> {
    let file: Vec<&str> = detected.columns.iter().map(|c| c.name.as_str()).collect();
    let given: Vec<&str> = reviewed.iter().map(|c| c.name.as_str()).collect();
    if file != given {
        return Err(Error::Invalid(format!(
            "the reviewed schema's columns ({}) are not the file's ({}); keep every column, in the file's order, and change only types",
            given.join(", "),
            file.join(", ")
        )));
    }
    Ok(reviewed.to_vec())
}

fn suggest(listing: &Listing, pattern: &FilePattern) -> Option<String> {
    listing
        .files
        .is_empty()
        .then(|| no_match_message(listing, pattern))
}

/// Says that nothing matched, what was there instead, and a broader pattern to try.
pub fn no_match_message(listing: &Listing, pattern: &FilePattern) -> String {
    let place = if pattern.list_prefix().is_empty() {
        "the connection's root".to_string()
    } else {
        format!("'{}/'", pattern.list_prefix())
    };
    if listing.scanned == 0 {
        return format!(
            "no files matching '{}' under {place}: the folder is empty or does not exist; check the prefix",
            pattern.glob()
        );
    }
    let ext = listing
        .other_names
        .first()
        .and_then(|n| n.rsplit('/').next())
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_string()));
    let broader = match ext {
        Some(e) => format!("*.{e}"),
        None => "*".to_string(),
    };
    format!(
        "no files matching '{}' under {place} ({} other file(s) there, e.g. {}); try --pattern '{broader}'",
        pattern.glob(),
        listing.scanned,
        listing
            .other_names
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The load id of a file version for a job: stable across retries, unique per job.
pub fn load_id(job: &Job, file: &FileEntry) -> String {
    use md5::{Digest, Md5};
    let digest =
        Md5::digest(format!("{}\n{}\n{}", job.uid, file.path, file.version_key()).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
