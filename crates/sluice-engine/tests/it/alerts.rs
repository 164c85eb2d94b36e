//! Alerts, sent to a webhook receiver this test starts on loopback: once per incident.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::Duration as Span;
use serde_json::Value;
use sluice_engine::alerts::{AlertTarget, Alerts, Notifier, SEND_ATTEMPTS, WebhookFormat};
use sluice_engine::model::{JobSettings, RunStatus};

use crate::{Env, transactions};

/// A webhook receiver: records every body; `/down` answers 500.
#[derive(Clone, Default)]
struct Receiver {
    json: Arc<Mutex<Vec<Value>>>,
    slack: Arc<Mutex<Vec<Value>>>,
    down: Arc<Mutex<u32>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let r = Self::default();
        let app = axum::Router::new()
            .route(
                "/json",
                post(
                    |State(r): State<Receiver>, Json(v): Json<Value>| async move {
                        r.json.lock().unwrap().push(v);
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .route(
                "/slack",
                post(
                    |State(r): State<Receiver>, Json(v): Json<Value>| async move {
                        r.slack.lock().unwrap().push(v);
                        "ok"
                    },
                ),
            )
            .route(
                "/moved",
                post(|| async {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(axum::http::header::LOCATION, "/json")],
                    )
                }),
            )
            .route(
                "/down",
                post(|State(r): State<Receiver>| async move {
                    *r.down.lock().unwrap() += 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                }),
            )
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, base)
    }

    /// (kind, state) of each JSON alert so far.
    fn seen(&self) -> Vec<(String, String)> {
        self.json
            .lock()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["kind"].as_str().unwrap().to_string(),
                    v["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// A file whose third line has a field too many.
const BAD_ROW: &str = "id,amount,currency,created_at,note\n1,2.5,EUR,2024-11-19T08:00:00Z,n\n2,3.5,EUR,2024-11-19T08:00:00Z,n,surplus\n";

fn targets(base: &str) -> Alerts {
    Alerts {
        targets: vec![
            AlertTarget::Webhook {
                url: format!("{base}/json"),
                format: WebhookFormat::Json,
            },
            AlertTarget::Webhook {
                url: format!("{base}/slack"),
                format: WebhookFormat::Slack,
            },
        ],
        freshness_hours: Some(24),
    }
}

async fn env_with_job(alerts: Alerts) -> Env {
    let mut env = Env::new().await;
    env.engine
        .set_notifier(Notifier::new(Duration::from_millis(10)));
    env.write("t_1.csv", &transactions(0, 10), 50);
    let mut req = env.request("tx", "t_*.csv");
    req.load_latest_only = false;
    req.settings = JobSettings {
        alerts,
        ..JobSettings::default()
    };
    env.engine.create_job(req).await.unwrap();
    env
}

#[tokio::test]
async fn a_failing_job_alerts_once_until_it_recovers() {
    let (rx, base) = Receiver::start().await;
    let env = env_with_job(targets(&base)).await;
    assert_eq!(env.run_all("tx").await.status, RunStatus::Succeeded);
    assert!(rx.seen().is_empty(), "a success raises nothing");

    // A file that cannot be parsed: the run partly fails; one alert.
    env.write("t_2.csv", BAD_ROW, 40);
    let run = env.run_all("tx").await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(rx.seen(), vec![("run_failed".into(), "firing".into())]);
    let alert = rx.json.lock().unwrap()[0].clone();
    assert_eq!(alert["job"], "tx");
    assert_eq!(alert["run_id"], run.id);
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("t_2.csv line 3"),
        "{alert}"
    );
    assert_eq!(alert["details"]["files"][0]["outcome"], "failed_parse");
    let slack = rx.slack.lock().unwrap().clone();
    assert_eq!(slack.len(), 1);
    assert_eq!(
        slack[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["text"]
    );
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[sluice] ⚠ tx: run")
    );

    // The same failure on the next run: the incident is open, nothing more is sent. (A
    // third would park the file, with an alert of its own: see `stalls`.)
    env.run_all("tx").await;
    assert_eq!(rx.seen().len(), 1);
    let log = env.engine.run_details(run.id).await.unwrap().log;
    assert!(
        log.iter().any(|l| l.message == "alert sent: run_failed"),
        "{log:?}"
    );

    // Fixed: the next run succeeds and the incident resolves, once.
    std::fs::remove_file(env.drop_dir().join("t_2.csv")).unwrap();
    assert_eq!(env.run_all("tx").await.status, RunStatus::Succeeded);
    env.run_all("tx").await;
    assert_eq!(
        rx.seen(),
        vec![
            ("run_failed".into(), "firing".into()),
            ("run_failed".into(), "resolved".into())
        ]
    );
    // A new failure is a new incident.
    env.write("t_3.csv", BAD_ROW, 30);
    env.run_all("tx").await;
    assert_eq!(rx.seen().len(), 3);
    let incidents = env.engine.incidents("tx").await.unwrap();
    assert_eq!(incidents.len(), 2);
    assert!(incidents[0].closed_at.is_none() && incidents[1].closed_at.is_some());
}

#[tokio::test]
async fn a_refused_schema_change_alerts_once_without_a_run_failure_alert() {
    let (rx, base) = Receiver::start().await;
    let env = env_with_job(targets(&base)).await;
    env.run_all("tx").await;
    env.write(
        "t_2.csv",
        "id,amount,currency,created_at,note,extra\n1,2.5,EUR,2024-11-19T08:00:00Z,n,x\n",
        40,
    );
    let run = env.run_all("tx").await;
    assert_eq!(run.files[0].outcome.as_str(), "failed_schema_mismatch");
    env.run_all("tx").await;
    assert_eq!(rx.seen(), vec![("schema_change".into(), "firing".into())]);
    let alert = rx.json.lock().unwrap()[0].clone();
    assert!(
        alert["details"]["files"][0]["message"]
            .as_str()
            .unwrap()
            .contains("extra"),
        "{alert}"
    );
}

#[tokio::test]
async fn a_file_far_outside_the_usual_sizes_alerts_once_and_still_loads() {
    let (rx, base) = Receiver::start().await;
    let env = env_with_job(targets(&base)).await;
    for i in 2..=5 {
        env.write(&format!("t_{i}.csv"), &transactions(i * 10, 10), 50 - i);
    }
    env.run_all("tx").await;
    assert!(rx.seen().is_empty(), "five similar files: no anomaly");
    // Twenty times the usual size.
    env.write("t_6.csv", &transactions(100, 200), 10);
    let run = env.run_all("tx").await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.rows_loaded, 200);
    assert_eq!(rx.seen(), vec![("size_anomaly".into(), "firing".into())]);
    let alert = rx.json.lock().unwrap()[0].clone();
    assert_eq!(alert["details"]["file_path"], "t_6.csv");
    assert_eq!(alert["details"]["files_compared"], 5);
    env.run_all("tx").await;
    assert_eq!(rx.seen().len(), 1, "loaded: not raised again");
}

