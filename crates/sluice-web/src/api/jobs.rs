use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_core::schema::Column;
use sluice_engine::alerts::Alerts;
use sluice_engine::files::FileAction;
use sluice_engine::jobs::ExistingTable;
use sluice_engine::model::{ChangedFiles, JobSettings, JobUpdate};
use sluice_engine::schedule::{Schedule, Timezone};
use sluice_engine::{JobRequest, Kind, RunOptions};
use sluice_sinks::{LoadMode, SinkConfig};

use super::connections::format_options;
use super::policies::{PolicyFields, RuleInput, TransformInput};
use crate::body::{Body, OptionalBody};
use crate::{ApiError, Shared};

type Answer = Result<Json<Value>, ApiError>;

/// A connection named by its id or its name.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum ConnectionRef {
    Id(i64),
    Name(String),
}

/// A job to create, in the original system's fields (`bigquery_table_name`,
/// `bigquery_schema`, `schedule_type`, `is_file_based`, `load_type: "transactional"`) or
/// sluice's own (`table_name`, `schema`, `schedule`). A field it does not know is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    name: String,
    connection_id: ConnectionRef,
    #[serde(default)]
    file_path_prefix: String,
    file_pattern: String,
    file_format: Option<String>,
    #[serde(default)]
    file_format_options: serde_json::Map<String, Value>,
    #[serde(default = "yes")]
    load_latest_only: bool,
    /// The fingerprint the user reviewed: if the newest file no longer has it, the job is
    /// not created.
    schema_fingerprint: Option<String>,
    #[serde(default)]
    load_type: Option<String>,
    #[serde(alias = "bigquery_table_name")]
    table_name: Option<String>,
    #[serde(alias = "bigquery_schema")]
    schema: Option<Vec<Column>>,
    schedule: Option<String>,
    schedule_type: Option<String>,
    schedule_time: Option<String>,
    schedule_day: Option<String>,
    schedule_cron: Option<String>,
    timezone: Option<String>,
    /// The original system's jobs all load files; `false` asks for something sluice is not.
    is_file_based: Option<bool>,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    alerts: Option<Value>,
    /// Failed runs in a row, the same failure each time, after which a file is parked.
    park_after_failures: Option<u32>,
    max_file_size: Option<u64>,
    #[serde(default)]
    destination: Option<SinkConfig>,
    changed_files: Option<String>,
    settle_time_seconds: Option<u64>,
    /// The settle time as people write it: `10m`.
    settle_time: Option<String>,
    ready_marker: Option<String>,
    /// A compressed file may decompress to this many times its stored size (default 20).
    max_expansion: Option<u32>,
    /// A glob choosing a zip archive's entries (`data/*.csv`); "" for the default.
    archive_entries: Option<String>,
    /// What to do with a file whose columns differ: fail, add-columns, widen or rescue.
    schema_policy: Option<String>,
    /// Bad rows a file may send to `<table>_rejected` before it fails: a count (`100`) or
    /// a share of its records (`"2.5%"`); 0 quarantines nothing.
    max_rejected: Option<Value>,
    /// Columns rows are deduplicated by (`"id"`, `"a,b"` or `["a", "b"]`); empty stops it.
    dedup_key: Option<Value>,
    /// Which row of a key stays: `first` (default) or `last`.
    dedup_keep: Option<String>,
    /// Checks each row must pass: `"positive: amount > 0"`, `"not_null(id)"`, … (or
    /// `{name, check}` objects); the list replaces the job's.
    rules: Option<Vec<RuleInput>>,
    /// SQL booleans a row must meet to be loaded.
    filters: Option<Vec<String>>,
    /// `"column = SQL expression"` (or `{column, sql}` objects).
    transforms: Option<Vec<TransformInput>>,
    /// Add the lineage columns (default true).
    lineage: Option<bool>,
    /// The table holds loads of a deleted job: `adopt` them or `replace` the table.
    #[serde(default)]
    existing_table: ExistingTable,
    /// `{"rename": {"CustID": "customer_id"}, "drop": ["junk"], "set": ["source = 'crm'"]}`.
    column_mapping: Option<Value>,
}

/// A schedule as sluice writes it (`schedule`: `daily@02:00`, a cron expression) or as the
/// original system did (`schedule_type`: manual, hourly, daily, weekly or cron, with
/// `schedule_time` `HH:MM` (or `MM` past the hour), `schedule_day` for weekly, and
/// `schedule_cron`).
struct ScheduleFields {
    schedule: Option<String>,
    schedule_type: Option<String>,
    schedule_time: Option<String>,
    schedule_day: Option<String>,
    schedule_cron: Option<String>,
    timezone: Option<String>,
}

