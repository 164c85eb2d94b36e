//! The schema gate: a file's columns (detected from its sample) against the job's, before a
//! row of it is read. A file that differs is refused, or taken as the job's schema policy
//! allows: the job's schema evolved to hold it, or its stray values rescued.

use sluice_core::format;
use sluice_core::schema::evolve::{self, Allow};
use sluice_core::schema::{Column, DetectedSchema, Mode, SchemaDiff, diff, read_view};
use sluice_core::storage::{FileEntry, Store};

use super::Failure;
use super::rescue::Rescue;
use crate::model::{FileOutcome, Job, SchemaPolicy};

/// Why a file does not pass the gate.
pub(crate) enum Gate {
    /// It holds no rows (what it holds instead): settled as loaded with none.
    Empty(String),
    /// Its columns differ from the job's in a way the policy does not take.
    Refused(Box<Refused>),
    Failed(Failure),
}

impl From<Failure> for Gate {
    fn from(f: Failure) -> Self {
        Self::Failed(f)
    }
}

/// A file's columns differ from the job's in a way the policy does not take.
pub(crate) struct Refused {
    pub diff: SchemaDiff,
    /// What the policy does not take, one line per column.
    pub why: Vec<String>,
    /// The job's schema evolved to hold the file's columns, where one can (for a person to
    /// approve).
    pub proposal: Option<Vec<Column>>,
    /// The file's fingerprint.
    pub fingerprint: String,
}

/// How a file that passes the gate is taken.
pub(crate) enum Admission {
    /// Its columns are the job's (by name where the format reads them so).
    Matches,
    /// The job's schema becomes `columns` to hold it (the policy's change).
    Evolve {
        columns: Vec<Column>,
        diff: SchemaDiff,
    },
    /// The table stays; values the job's columns cannot hold are rescued.
    Rescue(Rescue),
}

pub(crate) struct Checked {
    pub detected: DetectedSchema,
    pub admission: Admission,
}

pub(crate) struct SchemaGate;

impl SchemaGate {
    /// Detects the file's schema from its sample and checks it against the job's.
    pub(crate) async fn check(job: &Job, store: &Store, file: &FileEntry) -> Result<Checked, Gate> {
        let reading = super::reading_of(&job.settings);
        let detected =
            match format::detect_with(store, file, &job.file_format_options, &reading).await {
                Ok(d) => d,
                Err(sluice_core::Error::NoRows { what, .. }) => return Err(Gate::Empty(what)),
                Err(e) => return Err(Failure::from_core(e).into()),
            };
        let admission = Self::judge(job, &detected)?;
        Ok(Checked {
            detected,
            admission,
        })
    }

    /// How the job takes a file of the `detected` schema, by its schema policy.
    pub(crate) fn judge(job: &Job, detected: &DetectedSchema) -> Result<Admission, Gate> {
        if detected.schema_fingerprint == job.schema_fingerprint {
            return Ok(Admission::Matches);
        }
        // The file's columns against the job's as its files hold them.
        let read = read_view(&job.schema);
        let mut d = diff(&read, &detected.columns).as_read_by(&job.file_format_options);
        // Columns the job leaves out, and those it sets itself, are not changes.
        let settings = &job.settings;
        d.added.retain(|c| {
            !settings
                .ignored_columns
                .iter()
                .any(|i| i == c.source_name())
        });
        d.removed
            .retain(|c| !settings.derived_columns.contains(&c.name));
        if super::quarantine::types_rows(job) {
            // Text the sample holds where the job has a type is typed row by row: the
            // values that do not fit are quarantined, not the file.
            d.retyped.retain(|(name, _, file)| {
                !(file.ty == sluice_core::schema::WarehouseType::String
                    && !file.repeated
                    && job
                        .schema
                        .iter()
                        .any(|c| &c.name == name && super::quarantine::typed_here(c)))
            });
        }
        if d.is_empty() {
            return Ok(Admission::Matches);
        }
        let refuse = |why: Vec<String>, d: SchemaDiff| {
            Gate::Refused(Box::new(Refused {
                proposal: evolve::evolve(&read, &d, Allow::Any)
                    .ok()
                    .map(|c| transformed(c, &job.schema)),
                diff: d,
                why,
                fingerprint: detected.schema_fingerprint.clone(),
            }))
        };
        let allow = match job.settings.schema_policy {
            SchemaPolicy::Fail => return Err(refuse(Vec::new(), d)),
            SchemaPolicy::AddColumns => Allow::AddColumns,
            SchemaPolicy::Widen => Allow::Widen,
            SchemaPolicy::Rescue => {
                let required: Vec<String> = d
                    .removed
                    .iter()
                    .filter(|c| c.mode == Mode::Required)
                    .map(|c| format!("{}: the job requires it and the file lacks it", c.name))
                    .collect();
                if !required.is_empty() {
                    return Err(refuse(required, d));
                }
                return Ok(Admission::Rescue(Rescue::plan(job, &detected.columns, &d)));
            }
        };
        match evolve::evolve(&read, &d, allow).map(|c| transformed(c, &job.schema)) {
            // Nothing to change: a file that lacks a column the job has as nullable.
            Ok(columns) if columns == job.schema => Ok(Admission::Matches),
            Ok(columns) => Ok(Admission::Evolve { columns, diff: d }),
            Err(why) => Err(refuse(why, d)),
        }
    }

    /// The failure of a refused file: the difference, why the policy did not take it, and
    /// the proposed version that would (`proposed`).
    pub(crate) fn refusal(
        job: &Job,
        file: &FileEntry,
        diff: SchemaDiff,
        why: &[String],
        proposed: Option<u32>,
    ) -> Failure {
        let diff_retypes = !diff.retyped.is_empty();
        let mut message = sluice_core::Error::SchemaMismatch {
            path: file.path.clone(),
            diff,
        }
        .to_string()
        .trim_end()
        .to_string();
        if !why.is_empty() {
            message.push_str(&format!(
                "\nthe job's schema policy ({}) does not take: {}",
                job.settings.schema_policy,
                why.join("; ")
            ));
        }
        let takes = if diff_retypes { "widen" } else { "add-columns" };
        let hint = match proposed {
            Some(n) => {
                message.push_str(&format!(
                    "\nkept as proposed schema version {n}: `sluice jobs schema {} --approve {n}` accepts it and alters the table; the file loads on the next run",
                    job.name
                ));
                sluice_core::error::Hint::set(
                    format!("or let the job take such changes itself: schema policy {takes}"),
                    "schema_policy",
                    Some(takes),
                )
            }
            None => sluice_core::error::Hint::text(
                "edit the job's schema (`sluice jobs schema JOB --edit`) or change the file",
            ),
        };
        Failure {
            outcome: FileOutcome::FailedSchemaMismatch,
            message,
            hint: Some(hint),
            transient: false,
        }
    }
}

/// `evolved` (the job's columns as its files hold them, changed to hold a file's) with the
/// types the job's transforms make of them again: a column a transform retypes is read as
/// the file's type now and still made the job's.
fn transformed(mut evolved: Vec<Column>, job: &[Column]) -> Vec<Column> {
    for c in &mut evolved {
        if let Some(j) = job.iter().find(|j| j.name == c.name && j.read_as.is_some()) {
            c.read_as = Some(c.ty);
            c.ty = j.ty;
        }
    }
    evolved
}
