//! A job's schema versions: listed, a proposed one approved, the schema edited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_core::schema::ColumnType;

use crate::body::Body;
use crate::{ApiError, Shared};

type Answer = Result<Json<Value>, ApiError>;

/// The job's schema versions, newest first, with the proposed ones waiting for approval.
pub async fn list(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    let versions = s.engine.schema_versions(&name).await?;
    Ok(Json(json!({"status": "success", "versions": versions})))
}

/// Accepts a proposed version: the table is changed to hold it, and files refused for
/// their schema load on the next run.
pub async fn approve(
    State(s): State<Shared>,
    Path((name, version)): Path<(String, u32)>,
) -> Answer {
    let accepted = s.engine.approve_schema(&name, version).await?;
    Ok(Json(json!({
        "status": "success",
        "version": accepted.version,
        "files_retried": accepted.files_retried,
    })))
}

/// An edit of the schema, as a new version: `{"types": {"amount": "NUMERIC"}, "rename":
/// {"amt": "amount"}, "drop": ["note"]}` (each part optional; columns named as before the
/// edit).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaEdit {
    #[serde(default)]
    types: BTreeMap<String, ColumnType>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
    #[serde(default)]
    drop: Vec<String>,
}

pub async fn edit(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Body(edit): Body<SchemaEdit>,
) -> Answer {
    let edit = sluice_engine::engine::SchemaEdit {
        types: edit.types.into_iter().collect(),
        rename: edit.rename.into_iter().collect(),
        drop: edit.drop,
    };
    let accepted = s.engine.edit_schema(&name, &edit).await?;
    Ok(Json(json!({
        "status": "success",
        "version": accepted.version,
        "files_retried": accepted.files_retried,
    })))
}
