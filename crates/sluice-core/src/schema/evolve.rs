//! How a job's schema takes a file's changes: the schema a difference leads to under what
//! a policy allows, and the change a destination table needs to hold it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Column, ColumnType, Mode, SchemaDiff, WarehouseType};

/// The column that holds, as a JSON object per row, the values of a file's columns the
/// job's schema does not have or whose values its types cannot hold (the rescue policy).
pub const RESCUED: &str = "_rescued";

/// The `_rescued` column: JSON, nullable (NULL where nothing was rescued).
pub fn rescued_column() -> Column {
    Column::new(RESCUED, WarehouseType::Json)
}

/// What a schema change may do to a job's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// New columns (nullable), and missing ones made nullable so they load as NULL.
    AddColumns,
    /// Also a column's type widened to one every value of the old type loads into:
    /// INT64 → NUMERIC or FLOAT64, NUMERIC → FLOAT64, DATE → TIMESTAMP.
    Widen,
    /// Also a type the file's values load into only as text: a column becomes STRING. What a
    /// person approving a proposed version may accept.
    Any,
}

/// Whether a column of type `from` can become `to` keeping every value it holds: arrays
/// never change shape; STRING takes anything only where `to_string` (a person asked).
pub fn widens(from: ColumnType, to: ColumnType, to_string: bool) -> bool {
    use WarehouseType::*;
    if from == to {
        return true;
    }
    if from.repeated || to.repeated || from.ty == Json || from.ty == Bytes {
        return false;
    }
    matches!(
        (from.ty, to.ty),
        (Int64, Float64) | (Int64, Numeric) | (Numeric, Float64) | (Date, Timestamp)
    ) || (to_string && to.ty == String)
}

/// The job's columns evolved to take the file's as `allow` lets them: new columns added at
/// the end (nullable), missing ones made nullable, retyped ones widened. Or, what `allow`
/// does not take, one line per column.
pub fn evolve(job: &[Column], diff: &SchemaDiff, allow: Allow) -> Result<Vec<Column>, Vec<String>> {
    let mut columns = job.to_vec();
    let mut refused = Vec::new();
    for (name, job_type, file_type) in &diff.retyped {
        let to = match allow {
            Allow::AddColumns => None,
            Allow::Widen => Some(*file_type).filter(|t| widens(*job_type, *t, false)),
            // Where the file's type is not wider, the column becomes text (both scalar).
            Allow::Any => Some(*file_type)
                .filter(|t| widens(*job_type, *t, false))
                .or_else(|| {
                    let text = ColumnType::new(WarehouseType::String, Mode::Nullable);
                    widens(*job_type, text, true).then_some(text)
                }),
        };
        match (to, columns.iter_mut().find(|c| &c.name == name)) {
            (Some(to), Some(c)) => c.ty = to.ty,
            _ => refused.push(match allow {
                Allow::AddColumns => format!(
                    "{name}: job has {job_type}, file has {file_type} (a type change; the widen policy takes lossless ones)"
                ),
                _ => format!("{name}: job has {job_type}, file has {file_type}, which it cannot widen to"),
            }),
        }
    }
    for removed in &diff.removed {
        if let Some(c) = columns.iter_mut().find(|c| c.name == removed.name)
            && c.mode == Mode::Required
        {
            c.mode = Mode::Nullable;
        }
    }
    for added in &diff.added {
        let mut c = added.clone();
        if c.mode == Mode::Required {
            c.mode = Mode::Nullable;
        }
        columns.push(c);
    }
    if refused.is_empty() {
        Ok(columns)
    } else {
        Err(refused)
    }
}

/// What makes a table of columns `from` hold columns `to`: columns to add, types to widen,
/// NOT NULL to drop. A column `from` has that `to` lacks stays in the table (nothing is
/// dropped), nullable, and loads leave it NULL. Only an edit of the schema by its user
/// renames or drops columns; sinks apply the drops first, then the renames, then the rest
/// (which name columns by their new names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChange {
    /// Columns dropped from the table, with their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// `(from, to)`: columns renamed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rename: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<Column>,
    /// `(name, from, to)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retype: Vec<(String, ColumnType, ColumnType)>,
    /// Columns whose NOT NULL goes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relax: Vec<String>,
}

