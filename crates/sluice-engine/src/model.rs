//! The records the catalog keeps and the engine hands to its interfaces.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::format::FormatOptions;
use sluice_core::names::TableName;
use sluice_core::schema::Column;
use sluice_core::secret::{SecretError, SecretKey};
use sluice_core::storage::ConnectionConfig;
use sluice_core::storage::config::REDACTED;
use sluice_sinks::LoadMode;

use crate::alerts::Alerts;
use crate::schedule::{Schedule, Timezone};

/// Default per-job file size limit: 1 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// A stored connection. As the catalog returns it, credential fields are sealed; as the
/// engine hands it out, they are redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub id: i64,
    pub name: String,
    pub config: ConnectionConfig,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ConnectionRecord {
    /// How users write its location: `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        self.config.url()
    }

    pub fn provider(&self) -> &'static str {
        self.config.provider()
    }
}

use sluice_sinks::bigquery::{Auth, BigQueryConfig};

/// Where a job's rows go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Destination {
    /// A DuckDB file; `None` is `warehouse.duckdb` in the data directory.
    DuckDb {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
    },
    /// A PostgreSQL database: `postgres://user:password@host:5432/db?sslmode=prefer`.
    /// The catalog keeps the URL sealed (it may hold a password); the engine hands it out
    /// with the password redacted.
    Postgres { url: String },
    /// A BigQuery dataset; an inline service-account key is sealed at rest like a
    /// PostgreSQL URL.
    #[serde(rename = "bigquery")]
    BigQuery(BigQueryConfig),
}

impl Default for Destination {
    fn default() -> Self {
        Self::DuckDb { path: None }
    }
}

impl Destination {
    /// What its secrets are sealed with: bound to the job, so a sealed URL cannot be moved
    /// to another job.
    fn context(job: &str) -> String {
        format!("job:{job}:destination")
    }

    /// A copy to store: a PostgreSQL URL sealed under `key` (left as is if already sealed).
    pub fn sealed(&self, key: &SecretKey, job: &str) -> Self {
        match self {
            Self::Postgres { url } if !SecretKey::is_sealed(url) => Self::Postgres {
                url: key.seal(url, &Self::context(job)),
            },
            Self::BigQuery(config) => {
                let mut config = config.clone();
                if let Auth::ServiceAccountKey { key_json } = &mut config.auth
                    && !SecretKey::is_sealed(key_json)
                {
                    *key_json = key.seal(key_json, &Self::context(job));
                }
                Self::BigQuery(config)
            }
            other => other.clone(),
        }
    }

    /// A copy to connect with: a sealed URL opened.
    ///
    /// # Errors
    /// When the URL was sealed under another key or for another job.
    pub fn opened(&self, key: &SecretKey, job: &str) -> Result<Self, SecretError> {
        match self {
            Self::Postgres { url } if SecretKey::is_sealed(url) => Ok(Self::Postgres {
                url: key.open(url, &Self::context(job))?,
            }),
            Self::BigQuery(config) => {
                let mut config = config.clone();
                if let Auth::ServiceAccountKey { key_json } = &mut config.auth
                    && SecretKey::is_sealed(key_json)
                {
                    *key_json = key.open(key_json, &Self::context(job))?;
                }
                Ok(Self::BigQuery(config))
            }
            other => Ok(other.clone()),
        }
    }

    /// A copy safe to show: the password (if any) replaced by `••••`. A URL still sealed is
    /// shown as `••••` whole.
    pub fn redacted(&self) -> Self {
        match self {
            Self::Postgres { url } if SecretKey::is_sealed(url) => Self::Postgres {
                url: REDACTED.into(),
            },
            Self::Postgres { url } => Self::Postgres {
                url: sluice_sinks::postgres::redact_url(url),
            },
            Self::BigQuery(config) => Self::BigQuery(config.redacted()),
            other => other.clone(),
        }
    }

    /// One line for listings: `duckdb (default warehouse)`, `duckdb /data/w.duckdb`,
    /// `postgres://loader:••••@db:5432/wh?sslmode=prefer`. Call on a redacted copy.
    pub fn describe(&self) -> String {
        match self {
            Self::DuckDb { path: None } => "duckdb (warehouse.duckdb in the data directory)".into(),
            Self::DuckDb { path: Some(p) } => format!("duckdb {}", p.display()),
            Self::Postgres { url } => url.clone(),
            Self::BigQuery(config) => config.describe(),
        }
    }
}

/// A job as created: everything needed to run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    /// Stable identity of this job for load markers; a job recreated under the same name
    /// gets a new one, so it loads its files again.
    pub uid: String,
    pub name: String,
    pub connection: String,
    pub file_path_prefix: String,
    pub file_pattern: String,
    pub file_format_options: FormatOptions,
    pub load_latest_only: bool,
    pub schema: Vec<Column>,
    pub schema_fingerprint: String,
    pub destination: Destination,
    pub table_name: TableName,
    pub load_type: LoadMode,
    pub max_file_size: u64,
    #[serde(flatten)]
    pub settings: JobSettings,
    pub created_at: DateTime<Utc>,
}

