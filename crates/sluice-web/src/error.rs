//! One error shape for the whole API: `{status: "error", code, message, details}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sluice_engine::Error;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// An error caused by one request field, for forms to show beside it.
    pub fn field(
        status: StatusCode,
        code: &'static str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        Self {
            status,
            code,
            details: json!({"fields": [{"field": field, "message": message.clone()}]}),
            message,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "code": self.code, "message": self.message, "details": self.details});
        (self.status, Json(body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => Self::new(StatusCode::NOT_FOUND, "not_found", m),
            Error::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            Error::Invalid(m) => Self::new(StatusCode::BAD_REQUEST, "invalid", m),
            Error::Timeout(m) => Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", m),
            Error::InvalidFields(fields) => {
                let message = Error::InvalidFields(fields.clone()).to_string();
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    message,
                )
                .with_details(json!({ "fields": fields }))
            }
            Error::Core(core) => core.into(),
            Error::Sink(sluice_sinks::Error::Source(core)) => core.into(),
            Error::Sink(e @ sluice_sinks::Error::TableMismatch { .. }) => Self::field(
                StatusCode::CONFLICT,
                "table_mismatch",
                "table_name",
                e.to_string(),
            ),
            Error::Sink(e) => {
                Self::new(StatusCode::BAD_GATEWAY, "destination_error", e.to_string())
            }
            Error::Catalog(m) => {
                // Internals stay in the log.
                tracing::error!("catalog error: {m}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl From<sluice_core::Error> for ApiError {
    fn from(e: sluice_core::Error) -> Self {
        use sluice_core::Error as E;
        let message = e.to_string();
        match &e {
            E::Storage { .. } => {
                let kind = e.storage_failure();
                let status = match kind {
                    Some(sluice_core::storage::FailureKind::NotFound) => StatusCode::NOT_FOUND,
                    _ => StatusCode::BAD_GATEWAY,
                };
                Self::new(status, "storage_error", message).with_details(json!({ "kind": kind }))
            }
            E::Parse {
                path,
                line,
                column,
                hint,
                ..
            } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "parse_error",
                message.clone(),
            )
            .with_details(json!({"file_path": path, "line": line, "column": column, "hint": hint})),
            E::InvalidPattern { .. } => Self::field(
                StatusCode::BAD_REQUEST,
                "invalid_pattern",
                "file_pattern",
                message,
            ),
            E::InvalidOption { option, .. } => {
                let option = option.clone();
                Self::field(StatusCode::BAD_REQUEST, "invalid_option", &option, message)
            }
            E::InvalidUrl { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_connection", message)
            }
            E::SchemaMismatch { diff, .. } => {
                Self::new(StatusCode::CONFLICT, "schema_mismatch", message.clone())
                    .with_details(json!({ "diff": diff }))
            }
        }
    }
}
