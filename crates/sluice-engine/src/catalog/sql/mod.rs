//! What the SQLite and PostgreSQL catalogs share: their queries and how rows become
//! records, written once per concern (one file each: connections, jobs, ledger, runs,
//! incidents, a shared run's files) as a macro that [`catalog!`] expands for each backend. Queries are written
//! with `?` placeholders and numbered (`$1`, `$2`, …) for PostgreSQL; they keep to SQL both
//! backends speak (`RETURNING`, `ON CONFLICT`, partial unique indexes, window functions,
//! `CAST(? AS TEXT)` where PostgreSQL must know a parameter's type).

mod connections;
mod incidents;
mod jobs;
mod ledger;
mod runs;
mod schemas;
mod tasks;

pub(super) use connections::connections;
pub(super) use incidents::incidents;
pub(super) use jobs::jobs;
pub(super) use ledger::ledger;
pub(super) use runs::runs;
pub(super) use schemas::schemas;
pub(super) use tasks::tasks;

use crate::Error;

pub(super) fn db(e: sqlx::Error) -> Error {
    Error::Catalog(e.to_string())
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("catalog records serialize")
}

pub(super) const JOB_COLUMNS: &str = "j.id, j.uid, j.name, c.name AS connection, j.file_path_prefix, j.file_pattern,
    j.file_format_options, j.load_latest_only, j.schema, j.schema_fingerprint, j.destination, j.table_name,
    j.load_type, j.schedule, j.timezone, j.paused, j.alerts, j.max_file_size, j.park_after_failures, j.policies,
    j.created_at";

/// A job's file policies as its `policies` column holds them. A key a job stored before the
/// policy existed lacks reads as what that job did then: changed files appended as new
/// rows, no lineage columns, no gates.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Policies {
    #[serde(default = "crate::model::ChangedFiles::legacy")]
    changed_files: crate::model::ChangedFiles,
    #[serde(default)]
    settle_time_seconds: u64,
    #[serde(default)]
    ready_marker: Option<String>,
    #[serde(default)]
    lineage: bool,
    #[serde(default = "crate::model::default_expansion")]
    max_expansion: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    archive_entries: Option<String>,
    #[serde(default)]
    schema_policy: crate::model::SchemaPolicy,
    #[serde(default, skip_serializing_if = "sluice_rules::RowRules::is_empty")]
    row_rules: sluice_rules::RowRules,
    #[serde(default)]
    max_rejected: crate::model::MaxRejected,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dedup: Option<sluice_sinks::dedup::Dedup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ignored_columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    derived_columns: Vec<String>,
}

impl Policies {
    pub(super) fn of(settings: &crate::model::JobSettings) -> String {
        to_json(&Self {
            changed_files: settings.changed_files,
            settle_time_seconds: settings.settle_time_seconds,
            ready_marker: settings.ready_marker.clone(),
            lineage: settings.lineage,
            max_expansion: settings.max_expansion,
            archive_entries: settings.archive_entries.clone(),
            schema_policy: settings.schema_policy,
            row_rules: settings.row_rules.clone(),
            max_rejected: settings.max_rejected,
            dedup: settings.dedup.clone(),
            ignored_columns: settings.ignored_columns.clone(),
            derived_columns: settings.derived_columns.clone(),
        })
    }

    pub(super) fn apply(self, settings: &mut crate::model::JobSettings) {
        settings.changed_files = self.changed_files;
        settings.settle_time_seconds = self.settle_time_seconds;
        settings.ready_marker = self.ready_marker;
        settings.lineage = self.lineage;
        settings.max_expansion = self.max_expansion;
        settings.archive_entries = self.archive_entries;
        settings.schema_policy = self.schema_policy;
        settings.row_rules = self.row_rules;
        settings.max_rejected = self.max_rejected;
        settings.dedup = self.dedup;
        settings.ignored_columns = self.ignored_columns;
        settings.derived_columns = self.derived_columns;
    }
}

pub(super) const RUN_COLUMNS: &str =
    "r.id, j.name AS job, r.status, r.started_at, r.finished_at, r.files_seen,
    r.files_already_loaded, r.error, r.queued_at, r.scheduled_for";

/// `?` placeholders numbered for PostgreSQL: `a = ? AND b = ?` → `a = $1 AND b = $2`.
/// (The catalog's statements hold no `?` inside string literals.)
pub(super) fn numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Implements every catalog trait for `$name`, whose `pool` is of the backend whose rows are
/// `$row`; `$numbered` says whether its placeholders are `$1` rather than `?`.
macro_rules! catalog {
    ($name:ident, $row:ty, $numbered:expr) => {
        impl $name {
            /// Whether this backend numbers its placeholders (PostgreSQL), and has a clock
            /// of its own that processes on several machines share.
            const NUMBERED: bool = $numbered;

            /// The statement in this backend's placeholder style.
            fn sql(text: &str) -> sqlx::AssertSqlSafe<String> {
                sqlx::AssertSqlSafe(if $numbered {
                    super::sql::numbered(text)
                } else {
                    text.to_string()
                })
            }

            fn json<T: serde::de::DeserializeOwned>(row: &$row, col: &str) -> Result<T> {
                let text: String = row.try_get(col).map_err(db)?;
                serde_json::from_str(&text)
                    .map_err(|e| Error::Catalog(format!("column {col} holds invalid JSON: {e}")))
            }

            fn parsed<T: FromStr>(row: &$row, col: &str) -> Result<T>
            where
                T::Err: std::fmt::Display,
            {
                let text: String = row.try_get(col).map_err(db)?;
                text.parse()
                    .map_err(|e| Error::Catalog(format!("column {col} holds '{text}': {e}")))
            }
        }

        super::sql::connections!($name, $row);
        super::sql::jobs!($name, $row);
        super::sql::ledger!($name, $row);
        super::sql::runs!($name, $row);
        super::sql::incidents!($name, $row);
        super::sql::schemas!($name, $row);
        super::sql::tasks!($name, $row);
    };
}

pub(super) use catalog;

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            super::numbered(
                "UPDATE t SET a = ? WHERE b = ? AND (CAST(? AS TEXT) IS NULL OR c = ?)"
            ),
            "UPDATE t SET a = $1 WHERE b = $2 AND (CAST($3 AS TEXT) IS NULL OR c = $4)"
        );
    }
}