#[tokio::test]
async fn freshness_alerts_once_per_stale_spell_on_a_controlled_clock() {
    let (rx, base) = Receiver::start().await;
    let env = env_with_job(targets(&base)).await;
    env.run_all("tx").await;
    let loaded_at = env.engine.processed_files("tx").await.unwrap()[0].processed_at;

    env.engine
        .check_freshness(loaded_at + Span::hours(23))
        .await
        .unwrap();
    assert!(rx.seen().is_empty(), "fresh for 24 hours");
    env.engine
        .check_freshness(loaded_at + Span::hours(25))
        .await
        .unwrap();
    env.engine
        .check_freshness(loaded_at + Span::hours(26))
        .await
        .unwrap();
    env.engine
        .check_freshness(loaded_at + Span::hours(50))
        .await
        .unwrap();
    assert_eq!(rx.seen(), vec![("freshness".into(), "firing".into())]);
    let alert = rx.json.lock().unwrap()[0].clone();
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("no new file for 25 hours"),
        "{alert}"
    );

    // A new file resolves it.
    env.write("t_2.csv", &transactions(10, 10), 5);
    env.run_all("tx").await;
    assert_eq!(
        rx.seen().last().unwrap(),
        &("freshness".to_string(), "resolved".to_string())
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_is_retried_and_the_failure_recorded() {
    let (rx, base) = Receiver::start().await;
    let env = env_with_job(Alerts {
        targets: vec![AlertTarget::Webhook {
            url: format!("{base}/down"),
            format: WebhookFormat::Json,
        }],
        freshness_hours: None,
    })
    .await;
    env.write("t_2.csv", BAD_ROW, 40);
    let run = env.run_all("tx").await;
    assert_eq!(*rx.down.lock().unwrap(), SEND_ATTEMPTS);
    let incident = &env.engine.incidents("tx").await.unwrap()[0];
    assert!(incident.notified_at.is_none());
    let error = incident.notify_error.as_deref().unwrap();
    assert!(error.contains("500"), "{error}");
    assert!(
        !error.contains("/down"),
        "the webhook's path is not shown: {error}"
    );
    let log = env.engine.run_details(run.id).await.unwrap().log;
    assert!(
        log.iter()
            .any(|l| l.level == "warn" && l.message.starts_with("alert run_failed not sent")),
        "{log:?}"
    );
}

#[tokio::test]
async fn webhook_urls_are_sealed_shown_redacted_and_kept_through_an_edit() {
    let (rx, base) = Receiver::start().await;
    let mut alerts = targets(&base);
    let AlertTarget::Webhook { url, .. } = &mut alerts.targets[1] else {
        unreachable!()
    };
    *url = format!("{base}/slack?token=T0KEN-in-the-query");
    let env = env_with_job(alerts).await;
    // At rest: sealed.
    let stored = env.engine.catalog().job("tx").await.unwrap();
    let at_rest = serde_json::to_string(&stored.settings.alerts).unwrap();
    assert!(
        !at_rest.contains("/json") && !at_rest.contains("T0KEN") && at_rest.contains("v1:"),
        "{at_rest}"
    );
    // Shown: the host only, as JSON and as text.
    let shown = env.engine.job("tx").await.unwrap();
    let text = serde_json::to_string(&shown).unwrap();
    assert!(!text.contains("/json") && !text.contains("T0KEN"), "{text}");
    assert!(text.contains(&format!("{base}/••••")), "{text}");
    // An edit that sends the redacted targets back (with the order changed) keeps both URLs.
    let mut edited = shown.settings.alerts.clone();
    edited.targets.reverse();
    env.engine
        .update_job(
            "tx",
            sluice_engine::model::JobUpdate {
                alerts: Some(edited),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    env.write("t_2.csv", BAD_ROW, 40);
    env.run_all("tx").await;
    assert_eq!(rx.seen(), vec![("run_failed".into(), "firing".into())]);
    assert_eq!(rx.slack.lock().unwrap().len(), 1);
    // A redacted URL that matches no stored webhook is refused, naming the field.
    let err = env
        .engine
        .update_job(
            "tx",
            sluice_engine::model::JobUpdate {
                alerts: Some(Alerts {
                    targets: vec![AlertTarget::Webhook {
                        url: "https://elsewhere.example/••••".into(),
                        format: WebhookFormat::Json,
                    }],
                    freshness_hours: None,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("alerts.targets[0].url"), "{err}");
}

#[tokio::test]
async fn a_webhook_that_redirects_is_not_followed() {
    let (rx, base) = Receiver::start().await;
    let env = env_with_job(Alerts {
        targets: vec![AlertTarget::Webhook {
            url: format!("{base}/moved"),
            format: WebhookFormat::Json,
        }],
        freshness_hours: None,
    })
    .await;
    env.write("t_2.csv", BAD_ROW, 40);
    env.run_all("tx").await;
    assert!(
        rx.json.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
    let incident = &env.engine.incidents("tx").await.unwrap()[0];
    let error = incident.notify_error.as_deref().unwrap();
    assert!(
        error.contains("307") && error.contains("redirect"),
        "{error}"
    );
    assert!(
        !error.contains("after"),
        "a redirect is not retried: {error}"
    );
}

/// Mail delivered to the test SMTP server (aiosmtpd, started by `scripts/peers.sh`) for `to`.
fn mail_for(to: &str) -> Vec<String> {
    let maildir = std::path::PathBuf::from(crate::storage::var("SLUICE_TEST_MAILDIR", ""));
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter(|m| m.contains(&format!("X-RcptTo: {to}")))
        .collect()
}

#[tokio::test]
async fn alerts_are_mailed_through_a_real_smtp_server() {
    let port = crate::storage::var("SLUICE_TEST_SMTP_PORT", "2525");
    let to = format!("ops-{}@example.com", uuid::Uuid::new_v4().simple());
    let mut env = Env::new().await;
    env.engine
        .set_notifier(Notifier::new(Duration::from_millis(10)).with_smtp(
            &format!("smtp://127.0.0.1:{port}"),
            "sluice <sluice@example.com>",
        ));
    env.write("t_1.csv", &transactions(0, 10), 50);
    env.write("t_2.csv", BAD_ROW, 40);
    let mut req = env.request("tx", "t_1.csv");
    req.load_latest_only = false;
    req.file_pattern = "t_*.csv".into();
    req.settings = JobSettings {
        alerts: Alerts {
            targets: vec![AlertTarget::Email { to: to.clone() }],
            freshness_hours: None,
        },
        ..JobSettings::default()
    };
    // The newest file decides the schema: make it the good one.
    crate::set_age(&env.drop_dir().join("t_1.csv"), 1);
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("tx").await;
    assert_eq!(run.status, RunStatus::PartiallyFailed);
    env.run_all("tx").await;
    let mail = mail_for(&to);
    assert_eq!(mail.len(), 1, "once per incident: {mail:?}");
    let m = &mail[0];
    assert!(m.contains("From: sluice <sluice@example.com>"), "{m}");
    assert!(m.contains("Subject: [sluice]"), "{m}");
    assert!(m.contains("t_2.csv line 3"), "{m}");
    assert!(m.contains(&format!("sluice runs show {}", run.id)), "{m}");

    // Without a configured server the failure is recorded, naming the setting.
    let mut env = Env::new().await;
    env.engine
        .set_notifier(Notifier::new(Duration::from_millis(10)));
    env.write("t_1.csv", &transactions(0, 10), 50);
    let mut req = env.request("tx", "t_*.csv");
    req.settings.alerts.targets = vec![AlertTarget::Email { to: to.clone() }];
    env.engine.create_job(req).await.unwrap();
    env.write("t_2.csv", BAD_ROW, 40);
    assert_eq!(env.run("tx").await.status, RunStatus::Failed);
    let incident = &env.engine.incidents("tx").await.unwrap()[0];
    assert!(
        incident
            .notify_error
            .as_deref()
            .unwrap()
            .contains("set SLUICE_SMTP_URL"),
        "{incident:?}"
    );
}

#[tokio::test]
async fn quarantined_rows_alert_once_and_resolve_when_a_run_rejects_none() {
    let (rx, base) = Receiver::start().await;
    let env = env_with_job(targets(&base)).await;
    env.engine
        .update_job(
            "tx",
            sluice_engine::model::JobUpdate {
                max_rejected: Some("5".parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    env.run_all("tx").await;
    env.write(
        "t_2.csv",
        "id,amount,currency,created_at,note\n1,2.5,EUR,2024-11-19T08:00:00Z,n\n2,lots,EUR,2024-11-19T08:00:00Z,n\n",
        40,
    );
    let run = env.run_all("tx").await;
    assert_eq!(
        (run.status, run.rows_rejected),
        (RunStatus::Succeeded, 1),
        "{run:?}"
    );
    assert_eq!(rx.seen(), vec![("rows_rejected".into(), "firing".into())]);
    let alert = rx.json.lock().unwrap()[0].clone();
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("sent 1 row(s) of 1 file(s) to t_rejected, first t_2.csv"),
        "{alert}"
    );
    assert_eq!(alert["details"]["files"][0]["rows_rejected"], 1);
    env.write("t_3.csv", &transactions(20, 5), 30);
    env.run_all("tx").await;
    assert_eq!(
        rx.seen(),
        vec![
            ("rows_rejected".into(), "firing".into()),
            ("rows_rejected".into(), "resolved".into())
        ]
    );
}
