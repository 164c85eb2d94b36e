//! An edit of a job's schema by its user: columns dropped, renamed, retyped. The table
//! changes with it; files keep their own names for the columns (`source`), so the schema
//! gate and the readers match them as before, and a dropped column's values are left out.

use serde::{Deserialize, Serialize};
use sluice_core::format::FormatOptions;
use sluice_core::schema::evolve::{RESCUED, widens};
use sluice_core::schema::{Column, ColumnType, TableChange, lineage};

use crate::model::{Job, JobSettings, SchemaPolicy};
use crate::{Error, Result};

/// What an edit changes; columns are named as the job names them before it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaEdit {
    /// A column and its new type: only a change that keeps every value (INT64 to NUMERIC
    /// or FLOAT64, DATE to TIMESTAMP, anything but an array to STRING).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<(String, ColumnType)>,
    /// `(from, to)`: a column renamed in the table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rename: Vec<(String, String)>,
    /// Columns dropped from the table, with their values; files' values of them are left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

impl SchemaEdit {
    /// An edit of column types only.
    pub fn types(types: Vec<(String, ColumnType)>) -> Self {
        Self {
            types,
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.rename.is_empty() && self.drop.is_empty()
    }
}

/// The job's schema and settings after an edit, and what the table must do to follow.
pub(crate) struct Edited {
    pub schema: Vec<Column>,
    pub settings: JobSettings,
    pub change: TableChange,
}

fn bad(message: String) -> Error {
    Error::invalid("schema", message)
}

/// The position of `column` in `schema`, or an error naming the columns there are.
fn position(job: &Job, schema: &[Column], column: &str) -> Result<usize> {
    schema.iter().position(|c| c.name == column).ok_or_else(|| {
        bad(format!(
            "job '{}' has no column {column}; its columns are {}",
            job.name,
            crate::mapping::names(&job.schema)
        ))
    })
}

/// A name the table can give a column: valid, and none of sluice's own.
fn check_new_name(from: &str, to: &str) -> Result<()> {
    crate::mapping::check_column_name(&format!("rename {from} to"), to).map_err(bad)?;
    if lineage::is_lineage(to) || to == RESCUED {
        return Err(bad(format!(
            "cannot rename {from} to {to}: sluice keeps that name for its own column"
        )));
    }
    Ok(())
}

/// `edit` applied to `job`: checked column by column, and against the job's rules,
/// transforms and dedup key, which must still read against the edited columns.
///
/// # Errors
/// [`Error::Invalid`] (field `schema`) naming the column or setting the edit cannot take.
pub(crate) fn apply(job: &Job, edit: &SchemaEdit) -> Result<Edited> {
    if edit.is_empty() {
        return Err(bad(
            "the edit changes nothing: give a type, a rename or a column to drop".into(),
        ));
    }
    let mut schema = job.schema.clone();
    let mut settings = job.settings.clone();
    let by_position = matches!(&job.file_format_options, FormatOptions::Csv(c) if !c.header());
    if by_position && !edit.drop.is_empty() {
        return Err(bad(
            "the job reads a CSV file without a header by position: its columns cannot be dropped (rename them, or give the files a header)".into(),
        ));
    }
    for name in &edit.drop {
        let at = position(job, &schema, name)?;
        if name == RESCUED && settings.schema_policy == SchemaPolicy::Rescue {
            return Err(bad(format!(
                "column {RESCUED} holds the values the job's rescue policy keeps; choose another schema policy first"
            )));
        }
        let column = schema.remove(at);
        if settings.derived_columns.contains(&column.name) {
            settings.derived_columns.retain(|d| d != &column.name);
            settings
                .row_rules
                .transforms
                .retain(|t| t.column != column.name);
        } else if column.name != RESCUED {
            settings
                .ignored_columns
                .push(column.source_name().to_string());
        }
    }
    if schema.is_empty() {
        return Err(bad(format!(
            "the edit would drop every column of job '{}'",
            job.name
        )));
    }
    // The job's columns as renamed, with their types before the edit: what the table's
    // retyping starts from.
    let mut renamed = schema.clone();
    for (from, to) in &edit.rename {
        if edit.drop.contains(from) {
            return Err(bad(format!("column {from} is both renamed and dropped")));
        }
        let at = position(job, &schema, from)?;
        check_new_name(from, to)?;
        if from == RESCUED {
            return Err(bad(format!(
                "column {RESCUED} is sluice's own; it cannot be renamed"
            )));
        }
        if schema.iter().any(|c| &c.name == to) {
            return Err(bad(format!(
                "cannot rename {from} to {to}: the job has a column {to} already; its columns are {}",
                crate::mapping::names(&schema)
            )));
        }
        let column = &mut schema[at];
        if let Some(d) = settings.derived_columns.iter_mut().find(|d| *d == from) {
            d.clone_from(to);
            for t in settings
                .row_rules
                .transforms
                .iter_mut()
                .filter(|t| &t.column == from)
            {
                t.column.clone_from(to);
            }
        } else {
            column.source = Some(column.source_name().to_string());
        }
        column.name.clone_from(to);
        renamed[at].name.clone_from(to);
        if let Some(dedup) = settings.dedup.as_mut() {
            for k in dedup.key.iter_mut().filter(|k| *k == from) {
                k.clone_from(to);
            }
        }
    }
    for (name, to) in &edit.types {
        if edit.drop.contains(name) {
            return Err(bad(format!("column {name} is both retyped and dropped")));
        }
        let now = edit
            .rename
            .iter()
            .find(|(from, _)| from == name)
            .map_or(name.as_str(), |(_, to)| to.as_str());
        let at = position(job, &schema, now)?;
        let c = &mut schema[at];
        if !widens(c.column_type(), *to, true) {
            return Err(bad(format!(
                "column {name} cannot change from {} to {to} in place: the table's values might not convert (a type can widen: INT64 to NUMERIC or FLOAT64, DATE to TIMESTAMP, anything but an array to STRING)",
                c.column_type()
            )));
        }
        c.ty = to.ty;
    }
    if schema == job.schema {
        return Err(bad("the edit changes nothing in the job's schema".into()));
    }
    crate::jobs::check_rules(&settings, &schema).map_err(|e| {
        bad(format!(
            "after the edit, the job's settings would not read against its columns ({e}); a rule, filter, transform or dedup key that names a renamed or dropped column must go first (sluice jobs update {} --no-rules or --no-dedup, or clear it on the job page) and come back with the new names",
            job.name
        ))
    })?;
    let mut change = TableChange::between(&renamed, &schema);
    change.drop.clone_from(&edit.drop);
    change.rename.clone_from(&edit.rename);
    Ok(Edited {
        schema,
        settings,
        change,
    })
}
