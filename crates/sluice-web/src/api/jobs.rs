use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_core::schema::Column;
use sluice_engine::alerts::Alerts;
use sluice_engine::model::{JobSettings, JobUpdate};
use sluice_engine::schedule::{Schedule, Timezone};
use sluice_engine::{JobRequest, Kind, RunOptions};
use sluice_sinks::{LoadMode, SinkConfig};

use super::connections::format_options;
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

#[derive(Deserialize)]
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
    table_name: Option<String>,
    schema: Option<Vec<Column>>,
    schedule: Option<String>,
    timezone: Option<String>,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    alerts: Option<Value>,
    /// Failed runs in a row, the same failure each time, after which a file is parked.
    park_after_failures: Option<u32>,
    max_file_size: Option<u64>,
    #[serde(default)]
    destination: Option<SinkConfig>,
}

fn yes() -> bool {
    true
}

fn bad_field(field: &str, message: String) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "invalid", field, message)
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
    let load_type = match body.load_type.as_deref() {
        None | Some("") => LoadMode::Append,
        Some(t) => t.parse().map_err(|e| bad_field("load_type", e))?,
    };
    let update = settings_update(
        body.schedule.as_deref(),
        body.timezone.as_deref(),
        Some(body.paused),
        body.alerts,
        body.park_after_failures,
    )?;
    let mut settings = JobSettings::default();
    update.apply(&mut settings);
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
    })
}

#[derive(Deserialize)]
pub struct JobPatch {
    schedule: Option<String>,
    timezone: Option<String>,
    paused: Option<bool>,
    alerts: Option<Value>,
    park_after_failures: Option<u32>,
}

/// Changes a job's schedule, timezone, pause, alerts or parking; other fields are fixed at
/// creation.
pub async fn update(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Body(body): Body<JobPatch>,
) -> Answer {
    let update = settings_update(
        body.schedule.as_deref(),
        body.timezone.as_deref(),
        body.paused,
        body.alerts,
        body.park_after_failures,
    )?;
    let job = s.engine.update_job(&name, update).await?;
    Ok(Json(
        json!({"status": "success", "job": with_next_run(&job)}),
    ))
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
}

/// Starts a run and answers at once with its id; poll `GET /api/runs/{id}`. While the job
/// is running, the run is queued behind it (status `queued`); one run waits at most.
pub async fn run(
    State(s): State<Shared>,
    Path(name): Path<String>,
    OptionalBody(body): OptionalBody<RunBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let options = RunOptions {
        all_files: body.all_files,
        wait: true,
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
