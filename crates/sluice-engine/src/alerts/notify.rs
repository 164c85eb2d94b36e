//! Sending alerts: webhook POSTs and email through an SMTP server, each with retries.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use sluice_core::secret::redact_path;

use super::{Alert, AlertTarget, SMTP_FROM_ENV, SMTP_URL_ENV};

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
            // A redirect would carry the alert (and a token in the URL's path) elsewhere.
            .redirect(reqwest::redirect::Policy::none())
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
                    .map_err(|e| format!("webhook {}: {e}", redact_path(url))),
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
                    "no SMTP server is configured: set {SMTP_URL_ENV} (and {SMTP_FROM_ENV}) where sluice runs"
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
                Ok(r) if r.status().is_redirection() => Err((
                    format!(
                        "answered {} (a redirect, which alerts do not follow: give the webhook's final URL)",
                        r.status()
                    ),
                    true,
                )),
                // A 4xx other than 429 will not change on a retry.
                Ok(r) => Err((
                    format!("answered {}", r.status()),
                    r.status().is_client_error() && r.status().as_u16() != 429,
                )),
                // Without the URL, which may carry the webhook's secret.
                Err(e) => Err((e.without_url().to_string(), false)),
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
