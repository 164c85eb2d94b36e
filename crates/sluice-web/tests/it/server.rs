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
    let err = sluice_web::serve(
        "0.0.0.0:0".parse().unwrap(),
        engine,
        sluice_web::Auth::Disabled,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("without a token"), "{err}");
    // By default a token is made, and only the UI's address shows it.
    let server = sluice_web::Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        sluice_web::Auth::Generate,
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(server.auth(), (true, true));
    let url = server.ui_url();
    let token = url.split("?token=").nth(1).unwrap();
    assert_eq!(token.len(), 43, "{url}");
    let given = sluice_web::Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        sluice_web::Auth::Token("mine".into()),
        vec![],
    )
    .await
    .unwrap();
    assert!(
        !given.ui_url().contains("mine"),
        "the operator's token is not echoed"
    );
}

fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    axum::http::Request::builder().method(method).uri(uri)
}

#[tokio::test]
async fn a_page_that_rebinds_its_name_to_this_server_is_refused() {
    let api = Api::with_access(sluice_web::Access {
        token: None,
        allowed_hosts: vec!["sluice.internal".into()],
    })
    .await;
    let get = |host: &'static str| {
        request("GET", "/api/connections")
            .header("host", host)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (status, _, body) = api.send(get("evil.example:8080")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "host_not_allowed");
    for ok in [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "sluice.internal",
    ] {
        let (status, _, body) = api.send(get(ok)).await;
        assert_eq!(status, StatusCode::OK, "{ok}: {body}");
    }
    // The UI itself is refused to a rebound name too: its page would call the API.
    let (status, _, _) = api
        .send(
            request("GET", "/")
                .header("host", "evil.example")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_site_cannot_start_a_run_or_test_a_connection() {
    let api = Api::new(None).await;
    api.add_local().await;
    // A no-cors fetch or a form sends no JSON content type.
    for uri in ["/api/jobs/tx/run", "/api/connections/local/test"] {
        let (status, _, body) = api
            .send(
                request("POST", uri)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri}: {body}");
        assert_error(&body, "json_required");
        let (status, _, body) = api
            .send(
                request("POST", uri)
                    .header("content-type", "text/plain")
                    .body(axum::body::Body::from("{}"))
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri}: {body}");
    }
    // A foreign Origin is refused even with JSON.
    let (status, _, body) = api
        .send(
            request("POST", "/api/connections/local/test")
                .header("content-type", "application/json")
                .header("origin", "https://evil.example")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "cross_origin");
    // This server's own pages, and clients that say who they are, are served.
    let (status, _, body) = api
        .send(
            request("POST", "/api/connections/local/test")
                .header("content-type", "application/json")
                .header("origin", "http://localhost")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = api
        .send(
            request("POST", "/api/connections/local/test")
                .header("x-sluice-client", "curl")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_ui_signs_in_once_with_the_printed_address_and_keeps_a_strict_cookie() {
    let api = Api::new(Some("t0k3n")).await;
    // The page itself needs no token: it asks for one when the API refuses.
    let (status, _, _) = api
        .send(request("GET", "/").body(axum::body::Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    // The printed address signs the browser in and drops the token from the address.
    let (status, headers, _) = api
        .send(
            request("GET", "/?token=t0k3n")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("sluice_session=t0k3n;")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, _, _) = api
        .send(
            request("GET", "/?token=wrong")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a wrong token signs nobody in");
    let with_cookie = |uri: &str| {
        request("GET", uri)
            .header("cookie", "sluice_session=t0k3n")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (status, _, body) = api.send(with_cookie("/api/connections")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The sign-in form: a wrong token is a field error, the right one sets the cookie.
    let (status, _, body) = api
        .send(
            request("POST", "/api/session")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(json!({"token": "nope"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["details"]["fields"][0]["field"], "token");
    let (status, headers, _) = api
        .send(
            request("POST", "/api/session")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"token": "t0k3n"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("SameSite=Strict")
    );
    // /metrics needs the token too (Prometheus sends it as a bearer token); /healthz not.
    let (status, _, _) = api
        .send(
            request("GET", "/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = api.send(with_cookie("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = api
        .send(
            request("GET", "/healthz")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
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

#[tokio::test]
async fn a_body_that_is_not_the_json_asked_for_is_answered_in_the_api_shape() {
    let api = Api::new(None).await;
    api.add_local().await;
    let post = |uri: &str, body: &'static str| {
        request("POST", uri)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    // A field of the wrong type is named.
    let (status, _, body) = api
        .send(post(
            "/api/jobs",
            r#"{"name": "tx", "connection_id": "local", "file_pattern": 7}"#,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "invalid_body");
    assert_eq!(
        body["details"]["fields"][0]["field"], "file_pattern",
        "{body}"
    );
    // Malformed JSON says where.
    let (status, _, body) = api.send(post("/api/connections", "{\"name\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("line 1"),
        "{body}"
    );
    // A body every field of which has a default may be empty, as `curl -X POST` sends it.
    let (status, _, body) = api.send(post("/api/connections/local/test", "")).await;
    assert_ne!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = api.send(post("/api/jobs", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("needs a JSON body"),
        "{body}"
    );
}
