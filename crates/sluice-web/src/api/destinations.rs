//! `POST /api/destinations/test`: builds a destination from its settings and asks it to
//! answer, as the wizard's "Test destination" does before a job is created.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_core::secret::Secrets;
use sluice_sinks::SinkConfig;

use crate::body::Body;
use crate::{ApiError, Shared};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    destination: SinkConfig,
}

pub async fn test(
    State(s): State<Shared>,
    Body(body): Body<TestBody>,
) -> Result<Json<Value>, ApiError> {
    let description = body.destination.redacted().describe();
    s.engine.test_destination(&body.destination).await?;
    Ok(Json(json!({
        "status": "success",
        "description": description,
        "message": format!("{description} answers"),
    })))
}
