//! What the server trusts, checked on every request before a handler sees it:
//!
//! 1. **Host**: a request must name this server by an IP address, `localhost`, or a name
//!    the operator allowed (`--allowed-host`). A web page whose domain was rebound to
//!    127.0.0.1 sends its own domain as the Host and is refused (DNS rebinding). IP
//!    literals are safe to accept: rebinding needs a domain name.
//! 2. **Cross-site requests**: a request that changes state (`POST`, `PUT`, `PATCH`,
//!    `DELETE`) must send `Content-Type: application/json` or the `X-Sluice-Client` header,
//!    which a form or a `no-cors` fetch from another site cannot; and an `Origin` that is
//!    not this server's is refused.
//! 3. **The token**: with a token set (the default: `sluice serve` makes one), `/api` and
//!    `/metrics` need it, as `Authorization: Bearer <token>` or the `sluice_session` cookie
//!    (HttpOnly, SameSite=Strict) that `/?token=…` or `POST /api/session` sets for the UI.
//!    Tokens are compared in constant time. `/healthz` and the UI's static files are open:
//!    they hold no data.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sluice_core::secret::same_secret;

use crate::{ApiError, Shared};

/// The cookie the UI's session is kept in.
pub const SESSION_COOKIE: &str = "sluice_session";
/// A header only a script of this origin (or a non-browser client) sends.
pub const CLIENT_HEADER: &str = "x-sluice-client";

/// Who may call the server, and by which names.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// When set, `/api` and `/metrics` need it.
    pub token: Option<String>,
    /// Host names (without port) requests may use besides IP addresses and `localhost`.
    pub allowed_hosts: Vec<String>,
}

impl Access {
    /// No token, the default names: for tests and `--no-auth` on loopback.
    pub fn open() -> Self {
        Self::default()
    }

    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            allowed_hosts: Vec::new(),
        }
    }

    /// Whether a Host header (`name[:port]`) names this server.
    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        name.eq_ignore_ascii_case("localhost")
            || name.parse::<std::net::IpAddr>().is_ok()
            || self
                .allowed_hosts
                .iter()
                .any(|a| a.eq_ignore_ascii_case(name))
    }

    /// Whether the request carries the token, by header or cookie.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let cookie = session_cookie(headers);
        bearer.is_some_and(|b| same_secret(b, token))
            || cookie.is_some_and(|c| same_secret(&c, token))
    }

    /// Whether `given` is the token (for signing in).
    pub(crate) fn accepts(&self, given: &str) -> bool {
        self.token.as_deref().is_some_and(|t| same_secret(given, t))
    }
}

/// `name` of `name:port`, `[::1]:8080` → `::1`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The cookie that keeps a signed-in session.
pub(crate) fn session_cookie_header(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sluice_session=; Path=/"))
}

fn refuse(status: StatusCode, code: &'static str, message: String) -> Response {
    ApiError::new(status, code, message).into_response()
}

/// Whether the request's `Origin` (if any) is this server as the Host names it.
fn same_origin(headers: &HeaderMap, host: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    match url::Url::parse(origin) {
        Ok(u) => {
            let named = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => return false,
            };
            // `Url` brackets IPv6 hosts as the Host header does.
            named.eq_ignore_ascii_case(host)
        }
        Err(_) => false,
    }
}

/// The checks above, in order, for every request.
pub(crate) async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if !state.access.host_allowed(&host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            format!(
                "this server answers to IP addresses, localhost and the names it is given with --allowed-host; '{}' is none of them",
                host_name(&host)
            ),
        );
    }
    let path = request.uri().path().to_string();
    if path == "/healthz" {
        return next.run(request).await;
    }
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes {
        if !same_origin(headers, &host) {
            return refuse(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "requests from another site are refused".into(),
            );
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json && !headers.contains_key(CLIENT_HEADER) {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json_required",
                format!(
                    "a request that changes something must send Content-Type: application/json (or the {CLIENT_HEADER} header)"
                ),
            );
        }
    }
    let needs_token = (path.starts_with("/api/") && path != "/api/session") || path == "/metrics";
    if needs_token && !state.access.authorized(headers) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs its API token: send `Authorization: Bearer <token>`, or open the URL `sluice serve` printed".into(),
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_ip_addresses_localhost_or_allowed_names() {
        let a = Access {
            token: None,
            allowed_hosts: vec!["sluice.internal".into()],
        };
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "10.0.0.7",
            "sluice.internal:443",
        ] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "",
        ] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn the_token_is_taken_from_the_header_or_the_cookie() {
        let a = Access::with_token("t0k3n");
        let mut h = HeaderMap::new();
        assert!(!a.authorized(&h));
        h.insert(header::AUTHORIZATION, "Bearer t0k3n".parse().unwrap());
        assert!(a.authorized(&h));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=b; sluice_session=t0k3n".parse().unwrap());
        assert!(a.authorized(&h));
        h.insert(header::COOKIE, "sluice_session=t0k3nX".parse().unwrap());
        assert!(!a.authorized(&h));
    }
}
