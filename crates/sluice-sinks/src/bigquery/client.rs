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
        let r = self.send(rb).await?;
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
        if let Ok(rb) = self.authorized(self.http.delete(session)).await {
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
