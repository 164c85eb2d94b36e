//! `sluice jobs schema JOB`: a job's schema versions listed, a proposed one approved, the
//! schema edited (types, names, dropped columns) as a new version.

use anyhow::Result;
use clap::Args;
use sluice_engine::Engine;
use sluice_engine::engine::SchemaEdit;

use crate::output::Printer;

#[derive(Args, Debug)]
pub(crate) struct SchemaArgs {
    pub(crate) name: String,
    /// Accept proposed version N: the table is changed to hold it and the files refused
    /// for their schema load on the next run.
    #[arg(long, value_name = "N", conflicts_with_all = ["set", "rename", "drop"])]
    pub(crate) approve: Option<u32>,
    /// Change a column's type, as a new version: 'amount=NUMERIC' (repeatable). Only
    /// changes that keep every value: INT64 to NUMERIC or FLOAT64, DATE to TIMESTAMP,
    /// anything but an array to STRING.
    #[arg(long, value_name = "COLUMN=TYPE", value_parser = parse_column_type)]
    pub(crate) set: Vec<(String, sluice_core::schema::ColumnType)>,
    /// Rename a column of the table, as a new version: 'amt=amount' (repeatable). Files
    /// keep their name for it; rules that name the column must be removed first.
    #[arg(long, value_name = "FROM=TO", value_parser = crate::jobs::parse_rename)]
    pub(crate) rename: Vec<(String, String)>,
    /// Drop a column from the table with its values, as a new version (repeatable); the
    /// files' values of it are left out from then on.
    #[arg(long, value_name = "COLUMN")]
    pub(crate) drop: Vec<String>,
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_column_type(s: &str) -> Result<(String, sluice_core::schema::ColumnType), String> {
    let (name, ty) = s
        .split_once('=')
        .ok_or_else(|| format!("expected COLUMN=TYPE, e.g. amount=NUMERIC; got '{s}'"))?;
    Ok((name.trim().to_string(), ty.parse()?))
}

pub(crate) async fn run(engine: &Engine, a: SchemaArgs, out: &Printer) -> Result<()> {
    let accepted = if let Some(n) = a.approve {
        Some(engine.approve_schema(&a.name, n).await?)
    } else if !a.set.is_empty() || !a.rename.is_empty() || !a.drop.is_empty() {
        let edit = SchemaEdit {
            types: a.set,
            rename: a.rename,
            drop: a.drop,
        };
        Some(engine.edit_schema(&a.name, &edit).await?)
    } else {
        None
    };
    match accepted {
        Some(accepted) if a.json => out.json(&accepted)?,
        Some(accepted) => out.schema_accepted(&a.name, &accepted),
        None => {
            let versions = engine.schema_versions(&a.name).await?;
            if a.json {
                out.json(&versions)?;
            } else {
                out.schema_versions(&a.name, &versions);
            }
        }
    }
    Ok(())
}