impl ScheduleFields {
    /// The schedule in sluice's words, if one was given.
    fn schedule(&self) -> Result<Option<String>, ApiError> {
        let Some(kind) = self.schedule_type.as_deref().map(str::trim) else {
            return Ok(self.schedule.clone());
        };
        if self.schedule.is_some() {
            return Err(bad_field(
                "schedule_type",
                "give schedule or schedule_type, not both".into(),
            ));
        }
        let time = self.schedule_time.as_deref().map(str::trim);
        let text = match (kind.to_ascii_lowercase().as_str(), time) {
            ("manual" | "none" | "", _) => "manual".to_string(),
            ("hourly", None) => "hourly".into(),
            ("hourly", Some(t)) => format!("hourly@{}", t.rsplit(':').next().unwrap_or(t)),
            ("daily", Some(t)) => format!("daily@{t}"),
            ("weekly", Some(t)) => format!(
                "weekly@{}@{t}",
                self.schedule_day.as_deref().map(str::trim).unwrap_or("mon")
            ),
            ("daily" | "weekly", None) => {
                return Err(bad_field(
                    "schedule_time",
                    format!("a {kind} schedule needs its time, as HH:MM"),
                ));
            }
            ("cron", _) => self.schedule_cron.clone().ok_or_else(|| {
                bad_field(
                    "schedule_cron",
                    "a cron schedule needs schedule_cron".into(),
                )
            })?,
            (other, _) => {
                return Err(bad_field(
                    "schedule_type",
                    format!(
                        "unknown schedule_type '{other}'; expected manual, hourly, daily, weekly or cron"
                    ),
                ));
            }
        };
        Ok(Some(text))
    }
}

macro_rules! schedule_fields {
    ($b:expr) => {
        ScheduleFields {
            schedule: $b.schedule,
            schedule_type: $b.schedule_type,
            schedule_time: $b.schedule_time,
            schedule_day: $b.schedule_day,
            schedule_cron: $b.schedule_cron,
            timezone: $b.timezone,
        }
    };
}

macro_rules! policy_fields {
    ($b:expr) => {
        PolicyFields {
            changed_files: $b.changed_files,
            settle_time_seconds: $b.settle_time_seconds,
            settle_time: $b.settle_time,
            ready_marker: $b.ready_marker,
            max_expansion: $b.max_expansion,
            archive_entries: $b.archive_entries,
            schema_policy: $b.schema_policy,
            max_rejected: $b.max_rejected,
            dedup_key: $b.dedup_key,
            dedup_keep: $b.dedup_keep,
            rules: $b.rules,
            filters: $b.filters,
            transforms: $b.transforms,
        }
    };
}

fn yes() -> bool {
    true
}

fn bad_field(field: &str, message: String) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "invalid", field, message)
}

/// A load type as sluice or the original system names it: `transactional` (each file in
/// one transaction, appended) is append.
fn load_type(text: Option<&str>) -> Result<Option<LoadMode>, ApiError> {
    match text.map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(LoadMode::Append)),
        Some(t) if t.eq_ignore_ascii_case("transactional") => Ok(Some(LoadMode::Append)),
        Some(t) => t.parse().map(Some).map_err(|e| bad_field("load_type", e)),
    }
}

pub async fn create(
    State(s): State<Shared>,
    Body(body): Body<NewJob>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let on_connection = |e: sluice_engine::Error| match e {
        e @ sluice_engine::Error::NotFound {
            kind: Kind::Connection,
            ..
        } => ApiError::from(e).on_field("connection_id"),
        other => other.into(),
    };
    if body.is_file_based == Some(false) {
        return Err(bad_field(
            "is_file_based",
            "sluice jobs load files from a connection; is_file_based must be true (or left out)"
                .into(),
        ));
    }
    let connection = match body.connection_id {
        ConnectionRef::Name(n) => n,
        ConnectionRef::Id(id) => {
            s.engine
                .connection_by_id(id)
                .await
                .map_err(on_connection)?
                .name
        }
    };
    let load_type = load_type(body.load_type.as_deref())?.unwrap_or_default();
    let schedule = schedule_fields!(body);
    let mut update = settings_update(
        schedule.schedule()?.as_deref(),
        schedule.timezone.as_deref(),
        Some(body.paused),
        body.alerts,
        body.park_after_failures,
    )?;
    policy_fields!(body).apply(&mut update)?;
    let lineage = body.lineage.unwrap_or(true);
    let mut settings = JobSettings {
        lineage,
        ..JobSettings::default()
    };
    if !lineage && update.changed_files.is_none() {
        settings.changed_files = ChangedFiles::Append;
    }
    update.apply_settings(&mut settings);
    let request = JobRequest {
        name: body.name.clone(),
        connection,
        file_path_prefix: body.file_path_prefix,
        file_pattern: body.file_pattern,
        format: format_options(body.file_format.as_deref(), &body.file_format_options)?,
        load_latest_only: body.load_latest_only,
        table_name: body.table_name,
        load_type,
        schema: body.schema,
        max_file_size: body.max_file_size,
        settings,
        destination: body.destination.unwrap_or_default(),
        expected_fingerprint: body.schema_fingerprint,
        existing_table: body.existing_table,
        column_mapping: super::policies::column_mapping(body.column_mapping.as_ref())?,
    };
    let job = s.engine.create_job(request).await.map_err(on_connection)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"status": "success", "job": with_next_run(&job)})),
    ))
}

