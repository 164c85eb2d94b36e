//! `sluice jobs …`: create, list, show, change, pause, resume and delete jobs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sluice_core::schema::Column;
use sluice_engine::alerts::{AlertTarget, Alerts, WebhookFormat};
use sluice_engine::jobs::ExistingTable;
use sluice_engine::model::{ChangedFiles, JobSettings, JobUpdate, MaxRejected, SchemaPolicy};
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
    /// Change a job: its files (prefix, pattern, format, strategy, size limit), schedule,
    /// alerts and policies; each change is kept in its history (`jobs show`).
    Update(Box<UpdateJobArgs>),
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
    /// A job's schema versions, newest first: each with its fingerprint, the difference of
    /// the file that caused it, the change it made to the table, when and how it was
    /// accepted. --approve N accepts a proposed version; --set, --rename and --drop edit the
    /// schema as a new version.
    Schema(crate::schema::SchemaArgs),
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
            alerts,
            park_after_failures: self.park_after,
            ..JobUpdate::default()
        }
    }
}

/// How a job treats files that change or are still arriving.
#[derive(Args, Debug)]
pub(crate) struct PolicyArgs {
    /// What to do with a file whose content changed after it was loaded: reload (replace
    /// its rows; the default for new jobs), ignore (keep the first version), append (load
    /// the new version as new rows) or fail (record and alert).
    #[arg(long, value_name = "POLICY")]
    pub(crate) changed_files: Option<ChangedFiles>,
    /// Take a file only once its last modification is this old: 30s, 10m, 2h (0: at once).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) settle_time: Option<u64>,
    /// Take a folder's files only once a file of this name is in it (Spark, Hadoop and
    /// BigQuery exports write _SUCCESS); "" for none.
    #[arg(long, value_name = "NAME")]
    pub(crate) ready_marker: Option<String>,
    /// A compressed file may decompress to at most this many times its stored size (and
    /// at least 64 MiB) before it is stopped as a possible decompression bomb [default: 20].
    #[arg(long, value_name = "RATIO")]
    pub(crate) max_expansion: Option<u32>,
    /// Which entries of a zip archive are the job's files: a glob on their paths inside it
    /// ('data/*.csv'); "" for the default, every entry whose extension is the format's.
    #[arg(long, value_name = "GLOB")]
    pub(crate) archive_entries: Option<String>,
    /// What to do with a file whose columns differ from the job's: fail (the default:
    /// refuse it, keeping its columns as a proposed schema version to approve), add-columns
    /// (add new columns to the table; missing ones load as NULL), widen (also widen types
    /// without loss: INT64 to NUMERIC or FLOAT64, DATE to TIMESTAMP) or rescue (keep the
    /// table; unknown or mistyped values go to the row's _rescued JSON column).
    #[arg(long, value_name = "POLICY")]
    pub(crate) schema_policy: Option<SchemaPolicy>,
    /// A check each row must pass (repeatable): 'NAME: SQL boolean' ('positive: amount > 0'),
    /// or not_null(col), unique(col), accepted(col: a, b), regex(col: pattern),
    /// range(col: min, max). A row that breaks one is quarantined (see --max-rejected),
    /// else fails its file, naming the record. On update the rules given replace the job's.
    #[arg(long = "rule", value_name = "RULE")]
    pub(crate) rules: Vec<sluice_rules::Rule>,
    /// Load only the rows for which this SQL boolean is true (repeatable; the others are
    /// dropped and counted, not errors): --filter "status <> 'test'".
    #[arg(long = "filter", value_name = "SQL")]
    pub(crate) filters: Vec<String>,
    /// Set a column from a SQL expression of the row, before filters and rules
    /// (repeatable): --transform "note = trim(note)".
    #[arg(long = "transform", value_name = "COLUMN = SQL")]
    pub(crate) transforms: Vec<sluice_rules::Transform>,
    /// How many rows of a file may go to the table's quarantine table (TABLE_rejected) with
    /// their line, column, raw values and error while its good rows load: a count (100) or
    /// a share of its records (2.5%). Past it the whole file fails. 0, the default,
    /// quarantines nothing: the first bad value or broken rule fails the file.
    #[arg(long, value_name = "N or N%")]
    pub(crate) max_rejected: Option<MaxRejected>,
    /// Load rows with the same values in these columns once (comma-separated): within a
    /// file and against the rows the table holds. See --dedup-keep.
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    pub(crate) dedup_key: Vec<String>,
    /// Which row of a key stays: first (the one loaded first; later ones are left out,
    /// the default) or last (a newer row replaces the loaded one).
    #[arg(long, value_name = "first|last", requires = "dedup_key")]
    pub(crate) dedup_keep: Option<sluice_sinks::dedup::Keep>,
    /// Stop deduplicating rows (on update).
    #[arg(long, conflicts_with = "dedup_key")]
    pub(crate) no_dedup: bool,
    /// Remove the job's rules, filters and transforms (on update).
    #[arg(long, conflicts_with_all = ["rules", "filters", "transforms"])]
    pub(crate) no_rules: bool,
}

