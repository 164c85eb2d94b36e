//! File formats: options, detection from a sample, and streaming readers.
//!
//! [`detect`] reads at most [`SAMPLE_BYTES`] from the head of a file (or only the footer of
//! a Parquet file) and returns a [`DetectedSchema`] together with the options it settled
//! on. [`read`] streams a whole file as Arrow record batches in a job's column types;
//! a value that does not fit names the file, line and column.

pub mod csv;
pub mod json;
pub mod parquet;

use std::fmt;
use std::str::FromStr;

use arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::schema::{Column, DetectedSchema};
use crate::storage::{FileEntry, Store};
use crate::{Error, Result};

pub use self::csv::{CsvOptions, Encoding};

/// How much of a file's head detection reads.
pub const SAMPLE_BYTES: u64 = 5 * 1024 * 1024;

/// Rows per record batch.
pub const BATCH_ROWS: usize = 8192;

/// Record batches on their way from a reader to a sink.
pub type BatchStream = BoxStream<'static, Result<RecordBatch>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Parquet,
    Json,
}

impl FileFormat {
    /// The format a file's extension suggests.
    pub fn from_path(path: &str) -> Option<Self> {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        let ext = name.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "csv" | "tsv" | "psv" | "txt" => Some(Self::Csv),
            "parquet" | "pq" => Some(Self::Parquet),
            "json" | "jsonl" | "ndjson" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Json => "json",
        }
    }

    /// The options of this format with everything left to detection.
    pub fn default_options(self) -> FormatOptions {
        match self {
            Self::Csv => FormatOptions::Csv(CsvOptions::default()),
            Self::Parquet => FormatOptions::Parquet,
            Self::Json => FormatOptions::Json,
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" | "tsv" => Ok(Self::Csv),
            "parquet" => Ok(Self::Parquet),
            "json" | "jsonl" | "ndjson" => Ok(Self::Json),
            other => Err(format!(
                "unknown format '{other}'; expected csv, parquet or json"
            )),
        }
    }
}

/// A format and its options. `None` options of CSV are sniffed by [`detect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "file_format", rename_all = "lowercase")]
pub enum FormatOptions {
    Csv(CsvOptions),
    Parquet,
    /// Newline-delimited JSON objects, or one JSON array of objects.
    Json,
}

impl FormatOptions {
    pub fn format(&self) -> FileFormat {
        match self {
            Self::Csv(_) => FileFormat::Csv,
            Self::Parquet => FileFormat::Parquet,
            Self::Json => FileFormat::Json,
        }
    }

    /// The options a user gave, or those the file's extension suggests.
    ///
    /// # Errors
    /// When no format is given and the extension names none.
    pub fn for_file(given: Option<FormatOptions>, path: &str) -> Result<Self> {
        if let Some(given) = given {
            return Ok(given);
        }
        FileFormat::from_path(path).map(FileFormat::default_options).ok_or_else(|| Error::InvalidOption {
            option: "format".into(),
            reason: format!("cannot tell the format of '{path}' from its extension; give --format csv, parquet or json"),
        })
    }
}

/// Detects the schema of one file from its head (or its footer, for Parquet).
///
/// The returned schema carries the options detection settled on in `format_options`.
pub async fn detect(
    store: &Store,
    file: &FileEntry,
    options: &FormatOptions,
) -> Result<DetectedSchema> {
    let mut detected = match options {
        FormatOptions::Csv(csv) => {
            let head = store.read_head(file, SAMPLE_BYTES).await?;
            let (resolved, schema) = csv::detect(&head, file, csv)?;
            let mut schema = schema;
            schema.format_options = Some(FormatOptions::Csv(resolved));
            schema
        }
        FormatOptions::Json => {
            let head = store.read_head(file, SAMPLE_BYTES).await?;
            let mut schema = json::detect(&head, file)?;
            schema.format_options = Some(FormatOptions::Json);
            schema
        }
        FormatOptions::Parquet => {
            let mut schema = parquet::detect(store, file).await?;
            schema.format_options = Some(FormatOptions::Parquet);
            schema
        }
    };
    detected.file_path = Some(file.path.clone());
    Ok(detected)
}

