//! A job's files for people: the plan of its next run (what each matching file would get,
//! and the schema of each file to load against the job's), and the ledger actions a person
//! takes on one file — skip it, try it again, forget it so it loads again.

use serde::Serialize;
use sluice_core::format;
use sluice_core::schema::{SchemaDiff, diff};
use sluice_core::storage::Store;

use crate::Result;
use crate::model::{FieldChange, Job};
use crate::plan::{Action, Planned};

/// How many files to load a plan reads the head of, to compare their schema.
pub const PLAN_SCHEMA_FILES: usize = 20;

/// What the next run of a job would do, without loading anything.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub job: String,
    /// Whether the run would take only the newest file left.
    pub load_latest_only: bool,
    /// Every matching file, newest first, with its action and reason.
    pub files: Vec<Planned>,
    pub files_to_load: u64,
    pub files_waiting: u64,
    pub files_skipped: u64,
    pub files_to_fail: u64,
    /// The schema of files to load (the first [`PLAN_SCHEMA_FILES`]) against the job's,
    /// read from each file's head.
    pub schema: Vec<FileSchema>,
    /// For a change not yet saved: what it changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

/// One file's schema against the job's.
#[derive(Debug, Clone, Serialize)]
pub struct FileSchema {
    pub file_path: String,
    /// Whether the file's columns are the job's.
    pub matches: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<SchemaDiff>,
    /// What the job's schema policy does with the difference, where it takes it
    /// (`add-columns: add channel STRING`); none where the file is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<String>,
    /// Why the head could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PlanReport {
    /// A report with no files (a change that does not change which files are taken).
    pub(crate) fn empty(job: &Job) -> Self {
        Self {
            job: job.name.clone(),
            load_latest_only: job.load_latest_only,
            files: Vec::new(),
            files_to_load: 0,
            files_waiting: 0,
            files_skipped: 0,
            files_to_fail: 0,
            schema: Vec::new(),
            changes: Vec::new(),
        }
    }

    pub(crate) async fn new(
        job: &Job,
        store: &Store,
        files: Vec<Planned>,
        latest_only: bool,
    ) -> Self {
        let count = |a: Action| files.iter().filter(|p| p.action == a).count() as u64;
        let mut schema = Vec::new();
        for p in files
            .iter()
            .filter(|p| p.action == Action::Load)
            .take(PLAN_SCHEMA_FILES)
        {
            let reading = crate::pipeline::reading_of(&job.settings);
            let detected =
                format::detect_with(store, &p.file, &job.file_format_options, &reading).await;
            let entry = match detected {
                Ok(detected) => {
                    let d =
                        diff(&job.schema, &detected.columns).as_read_by(&job.file_format_options);
                    let taken = crate::pipeline::taken_by_policy(job, &detected);
                    FileSchema {
                        file_path: p.file.path.clone(),
                        matches: d.is_empty(),
                        diff: (!d.is_empty()).then_some(d),
                        taken,
                        error: None,
                    }
                }
                Err(sluice_core::Error::NoRows { .. }) => FileSchema {
                    file_path: p.file.path.clone(),
                    matches: true,
                    diff: None,
                    taken: None,
                    error: None,
                },
                Err(e) => FileSchema {
                    file_path: p.file.path.clone(),
                    matches: false,
                    diff: None,
                    taken: None,
                    error: Some(e.to_string()),
                },
            };
            schema.push(entry);
        }
        Self {
            job: job.name.clone(),
            load_latest_only: latest_only,
            files_to_load: count(Action::Load),
            files_waiting: count(Action::Wait),
            files_skipped: count(Action::Skip),
            files_to_fail: count(Action::Fail),
            files,
            schema,
            changes: Vec::new(),
        }
    }
}

/// What a person does to one file of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileAction {
    /// Runs pass over the file's current version (a failing file a person gives up on).
    Skip,
    /// Runs try the file again: its failures, parking or skip are forgotten.
    Retry,
    /// The ledger forgets the loaded file, so the next run loads it again.
    Forget,
}

impl std::str::FromStr for FileAction {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "skip" => Ok(Self::Skip),
            "retry" => Ok(Self::Retry),
            "forget" => Ok(Self::Forget),
            other => Err(format!(
                "unknown file action '{other}'; expected skip, retry or forget"
            )),
        }
    }
}

/// What a file action did.
#[derive(Debug, Clone, Serialize)]
pub struct FileActionResult {
    pub file_path: String,
    pub action: FileAction,
    /// Ledger entries (file versions) changed.
    pub versions: u64,
    /// Rows deleted from the table (forget with its rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_deleted: Option<u64>,
    pub message: String,
}

/// Checks that a job's table can have a file's rows deleted.
pub(crate) fn can_delete_rows(job: &Job) -> Result<()> {
    if job.settings.lineage {
        return Ok(());
    }
    Err(crate::Error::invalid(
        "delete_rows",
        format!(
            "job '{}' has no lineage columns, so a file's rows cannot be told from the others; forget the file without deleting its rows",
            job.name
        ),
    ))
}