impl PolicyArgs {
    fn apply(&self, update: &mut JobUpdate) {
        update.changed_files = self.changed_files;
        update.settle_time_seconds = self.settle_time;
        update.ready_marker = self.ready_marker.clone();
        update.max_expansion = self.max_expansion;
        update.archive_entries = self.archive_entries.clone();
        update.schema_policy = self.schema_policy;
        update.max_rejected = self.max_rejected;
        if self.no_dedup {
            update.dedup = Some(None);
        } else if !self.dedup_key.is_empty() {
            update.dedup = Some(Some(sluice_sinks::dedup::Dedup {
                key: self
                    .dedup_key
                    .iter()
                    .map(|k| k.trim().to_string())
                    .collect(),
                keep: self.dedup_keep.unwrap_or_default(),
            }));
        }
        let given = |empty: bool| !empty || self.no_rules;
        if given(self.rules.is_empty()) {
            update.rules = Some(self.rules.clone());
        }
        if given(self.filters.is_empty()) {
            update.filters = Some(self.filters.clone());
        }
        if given(self.transforms.is_empty()) {
            update.transforms = Some(self.transforms.clone());
        }
    }
}

pub(crate) fn parse_rename(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
            Ok((from.trim().to_string(), to.trim().to_string()))
        }
        _ => Err(format!(
            "'{s}' is not FROM=TO (a column's name and the name it takes)"
        )),
    }
}

fn parse_duration(s: &str) -> Result<u64, String> {
    sluice_engine::plan::parse_duration(s).map(|d| d.as_secs())
}

#[derive(Args, Debug)]
pub(crate) struct UpdateJobArgs {
    pub(crate) name: String,
    /// Folder under the connection, searched recursively.
    #[arg(long)]
    pub(crate) prefix: Option<String>,
    /// Glob on the file name.
    #[arg(long)]
    pub(crate) pattern: Option<String>,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
    /// Load every unprocessed file (oldest first).
    #[arg(long, conflicts_with = "latest_only")]
    pub(crate) all_files: bool,
    /// Load only the newest unprocessed file per run.
    #[arg(long)]
    pub(crate) latest_only: bool,
    /// append or replace.
    #[arg(long)]
    pub(crate) load_type: Option<LoadMode>,
    /// Files over this size are skipped and reported (e.g. 500MB, 1GiB).
    #[arg(long, value_parser = parse_size)]
    pub(crate) max_file_size: Option<u64>,
    #[command(flatten)]
    pub(crate) settings: ScheduleArgs,
    #[command(flatten)]
    pub(crate) policies: PolicyArgs,
    /// Show what the change would do (and, if it changes which files are taken, the next
    /// run's plan under it) without saving it.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[arg(long)]
    pub(crate) json: bool,
}

