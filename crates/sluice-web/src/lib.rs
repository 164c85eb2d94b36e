//! sluice's HTTP interface: a JSON API under `/api` and the web UI at `/` (embedded ES
//! modules over the API, no build step), over the same [`Engine`] the CLI uses.
//! Handlers hold no logic of their own: they parse a request, call the engine, and shape
//! the answer. Every error has one shape (see [`error::ApiError`]).
//!
//! Start at [`router`]; [`Server::bind`] binds it, refusing a non-loopback address without a
//! token; [`guard`] says what every request is checked for.

pub mod api;
pub mod body;
pub mod error;
pub mod guard;
mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sluice_engine::Engine;

pub use error::ApiError;
pub use guard::Access;

/// What every handler shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Who may call, by which names (see [`guard`]).
    pub access: Access,
}

pub type Shared = Arc<AppState>;

/// The whole HTTP interface, every request checked by [`guard::guard`] first.
pub fn router(engine: Arc<Engine>, access: Access) -> Router {
    let state: Shared = Arc::new(AppState { engine, access });
    let api = api::routes().fallback(|| async {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API endpoint")
    });
    let app = Router::new()
        .nest("/api", api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(index))
        .route("/ui/{file}", get(ui_file))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state);
    // Paths are matched without a trailing slash (`/api/jobs/` is `/api/jobs`), as the
    // original system's clients send them: the outer router rewrites, the inner routes.
    Router::new()
        .fallback_service(app)
        .layer(middleware::map_request(trim_trailing_slash))
}

/// `/api/connections/5/list-files/` → `/api/connections/5/list-files`, query kept.
async fn trim_trailing_slash(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(pq) = rebuilt.parse::<axum::http::uri::PathAndQuery>() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

#[derive(serde::Deserialize)]
struct IndexQuery {
    token: Option<String>,
}

/// The UI's page. Opened with the right `?token=`, it signs the browser in (an HttpOnly,
/// SameSite=Strict cookie) and sends it on to `/`, so the token leaves the address bar.
async fn index(
    State(state): State<Shared>,
    axum::extract::Query(q): axum::extract::Query<IndexQuery>,
) -> Response {
    if let Some(token) = q.token.as_deref()
        && state.access.accepts(token)
    {
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, header::HeaderValue::from_static("/")),
                (header::SET_COOKIE, guard::session_cookie_header(token)),
            ],
        )
            .into_response();
    }
    asset("text/html; charset=utf-8", INDEX_HTML)
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
    ("nextrun.js", JS, include_str!("../ui/js/nextrun.js")),
    ("schema.js", JS, include_str!("../ui/js/schema.js")),
    ("rejected.js", JS, include_str!("../ui/js/rejected.js")),
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

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could read and load your data. Leave out --no-auth (a token is made at start), set SLUICE_API_TOKEN, or bind to 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// How callers prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// This token (from `SLUICE_API_TOKEN` or `--api-token`).
    Token(String),
    /// A token made at start and printed once, in the UI's address.
    Generate,
    /// No token: on a loopback address only (`--no-auth`).
    Disabled,
}

/// A listening socket, checked and bound, ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    access: Access,
    generated: bool,
}

impl Server {
    /// Binds `addr`; any address other than loopback needs a token. `allowed_hosts` are the
    /// names (besides IP addresses and `localhost`) requests may address the server by.
    pub async fn bind(
        addr: SocketAddr,
        auth: Auth,
        allowed_hosts: Vec<String>,
    ) -> Result<Self, ServeError> {
        let (token, generated) = match auth {
            Auth::Token(t) if !t.is_empty() => (Some(t), false),
            Auth::Token(_) | Auth::Generate => (Some(sluice_core::secret::random_token()), true),
            Auth::Disabled => (None, false),
        };
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(ServeError::TokenRequired(addr));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServeError::Bind(addr, e))?;
        Ok(Self {
            listener,
            access: Access {
                token,
                allowed_hosts,
            },
            generated,
        })
    }

    /// Where to open the UI: with the token when it was made here (it is shown once, to
    /// whoever started the server); without it when the operator gave it.
    pub fn ui_url(&self) -> String {
        let base = format!("http://{}/", self.local_addr());
        match (&self.access.token, self.generated) {
            (Some(t), true) => format!("{base}?token={t}"),
            _ => base,
        }
    }

    /// Whether callers need a token, and whether it was made here.
    pub fn auth(&self) -> (bool, bool) {
        (self.access.token.is_some(), self.generated)
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves, with the scheduler starting due jobs (and, on a shared catalog, loading files
    /// of other processes' runs), until Ctrl-C or SIGTERM. Then the
    /// runs going on finish the files they are loading (for up to [`SHUTDOWN_GRACE`]) and
    /// take no more; a second signal stops at once, and the files being loaded are rolled
    /// back and settled by the next run.
    pub async fn run(self, engine: Arc<Engine>) -> Result<(), ServeError> {
        let scheduler = tokio::spawn(Arc::clone(&engine).run_scheduler(SCHEDULER_TICK));
        // On a shared catalog, files of runs other processes started are loaded here too.
        let helper = Arc::clone(&engine);
        let helping = tokio::spawn(async move { helper.help_shared_runs(None).await });
        let stopping = Arc::clone(&engine);
        let served = axum::serve(self.listener, router(Arc::clone(&engine), self.access))
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
        let finishing = async {
            let runs = engine.wait_for_runs(SHUTDOWN_GRACE).await;
            runs && tokio::time::timeout(SHUTDOWN_GRACE, helping).await.is_ok()
        };
        tokio::select! {
            done = finishing => {
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
pub async fn serve(bind: SocketAddr, engine: Arc<Engine>, auth: Auth) -> Result<(), ServeError> {
    Server::bind(bind, auth, Vec::new())
        .await?
        .run(engine)
        .await
}
