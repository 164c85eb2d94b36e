//! `sluice files` and `sluice detect`: what a prefix and pattern select, and what is in a
//! file.

use anyhow::Result;
use clap::Args;
use sluice_engine::Engine;

use crate::args::{FormatArgs, parse_size};
use crate::output::Printer;

#[derive(Args, Debug)]
pub(crate) struct FilesArgs {
    /// Connection name.
    pub(crate) connection: String,
    /// Folder under the connection, searched recursively.
    #[arg(long, default_value = "")]
    pub(crate) prefix: String,
    /// Glob on the file name (or on the path below the prefix if it holds '/').
    #[arg(long, default_value = "*")]
    pub(crate) pattern: String,
    /// Show at most this many files.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// Mark files over this size (e.g. 500MB, 1GiB).
    #[arg(long, value_parser = parse_size)]
    pub(crate) max_file_size: Option<u64>,
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct DetectArgs {
    pub(crate) connection: String,
    /// Path of the file, relative to the connection's root.
    pub(crate) path: String,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) async fn files(engine: &Engine, a: FilesArgs, out: &Printer) -> Result<()> {
    let listing = engine
        .list_files(
            &a.connection,
            &a.prefix,
            &a.pattern,
            Some(a.limit),
            a.max_file_size,
        )
        .await?;
    if a.json {
        out.json(&listing)?;
    } else {
        out.listing(&listing);
    }
    Ok(())
}

pub(crate) async fn detect(engine: &Engine, a: DetectArgs, out: &Printer) -> Result<()> {
    let schema = engine
        .detect(&a.connection, &a.path, a.format.options()?)
        .await?;
    if a.json {
        out.json(&schema)?;
    } else {
        out.schema(&schema);
    }
    Ok(())
}
