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
use crate::{DirectSource, Error, FileLoad, LoadMode, LoadReceipt, Result, Sink};
use sluice_core::format::FormatOptions;
use sluice_core::format::csv::Encoding;

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
    /// Push-down: a UTF-8 CSV file in Google Cloud Storage is loaded by BigQuery straight
    /// from its `gs://` URI (the service account needs read access to the bucket); sluice
    /// reads only the sample that checks its schema. Other files stream through sluice.
    #[serde(default)]
    pub push_down: bool,
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
            push_down: false,
        }
    }

    /// Reads `bigquery://PROJECT/DATASET?location=EU&credentials=…&push_down=true`.
    ///
    /// `credentials`: `adc` (application default credentials, the default), `none` (no
    /// token: emulators), or the path of a service-account JSON key, read now (the key, not
    /// the path, is kept). Other parameters: `location` (default `US`), `endpoint` (the
    /// API's base URL), `job_id_prefix`, `push_down` (`true`/`false`).
    ///
    /// # Errors
    /// A message naming what is wrong and how to write it.
    pub fn from_url(url: &str) -> std::result::Result<Self, String> {
        const FORM: &str = "write it as bigquery://PROJECT/DATASET?location=US&credentials=adc|none|/path/key.json";
        let parsed =
            url::Url::parse(url).map_err(|e| format!("invalid BigQuery URL: {e}; {FORM}"))?;
        if parsed.scheme() != "bigquery" {
            return Err(format!("a BigQuery URL starts with bigquery://; {FORM}"));
        }
        let project = parsed.host_str().unwrap_or_default().to_string();
        let dataset = parsed.path().trim_matches('/').to_string();
        if project.is_empty() || dataset.is_empty() || dataset.contains('/') {
            return Err(format!("the URL names no project and dataset; {FORM}"));
        }
        if !dataset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "dataset '{dataset}': a dataset name holds only letters, digits and _"
            ));
        }
        let mut config = Self::new(project, dataset, Auth::ApplicationDefault);
        for (k, v) in parsed.query_pairs() {
            match k.as_ref() {
                "location" => config.location = v.into_owned(),
                "endpoint" => config.endpoint = v.trim_end_matches('/').to_string(),
                "job_id_prefix" => config.job_id_prefix = v.into_owned(),
                "push_down" => {
                    config.push_down = match v.as_ref() {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        other => return Err(format!("push_down={other}: write true or false")),
                    }
                }
                "credentials" => {
                    config.auth = match v.as_ref() {
                        "adc" | "application_default" => Auth::ApplicationDefault,
                        "none" => Auth::None,
                        path => {
                            let key_json = std::fs::read_to_string(path).map_err(|e| {
                                format!("cannot read the service-account key {path}: {e}")
                            })?;
                            auth::parse_key(&key_json, path)?;
                            Auth::ServiceAccountKey { key_json }
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown parameter '{other}'; the parameters are location, credentials, endpoint, job_id_prefix, push_down"
                    ));
                }
            }
        }
        Ok(config)
    }

    /// A copy safe to show: an inline key replaced by `••••`.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        if let Auth::ServiceAccountKey { key_json } = &mut copy.auth {
            *key_json = sluice_core::storage::config::REDACTED.into();
        }
        copy
    }

    /// One line for listings: `bigquery://proj/raw (US, service-account key, push-down)`.
    pub fn describe(&self) -> String {
        let auth = match &self.auth {
            Auth::ServiceAccountKey { .. } => "service-account key".to_string(),
            Auth::ServiceAccountFile { path } => format!("key file {}", path.display()),
            Auth::ApplicationDefault => "application default credentials".into(),
            Auth::None => "no credentials".into(),
        };
        let mut text = format!(
            "bigquery://{}/{} ({}, {auth}",
            self.project, self.dataset, self.location
        );
        if self.endpoint != DEFAULT_ENDPOINT {
            text.push_str(&format!(", endpoint {}", self.endpoint));
        }
        if self.push_down {
            text.push_str(", push-down");
        }
        text.push(')');
        text
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

    /// A load job's body: `source` holds the format's fields of `configuration.load`.
    fn load_job(&self, job_id: &str, table: &TableName, mode: LoadMode, source: Value) -> Value {
        let mut load = json!({
            "destinationTable": {
                "projectId": self.config.project,
                "datasetId": self.dataset_of(table),
                "tableId": table.name(),
            },
            "createDisposition": "CREATE_NEVER",
            "writeDisposition": match mode {
                LoadMode::Append => "WRITE_APPEND",
                LoadMode::Replace => "WRITE_TRUNCATE",
            },
            "maxBadRecords": 0,
        });
        if let (Some(load), Value::Object(source)) = (load.as_object_mut(), source) {
            load.extend(source);
        }
        json!({
            "jobReference": {
                "projectId": self.config.project,
                "jobId": job_id,
                "location": self.config.location,
            },
            "configuration": {"labels": {"sluice": "load"}, "load": load},
        })
    }

    /// The receipt of a finished load job, or its errors with the file's name. `rows` is
    /// what was sent, for when the job does not say.
    fn receipt(
        &self,
        table: &TableName,
        file: &FileLoad,
        job_id: &str,
        state: JobState,
        rows: u64,
    ) -> Result<LoadReceipt> {
        match state {
            JobState::Done { rows: out } => Ok(LoadReceipt {
                load_id: file.load_id.clone(),
                rows: if out == 0 { rows } else { out },
            }),
            JobState::Failed { message } => Err(self.error(format!(
                "{}: load job {job_id} into {table} failed: {message}",
                file.file_path
            ))),
            JobState::Running | JobState::Missing => Err(self.error(format!(
                "{}: load job {job_id} into {table} did not finish",
                file.file_path
            ))),
        }
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

/// The CSV fields of a load job from `source`, when BigQuery reads it as sluice does:
/// a `gs://` URI of a UTF-8 CSV file. (BigQuery's ISO-8859-1 is not the Windows-1252
/// sluice decodes Latin-1 files as.)
fn csv_source(source: &DirectSource) -> Option<Value> {
    let FormatOptions::Csv(csv) = &source.format else {
        return None;
    };
    if !source.uri.starts_with("gs://") || csv.encoding != Encoding::Utf8 {
        return None;
    }
    Some(json!({
        "sourceUris": [source.uri],
        "sourceFormat": "CSV",
        "encoding": "UTF-8",
        "fieldDelimiter": csv.delimiter.unwrap_or(',').to_string(),
        "quote": csv.quote.unwrap_or('"').to_string(),
        "skipLeadingRows": u32::from(csv.has_header.unwrap_or(true)),
        "allowQuotedNewlines": true,
    }))
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

/// An existing table's columns (name, type, mode) must be the job's, in order.
fn same_columns(
    table: &TableName,
    existing: &[(String, String, String)],
    expected: &[(String, String, String)],
) -> Result<()> {
    if existing == expected {
        return Ok(());
    }
    Err(Error::TableMismatch {
        table: table.to_string(),
        found: describe_columns(existing),
        expected: describe_columns(expected),
    })
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
            return same_columns(table, &existing, &expected);
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
                Some(existing) => same_columns(table, &existing, &expected),
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
        let config = self.load_job(
            &job_id,
            table,
            mode,
            json!({"sourceFormat": "NEWLINE_DELIMITED_JSON", "ignoreUnknownValues": false}),
        );
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
        self.receipt(table, file, &job_id, state, rows)
    }

    fn loads_directly(&self, source: &DirectSource) -> bool {
        self.config.push_down && csv_source(source).is_some()
    }

    async fn load_direct(
        &self,
        table: &TableName,
        _columns: &[Column],
        file: &FileLoad,
        mode: LoadMode,
        source: &DirectSource,
    ) -> Result<LoadReceipt> {
        let Some(csv) = csv_source(source) else {
            return Err(self.error(format!(
                "{}: BigQuery loads only UTF-8 CSV from gs:// URIs here; this file streams through sluice",
                file.file_path
            )));
        };
        let job_id = self.next_attempt(table, file).await?;
        let body = self.load_job(&job_id, table, mode, csv);
        let job = self
            .client
            .post_json(&format!("{}/jobs", self.project_path()), &body)
            .await
            .map_err(|e| {
                self.error(format!(
                    "{}: starting load job {job_id} from {} into {table}: {e}",
                    file.file_path, source.uri
                ))
            })?;
        let state = match state_of(&job) {
            JobState::Running | JobState::Missing => self.wait_for(&job_id).await?,
            done => done,
        };
        self.receipt(table, file, &job_id, state, 0)
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

    #[test]
    fn a_destination_url_reads_into_a_config() {
        let c = BigQueryConfig::from_url(
            "bigquery://my-proj/raw?location=EU&credentials=none&endpoint=http://127.0.0.1:9050/&push_down=true&job_id_prefix=etl_",
        )
        .unwrap();
        assert_eq!(
            (c.project.as_str(), c.dataset.as_str(), c.location.as_str()),
            ("my-proj", "raw", "EU")
        );
        assert_eq!(
            (c.auth.clone(), c.endpoint.as_str()),
            (Auth::None, "http://127.0.0.1:9050")
        );
        assert!(c.push_down);
        assert_eq!(c.job_id_prefix, "etl_");
        assert_eq!(
            c.describe(),
            "bigquery://my-proj/raw (EU, no credentials, endpoint http://127.0.0.1:9050, push-down)"
        );
        let d = BigQueryConfig::from_url("bigquery://p/d").unwrap();
        assert_eq!(
            (d.auth, d.location.as_str(), d.push_down),
            (Auth::ApplicationDefault, "US", false)
        );

        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.json");
        let text = serde_json::json!({
            "client_email": "a@p.iam.gserviceaccount.com",
            "private_key": include_str!("../../testdata/bigquery/test_key.pem"),
        })
        .to_string();
        std::fs::write(&key, &text).unwrap();
        let k = BigQueryConfig::from_url(&format!("bigquery://p/d?credentials={}", key.display()))
            .unwrap();
        assert_eq!(k.auth, Auth::ServiceAccountKey { key_json: text });
        assert_eq!(
            k.redacted().auth,
            Auth::ServiceAccountKey {
                key_json: "••••".into()
            }
        );

        for (url, says) in [
            ("bigquery://p", "names no project and dataset"),
            ("bigquery://p/a/b", "names no project and dataset"),
            ("bigquery://p/my-data", "holds only letters, digits and _"),
            ("bq://p/d", "starts with bigquery://"),
            ("bigquery://p/d?push_down=maybe", "push_down=maybe"),
            ("bigquery://p/d?zone=x", "unknown parameter 'zone'"),
        ] {
            let err = BigQueryConfig::from_url(url).unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn push_down_takes_utf8_csv_from_gcs_only() {
        use sluice_core::format::csv::CsvOptions;
        let csv = |encoding| {
            FormatOptions::Csv(CsvOptions {
                delimiter: Some(';'),
                quote: Some('\''),
                has_header: Some(false),
                encoding,
            })
        };
        let source = |uri: &str, format| DirectSource {
            uri: uri.into(),
            format,
        };
        let fields = csv_source(&source("gs://b/x.csv", csv(Encoding::Utf8))).unwrap();
        assert_eq!(fields["sourceUris"], json!(["gs://b/x.csv"]));
        assert_eq!(
            (
                &fields["fieldDelimiter"],
                &fields["quote"],
                &fields["skipLeadingRows"]
            ),
            (&json!(";"), &json!("'"), &json!(0))
        );
        assert!(csv_source(&source("gs://b/x.csv", csv(Encoding::Latin1))).is_none());
        assert!(csv_source(&source("s3://b/x.csv", csv(Encoding::Utf8))).is_none());
        assert!(csv_source(&source("gs://b/x.parquet", FormatOptions::Parquet)).is_none());
        assert!(csv_source(&source("gs://b/x.jsonl", FormatOptions::Json)).is_none());
    }
}
