//! Alerts: who hears when a job needs attention, and when.
//!
//! A job names its targets (webhooks, email) in [`Alerts`]. Four conditions raise an alert:
//!
//! | kind | opens when | closes when |
//! |---|---|---|
//! | `run_failed` | a run ends failed or partially failed (other than by schema refusals) | a run succeeds |
//! | `schema_change` | a file is refused because its schema changed | a run refuses no file |
//! | `size_anomaly` | a file to load is over [`SIZE_FACTOR`]× larger or smaller than the median of the job's recent files | that file is loaded |
//! | `freshness` | no new file has arrived for [`Alerts::freshness_hours`] | a new file is loaded |
//!
//! Each condition is an incident in the catalog; the alert is sent when the incident opens,
//! and once more ("resolved") when it closes, never on every run or tick in between.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A file is an anomaly when it is this many times larger, or smaller, than the median size
/// of the job's recent files.
pub const SIZE_FACTOR: u64 = 10;
/// How many of the job's recent files the median is taken over...
pub const SIZE_HISTORY: usize = 20;
/// ...and how many it needs before it judges at all.
pub const SIZE_HISTORY_MIN: usize = 5;

/// A job's notification settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Alerts {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<AlertTarget>,
    /// Alert when no new file has been loaded for this many hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness_hours: Option<u32>,
}

/// Where an alert goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertTarget {
    /// An HTTP POST of the alert.
    Webhook {
        url: String,
        #[serde(default)]
        format: WebhookFormat,
    },
    /// An email, through the SMTP server `sluice serve` is given ([`SMTP_URL_ENV`]).
    Email { to: String },
}

impl std::fmt::Display for AlertTarget {
    /// `webhook https://hooks.example.com/•••• (slack)`, `email ops@example.com`: the
    /// webhook's path, which often carries a token, is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Webhook { url, format } => {
                let format = match format {
                    WebhookFormat::Json => "json",
                    WebhookFormat::Slack => "slack",
                };
                write!(f, "webhook {} ({format})", redact_url(url))
            }
            Self::Email { to } => write!(f, "email {to}"),
        }
    }
}

/// The SMTP server alerts are mailed through, as a URL: `smtps://user:password@host:465`,
/// `smtp://user:password@host:587?tls=required` (STARTTLS) or `smtp://host:25` (plain).
pub const SMTP_URL_ENV: &str = "SLUICE_SMTP_URL";
/// The From address of alert mail, e.g. `sluice <sluice@example.com>`.
pub const SMTP_FROM_ENV: &str = "SLUICE_SMTP_FROM";

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The whole [`Alert`] as JSON.
    #[default]
    Json,
    /// `{"text": "…"}`, as Slack's (and Mattermost's, Teams' workflow) incoming webhooks take.
    Slack,
}

impl Alerts {
    /// Checks targets and thresholds; returns what is wrong, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        for (i, t) in self.targets.iter().enumerate() {
            match t {
                AlertTarget::Email { to } => {
                    to.parse::<lettre::message::Mailbox>().map_err(|e| {
                        format!("alerts.targets[{i}].to: '{to}' is not an email address ({e})")
                    })?;
                }
                AlertTarget::Webhook { url, .. } => {
                    let parsed = url::Url::parse(url).map_err(|e| {
                        format!("alerts.targets[{i}].url: '{url}' is not a URL ({e})")
                    })?;
                    if !matches!(parsed.scheme(), "http" | "https") {
                        return Err(format!(
                            "alerts.targets[{i}].url: use an http:// or https:// URL, not '{url}'"
                        ));
                    }
                }
            }
        }
        if self.freshness_hours == Some(0) {
            return Err("alerts.freshness_hours: use at least 1 hour".into());
        }
        Ok(())
    }
}

/// What raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    RunFailed,
    SchemaChange,
    SizeAnomaly,
    Freshness,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunFailed => "run_failed",
            Self::SchemaChange => "schema_change",
            Self::SizeAnomaly => "size_anomaly",
            Self::Freshness => "freshness",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::RunFailed,
            Self::SchemaChange,
            Self::SizeAnomaly,
            Self::Freshness,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Whether an alert starts or ends an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// One alert, as a JSON webhook receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub state: AlertState,
    pub job: String,
    /// One line for people.
    pub summary: String,
    /// The run that raised or resolved it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// Facts by kind: the files and messages, the sizes, the hours.
    pub details: Value,
    pub at: DateTime<Utc>,
    /// The same as `summary`, prefixed, for chat tools that show `text`.
    pub text: String,
}

