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

mod notify;
mod raise;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_core::fields::FieldError;
use sluice_core::secret::{REDACTED, Secrets, redact_path};

pub use self::notify::{Notifier, SEND_ATTEMPTS};
pub(crate) use self::raise::Alerting;

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
                write!(f, "webhook {} ({format})", redact_path(url))
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

/// A webhook's URL is a credential (Slack's carries its secret in the path): stored sealed,
/// shown as `https://hooks.slack.com/••••`, and kept when an edit sends that back.
impl Secrets for Alerts {
    fn map_secrets<E>(
        &self,
        mut f: impl FnMut(&'static str, &str) -> Result<String, E>,
    ) -> Result<Self, E> {
        let mut out = self.clone();
        for t in &mut out.targets {
            if let AlertTarget::Webhook { url, .. } = t {
                *url = f("url", url)?;
            }
        }
        Ok(out)
    }

    fn redact_field(_field: &str, value: &str) -> String {
        redact_path(value)
    }

    /// Several webhooks can look alike redacted (two Slack channels): a URL sent back
    /// redacted keeps the stored URL of the same format that shows the same, preferring the
    /// one at the same position.
    fn keep_secrets_from(&self, previous: &Self) -> Self {
        let old: Vec<(&str, WebhookFormat)> = previous
            .targets
            .iter()
            .filter_map(|t| match t {
                AlertTarget::Webhook { url, format } => Some((url.as_str(), *format)),
                AlertTarget::Email { .. } => None,
            })
            .collect();
        let mut used = vec![false; old.len()];
        let mut out = self.clone();
        let mut position = 0;
        for t in &mut out.targets {
            let AlertTarget::Webhook { url, format } = t else {
                continue;
            };
            let shows = |i: usize| {
                !used[i]
                    && old[i].1 == *format
                    && (url == REDACTED || *url == redact_path(old[i].0))
            };
            let kept = (position < old.len() && shows(position))
                .then_some(position)
                .or_else(|| (0..old.len()).find(|&i| shows(i)));
            if let Some(i) = kept {
                used[i] = true;
                *url = old[i].0.to_string();
            }
            position += 1;
        }
        out
    }
}

impl Alerts {
    /// What a job's sealed webhook URLs are bound to.
    pub fn seal_context(job: &str) -> impl Fn(&str) -> String + '_ {
        move |field| format!("job:{job}:alerts:{field}")
    }

    /// Checks targets and thresholds; returns what is wrong, naming the field
    /// (`alerts.targets[0].url`).
    pub fn validate(&self) -> Result<(), FieldError> {
        for (i, t) in self.targets.iter().enumerate() {
            match t {
                AlertTarget::Email { to } => {
                    to.parse::<lettre::message::Mailbox>().map_err(|e| {
                        FieldError::new(
                            &format!("alerts.targets[{i}].to"),
                            format!("'{to}' is not an email address ({e})"),
                        )
                    })?;
                }
                AlertTarget::Webhook { url, .. } => {
                    let field = format!("alerts.targets[{i}].url");
                    let shown = redact_path(url);
                    if url.contains(REDACTED) {
                        return Err(FieldError::new(
                            &field,
                            format!(
                                "{shown} is a redacted URL that matches no stored webhook; give the webhook's whole URL"
                            ),
                        ));
                    }
                    let parsed = url::Url::parse(url).map_err(|e| {
                        FieldError::new(&field, format!("'{shown}' is not a URL ({e})"))
                    })?;
                    if !matches!(parsed.scheme(), "http" | "https") {
                        return Err(FieldError::new(
                            &field,
                            format!("use an http:// or https:// URL, not '{shown}'"),
                        ));
                    }
                }
            }
        }
        if self.freshness_hours == Some(0) {
            return Err(FieldError::new(
                "alerts.freshness_hours",
                "use at least 1 hour",
            ));
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
    /// A file failed the same way run after run and is no longer tried.
    FileParked,
    /// A run sent rows to the table's quarantine table.
    RowsRejected,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunFailed => "run_failed",
            Self::SchemaChange => "schema_change",
            Self::SizeAnomaly => "size_anomaly",
            Self::Freshness => "freshness",
            Self::FileParked => "file_parked",
            Self::RowsRejected => "rows_rejected",
        }
    }

    pub const ALL: [AlertKind; 6] = [
        Self::RunFailed,
        Self::SchemaChange,
        Self::SizeAnomaly,
        Self::Freshness,
        Self::FileParked,
        Self::RowsRejected,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A phrase for people: `run failed`.
    pub fn label(self) -> &'static str {
        match self {
            Self::RunFailed => "run failed",
            Self::SchemaChange => "schema change",
            Self::SizeAnomaly => "size anomaly",
            Self::Freshness => "no new files",
            Self::FileParked => "file parked",
            Self::RowsRejected => "rows rejected",
        }
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

    pub(crate) fn body(&self, format: WebhookFormat) -> Value {
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
                .to_string()
                .starts_with("alerts.targets[0].url")
        );
        let zero = Alerts {
            targets: vec![],
            freshness_hours: Some(0),
        };
        assert!(
            zero.validate()
                .unwrap_err()
                .to_string()
                .contains("freshness_hours")
        );
        assert_eq!(
            sluice_core::secret::redact_path("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/••••"
        );
    }
}
