//! Jobs into PostgreSQL and BigQuery, their credentials redacted; testing a destination.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::{Api, assert_error};

#[tokio::test]
async fn a_job_into_postgres_is_shown_with_its_password_redacted() {
    let db = sluice_testkit::postgres::TestDb::new("web").await;
    let url = db.url_with_password("disable");
    let password = sluice_testkit::postgres::PASSWORD;
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2.5\n2,3.5\n");
    let job = json!({
        "name": "tx", "connection_id": "local", "file_pattern": "t_*.csv",
        "destination": {"kind": "postgres", "url": url}
    });
    let (status, body) = api.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let redacted = url.replace(&format!(":{password}@"), ":••••@");
    assert_eq!(
        body["job"]["destination"],
        json!({"kind": "postgres", "url": redacted})
    );
    let (_, shown) = api.get("/api/jobs/tx").await;
    assert_eq!(shown["job"]["destination"]["url"], json!(redacted));
    let (_, list) = api.get("/api/jobs").await;
    assert!(!list.to_string().contains(password), "{list}");
    assert!(
        list["jobs"][0]["destination_description"]
            .as_str()
            .is_some_and(|d| d.contains(":••••@")),
        "{list}"
    );

    let run = api.run_now_and_wait("tx", Duration::from_secs(10)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_loaded"], 2);

    let bad = json!({
        "name": "bad", "connection_id": "local", "file_pattern": "t_*.csv",
        "destination": {"kind": "postgres", "url": "postgres://u:zz@h/db?sslmode=sometimes"}
    });
    let (status, body) = api.post("/api/jobs", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"]["fields"][0]["field"], "destination",
        "{body}"
    );
    assert!(!body.to_string().contains(":zz@"), "{body}");

    // The wizard's "Test destination": the database answers; a closed port does not, and
    // neither answer shows the password.
    let (status, body) = api
        .post(
            "/api/destinations/test",
            json!({"destination": {"kind": "postgres", "url": url}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("answers"),
        "{body}"
    );
    assert!(!body.to_string().contains(password), "{body}");
    let (status, body) = api
        .post(
            "/api/destinations/test",
            json!({"destination": {"kind": "postgres", "url": "postgres://u:zz@127.0.0.1:1/db?sslmode=disable"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_error(&body, "destination_error");
    assert!(!body.to_string().contains(":zz@"), "{body}");
    let (status, body) = api
        .post(
            "/api/destinations/test",
            json!({"destination": {"kind": "postgres", "url": "postgres://u:••••@h/db"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"]["fields"][0]["field"], "destination",
        "{body}"
    );
}

#[tokio::test]
async fn a_job_into_bigquery_is_shown_with_its_key_redacted() {
    let (endpoint, project) = sluice_testkit::peers::bigquery();
    let dataset = sluice_testkit::peers::unique("api");
    // The emulator is the operator's setting (SLUICE_BIGQUERY_ENDPOINT), not the caller's.
    let api = Api::with_engine(sluice_web::Access::open(), |engine, _| {
        engine
            .set_bigquery_endpoint(Some(endpoint.clone()))
            .unwrap();
    })
    .await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2.5\n2,3.5\n");
    let destination = json!({"kind": "bigquery", "project": project, "dataset": dataset,
        "auth": {"type": "none"}});
    // A caller who names another endpoint (where the server's credentials would go) is
    // refused, naming the field.
    let mut elsewhere = destination.clone();
    elsewhere["endpoint"] = json!("http://collector.example");
    let (status, body) = api
        .post("/api/destinations/test", json!({"destination": elsewhere}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"]["fields"][0]["field"],
        "destination.endpoint"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("SLUICE_BIGQUERY_ENDPOINT")
    );
    let job = json!({
        "name": "tx", "connection_id": "local", "file_pattern": "t_*.csv",
        "destination": destination
    });
    let (status, body) = api.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let shown = &body["job"]["destination"];
    assert_eq!(shown["kind"], "bigquery", "{body}");
    assert_eq!(shown["location"], "US", "{body}");
    assert_eq!(shown["push_down"], false, "{body}");

    let run = api.run_now_and_wait("tx", Duration::from_secs(20)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_loaded"], 2);

    // A key is sealed and never shown; a key that is not a service-account key is a field error.
    let key = json!({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n"});
    let bad = json!({
        "name": "bad", "connection_id": "local", "file_pattern": "t_*.csv",
        "destination": {"kind": "bigquery", "project": "p", "dataset": "d",
            "auth": {"type": "service_account_key", "key_json": key.to_string()}}
    });
    let (status, body) = api.post("/api/jobs", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"]["fields"][0]["field"], "destination",
        "{body}"
    );
    assert!(!body.to_string().contains("not-a-key"), "{body}");
}
