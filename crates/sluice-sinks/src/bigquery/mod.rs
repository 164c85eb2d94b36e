//! BigQuery, over its REST API: datasets and tables from the job's columns, and one load
//! job per file.
//!
//! A file's batches are written as Parquet (or, for a table with a JSON column, as
//! newline-delimited JSON) into a resumable upload, one fixed-size chunk at a time, so
//! memory does not grow with the file. BigQuery creates the load job only when the last
//! chunk arrives: a file whose stream fails part way never starts a job. The job id is derived from the load id (`sluice_<load_id>`), so after a
//! crash [`Sink::was_loaded`] finds the first attempt's job instead of loading twice; a
//! job that failed is followed by `sluice_<load_id>_2`, `_3`, … (BigQuery never reuses an id).
//!
//! One file per concern: `config` (the destination's settings and URL), `auth` (tokens),
//! `client` (HTTP and uploads), `job` (load jobs: ids, states, receipts), `table` (datasets
//! and tables), `upload` (a load job's rows, sent in chunks), `parquet` and `rows` (the
//! rows as Parquet and as NDJSON), `push_down` (files BigQuery reads itself from `gs://`),
//! `query` (reading tables back), `types` (the type maps).

mod auth;
mod client;
mod config;
mod job;
mod parquet;
mod push_down;
mod query;
mod rows;
mod staged;
mod table;
mod types;
mod upload;

use async_trait::async_trait;
use serde_json::json;
use sluice_core::names::TableName;
use sluice_core::schema::{Column, lineage};

pub use self::auth::{Auth, ServiceAccountKey, TokenProvider, sign_jwt};
use self::client::{ApiError, Client};
pub use self::config::{BigQueryConfig, CHUNK_SIZE, DEFAULT_ENDPOINT, ENDPOINT_ENV};
pub use self::job::job_id;
use self::job::{JobState, MAX_ATTEMPTS, state_of};
pub use self::rows::write_ndjson;
pub use self::types::{PARQUET_MAP, TYPE_MAP, bigquery_type};
use crate::{
    DirectSource, Error, FileLoad, Inspect, Load, LoadMode, LoadReceipt, Pin, Result, Sink,
    TableLoad,
};

/// What an upload loads into: the table, in a mode, or a new, empty staging table (appended
/// to; an upload of no rows starts no job there).
#[derive(Debug, Clone, Copy)]
enum UploadTo {
    Table(LoadMode),
    Stage,
}

/// A BigQuery project and dataset.
#[derive(Debug)]
pub struct BigQuerySink {
    config: BigQueryConfig,
    client: Client,
    chunk_size: usize,
}

impl BigQuerySink {
    /// # Errors
    /// When the credentials cannot be read.
    pub fn new(config: BigQueryConfig) -> Result<Self> {
        let describe = format!("bigquery:{}.{}", config.project, config.dataset);
        let client =
            Client::new(&config.endpoint, &config.auth).map_err(|message| Error::Destination {
                destination: describe,
                message,
            })?;
        let chunk_size = (config.chunk_size / (256 * 1024)).max(1) * 256 * 1024;
        Ok(Self {
            config,
            client,
            chunk_size,
        })
    }

    pub fn config(&self) -> &BigQueryConfig {
        &self.config
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Destination {
            destination: self.describe(),
            message: message.to_string(),
        }
    }

    fn api_error(&self, what: &str, e: ApiError) -> Error {
        self.error(format!("{what}: {e}"))
    }

    fn dataset_of<'a>(&'a self, table: &'a TableName) -> &'a str {
        table.schema().unwrap_or(&self.config.dataset)
    }

    fn project_path(&self) -> String {
        format!("/bigquery/v2/projects/{}", self.config.project)
    }

    fn table_path(&self, table: &TableName) -> String {
        format!(
            "{}/datasets/{}/tables/{}",
            self.project_path(),
            self.dataset_of(table),
            table.name()
        )
    }

    /// Runs a GoogleSQL script as query job `job_id` and waits for it.
    async fn run_script(&self, job_id: &str, sql: &str) -> Result<()> {
        let body = json!({
            "jobReference": {
                "projectId": self.config.project,
                "jobId": job_id,
                "location": self.config.location,
            },
            "configuration": {
                "labels": {"sluice": "load"},
                "query": {"query": sql, "useLegacySql": false},
            },
        });
        let job = self
            .client
            .post_json(&format!("{}/jobs", self.project_path()), &body)
            .await
            .map_err(|e| self.api_error(&format!("starting query job {job_id}"), e))?;
        let state = match state_of(&job) {
            JobState::Running | JobState::Missing => self.wait_for(job_id).await?,
            done => done,
        };
        match state {
            JobState::Failed { message } => {
                Err(self.error(format!("query job {job_id} failed: {message}")))
            }
            _ => Ok(()),
        }
    }

