//! The JSON endpoints. Success bodies carry `"status": "success"`; field names follow the
//! original system (`file_path_prefix`, `schema_fingerprint`, `bigquery_type`, …).

mod connections;
mod destinations;
mod jobs;
mod policies;
mod rejected;
mod schemas;
mod session;
mod vocabulary;

use axum::Router;
use axum::routing::{get, post};

use crate::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/connections",
            get(connections::list).post(connections::create),
        )
        .route(
            "/connections/{name}",
            get(connections::get_one)
                .put(connections::update)
                .delete(connections::delete),
        )
        .route("/connections/{name}/test", post(connections::test))
        .route(
            "/connections/{name}/list-files",
            get(connections::list_files),
        )
        .route(
            "/connections/{name}/detect-file-schema",
            post(connections::detect),
        )
        .route("/jobs", get(jobs::list).post(jobs::create))
        .route(
            "/jobs/{name}",
            get(jobs::get_one).patch(jobs::update).delete(jobs::delete),
        )
        .route("/jobs/{name}/incidents", get(jobs::incidents))
        .route("/jobs/{name}/plan", get(jobs::plan))
        .route("/jobs/{name}/history", get(jobs::history))
        .route(
            "/jobs/{name}/schema",
            get(schemas::list).patch(schemas::edit),
        )
        .route(
            "/jobs/{name}/schema/{version}/approve",
            post(schemas::approve),
        )
        .route("/jobs/{name}/rejected", get(rejected::list))
        .route("/jobs/{name}/rejected/replay", post(rejected::replay))
        .route("/jobs/{name}/files/{action}", post(jobs::file_action))
        .route("/jobs/{name}/run", post(jobs::run))
        .route("/jobs/{name}/runs", get(jobs::runs))
        .route("/jobs/{name}/processed-files", get(jobs::processed_files))
        .route("/runs/{id}", get(jobs::run_details))
        .route("/destinations/test", post(destinations::test))
        .route("/vocabulary", get(vocabulary::vocabulary))
        .route("/session", post(session::sign_in).delete(session::sign_out))
        .route("/openapi.json", get(openapi))
}

/// The API's OpenAPI 3.1 document, kept beside the code; a test checks that it names
/// every route.
pub const OPENAPI: &str = include_str!("../../openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_names_every_route() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let documented: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let source = include_str!("mod.rs");
        // Every route registered above, however rustfmt wraps the call.
        let routes: Vec<&str> = source
            .split(".route(")
            .skip(1)
            .filter_map(|rest| rest.trim_start().strip_prefix('"'))
            .filter_map(|rest| rest.split('"').next())
            .filter(|path| path.starts_with('/'))
            .collect();
        assert!(routes.len() >= 12, "{routes:?}");
        for r in &routes {
            assert!(
                documented.contains(r),
                "route {r} is missing from openapi.json"
            );
        }
        for d in &documented {
            assert!(
                routes.contains(d),
                "openapi.json documents {d}, which is not a route"
            );
        }
    }
}
