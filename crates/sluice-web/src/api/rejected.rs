//! A job's quarantined rows: counts per file and rule with the rows, and a replay of them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use sluice_engine::RunOptions;

use crate::{ApiError, Shared};

/// The rows the job's files sent to `<table>_rejected`, with counts per file and rule.
pub async fn list(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rejected = s.engine.rejected(&name).await?;
    Ok(Json(json!({"status": "success", "rejected": rejected})))
}

/// Starts a replay of the job's quarantined rows and answers at once with its run's id;
/// poll `GET /api/runs/{id}`. It waits behind a run of the job going on.
pub async fn replay(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (job, run) = s.engine.start_run(&name, true).await?;
    let run_id = run.id;
    s.engine.spawn_run(
        job,
        run_id,
        RunOptions {
            replay: true,
            wait: true,
            ..Default::default()
        },
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "success", "run_id": run_id, "run": run})),
    ))
}