impl TableChange {
    pub fn between(from: &[Column], to: &[Column]) -> Self {
        let mut change = Self::default();
        for c in to {
            match from.iter().find(|f| f.name == c.name) {
                None => change.add.push(c.clone()),
                Some(f) => {
                    if f.column_type() != c.column_type() {
                        change
                            .retype
                            .push((c.name.clone(), f.column_type(), c.column_type()));
                    }
                    if f.mode == Mode::Required && c.mode != Mode::Required {
                        change.relax.push(c.name.clone());
                    }
                }
            }
        }
        for f in from {
            if f.mode == Mode::Required && !to.iter().any(|c| c.name == f.name) {
                change.relax.push(f.name.clone());
            }
        }
        change
    }

    pub fn is_empty(&self) -> bool {
        self.drop.is_empty()
            && self.rename.is_empty()
            && self.add.is_empty()
            && self.retype.is_empty()
            && self.relax.is_empty()
    }
}

impl fmt::Display for TableChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.drop.iter().map(|n| format!("drop {n}")));
        parts.extend(
            self.rename
                .iter()
                .map(|(from, to)| format!("rename {from} to {to}")),
        );
        parts.extend(
            self.add
                .iter()
                .map(|c| format!("add {} {}", c.name, c.column_type())),
        );
        parts.extend(
            self.retype
                .iter()
                .map(|(n, from, to)| format!("change {n} from {from} to {to}")),
        );
        parts.extend(self.relax.iter().map(|n| format!("let {n} be NULL")));
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(t: WarehouseType) -> ColumnType {
        ColumnType::new(t, Mode::Nullable)
    }

    fn required(name: &str, t: WarehouseType) -> Column {
        Column {
            mode: Mode::Required,
            ..Column::new(name, t)
        }
    }

    fn file_diff() -> SchemaDiff {
        SchemaDiff {
            added: vec![required("channel", WarehouseType::String)],
            removed: vec![required("note", WarehouseType::String)],
            retyped: vec![(
                "amount".into(),
                ty(WarehouseType::Int64),
                ty(WarehouseType::Float64),
            )],
            moved: vec![],
        }
    }

    fn job() -> Vec<Column> {
        vec![
            Column::new("id", WarehouseType::Int64),
            Column::new("amount", WarehouseType::Int64),
            required("note", WarehouseType::String),
        ]
    }

    #[test]
    fn add_columns_refuses_a_type_change_and_widen_takes_it() {
        let refused = evolve(&job(), &file_diff(), Allow::AddColumns).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert!(refused[0].starts_with("amount: job has INT64, file has FLOAT64"));

        let evolved = evolve(&job(), &file_diff(), Allow::Widen).unwrap();
        let names: Vec<_> = evolved.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "amount", "note", "channel"]);
        assert_eq!(evolved[1].ty, WarehouseType::Float64);
        // Missing and new columns are nullable: missing ones load as NULL.
        assert_eq!(evolved[2].mode, Mode::Nullable);
        assert_eq!(evolved[3].mode, Mode::Nullable);

        let change = TableChange::between(&job(), &evolved);
        assert_eq!(
            change.to_string(),
            "add channel STRING, change amount from INT64 to FLOAT64, let note be NULL"
        );
        assert!(TableChange::between(&evolved, &evolved).is_empty());
    }

    #[test]
    fn widen_refuses_a_lossy_change_and_a_proposal_makes_it_text() {
        let d = SchemaDiff {
            retyped: vec![(
                "when".into(),
                ty(WarehouseType::Int64),
                ty(WarehouseType::Timestamp),
            )],
            ..SchemaDiff::default()
        };
        let job = vec![Column::new("when", WarehouseType::Int64)];
        assert!(evolve(&job, &d, Allow::Widen).is_err());
        let proposed = evolve(&job, &d, Allow::Any).unwrap();
        assert_eq!(proposed[0].ty, WarehouseType::String);
        assert!(!widens(
            ty(WarehouseType::Float64),
            ty(WarehouseType::Int64),
            true
        ));
        assert!(widens(
            ty(WarehouseType::Date),
            ty(WarehouseType::Timestamp),
            false
        ));
        let array = ColumnType::new(WarehouseType::Int64, Mode::Repeated);
        assert!(!widens(array, ty(WarehouseType::String), true));
    }
}