/// Streams a whole file as record batches whose schema is [`crate::schema::arrow_schema`] of
/// `columns`. Batches are produced as the bytes arrive; memory does not grow with the file.
pub async fn read(
    store: &Store,
    file: &FileEntry,
    options: &FormatOptions,
    columns: &[Column],
) -> Result<BatchStream> {
    match options {
        FormatOptions::Csv(csv) => {
            let bytes = store.read_stream(file).await?;
            Ok(csv::read(bytes, csv, columns, &file.path))
        }
        FormatOptions::Json => {
            let bytes = store.read_stream(file).await?;
            Ok(json::read(bytes, columns, &file.path))
        }
        FormatOptions::Parquet => parquet::read(store, file, columns).await,
    }
}

/// A reader's state that yields one record batch at a time.
pub(crate) trait BatchSource: Send + 'static {
    /// The next batch, `None` at the end.
    fn next_batch(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<RecordBatch>>> + Send;
}

/// Turns a [`BatchSource`] into a stream that ends after the first error.
pub(crate) fn batch_stream(source: impl BatchSource) -> BatchStream {
    use futures::StreamExt;
    futures::stream::unfold((source, false), |(mut source, failed)| async move {
        if failed {
            return None;
        }
        match source.next_batch().await {
            Ok(Some(batch)) => Some((Ok(batch), (source, false))),
            Ok(None) => None,
            Err(e) => Some((Err(e), (source, true))),
        }
    })
    .boxed()
}

/// Keeps the complete lines of a sample: the bytes after the last newline are dropped when
/// the sample stops before the end of the file.
pub(crate) fn complete_lines(sample: &[u8], truncated: bool) -> &[u8] {
    if !truncated {
        return sample;
    }
    match memchr_last_newline(sample) {
        Some(i) => &sample[..=i],
        None => sample,
    }
}

fn memchr_last_newline(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

/// Rows in a file extrapolated from the rows in its sample.
pub(crate) fn estimate_rows(rows_in_sample: u64, sample_len: usize, file_size: u64) -> u64 {
    if sample_len == 0 {
        return 0;
    }
    ((rows_in_sample as f64) * (file_size as f64) / (sample_len as f64)).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(
            FileFormat::from_path("a/b/t_2024.CSV"),
            Some(FileFormat::Csv)
        );
        assert_eq!(
            FileFormat::from_path("x.parquet"),
            Some(FileFormat::Parquet)
        );
        assert_eq!(FileFormat::from_path("e.jsonl"), Some(FileFormat::Json));
        assert_eq!(FileFormat::from_path("README"), None);
        let err = FormatOptions::for_file(None, "data.bin")
            .unwrap_err()
            .to_string();
        assert!(err.contains("give --format"), "{err}");
    }

    #[test]
    fn sample_drops_the_last_partial_line() {
        assert_eq!(complete_lines(b"a,b\n1,2\n3,", true), b"a,b\n1,2\n");
        assert_eq!(complete_lines(b"a,b\n1,2\n3,", false), b"a,b\n1,2\n3,");
    }

    #[test]
    fn options_serialize_tagged_by_format() {
        let json = serde_json::to_value(FormatOptions::Parquet).unwrap();
        assert_eq!(json, serde_json::json!({"file_format": "parquet"}));
        let csv: FormatOptions =
            serde_json::from_value(serde_json::json!({"file_format": "csv", "delimiter": "|"}))
                .unwrap();
        assert_eq!(
            csv,
            FormatOptions::Csv(CsvOptions {
                delimiter: Some('|'),
                ..Default::default()
            })
        );
    }
}
