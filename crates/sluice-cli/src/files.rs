//! `sluice files` and `sluice detect`: what a prefix and pattern select, and what is in a
//! file.

use anyhow::Result;
use clap::{Args, Subcommand};
use sluice_engine::Engine;
use sluice_engine::files::FileAction;

use crate::args::{FormatArgs, parse_size};
use crate::output::Printer;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct FilesArgs {
    #[command(subcommand)]
    pub(crate) action: Option<FileCmd>,
    /// Connection name.
    #[arg(required = true)]
    pub(crate) connection: Option<String>,
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

/// What a person does to one file of a job.
#[derive(Subcommand, Debug)]
pub(crate) enum FileCmd {
    /// Mark a failing file skipped: runs pass over its current version.
    Skip(FileActionArgs),
    /// Try a failed, parked or skipped file again on the next run.
    Retry(FileActionArgs),
    /// Forget a loaded file, so the next run loads it again.
    Forget {
        #[command(flatten)]
        file: FileActionArgs,
        /// Also delete the rows it left in the table (needs the job's lineage columns).
        #[arg(long)]
        delete_rows: bool,
    },
}

#[derive(Args, Debug)]
pub(crate) struct FileActionArgs {
    /// The job.
    pub(crate) job: String,
    /// The file's path in the job's connection, as `sluice plan` shows it.
    pub(crate) path: String,
    #[arg(long)]
    pub(crate) json: bool,
}

async fn file_action(engine: &Engine, cmd: FileCmd, out: &Printer) -> Result<()> {
    let (action, a, delete_rows) = match cmd {
        FileCmd::Skip(a) => (FileAction::Skip, a, false),
        FileCmd::Retry(a) => (FileAction::Retry, a, false),
        FileCmd::Forget { file, delete_rows } => (FileAction::Forget, file, delete_rows),
    };
    let done = engine
        .file_action(&a.job, &a.path, action, delete_rows)
        .await?;
    if a.json {
        out.json(&done)?;
    } else {
        out.line(&done.message);
    }
    Ok(())
}

pub(crate) async fn files(engine: &Engine, a: FilesArgs, out: &Printer) -> Result<()> {
    if let Some(cmd) = a.action {
        return file_action(engine, cmd, out).await;
    }
    let connection = a.connection.unwrap_or_default();
    let listing = engine
        .list_files(
            &connection,
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
