//! Transient failures are retried with backoff; failures in the data are not.
//!
//! The S3 server is moto; between it and sluice sits a fault-injecting proxy started by
//! the test, which answers `503 Slow Down` to the first N reads of one object and passes
//! everything else through untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use sluice_core::storage::ConnectionConfig;
use sluice_engine::model::{FileOutcome, RunStatus};
use sluice_engine::run::RetryPolicy;
use sluice_engine::{Engine, JobRequest, Quiet, RunOptions};

use crate::storage::{Backend, Provider};
use crate::transactions;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    /// The object whose reads fail.
    target: String,
    /// How many reads of it still fail.
    failing: Arc<AtomicU32>,
    /// Reads of it seen in all.
    reads: Arc<AtomicU32>,
    http: reqwest::Client,
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if req.method() == "GET" && req.uri().path().ends_with(&p.target) {
        p.reads.fetch_add(1, Ordering::SeqCst);
        let left = p.failing.load(Ordering::SeqCst);
        if left > 0 {
            p.failing.store(left - 1, Ordering::SeqCst);
            return Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .body(Body::from(
                    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
                ))
                .unwrap();
        }
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = p
        .http
        .request(method, format!("{}{path_and_query}", p.upstream));
    for (k, v) in req.headers() {
        if k != "host" {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap();
    let answer = out.body(body).send().await.unwrap();
    let mut response = Response::builder().status(answer.status().as_u16());
    for (k, v) in answer.headers() {
        response = response.header(k.as_str(), v.as_bytes());
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
}

/// An engine whose S3 connection goes through the proxy; the object `t_1.csv` is there.
async fn setup() -> (tempfile::TempDir, Engine, Proxy, Backend) {
    let backend = Backend::new(Provider::S3);
    backend.put("t_1.csv", transactions(0, 50)).await;
    let ConnectionConfig::S3(mut s3) = backend.config.clone() else {
        unreachable!()
    };
    let proxy = Proxy {
        upstream: s3.endpoint.clone().unwrap(),
        target: "t_1.csv".into(),
        failing: Arc::default(),
        reads: Arc::default(),
        http: reqwest::Client::new(),
    };
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    s3.endpoint = Some(format!("http://{}", listener.local_addr().unwrap()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut engine = Engine::open(dir.path()).await.unwrap();
    engine.set_retry_policy(RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    });
    engine
        .add_connection("src", ConnectionConfig::S3(s3))
        .await
        .unwrap();
    engine
        .create_job(JobRequest {
            name: "tx".into(),
            connection: "src".into(),
            file_pattern: "t_*.csv".into(),
            ..JobRequest::default()
        })
        .await
        .unwrap();
    proxy.reads.store(0, Ordering::SeqCst);
    (dir, engine, proxy, backend)
}

fn warnings(run: &sluice_engine::model::Run) -> Vec<String> {
    run.log
        .iter()
        .filter(|l| l.level == "warn")
        .map(|l| l.message.clone())
        .collect()
}

#[tokio::test]
async fn a_file_that_fails_transiently_is_tried_again_and_loads_once() {
    let (_dir, engine, proxy, _b) = setup().await;
    // More failures in a row than the storage client's own retries (4) absorb: the first
    // try of the file fails as a whole, the second succeeds.
    proxy.failing.store(5, Ordering::SeqCst);
    let run = engine
        .run("tx", RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    let run = engine.run_details(run.id).await.unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 50));
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("(transient); try 2 of 3 in 50 ms"),
        "{warned:?}"
    );
    assert!(warned[0].contains("t_1.csv"), "{warned:?}");
    assert!(proxy.reads.load(Ordering::SeqCst) >= 6);
}

#[tokio::test]
async fn retries_are_bounded_and_the_failure_is_reported_as_storage() {
    let (_dir, engine, proxy, _b) = setup().await;
    proxy.failing.store(u32::MAX, Ordering::SeqCst);
    let run = engine
        .run("tx", RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    let run = engine.run_details(run.id).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.files[0].outcome, FileOutcome::FailedStorage);
    assert!(
        run.files[0].message.as_deref().unwrap().contains("503"),
        "{:?}",
        run.files[0]
    );
    let warned = warnings(&run);
    assert_eq!(
        warned
            .iter()
            .filter(|w| w.contains("(transient); try"))
            .count(),
        2,
        "three tries in all: {warned:?}"
    );
    assert!(
        warned.iter().any(|w| w.contains("try 3 of 3 in 100 ms")),
        "{warned:?}"
    );
    // 3 tries × (1 + 4 client retries) reads.
    assert_eq!(proxy.reads.load(Ordering::SeqCst), 15);
    assert!(engine.processed_files("tx").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_parse_error_is_not_retried() {
    let (_dir, engine, proxy, b) = setup().await;
    b.put_later(
        "t_2.csv",
        "id,amount,currency,created_at,note\n1,2.5,EUR,2024-11-19T08:00:00Z,n\n2,3.5,EUR,2024-11-19T08:00:00Z,n,surplus\n",
    )
    .await;
    let run = engine
        .run("tx", RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    let run = engine.run_details(run.id).await.unwrap();
    let bad = run.files.iter().find(|f| f.file_path == "t_2.csv").unwrap();
    assert_eq!(bad.outcome, FileOutcome::FailedParse, "{bad:?}");
    assert!(
        !run.log.iter().any(|l| l.message.contains("try 2")),
        "{:?}",
        run.log
    );
    assert_eq!(
        proxy.reads.load(Ordering::SeqCst),
        2,
        "t_1.csv read once for its schema, once to load"
    );
}