impl UpdateJobArgs {
    fn update(&self) -> Result<JobUpdate> {
        let mut update = self.settings.update();
        self.policies.apply(&mut update);
        update.file_path_prefix = self.prefix.clone();
        update.file_pattern = self.pattern.clone();
        update.file_format_options = self.format.options()?;
        update.load_latest_only = if self.all_files {
            Some(false)
        } else if self.latest_only {
            Some(true)
        } else {
            None
        };
        update.load_type = self.load_type;
        update.max_file_size = self.max_file_size;
        Ok(update)
    }
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
    /// Load a file's column under another name in the table (repeatable): --rename CustID=customer_id.
    #[arg(long = "rename", value_name = "FILE_COLUMN=TABLE_COLUMN", value_parser = parse_rename)]
    pub(crate) renames: Vec<(String, String)>,
    /// Leave a file's column out of the table (repeatable); it is not a schema change when
    /// later files have it.
    #[arg(long = "drop", value_name = "COLUMN")]
    pub(crate) drops: Vec<String>,
    /// Add a column the file does not have, set from a SQL expression of the row (repeatable),
    /// typed as DuckDB types it: --set "source = 'crm'" --set "cents = CAST(amount * 100 AS BIGINT)".
    #[arg(long = "set", value_name = "COLUMN = SQL")]
    pub(crate) sets: Vec<sluice_rules::Transform>,
    /// Files over this size are skipped and reported (e.g. 500MB, 1GiB).
    #[arg(long, value_parser = parse_size, default_value = "1GiB")]
    pub(crate) max_file_size: u64,
    #[command(flatten)]
    pub(crate) settings: ScheduleArgs,
    #[command(flatten)]
    pub(crate) policies: PolicyArgs,
    /// Leave out the lineage columns (_sluice_file, _sluice_line, _sluice_loaded_at): the
    /// table holds only the file's columns, and changed files cannot be reloaded.
    #[arg(long)]
    pub(crate) no_lineage: bool,
    /// The table holds loads of a deleted job: take them over, so their files are not
    /// loaded again.
    #[arg(long, conflicts_with = "replace_table")]
    pub(crate) adopt: bool,
    /// The table holds loads of a deleted job: drop it and create it anew.
    #[arg(long)]
    pub(crate) replace_table: bool,
    /// DuckDB file to load into (default: warehouse.duckdb in the data directory).
    #[arg(long, conflicts_with = "destination")]
    pub(crate) duckdb: Option<PathBuf>,
    /// Load into PostgreSQL or BigQuery instead of DuckDB.
    /// PostgreSQL: postgres://user:password@host:5432/database?sslmode=verify-full&sslrootcert=ca.pem
    /// (sslmode disable, prefer (default), require, verify-ca, verify-full).
    /// BigQuery: bigquery://PROJECT/DATASET?location=US&credentials=/path/key.json (or
    /// credentials=adc, the default), push_down=true to let BigQuery read gs:// files itself.
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
                    let mut settings = JobSettings {
                        lineage: !a.no_lineage,
                        ..JobSettings::default()
                    };
                    if a.no_lineage && a.policies.changed_files.is_none() {
                        // Reloading needs lineage; without it a changed file is loaded as
                        // new rows, as the CLI says in --help.
                        settings.changed_files = ChangedFiles::Append;
                    }
                    let mut update = a.settings.update();
                    a.policies.apply(&mut update);
                    update.apply_settings(&mut settings);
                    settings
                },
                destination: destination(a.destination.as_deref(), a.duckdb.clone())?,
                expected_fingerprint: None,
                column_mapping: sluice_engine::mapping::ColumnMapping {
                    rename: a.renames.clone(),
                    drop: a.drops.clone(),
                    set: a.sets.clone(),
                },
                existing_table: if a.adopt {
                    ExistingTable::Adopt
                } else if a.replace_table {
                    ExistingTable::Replace
                } else {
                    ExistingTable::Refuse
                },
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
            let history = engine.job_history(&name).await?;
            if json {
                out.json(
                    &serde_json::json!({"job": job, "processed_files": ledger, "history": history}),
                )?;
            } else {
                out.job(&job, Some(&ledger));
                out.history(&history);
            }
        }
        JobsCmd::Update(a) => {
            let update = a.update()?;
            let preview = engine.preview_job_update(&a.name, update.clone()).await?;
            if a.dry_run {
                if a.json {
                    out.json(&preview)?;
                } else {
                    out.changes(&preview.changes);
                    if !preview.files.is_empty() || update.changes_selection() {
                        out.plan(&preview);
                    }
                    out.line("(dry run: nothing saved)");
                }
                return Ok(());
            }
            let job = engine.update_job(&a.name, update).await?;
            if a.json {
                out.json(&job)?;
            } else {
                out.job(&job, None);
                out.changes(&preview.changes);
                if !preview.files.is_empty() {
                    out.line(&format!(
                        "next run: {} file(s) to load, {} waiting, {} skipped (sluice plan {} for each file)",
                        preview.files_to_load, preview.files_waiting, preview.files_skipped, job.name
                    ));
                }
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
        JobsCmd::Schema(a) => crate::schema::run(engine, a, out).await?,
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