impl Alert {
    pub fn new(
        kind: AlertKind,
        state: AlertState,
        job: &str,
        summary: String,
        run_id: Option<i64>,
        details: Value,
        at: DateTime<Utc>,
    ) -> Self {
        let mark = match state {
            AlertState::Firing => "⚠",
            AlertState::Resolved => "✓ resolved:",
        };
        let text = format!("[sluice] {mark} {summary}");
        Self {
            kind,
            state,
            job: job.to_string(),
            summary,
            run_id,
            details,
            at,
            text,
        }
    }

    fn body(&self, format: WebhookFormat) -> Value {
        match format {
            WebhookFormat::Json => serde_json::to_value(self).expect("alerts serialize"),
            WebhookFormat::Slack => json!({ "text": self.text }),
        }
    }
}

/// An incident as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub job: String,
    pub kind: AlertKind,
    pub key: String,
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_error: Option<String>,
}

/// Sends alerts to targets: each webhook POST and each email gets [`SEND_ATTEMPTS`] tries
/// with backoff.
#[derive(Clone)]
pub struct Notifier {
    http: reqwest::Client,
    backoff: Duration,
    /// The SMTP server, if one is configured; or why the configuration is unusable.
    mail: Result<Option<Mailer>, String>,
}

#[derive(Clone)]
struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("backoff", &self.backoff)
            .field("mail", &self.mail.as_ref().map(Option::is_some))
            .finish()
    }
}

pub const SEND_ATTEMPTS: u32 = 3;

impl Default for Notifier {
    /// Webhooks, and email if [`SMTP_URL_ENV`] is set.
    fn default() -> Self {
        let n = Self::new(Duration::from_secs(1));
        match std::env::var(SMTP_URL_ENV) {
            Ok(url) if !url.is_empty() => {
                let from = std::env::var(SMTP_FROM_ENV).unwrap_or_default();
                n.with_smtp(&url, &from)
            }
            _ => n,
        }
    }
}

impl Notifier {
    /// Webhooks only; `backoff` is the first wait between attempts, and it doubles.
    pub fn new(backoff: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with default TLS builds");
        Self {
            http,
            backoff,
            mail: Ok(None),
        }
    }

    /// Mails through the SMTP server at `url` (see [`SMTP_URL_ENV`]) from `from`. A bad URL
    /// or address is reported when an email is due, naming the setting.
    pub fn with_smtp(mut self, url: &str, from: &str) -> Self {
        self.mail = Mailer::new(url, from).map(Some);
        if let Err(e) = &self.mail {
            tracing::warn!("alert email is off: {e}");
        }
        self
    }

    /// Sends the alert to every target; returns the failures, one line per target.
    pub async fn send(&self, targets: &[AlertTarget], alert: &Alert) -> Result<(), String> {
        let mut failures = Vec::new();
        for target in targets {
            let sent = match target {
                AlertTarget::Webhook { url, format } => self
                    .post(url, &alert.body(*format))
                    .await
                    .map_err(|e| format!("webhook {}: {e}", redact_url(url))),
                AlertTarget::Email { to } => self
                    .mail(to, alert)
                    .await
                    .map_err(|e| format!("email to {to}: {e}")),
            };
            if let Err(e) = sent {
                failures.push(e);
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }

    async fn mail(&self, to: &str, alert: &Alert) -> Result<(), String> {
        let mailer = match &self.mail {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(format!(
                    "no SMTP server is configured: set {SMTP_URL_ENV} (and {SMTP_FROM_ENV}) for `sluice serve`"
                ));
            }
            Err(e) => return Err(e.clone()),
        };
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("'{to}' is not an email address ({e})"))?;
        let subject: String = alert.text.chars().take(150).collect();
        let mut body = format!("{}\n\n", alert.summary);
        if let Some(run) = alert.run_id {
            body.push_str(&format!("run: {run} (sluice runs show {run})\n"));
        }
        body.push_str(&format!(
            "job: {}\nkind: {}\nstate: {:?}\nat: {}\n\n{}\n",
            alert.job,
            alert.kind.as_str(),
            alert.state,
            alert.at.to_rfc3339(),
            serde_json::to_string_pretty(&alert.details).unwrap_or_default()
        ));
        let message = Message::builder()
            .from(mailer.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("cannot build the message: {e}"))?;
        self.attempts(|| async {
            match mailer.transport.send(message.clone()).await {
                Ok(_) => Ok(()),
                Err(e) => Err((e.to_string(), e.is_permanent())),
            }
        })
        .await
    }

