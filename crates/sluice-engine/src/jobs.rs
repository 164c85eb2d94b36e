//! Jobs: creating one (detect the newest file, create the table, store the job), changing
//! its settings, showing it with its destination's credentials redacted, deleting it.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_core::format::{self, FormatOptions};
use sluice_core::names::TableName;
use sluice_core::schema::{Column, DetectedSchema, Mode, WarehouseType};
use sluice_core::schema::{evolve, lineage};
use sluice_core::secret::Secrets;
use sluice_core::storage::{FileEntry, FilePattern};
use sluice_sinks::{BuiltSink, LoadMode, SinkConfig, TableLoad};

use crate::access::LocalAccess;
use crate::catalog::Catalog;
use crate::connections::{Connections, no_match, validate_name};
use crate::error::Kind;
use crate::keyring::Keyring;
use crate::model::{
    ChangedFiles, DEFAULT_MAX_FILE_SIZE, FieldChange, Job, JobSettings, JobUpdate, NewJob,
};
use crate::sinks::SinkPool;
use crate::{Error, Result};

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
    pub destination: SinkConfig,
    /// The schema fingerprint the user reviewed; creation is refused if the newest file's
    /// schema no longer has it.
    #[serde(default)]
    pub expected_fingerprint: Option<String>,
    /// What to do when the table already holds loads no job has (a deleted job's).
    #[serde(default)]
    pub existing_table: ExistingTable,
    /// The file's columns renamed or left out, and columns set from an expression.
    #[serde(default)]
    pub column_mapping: crate::mapping::ColumnMapping,
}

/// A new job's table that already holds loads no job has: those of a job that was deleted
/// (the table stays when a job is deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExistingTable {
    /// Refuse to create the job: it would load every file into the table again.
    #[default]
    Refuse,
    /// Take the loads over into the new job's ledger: their files are not loaded again.
    Adopt,
    /// Drop the table and create it anew.
    Replace,
}

fn yes() -> bool {
    true
}

/// The jobs of one catalog.
#[derive(Clone)]
pub(crate) struct Jobs {
    catalog: Arc<dyn Catalog>,
    keys: Arc<Keyring>,
    connections: Connections,
    sinks: Arc<SinkPool>,
    /// Where DuckDB files may be, when confined (see [`crate::access`]).
    pub(crate) access: Option<LocalAccess>,
}

impl Jobs {
    pub(crate) fn new(
        catalog: Arc<dyn Catalog>,
        keys: Arc<Keyring>,
        connections: Connections,
        sinks: Arc<SinkPool>,
    ) -> Self {
        Self {
            catalog,
            keys,
            connections,
            sinks,
            access: None,
        }
    }

    /// Refuses a destination this engine may not write to: a DuckDB file outside the
    /// allowed folders, or one that would be a different file on each machine sharing the
    /// catalog.
    pub(crate) fn check_destination(&self, destination: &SinkConfig) -> Result<()> {
        self.check_shared(destination)?;
        if let (SinkConfig::DuckDb(duckdb), Some(access)) = (destination, &self.access) {
            let ctx = self.sinks.context();
            access.check_duckdb(&duckdb.file(&ctx), ctx.data_dir)?;
        }
        Ok(())
    }

    /// Refuses a DuckDB file named relative to the data directory when the catalog is
    /// shared between machines.
    fn check_shared(&self, destination: &SinkConfig) -> Result<()> {
        let SinkConfig::DuckDb(duckdb) = destination else {
            return Ok(());
        };
        if self.catalog.is_shared() && !duckdb.path.as_deref().is_some_and(Path::is_absolute) {
            let file = duckdb.file(&self.sinks.context());
            return Err(Error::invalid(
                "destination",
                format!(
                    "with a shared PostgreSQL catalog, a DuckDB file named relative to the data directory ({}) is a different file on every machine, so one job's rows would land in several places; give an absolute path on storage every worker shares (destination path), or load into PostgreSQL or BigQuery",
                    file.display()
                ),
            ));
        }
        Ok(())
    }

