//! BigQuery, over its REST API: datasets and tables from the job's columns, and one load
//! job per file.
//!
//! A file's batches are written as newline-delimited JSON into a resumable upload, one
//! fixed-size chunk at a time, so memory does not grow with the file. BigQuery creates the
//! load job only when the last chunk arrives: a file whose stream fails part way never
//! starts a job. The job id is derived from the load id (`sluice_<load_id>`), so after a
//! crash [`Sink::was_loaded`] finds the first attempt's job instead of loading twice; a
//! job that failed is followed by `sluice_<load_id>_2`, `_3`, … (BigQuery never reuses an id).

mod auth;
mod client;
mod rows;
mod types;

use std::time::Duration;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use base64::Engine as _;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_core::format::BatchStream;
use sluice_core::names::TableName;
use sluice_core::schema::{
    Column, Mode, NUMERIC_PRECISION, NUMERIC_SCALE, UTC, WarehouseType, arrow_schema,
};

pub use self::auth::{Auth, ServiceAccountKey, TokenProvider, sign_jwt};
use self::client::{ApiError, Client};
pub use self::rows::write_ndjson;
pub use self::types::{TYPE_MAP, bigquery_type};
use crate::{Error, FileLoad, LoadMode, LoadReceipt, Result, Sink};

/// BigQuery's API, unless the config says otherwise.
pub const DEFAULT_ENDPOINT: &str = "https://bigquery.googleapis.com";
/// The size of each upload request but the last; a multiple of 256 KiB, as the resumable
/// protocol requires.
pub const CHUNK_SIZE: usize = 8 * 1024 * 1024;
/// How many failed attempts of one load are looked at before giving up.
const MAX_ATTEMPTS: u32 = 20;

/// Where and how to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BigQueryConfig {
    /// The project that owns the dataset and runs the load jobs.
    pub project: String,
    /// The dataset of unqualified table names (`schema.table` names their own dataset).
    pub dataset: String,
    /// Where datasets are created and jobs run (`US`, `EU`, `europe-west1` …).
    #[serde(default = "default_location")]
    pub location: String,
    /// The API's base URL.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    pub auth: Auth,
    /// The size of each upload request but the last (rounded down to 256 KiB).
    #[serde(default = "default_chunk")]
    pub chunk_size: usize,
    /// The start of every load job id. Job ids are unique per project: two installations
    /// of sluice that load into one project need different prefixes.
    #[serde(default = "default_prefix")]
    pub job_id_prefix: String,
}

fn default_location() -> String {
    "US".into()
}
fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.into()
}
fn default_chunk() -> usize {
    CHUNK_SIZE
}
fn default_prefix() -> String {
    "sluice_".into()
}

impl BigQueryConfig {
    pub fn new(project: impl Into<String>, dataset: impl Into<String>, auth: Auth) -> Self {
        Self {
            project: project.into(),
            dataset: dataset.into(),
            location: default_location(),
            endpoint: default_endpoint(),
            auth,
            chunk_size: CHUNK_SIZE,
            job_id_prefix: default_prefix(),
        }
    }
}

/// A BigQuery project and dataset.
#[derive(Debug)]
pub struct BigQuerySink {
    config: BigQueryConfig,
    client: Client,
    chunk_size: usize,
}

