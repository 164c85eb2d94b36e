//! BigQuery's REST API: JSON requests with a bearer token, and the resumable upload
//! protocol of `jobs.insert` (a session URI, then chunks with `Content-Range`).

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::auth::{Auth, TokenProvider};

/// A refused or failed request: the HTTP status and BigQuery's own reason, when known.
#[derive(Debug)]
pub struct ApiError {
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.status {
            write!(f, "HTTP {s} ")?;
        }
        if let Some(r) = &self.reason {
            write!(f, "{r}: ")?;
        }
        f.write_str(&self.message)?;
        match (self.status, self.reason.as_deref()) {
            (Some(401), _) => f.write_str(" — check the credentials"),
            (Some(403), Some("accessDenied")) | (Some(403), None) => f.write_str(
                " — the service account needs roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project",
            ),
            _ => Ok(()),
        }
    }
}

impl ApiError {
    fn transport(e: reqwest::Error) -> Self {
        // reqwest's message hides the cause ("connection refused", "timed out"): add it.
        let what = if e.is_connect() {
            "cannot reach the API (check the endpoint and the network)"
        } else if e.is_timeout() {
            "the API did not answer in time"
        } else {
            "request failed"
        };
        let mut message = format!("{what}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        Self {
            status: None,
            reason: None,
            message,
        }
    }

    fn local(message: String) -> Self {
        Self {
            status: None,
            reason: None,
            message,
        }
    }
}

/// The API client: base URL, HTTP client and token.
#[derive(Debug)]
pub struct Client {
    endpoint: String,
    http: reqwest::Client,
    tokens: TokenProvider,
}

impl Client {
    /// # Errors
    /// When the credentials cannot be read.
    pub fn new(endpoint: &str, auth: &Auth) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            // The upload protocol answers 308 for "send the next chunk": never follow it.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let tokens = TokenProvider::new(auth, http.clone())?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            http,
            tokens,
        })
    }

    async fn authorized(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        match self.tokens.token().await.map_err(ApiError::local)? {
            Some(t) => Ok(rb.bearer_auth(t)),
            None => Ok(rb),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.endpoint)
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        self.authorized(rb)
            .await?
            .send()
            .await
            .map_err(ApiError::transport)
    }

    /// Whether `url` is on the endpoint's scheme, host and port: the token goes nowhere
    /// else, whatever URL an answer hands back.
    fn on_endpoint(&self, url: &str) -> bool {
        match (url::Url::parse(url), url::Url::parse(&self.endpoint)) {
            (Ok(a), Ok(b)) => a.origin() == b.origin(),
            _ => false,
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        json_of(self.send(self.http.get(self.url(path))).await?).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        let r = self.send(self.http.delete(self.url(path))).await?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(error_of(r).await)
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        let rb = self
            .http
            .post(self.url(path))
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(body.to_string());
        json_of(self.send(rb).await?).await
    }

    /// Opens a resumable upload for a load job described by `job`; the session's URI.
    pub async fn start_upload(&self, project_path: &str, job: &Value) -> Result<String, ApiError> {
        let rb = self
            .http
            .post(self.url(&format!("/upload{project_path}/jobs?uploadType=resumable")))
            .header("Content-Type", "application/json; charset=UTF-8")
            .header("X-Upload-Content-Type", "application/octet-stream")
            .body(job.to_string());
        let r = self.send(rb).await?;
        if !r.status().is_success() {
            return Err(error_of(r).await);
        }
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::local("the upload session has no Location".into()))?;
        Ok(self.url(&location))
    }

    /// Sends `bytes` at `offset` of the upload; `total` on the last chunk only. The last
    /// chunk's answer is the job (`Some`), the others `None`.
    pub async fn put_chunk(
        &self,
        session: &str,
        offset: u64,
        bytes: &[u8],
        total: Option<u64>,
    ) -> Result<Option<Value>, ApiError> {
        let range = match (bytes.is_empty(), total) {
            (true, Some(t)) => format!("bytes */{t}"),
            (_, t) => format!(
                "bytes {}-{}/{}",
                offset,
                offset + bytes.len() as u64 - 1,
                t.map_or("*".to_string(), |t| t.to_string())
            ),
        };
        let rb = self
            .http
            .put(session)
            .header("Content-Range", range)
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec());
        // An upload session elsewhere is authorized by its own URL, and gets no token.
        let r = if self.on_endpoint(session) {
            self.send(rb).await?
        } else {
            rb.send().await.map_err(ApiError::transport)?
        };
        let status = r.status().as_u16();
        match (status, total) {
            (308, None) => Ok(None),
            (200 | 201, Some(_)) => json_of(r).await.map(Some),
            (200 | 201, None) => Ok(None),
            _ => Err(error_of(r).await),
        }
    }

    /// Abandons an upload; best effort (an unfinished session expires by itself).
    pub async fn cancel_upload(&self, session: &str) {
        let rb = self.http.delete(session);
        let rb = if self.on_endpoint(session) {
            self.authorized(rb).await
        } else {
            Ok(rb)
        };
        if let Ok(rb) = rb {
            let _ = rb.send().await;
        }
    }
}

