//! `sluice run` and `sluice runs`: run a job once, and look at past runs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use sluice_engine::{Engine, RunOptions};

use crate::output::{Printer, RunProgress};

/// Exit code of a run that finished with failed files.
pub(crate) const EXIT_FILES_FAILED: u8 = 3;

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    pub(crate) job: String,
    /// Load every unprocessed file this time, whatever the job's strategy.
    #[arg(long)]
    pub(crate) all: bool,
    /// If the job is running, wait for that run to end instead of refusing.
    #[arg(long)]
    pub(crate) wait: bool,
    /// Files to load at once, each in a load of its own [default: the machine's cores]. A
    /// job that deduplicates by key, or whose schema policy alters the table, loads one at
    /// a time.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) parallel: Option<u16>,
    /// Print the run as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct RunsArgs {
    #[command(subcommand)]
    pub(crate) show: Option<RunsCmd>,
    /// The job whose runs to list.
    pub(crate) job: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum RunsCmd {
    /// Show one run: its statistics, each file's outcome and the run's log.
    Show {
        run: i64,
        #[arg(long)]
        json: bool,
    },
}

/// Runs a job once. Ctrl-C or SIGTERM: finish the files being loaded, then stop; a second
/// one stops at once (their loads are rolled back and redone by the next run).
pub(crate) async fn run(engine: &Engine, a: RunArgs, out: &Printer) -> Result<ExitCode> {
    let progress = Arc::new(RunProgress::new(!a.json));
    let options = RunOptions {
        all_files: a.all.then_some(true),
        wait: a.wait,
        parallel: a.parallel.map(usize::from),
        ..Default::default()
    };
    let run = engine.run(&a.job, options, progress.clone());
    tokio::pin!(run);
    let mut stopping = false;
    let run = loop {
        tokio::select! {
            r = &mut run => break r,
            () = sluice_engine::scheduler::stop_requested() => {
                if stopping {
                    progress.finish();
                    eprintln!("stopping at once: the files being loaded are rolled back and loaded by the next run");
                    std::process::exit(130);
                }
                stopping = true;
                engine.shutdown();
                eprintln!("stopping after the files being loaded (Ctrl-C again to stop at once)");
            }
        }
    };
    progress.finish();
    let run = run?;
    if a.json {
        out.json(&run)?;
    } else {
        out.run(&run);
    }
    Ok(if run.files_failed > 0 {
        ExitCode::from(EXIT_FILES_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) async fn runs(engine: &Engine, a: RunsArgs, out: &Printer) -> Result<()> {
    match (a.show, a.job) {
        (Some(RunsCmd::Show { run, json }), _) => {
            let run = engine.run_details(run).await?;
            if json {
                out.json(&run)?;
            } else {
                out.run_details(&run);
            }
        }
        (None, Some(job)) => {
            let runs = engine.runs(&job, a.limit).await?;
            if a.json {
                out.json(&runs)?;
            } else {
                out.runs(&runs);
            }
        }
        (None, None) => {
            bail!("name a job (`sluice runs JOB`) or a run (`sluice runs show RUN`)")
        }
    }
    Ok(())
}
