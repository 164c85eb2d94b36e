//! The server: tokens, binding, the OpenAPI document, the UI and its vocabulary, metrics.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use sluice_engine::Engine;

use crate::{Api, assert_error};

#[tokio::test]
async fn a_token_guards_every_endpoint() {
    let api = Api::new(Some("s3cret")).await;
    let (status, body) = api.get("/api/connections").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
    let (status, _) = api
        .call("GET", "/api/connections", None, Some("wrong"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = api
        .call("GET", "/api/connections", None, Some("s3cret"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api.get("/healthz").await;
    assert_eq!((status, body), (StatusCode::OK, Value::String("ok".into())));
    let (status, body) = api.call("GET", "/api/nothing", None, Some("s3cret")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn serving_beyond_loopback_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path()).await.unwrap());
    let err = sluice_web::serve("0.0.0.0:0".parse().unwrap(), engine, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("without SLUICE_API_TOKEN"),
        "{err}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let api = Api::new(None).await;
    let (status, body) = api.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["openapi"], "3.1.0");
    assert!(body["paths"]["/connections/{name}/detect-file-schema"]["post"].is_object());
}

#[tokio::test]
async fn the_ui_is_served_from_the_binary() {
    let api = Api::new(None).await;
    let (status, body) = api.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.as_str()
            .unwrap()
            .contains("<script type=\"module\" src=\"/ui/main.js\">")
    );
    // Every module a served module imports is served too.
    let mut todo = vec!["main.js".to_string()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(file) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let (status, body) = api.get(&format!("/ui/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        let text = body.as_str().unwrap().to_string();
        for import in text.split("from \"./").skip(1) {
            todo.push(import.split('"').next().unwrap().to_string());
        }
    }
    assert!(
        seen.contains("wizard.js") && seen.contains("forms.js"),
        "{seen:?}"
    );
    let (status, _) = api.get("/ui/nope.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_vocabulary_comes_from_the_registries() {
    let api = Api::new(None).await;
    let (status, v) = api.get("/api/vocabulary").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let names = |key: &str, field: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[field].as_str().unwrap().to_string())
            .collect()
    };
    let formats: Vec<String> = sluice_core::format::FORMATS
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    assert_eq!(names("formats", "name"), formats);
    let providers: Vec<String> = sluice_core::storage::PROVIDERS
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(names("providers", "name"), providers);
    let destinations: Vec<String> = sluice_sinks::SINKS
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names("destinations", "name"), destinations);
    assert_eq!(v["warehouse_types"][0], "STRING");
    // A format's options and a provider's fields are described, with secrets marked.
    let csv = &v["formats"][0];
    assert_eq!(csv["options"][0]["name"], "delimiter", "{csv}");
    let s3 = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "s3")
        .unwrap();
    let secret = s3["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "secret_access_key")
        .unwrap();
    assert_eq!(secret["secret"], true);
    assert_eq!(
        names("outcomes", "outcome"),
        sluice_engine::model::FileOutcome::ALL.map(|o| o.as_str().to_string())
    );
    assert!(v["schedules"]["forms"].as_array().unwrap().len() >= 5);
    assert_eq!(
        v["names"]["table"]["pattern"],
        sluice_core::names::TABLE_NAME_PATTERN
    );
}

#[tokio::test]
async fn metrics_count_runs_rows_and_successes() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2.5\n2,3.5\n3,4.5\n");
    let job = json!({"name": "tx", "connection_id": "local", "file_pattern": "t_*.csv", "load_latest_only": false});
    assert_eq!(api.post("/api/jobs", job).await.0, StatusCode::CREATED);
    api.write("t_2.csv", "id,amount\n4,2.5\n");
    let (_, body) = api.get("/metrics").await;
    assert!(
        body.as_str()
            .unwrap()
            .contains("sluice_files_waiting{job=\"tx\"} 2"),
        "{body}"
    );
    std::fs::remove_file(api.dir.path().join("drop/t_2.csv")).unwrap();
    api.run_now_and_wait("tx", Duration::from_secs(5)).await;
    let (status, body) = api.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().unwrap();
    assert!(
        text.contains("sluice_runs_total{job=\"tx\",status=\"succeeded\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sluice_rows_loaded_total{job=\"tx\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("sluice_files_loaded_total{job=\"tx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sluice_run_duration_seconds_count{job=\"tx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sluice_last_success_timestamp_seconds{job=\"tx\"}"),
        "{text}"
    );
    assert!(
        text.contains("sluice_files_waiting{job=\"tx\"} 0"),
        "a run refreshes the count: {text}"
    );
}
