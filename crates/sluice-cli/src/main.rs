//! The `sluice` command: load flat files from buckets and folders into warehouse tables,
//! exactly once. Every subcommand is a thin layer over `sluice_engine::Engine`.
//!
//! Exit codes: 0 success; 1 an error (the message says what to do); 2 invalid usage;
//! 3 a run finished but some files failed.

mod demo;
mod output;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use sluice_core::format::{CsvOptions, Encoding, FileFormat, FormatOptions};
use sluice_core::schema::Column;
use sluice_engine::alerts::{AlertTarget, Alerts, WebhookFormat};
use sluice_engine::model::Destination;
use sluice_engine::model::{JobSettings, JobUpdate};
use sluice_engine::schedule::{Schedule, Timezone};
use sluice_engine::{Engine, JobRequest, RunOptions};
use sluice_sinks::LoadMode;
use sluice_sinks::bigquery::BigQueryConfig;

use crate::output::{Printer, RunProgress};

/// Exit code of a run that finished with failed files.
const EXIT_FILES_FAILED: u8 = 3;

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
    Connections(ConnectionsCmd),
    /// List the files a prefix and pattern select, newest first.
    Files(FilesArgs),
    /// Detect the schema of one file from its head (or Parquet footer).
    Detect(DetectArgs),
    /// Create, list, show and delete jobs.
    #[command(subcommand)]
    Jobs(JobsCmd),
    /// Run a job once: load the files it has not loaded yet.
    Run(RunArgs),
    /// List a job's past runs with their statistics; `runs show RUN` for one run's files and log.
    Runs(RunsArgs),
    /// Serve the web UI and the REST API, and start scheduled jobs when they are due.
    Serve {
        /// Address to listen on. Any address other than loopback needs SLUICE_API_TOKEN.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Token every API request must carry as `Authorization: Bearer …`.
        #[arg(long, env = "SLUICE_API_TOKEN", hide_env_values = true)]
        api_token: Option<String>,
    },
    /// Write a reproducible transactions CSV (used by the benchmark).
    #[command(hide = true)]
    GenerateTransactions(demo::GenerateArgs),
}

#[derive(Subcommand, Debug)]
enum ConnectionsCmd {
    /// Add a connection: file:///abs/path, s3://bucket[/prefix], gs://bucket, az://container.
    Add {
        name: String,
        url: String,
        /// Provider setting, repeatable: -o region=eu-west-1 -o endpoint=http://…
        /// A value @FILE is read from FILE (for keys and secrets: they stay out of shell history).
        #[arg(long = "option", short = 'o', value_name = "KEY=VALUE")]
        options: Vec<String>,
    },
    /// Seal every connection's credentials under a new secret key, and make it the key.
    RotateKey,
    /// List connections (credentials are never shown).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one connection (credentials are never shown).
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List one page of the connection to check that it answers.
    Test { name: String },
    /// Delete a connection no job uses.
    Delete { name: String },
}

#[derive(Args, Debug)]
struct FilesArgs {
    /// Connection name.
    connection: String,
    /// Folder under the connection, searched recursively.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Glob on the file name (or on the path below the prefix if it holds '/').
    #[arg(long, default_value = "*")]
    pattern: String,
    /// Show at most this many files.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Mark files over this size (e.g. 500MB, 1GiB).
    #[arg(long, value_parser = parse_size)]
    max_file_size: Option<u64>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug, Clone, Default)]
struct FormatArgs {
    /// csv, parquet or json; by default from the file's extension.
    #[arg(long)]
    format: Option<FileFormat>,
    /// CSV delimiter: ',', '|', ';' or 'tab'; sniffed when not given.
    #[arg(long, value_parser = parse_delimiter)]
    delimiter: Option<char>,
    /// CSV quote character; sniffed when not given.
    #[arg(long)]
    quote: Option<char>,
    /// CSV encoding: utf-8 (default), latin-1 or iso-8859-1.
    #[arg(long)]
    encoding: Option<Encoding>,
    /// The CSV's first row is data, not a header.
    #[arg(long)]
    no_header: bool,
    /// The CSV's first row is a header (the default is to sniff).
    #[arg(long, conflicts_with = "no_header")]
    header: bool,
}

