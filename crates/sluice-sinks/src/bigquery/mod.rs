//! BigQuery, over its REST API: datasets and tables from the job's columns, and one load
//! job per file.
//!
//! A file's batches are written as newline-delimited JSON into a resumable upload, one
//! fixed-size chunk at a time, so memory does not grow with the file. BigQuery creates the
//! load job only when the last chunk arrives: a file whose stream fails part way never
//! starts a job. The job id is derived from the load id (`sluice_<load_id>`), so after a
//! crash [`Sink::was_loaded`] finds the first attempt's job instead of loading twice; a
//! job that failed is followed by `sluice_<load_id>_2`, `_3`, … (BigQuery never reuses an id).
//!
//! One file per concern: `config` (the destination's settings and URL), `auth` (tokens),
//! `client` (HTTP and uploads), `job` (load jobs: ids, states, receipts), `table` (datasets
//! and tables), `rows` (NDJSON), `push_down` (files BigQuery reads itself from `gs://`),
//! `query` (reading tables back), `types` (the type map).

mod auth;
mod client;
mod config;
mod job;
mod push_down;
mod query;
mod rows;
mod table;
mod types;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::json;
use sluice_core::format::BatchStream;
use sluice_core::names::TableName;
use sluice_core::schema::Column;

pub use self::auth::{Auth, ServiceAccountKey, TokenProvider, sign_jwt};
use self::client::{ApiError, Client};
pub use self::config::{BigQueryConfig, CHUNK_SIZE, DEFAULT_ENDPOINT, ENDPOINT_ENV};
pub use self::job::job_id;
use self::job::{JobState, MAX_ATTEMPTS, state_of};
pub use self::rows::write_ndjson;
pub use self::types::{TYPE_MAP, bigquery_type};
use crate::{DirectSource, Error, FileLoad, LoadMode, LoadReceipt, Result, Sink};

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
        self.config.push_down && push_down::csv_source(source).is_some()
    }

    async fn load_direct(
        &self,
        table: &TableName,
        _columns: &[Column],
        file: &FileLoad,
        mode: LoadMode,
        source: &DirectSource,
    ) -> Result<LoadReceipt> {
        self.push_down(table, file, mode, source).await
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
}
