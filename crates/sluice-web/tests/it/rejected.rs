//! Quarantine through the API: `max_rejected` on create and update (a number or a share),
//! the quarantined rows listed, and a replay after the rule is fixed.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::{Api, assert_error};

#[tokio::test]
async fn rejected_rows_are_listed_and_replayed() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("o_1.csv", "id,amount\n1,5\n2,-3\n3,0\n");
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "o", "connection_id": "local", "file_pattern": "o_*.csv",
                   "max_rejected": "lots", "rules": ["positive: amount > 0"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "invalid");
    assert_eq!(
        body["details"]["fields"][0]["field"], "max_rejected",
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "o", "connection_id": "local", "file_pattern": "o_*.csv",
                   "max_rejected": 2, "rules": ["positive: amount > 0"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["job"]["max_rejected"], "2");
    let run = api.run_now_and_wait("o", Duration::from_secs(20)).await;
    assert_eq!(
        (run["rows_loaded"].as_i64(), run["rows_rejected"].as_i64()),
        (Some(1), Some(2)),
        "{run}"
    );

    let (status, body) = api.get("/api/jobs/o/rejected").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rejected = &body["rejected"];
    assert_eq!(
        (rejected["table"].as_str(), rejected["total"].as_i64()),
        (Some("o_rejected"), Some(2))
    );
    assert_eq!(rejected["counts"][0]["reason"], "positive");
    assert_eq!(rejected["rows"][0]["line_number"], 3);
    assert_eq!(rejected["rows"][0]["error_message"], "breaks rule positive");

    let (status, body) = api
        .call(
            "PATCH",
            "/api/jobs/o",
            Some(json!({"rules": ["not_zero: amount <> 0"], "max_rejected": "50%"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["job"]["max_rejected"], "50%");
    let replay = api
        .start_and_wait("/api/jobs/o/rejected/replay", Duration::from_secs(20))
        .await;
    assert_eq!(replay["status"], "succeeded", "{replay}");
    assert_eq!(
        (
            replay["rows_loaded"].as_i64(),
            replay["rows_rejected"].as_i64()
        ),
        (Some(1), Some(1)),
        "{replay}"
    );
    let (_, body) = api.get("/api/jobs/o/rejected").await;
    assert_eq!(body["rejected"]["total"], 1);
    assert_eq!(body["rejected"]["rows"][0]["rule_name"], "not_zero");
}

#[tokio::test]
async fn a_dedup_key_is_set_checked_and_removed() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("o_1.csv", "id,amount\n1,5\n1,6\n2,7\n");
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "o", "connection_id": "local", "file_pattern": "o_*.csv", "dedup_key": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"]["fields"][0]["field"], "dedup_key", "{body}");
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "o", "connection_id": "local", "file_pattern": "o_*.csv", "dedup_key": ["id"], "dedup_keep": "last"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["job"]["dedup"], json!({"key": ["id"], "keep": "last"}));
    let run = api.run_now_and_wait("o", Duration::from_secs(20)).await;
    assert_eq!(run["rows_loaded"], 2, "{run}");
    let (status, body) = api
        .call("PATCH", "/api/jobs/o", Some(json!({"dedup_key": ""})), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["job"].get("dedup").is_none(), "{body}");
}

#[tokio::test]
async fn a_column_mapping_is_taken_on_create_and_a_bad_one_refused() {
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("o_1.csv", "CustID,amount,junk\n7,5,x\n");
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "o", "connection_id": "local", "file_pattern": "o_*.csv",
                   "column_mapping": {"rename": {"nope": "x"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"]["fields"][0]["field"], "column_mapping",
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/jobs",
            json!({"name": "o", "connection_id": "local", "file_pattern": "o_*.csv",
                   "column_mapping": {"rename": {"CustID": "customer_id"}, "drop": ["junk"], "set": ["origin = 'api'"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let names: Vec<&str> = body["job"]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer_id", "amount", "origin"]);
    assert_eq!(body["job"]["ignored_columns"], json!(["junk"]));
    let run = api.run_now_and_wait("o", Duration::from_secs(20)).await;
    assert_eq!(run["rows_loaded"], 1, "{run}");
}
