//! The `sluice` command: load flat files from buckets and folders into warehouse tables,
//! exactly once. Every subcommand is a thin layer over `sluice_engine::Engine`.
//!
//! Exit codes: 0 success; 1 an error (the message says what to do); 2 invalid usage;
//! 3 a run finished but some files failed.

mod args;
mod connections;
mod demo;
mod files;
mod hints;
mod jobs;
mod output;
mod rejected;
mod run;
mod schema;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use sluice_engine::Engine;

use crate::output::Printer;

#[derive(Parser, Debug)]
#[command(
    name = "sluice",
    version,
    about = "Load flat files from buckets and folders into warehouse tables, each file exactly once.",
    after_help = "Start with `sluice demo`. Exit codes: 0 ok, 1 error, 2 usage, 3 a run had failed files."
)]
struct Cli {
    /// Where the catalog and the default DuckDB warehouse live.
    #[arg(
        long,
        global = true,
        env = "SLUICE_DATA_DIR",
        default_value = ".sluice"
    )]
    data_dir: PathBuf,

    /// A PostgreSQL catalog (postgres://user:pass@host/db) shared by several sluice
    /// processes; by default the catalog is SQLite, in the data directory.
    #[arg(
        long,
        global = true,
        env = "SLUICE_CATALOG_URL",
        hide_env_values = true
    )]
    catalog: Option<String>,

    /// Log more (-v info, -vv debug); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a small drop of daily CSV files and load it, twice, to show how sluice works.
    Demo(demo::DemoArgs),
    /// Add, list, test and delete connections to buckets and folders.
    #[command(subcommand)]
    Connections(connections::ConnectionsCmd),
    /// List the files a prefix and pattern select, newest first; `files skip|retry|forget
    /// JOB PATH` to act on one file of a job.
    Files(files::FilesArgs),
    /// Show what a job's next run would do, file by file, without loading anything.
    Plan(PlanArgs),
    /// Detect the schema of one file from its head (or Parquet footer).
    Detect(files::DetectArgs),
    /// Create, list, show and delete jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCmd),
    /// Run a job once: load the files it has not loaded yet.
    Run(run::RunArgs),
    /// List a job's past runs with their statistics; `runs show RUN` for one run's files and log.
    Runs(run::RunsArgs),
    /// Show the rows a job's files sent to its quarantine table (TABLE_rejected), per file
    /// and rule; --replay loads them again after the rules or the schema changed.
    Rejected(rejected::RejectedArgs),
    /// Serve the web UI and the REST API, and start scheduled jobs when they are due.
    Serve(ServeArgs),
    /// Work for a shared PostgreSQL catalog, without a web server: start scheduled jobs
    /// when they are due and load files of the runs any process on the catalog started.
    /// Run one on each machine that should help; Ctrl-C or SIGTERM lets the files being
    /// loaded finish.
    Worker(WorkerArgs),
    /// Write a reproducible transactions CSV (used by the benchmark).
    #[command(hide = true)]
    GenerateTransactions(demo::GenerateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info,sqlx=warn",
        _ => "debug,sqlx=info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            // The engine's errors get the CLI's words for what to do (flags, commands).
            let extra = e
                .chain()
                .find_map(|c| c.downcast_ref::<sluice_engine::Error>())
                .map(hints::for_error)
                .unwrap_or_default();
            eprintln!("error: {e}{extra}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    job: String,
    /// Plan a run of all unprocessed files, as `sluice run --all-files` would.
    #[arg(long)]
    all_files: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on. Any address other than loopback needs a token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// The token API requests and the UI must give; by default one is made at start and
    /// shown once, in the UI's address.
    #[arg(long, env = "SLUICE_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Serve without a token (loopback addresses only): any local process, and any web
    /// page on this machine that gets past the Host and Origin checks, could use the API.
    #[arg(long, conflicts_with = "api_token")]
    no_auth: bool,
    /// A host name requests may address the server by, besides IP addresses and localhost
    /// (repeatable): the name of a reverse proxy or of the machine.
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// A folder local connections made through the API and UI may point into
    /// (repeatable; the environment variable takes a `:`-separated list). Without one, only
    /// connections added with the CLI read local folders.
    #[arg(long = "local-root", value_name = "DIR", env = sluice_engine::access::LOCAL_ROOTS_ENV, value_delimiter = ':')]
    local_roots: Vec<std::path::PathBuf>,
    /// A folder, besides the data directory, DuckDB files named through the API may be in
    /// (repeatable; `:`-separated in the environment variable).
    #[arg(long = "duckdb-root", value_name = "DIR", env = sluice_engine::access::DUCKDB_ROOTS_ENV, value_delimiter = ':')]
    duckdb_roots: Vec<std::path::PathBuf>,
}

const NO_SHARED_CATALOG: &str = "a worker shares a PostgreSQL catalog with other sluice processes: give --catalog postgres://… (or SLUICE_CATALOG_URL); on one machine, `sluice serve` or `sluice run --parallel N` does the work";

#[derive(clap::Args, Debug)]
struct WorkerArgs {
    /// Files this worker loads at once, each in a load of its own [default: the machine's
    /// cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: Option<u16>,
}

async fn worker(engine: Engine, a: WorkerArgs, out: &Printer) -> Result<()> {
    if !engine.catalog().is_shared() {
        anyhow::bail!("{NO_SHARED_CATALOG}");
    }
    let engine = Arc::new(engine);
    let parallel = a.parallel.map(usize::from);
    out.line(&format!(
        "sluice worker {}: starting scheduled jobs and loading files of shared runs, up to {} at once (Ctrl-C to stop)",
        sluice_engine::lease::this_runner(),
        sluice_engine::run::at_once(parallel)
    ));
    let scheduler = tokio::spawn(Arc::clone(&engine).run_scheduler(sluice_web::SCHEDULER_TICK));
    let helper = Arc::clone(&engine);
    let helping = tokio::spawn(async move { helper.help_shared_runs(parallel).await });
    sluice_engine::scheduler::stop_requested().await;
    eprintln!("stopping after the files being loaded (Ctrl-C again to stop at once)");
    engine.shutdown();
    let finishing = async {
        let _ = scheduler.await;
        let _ = helping.await;
        engine.wait_for_runs(sluice_web::SHUTDOWN_GRACE).await
    };
    tokio::select! {
        _ = finishing => {}
        () = sluice_engine::scheduler::stop_requested() => {
            eprintln!("stopping at once: the files being loaded are rolled back and settled by their runs");
            std::process::exit(130);
        }
    }
    Ok(())
}

async fn serve(mut engine: Engine, a: ServeArgs, out: &Printer) -> Result<()> {
    let local_roots = absolute_folders("--local-root", &a.local_roots)?;
    let duckdb_roots = absolute_folders("--duckdb-root", &a.duckdb_roots)?;
    engine.confine(sluice_engine::access::LocalAccess {
        local_roots: local_roots.clone(),
        duckdb_roots,
    });
    let auth = match (a.no_auth, a.api_token) {
        (true, _) => sluice_web::Auth::Disabled,
        (false, Some(t)) if !t.is_empty() => sluice_web::Auth::Token(t),
        (false, _) => sluice_web::Auth::Generate,
    };
    let server = sluice_web::Server::bind(a.bind, auth, a.allowed_hosts).await?;
    out.line(&format!(
        "sluice API on http://{}/api (Ctrl-C to stop)",
        server.local_addr()
    ));
    match server.auth() {
        (true, true) => {
            out.line(&format!("open the UI at {}", server.ui_url()));
            out.line("(the token in that address is made for this start; API clients send it as Authorization: Bearer)");
        }
        (true, false) => out.line(&format!(
            "open the UI at {} and sign in with SLUICE_API_TOKEN",
            server.ui_url()
        )),
        (false, _) => out.line(&format!(
            "open the UI at {} (no token: --no-auth)",
            server.ui_url()
        )),
    }
    if local_roots.is_empty() {
        out.line("local folders: only connections added with the CLI (allow folders for the UI with --local-root DIR)");
    } else {
        let shown: Vec<String> = local_roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        out.line(&format!(
            "local folders the UI may connect to: {}",
            shown.join(", ")
        ));
    }
    server.run(Arc::new(engine)).await?;
    Ok(())
}

/// Folders given to a flag, made absolute; each must exist.
fn absolute_folders(flag: &str, dirs: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    dirs.iter()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| {
            std::fs::canonicalize(d)
                .ok()
                .filter(|p| p.is_dir())
                .ok_or_else(|| anyhow::anyhow!("{flag} {}: no such folder", d.display()))
        })
        .collect()
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    if let Command::GenerateTransactions(args) = &cli.command {
        demo::generate(args)?;
        return Ok(ExitCode::SUCCESS);
    }
    if matches!(cli.command, Command::Worker(_)) && cli.catalog.is_none() {
        // Refused before a data directory (and its SQLite catalog) is made for nothing.
        anyhow::bail!("{NO_SHARED_CATALOG}");
    }
    let engine = Engine::open_with_catalog(&cli.data_dir, cli.catalog.as_deref()).await?;
    let out = Printer::stdout();
    match cli.command {
        Command::Demo(args) => demo::run(&engine, &args, &out).await?,
        Command::Connections(cmd) => connections::run(&engine, cmd, &out).await?,
        Command::Files(a) => files::files(&engine, a, &out).await?,
        Command::Plan(a) => {
            let plan = engine.plan(&a.job, a.all_files.then_some(true)).await?;
            if a.json {
                out.json(&plan)?;
            } else {
                out.plan(&plan);
            }
        }
        Command::Detect(a) => files::detect(&engine, a, &out).await?,
        Command::Jobs(cmd) => jobs::run(&engine, cmd, &out).await?,
        Command::Run(a) => return run::run(&engine, a, &out).await,
        Command::Runs(a) => run::runs(&engine, a, &out).await?,
        Command::Rejected(a) => rejected::rejected(&engine, a, &out).await?,
        Command::Serve(a) => serve(engine, a, &out).await?,
        Command::Worker(a) => worker(engine, a, &out).await?,
        Command::GenerateTransactions(_) => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}
