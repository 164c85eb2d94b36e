//! Access tokens for BigQuery's API: a service-account key (a signed JWT exchanged at the
//! key's `token_uri`), application default credentials, or none (emulators).
//!
//! Tokens are cached and fetched again a few minutes before they expire.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// The OAuth scope of every request.
pub const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";
/// A token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// How the sink authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Auth {
    /// A service-account JSON key, given inline.
    ServiceAccountKey { key_json: String },
    /// A service-account JSON key in a file.
    ServiceAccountFile { path: PathBuf },
    /// `GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's
    /// `~/.config/gcloud/application_default_credentials.json`, else the metadata server.
    ApplicationDefault,
    /// No `Authorization` header (local emulators).
    None,
}

/// The fields of a service-account key that signing needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// gcloud's `authorized_user` credentials (from `gcloud auth application-default login`).
#[derive(Clone, Deserialize)]
struct AuthorizedUser {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(Clone)]
enum Source {
    None,
    Key(ServiceAccountKey),
    User(AuthorizedUser),
    Metadata(String),
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// Hands out a valid access token, fetching a new one when the cached one is near expiry.
pub struct TokenProvider {
    source: Source,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.source {
            Source::None => "none",
            Source::Key(_) => "service account key",
            Source::User(_) => "authorized user",
            Source::Metadata(_) => "metadata server",
        };
        f.debug_struct("TokenProvider")
            .field("source", &kind)
            .finish()
    }
}

impl TokenProvider {
    /// # Errors
    /// When a key file cannot be read or is not a key this module understands.
    pub fn new(auth: &Auth, http: reqwest::Client) -> Result<Self, String> {
        let source = match auth {
            Auth::None => Source::None,
            Auth::ServiceAccountKey { key_json } => {
                Source::Key(parse_key(key_json, "the inline key")?)
            }
            Auth::ServiceAccountFile { path } => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "cannot read the service-account key {}: {e}",
                        path.display()
                    )
                })?;
                Source::Key(parse_key(&text, &path.display().to_string())?)
            }
            Auth::ApplicationDefault => application_default()?,
        };
        Ok(Self {
            source,
            http,
            cached: Mutex::new(None),
        })
    }

    /// Whether requests carry a token at all.
    pub fn is_none(&self) -> bool {
        matches!(self.source, Source::None)
    }

    /// A token valid for at least a few more minutes, `None` without authentication.
    ///
    /// # Errors
    /// When the token endpoint refuses or cannot be reached.
    pub async fn token(&self) -> Result<Option<String>, String> {
        if self.is_none() {
            return Ok(None);
        }
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + REFRESH_MARGIN < *expires
        {
            return Ok(Some(token.clone()));
        }
        let (token, lifetime) = self.fetch().await?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(Some(token))
    }

    async fn fetch(&self) -> Result<(String, Duration), String> {
        let request = match &self.source {
            Source::None => unreachable!("checked by token()"),
            Source::Key(key) => {
                let uri = key.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
                let assertion = sign_jwt(key, uri, now_secs())?;
                form(
                    &self.http,
                    uri,
                    &[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                        ("assertion", &assertion),
                    ],
                )
            }
            Source::User(u) => form(
                &self.http,
                u.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI),
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &u.client_id),
                    ("client_secret", &u.client_secret),
                    ("refresh_token", &u.refresh_token),
                ],
            ),
            Source::Metadata(base) => self
                .http
                .get(format!(
                    "{base}/computeMetadata/v1/instance/service-accounts/default/token"
                ))
                .header("Metadata-Flavor", "Google"),
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach the token endpoint: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("reading the token response: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "the token endpoint answered HTTP {status}: {} — check the credentials and that the service account is enabled",
                body.chars().take(500).collect::<String>()
            ));
        }
        let t: TokenResponse = serde_json::from_str(&body)
            .map_err(|e| format!("the token endpoint answered something else than a token: {e}"))?;
        Ok((
            t.access_token,
            Duration::from_secs(t.expires_in.unwrap_or(3600)),
        ))
    }
}

fn form(http: &reqwest::Client, uri: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    http.post(uri)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// # Errors
/// When `text` is not a service-account key.
pub fn parse_key(text: &str, what: &str) -> Result<ServiceAccountKey, String> {
    let key: ServiceAccountKey = serde_json::from_str(text).map_err(|e| {
        format!("{what} is not a service-account JSON key (client_email, private_key): {e}")
    })?;
    signing_key(&key)?;
    Ok(key)
}

fn signing_key(key: &ServiceAccountKey) -> Result<jsonwebtoken::EncodingKey, String> {
    jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|e| {
        format!(
            "the private_key of {} is not an RSA key in PEM form: {e}",
            key.client_email
        )
    })
}

/// The signed JWT (RS256) a service account exchanges for an access token.
///
/// # Errors
/// When the key's `private_key` is not an RSA PEM key.
pub fn sign_jwt(key: &ServiceAccountKey, audience: &str, now: u64) -> Result<String, String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let claims = Claims {
        iss: &key.client_email,
        scope: SCOPE,
        aud: audience,
        iat: now,
        exp: now + 3600,
    };
    jsonwebtoken::encode(&header, &claims, &signing_key(key)?)
        .map_err(|e| format!("signing the token request failed: {e}"))
}

