//! Destinations: where loaded rows end up.
//!
//! A [`Sink`] creates tables from a job's columns and loads one file at a time,
//! atomically: the file's rows and a marker row in the destination's own `_sluice_loads`
//! table commit together or not at all. That marker is what lets the runner ask, after a
//! crash, whether a file it was loading made it ([`Sink::was_loaded`]).
//!
//! One folder per sink, one file per concern inside it; DuckDB ([`duckdb::DuckDbSink`]) is
//! the embedded default, PostgreSQL ([`postgres::PostgresSink`]) a server reached by URL,
//! BigQuery ([`bigquery::BigQuerySink`]) loads through load jobs. A destination's settings
//! are a [`SinkConfig`], which parses its URL, seals its credentials and builds its sink
//! ([`config`]); adding a destination is a folder plus one line in its registry.
//!
//! [`Inspect`] reads a table back (row counts, previews) for summaries and tests; it is
//! not part of loading.

pub mod bigquery;
pub mod config;
pub mod dedup;
pub mod duckdb;
pub mod postgres;
pub mod quarantine;
mod sql;

pub use config::{BuildContext, Config, SINKS, SinkConfig, SinkInfo};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sluice_core::format::BatchStream;
use sluice_core::names::TableName;
use sluice_core::schema::Column;

/// Errors of a destination.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The destination refused or failed an operation.
    #[error("{destination}: {message}")]
    Destination {
        destination: String,
        message: String,
    },

    /// The database answered with an error; `code` is its SQLSTATE (PostgreSQL).
    #[error("{destination}: {message} (SQLSTATE {code})")]
    Sql {
        destination: String,
        code: String,
        message: String,
    },

    /// Settings that cannot be used; `field` names the setting as requests do
    /// (`destination`, `destination.url`).
    #[error("{message}")]
    Invalid { field: String, message: String },

    /// A table exists but its columns are not the job's.
    #[error(
        "table {table} already exists with other columns ({found}); the job expects ({expected}). Choose another table name, or drop the table"
    )]
    TableMismatch {
        table: String,
        found: String,
        expected: String,
    },

    /// Reading the file failed part way; nothing of it was loaded.
    #[error(transparent)]
    Source(#[from] sluice_core::Error),
}

impl Error {
    /// The same error, its message led by what it was about (`t_1.csv`, `t_1.csv: creating
    /// table tx`): every error names the file it came from.
    #[must_use]
    pub fn about(self, what: impl std::fmt::Display) -> Self {
        match self {
            Self::Destination {
                destination,
                message,
            } => Self::Destination {
                destination,
                message: format!("{what}: {message}"),
            },
            Self::Sql {
                destination,
                code,
                message,
            } => Self::Sql {
                destination,
                code,
                message: format!("{what}: {message}"),
            },
            Self::Invalid { field, message } => Self::Invalid {
                field,
                message: format!("{what}: {message}"),
            },
            other => other,
        }
    }

    /// Whether the same load could succeed if tried again: a lock held by another process,
    /// a write conflict, a dropped connection. Errors in the data or the table are final.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Destination { message, .. } => transient_message(message),
            Self::Sql { code, .. } => postgres::transient_sqlstate(code),
            Self::TableMismatch { .. } | Self::Invalid { .. } => false,
            Self::Source(e) => e.is_transient(),
        }
    }
}

/// Whether a destination's message says that trying again may help.
pub(crate) fn transient_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    TRANSIENT.iter().any(|t| m.contains(t))
}

/// What destinations say when trying again may help.
const TRANSIENT: &[&str] = &[
    "could not set lock",
    "conflicting lock",
    "database is locked",
    "conflict on",
    "connection reset",
    "connection refused",
    "connection closed",
    "broken pipe",
    "timed out",
    "timeout",
    "too many connections",
    "temporarily unavailable",
    "try again",
    // BigQuery: HTTP 429 and 5xx, and the reasons it gives for them.
    "http 429",
    "http 500",
    "http 502",
    "http 503",
    "http 504",
    "ratelimitexceeded",
    "backenderror",
    "internalerror",
];

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a file's rows are added to the table or replace its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    #[default]
    Append,
    Replace,
}

impl LoadMode {
    pub const ALL: [LoadMode; 2] = [Self::Append, Self::Replace];

    /// What it does, for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Append => "Append rows",
            Self::Replace => "Replace the table with each file",
        }
    }
}

impl std::str::FromStr for LoadMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "append" => Ok(Self::Append),
            "replace" | "truncate" => Ok(Self::Replace),
            other => Err(format!(
                "unknown load type '{other}'; expected append or replace"
            )),
        }
    }
}

impl std::fmt::Display for LoadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Append => "append",
            Self::Replace => "replace",
        })
    }
}