/// The job id of a load's `attempt` (1-based): `<prefix><load_id>`, then `…_2`, `…_3`.
///
/// Characters BigQuery does not allow in a job id become `_`, and then a hash of the
/// original id is appended so that two different load ids never share a job.
pub fn job_id(prefix: &str, load_id: &str, attempt: u32) -> String {
    let clean: String = load_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut id = format!("{prefix}{clean}");
    if clean != load_id {
        use md5::Digest as _;
        let digest = md5::Md5::digest(load_id.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        id.push('_');
        id.push_str(&hex);
    }
    if attempt > 1 {
        id.push_str(&format!("_{attempt}"));
    }
    id
}

/// A load job as `jobs.get` tells it.
#[derive(Debug)]
enum JobState {
    Missing,
    Running,
    Done { rows: u64 },
    Failed { message: String },
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

    fn job_id(&self, load_id: &str, attempt: u32) -> String {
        job_id(&self.config.job_id_prefix, load_id, attempt)
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

    /// `project.dataset.table`, quoted for GoogleSQL.
    fn sql_table(&self, table: &TableName) -> String {
        format!(
            "`{}.{}.{}`",
            self.config.project,
            self.dataset_of(table),
            table.name()
        )
    }

    async fn ensure_dataset(&self, dataset: &str) -> Result<()> {
        let path = format!("{}/datasets/{dataset}", self.project_path());
        match self.client.get(&path).await {
            Ok(_) => return Ok(()),
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Err(self.api_error(&format!("reading dataset {dataset}"), e)),
        }
        let body = json!({
            "datasetReference": {"projectId": self.config.project, "datasetId": dataset},
            "location": self.config.location,
        });
        match self
            .client
            .post_json(&format!("{}/datasets", self.project_path()), &body)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(409) => Ok(()), // created meanwhile
            Err(e) => Err(self.api_error(
                &format!(
                    "creating dataset {dataset} in {} (the service account needs bigquery.datasets.create, or create the dataset yourself)",
                    self.config.location
                ),
                e,
            )),
        }
    }

    async fn job_state(&self, job_id: &str) -> Result<JobState> {
        let path = format!(
            "{}/jobs/{job_id}?location={}",
            self.project_path(),
            self.config.location
        );
        let job = match self.client.get(&path).await {
            Ok(job) => job,
            Err(e) if e.status == Some(404) => return Ok(JobState::Missing),
            Err(e) => return Err(self.api_error(&format!("reading load job {job_id}"), e)),
        };
        Ok(state_of(&job))
    }

    /// Polls a job until BigQuery says DONE.
    async fn wait_for(&self, job_id: &str) -> Result<JobState> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.job_state(job_id).await? {
                JobState::Running | JobState::Missing => {}
                done => return Ok(done),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The first attempt of this load that has not been tried, or what stops it.
    async fn next_attempt(&self, table: &TableName, file: &FileLoad) -> Result<String> {
        for attempt in 1..=MAX_ATTEMPTS {
            let id = self.job_id(&file.load_id, attempt);
            match self.job_state(&id).await? {
                JobState::Missing => return Ok(id),
                JobState::Failed { .. } => continue,
                JobState::Done { rows } => {
                    return Err(self.error(format!(
                        "{}: already loaded into {table} by job {id} ({rows} rows); a load id commits once",
                        file.file_path
                    )));
                }
                JobState::Running => {
                    return Err(self.error(format!(
                        "{}: load job {id} of an earlier attempt is still running; try again when it is done",
                        file.file_path
                    )));
                }
            }
        }
        Err(self.error(format!(
            "{}: {MAX_ATTEMPTS} load jobs of this file failed; see the job history of {} for why",
            file.file_path,
            self.job_id(&file.load_id, 1)
        )))
    }

    /// Rows of a query, each value as BigQuery's JSON gives it (strings or null).
    ///
    /// # Errors
    /// The query's error.
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<Value>>> {
        let body = json!({
            "query": sql,
            "useLegacySql": false,
            "location": self.config.location,
            "timeoutMs": 60_000,
            "formatOptions": {"useInt64Timestamp": true},
        });
        let path = format!("{}/queries", self.project_path());
        let mut response = self
            .client
            .post_json(&path, &body)
            .await
            .map_err(|e| self.api_error(&format!("query `{sql}`"), e))?;
        let job_id = response
            .pointer("/jobReference/jobId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut rows: Vec<Vec<Value>> = Vec::new();
        loop {
            if response.get("jobComplete") == Some(&Value::Bool(false)) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            } else {
                for row in response
                    .get("rows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let cells = row.get("f").and_then(Value::as_array);
                    rows.push(
                        cells
                            .into_iter()
                            .flatten()
                            .map(|c| c.get("v").cloned().unwrap_or(Value::Null))
                            .collect(),
                    );
                }
                if response.get("pageToken").and_then(Value::as_str).is_none() {
                    return Ok(rows);
                }
            }
            let Some(job_id) = &job_id else {
                return Ok(rows);
            };
            let mut next = format!(
                "{}/queries/{job_id}?location={}&formatOptions.useInt64Timestamp=true",
                self.project_path(),
                self.config.location
            );
            if let Some(token) = response.get("pageToken").and_then(Value::as_str) {
                next.push_str(&format!("&pageToken={}", urlencode(token)));
            }
            response = self
                .client
                .get(&next)
                .await
                .map_err(|e| self.api_error(&format!("query `{sql}`"), e))?;
        }
    }

    /// The table's columns as `(name, type, mode)`, `None` if it does not exist.
    async fn table_columns(
        &self,
        table: &TableName,
    ) -> Result<Option<Vec<(String, String, String)>>> {
        let t = match self.client.get(&self.table_path(table)).await {
            Ok(t) => t,
            Err(e) if e.status == Some(404) => return Ok(None),
            Err(e) => return Err(self.api_error(&format!("reading table {table}"), e)),
        };
        let fields = t
            .pointer("/schema/fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(Some(
            fields
                .iter()
                .map(|f| {
                    let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let mode = if s("mode").is_empty() {
                        "NULLABLE".into()
                    } else {
                        s("mode")
                    };
                    (s("name"), types::canonical(&s("type")).to_string(), mode)
                })
                .collect(),
        ))
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn state_of(job: &Value) -> JobState {
    let state = job.pointer("/status/state").and_then(Value::as_str);
    if state != Some("DONE") {
        return JobState::Running;
    }
    if let Some(err) = job.pointer("/status/errorResult") {
        return JobState::Failed {
            message: describe_job_errors(err, job.pointer("/status/errors")),
        };
    }
    let rows = job
        .pointer("/statistics/load/outputRows")
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
        })
        .unwrap_or(0);
    JobState::Done { rows }
}

/// `errorResult` and the first few `errors`, as one message.
fn describe_job_errors(result: &Value, errors: Option<&Value>) -> String {
    let one = |e: &Value| {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        let mut m = s("message").to_string();
        if !s("reason").is_empty() {
            m.push_str(&format!(" ({})", s("reason")));
        }
        if !s("location").is_empty() {
            m.push_str(&format!(" at {}", s("location")));
        }
        m
    };
    let mut message = one(result);
    let first = one(result);
    let details: Vec<String> = errors
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(one)
        .filter(|m| *m != first)
        .take(5)
        .collect();
    if !details.is_empty() {
        message.push_str("; ");
        message.push_str(&details.join("; "));
    }
    message
}

fn describe_columns(cols: &[(String, String, String)]) -> String {
    cols.iter()
        .map(|(n, t, m)| {
            if m == "REQUIRED" {
                format!("{n} {t} REQUIRED")
            } else {
                format!("{n} {t}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn expected_columns(columns: &[Column]) -> Vec<(String, String, String)> {
    columns
        .iter()
        .map(|c| {
            let mode = match c.mode {
                Mode::Required => "REQUIRED",
                Mode::Nullable => "NULLABLE",
            };
            (
                c.name.clone(),
                bigquery_type(c.ty).to_string(),
                mode.to_string(),
            )
        })
        .collect()
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
        let expected = expected_columns(columns);
        if let Some(existing) = self.table_columns(table).await? {
            if existing != expected {
                return Err(Error::TableMismatch {
                    table: table.to_string(),
                    found: describe_columns(&existing),
                    expected: describe_columns(&expected),
                });
            }
            return Ok(());
        }
        let dataset = self.dataset_of(table).to_string();
        self.ensure_dataset(&dataset).await?;
        let fields: Vec<Value> = expected
            .iter()
            .map(|(n, t, m)| json!({"name": n, "type": t, "mode": m}))
            .collect();
        let body = json!({
            "tableReference": {
                "projectId": self.config.project,
                "datasetId": dataset,
                "tableId": table.name(),
            },
            "schema": {"fields": fields},
        });
        let path = format!("{}/datasets/{dataset}/tables", self.project_path());
        match self.client.post_json(&path, &body).await {
            Ok(_) => Ok(()),
            // Created by another worker meanwhile: check it is ours.
            Err(e) if e.status == Some(409) => match self.table_columns(table).await? {
                Some(existing) if existing == expected => Ok(()),
                Some(existing) => Err(Error::TableMismatch {
                    table: table.to_string(),
                    found: describe_columns(&existing),
                    expected: describe_columns(&expected),
                }),
                None => Err(self.api_error(&format!("creating table {table}"), e)),
            },
            Err(e) => Err(self.api_error(
                &format!(
                    "creating table {table} (the service account needs bigquery.tables.create on dataset {dataset})"
                ),
                e,
            )),
        }
    }

    async fn load(
        &self,
        table: &TableName,
        columns: &[Column],
        file: &FileLoad,
        mode: LoadMode,
        mut batches: BatchStream,
    ) -> Result<LoadReceipt> {
        let job_id = self.next_attempt(table, file).await?;
        let dataset = self.dataset_of(table);
        let config = json!({
            "jobReference": {
                "projectId": self.config.project,
                "jobId": job_id,
                "location": self.config.location,
            },
            "configuration": {
                "labels": {"sluice": "load"},
                "load": {
                    "destinationTable": {
                        "projectId": self.config.project,
                        "datasetId": dataset,
                        "tableId": table.name(),
                    },
                    "sourceFormat": "NEWLINE_DELIMITED_JSON",
                    "createDisposition": "CREATE_NEVER",
                    "writeDisposition": match mode {
                        LoadMode::Append => "WRITE_APPEND",
                        LoadMode::Replace => "WRITE_TRUNCATE",
                    },
                    "maxBadRecords": 0,
                    "ignoreUnknownValues": false,
                },
            },
        });
        let in_file = |what: &str, e: ApiError| {
            self.error(format!(
                "{}: {what} of load job {job_id} into {table}: {e}",
                file.file_path
            ))
        };
        let session = self
            .client
            .start_upload(&self.project_path(), &config)
            .await
            .map_err(|e| in_file("starting the upload", e))?;

        // Rows go into `buffer`; whenever it holds more than one chunk, the chunk is sent.
        // The last chunk (which may be short or empty) is sent once the stream has ended.
        let mut buffer: Vec<u8> = Vec::with_capacity(self.chunk_size + 1024 * 1024);
        let mut sent: u64 = 0;
        let mut rows: u64 = 0;
        while let Some(item) = batches.next().await {
            let batch = match item {
                Ok(b) => b,
                Err(e) => {
                    // No job exists until the last chunk: dropping the session loads nothing.
                    self.client.cancel_upload(&session).await;
                    return Err(Error::Source(e));
                }
            };
            if let Err(e) = write_ndjson(&batch, columns, rows, &mut buffer) {
                self.client.cancel_upload(&session).await;
                return Err(self.error(format!("{}: {e}", file.file_path)));
            }
            rows += batch.num_rows() as u64;
            while buffer.len() > self.chunk_size {
                self.client
                    .put_chunk(&session, sent, &buffer[..self.chunk_size], None)
                    .await
                    .map_err(|e| in_file("uploading", e))?;
                sent += self.chunk_size as u64;
                buffer.drain(..self.chunk_size);
            }
            sluice_core::fault::hit("mid-load");
        }
        let total = sent + buffer.len() as u64;
        let job = self
            .client
            .put_chunk(&session, sent, &buffer, Some(total))
            .await
            .map_err(|e| {
                if e.status == Some(409) {
                    self.error(format!(
                        "{}: load job {job_id} into {table} was started by another attempt at the same time; ask was_loaded before retrying",
                        file.file_path
                    ))
                } else {
                    in_file("finishing the upload", e)
                }
            })?;
        drop(buffer);
        let state = match job.map(|j| state_of(&j)) {
            Some(JobState::Done { rows }) => JobState::Done { rows },
            Some(JobState::Failed { message }) => JobState::Failed { message },
            _ => self.wait_for(&job_id).await?,
        };
        match state {
            JobState::Done { rows: out } => Ok(LoadReceipt {
                load_id: file.load_id.clone(),
                rows: if out == 0 { rows } else { out },
            }),
            JobState::Failed { message } => Err(self.error(format!(
                "{}: load job {job_id} into {table} failed: {message}",
                file.file_path
            ))),
            JobState::Running | JobState::Missing => unreachable!("wait_for returns DONE states"),
        }
    }

    async fn was_loaded(&self, load_id: &str) -> Result<Option<LoadReceipt>> {
        for attempt in 1..=MAX_ATTEMPTS {
            match self.job_state(&self.job_id(load_id, attempt)).await? {
                JobState::Missing => return Ok(None),
                JobState::Failed { .. } => continue,
                JobState::Done { rows } => {
                    return Ok(Some(LoadReceipt {
                        load_id: load_id.to_string(),
                        rows,
                    }));
                }
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

    async fn count_rows(&self, table: &TableName) -> Result<u64> {
        let rows = self
            .query(&format!("SELECT COUNT(*) FROM {}", self.sql_table(table)))
            .await?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.error(format!("counting rows of {table}: no count in the answer")))
    }

    async fn preview(&self, table: &TableName, limit: usize) -> Result<Vec<RecordBatch>> {
        let Some(cols) = self.table_columns(table).await? else {
            return Err(self.error(format!("table {table} does not exist")));
        };
        let columns: Vec<Column> = cols
            .iter()
            .map(|(n, t, _)| {
                let ty = WarehouseType::ALL
                    .into_iter()
                    .find(|w| bigquery_type(*w) == t)
                    .unwrap_or(WarehouseType::String);
                Column::new(n.clone(), ty)
            })
            .collect();
        let select: Vec<String> = columns
            .iter()
            .map(|c| match c.ty {
                // Exact text for the types whose JSON form would lose digits.
                WarehouseType::Numeric => format!("CAST(`{0}` AS STRING) AS `{0}`", c.name),
                WarehouseType::Json => {
                    format!(
                        "IF(`{0}` IS NULL, NULL, TO_JSON_STRING(`{0}`)) AS `{0}`",
                        c.name
                    )
                }
                _ => format!("`{}`", c.name),
            })
            .collect();
        let rows = self
            .query(&format!(
                "SELECT {} FROM {} LIMIT {limit}",
                select.join(", "),
                self.sql_table(table)
            ))
            .await?;
        let batch = to_batch(&columns, &rows)
            .map_err(|e| self.error(format!("reading rows of {table}: {e}")))?;
        Ok(vec![batch])
    }
}

/// Query rows (BigQuery's JSON: every value a string or null) → one batch.
fn to_batch(columns: &[Column], rows: &[Vec<Value>]) -> Result<RecordBatch, String> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let values = rows.iter().map(|r| r.get(i).and_then(Value::as_str));
        let bad = |v: &str| format!("column {}: unexpected {} value {v:?}", c.name, c.ty);
        let array: ArrayRef = match c.ty {
            WarehouseType::Int64 => {
                let mut b = Int64Builder::new();
                for v in values {
                    b.append_option(v.map(|v| v.parse().map_err(|_| bad(v))).transpose()?);
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Float64 => {
                let mut b = Float64Builder::new();
                for v in values {
                    b.append_option(v.map(|v| v.parse().map_err(|_| bad(v))).transpose()?);
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Numeric => {
                let mut b = Decimal128Builder::new();
                for v in values {
                    b.append_option(
                        v.map(|v| parse_decimal(v).ok_or_else(|| bad(v)))
                            .transpose()?,
                    );
                }
                std::sync::Arc::new(
                    b.finish()
                        .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                        .map_err(|e| e.to_string())?,
                )
            }
            WarehouseType::Bool => {
                let mut b = BooleanBuilder::new();
                for v in values {
                    b.append_option(v.map(|v| v.eq_ignore_ascii_case("true")));
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Date => {
                let mut b = Date32Builder::new();
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
                for v in values {
                    b.append_option(
                        v.map(|v| {
                            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                                .map(|d| (d - epoch).num_days() as i32)
                                .map_err(|_| bad(v))
                        })
                        .transpose()?,
                    );
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Timestamp => {
                let mut b = TimestampMicrosecondBuilder::new().with_timezone(UTC);
                for v in values {
                    b.append_option(
                        v.map(|v| parse_timestamp(v).ok_or_else(|| bad(v)))
                            .transpose()?,
                    );
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::String | WarehouseType::Json => {
                let mut b = StringBuilder::new();
                for v in values {
                    b.append_option(v);
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Bytes => {
                let mut b = BinaryBuilder::new();
                for v in values {
                    b.append_option(
                        v.map(|v| {
                            base64::engine::general_purpose::STANDARD
                                .decode(v)
                                .map_err(|_| bad(v))
                        })
                        .transpose()?,
                    );
                }
                std::sync::Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    RecordBatch::try_new(arrow_schema(columns), arrays).map_err(|e| e.to_string())
}

/// `-123.45` → the NUMERIC(38, 9) integer `-123450000000`.
fn parse_decimal(v: &str) -> Option<i128> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = NUMERIC_SCALE as usize;
    if frac.len() > scale || int.is_empty() && frac.is_empty() {
        return None;
    }
    let text = format!("{int}{frac:0<scale$}");
    let n: i128 = text.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// Microseconds since the epoch (what `useInt64Timestamp` gives), or float seconds
/// (`1.7320032E9`, BigQuery's default), or an RFC 3339 / `YYYY-MM-DD HH:MM:SS[.f] UTC` text.
fn parse_timestamp(v: &str) -> Option<i64> {
    if let Ok(micros) = v.parse::<i64>() {
        return Some(micros);
    }
    if let Ok(secs) = v.parse::<f64>() {
        return Some((secs * 1e6).round() as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp_micros());
    }
    let trimmed = v.trim_end_matches(" UTC").trim_end_matches('Z');
    chrono::NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_derived_from_the_load_id() {
        assert_eq!(job_id("sluice_", "abc-123_X", 1), "sluice_abc-123_X");
        assert_eq!(job_id("sluice_", "abc-123_X", 3), "sluice_abc-123_X_3");
        let odd = job_id("sluice_", "job/a.csv@v1", 1);
        assert!(odd.starts_with("sluice_job_a_csv_v1_"), "{odd}");
        assert_ne!(odd, job_id("sluice_", "job/a.csv@v2", 1));
        assert_ne!(job_id("sluice_", "a.b", 1), job_id("sluice_", "a_b", 1));
    }

    #[test]
    fn job_states_come_from_status_and_statistics() {
        let done =
            json!({"status": {"state": "DONE"}, "statistics": {"load": {"outputRows": "42"}}});
        assert!(matches!(state_of(&done), JobState::Done { rows: 42 }));
        let running = json!({"status": {"state": "RUNNING"}});
        assert!(matches!(state_of(&running), JobState::Running));
        let failed = json!({"status": {"state": "DONE",
            "errorResult": {"reason": "invalid", "message": "Error while reading data"},
            "errors": [{"reason": "invalid", "message": "Error while reading data"},
                       {"reason": "invalid", "message": "Could not parse 'x' as INT64", "location": "row 4"}]}});
        match state_of(&failed) {
            JobState::Failed { message } => assert_eq!(
                message,
                "Error while reading data (invalid); Could not parse 'x' as INT64 (invalid) at row 4"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn query_values_parse_back_exactly() {
        assert_eq!(
            parse_decimal("12345678901234567890.123456789"),
            Some(12_345_678_901_234_567_890_123_456_789)
        );
        assert_eq!(parse_decimal("-1.5"), Some(-1_500_000_000));
        assert_eq!(parse_decimal("7"), Some(7_000_000_000));
        assert_eq!(parse_decimal("1.0000000001"), None);
        assert_eq!(
            parse_timestamp("1732003200000001"),
            Some(1_732_003_200_000_001)
        );
        assert_eq!(parse_timestamp("1.7320032E9"), Some(1_732_003_200_000_000));
        assert_eq!(
            parse_timestamp("2024-11-19 08:00:00 UTC"),
            Some(1_732_003_200_000_000)
        );
    }
}