    /// `project.dataset.table`, quoted for GoogleSQL.
    fn sql_table(&self, table: &TableName) -> String {
        format!(
            "`{}.{}.{}`",
            self.config.project,
            self.dataset_of(table),
            table.name()
        )
    }
}

#[async_trait]
impl Sink for BigQuerySink {
    fn describe(&self) -> String {
        format!("bigquery:{}.{}", self.config.project, self.config.dataset)
    }

    async fn check(&self) -> Result<()> {
        self.client
            .get(&format!("{}/datasets?maxResults=1", self.project_path()))
            .await
            .map(|_| ())
            .map_err(|e| {
                self.api_error(
                    &format!("listing datasets of project {}", self.config.project),
                    e,
                )
            })
    }

    async fn ensure_table(&self, table: &TableName, columns: &[Column]) -> Result<()> {
        self.create_or_check_table(table, columns).await
    }

    async fn alter_table(
        &self,
        table: &TableName,
        change: &sluice_core::schema::TableChange,
    ) -> Result<()> {
        use sluice_core::schema::WarehouseType::{Float64, Int64, Numeric};
        // BigQuery changes a column's type in place only where its rules allow: INT64 to
        // NUMERIC or FLOAT64, NUMERIC to FLOAT64.
        if let Some((name, from, to)) = change.retype.iter().find(|(_, from, to)| {
            !matches!(
                (from.ty, to.ty),
                (Int64, Numeric) | (Int64, Float64) | (Numeric, Float64)
            ) || from.repeated
                || to.repeated
        }) {
            return Err(Error::Invalid {
                field: name.clone(),
                message: format!(
                    "BigQuery cannot change column {name} of {table} from {from} to {to} in place (it widens INT64 to NUMERIC or FLOAT64, and NUMERIC to FLOAT64); load such files into a new table, or keep the column's type"
                ),
            });
        }
        // BigQuery's own rule for a new field: NULLABLE (or REPEATED), never REQUIRED.
        let adds: Vec<String> = change
            .add
            .iter()
            .map(|c| {
                let ty = bigquery_type(c.ty);
                let ty = if c.is_repeated() {
                    format!("ARRAY<{ty}>")
                } else {
                    ty.to_string()
                };
                format!("ADD COLUMN IF NOT EXISTS `{}` {ty}", c.name)
            })
            .collect();
        let t = self.sql_table(table);
        // What the table has already is left out: BigQuery refuses a change made twice.
        let mut existing = self.table_columns(table).await?.unwrap_or_default();
        let mut statements: Vec<String> = change
            .drop
            .iter()
            .map(|name| format!("ALTER TABLE {t} DROP COLUMN IF EXISTS `{name}`"))
            .collect();
        existing.retain(|(n, _, _)| !change.drop.contains(n));
        for (from, to) in &change.rename {
            if let Some(c) = existing.iter_mut().find(|(n, _, _)| n == from) {
                statements.push(format!("ALTER TABLE {t} RENAME COLUMN `{from}` TO `{to}`"));
                c.0.clone_from(to);
            }
        }
        let has = |name: &str, ty: Option<&str>, mode: Option<&str>| {
            existing.iter().any(|(n, t, m)| {
                n == name && ty.is_none_or(|ty| t == ty) && mode.is_none_or(|mode| m == mode)
            })
        };
        if !adds.is_empty() {
            statements.push(format!("ALTER TABLE {t} {}", adds.join(", ")));
        }
        // One column's change per statement: BigQuery takes several ADD COLUMNs in one, but
        // an ALTER COLUMN alone.
        statements.extend(
            change
                .retype
                .iter()
                .filter(|(name, _, to)| {
                    !has(name, Some(types::canonical(bigquery_type(to.ty))), None)
                })
                .map(|(name, _, to)| {
                    format!(
                        "ALTER TABLE {t} ALTER COLUMN `{name}` SET DATA TYPE {}",
                        bigquery_type(to.ty)
                    )
                }),
        );
        statements.extend(
            change
                .relax
                .iter()
                .filter(|name| has(name, None, Some("REQUIRED")))
                .map(|name| format!("ALTER TABLE {t} ALTER COLUMN `{name}` DROP NOT NULL")),
        );
        for statement in statements {
            self.query(&statement).await?;
        }
        Ok(())
    }