fn application_default() -> Result<Source, String> {
    let file = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            let p = PathBuf::from(home).join(".config/gcloud/application_default_credentials.json");
            p.is_file().then_some(p)
        });
    let Some(path) = file else {
        let host = std::env::var("GCE_METADATA_HOST")
            .unwrap_or_else(|_| "metadata.google.internal".to_string());
        return Ok(Source::Metadata(format!("http://{host}")));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the credentials file {}: {e}", path.display()))?;
    let kind: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    match kind.get("type").and_then(|t| t.as_str()) {
        Some("service_account") => Ok(Source::Key(parse_key(&text, &path.display().to_string())?)),
        Some("authorized_user") => Ok(Source::User(serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: incomplete authorized_user credentials: {e}",
                path.display()
            )
        })?)),
        other => Err(format!(
            "{}: credentials of type {other:?} are not supported; use a service-account key or `gcloud auth application-default login`",
            path.display()
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    pub(crate) const KEY: &str = include_str!("../../testdata/bigquery/test_key.pem");
    const PUBLIC_KEY: &str = include_str!("../../testdata/bigquery/test_key.pub.pem");

    /// A hand-written stand-in for Google's OAuth token endpoint: it checks the JWT-bearer
    /// grant (signature, issuer, audience, scope) as Google does, and answers a token that
    /// lives `expires_in` seconds. Each request gets a new token (`tok-1`, `tok-2` …).
    /// Reads one HTTP request from `sock`: its head, and a body as long as its
    /// `Content-Length`; what arrived if the connection closes first.
    pub(crate) async fn read_request(sock: &mut tokio::net::TcpStream) -> (String, String) {
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 65536];
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return (head.to_string(), body.to_string());
                }
            }
            if n == 0 {
                return (text, String::new());
            }
        }
    }

    pub(crate) async fn token_endpoint(expires_in: u64) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/token", listener.local_addr().unwrap());
        let audience = uri.clone();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let (head, body) = read_request(&mut sock).await;
                assert!(head.starts_with("POST /token "), "{head}");
                let form: std::collections::HashMap<String, String> =
                    url::form_urlencoded::parse(body.as_bytes())
                        .into_owned()
                        .collect();
                let (status, answer) = match verify(&form, &audience) {
                    Ok(()) => {
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        (
                            "200 OK",
                            format!(
                                "{{\"access_token\":\"tok-{n}\",\"expires_in\":{expires_in},\"token_type\":\"Bearer\"}}"
                            ),
                        )
                    }
                    Err(e) => (
                        "400 Bad Request",
                        format!("{{\"error\":\"invalid_grant\",\"error_description\":\"{e}\"}}"),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                sock.write_all(response.as_bytes()).await.unwrap();
            }
        });
        (uri, hits)
    }

    fn verify(
        form: &std::collections::HashMap<String, String>,
        audience: &str,
    ) -> Result<(), String> {
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err(format!("grant_type {:?}", form.get("grant_type")));
        }
        let jwt = form.get("assertion").ok_or("no assertion")?;
        let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
        if header.alg != jsonwebtoken::Algorithm::RS256 || header.kid.as_deref() != Some("kid-1") {
            return Err(format!("header {header:?}"));
        }
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_issuer(&["loader@test-proj.iam.gserviceaccount.com"]);
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        let claims = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation)
            .map_err(|e| format!("bad assertion: {e}"))?
            .claims;
        if claims["scope"] != SCOPE {
            return Err(format!("scope {}", claims["scope"]));
        }
        Ok(())
    }

    pub(crate) fn key_json(token_uri: &str, private_key: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "client_email": "loader@test-proj.iam.gserviceaccount.com",
            "private_key_id": "kid-1",
            "private_key": private_key,
            "token_uri": token_uri,
        })
        .to_string()
    }

    #[tokio::test]
    async fn a_service_account_key_gets_a_token_once_and_reuses_it() {
        let (uri, hits) = token_endpoint(3600).await;
        let auth = Auth::ServiceAccountKey {
            key_json: key_json(&uri, KEY),
        };
        let provider = TokenProvider::new(&auth, reqwest::Client::new()).unwrap();
        assert_eq!(provider.token().await.unwrap().as_deref(), Some("tok-1"));
        assert_eq!(provider.token().await.unwrap().as_deref(), Some("tok-1"));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_near_expiry_is_replaced() {
        // 60 s left is inside the refresh margin: every call fetches a new one.
        let (uri, hits) = token_endpoint(60).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(&path, key_json(&uri, KEY)).unwrap();
        let provider =
            TokenProvider::new(&Auth::ServiceAccountFile { path }, reqwest::Client::new()).unwrap();
        assert_eq!(provider.token().await.unwrap().as_deref(), Some("tok-1"));
        assert_eq!(provider.token().await.unwrap().as_deref(), Some("tok-2"));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_grant_says_what_the_endpoint_said() {
        let (uri, _) = token_endpoint(3600).await;
        // Signed with another key: the stand-in cannot verify the signature.
        let other = include_str!("../../testdata/bigquery/other_key.pem");
        let auth = Auth::ServiceAccountKey {
            key_json: key_json(&uri, other),
        };
        let provider = TokenProvider::new(&auth, reqwest::Client::new()).unwrap();
        let err = provider.token().await.unwrap_err();
        assert!(err.contains("HTTP 400"), "{err}");
        assert!(err.contains("bad assertion"), "{err}");
        assert!(err.contains("check the credentials"), "{err}");
    }

    #[test]
    fn a_key_that_is_not_rsa_pem_is_named() {
        let err = parse_key(&key_json("http://x/token", "not a key"), "key.json").unwrap_err();
        assert!(
            err.contains(
                "the private_key of loader@test-proj.iam.gserviceaccount.com is not an RSA key"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn no_auth_sends_no_token() {
        let provider = TokenProvider::new(&Auth::None, reqwest::Client::new()).unwrap();
        assert_eq!(provider.token().await.unwrap(), None);
    }
}
