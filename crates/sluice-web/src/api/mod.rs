//! The JSON endpoints. Success bodies carry `"status": "success"`; field names follow the
//! original system (`file_path_prefix`, `schema_fingerprint`, `bigquery_type`, …).

mod connections;
mod jobs;

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
        .route("/jobs/{name}", get(jobs::get_one).delete(jobs::delete))
        .route("/jobs/{name}/run", post(jobs::run))
        .route("/jobs/{name}/runs", get(jobs::runs))
        .route("/jobs/{name}/processed-files", get(jobs::processed_files))
        .route("/runs/{id}", get(jobs::run_details))
}
