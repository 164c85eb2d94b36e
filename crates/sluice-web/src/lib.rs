//! sluice's HTTP interface: a JSON API under `/api` and the web UI at `/` (embedded ES
//! modules over the API, no build step), over the same [`Engine`] the CLI uses.
//! Handlers hold no logic of their own: they parse a request, call the engine, and shape
//! the answer. Every error has one shape (see [`error::ApiError`]).
//!
//! Start at [`router`]; [`serve`] binds it, refusing a non-loopback address without a token.

pub mod api;
pub mod error;
mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sluice_engine::Engine;

pub use error::ApiError;

/// What every handler shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    /// When set, every API request must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

pub type Shared = Arc<AppState>;

/// The whole HTTP interface.
pub fn router(engine: Arc<Engine>, token: Option<String>) -> Router {
    let state: Shared = Arc::new(AppState { engine, token });
    let api = api::routes()
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API endpoint")
        })
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route("/ui/{file}", get(ui_file))
        .with_state(state)
}

// The UI is embedded in the binary: nothing is fetched at run time.
const INDEX_HTML: &str = include_str!("../ui/index.html");

/// The UI's files by name: `(name, content type, body)`.
const UI_FILES: &[(&str, &str, &str)] = &[
    ("style.css", CSS, include_str!("../ui/style.css")),
    ("main.js", JS, include_str!("../ui/js/main.js")),
    ("api.js", JS, include_str!("../ui/js/api.js")),
    ("dom.js", JS, include_str!("../ui/js/dom.js")),
    ("forms.js", JS, include_str!("../ui/js/forms.js")),
    ("schedule.js", JS, include_str!("../ui/js/schedule.js")),
    (
        "connections.js",
        JS,
        include_str!("../ui/js/connections.js"),
    ),
    ("wizard.js", JS, include_str!("../ui/js/wizard.js")),
    ("jobs.js", JS, include_str!("../ui/js/jobs.js")),
    ("job.js", JS, include_str!("../ui/js/job.js")),
    ("run.js", JS, include_str!("../ui/js/run.js")),
];
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn ui_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match UI_FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => asset(content_type, body),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

async fn require_token(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this server requires an API token: send `Authorization: Bearer <SLUICE_API_TOKEN>`",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without SLUICE_API_TOKEN: anyone who can reach it could read and load your data. Set SLUICE_API_TOKEN, or bind to 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// A listening socket, checked and bound, ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    token: Option<String>,
}

impl Server {
    /// Binds `addr`; any address other than loopback needs a token.
    pub async fn bind(addr: SocketAddr, token: Option<String>) -> Result<Self, ServeError> {
        let token = token.filter(|t| !t.is_empty());
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(ServeError::TokenRequired(addr));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServeError::Bind(addr, e))?;
        Ok(Self { listener, token })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves, with the scheduler starting due jobs, until Ctrl-C or SIGTERM. Then the
    /// runs going on finish the file they are loading (for up to [`SHUTDOWN_GRACE`]) and
    /// take no more; a second signal stops at once, and the file being loaded is rolled
    /// back and settled by the next run.
    pub async fn run(self, engine: Arc<Engine>) -> Result<(), ServeError> {
        let scheduler = tokio::spawn(Arc::clone(&engine).run_scheduler(SCHEDULER_TICK));
        let stopping = Arc::clone(&engine);
        let served = axum::serve(self.listener, router(Arc::clone(&engine), self.token))
            .with_graceful_shutdown(async move {
                sluice_engine::scheduler::stop_requested().await;
                tracing::info!(
                    "stopping: runs finish the file they are loading and take no more (a second Ctrl-C stops at once)"
                );
                stopping.shutdown();
            })
            .await
            .map_err(ServeError::Serve);
        let _ = scheduler.await;
        tokio::select! {
            done = engine.wait_for_runs(SHUTDOWN_GRACE) => {
                if !done {
                    tracing::warn!("runs still going after {SHUTDOWN_GRACE:?}; stopping them: their current files are rolled back and settled by the next run");
                }
            }
            () = sluice_engine::scheduler::stop_requested() => {
                tracing::warn!("stopping at once: files being loaded are rolled back and settled by the next run");
            }
        }
        served
    }
}

/// How often `sluice serve` looks for due jobs.
pub const SCHEDULER_TICK: std::time::Duration = std::time::Duration::from_secs(15);
/// How long `sluice serve` waits at shutdown for runs to finish their current file.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// Binds and serves until Ctrl-C or SIGTERM.
pub async fn serve(
    bind: SocketAddr,
    engine: Arc<Engine>,
    token: Option<String>,
) -> Result<(), ServeError> {
    Server::bind(bind, token).await?.run(engine).await
}
