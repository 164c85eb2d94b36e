use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_core::format::FormatOptions;
use sluice_core::storage::ConnectionConfig;

use crate::body::Body;
use crate::{ApiError, Shared};

type Answer = Result<Json<Value>, ApiError>;

#[derive(Deserialize)]
pub struct NewConnection {
    name: String,
    #[serde(flatten)]
    config: ConnectionConfig,
}

pub async fn list(State(s): State<Shared>) -> Answer {
    Ok(Json(
        json!({"status": "success", "connections": s.engine.connections().await?}),
    ))
}

pub async fn create(
    State(s): State<Shared>,
    Body(body): Body<NewConnection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = s.engine.add_connection(&body.name, body.config).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"status": "success", "connection": c})),
    ))
}

pub async fn get_one(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    Ok(Json(
        json!({"status": "success", "connection": s.engine.connection(&name).await?}),
    ))
}

pub async fn update(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Body(config): Body<ConnectionConfig>,
) -> Answer {
    Ok(Json(
        json!({"status": "success", "connection": s.engine.update_connection(&name, config).await?}),
    ))
}

pub async fn delete(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    s.engine.delete_connection(&name).await?;
    Ok(Json(json!({"status": "success"})))
}

pub async fn test(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    let entries = s.engine.test_connection(&name).await?;
    Ok(Json(
        json!({"status": "success", "message": format!("connected: the first page lists {entries} entries"), "entries": entries}),
    ))
}

#[derive(Deserialize)]
pub struct FilesQuery {
    #[serde(default)]
    prefix: String,
    pattern: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
    max_file_size: Option<u64>,
}

/// Newest first; `cursor` is where the previous page stopped.
pub async fn list_files(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<FilesQuery>,
) -> Answer {
    let pattern = q.pattern.unwrap_or_else(|| "*".into());
    let start: usize = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c.parse().map_err(|_| {
            ApiError::field(
                StatusCode::BAD_REQUEST,
                "invalid",
                "cursor",
                format!("invalid cursor '{c}'"),
            )
        })?,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let listing = s
        .engine
        .list_files(&name, &q.prefix, &pattern, None, q.max_file_size)
        .await?;
    let page: Vec<_> = listing.files.iter().skip(start).take(limit).collect();
    let end = start + page.len();
    let next_cursor = (end < listing.count).then(|| end.to_string());
    Ok(Json(json!({
        "status": "success",
        "files": page,
        "count": listing.count,
        "prefix": listing.prefix,
        "pattern": listing.pattern,
        "max_file_size": listing.max_file_size,
        "next_cursor": next_cursor,
        "message": listing.suggestion,
        "hint": listing.hint,
        "suggested_table": listing.suggested_table,
        "warnings": listing.warnings,
    })))
}

#[derive(Deserialize)]
pub struct DetectBody {
    file_path: String,
    file_format: Option<String>,
    #[serde(default)]
    format_options: serde_json::Map<String, Value>,
}

/// The format and options of a request: `file_format` plus its options object.
pub fn format_options(
    file_format: Option<&str>,
    options: &serde_json::Map<String, Value>,
) -> Result<Option<FormatOptions>, ApiError> {
    Ok(FormatOptions::from_request(file_format, options)?)
}

pub async fn detect(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Body(body): Body<DetectBody>,
) -> Answer {
    let options = format_options(body.file_format.as_deref(), &body.format_options)?;
    let schema = s.engine.detect(&name, &body.file_path, options).await?;
    let mut out = serde_json::to_value(&schema)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    out["status"] = json!("success");
    Ok(Json(out))
}