    /// Creates a job: detects the schema of the newest matching file (or checks a reviewed
    /// one against it), creates the destination table, and stores the job.
    pub(crate) async fn create(&self, req: JobRequest) -> Result<Job> {
        validate_name(Kind::Job, &req.name)?;
        req.settings
            .alerts
            .validate()
            .map_err(|e| Error::invalid(&e.field, e.to_string()))?;
        match self.catalog.job(&req.name).await {
            Ok(_) => {
                return Err(Error::Exists {
                    kind: Kind::Job,
                    name: req.name,
                });
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let connection = self.catalog.connection(&req.connection).await?;
        let store = self.connections.store(&req.connection).await?;
        let pattern = FilePattern::new(&req.file_path_prefix, &req.file_pattern)?;
        let listing = store.list(&pattern).await?;
        let Some(newest) = listing.files.first().cloned() else {
            return Err(no_match(&listing, &pattern));
        };
        let options = FormatOptions::for_file(req.format.clone(), &newest.path)?;
        let reading = crate::pipeline::reading_of(&req.settings);
        let detected = format::detect_with(&store, &newest, &options, &reading).await?;
        if let Some(expected) = req
            .expected_fingerprint
            .as_deref()
            .filter(|f| !f.is_empty())
            && expected != detected.schema_fingerprint
        {
            return Err(Error::SchemaChanged { path: newest.path });
        }
        let mut req = req;
        let schema = match req.schema.take() {
            Some(reviewed) => check_reviewed(&reviewed, &detected)?,
            None => detected.reviewed_columns(),
        };
        let schema = if req.column_mapping.is_empty() {
            schema
        } else {
            let mapped = req.column_mapping.apply(schema, &options)?;
            req.settings.ignored_columns = mapped.ignored;
            req.settings.derived_columns = mapped.derived;
            // Derived columns are set first: the job's own transforms may use them.
            let mut transforms = req.column_mapping.set.clone();
            transforms.append(&mut req.settings.row_rules.transforms);
            req.settings.row_rules.transforms = transforms;
            mapped.schema
        };
        let table = match &req.table_name {
            Some(t) => TableName::parse(t),
            None => {
                let stem = pattern.table_stem();
                TableName::parse(if stem.is_empty() { &req.name } else { &stem })
                    .or_else(|_| TableName::parse(&format!("t_{}", req.name.replace('-', "_"))))
            }
        }
        .map_err(|m| Error::invalid("table_name", m))?;
        let max_file_size = req.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
        if max_file_size == 0 {
            return Err(Error::invalid(
                "max_file_size",
                "the maximum file size must be more than 0 bytes",
            ));
        }
        check_policies(&req.settings)?;
        let schema = crate::mapping::transform_types(
            schema,
            &req.settings.row_rules,
            &req.settings.derived_columns,
        )?;
        check_rules(&req.settings, &schema)?;
        if req.settings.lineage
            && let Some(c) = schema.iter().find(|c| lineage::is_lineage(&c.name))
        {
            return Err(Error::invalid(
                "schema",
                format!(
                    "the file has a column named {}, which sluice adds itself for lineage; rename it in the file or turn lineage off",
                    c.name
                ),
            ));
        }
        self.check_destination(&req.destination)?;
        let sink = self.sinks.get(&req.destination)?;
        let rescues = req.settings.schema_policy == crate::model::SchemaPolicy::Rescue;
        if rescues && let Some(c) = schema.iter().find(|c| c.name == evolve::RESCUED) {
            return Err(Error::invalid(
                "schema",
                format!(
                    "the file has a column named {}, which the rescue policy adds itself; rename it in the file or choose another schema policy",
                    c.name
                ),
            ));
        }
        let mut table_columns = schema.clone();
        if rescues {
            table_columns.push(evolve::rescued_column());
        }
        if req.settings.lineage {
            table_columns.extend(lineage::columns());
        }
        let orphaned = self.orphaned_loads(sink.as_ref(), &table).await?;
        if !orphaned.is_empty() {
            match req.existing_table {
                ExistingTable::Refuse => {
                    let files: Vec<&str> = orphaned
                        .iter()
                        .flat_map(|l| l.file_paths.iter().map(String::as_str))
                        .filter(|p| !p.is_empty())
                        .take(3)
                        .collect();
                    return Err(Error::Conflict(format!(
                        "table {table} already holds {} load(s) that no job has{} (a deleted job's, most likely): a new job would load its files again. Adopt them, so the new job takes them as loaded, or replace the table, or choose another table",
                        orphaned.len(),
                        if files.is_empty() {
                            String::new()
                        } else {
                            format!(", of {}", files.join(", "))
                        }
                    )));
                }
                ExistingTable::Replace => sink
                    .drop_table(&table)
                    .await
                    .map_err(|e| Error::Sink(e.about(format!("replacing table {table}"))))?,
                ExistingTable::Adopt => {}
            }
        }
        sink.ensure_table(&table, &table_columns)
            .await
            .map_err(|e| {
                Error::Sink(e.about(format!(
                    "{}: creating table {table} for its schema",
                    newest.path
                )))
            })?;
        let destination = self.keys.seal_destination(&req.name, &req.destination);
        let mut settings = req.settings;
        settings.alerts = self.keys.seal_alerts(&req.name, &settings.alerts);
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
            settings,
            max_file_size,
        };
        let job = self.catalog.create_job(&new).await?;
        if req.existing_table == ExistingTable::Adopt && !orphaned.is_empty() {
            self.adopt(&job, &orphaned, &store, &pattern).await?;
        }
        Ok(self.shown(job))
    }

    /// The loads a table holds that no job's ledger has: a deleted job's.
    async fn orphaned_loads(
        &self,
        sink: &dyn BuiltSink,
        table: &TableName,
    ) -> Result<Vec<TableLoad>> {
        let Some(loads) = sink
            .table_loads(table)
            .await
            .map_err(|e| Error::Sink(e.about(format!("reading the loads of table {table}"))))?
        else {
            return Ok(Vec::new());
        };
        if loads.is_empty() {
            return Ok(loads);
        }
        let here = sink.describe();
        let mut ids = std::collections::HashSet::new();
        let mut paths = std::collections::HashSet::new();
        for job in self.catalog.list_jobs().await? {
            let same = job.table_name == *table
                && self
                    .sink(&job)
                    .map(|s| s.describe() == here)
                    .unwrap_or(false);
            if same {
                for p in self.catalog.processed_files(job.id).await? {
                    ids.insert(p.load_id);
                    paths.insert(p.file_path);
                }
            }
        }
        Ok(loads
            .into_iter()
            .filter(|l| {
                if l.load_id.is_empty() {
                    !l.file_paths.iter().all(|p| paths.contains(p)) || l.file_paths.is_empty()
                } else {
                    !ids.contains(&l.load_id)
                }
            })
            .collect())
    }

    /// Records a deleted job's loads in a new job's ledger as loaded. Where the marker kept
    /// no version (BigQuery), the version listed now is taken as the one loaded.
    async fn adopt(
        &self,
        job: &Job,
        loads: &[TableLoad],
        store: &sluice_core::storage::Store,
        pattern: &FilePattern,
    ) -> Result<()> {
        let listed: std::collections::HashMap<String, FileEntry> = store
            .list(pattern)
            .await?
            .files
            .into_iter()
            .map(|f| (f.path.clone(), f))
            .collect();
        let mut adopted = Vec::new();
        for load in loads {
            for (i, path) in load.file_paths.iter().enumerate() {
                let version = match (&load.file_version, listed.get(path)) {
                    (v, _) if !v.is_empty() && i == 0 => v.clone(),
                    (_, Some(f)) => f.version_key(),
                    _ => continue,
                };
                adopted.push(crate::catalog::Adopted {
                    file_path: path.clone(),
                    file_version: version,
                    rows: if i == 0 { load.rows } else { 0 },
                    load_id: load.load_id.clone(),
                    listed: listed.get(path).cloned(),
                });
            }
        }
        self.catalog.adopt_files(job.id, &adopted).await
    }

    /// The job as `update` would leave it, checked, with what changes; nothing is saved.
    /// Webhook URLs sent back redacted keep their stored values.
    pub(crate) async fn preview_update(
        &self,
        name: &str,
        mut update: JobUpdate,
    ) -> Result<(Job, Vec<FieldChange>)> {
        let mut job = self.catalog.job(name).await?;
        if let Some(alerts) = update.alerts.take() {
            let previous = self.keys.open_alerts(&job).unwrap_or_default();
            let alerts = alerts.keep_secrets_from(&previous);
            alerts
                .validate()
                .map_err(|e| Error::invalid(&e.field, e.to_string()))?;
            if alerts != previous {
                update.alerts = Some(self.keys.seal_alerts(name, &alerts));
            }
        }
        if let Some(options) = &update.file_format_options {
            options.validate()?;
        }
        let changes = update.apply(&mut job);
        let pattern = FilePattern::new(&job.file_path_prefix, &job.file_pattern)?;
        job.file_path_prefix = pattern.prefix().to_string();
        job.file_pattern = pattern.glob().to_string();
        if job.max_file_size == 0 {
            return Err(Error::invalid(
                "max_file_size",
                "the maximum file size must be more than 0 bytes",
            ));
        }
        check_policies(&job.settings)?;
        check_rules(&job.settings, &job.schema)?;
        Ok((job, changes))
    }

    /// Changes a job (see [`crate::model::JobUpdate`]) and records the change in its history.
    pub(crate) async fn update(&self, name: &str, update: JobUpdate) -> Result<Job> {
        let (job, changes) = self.preview_update(name, update).await?;
        // A job that starts rescuing needs the column its rescued values go to.
        if changes.iter().any(|c| c.field == "schema_policy")
            && job.settings.schema_policy == crate::model::SchemaPolicy::Rescue
            && !job.schema.iter().any(|c| c.name == evolve::RESCUED)
        {
            let change = sluice_core::schema::TableChange {
                add: vec![evolve::rescued_column()],
                ..Default::default()
            };
            self.sink(&job)?
                .alter_table(&job.table_name, &change)
                .await
                .map_err(|e| {
                    Error::Sink(e.about(format!(
                        "adding column _rescued to table {}",
                        job.table_name
                    )))
                })?;
        }
        if !changes.is_empty() {
            self.catalog.update_job(&job, &changes).await?;
        }
        self.get(name).await
    }

    /// Jobs with their destination's credentials redacted.
    pub(crate) async fn list(&self) -> Result<Vec<Job>> {
        Ok(self
            .catalog
            .list_jobs()
            .await?
            .into_iter()
            .map(|j| self.shown(j))
            .collect())
    }

    /// A job with its destination's credentials redacted.
    pub(crate) async fn get(&self, name: &str) -> Result<Job> {
        Ok(self.shown(self.catalog.job(name).await?))
    }

    /// A stored job made safe to show: its destination and webhook URLs opened, then
    /// redacted.
    fn shown(&self, mut job: Job) -> Job {
        let opened = self.keys.open_destination(&job);
        let alerts = self.keys.open_alerts(&job);
        job.destination = opened.unwrap_or(job.destination).redacted();
        job.settings.alerts = alerts.unwrap_or(job.settings.alerts).redacted();
        job
    }

    /// Deletes a job with its runs and ledger; the table stays unless `drop_table`.
    pub(crate) async fn delete(&self, name: &str, drop_table: bool) -> Result<()> {
        let job = self.catalog.job(name).await?;
        if drop_table {
            self.sink(&job)?.drop_table(&job.table_name).await?;
        }
        self.catalog.delete_job(name).await
    }

    pub(crate) fn sinks(&self) -> &SinkPool {
        &self.sinks
    }

    /// The sink a stored job loads into: its destination's credentials opened. A DuckDB
    /// file that each machine sharing the catalog would resolve differently is refused.
    pub(crate) fn sink(&self, job: &Job) -> Result<Arc<dyn BuiltSink>> {
        let destination = self.keys.open_destination(job)?;
        self.check_shared(&destination)?;
        self.sinks.get(&destination)
    }
}

/// A reviewed schema keeps the file's column names in order; only types and modes change.
fn check_reviewed(reviewed: &[Column], detected: &DetectedSchema) -> Result<Vec<Column>> {
    let file: Vec<&str> = detected.columns.iter().map(|c| c.name.as_str()).collect();
    let given: Vec<&str> = reviewed.iter().map(|c| c.name.as_str()).collect();
    if file != given {
        return Err(Error::invalid(
            "schema",
            format!(
                "the reviewed schema's columns ({}) are not the file's ({}); keep every column, in the file's order, and change only types",
                given.join(", "),
                file.join(", ")
            ),
        ));
    }
    for (r, d) in reviewed.iter().zip(&detected.columns) {
        let file_array = d.bigquery_mode == Mode::Repeated;
        if r.is_repeated() && !file_array {
            return Err(Error::invalid(
                "schema",
                format!(
                    "column {}: REPEATED is for columns the file holds as arrays, and the file holds one {} value a row; make it NULLABLE or REQUIRED",
                    r.name, d.bigquery_type
                ),
            ));
        }
        if file_array && !r.is_repeated() && r.ty != WarehouseType::Json {
            return Err(Error::invalid(
                "schema",
                format!(
                    "column {}: the file holds an array of {} a row; keep it REPEATED, or make it JSON to load each array as its JSON text",
                    r.name, d.bigquery_type
                ),
            ));
        }
    }
    Ok(reviewed.to_vec())
}

/// The load id of a file version for a job: stable across retries, unique per job. A file
/// a person forgot is loaded again under a new one (`generation`, the times it was
/// forgotten), since its first load's marker stays in the destination.
pub fn load_id(job: &Job, file: &FileEntry, generation: u32) -> String {
    use md5::{Digest, Md5};
    let mut key = format!("{}\n{}\n{}", job.uid, file.path, file.version_key());
    if generation > 0 {
        key.push_str(&format!("\n{generation}"));
    }
    let digest = Md5::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The load id of files loaded together in one transaction (a replace-mode run of several
/// files): one marker for them all.
pub fn group_load_id(job: &Job, ids: &[String]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(format!("{}\n{}", job.uid, ids.join("\n")).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Policies that do not go together, and markers that are not file names.
fn check_policies(settings: &JobSettings) -> Result<()> {
    if settings.changed_files == ChangedFiles::Reload && !settings.lineage {
        return Err(Error::invalid(
            "changed_files",
            "reloading a changed file replaces its rows, which are found by the lineage columns; without lineage choose ignore, append or fail",
        ));
    }
    if let Some(marker) = &settings.ready_marker
        && (marker.is_empty()
            || marker.contains('/')
            || marker.contains('\\')
            || marker == "."
            || marker == "..")
    {
        return Err(Error::invalid(
            "ready_marker",
            format!("'{marker}' is not a file name; give the marker's name, such as _SUCCESS"),
        ));
    }
    Ok(())
}

/// Row rules must read against the job's columns: a wrong column or SQL is said now.
pub(crate) fn check_rules(settings: &JobSettings, schema: &[Column]) -> Result<()> {
    if let Some(dedup) = &settings.dedup {
        sluice_sinks::dedup::check_key(dedup, schema)?;
    }
    crate::mapping::check_transformed(schema, &settings.row_rules)?;
    if settings.row_rules.is_empty() {
        return Ok(());
    }
    sluice_rules::Evaluator::new(&settings.row_rules, schema)
        .map(|_| ())
        .map_err(|e| Error::invalid("rules", e))
}
