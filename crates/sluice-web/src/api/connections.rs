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
    let name = connection_name(&s, name).await?;
    Ok(Json(
        json!({"status": "success", "connection": s.engine.connection(&name).await?}),
    ))
}

pub async fn update(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Body(config): Body<ConnectionConfig>,
) -> Answer {
    let name = connection_name(&s, name).await?;
    Ok(Json(
        json!({"status": "success", "connection": s.engine.update_connection(&name, config).await?}),
    ))
}

pub async fn delete(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    let name = connection_name(&s, name).await?;
    s.engine.delete_connection(&name).await?;
    Ok(Json(json!({"status": "success"})))
}

pub async fn test(State(s): State<Shared>, Path(name): Path<String>) -> Answer {
    let name = connection_name(&s, name).await?;
    let entries = s.engine.test_connection(&name).await?;
    Ok(Json(
        json!({"status": "success", "message": format!("connected: the first page lists {entries} entries"), "entries": entries}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesQuery {
    #[serde(default)]
    prefix: String,
    pattern: Option<String>,
    limit: Option<usize>,
    /// Where the previous page stopped (its `next_cursor`): pages in name order.
    cursor: Option<String>,
    /// `name` pages in name order from the start; by default, newest first.
    order: Option<String>,
    max_file_size: Option<u64>,
}

/// Matching files. By default newest first, sorted over a scan of up to
/// [`sluice_core::storage::PAGE_SCAN_LIMIT`] objects (`complete` says whether that was all
/// of them). With `order=name` or a `cursor`, one page in name order: only that page's
/// objects are listed from the store, and `next_cursor` (a start-after key) fetches the next.
pub async fn list_files(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<FilesQuery>,
) -> Answer {
    let name = connection_name(&s, name).await?;
    let pattern = q.pattern.unwrap_or_else(|| "*".into());
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let by_name = match q.order.as_deref() {
        None | Some("") | Some("newest") => q.cursor.is_some(),
        Some("name") => true,
        Some(other) => {
            return Err(ApiError::field(
                StatusCode::BAD_REQUEST,
                "invalid",
                "order",
                format!("unknown order '{other}'; expected newest or name"),
            ));
        }
    };
    let (listing, next_cursor, complete) = if by_name {
        let (listing, next) = s
            .engine
            .list_files_page(
                &name,
                &q.prefix,
                &pattern,
                q.cursor.as_deref(),
                limit,
                q.max_file_size,
            )
            .await?;
        (listing, next, None)
    } else {
        let (mut listing, next) = s
            .engine
            .list_files_page(
                &name,
                &q.prefix,
                &pattern,
                None,
                sluice_core::storage::PAGE_SCAN_LIMIT,
                q.max_file_size,
            )
            .await?;
        if listing.files.is_empty() && next.is_none() {
            // Nothing at all: the full listing says what was found instead.
            listing = s
                .engine
                .list_files(&name, &q.prefix, &pattern, Some(limit), q.max_file_size)
                .await?;
        }
        listing.files.sort_by(|a, b| {
            b.last_modified
                .cmp(&a.last_modified)
                .then_with(|| b.name.cmp(&a.name))
        });
        listing.files.truncate(limit);
        (listing, None, Some(next.is_none()))
    };
    Ok(Json(json!({
        "status": "success",
        "files": listing.files,
        "count": listing.count,
        "order": if by_name { "name" } else { "newest" },
        "complete": complete,
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
    let name = connection_name(&s, name).await?;
    let options = format_options(body.file_format.as_deref(), &body.format_options)?;
    let schema = s.engine.detect(&name, &body.file_path, options).await?;
    let mut out = serde_json::to_value(&schema)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    out["status"] = json!("success");
    Ok(Json(out))
}

/// A connection in a path is named by its name or, as the original system's clients send
/// it, by its numeric id (`/api/connections/5/list-files`).
async fn connection_name(s: &Shared, name: String) -> Result<String, ApiError> {
    if let Ok(id) = name.parse::<i64>()
        && s.engine.connection(&name).await.is_err()
    {
        return Ok(s.engine.connection_by_id(id).await?.name);
    }
    Ok(name)
}