async fn json_of(r: reqwest::Response) -> Result<Value, ApiError> {
    if !r.status().is_success() {
        return Err(error_of(r).await);
    }
    let text = r.text().await.map_err(ApiError::transport)?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| ApiError::local(format!("the answer is not JSON: {e}")))
}

/// BigQuery's error body (`{"error": {"code", "message", "errors": [{"reason"}]}}`).
async fn error_of(r: reqwest::Response) -> ApiError {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let reason = body
        .pointer("/error/errors/0/reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(500).collect());
    ApiError {
        status: Some(status),
        reason,
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::bigquery::auth::tests::{KEY, key_json, token_endpoint};

    /// A hand-written HTTP listener that records each request's head and answers with
    /// `answer(head)`: where the upload protocol's URLs lead, and what they are sent.
    async fn listener(
        answer: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", socket.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = socket.accept().await.unwrap();
                let (head, _) = crate::bigquery::auth::tests::read_request(&mut sock).await;
                seen.lock().unwrap().push(head.clone());
                let response = answer(&head);
                sock.write_all(response.as_bytes()).await.unwrap();
            }
        });
        (base, heads)
    }

    fn ok(extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn the_token_does_not_follow_an_upload_url_to_another_host() {
        let (token_uri, _) = token_endpoint(3600).await;
        let (elsewhere, elsewhere_heads) = listener(|_| ok("", "{\"id\": \"job\"}")).await;
        let upload = format!("{elsewhere}/upload?upload_id=abc");
        let (endpoint, endpoint_heads) =
            listener(move |_| ok(&format!("Location: {upload}\r\n"), "{}")).await;
        let client = Client::new(
            &endpoint,
            &Auth::ServiceAccountKey {
                key_json: key_json(&token_uri, KEY),
            },
        )
        .unwrap();
        let session = client
            .start_upload("/projects/p", &serde_json::json!({}))
            .await
            .unwrap();
        assert!(session.starts_with(&elsewhere), "{session}");
        let job = client
            .put_chunk(&session, 0, b"{}\n", Some(3))
            .await
            .unwrap();
        assert!(job.is_some());
        let to_endpoint = endpoint_heads.lock().unwrap().join("\n");
        assert!(
            to_endpoint
                .to_ascii_lowercase()
                .contains("authorization: bearer tok-1"),
            "the endpoint gets the token: {to_endpoint}"
        );
        let to_elsewhere = elsewhere_heads.lock().unwrap().join("\n");
        assert!(
            to_elsewhere.starts_with("PUT /upload?upload_id=abc"),
            "{to_elsewhere}"
        );
        assert!(
            !to_elsewhere.to_ascii_lowercase().contains("authorization"),
            "another host gets no token: {to_elsewhere}"
        );
    }
}
