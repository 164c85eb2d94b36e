//! The API, called in-process: every endpoint, and its errors.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use sluice_engine::Engine;
use tower::ServiceExt;

mod access;
mod connections;
mod destinations;
mod jobs;
mod rejected;
mod server;

struct Api {
    dir: tempfile::TempDir,
    router: Router,
}

impl Api {
    async fn new(token: Option<&str>) -> Self {
        let access = match token {
            Some(t) => sluice_web::Access::with_token(t),
            None => sluice_web::Access::open(),
        };
        Self::with_access(access).await
    }

    async fn with_access(access: sluice_web::Access) -> Self {
        Self::with_engine(access, |_, _| {}).await
    }

    /// An API over an engine set up by `setup` (given the engine and the test's folder,
    /// which holds `drop/` and the data directory `data/`) before it is shared.
    async fn with_engine(
        access: sluice_web::Access,
        setup: impl FnOnce(&mut Engine, &std::path::Path),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("drop")).unwrap();
        let mut engine = Engine::open(&dir.path().join("data")).await.unwrap();
        setup(&mut engine, dir.path());
        Self {
            router: sluice_web::router(Arc::new(engine), access),
            dir,
        }
    }

    /// Sends a request as built, with `Host: localhost` unless it names one.
    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut req = req;
        req.headers_mut()
            .entry("host")
            .or_insert("localhost".parse().unwrap());
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, value)
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
            .header("host", "localhost")
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
        self.start_and_wait(&format!("/api/jobs/{job}/run"), limit)
            .await
    }

    /// POSTs to an endpoint that starts a run, and waits for the run to end.
    async fn start_and_wait(&self, path: &str, limit: Duration) -> Value {
        let (status, body) = self.post(path, json!({})).await;
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