/// One file's load: `load_id` is derived from (job, file, version) and is the key of its
/// marker, so the same file version can never be committed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLoad {
    pub load_id: String,
    pub file_path: String,
    pub file_version: String,
}

/// What a committed load left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReceipt {
    pub load_id: String,
    pub rows: u64,
    /// Rows of each part, in order, when the load had parts and they were counted apart
    /// (a load read back from its marker has only the total).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u64>,
}

impl LoadReceipt {
    pub fn new(load_id: impl Into<String>, rows: u64) -> Self {
        Self {
            load_id: load_id.into(),
            rows,
            parts: Vec::new(),
        }
    }
}

/// A load a table holds, as the destination's marker records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLoad {
    /// The marker's load id; empty where the destination keeps none per file (BigQuery,
    /// whose loads are found by the lineage column).
    pub load_id: String,
    /// The file's path (a load of several files names each).
    pub file_paths: Vec<String>,
    /// The version the marker recorded; empty where unknown.
    pub file_version: String,
    pub rows: u64,
}

/// One file of a [`Load`].
pub struct Part {
    pub file_path: String,
    pub file_version: String,
    /// Delete the rows earlier versions of this file left (found by the lineage column
    /// [`sluice_core::schema::lineage::FILE`]) before adding its own: a changed file's rows
    /// replaced in the same transaction.
    pub replace_rows: bool,
    pub batches: BatchStream,
    /// The rows the file's stages rejected, written to the table's quarantine table
    /// ([`quarantine::table_of`]) once its batches end, in the same transaction.
    pub rejects: Option<quarantine::Rejects>,
    /// Delete the rows the quarantine table holds for this file first: they are being
    /// loaded again (a replay), and those that fail again are among `rejects`.
    pub clear_rejected: bool,
}

impl Part {
    pub fn new(file: &FileLoad, batches: BatchStream) -> Self {
        Self {
            file_path: file.file_path.clone(),
            file_version: file.file_version.clone(),
            replace_rows: false,
            batches,
            rejects: None,
            clear_rejected: false,
        }
    }
}

/// One atomic load: its parts' rows and one marker (`load_id`) commit together or not at
/// all. A replace-mode load replaces the table's rows with all of its parts.
pub struct Load {
    pub load_id: String,
    pub mode: LoadMode,
    pub parts: Vec<Part>,
    /// Rows with the same key load once, within the load and against the table; each
    /// part's count is then the rows it added.
    pub dedup: Option<dedup::Dedup>,
}

impl Load {
    /// Whether a part writes to the quarantine table.
    pub fn quarantines(&self) -> bool {
        self.parts
            .iter()
            .any(|p| p.rejects.is_some() || p.clear_rejected)
    }

    /// The paths of its files, for messages: `a.csv`, or `a.csv and 9 more files`.
    pub fn describe(&self) -> String {
        match self.parts.as_slice() {
            [] => "no files".into(),
            [one] => one.file_path.clone(),
            [first, rest @ ..] => format!("{} and {} more file(s)", first.file_path, rest.len()),
        }
    }

    /// What the marker records as the load's file: the path, or every path, one per line.
    pub fn marker_path(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.file_path.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What the marker records as the load's version (that of its first file).
    pub fn marker_version(&self) -> String {
        self.parts
            .first()
            .map(|p| p.file_version.clone())
            .unwrap_or_default()
    }
}

/// A file a destination can read itself (BigQuery from `gs://`), so that its rows do not
/// pass through sluice.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectSource {
    /// The file as the destination reads it: `gs://bucket/path/file.csv`.
    pub uri: String,
    /// The format and options detection settled on for this file.
    pub format: sluice_core::format::FormatOptions,
}

/// Whether a file a destination reads itself is still the version listed: awaited after
/// the destination has read it, before its rows are committed.
pub type Pin<'a> = futures::future::BoxFuture<'a, sluice_core::Result<()>>;

/// A destination.
///
/// # Contract
/// - `load` commits the file's rows and its marker atomically; on any error (including
///   an error item in `batches`) the table and the markers are as they were.
/// - `was_loaded` answers from the destination's markers, never from a cache, so it is
///   right after a crash at any point.
#[async_trait]
pub trait Sink: Send + Sync {
    /// A short description for messages: `duckdb:/path/warehouse.duckdb`.
    fn describe(&self) -> String;

    /// Checks that the destination answers.
    ///
    /// # Errors
    /// [`Error::Destination`] saying why it does not.
    async fn check(&self) -> Result<()>;

    /// Creates the table if it does not exist.
    ///
    /// # Errors
    /// [`Error::TableMismatch`] when a table of that name has other columns.
    async fn ensure_table(&self, table: &TableName, columns: &[Column]) -> Result<()>;

