//! Connections, listings and detection through the API.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{Api, assert_error};

#[tokio::test]
async fn connections_crud_redacts_secrets_and_reports_fields() {
    let api = Api::new(None).await;
    let (status, body) = api
        .post(
            "/api/connections",
            json!({"name": "prod", "provider": "s3", "bucket": "acme-drops", "region": "eu-west-1",
                   "access_key_id": "AKIAEXAMPLE", "secret_access_key": "wJalrSECRET"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["connection"]["config"]["secret_access_key"], "••••");
    for uri in ["/api/connections", "/api/connections/prod"] {
        let (status, body) = api.get(uri).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.to_string().contains("wJalr"), "{body}");
    }
    let (status, body) = api
        .post(
            "/api/connections",
            json!({"name": "prod", "provider": "local", "path": "/tmp"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "conflict");
    assert_eq!(body["details"]["fields"][0]["field"], "name");

    let (status, body) = api
        .post(
            "/api/connections",
            json!({"name": "bad", "provider": "s3", "bucket": "No_Good", "access_key_id": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed");
    let fields: Vec<&str> = body["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["bucket", "secret_access_key"]);

    // An edit that sends the redacted secret back keeps it.
    let (status, body) = api
        .call(
            "PUT",
            "/api/connections/prod",
            Some(
                json!({"provider": "s3", "bucket": "acme-drops", "region": "us-east-2",
                        "access_key_id": "AKIAEXAMPLE", "secret_access_key": "••••"}),
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["connection"]["config"]["region"], "us-east-2");

    let (status, _) = api
        .call("DELETE", "/api/connections/prod", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.get("/api/connections/prod").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn test_list_files_and_detect() {
    let api = Api::new(None).await;
    api.add_local().await;
    for i in 1..=3 {
        api.write(
            &format!("t_{i}.csv"),
            "id,zip,at\n1,00501,2024-11-19T08:00:00Z\n2,10001,2024-11-19T09:00:00+01:00\n",
        );
    }
    let (status, body) = api.post("/api/connections/local/test", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"], 3);

    let (status, body) = api
        .get("/api/connections/local/list-files?pattern=t_*.csv&limit=2")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["count"].as_u64(),
            body["files"].as_array().unwrap().len()
        ),
        (Some(3), 2)
    );
    assert_eq!(
        (&body["order"], &body["complete"]),
        (&json!("newest"), &json!(true))
    );
    assert_eq!(body["next_cursor"], Value::Null);
    let f = &body["files"][0];
    assert!(
        f["name"].is_string()
            && f["size"].is_u64()
            && f["last_modified"].is_string()
            && f["over_limit"] == false,
        "{f}"
    );
    // Paged by name: each page lists only itself, and its cursor is a start-after key.
    let (_, page1) = api
        .get("/api/connections/local/list-files?pattern=t_*.csv&limit=2&order=name")
        .await;
    let names = |p: &Value| -> Vec<String> {
        p["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&page1), vec!["t_1.csv", "t_2.csv"], "{page1}");
    assert_eq!(page1["next_cursor"], "t_2.csv");
    let (_, page2) = api
        .get("/api/connections/local/list-files?pattern=t_*.csv&limit=2&cursor=t_2.csv")
        .await;
    assert_eq!(names(&page2), vec!["t_3.csv"], "{page2}");
    assert_eq!(page2["next_cursor"], Value::Null, "{page2}");

    let (status, body) = api
        .get("/api/connections/local/list-files?pattern=orders_*.csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no files matching 'orders_*.csv'"),
        "{body}"
    );
    let (status, body) = api
        .get("/api/connections/local/list-files?pattern=t_%5B.csv")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_pattern");
    assert_eq!(body["details"]["fields"][0]["field"], "file_pattern");

    let (status, body) = api
        .post("/api/connections/local/detect-file-schema", json!({"file_path": "t_1.csv", "file_format": "csv", "format_options": {"delimiter": ","}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "success");
    let types: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bigquery_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["INT64", "STRING", "TIMESTAMP"]);
    assert_eq!(
        body["columns"][1]["sample_values"],
        json!(["00501", "10001"])
    );
    assert_eq!(body["total_rows"], 2);
    assert_eq!(body["total_rows_estimated"], false);
    assert_eq!(body["schema_fingerprint"].as_str().unwrap().len(), 32);

    api.write("p.csv", "a|b\n1|2\n");
    let (status, body) = api
        .post("/api/connections/local/detect-file-schema", json!({"file_path": "p.csv", "file_format": "csv", "format_options": {"delimiter": ","}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "parse_error");
    assert!(
        body["details"]["hint"]
            .as_str()
            .unwrap()
            .contains("set the delimiter to '|'"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/connections/local/detect-file-schema",
            json!({"file_path": "nope.csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "storage_error");
}