impl FormatArgs {
    fn options(&self) -> Result<Option<FormatOptions>> {
        let csv_given = self.delimiter.is_some()
            || self.quote.is_some()
            || self.encoding.is_some()
            || self.no_header
            || self.header;
        let csv = CsvOptions {
            delimiter: self.delimiter,
            quote: self.quote,
            has_header: if self.no_header {
                Some(false)
            } else if self.header {
                Some(true)
            } else {
                None
            },
            encoding: self.encoding.unwrap_or_default(),
        };
        Ok(match self.format {
            Some(FileFormat::Csv) => Some(FormatOptions::Csv(csv)),
            Some(other) if csv_given => bail!("CSV options were given but the format is {other}"),
            Some(other) => Some(other.default_options()),
            None if csv_given => Some(FormatOptions::Csv(csv)),
            None => None,
        })
    }
}

#[derive(Args, Debug)]
struct DetectArgs {
    connection: String,
    /// Path of the file, relative to the connection's root.
    path: String,
    #[command(flatten)]
    format: FormatArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum JobsCmd {
    /// Create a job: detect the schema of the newest matching file and create the table.
    Create(Box<CreateJobArgs>),
    /// List jobs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a job's settings, schema and ledger.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a job, its runs and its ledger; the table stays unless --drop-table.
    Delete {
        name: String,
        #[arg(long)]
        drop_table: bool,
    },
    /// Change a job's schedule, timezone or alerts.
    Update(UpdateJobArgs),
    /// Stop the scheduler from starting a job (it can still be run by hand).
    Pause { name: String },
    /// Let the scheduler start a paused job again.
    Resume { name: String },
    /// List the alerts a job has raised.
    Alerts {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

/// When a job runs and who hears about it.
#[derive(Args, Debug)]
struct ScheduleArgs {
    /// manual, hourly, hourly@MM, daily@HH:MM, weekly@mon@HH:MM or a cron expression.
    #[arg(long)]
    schedule: Option<Schedule>,
    /// IANA timezone the schedule's times are in, e.g. Europe/Berlin (default UTC).
    #[arg(long)]
    timezone: Option<Timezone>,
    /// POST alerts as JSON to this URL (repeatable).
    #[arg(long = "alert-webhook", value_name = "URL")]
    alert_webhooks: Vec<String>,
    /// POST alerts as {"text": …} to this Slack-compatible incoming webhook (repeatable).
    #[arg(long = "alert-slack", value_name = "URL")]
    alert_slack: Vec<String>,
    /// Mail alerts to this address (repeatable), through the SMTP server in SLUICE_SMTP_URL.
    #[arg(long = "alert-email", value_name = "ADDRESS")]
    alert_emails: Vec<String>,
    /// Alert when no new file has been loaded for this many hours.
    #[arg(long, value_name = "HOURS")]
    freshness_hours: Option<u32>,
    /// Remove every alert target and the freshness alert.
    #[arg(long, conflicts_with_all = ["alert_webhooks", "alert_slack", "alert_emails", "freshness_hours"])]
    no_alerts: bool,
}

impl ScheduleArgs {
    /// The change these flags ask for; alerts given replace the job's alerts.
    fn update(&self) -> JobUpdate {
        let targets: Vec<AlertTarget> = self
            .alert_webhooks
            .iter()
            .map(|url| AlertTarget::Webhook {
                url: url.clone(),
                format: WebhookFormat::Json,
            })
            .chain(self.alert_slack.iter().map(|url| AlertTarget::Webhook {
                url: url.clone(),
                format: WebhookFormat::Slack,
            }))
            .chain(
                self.alert_emails
                    .iter()
                    .map(|to| AlertTarget::Email { to: to.clone() }),
            )
            .collect();
        let alerts = if self.no_alerts {
            Some(Alerts::default())
        } else if !targets.is_empty() || self.freshness_hours.is_some() {
            Some(Alerts {
                targets,
                freshness_hours: self.freshness_hours,
            })
        } else {
            None
        };
        JobUpdate {
            schedule: self.schedule.clone(),
            timezone: self.timezone,
            paused: None,
            alerts,
        }
    }
}

#[derive(Args, Debug)]
struct UpdateJobArgs {
    name: String,
    #[command(flatten)]
    settings: ScheduleArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct CreateJobArgs {
    name: String,
    #[arg(long)]
    connection: String,
    /// Glob on the file name, e.g. 'transactions_*.csv'.
    #[arg(long)]
    pattern: String,
    /// Folder under the connection, searched recursively.
    #[arg(long, default_value = "")]
    prefix: String,
    #[command(flatten)]
    format: FormatArgs,
    /// Load every unprocessed file (oldest first) instead of only the newest file.
    #[arg(long)]
    all_files: bool,
    /// Destination table (optionally schema.table); by default from the pattern.
    #[arg(long)]
    table: Option<String>,
    /// append (default) or replace: each file replaces the table's rows.
    #[arg(long, default_value = "append")]
    load_type: LoadMode,
    /// A reviewed schema: the JSON `sluice detect --json` prints, with types edited.
    #[arg(long)]
    schema_file: Option<PathBuf>,
    /// Files over this size are skipped and reported (e.g. 500MB, 1GiB).
    #[arg(long, value_parser = parse_size, default_value = "1GiB")]
    max_file_size: u64,
    #[command(flatten)]
    settings: ScheduleArgs,
    /// DuckDB file to load into (default: warehouse.duckdb in the data directory).
    #[arg(long, conflicts_with = "destination")]
    duckdb: Option<PathBuf>,
    /// Load into PostgreSQL or BigQuery instead of DuckDB.
    /// PostgreSQL: postgres://user:password@host:5432/database?sslmode=verify-full&sslrootcert=ca.pem
    /// (sslmode disable, prefer (default), require, verify-ca, verify-full).
    /// BigQuery: bigquery://PROJECT/DATASET?location=US&credentials=/path/key.json (or
    /// credentials=adc, the default), push_down=true to let BigQuery read gs:// CSV files itself.
    /// Passwords and keys are stored sealed with the secret key and shown as ••••.
    #[arg(long, value_name = "URL")]
    destination: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    job: String,
    /// Load every unprocessed file this time, whatever the job's strategy.
    #[arg(long)]
    all: bool,
    /// If the job is running, wait for that run to end instead of refusing.
    #[arg(long)]
    wait: bool,
    /// Print the run as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct RunsArgs {
    #[command(subcommand)]
    show: Option<RunsCmd>,
    /// The job whose runs to list.
    job: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum RunsCmd {
    /// Show one run: its statistics, each file's outcome and the run's log.
    Show {
        run: i64,
        #[arg(long)]
        json: bool,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("invalid size '{s}' ({e}); use e.g. 500MB or 1GiB"))
}

fn parse_delimiter(s: &str) -> Result<char, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok('\t'),
        "pipe" => Ok('|'),
        "comma" => Ok(','),
        "semicolon" => Ok(';'),
        _ if s.chars().count() == 1 => Ok(s.chars().next().unwrap_or(',')),
        _ => Err(format!(
            "invalid delimiter '{s}': give one character, or tab"
        )),
    }
}

fn parse_options(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .with_context(|| format!("invalid option '{p}': use KEY=VALUE"))?;
            let v = match v.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("option {k}: cannot read {path}"))?
                    .trim_end()
                    .to_string(),
                None => v.to_string(),
            };
            Ok((k.trim().to_string(), v))
        })
        .collect()
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
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    if let Command::GenerateTransactions(args) = &cli.command {
        demo::generate(args)?;
        return Ok(ExitCode::SUCCESS);
    }
    let engine = Engine::open_with_catalog(&cli.data_dir, cli.catalog.as_deref()).await?;
    let out = Printer::stdout();
    match cli.command {
        Command::Demo(args) => demo::run(&engine, &args, &out).await?,
        Command::Connections(cmd) => connections(&engine, cmd, &out).await?,
        Command::Files(a) => {
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
        }
        Command::Detect(a) => {
            let schema = engine
                .detect(&a.connection, &a.path, a.format.options()?)
                .await?;
            if a.json {
                out.json(&schema)?;
            } else {
                out.schema(&schema);
            }
        }
        Command::Jobs(cmd) => jobs(&engine, cmd, &out).await?,
        Command::Run(a) => {
            let progress = Arc::new(RunProgress::new(!a.json));
            let options = RunOptions {
                all_files: a.all.then_some(true),
                wait: a.wait,
            };
            let run = engine.run(&a.job, options, progress.clone());
            tokio::pin!(run);
            // Ctrl-C or SIGTERM: finish the file being loaded, then stop; a second one
            // stops at once (the file's load is rolled back and redone by the next run).
            let mut stopping = false;
            let run = loop {
                tokio::select! {
                    r = &mut run => break r,
                    () = sluice_engine::scheduler::stop_requested() => {
                        if stopping {
                            progress.finish();
                            eprintln!("stopping at once: the file being loaded is rolled back and loaded by the next run");
                            std::process::exit(130);
                        }
                        stopping = true;
                        engine.shutdown();
                        eprintln!("stopping after the file being loaded (Ctrl-C again to stop at once)");
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
            if run.files_failed > 0 {
                return Ok(ExitCode::from(EXIT_FILES_FAILED));
            }
        }
        Command::Runs(a) => match (a.show, a.job) {
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
        },
        Command::Serve { bind, api_token } => {
            let server = sluice_web::Server::bind(bind, api_token).await?;
            out.line(&format!(
                "sluice API on http://{}/api (Ctrl-C to stop)",
                server.local_addr()
            ));
            server.run(Arc::new(engine)).await?;
        }
        Command::GenerateTransactions(_) => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn connections(engine: &Engine, cmd: ConnectionsCmd, out: &Printer) -> Result<()> {
    match cmd {
        ConnectionsCmd::Add { name, url, options } => {
            let c = engine
                .add_connection_url(&name, &url, &parse_options(&options)?)
                .await?;
            out.line(&format!("added connection '{}' → {}", c.name, c.url()));
            out.line(&format!(
                "check it with: sluice connections test {}",
                c.name
            ));
        }
        ConnectionsCmd::List { json } => {
            let list = engine.connections().await?;
            if json {
                out.json(&list)?;
            } else {
                out.connections(&list);
            }
        }
        ConnectionsCmd::Show { name, json } => {
            let c = engine.connection(&name).await?;
            if json {
                out.json(&c)?;
            } else {
                out.connections(std::slice::from_ref(&c));
            }
        }
        ConnectionsCmd::Test { name } => {
            let entries = engine
                .test_connection(&name)
                .await
                .with_context(|| format!("connection '{name}' failed"))?;
            out.line(&format!(
                "connection '{name}' works: the first page lists {entries} entr{}",
                if entries == 1 { "y" } else { "ies" }
            ));
        }
        ConnectionsCmd::RotateKey => {
            let (key, n) = engine.rotate_secret_key().await?;
            match &key.source {
                sluice_core::secret::KeySource::File(path) => {
                    out.line(&format!(
                        "re-sealed the credentials of {n} connection(s); the new key is in {}",
                        path.display()
                    ));
                }
                sluice_core::secret::KeySource::Env => {
                    out.line(&format!(
                        "re-sealed the credentials of {n} connection(s) with a new key."
                    ));
                    out.line(
                        "Set it before the next command, or the connections cannot be opened:",
                    );
                    out.line(&format!("  export SLUICE_SECRET_KEY={}", key.to_text()));
                }
            }
        }
        ConnectionsCmd::Delete { name } => {
            engine.delete_connection(&name).await?;
            out.line(&format!("deleted connection '{name}'"));
        }
    }
    Ok(())
}

/// The destination `jobs create` was given: a PostgreSQL or BigQuery URL, or a DuckDB file
/// (the default).
fn destination(url: Option<&str>, duckdb: Option<PathBuf>) -> Result<Destination> {
    match url {
        None => Ok(Destination::DuckDb { path: duckdb }),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Destination::Postgres { url: u.to_string() })
        }
        Some(u) if u.starts_with("bigquery://") => BigQueryConfig::from_url(u)
            .map(Destination::BigQuery)
            .map_err(|e| anyhow::anyhow!("--destination: {e}")),
        Some(u) => bail!(
            "unknown destination '{}': use postgres://user:password@host:5432/database?sslmode=verify-full, bigquery://PROJECT/DATASET?credentials=/path/key.json, or --duckdb PATH",
            sluice_sinks::postgres::redact_url(u)
        ),
    }
}

async fn jobs(engine: &Engine, cmd: JobsCmd, out: &Printer) -> Result<()> {
    match cmd {
        JobsCmd::Create(a) => {
            let schema = match &a.schema_file {
                Some(path) => Some(read_schema_file(path)?),
                None => None,
            };
            let request = JobRequest {
                name: a.name.clone(),
                connection: a.connection.clone(),
                file_path_prefix: a.prefix.clone(),
                file_pattern: a.pattern.clone(),
                format: a.format.options()?,
                load_latest_only: !a.all_files,
                table_name: a.table.clone(),
                load_type: a.load_type,
                schema,
                max_file_size: Some(a.max_file_size),
                settings: {
                    let mut settings = JobSettings::default();
                    a.settings.update().apply(&mut settings);
                    settings
                },
                destination: destination(a.destination.as_deref(), a.duckdb.clone())?,
                expected_fingerprint: None,
            };
            let job = engine.create_job(request).await?;
            if a.json {
                out.json(&job)?;
            } else {
                out.job(&job, None);
                out.line(&format!("\nrun it with: sluice run {}", job.name));
            }
        }
        JobsCmd::List { json } => {
            let list = engine.jobs().await?;
            if json {
                out.json(&list)?;
            } else {
                out.jobs(&list);
            }
        }
        JobsCmd::Show { name, json } => {
            let job = engine.job(&name).await?;
            let ledger = engine.processed_files(&name).await?;
            if json {
                out.json(&serde_json::json!({"job": job, "processed_files": ledger}))?;
            } else {
                out.job(&job, Some(&ledger));
            }
        }
        JobsCmd::Update(a) => {
            let job = engine.update_job(&a.name, a.settings.update()).await?;
            if a.json {
                out.json(&job)?;
            } else {
                out.job(&job, None);
            }
        }
        JobsCmd::Pause { name } => {
            let update = JobUpdate {
                paused: Some(true),
                ..JobUpdate::default()
            };
            engine.update_job(&name, update).await?;
            out.line(&format!(
                "paused job '{name}': the scheduler will not start it (run it by hand with `sluice run {name}`)"
            ));
        }
        JobsCmd::Resume { name } => {
            let update = JobUpdate {
                paused: Some(false),
                ..JobUpdate::default()
            };
            let job = engine.update_job(&name, update).await?;
            let next = job
                .settings
                .next_run_after(chrono::Utc::now())
                .map(|t| format!("; next run {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_else(|| "; its schedule is manual".into());
            out.line(&format!("resumed job '{name}'{next}"));
        }
        JobsCmd::Alerts { name, json } => {
            let list = engine.incidents(&name).await?;
            if json {
                out.json(&list)?;
            } else {
                out.incidents(&list);
            }
        }
        JobsCmd::Delete { name, drop_table } => {
            let job = engine.job(&name).await?;
            engine.delete_job(&name, drop_table).await?;
            if drop_table {
                out.line(&format!(
                    "deleted job '{name}' and dropped table {}",
                    job.table_name
                ));
            } else {
                out.line(&format!(
                    "deleted job '{name}'; table {} is kept (use --drop-table to drop it)",
                    job.table_name
                ));
            }
        }
    }
    Ok(())
}

/// Reads a reviewed schema: the `detect --json` document (or just its `columns`).
fn read_schema_file(path: &std::path::Path) -> Result<Vec<Column>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum SchemaFile {
        Detected { columns: Vec<Column> },
        Columns(Vec<Column>),
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed: SchemaFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a schema: expected the JSON `sluice detect --json` prints, with columns of name and bigquery_type",
            path.display()
        )
    })?;
    Ok(match parsed {
        SchemaFile::Detected { columns } | SchemaFile::Columns(columns) => columns,
    })
}