    async fn load_parts(
        &self,
        table: &TableName,
        columns: &[Column],
        load: Load,
    ) -> Result<LoadReceipt> {
        if load.parts.iter().any(|p| p.replace_rows) || load.quarantines() || load.dedup.is_some() {
            return self.load_staged(table, columns, load).await;
        }
        let (what, marker) = marker_of(&load);
        let job_id = self.next_attempt(table, &marker).await?;
        let (state, parts) = self
            .upload(
                &job_id,
                table,
                columns,
                UploadTo::Table(load.mode),
                load.parts,
                &what,
            )
            .await?;
        let mut receipt = self.receipt(table, &marker, &job_id, state, parts.iter().sum())?;
        receipt.parts = parts;
        Ok(receipt)
    }

    async fn table_loads(&self, table: &TableName) -> Result<Option<Vec<TableLoad>>> {
        let Some(columns) = self.table_columns(table).await? else {
            return Ok(None);
        };
        // Load jobs are BigQuery's markers, and they are not listed by table: the lineage
        // column says which files a table holds, else only whether it holds rows.
        if columns.iter().any(|(name, _, _)| name == lineage::FILE) {
            let rows = self
                .query(&format!(
                    "SELECT {f}, COUNT(*) FROM {} GROUP BY {f}",
                    self.sql_table(table),
                    f = lineage::FILE
                ))
                .await?;
            return Ok(Some(
                rows.iter()
                    .map(|r| TableLoad {
                        load_id: String::new(),
                        file_paths: vec![
                            r.first().and_then(|v| v.as_str()).unwrap_or("").to_string(),
                        ],
                        file_version: String::new(),
                        rows: r
                            .get(1)
                            .and_then(|v| v.as_str())
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0),
                    })
                    .collect(),
            ));
        }
        let rows = self.count_rows(table).await?;
        Ok(Some(if rows == 0 {
            Vec::new()
        } else {
            vec![TableLoad {
                load_id: String::new(),
                file_paths: Vec::new(),
                file_version: String::new(),
                rows,
            }]
        }))
    }

    async fn delete_file_rows(&self, table: &TableName, file_path: &str) -> Result<u64> {
        let sql = format!(
            "DELETE FROM {} WHERE {} = {}",
            self.sql_table(table),
            lineage::FILE,
            string_literal(file_path)
        );
        self.run_script(
            &format!("{}delete_{}", self.config.job_id_prefix, uuid_like()),
            &sql,
        )
        .await
        .map(|_| 0)
        .map_err(|e| e.about(file_path))
    }

    fn loads_directly(&self, source: &DirectSource) -> bool {
        self.config.push_down && push_down::source_fields(source).is_some()
    }

    async fn load_direct(
        &self,
        table: &TableName,
        columns: &[Column],
        file: &FileLoad,
        mode: LoadMode,
        source: &DirectSource,
        pin: Pin<'_>,
    ) -> Result<LoadReceipt> {
        self.push_down(table, columns, file, mode, source, pin)
            .await
    }

    async fn was_loaded(&self, load_id: &str) -> Result<Option<LoadReceipt>> {
        for attempt in 1..=MAX_ATTEMPTS {
            match self.job_state(&self.job_id(load_id, attempt)).await? {
                JobState::Missing => return Ok(None),
                JobState::Failed { .. } => continue,
                JobState::Done { rows } => return Ok(Some(LoadReceipt::new(load_id, rows))),
                // Not committed yet; it may still be. The caller asks again later.
                JobState::Running => {
                    return Err(self.error(format!(
                        "load job {} is still running; ask again when it is done",
                        self.job_id(load_id, attempt)
                    )));
                }
            }
        }
        Ok(None)
    }

    async fn drop_table(&self, table: &TableName) -> Result<()> {
        match self.client.delete(&self.table_path(table)).await {
            Ok(()) => Ok(()),
            Err(e) if e.status == Some(404) => Ok(()),
            Err(e) => Err(self.api_error(&format!("dropping table {table}"), e)),
        }
    }
}

/// What a load's messages name it by, and the file its attempts' job ids derive from.
fn marker_of(load: &Load) -> (String, FileLoad) {
    let what = load.describe();
    let marker = FileLoad {
        load_id: load.load_id.clone(),
        file_path: what.clone(),
        file_version: load.marker_version(),
    };
    (what, marker)
}

/// A GoogleSQL string literal.
fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A job id part unique enough for one-off jobs: the time in nanoseconds.
fn uuid_like() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
        .to_string()
}