/// Parses the settings a create or an update sends, naming the field at fault.
fn settings_update(
    schedule: Option<&str>,
    timezone: Option<&str>,
    paused: Option<bool>,
    alerts: Option<Value>,
    park_after_failures: Option<u32>,
) -> Result<JobUpdate, ApiError> {
    let schedule = schedule
        .map(|t| t.parse::<Schedule>().map_err(|e| bad_field("schedule", e)))
        .transpose()?;
    let timezone = timezone
        .map(|t| t.parse::<Timezone>().map_err(|e| bad_field("timezone", e)))
        .transpose()?;
    let alerts = alerts
        .filter(|a| !a.is_null())
        // The engine checks them, once webhook URLs sent back redacted have their stored
        // values again.
        .map(|a| {
            serde_json::from_value::<Alerts>(a)
                .map_err(|e| bad_field("alerts", format!("invalid alerts: {e}")))
        })
        .transpose()?;
    Ok(JobUpdate {
        schedule,
        timezone,
        paused,
        alerts,
        park_after_failures,
        ..JobUpdate::default()
    })
}

/// A change to a job: any field left out stays as it is. The connection, schema,
/// destination, table and lineage are fixed at creation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobPatch {
    file_path_prefix: Option<String>,
    file_pattern: Option<String>,
    file_format: Option<String>,
    file_format_options: Option<serde_json::Map<String, Value>>,
    load_latest_only: Option<bool>,
    max_file_size: Option<u64>,
    load_type: Option<String>,
    schedule: Option<String>,
    schedule_type: Option<String>,
    schedule_time: Option<String>,
    schedule_day: Option<String>,
    schedule_cron: Option<String>,
    timezone: Option<String>,
    paused: Option<bool>,
    alerts: Option<Value>,
    park_after_failures: Option<u32>,
    changed_files: Option<String>,
    settle_time_seconds: Option<u64>,
    /// The settle time as people write it: `10m`.
    settle_time: Option<String>,
    ready_marker: Option<String>,
    /// A compressed file may decompress to this many times its stored size (default 20).
    max_expansion: Option<u32>,
    /// A glob choosing a zip archive's entries (`data/*.csv`); "" for the default.
    archive_entries: Option<String>,
    /// What to do with a file whose columns differ: fail, add-columns, widen or rescue.
    schema_policy: Option<String>,
    /// Bad rows a file may send to `<table>_rejected` before it fails: a count (`100`) or
    /// a share of its records (`"2.5%"`); 0 quarantines nothing.
    max_rejected: Option<Value>,
    /// Columns rows are deduplicated by (`"id"`, `"a,b"` or `["a", "b"]`); empty stops it.
    dedup_key: Option<Value>,
    /// Which row of a key stays: `first` (default) or `last`.
    dedup_keep: Option<String>,
    /// Checks each row must pass: `"positive: amount > 0"`, `"not_null(id)"`, … (or
    /// `{name, check}` objects); the list replaces the job's.
    rules: Option<Vec<RuleInput>>,
    /// SQL booleans a row must meet to be loaded.
    filters: Option<Vec<String>>,
    /// `"column = SQL expression"` (or `{column, sql}` objects).
    transforms: Option<Vec<TransformInput>>,
    /// Only show what the change would do (and the next run's plan under it); save nothing.
    #[serde(default)]
    dry_run: bool,
}

impl JobPatch {
    fn update(self) -> Result<(JobUpdate, bool), ApiError> {
        let schedule = schedule_fields!(self);
        let mut update = settings_update(
            schedule.schedule()?.as_deref(),
            schedule.timezone.as_deref(),
            self.paused,
            self.alerts,
            self.park_after_failures,
        )?;
        policy_fields!(self).apply(&mut update)?;
        update.file_path_prefix = self.file_path_prefix;
        update.file_pattern = self.file_pattern;
        update.file_format_options = match (&self.file_format, &self.file_format_options) {
            (None, None) => None,
            (format, options) => format_options(
                format.as_deref(),
                options.as_ref().unwrap_or(&serde_json::Map::new()),
            )?,
        };
        update.load_latest_only = self.load_latest_only;
        update.max_file_size = self.max_file_size;
        update.load_type = load_type(self.load_type.as_deref())?;
        Ok((update, self.dry_run))
    }
}

