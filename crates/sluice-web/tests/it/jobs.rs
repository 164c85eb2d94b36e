//! Jobs through the API: create, run, report, reschedule, pause, alerts.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{Api, assert_error};

#[tokio::test]
async fn jobs_run_and_report() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2.5\n2,3.5\n");
    let (_, detected) = api
        .post(
            "/api/connections/local/detect-file-schema",
            json!({"file_path": "t_1.csv"}),
        )
        .await;
    let mut schema = detected["columns"].clone();
    schema[1]["bigquery_type"] = json!("NUMERIC");
    let job = json!({
        "name": "tx", "connection_id": "local", "file_pattern": "t_*.csv", "file_format": "csv",
        "load_latest_only": false, "schema_fingerprint": detected["schema_fingerprint"],
        "load_type": "append", "schema": schema, "schedule": "daily@02:00"
    });
    let (status, body) = api.post("/api/jobs", job.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["job"]["table_name"], "t");
    assert_eq!(body["job"]["schema"][1]["bigquery_type"], "NUMERIC");
    assert_eq!(body["job"]["schedule"], "daily@02:00");
    let (_, shown) = api.get("/api/jobs/tx").await;
    let next = shown["job"]["next_run_at"].as_str().unwrap();
    assert!(next.contains("T02:00:00"), "{next}");

    let (status, body) = api.post("/api/jobs", job.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["details"]["fields"][0]["field"], "name");
    let mut stale = job.clone();
    stale["name"] = json!("tx2");
    stale["schema_fingerprint"] = json!("0123456789abcdef0123456789abcdef");
    let (status, body) = api.post("/api/jobs", stale).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["details"]["fields"][0]["field"], "schema_fingerprint",
        "{body}"
    );
    let mut none = job.clone();
    none["name"] = json!("tx3");
    none["file_pattern"] = json!("orders_*.csv");
    let (status, body) = api.post("/api/jobs", none).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["details"]["fields"][0]["field"], "file_pattern");
    let mut bad = job.clone();
    bad["name"] = json!("tx4");
    bad["schedule"] = json!("sometimes");
    let (status, body) = api.post("/api/jobs", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"]["fields"][0]["field"], "schedule");

    let run = api.run_now_and_wait("tx", Duration::from_secs(5)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_loaded"], 2);
    assert_eq!(run["files"][0]["outcome"], "loaded");

    let (_, body) = api.get("/api/jobs/tx/runs").await;
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);
    let (_, body) = api.get("/api/jobs/tx/processed-files").await;
    assert_eq!(body["processed_files"][0]["file_path"], "t_1.csv");
    assert_eq!(body["processed_files"][0]["rows_loaded"], 2);
    let (_, body) = api.get("/api/jobs").await;
    assert_eq!(body["jobs"][0]["name"], "tx");
    let (status, _) = api.get("/api/jobs/tx").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call("DELETE", "/api/jobs/tx?drop_table=true", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.post("/api/jobs/tx/run", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (status, body) = api.get("/api/runs/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn jobs_are_rescheduled_paused_and_given_alerts_with_field_errors() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2.5\n");
    let job = json!({"name": "tx", "connection_id": "local", "file_pattern": "t_*.csv",
                     "schedule": "daily@02:00", "timezone": "America/New_York"});
    let (status, body) = api.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["job"]["timezone"], "America/New_York");
    assert_eq!(body["job"]["paused"], false);
    assert!(body["job"]["next_run_at"].is_string(), "{body}");

    let patch = |b: Value| api.call("PATCH", "/api/jobs/tx", Some(b), None);
    let (status, body) =
        patch(json!({"timezone": "Europe/Berlin", "schedule": "weekly@mon@06:30"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["job"]["schedule"], "weekly@mon@06:30");
    assert_eq!(body["job"]["timezone"], "Europe/Berlin");
    let next = body["job"]["next_run_at"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let local = next.with_timezone(&"Europe/Berlin".parse::<chrono_tz::Tz>().unwrap());
    assert_eq!(local.format("%a %H:%M").to_string(), "Mon 06:30");

    let (status, body) = patch(json!({"paused": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["job"]["paused"], true);
    assert!(body["job"]["next_run_at"].is_null(), "{body}");
    assert_eq!(
        body["job"]["schedule"], "weekly@mon@06:30",
        "other settings stay"
    );

    let (status, body) = patch(json!({"timezone": "Nowhere/City"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"]["fields"][0]["field"], "timezone");
    let (status, body) =
        patch(json!({"alerts": {"targets": [{"kind": "webhook", "url": "ftp://x/y"}]}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"]["fields"][0]["field"],
        "alerts.targets[0].url"
    );
    let (status, body) = patch(json!({"alerts": {"targets": [{"kind": "webhook", "url": "https://hooks.example.com/x", "format": "slack"}], "freshness_hours": 26}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["job"]["alerts"]["targets"][0]["format"], "slack");
    assert_eq!(body["job"]["alerts"]["freshness_hours"], 26);

    let (status, body) = api.get("/api/jobs/tx/incidents").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["incidents"], json!([]));
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/nope",
            Some(json!({"paused": true})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
}
