//! One load job's upload: the rows of a load's parts, encoded as they arrive and sent in
//! fixed-size chunks of a resumable upload, the last chunk starting the job.
//!
//! The rows are Parquet (zstd) where every column has a Parquet type BigQuery reads as the
//! column's type ([`PARQUET_MAP`](super::types::PARQUET_MAP)), else newline-delimited JSON
//! (a JSON column). Both carry the same values; Parquet is several times smaller.

use futures::StreamExt;
use serde_json::{Value, json};
use sluice_core::names::TableName;
use sluice_core::schema::Column;

use super::client::ApiError;
use super::job::{JobState, state_of};
use super::parquet::ParquetRows;
use super::rows::write_ndjson;
use super::types::parquet_loads;
use super::{BigQuerySink, UploadTo};
use crate::{Error, LoadMode, Part, Result};

/// How an upload's rows are written.
enum Encoding {
    Ndjson(Vec<u8>),
    Parquet(Box<ParquetRows>),
}

impl Encoding {
    /// Parquet where `columns` allow it (and the writer takes them), else NDJSON; for
    /// uploads in chunks of `chunk_size`, and Parquet row groups of about that size.
    fn for_columns(columns: &[Column], chunk_size: usize) -> Self {
        if parquet_loads(columns)
            && let Ok(file) = ParquetRows::new(columns, chunk_size)
        {
            return Self::Parquet(Box::new(file));
        }
        Self::Ndjson(Vec::with_capacity(chunk_size + 1024 * 1024))
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Ndjson(_) => "NEWLINE_DELIMITED_JSON",
            Self::Parquet(_) => "PARQUET",
        }
    }

    /// The format's fields of the load job's `configuration.load`.
    fn source(&self) -> Value {
        match self {
            Self::Ndjson(_) => {
                json!({"sourceFormat": "NEWLINE_DELIMITED_JSON", "ignoreUnknownValues": false})
            }
            // Without list inference BigQuery would read a LIST as a record of its own.
            Self::Parquet(_) => json!({
                "sourceFormat": "PARQUET",
                "parquetOptions": {"enableListInference": true},
            }),
        }
    }

    fn write(
        &mut self,
        batch: &arrow::record_batch::RecordBatch,
        columns: &[Column],
        first_row: u64,
    ) -> Result<(), String> {
        match self {
            Self::Ndjson(buffer) => write_ndjson(batch, columns, first_row, buffer),
            Self::Parquet(file) => file.write(batch, columns, first_row),
        }
    }

    /// The bytes encoded and not yet sent.
    fn ready(&mut self) -> &mut Vec<u8> {
        match self {
            Self::Ndjson(buffer) => buffer,
            Self::Parquet(file) => file.ready(),
        }
    }

    /// Writes what the format keeps to the end (Parquet's last row group and footer).
    fn finish(&mut self) -> Result<(), String> {
        match self {
            Self::Ndjson(_) => Ok(()),
            Self::Parquet(file) => file.finish(),
        }
    }
}

impl BigQuerySink {
    /// Sends the rows of `parts`, one after another, as one upload: one load job, `job_id`,
    /// into `table`. Returns the job's state and the rows of each part.
    ///
    /// Rows are encoded into a buffer; whenever it holds more than one chunk, the chunk is
    /// sent. The last chunk (which may be short or empty) is sent once every part has
    /// ended. No job exists until then: a part whose stream fails cancels the upload and
    /// loads nothing. An upload `into_stage` that holds no rows starts no job.
    pub(super) async fn upload(
        &self,
        job_id: &str,
        table: &TableName,
        columns: &[Column],
        into: UploadTo,
        parts: Vec<Part>,
        what: &str,
    ) -> Result<(JobState, Vec<u64>)> {
        let (mode, into_stage) = match into {
            UploadTo::Table(mode) => (mode, false),
            UploadTo::Stage => (LoadMode::Append, true),
        };
        let mut encoding = Encoding::for_columns(columns, self.chunk_size);
        let config = self.load_job(job_id, table, mode, encoding.source());
        let in_file = |what: &str, step: &str, e: ApiError| {
            self.error(format!(
                "{what}: {step} of load job {job_id} into {table}: {e}"
            ))
        };
        let session = self
            .client
            .start_upload(&self.project_path(), &config)
            .await
            .map_err(|e| in_file(what, "starting the upload", e))?;
        let mut sent: u64 = 0;
        let mut counts = Vec::with_capacity(parts.len());
        for mut part in parts {
            let mut rows: u64 = 0;
            while let Some(item) = part.batches.next().await {
                let batch = match item {
                    Ok(b) => b,
                    Err(e) => {
                        self.client.cancel_upload(&session).await;
                        return Err(Error::Source(e));
                    }
                };
                if let Err(e) = encoding.write(&batch, columns, rows) {
                    self.client.cancel_upload(&session).await;
                    return Err(self.error(format!("{}: {e}", part.file_path)));
                }
                rows += batch.num_rows() as u64;
                self.send_full_chunks(&session, &mut sent, encoding.ready())
                    .await
                    .map_err(|e| in_file(&part.file_path, "uploading", e))?;
                sluice_core::fault::hit("mid-load");
            }
            counts.push(rows);
        }
        if counts.iter().all(|&n| n == 0) && into_stage {
            // No rows for a staging table made empty with its columns: no job is needed
            // (and an empty load would leave the table without its columns).
            self.client.cancel_upload(&session).await;
            return Ok((JobState::Done { rows: 0 }, counts));
        }
        if let Err(e) = encoding.finish() {
            self.client.cancel_upload(&session).await;
            return Err(self.error(format!("{what}: {e}")));
        }
        // Parquet's last row group and footer may be more than a chunk.
        self.send_full_chunks(&session, &mut sent, encoding.ready())
            .await
            .map_err(|e| in_file(what, "uploading", e))?;
        let format = encoding.name();
        let buffer = encoding.ready();
        let total = sent + buffer.len() as u64;
        let job = self
            .client
            .put_chunk(&session, sent, buffer, Some(total))
            .await
            .map_err(|e| {
                if e.status == Some(409) {
                    self.error(format!(
                        "{what}: load job {job_id} into {table} was started by another attempt at the same time; ask was_loaded before retrying"
                    ))
                } else {
                    in_file(what, "finishing the upload", e)
                }
            })?;
        drop(encoding);
        tracing::debug!(
            job = job_id,
            format,
            bytes = total,
            rows = counts.iter().sum::<u64>(),
            "upload sent"
        );
        let state = match job.map(|j| state_of(&j)) {
            Some(JobState::Done { rows }) => JobState::Done { rows },
            Some(JobState::Failed { message }) => JobState::Failed { message },
            _ => self.wait_for(job_id).await?,
        };
        Ok((state, counts))
    }

    /// Sends every whole chunk at the front of `buffer` and drains it; `sent` counts them.
    async fn send_full_chunks(
        &self,
        session: &str,
        sent: &mut u64,
        buffer: &mut Vec<u8>,
    ) -> Result<(), ApiError> {
        while buffer.len() > self.chunk_size {
            self.client
                .put_chunk(session, *sent, &buffer[..self.chunk_size], None)
                .await?;
            *sent += self.chunk_size as u64;
            buffer.drain(..self.chunk_size);
        }
        Ok(())
    }
}
