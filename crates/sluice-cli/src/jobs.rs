//! `sluice jobs …`: create, list, show, change, pause, resume and delete jobs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sluice_core::schema::Column;
use sluice_engine::alerts::{AlertTarget, Alerts, WebhookFormat};
use sluice_engine::model::{JobSettings, JobUpdate};
use sluice_engine::schedule::{Schedule, Timezone};
use sluice_engine::{Engine, JobRequest};
use sluice_sinks::duckdb::DuckDbConfig;
use sluice_sinks::{LoadMode, SinkConfig};

use crate::args::{FormatArgs, parse_size};
use crate::output::Printer;

#[derive(Subcommand, Debug)]
pub(crate) enum JobsCmd {
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
    /// Change a job's schedule, timezone, alerts or parking.
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
pub(crate) struct ScheduleArgs {
    /// manual, hourly, hourly@MM, daily@HH:MM, weekly@mon@HH:MM or a cron expression.
    #[arg(long)]
    pub(crate) schedule: Option<Schedule>,
    /// IANA timezone the schedule's times are in, e.g. Europe/Berlin (default UTC).
    #[arg(long)]
    pub(crate) timezone: Option<Timezone>,
    /// POST alerts as JSON to this URL (repeatable).
    #[arg(long = "alert-webhook", value_name = "URL")]
    pub(crate) alert_webhooks: Vec<String>,
    /// POST alerts as {"text": …} to this Slack-compatible incoming webhook (repeatable).
    #[arg(long = "alert-slack", value_name = "URL")]
    pub(crate) alert_slack: Vec<String>,
    /// Mail alerts to this address (repeatable), through the SMTP server in SLUICE_SMTP_URL.
    #[arg(long = "alert-email", value_name = "ADDRESS")]
    pub(crate) alert_emails: Vec<String>,
    /// Alert when no new file has been loaded for this many hours.
    #[arg(long, value_name = "HOURS")]
    pub(crate) freshness_hours: Option<u32>,
    /// Park a file (stop trying it, with an alert) once it has failed the same way in this
    /// many runs in a row; 0: never (default 3).
    #[arg(long, value_name = "RUNS")]
    pub(crate) park_after: Option<u32>,
    /// Remove every alert target and the freshness alert.
    #[arg(long, conflicts_with_all = ["alert_webhooks", "alert_slack", "alert_emails", "freshness_hours"])]
    pub(crate) no_alerts: bool,
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
            park_after_failures: self.park_after,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct UpdateJobArgs {
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) settings: ScheduleArgs,
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct CreateJobArgs {
    pub(crate) name: String,
    #[arg(long)]
    pub(crate) connection: String,
    /// Glob on the file name, e.g. 'transactions_*.csv'.
    #[arg(long)]
    pub(crate) pattern: String,
    /// Folder under the connection, searched recursively.
    #[arg(long, default_value = "")]
    pub(crate) prefix: String,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
    /// Load every unprocessed file (oldest first) instead of only the newest file.
    #[arg(long)]
    pub(crate) all_files: bool,
    /// Destination table (optionally schema.table); by default from the pattern.
    #[arg(long)]
    pub(crate) table: Option<String>,
    /// append (default) or replace: each file replaces the table's rows.
    #[arg(long, default_value = "append")]
    pub(crate) load_type: LoadMode,
    /// A reviewed schema: the JSON `sluice detect --json` prints, with types edited.
    #[arg(long)]
    pub(crate) schema_file: Option<PathBuf>,
    /// Files over this size are skipped and reported (e.g. 500MB, 1GiB).
    #[arg(long, value_parser = parse_size, default_value = "1GiB")]
    pub(crate) max_file_size: u64,
    #[command(flatten)]
    pub(crate) settings: ScheduleArgs,
    /// DuckDB file to load into (default: warehouse.duckdb in the data directory).
    #[arg(long, conflicts_with = "destination")]
    pub(crate) duckdb: Option<PathBuf>,
    /// Load into PostgreSQL or BigQuery instead of DuckDB.
    /// PostgreSQL: postgres://user:password@host:5432/database?sslmode=verify-full&sslrootcert=ca.pem
    /// (sslmode disable, prefer (default), require, verify-ca, verify-full).
    /// BigQuery: bigquery://PROJECT/DATASET?location=US&credentials=/path/key.json (or
    /// credentials=adc, the default), push_down=true to let BigQuery read gs:// CSV files itself.
    /// Passwords and keys are stored sealed with the secret key and shown as ••••.
    #[arg(long, value_name = "URL")]
    pub(crate) destination: Option<String>,
    #[arg(long)]
    pub(crate) json: bool,
}

/// The destination `jobs create` was given: a destination URL, or a DuckDB file (the default).
fn destination(url: Option<&str>, duckdb: Option<PathBuf>) -> Result<SinkConfig> {
    match url {
        None => Ok(SinkConfig::DuckDb(DuckDbConfig { path: duckdb })),
        Some(u) => SinkConfig::from_url(u).map_err(|e| anyhow::anyhow!("--destination: {e}")),
    }
}

pub(crate) async fn run(engine: &Engine, cmd: JobsCmd, out: &Printer) -> Result<()> {
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