/// Changes a job, recording the change in its history; with `dry_run`, answers what it
/// would change and the next run's plan under it, saving nothing.
pub async fn update(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Body(body): Body<JobPatch>,
) -> Answer {
    let (update, dry_run) = body.update()?;
    let preview = s.engine.preview_job_update(&name, update.clone()).await?;
    if dry_run {
        return Ok(Json(
            json!({"status": "success", "dry_run": true, "plan": preview, "changes": preview.changes}),
        ));
    }
    let job = s.engine.update_job(&name, update).await?;
    Ok(Json(
        json!({"status": "success", "job": with_next_run(&job), "changes": preview.changes}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    all_files: Option<bool>,
}

/// What the job's next run would do, file by file, without loading anything.
pub async fn plan(
    State(s): State<Shared>,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PlanQuery>,
) -> Answer {
    let plan = s.engine.plan(&name, q.all_files).await?;
    Ok(Json(json!({"status": "success", "plan": plan})))
}

/// The job's history of changes, newest first.
pub async fn history(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    Ok(Json(
        json!({"status": "success", "history": s.engine.job_history(&name).await?}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileActionBody {
    /// The file's path in the job's connection.
    file_path: String,
    /// With `forget`: also delete the rows the file left in the table.
    #[serde(default)]
    delete_rows: bool,
}

/// A person's action on one file of a job: `skip`, `retry` or `forget`.
pub async fn file_action(
    State(s): State<Shared>,
    Path((name, action)): Path<(String, String)>,
    Body(body): Body<FileActionBody>,
) -> Answer {
    let action: FileAction = action
        .parse()
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "not_found", e))?;
    if body.delete_rows && action != FileAction::Forget {
        return Err(bad_field(
            "delete_rows",
            "delete_rows goes with forget only".into(),
        ));
    }
    let done = s
        .engine
        .file_action(&name, &body.file_path, action, body.delete_rows)
        .await
        .map_err(|e| ApiError::from(e).on_field("file_path"))?;
    Ok(Json(json!({"status": "success", "result": done})))
}

/// A job's alerts, newest first.
pub async fn incidents(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    Ok(Json(
        json!({"status": "success", "incidents": s.engine.incidents(&name).await?}),
    ))
}

/// A job as the API shows it: with its next scheduled run and its destination in words
/// (derived, never stored).
fn with_next_run(job: &sluice_engine::model::Job) -> Value {
    let mut v = serde_json::to_value(job).unwrap_or_default();
    v["next_run_at"] = json!(job.settings.next_run_after(chrono::Utc::now()));
    v["destination_description"] = json!(job.destination.describe());
    v
}

pub async fn list(State(s): State<Shared>) -> Answer {
    let jobs: Vec<Value> = s.engine.jobs().await?.iter().map(with_next_run).collect();
    Ok(Json(json!({"status": "success", "jobs": jobs})))
}

pub async fn get_one(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    Ok(Json(
        json!({"status": "success", "job": with_next_run(&s.engine.job(&name).await?)}),
    ))
}

#[derive(Deserialize, Default)]
pub struct DeleteQuery {
    #[serde(default)]
    drop_table: bool,
}

pub async fn delete(
    State(s): State<Shared>,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DeleteQuery>,
) -> Answer {
    s.engine.delete_job(&name, q.drop_table).await?;
    Ok(Json(json!({"status": "success"})))
}

#[derive(Deserialize, Default)]
pub struct RunBody {
    all_files: Option<bool>,
    /// Files loaded at once (default: the server's cores).
    parallel: Option<u16>,
}

/// Starts a run and answers at once with its id; poll `GET /api/runs/{id}`. While the job
/// is running, the run is queued behind it (status `queued`); one run waits at most.
pub async fn run(
    State(s): State<Shared>,
    Path(name): Path<String>,
    OptionalBody(body): OptionalBody<RunBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.parallel == Some(0) || body.parallel.is_some_and(|n| n > 64) {
        return Err(bad_field(
            "parallel",
            "parallel is how many files load at once: 1 to 64".into(),
        ));
    }
    let options = RunOptions {
        all_files: body.all_files,
        wait: true,
        parallel: body.parallel.map(usize::from),
        ..Default::default()
    };
    let (job, run) = s.engine.start_run(&name, true).await?;
    let run_id = run.id;
    s.engine.spawn_run(job, run_id, options);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "success", "run_id": run_id, "run": run})),
    ))
}

pub async fn runs(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    Ok(Json(
        json!({"status": "success", "runs": s.engine.runs(&name, 100).await?}),
    ))
}

pub async fn run_details(State(s): State<Shared>, Path(id): Path<i64>) -> Answer {
    Ok(Json(
        json!({"status": "success", "run": s.engine.run_details(id).await?}),
    ))
}

pub async fn processed_files(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    Ok(Json(
        json!({"status": "success", "processed_files": s.engine.processed_files(&name).await?}),
    ))
}
