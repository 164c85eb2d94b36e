//! SQL that DuckDB and PostgreSQL share: creating a table from a job's columns and
//! checking an existing one.

use sluice_core::names::TableName;
use sluice_core::schema::{Column, Mode, WarehouseType};

use crate::{Error, Result};

/// The destination's type of a column: its type's name (`type_name`), with `[]` for an
/// array, which DuckDB and PostgreSQL both spell so (and print so back).
fn column_type(c: &Column, type_name: fn(WarehouseType) -> &'static str) -> String {
    if c.mode == Mode::Repeated {
        format!("{}[]", type_name(c.ty))
    } else {
        type_name(c.ty).to_string()
    }
}

/// `CREATE TABLE IF NOT EXISTS` for the columns, with the destination's type names
/// (`type_name`); REQUIRED columns are `NOT NULL`, REPEATED ones arrays. Identifiers are double-quoted, which
/// DuckDB and PostgreSQL both take.
pub(crate) fn create_table_sql(
    table: &TableName,
    columns: &[Column],
    type_name: fn(WarehouseType) -> &'static str,
) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|c| {
            let not_null = if c.mode == Mode::Required {
                " NOT NULL"
            } else {
                ""
            };
            format!(
                "{} {}{not_null}",
                sluice_core::names::quote_ident(&c.name),
                column_type(c, type_name)
            )
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        table.quoted(),
        cols.join(", ")
    )
}

/// Checks that an existing table's columns (`existing`: name and the destination's type
/// name, in order) are the job's, in any order, refusing it with both lists otherwise.
pub(crate) fn check_columns(
    table: &TableName,
    existing: &[(String, String)],
    columns: &[Column],
    type_name: fn(WarehouseType) -> &'static str,
) -> Result<()> {
    let expected: Vec<(&str, String)> = columns
        .iter()
        .map(|c| (c.name.as_str(), column_type(c, type_name)))
        .collect();
    // By name: loads name their columns, so a table whose columns were added to later
    // (or created in another order) is the job's when it holds the same columns.
    let mut have: Vec<(&str, &str)> = existing
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let mut want: Vec<(&str, &str)> = expected.iter().map(|(n, t)| (*n, t.as_str())).collect();
    have.sort_unstable();
    want.sort_unstable();
    let same = have == want;
    if same {
        return Ok(());
    }
    let describe = |cols: &mut dyn Iterator<Item = (&str, &str)>| {
        cols.map(|(n, t)| format!("{n} {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(Error::TableMismatch {
        table: table.to_string(),
        found: describe(&mut existing.iter().map(|(n, t)| (n.as_str(), t.as_str()))),
        expected: describe(&mut expected.iter().map(|(n, t)| (*n, t.as_str()))),
    })
}

/// The statements that make a table hold a job's changed columns, which DuckDB and
/// PostgreSQL both take: `DROP COLUMN IF EXISTS`, `RENAME COLUMN` (left out where the table
/// of `existing` columns has it done), `ADD COLUMN IF NOT EXISTS` (nullable), `ALTER COLUMN
/// … TYPE … USING` (`using` gives the conversion of a column's values, `None` for a plain
/// cast) and `ALTER COLUMN … DROP NOT NULL`. Each is a no-op when run again.
pub(crate) fn alter_table_sql(
    table: &TableName,
    existing: &[String],
    change: &sluice_core::schema::TableChange,
    type_name: fn(WarehouseType) -> &'static str,
    using: fn(&str, WarehouseType, WarehouseType) -> Option<String>,
) -> String {
    let q = sluice_core::names::quote_ident;
    let t = table.quoted();
    let mut sql: Vec<String> = Vec::new();
    for name in &change.drop {
        sql.push(format!(
            "ALTER TABLE {t} DROP COLUMN IF EXISTS {};",
            q(name)
        ));
    }
    for (from, to) in &change.rename {
        let done = !existing.contains(from) && existing.contains(to);
        if !done {
            sql.push(format!(
                "ALTER TABLE {t} RENAME COLUMN {} TO {};",
                q(from),
                q(to)
            ));
        }
    }
    for c in &change.add {
        sql.push(format!(
            "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {} {};",
            q(&c.name),
            column_type(c, type_name)
        ));
    }
    for (name, from, to) in &change.retype {
        let target = type_name(to.ty);
        let expr = using(&q(name), from.ty, to.ty)
            .unwrap_or_else(|| format!("CAST({} AS {target})", q(name)));
        sql.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {} TYPE {target} USING {expr};",
            q(name)
        ));
    }
    for name in &change.relax {
        sql.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL;",
            q(name)
        ));
    }
    sql.join("\n")
}
