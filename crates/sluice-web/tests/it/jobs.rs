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

    // How many files load at once is 1 to 64; another value names the field.
    for bad in [json!(0), json!(65)] {
        let (status, body) = api.post("/api/jobs/tx/run", json!({"parallel": bad})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["details"]["fields"][0]["field"], "parallel", "{body}");
    }
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

/// A create-job body shaped like the original system's creates the job it describes:
/// `bigquery_table_name`, `bigquery_schema` with edited `bigquery_type` / `bigquery_mode`,
/// `schedule_type` with its time, `load_type: "transactional"`, `is_file_based` and the
/// numeric `connection_id`, on paths with a trailing slash.
#[tokio::test]
async fn the_original_systems_fields_are_honoured_and_unknown_ones_refused() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("sales_1.csv", "id,amount,day\n1,2.5,2024-11-19\n");
    let (_, list) = api.get("/api/connections/").await;
    let id = list["connections"][0]["id"].as_i64().unwrap();
    let (status, files) = api
        .get(&format!(
            "/api/connections/{id}/list-files/?pattern=sales_*.csv"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{files}");
    assert_eq!(files["files"][0]["name"], "sales_1.csv", "{files}");
    let (status, detected) = api
        .post(
            &format!("/api/connections/{id}/detect-file-schema/"),
            json!({"file_path": "sales_1.csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detected}");
    let mut schema = detected["columns"].clone();
    schema[0]["bigquery_type"] = json!("INTEGER");
    schema[0]["bigquery_mode"] = json!("REQUIRED");
    schema[1]["bigquery_type"] = json!("FLOAT");
    let job = json!({
        "name": "sales", "connection_id": id, "file_path_prefix": "", "file_pattern": "sales_*.csv",
        "file_format": "csv", "file_format_options": {}, "load_latest_only": true,
        "schema_fingerprint": detected["schema_fingerprint"], "is_file_based": true,
        "bigquery_table_name": "sales_daily", "bigquery_schema": schema,
        "load_type": "transactional", "schedule_type": "daily", "schedule_time": "06:30"
    });
    let (status, body) = api.post("/api/jobs/", job.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created = &body["job"];
    assert_eq!(created["table_name"], "sales_daily");
    assert_eq!(created["schema"][0]["bigquery_type"], "INT64");
    assert_eq!(created["schema"][0]["bigquery_mode"], "REQUIRED");
    assert_eq!(created["schema"][1]["bigquery_type"], "FLOAT64");
    assert_eq!(created["schedule"], "daily@06:30");
    assert_eq!(created["load_type"], "append");
    let run = api.run_now_and_wait("sales", Duration::from_secs(30)).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    // A field the API does not know is refused by name, never dropped.
    let mut typo = job.clone();
    typo["name"] = json!("sales2");
    typo["bigquery_tabel_name"] = json!("oops");
    let (status, body) = api.post("/api/jobs", typo).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("bigquery_tabel_name"),
        "{body}"
    );
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/sales",
            Some(json!({"shedule": "hourly"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("shedule"),
        "{body}"
    );
    let mut not_files = job.clone();
    not_files["name"] = json!("sales3");
    not_files["is_file_based"] = json!(false);
    let (status, body) = api.post("/api/jobs", not_files).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"]["fields"][0]["field"], "is_file_based");
}

/// The next run's plan, a person's file actions and a job's change with its preview and
/// history, through the API.
#[tokio::test]
async fn plans_file_actions_and_changes_with_history() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2\n");
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "tx", "connection_id": "local", "file_pattern": "t_*.csv", "load_latest_only": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["job"]["changed_files"], "reload");
    assert_eq!(body["job"]["lineage"], true);
    let (status, plan) = api.get("/api/jobs/tx/plan").await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["plan"]["files"][0]["file_path"], "t_1.csv");
    assert_eq!(plan["plan"]["files"][0]["action"], "load");
    assert_eq!(plan["plan"]["files"][0]["reason"], "new");
    assert_eq!(plan["plan"]["schema"][0]["matches"], true);
    api.run_now_and_wait("tx", Duration::from_secs(30)).await;
    let (_, plan) = api.get("/api/jobs/tx/plan").await;
    assert_eq!(
        plan["plan"]["files"][0]["reason"], "already_loaded",
        "{plan}"
    );

    let (status, body) = api
        .post(
            "/api/jobs/tx/files/forget",
            json!({"file_path": "t_1.csv", "delete_rows": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["rows_deleted"], 1);
    let (_, plan) = api.get("/api/jobs/tx/plan").await;
    assert_eq!(plan["plan"]["files"][0]["reason"], "forgotten", "{plan}");
    let (status, body) = api
        .post("/api/jobs/tx/files/retry", json!({"file_path": "t_1.csv"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api
        .post(
            "/api/jobs/tx/files/explode",
            json!({"file_path": "t_1.csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // A change shows its plan before it is saved, and is kept in the history.
    api.write("u_1.csv", "id,amount\n3,4\n");
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/tx",
            Some(json!({"file_pattern": "*_1.csv", "settle_time": "1m", "dry_run": true})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["plan"]["files"].as_array().unwrap().len(), 2, "{body}");
    let (_, job) = api.get("/api/jobs/tx").await;
    assert_eq!(
        job["job"]["file_pattern"], "t_*.csv",
        "a dry run saves nothing"
    );
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/tx",
            Some(json!({"file_pattern": "*_1.csv", "changed_files": "ignore"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["job"]["changed_files"], "ignore");
    let (_, history) = api.get("/api/jobs/tx/history").await;
    let changes = &history["history"][0]["changes"];
    assert!(
        changes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "file_pattern"
                && c["old"] == "t_*.csv"
                && c["new"] == "*_1.csv"),
        "{history}"
    );
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/tx",
            Some(json!({"changed_files": "sometimes"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"]["fields"][0]["field"], "changed_files");
}

#[tokio::test]
async fn schema_versions_are_listed_approved_and_edited() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("o_1.csv", "id,amount\n1,5\n");
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "o", "connection_id": "local", "file_pattern": "o_*.csv", "load_latest_only": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["job"]["schema_policy"], "fail");
    api.run_now_and_wait("o", Duration::from_secs(20)).await;
    api.write("o_2.csv", "id,amount,channel\n2,7,web\n");
    let run = api.run_now_and_wait("o", Duration::from_secs(20)).await;
    assert_eq!(run["files_failed"], 1, "{run}");
    let (status, body) = api.get("/api/jobs/o/schema").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let proposed = &body["versions"][0];
    assert_eq!(
        (proposed["version"].as_i64(), proposed["status"].as_str()),
        (Some(2), Some("proposed"))
    );
    assert_eq!(proposed["diff"]["added"][0]["name"], "channel", "{body}");
    assert_eq!(proposed["change"]["add"][0]["name"], "channel", "{body}");

    let (status, body) = api.post("/api/jobs/o/schema/9/approve", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api.post("/api/jobs/o/schema/2/approve", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"]["status"], "accepted");
    assert_eq!(body["files_retried"], 1);
    let (status, body) = api.post("/api/jobs/o/schema/2/approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let run = api.run_now_and_wait("o", Duration::from_secs(20)).await;
    assert_eq!(
        (run["files_loaded"].as_i64(), run["rows_loaded"].as_i64()),
        (Some(1), Some(1)),
        "{run}"
    );

    // Edits: a widening is a new version; a lossy change is refused naming the field.
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o/schema",
            Some(json!({"types": {"amount": "NUMERIC"}})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"]["version"], 3);
    assert_eq!(body["version"]["how"], "edited");
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o/schema",
            Some(json!({"types": {"id": "BOOL"}})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("column id cannot change"),
        "{body}"
    );
    // A rename and a drop in one edit: the table follows, files keep loading by their names.
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o/schema",
            Some(json!({"rename": {"channel": "sales_channel"}, "drop": ["amount"]})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"]["version"], 4, "{body}");
    assert_eq!(
        body["version"]["change"]["drop"],
        json!(["amount"]),
        "{body}"
    );
    assert_eq!(
        body["version"]["change"]["rename"],
        json!([["channel", "sales_channel"]]),
        "{body}"
    );
    let (_, body) = api.get("/api/jobs/o").await;
    let names: Vec<&str> = body["job"]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "sales_channel"], "{body}");
    api.write("o_3.csv", "id,amount,channel\n3,9,shop\n");
    let run = api.run_now_and_wait("o", Duration::from_secs(20)).await;
    assert_eq!(run["rows_loaded"], 1, "{run}");
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o/schema",
            Some(json!({"rename": {"id": "_sluice_file"}})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("keeps that name"),
        "{body}"
    );
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o/schema",
            Some(json!({"retype": {"id": "STRING"}})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o",
            Some(json!({"schema_policy": "sometimes"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"]["fields"][0]["field"], "schema_policy",
        "{body}"
    );
    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o",
            Some(json!({"schema_policy": "rescue"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["job"]["schema_policy"], "rescue");
}
