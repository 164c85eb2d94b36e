//! The API, called in-process: every endpoint, and its errors.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use sluice_engine::Engine;
use tower::ServiceExt;

struct Api {
    dir: tempfile::TempDir,
    router: Router,
}

impl Api {
    async fn new(token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("drop")).unwrap();
        let engine = Arc::new(Engine::open(&dir.path().join("data")).await.unwrap());
        Self {
            router: sluice_web::router(engine, token.map(str::to_string)),
            dir,
        }
    }

    fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir.path().join("drop").join(name), content).unwrap();
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call("GET", uri, None, None).await
    }

    async fn post(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", uri, Some(body), None).await
    }

    /// Asks for a run of `job` ("Run now") and polls it until it is neither queued nor
    /// running, for at most `limit`; returns the run as last seen.
    async fn run_now_and_wait(&self, job: &str, limit: Duration) -> Value {
        let (status, body) = self.post(&format!("/api/jobs/{job}/run"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let run_id = body["run_id"].as_i64().unwrap();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let (_, body) = self.get(&format!("/api/runs/{run_id}")).await;
            let run = body["run"].clone();
            let pending = matches!(run["status"].as_str(), Some("running" | "queued"));
            if !pending || tokio::time::Instant::now() >= deadline {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn add_local(&self) {
        let (status, body) = self
            .post(
                "/api/connections",
                json!({"name": "local", "provider": "local", "path": self.dir.path().join("drop")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

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
    assert_eq!(body["next_cursor"], "2");
    let f = &body["files"][0];
    assert!(
        f["name"].is_string()
            && f["size"].is_u64()
            && f["last_modified"].is_string()
            && f["over_limit"] == false,
        "{f}"
    );
    let (_, page2) = api
        .get("/api/connections/local/list-files?pattern=t_*.csv&limit=2&cursor=2")
        .await;
    assert_eq!(
        (
            page2["files"].as_array().unwrap().len(),
            page2["next_cursor"].clone()
        ),
        (1, Value::Null)
    );

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

async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A fresh database on the test server (`SLUICE_TEST_POSTGRES_URL`, see scripts/peers.sh)
/// and its URL with a password, which the trusting test server ignores.
async fn postgres_database() -> (String, String, String) {
    let admin = std::env::var("SLUICE_TEST_POSTGRES_URL").expect(
        "SLUICE_TEST_POSTGRES_URL is not set: run `bash scripts/peers.sh start` and `eval \"$(bash scripts/peers.sh env)\"`",
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("sluice_it_web_{}_{nanos}", std::process::id());
    pg_connect(&admin)
        .await
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let rest = admin.strip_prefix("postgres://").unwrap();
    let (auth, host) = rest.split_once('@').unwrap();
    let user = auth.split(':').next().unwrap();
    let host = host.split('/').next().unwrap();
    let url = format!("postgres://{user}:pa55word@{host}/{name}?sslmode=disable");
    (admin, name, url)
}

#[tokio::test]
async fn a_job_into_postgres_is_shown_with_its_password_redacted() {
    let (admin, name, url) = postgres_database().await;
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2.5\n2,3.5\n");
    let job = json!({
        "name": "tx", "connection_id": "local", "file_pattern": "t_*.csv",
        "destination": {"kind": "postgres", "url": url}
    });
    let (status, body) = api.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let redacted = url.replace(":pa55word@", ":••••@");
    assert_eq!(
        body["job"]["destination"],
        json!({"kind": "postgres", "url": redacted})
    );
    let (_, shown) = api.get("/api/jobs/tx").await;
    assert_eq!(shown["job"]["destination"]["url"], json!(redacted));
    let (_, list) = api.get("/api/jobs").await;
    assert!(!list.to_string().contains("pa55word"), "{list}");

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

    pg_connect(&admin)
        .await
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_job_into_bigquery_is_shown_with_its_key_redacted() {
    let endpoint = std::env::var("SLUICE_TEST_BIGQUERY_URL")
        .expect("SLUICE_TEST_BIGQUERY_URL is not set: eval \"$(bash scripts/peers.sh env)\"");
    let project = std::env::var("SLUICE_TEST_BIGQUERY_PROJECT").unwrap();
    let dataset = format!(
        "api_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let api = Api::new(None).await;
    api.add_local().await;
    api.write("t_1.csv", "id,amount\n1,2.5\n2,3.5\n");
    let job = json!({
        "name": "tx", "connection_id": "local", "file_pattern": "t_*.csv",
        "destination": {"kind": "bigquery", "project": project, "dataset": dataset,
            "endpoint": endpoint, "auth": {"type": "none"}}
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
            .contains("<script src=\"/ui/app.js\">")
    );
    let (status, body) = api.get("/ui/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_str().unwrap().contains("wizardPage"));
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