    /// Changes an existing table to hold a job's evolved columns: adds columns (nullable;
    /// existing rows hold NULL), widens types, drops NOT NULL. Each step is left out where
    /// the table has it already, so a retry changes nothing twice; nothing is dropped.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a change the destination cannot make in place (naming the
    /// column), else the destination's, naming the table.
    async fn alter_table(
        &self,
        table: &TableName,
        change: &sluice_core::schema::TableChange,
    ) -> Result<()>;

    /// Loads the parts of `load` in order, in one transaction with its marker.
    ///
    /// # Errors
    /// The first error of a part's batches ([`Error::Source`]), or the destination's.
    async fn load_parts(
        &self,
        table: &TableName,
        columns: &[Column],
        load: Load,
    ) -> Result<LoadReceipt>;

    /// Loads one file's batches, atomically with its marker.
    ///
    /// # Errors
    /// The first error of `batches` ([`Error::Source`]), or the destination's.
    async fn load(
        &self,
        table: &TableName,
        columns: &[Column],
        file: &FileLoad,
        mode: LoadMode,
        batches: BatchStream,
    ) -> Result<LoadReceipt> {
        let load = Load {
            load_id: file.load_id.clone(),
            mode,
            parts: vec![Part::new(file, batches)],
            dedup: None,
        };
        self.load_parts(table, columns, load).await
    }

    /// The loads `table` holds, from the destination's markers; `None` if there is no such
    /// table. A new job finds there the loads of a job that was deleted.
    async fn table_loads(&self, table: &TableName) -> Result<Option<Vec<TableLoad>>>;

    /// Deletes the rows a file left (by its lineage column), outside any load: a file a
    /// person forgets with its rows. Returns how many were deleted.
    ///
    /// # Errors
    /// The destination's; [`Error::Invalid`] where the table has no lineage column.
    async fn delete_file_rows(&self, table: &TableName, file_path: &str) -> Result<u64>;

    /// Whether the destination reads `source` itself ([`Sink::load_direct`]); no by default.
    fn loads_directly(&self, _source: &DirectSource) -> bool {
        false
    }

    /// Loads a file the destination reads itself, with the same contract as [`Sink::load`].
    /// The destination reads the file into a place of its own first and awaits `pin`
    /// before it commits: if the file changed since it was listed, `pin` says so
    /// ([`sluice_core::Error::Changed`]) and nothing is committed.
    ///
    /// # Errors
    /// The destination's, or `pin`'s as [`Error::Source`]; by default, that it cannot.
    async fn load_direct(
        &self,
        _table: &TableName,
        _columns: &[Column],
        file: &FileLoad,
        _mode: LoadMode,
        source: &DirectSource,
        _pin: Pin<'_>,
    ) -> Result<LoadReceipt> {
        Err(Error::Destination {
            destination: self.describe(),
            message: format!("{}: cannot load {} directly", file.file_path, source.uri),
        })
    }

    /// The receipt of a committed load, if there is one.
    async fn was_loaded(&self, load_id: &str) -> Result<Option<LoadReceipt>>;

    /// Drops the table if it exists.
    async fn drop_table(&self, table: &TableName) -> Result<()>;
}

/// Reading a table back, in the destination's own types: for summaries and tests.
#[async_trait]
pub trait Inspect: Send + Sync {
    /// Whether the table exists.
    async fn table_exists(&self, table: &TableName) -> Result<bool>;

    /// How many rows the table holds.
    async fn count_rows(&self, table: &TableName) -> Result<u64>;

    /// The first `limit` rows of the table, in the destination's own Arrow types.
    async fn preview(
        &self,
        table: &TableName,
        limit: usize,
    ) -> Result<Vec<arrow::record_batch::RecordBatch>>;
}

/// A sink as [`SinkConfig::build`] makes it: it loads, and it can be read back.
pub trait BuiltSink: Sink + Inspect {}

impl<T: Sink + Inspect> BuiltSink for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(message: &str) -> Error {
        Error::Destination {
            destination: "duckdb:/w.duckdb".into(),
            message: message.into(),
        }
    }

    #[test]
    fn busy_destinations_are_transient_bad_data_is_not() {
        assert!(
            destination(
                "IO Error: Could not set lock on file \"/w.duckdb\": Conflicting lock is held in /usr/bin/sluice (PID 7)"
            )
            .is_transient()
        );
        assert!(destination("TransactionContext Error: Conflict on tuple deletion").is_transient());
        assert!(
            !destination("Conversion Error: Could not convert string 'x' to INT64").is_transient()
        );
        assert!(
            !Error::TableMismatch {
                table: "t".into(),
                found: "a".into(),
                expected: "b".into()
            }
            .is_transient()
        );
    }
}