/// What can change about a job after it is created: when it runs and who hears about it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobSettings {
    #[serde(default)]
    pub schedule: Schedule,
    /// The timezone the schedule's times are read in.
    #[serde(default)]
    pub timezone: Timezone,
    /// A paused job is not started by the scheduler; it can still be run by hand.
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub alerts: Alerts,
}

impl JobSettings {
    /// The next time the scheduler starts the job after `now`; `None` when manual or paused.
    pub fn next_run_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.paused {
            return None;
        }
        self.schedule.next_after(self.timezone, now)
    }
}

/// A change to a job's settings; fields left `None` stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobUpdate {
    pub schedule: Option<Schedule>,
    pub timezone: Option<Timezone>,
    pub paused: Option<bool>,
    pub alerts: Option<Alerts>,
}

impl JobUpdate {
    pub fn apply(self, settings: &mut JobSettings) {
        if let Some(s) = self.schedule {
            settings.schedule = s;
        }
        if let Some(t) = self.timezone {
            settings.timezone = t;
        }
        if let Some(p) = self.paused {
            settings.paused = p;
        }
        if let Some(a) = self.alerts {
            settings.alerts = a;
        }
    }
}

/// A new job for the catalog to store.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub uid: String,
    pub name: String,
    pub connection_id: i64,
    pub file_path_prefix: String,
    pub file_pattern: String,
    pub file_format_options: FormatOptions,
    pub load_latest_only: bool,
    pub schema: Vec<Column>,
    pub schema_fingerprint: String,
    pub destination: Destination,
    pub table_name: TableName,
    pub load_type: LoadMode,
    pub max_file_size: u64,
    pub settings: JobSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for another run of the job to finish.
    Queued,
    Running,
    Succeeded,
    PartiallyFailed,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::PartiallyFailed => "partially_failed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "succeeded" => Self::Succeeded,
            "partially_failed" => Self::PartiallyFailed,
            "failed" => Self::Failed,
            "queued" => Self::Queued,
            _ => Self::Running,
        }
    }
}

/// What happened to one file in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    Loaded,
    /// Found committed in the destination after an interrupted run, and recorded.
    Recovered,
    SkippedTooLarge,
    /// Another runner claimed the file between this run's listing and its claim.
    SkippedClaimed,
    FailedSchemaMismatch,
    FailedParse,
    FailedDestination,
    FailedStorage,
}

impl FileOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loaded => "loaded",
            Self::Recovered => "recovered",
            Self::SkippedTooLarge => "skipped_too_large",
            Self::SkippedClaimed => "skipped_claimed",
            Self::FailedSchemaMismatch => "failed_schema_mismatch",
            Self::FailedParse => "failed_parse",
            Self::FailedDestination => "failed_destination",
            Self::FailedStorage => "failed_storage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Loaded,
            Self::Recovered,
            Self::SkippedTooLarge,
            Self::SkippedClaimed,
            Self::FailedSchemaMismatch,
            Self::FailedParse,
            Self::FailedDestination,
            Self::FailedStorage,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::FailedSchemaMismatch
                | Self::FailedParse
                | Self::FailedDestination
                | Self::FailedStorage
        )
    }

    /// A phrase for people: `skipped: too large`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Loaded => "loaded",
            Self::Recovered => "loaded (recovered)",
            Self::SkippedTooLarge => "skipped: too large",
            Self::SkippedClaimed => "skipped: being loaded by another run",
            Self::FailedSchemaMismatch => "failed: schema mismatch",
            Self::FailedParse => "failed: parse error",
            Self::FailedDestination => "failed: destination error",
            Self::FailedStorage => "failed: storage error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFile {
    pub file_path: String,
    pub file_version: String,
    pub file_size_bytes: u64,
    pub outcome: FileOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub rows_loaded: u64,
}

/// A run and its statistics. Loaded/skipped/failed counts, rows and bytes are derived from
/// its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: i64,
    pub job: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub files_seen: u64,
    pub files_loaded: u64,
    /// Files skipped: already loaded before this run, or too large (per file in `files`).
    pub files_skipped: u64,
    /// Of the skipped files, those loaded by an earlier run. They are counted, not listed
    /// in `files`: a job over a long-lived folder would repeat them in every run.
    #[serde(default)]
    pub files_already_loaded: u64,
    pub files_failed: u64,
    pub rows_loaded: u64,
    pub bytes_loaded: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the run was asked for; before `started_at` if it waited in the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<DateTime<Utc>>,
    /// For runs the scheduler started: the time it started them for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<RunFile>,
    /// What the run did, line by line (only when one run is read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogLine>,
}

/// One line of a run's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    /// `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
}

impl Run {
    pub fn duration_seconds(&self) -> Option<f64> {
        self.finished_at
            .map(|f| (f - self.started_at).num_milliseconds() as f64 / 1000.0)
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedFile {
    pub file_path: String,
    pub file_version: String,
    pub file_size_bytes: u64,
    pub file_last_modified: DateTime<Utc>,
    pub etag: Option<String>,
    /// `loading` while claimed, `loaded` once committed.
    pub status: String,
    pub load_id: String,
    pub processed_at: DateTime<Utc>,
    pub rows_loaded: u64,
    pub run_id: Option<i64>,
}
