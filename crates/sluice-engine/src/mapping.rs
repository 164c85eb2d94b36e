//! Column mapping, set when a job is made: a file's column loaded under another name, a
//! column left out, and columns the file does not have set from a SQL expression of the
//! row (a constant, or of the file's columns). The job's schema is the table's; the file's
//! names stay on its columns (`source`), so readers and the schema gate match the file by
//! them, and the gate takes left-out and derived columns as the job's own.

use serde::{Deserialize, Serialize};
use sluice_core::format::FormatOptions;
use sluice_core::names::TableName;
use sluice_core::schema::Column;

use crate::{Error, Result};

/// How a job maps a file's columns to its table's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMapping {
    /// A file's column (by its detected name) and the table's name for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rename: Vec<(String, String)>,
    /// The file's columns left out of the table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// Table columns the file does not have: `column = SQL expression` of the row, typed as
    /// DuckDB types the expression.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<sluice_rules::Transform>,
}

/// A schema after its mapping.
pub(crate) struct Mapped {
    pub schema: Vec<Column>,
    /// The file's names of the columns left out.
    pub ignored: Vec<String>,
    /// The columns set from an expression.
    pub derived: Vec<String>,
}

impl ColumnMapping {
    pub fn is_empty(&self) -> bool {
        self.rename.is_empty() && self.drop.is_empty() && self.set.is_empty()
    }

    /// `detected` (the file's columns as reviewed) mapped: renamed, left out, derived
    /// columns added after them.
    ///
    /// # Errors
    /// [`Error::Invalid`] (field `column_mapping`) naming a column the file does not have,
    /// a name that is not valid or is taken twice, a column left out of a file read by
    /// position, or an expression DuckDB cannot type.
    pub(crate) fn apply(&self, detected: Vec<Column>, format: &FormatOptions) -> Result<Mapped> {
        let bad = |m: String| Error::invalid("column_mapping", m);
        let known = |name: &str, what: &str| {
            if detected.iter().any(|c| c.name == name) {
                Ok(())
            } else {
                Err(bad(format!(
                    "cannot {what} column {name}: the file has no such column; its columns are {}",
                    names(&detected)
                )))
            }
        };
        let by_position = matches!(format, FormatOptions::Csv(c) if !c.header());
        if by_position && !self.drop.is_empty() {
            return Err(bad(
                "a CSV file without a header is read by position: its columns cannot be left out (load them, or give the file a header)".into(),
            ));
        }
        for d in &self.drop {
            known(d, "leave out")?;
        }
        let mut schema = Vec::with_capacity(detected.len() + self.set.len());
        let mut ignored = Vec::new();
        for c in detected.iter() {
            if self.drop.contains(&c.name) {
                ignored.push(c.source_name().to_string());
                continue;
            }
            let mut c = c.clone();
            if let Some((_, to)) = self.rename.iter().find(|(from, _)| from == &c.name) {
                check_column_name(&format!("rename {} to", c.name), to).map_err(bad)?;
                c.source = Some(c.source_name().to_string());
                c.name = to.clone();
            }
            schema.push(c);
        }
        for (from, _) in &self.rename {
            known(from, "rename")?;
            if self.drop.contains(from) {
                return Err(bad(format!("column {from} is both renamed and left out")));
            }
        }
        let mut derived = Vec::new();
        for t in &self.set {
            check_column_name("set column", &t.column).map_err(bad)?;
            let ty = sluice_rules::result_type(&t.sql, &schema)
                .map_err(|e| bad(format!("set {t}: {e}")))?;
            schema.push(Column::new(&t.column, ty));
            derived.push(t.column.clone());
        }
        for (i, c) in schema.iter().enumerate() {
            if schema[..i].iter().any(|o| o.name == c.name) {
                return Err(bad(format!(
                    "two of the table's columns would be named {}; its columns would be {}",
                    c.name,
                    names(&schema)
                )));
            }
        }
        Ok(Mapped {
            schema,
            ignored,
            derived,
        })
    }
}

/// The names of `columns`, for a message: `id, amount, day`.
pub(crate) fn names(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `name` can name a table's column; the message otherwise says what cannot be
/// done (`what`: `rename note to`) and what a name is.
pub(crate) fn check_column_name(what: &str, name: &str) -> std::result::Result<(), String> {
    TableName::parse(name).map(|_| ()).map_err(|_| {
        format!(
            "cannot {what} '{name}': a column name has letters, digits and '_', starting with a letter or '_'"
        )
    })
}

/// The job's columns with the types its transforms make of them: a transform of a file's
/// column that DuckDB types otherwise than the column (`day = strptime(day, '%d/%m/%Y')::DATE`
/// over a STRING) makes the table's column of the expression's type, read from the file as
/// its own type ([`Column::read_as`]). A transform to NULL, or of an array, keeps the type.
///
/// # Errors
/// [`Error::Invalid`] (field `rules`): a transform DuckDB cannot type.
pub(crate) fn transform_types(
    mut schema: Vec<Column>,
    rules: &sluice_rules::RowRules,
    derived: &[String],
) -> Result<Vec<Column>> {
    let read = sluice_core::schema::read_view(&schema);
    for c in &mut schema {
        if derived.contains(&c.name) || c.is_repeated() {
            continue;
        }
        // The last transform of a column is the one that sets it.
        let Some(t) = rules.transforms.iter().rev().find(|t| t.column == c.name) else {
            continue;
        };
        let ty = sluice_rules::expression_type(&t.sql, &read)
            .map_err(|e| Error::invalid("rules", format!("transform {t}: {e}")))?;
        let file = c.read_as.unwrap_or(c.ty);
        match ty {
            Some(ty) if ty != file => {
                c.read_as = Some(file);
                c.ty = ty;
            }
            _ => {
                c.ty = file;
                c.read_as = None;
            }
        }
    }
    Ok(schema)
}

/// A column a transform made of another type ([`transform_types`]) needs the transform
/// still: without it the file's values would reach a column of the other type.
///
/// # Errors
/// [`Error::Invalid`] (field `rules`) naming the column.
pub(crate) fn check_transformed(schema: &[Column], rules: &sluice_rules::RowRules) -> Result<()> {
    match schema
        .iter()
        .find(|c| c.read_as.is_some() && !rules.transforms.iter().any(|t| t.column == c.name))
    {
        Some(c) => Err(Error::invalid(
            "rules",
            format!(
                "column {} is made {} by the job's transform of its {} values: the job needs a transform of it (change the transform, do not remove it)",
                c.name,
                c.ty,
                c.read_as.unwrap_or(c.ty)
            ),
        )),
        None => Ok(()),
    }
}
