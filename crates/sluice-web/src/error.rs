//! One error shape for the whole API: `{status: "error", code, message, details}`.
//!
//! Engine errors are mapped by their type: a status code, a code word, and the request field
//! at fault (`details.fields`, which forms show beside the field), the advice
//! (`details.hint`) and, where a setting carries it out, that setting and its value
//! (`details.fix`: `{field, value}`). No message text is inspected. 5xx bodies hide internals, which go to
//! the log.

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

    /// Moves the error onto another field (a handler knows which field named a thing).
    pub fn on_field(mut self, field: &str) -> Self {
        self.details["fields"] = json!([{"field": field, "message": self.message.clone()}]);
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Adds a detail without dropping the others.
    fn detail(mut self, key: &str, value: Value) -> Self {
        if !self.details.is_object() {
            self.details = json!({});
        }
        self.details[key] = value;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "code": self.code, "message": self.message, "details": self.details});
        (self.status, Json(body)).into_response()
    }
}

/// The status and code of an engine error, by its type.
fn classify(e: &Error) -> (StatusCode, &'static str) {
    use sluice_sinks::Error as Sink;
    match e {
        Error::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
        Error::Exists { .. } => (StatusCode::CONFLICT, "conflict"),
        Error::InUse { .. } => (StatusCode::CONFLICT, "in_use"),
        Error::Busy { .. } => (StatusCode::CONFLICT, "busy"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::LeaseLost { .. } => (StatusCode::CONFLICT, "lease_lost"),
        Error::SchemaChanged { .. } => (StatusCode::CONFLICT, "schema_changed"),
        Error::NoFiles { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "no_files"),
        Error::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid"),
        Error::InvalidFields(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        Error::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        Error::Catalog(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Error::Core(core) | Error::Sink(Sink::Source(core)) => classify_core(core),
        Error::Sink(Sink::TableMismatch { .. }) => (StatusCode::CONFLICT, "table_mismatch"),
        Error::Sink(Sink::Invalid { .. }) => (StatusCode::BAD_REQUEST, "invalid"),
        Error::Sink(_) => (StatusCode::BAD_GATEWAY, "destination_error"),
    }
}

fn classify_core(e: &sluice_core::Error) -> (StatusCode, &'static str) {
    use sluice_core::Error as E;
    use sluice_core::storage::FailureKind;
    match e {
        E::Storage { .. } if e.storage_failure() == Some(FailureKind::NotFound) => {
            (StatusCode::NOT_FOUND, "storage_error")
        }
        E::Storage { .. } if e.storage_failure() == Some(FailureKind::AccessDenied) => {
            (StatusCode::FORBIDDEN, "storage_error")
        }
        E::Storage { .. } => (StatusCode::BAD_GATEWAY, "storage_error"),
        E::Parse { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "parse_error"),
        E::NoRows { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "empty_file"),
        E::InvalidPattern { .. } => (StatusCode::BAD_REQUEST, "invalid_pattern"),
        E::InvalidOption { .. } => (StatusCode::BAD_REQUEST, "invalid_option"),
        E::InvalidUrl { .. } => (StatusCode::BAD_REQUEST, "invalid_connection"),
        E::SchemaMismatch { .. } => (StatusCode::CONFLICT, "schema_mismatch"),
        E::Changed { .. } => (StatusCode::CONFLICT, "file_changed"),
    }
}

/// What a core error adds to `details`: the storage failure's kind, a parse error's place,
/// a schema mismatch's diff.
fn core_details(e: &sluice_core::Error) -> Vec<(&'static str, Value)> {
    use sluice_core::Error as E;
    match e {
        E::Storage { .. } => vec![("kind", json!(e.storage_failure()))],
        E::Parse {
            path, line, column, ..
        } => vec![
            ("file_path", json!(path)),
            ("line", json!(line)),
            ("column", json!(column)),
        ],
        E::SchemaMismatch { diff, .. } => vec![("diff", json!(diff))],
        _ => Vec::new(),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = classify(&e);
        if matches!(e, Error::Catalog(_)) {
            // Internals stay in the log; what a storage service or a destination answered
            // is for the caller to act on.
            tracing::error!("internal error: {e}");
            return Self::new(status, code, "internal error; see the server log");
        }
        let message = e.to_string();
        let mut out = match (&e, e.field()) {
            (Error::InvalidFields(fields), _) => {
                Self::new(status, code, message).with_details(json!({ "fields": fields }))
            }
            (_, Some(field)) => Self::field(status, code, field, message),
            (_, None) => Self::new(status, code, message),
        };
        if let Some(hint) = e.hint() {
            out = out.detail("hint", json!(hint.text));
            if let Some(field) = &hint.field {
                out = out.detail("fix", json!({"field": field, "value": hint.value}));
            }
        }
        let core = match &e {
            Error::Core(core) | Error::Sink(sluice_sinks::Error::Source(core)) => Some(core),
            _ => None,
        };
        for (key, value) in core.map(core_details).unwrap_or_default() {
            out = out.detail(key, value);
        }
        out
    }
}

impl From<sluice_core::Error> for ApiError {
    fn from(e: sluice_core::Error) -> Self {
        Error::Core(e).into()
    }
}
