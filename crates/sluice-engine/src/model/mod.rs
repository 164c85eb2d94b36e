//! The records the catalog keeps and the engine hands to its interfaces.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::error::Hint;
use sluice_core::format::FormatOptions;
use sluice_core::names::TableName;
use sluice_core::schema::Column;
use sluice_core::storage::ConnectionConfig;
use sluice_sinks::{LoadMode, SinkConfig};

use crate::alerts::Alerts;
use crate::schedule::{Schedule, Timezone};

mod policies;
mod update;
mod versions;
pub use policies::{ChangedFiles, MaxRejected, SchemaPolicy};
pub use update::{FieldChange, JobChange, JobUpdate};
pub use versions::{NewSchemaVersion, SchemaVersion, VersionStatus, fingerprint_of};

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
    pub destination: SinkConfig,
    pub table_name: TableName,
    pub load_type: LoadMode,
    pub max_file_size: u64,
    #[serde(flatten)]
    pub settings: JobSettings,
    pub created_at: DateTime<Utc>,
}

impl Job {
    /// The table's columns: the job's schema, `_rescued` if the job rescues what its columns
    /// cannot hold, then the lineage columns if it has them (the order of a load's batches).
    pub fn table_columns(&self) -> Vec<Column> {
        let mut columns = self.schema.clone();
        if self.settings.schema_policy == SchemaPolicy::Rescue {
            columns.push(sluice_core::schema::evolve::rescued_column());
        }
        if self.settings.lineage {
            columns.extend(sluice_core::schema::lineage::columns());
        }
        columns
    }
}

/// What can change about a job after it is created: when it runs, who hears about it, and
/// how it treats files that change or are still arriving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// A file that fails the same way on this many runs in a row is parked: recorded as
    /// failed, alerted on, and no longer tried (0: never parked).
    #[serde(default = "default_park_after")]
    pub park_after_failures: u32,
    /// What a run does with a file whose content changed after it was loaded.
    #[serde(default)]
    pub changed_files: ChangedFiles,
    /// A file is taken only once its last modification is this many seconds old (0: at once).
    #[serde(default)]
    pub settle_time_seconds: u64,
    /// A folder's files are taken only once a file of this name (`_SUCCESS`) is in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_marker: Option<String>,
    /// The table has the lineage columns (`_sluice_file`, `_sluice_line`,
    /// `_sluice_loaded_at`). Set when the job is created; what lets a changed file's rows be
    /// replaced and a forgotten file's rows be deleted.
    #[serde(default = "yes")]
    pub lineage: bool,
    /// A compressed file may decompress to at most this many times its stored size (and at
    /// least 64 MiB): past it, it is stopped as a possible decompression bomb.
    #[serde(default = "default_expansion")]
    pub max_expansion: u32,
    /// Which entries of a zip archive are the job's files: a glob on their paths inside
    /// it (`data/*.csv`); by default every entry whose extension is the format's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_entries: Option<String>,
    /// What a run does with a file whose columns differ from the job's.
    #[serde(default)]
    pub schema_policy: SchemaPolicy,
    /// Transforms, filters and validation rules each row passes before it is loaded.
    #[serde(default, flatten)]
    pub row_rules: sluice_rules::RowRules,
    /// How many bad rows of a file go to `<table>_rejected` before the file fails.
    #[serde(default)]
    pub max_rejected: MaxRejected,
    /// Rows with the same key load once: within a file and against the table's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<sluice_sinks::dedup::Dedup>,
    /// The file's columns the job leaves out (by the file's names): not a schema change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_columns: Vec<String>,
    /// The job's columns set from an expression (a transform), which files do not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived_columns: Vec<String>,
}

pub(crate) fn default_expansion() -> u32 {
    sluice_core::format::compression::Limits::DEFAULT_EXPANSION
}

/// Failures in a row, the same each time, after which a file is parked.
pub const DEFAULT_PARK_AFTER: u32 = 3;

fn yes() -> bool {
    true
}