    async fn post(&self, url: &str, body: &Value) -> Result<(), String> {
        self.attempts(|| async {
            let sent = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => Ok(()),
                // A 4xx other than 429 will not change on a retry.
                Ok(r) => Err((
                    format!("answered {}", r.status()),
                    r.status().is_client_error() && r.status().as_u16() != 429,
                )),
                Err(e) => Err((e.to_string(), false)),
            }
        })
        .await
    }

    /// Tries `send` up to [`SEND_ATTEMPTS`] times with doubling waits, until it succeeds or
    /// fails with an error it marks permanent.
    async fn attempts<F, Fut>(&self, send: F) -> Result<(), String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), (String, bool)>>,
    {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=SEND_ATTEMPTS {
            match send().await {
                Ok(()) => return Ok(()),
                Err((e, true)) => return Err(e),
                Err((e, false)) => last = e,
            }
            if attempt < SEND_ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Err(format!("{last} (after {SEND_ATTEMPTS} attempts)"))
    }
}

impl Mailer {
    fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("{SMTP_URL_ENV} is not a usable SMTP URL ({e})"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from.parse::<Mailbox>().map_err(|e| {
            format!("{SMTP_FROM_ENV} '{from}' is not an email address ({e}); set it, e.g. 'sluice <sluice@example.com>'")
        })?;
        Ok(Self { transport, from })
    }
}

/// `https://hooks.example.com/••••`: webhook paths often carry a token.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}/{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            sluice_core::storage::config::REDACTED
        ),
        Err(_) => sluice_core::storage::config::REDACTED.to_string(),
    }
}

/// Whether `size` is far outside `history` (recent file sizes): over [`SIZE_FACTOR`] times
/// the median, or under the median divided by it. `None` while the history is too short.
pub fn size_anomaly(size: u64, history: &[u64]) -> Option<u64> {
    if history.len() < SIZE_HISTORY_MIN {
        return None;
    }
    let mut sorted = history.to_vec();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let far =
        size > median.saturating_mul(SIZE_FACTOR) || size.saturating_mul(SIZE_FACTOR) < median;
    far.then_some(median)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_anomalies_need_history_and_a_factor_of_ten() {
        let history = [100, 110, 90, 105, 95];
        assert_eq!(
            size_anomaly(5_000, &history[..4]),
            None,
            "too little history"
        );
        assert_eq!(size_anomaly(1_001, &history), Some(100));
        assert_eq!(size_anomaly(1_000, &history), None);
        assert_eq!(size_anomaly(9, &history), Some(100));
        assert_eq!(size_anomaly(10, &history), None);
        assert_eq!(size_anomaly(0, &history), Some(100));
    }

    #[test]
    fn webhook_bodies() {
        let a = Alert::new(
            AlertKind::RunFailed,
            AlertState::Firing,
            "orders",
            "orders: run 3 failed".into(),
            Some(3),
            json!({"files_failed": 1}),
            DateTime::parse_from_rfc3339("2024-11-19T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        let body = a.body(WebhookFormat::Json);
        assert_eq!(body["kind"], "run_failed");
        assert_eq!(body["state"], "firing");
        assert_eq!(body["run_id"], 3);
        assert_eq!(body["details"]["files_failed"], 1);
        assert_eq!(body["text"], "[sluice] ⚠ orders: run 3 failed");
        assert_eq!(
            a.body(WebhookFormat::Slack),
            json!({"text": "[sluice] ⚠ orders: run 3 failed"})
        );
    }

    #[test]
    fn targets_are_validated_by_field() {
        let bad = Alerts {
            targets: vec![AlertTarget::Webhook {
                url: "ftp://x/y".into(),
                format: WebhookFormat::Json,
            }],
            freshness_hours: None,
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .starts_with("alerts.targets[0].url")
        );
        let zero = Alerts {
            targets: vec![],
            freshness_hours: Some(0),
        };
        assert!(zero.validate().unwrap_err().contains("freshness_hours"));
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/••••"
        );
    }
}