fn default_park_after() -> u32 {
    DEFAULT_PARK_AFTER
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            schedule: Schedule::default(),
            timezone: Timezone::default(),
            paused: false,
            alerts: Alerts::default(),
            park_after_failures: DEFAULT_PARK_AFTER,
            changed_files: ChangedFiles::Reload,
            settle_time_seconds: 0,
            ready_marker: None,
            lineage: true,
            max_expansion: default_expansion(),
            archive_entries: None,
            schema_policy: SchemaPolicy::Fail,
            row_rules: sluice_rules::RowRules::default(),
            max_rejected: MaxRejected::None,
            dedup: None,
            ignored_columns: Vec::new(),
            derived_columns: Vec::new(),
        }
    }
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
    pub destination: SinkConfig,
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

    pub const ALL: [RunStatus; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::PartiallyFailed,
        Self::Failed,
    ];
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown run status '{s}'"))
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// Its content is a loaded file's (a touch, a copy, a re-upload of the same bytes):
    /// recorded as loaded, no row loaded again.
    SkippedSameContent,
    /// It changed since it was loaded and the job keeps the first version.
    SkippedIgnoredChange,
    /// It changed between the listing and its read: nothing of it was loaded; the next
    /// run takes its new version.
    SkippedChanged,
    /// Not loaded because another file of the same all-or-nothing load failed.
    SkippedWithOthers,
    /// Held back by a gate: not settled yet, or its folder has no ready marker.
    Waiting,
    /// It changed since it was loaded and the job's policy is to fail such files.
    FailedChanged,
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
            Self::SkippedSameContent => "skipped_same_content",
            Self::SkippedIgnoredChange => "skipped_ignored_change",
            Self::SkippedChanged => "skipped_changed",
            Self::SkippedWithOthers => "skipped_with_others",
            Self::Waiting => "waiting",
            Self::FailedChanged => "failed_changed",
            Self::FailedSchemaMismatch => "failed_schema_mismatch",
            Self::FailedParse => "failed_parse",
            Self::FailedDestination => "failed_destination",
            Self::FailedStorage => "failed_storage",
        }
    }

    pub const ALL: [FileOutcome; 14] = [
        Self::Loaded,
        Self::Recovered,
        Self::SkippedTooLarge,
        Self::SkippedClaimed,
        Self::SkippedSameContent,
        Self::SkippedIgnoredChange,
        Self::SkippedChanged,
        Self::SkippedWithOthers,
        Self::Waiting,
        Self::FailedChanged,
        Self::FailedSchemaMismatch,
        Self::FailedParse,
        Self::FailedDestination,
        Self::FailedStorage,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The file's rows are in the destination (loaded now, or found committed).
    pub fn is_loaded(self) -> bool {
        matches!(self, Self::Loaded | Self::Recovered)
    }

    /// Passed over by this run (too large, a repeat, changed, held back).
    pub fn is_skipped(self) -> bool {
        !self.is_loaded() && !self.is_failure() && self != Self::Waiting
    }

    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::FailedChanged
                | Self::FailedSchemaMismatch
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
            Self::SkippedSameContent => "skipped: same content as a loaded file",
            Self::SkippedIgnoredChange => "skipped: changed since loaded, first version kept",
            Self::SkippedChanged => "skipped: changed while it was read",
            Self::SkippedWithOthers => "skipped: another file of the same load failed",
            Self::Waiting => "waiting",
            Self::FailedChanged => "failed: changed since it was loaded",
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
    /// What to do about a failure, where a setting does it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
    pub rows_loaded: u64,
    /// Rows of the file sent to the quarantine table instead.
    #[serde(default)]
    pub rows_rejected: u64,
    /// The process that loaded it (`host:pid@…`), in a run shared among workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

impl RunFile {
    /// A file taken up by a run, before anything happened to it.
    pub fn taken(file: &sluice_core::storage::FileEntry) -> Self {
        Self {
            file_path: file.path.clone(),
            file_version: file.version_key(),
            file_size_bytes: file.size,
            outcome: FileOutcome::Loaded,
            message: None,
            hint: None,
            rows_loaded: 0,
            rows_rejected: 0,
            worker: None,
        }
    }

    /// Another runner claimed the file between this run's listing and its claim.
    pub fn claimed_elsewhere(&mut self) {
        self.outcome = FileOutcome::SkippedClaimed;
        self.message = Some("another run holds or finished this file".into());
        self.hint = None;
    }
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
    /// Rows its files sent to the quarantine table.
    #[serde(default)]
    pub rows_rejected: u64,
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
    pub status: LedgerStatus,
    pub load_id: String,
    pub processed_at: DateTime<Utc>,
    pub rows_loaded: u64,
    pub run_id: Option<i64>,
    /// Runs in a row that failed this version the same way (0 once loaded or never failed).
    #[serde(default)]
    pub failures: u32,
    /// How it last failed: its outcome and message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Its content's identity (`md5:<hex>`): the store's checksum, or computed while read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The loaded file whose content it repeats (its own path if only its timestamp
    /// changed): recorded as loaded without loading a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
    /// How many times a person forgot it so that it loads again.
    #[serde(default)]
    pub generation: u32,
}

impl ProcessedFile {
    pub fn is_loaded(&self) -> bool {
        self.status == LedgerStatus::Loaded
    }
}

/// Where a file version is in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerStatus {
    /// Claimed by a run; its load has not been seen to commit.
    Loading,
    /// Committed in the destination.
    Loaded,
    /// Its last load failed; the next run tries it again.
    Failed,
    /// It failed the same way on the job's `park_after_failures` runs in a row and is no
    /// longer tried; a new version of the file is taken as usual.
    Parked,
    /// A person marked it skipped: it is not tried (until retried).
    Skipped,
    /// A person forgot it: it loads again, as if it were new.
    Forgotten,
}

impl LedgerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Loaded => "loaded",
            Self::Failed => "failed",
            Self::Parked => "parked",
            Self::Skipped => "skipped",
            Self::Forgotten => "forgotten",
        }
    }
}

impl FromStr for LedgerStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "loading" => Ok(Self::Loading),
            "loaded" => Ok(Self::Loaded),
            "failed" => Ok(Self::Failed),
            "parked" => Ok(Self::Parked),
            "skipped" => Ok(Self::Skipped),
            "forgotten" => Ok(Self::Forgotten),
            other => Err(format!("unknown ledger status '{other}'")),
        }
    }
}

/// A run in numbers, without its files and log (metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTotals {
    pub job: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub files_loaded: u64,
    pub rows_loaded: u64,
    pub bytes_loaded: u64,
}

impl RunTotals {
    pub fn duration_seconds(&self) -> Option<f64> {
        self.finished_at
            .map(|f| (f - self.started_at).num_milliseconds() as f64 / 1000.0)
    }
}
