//! When alerts are raised and resolved ([`crate::alerts`] says what they are).
//!
//! Every check opens or closes an incident in the catalog; only opening one (and closing one
//! whose alert went out) sends anything, so a condition that lasts is reported once.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{Alert, AlertKind, AlertState, Notifier, SIZE_HISTORY, size_anomaly};
use crate::Result;
use crate::catalog::Catalog;
use crate::keyring::Keyring;
use crate::model::{FileOutcome, Job, ProcessedFile, Run, RunFile, RunStatus};
use crate::run::log::{Level, RunLog};
use crate::text::human_bytes;

/// Raises and resolves a job's alerts: incidents in the catalog, alerts through the notifier,
/// a line in the run's log.
#[derive(Clone)]
pub(crate) struct Alerting {
    catalog: Arc<dyn Catalog>,
    /// Opens the webhook URLs, which are stored sealed.
    keys: Arc<Keyring>,
    notifier: Notifier,
    log: RunLog,
}

impl Alerting {
    pub(crate) fn new(catalog: Arc<dyn Catalog>, keys: Arc<Keyring>, notifier: Notifier) -> Self {
        Self {
            log: RunLog::new(catalog.clone()),
            catalog,
            keys,
            notifier,
        }
    }

    /// Sends `alert` to the job's targets, their URLs opened.
    async fn send(&self, job: &Job, alert: &Alert) -> std::result::Result<(), String> {
        let alerts = self.keys.open_alerts(job).map_err(|e| e.to_string())?;
        self.notifier.send(&alerts.targets, alert).await
    }

    /// Raises a size anomaly for each file to load that is far outside the sizes the job
    /// has loaded lately.
    pub(crate) async fn check_sizes(
        &self,
        job: &Job,
        run_id: i64,
        ledger: &[ProcessedFile],
        take: &[crate::plan::Take],
    ) {
        let mut recent: Vec<&ProcessedFile> = ledger.iter().filter(|p| p.is_loaded()).collect();
        recent.sort_by_key(|p| std::cmp::Reverse(p.processed_at));
        let history: Vec<u64> = recent
            .iter()
            .take(SIZE_HISTORY)
            .map(|p| p.file_size_bytes)
            .collect();
        for file in take.iter().map(|t| &t.file) {
            let Some(median) = size_anomaly(file.size, &history) else {
                continue;
            };
            let summary = format!(
                "{}: {} is {}, far from the {} this job's recent files have (median of {})",
                job.name,
                file.path,
                human_bytes(file.size),
                human_bytes(median),
                history.len()
            );
            self.log.write(run_id, Level::Warn, summary.clone()).await;
            let details = json!({
                "file_path": file.path,
                "file_size_bytes": file.size,
                "median_size_bytes": median,
                "files_compared": history.len(),
            });
            let key = format!("{}@{}", file.path, file.version_key());
            self.raise(
                job,
                AlertKind::SizeAnomaly,
                &key,
                summary,
                Some(run_id),
                details,
            )
            .await;
        }
    }

    /// A file failed the same way once too often and is parked: no run tries it again.
    pub(crate) async fn file_parked(&self, job: &Job, run_id: i64, file: &RunFile) {
        let message = file.message.as_deref().unwrap_or("");
        let summary = format!(
            "{}: {} is parked: {}",
            job.name,
            file.file_path,
            message.lines().next().unwrap_or("")
        );
        let details = json!({
            "file_path": file.file_path,
            "file_version": file.file_version,
            "outcome": file.outcome,
            "message": file.message,
            "park_after_failures": job.settings.park_after_failures,
        });
        // Keyed by path: a later version of the file that loads settles it.
        self.raise(
            job,
            AlertKind::FileParked,
            &file.file_path,
            summary,
            Some(run_id),
            details,
        )
        .await;
    }

    /// A file was loaded: the job is fresh again, and a size anomaly about it, or the
    /// parking of an earlier version of it, is settled.
    pub(crate) async fn file_arrived(&self, job: &Job, file: &RunFile) {
        let key = format!("{}@{}", file.file_path, file.file_version);
        // A size anomaly is about one file; it ends quietly once the file is in.
        for (kind, key) in [
            (AlertKind::SizeAnomaly, key.as_str()),
            (AlertKind::FileParked, file.file_path.as_str()),
        ] {
            if let Err(e) = self
                .catalog
                .close_incidents(job.id, kind, Some(key), Utc::now())
                .await
            {
                tracing::warn!(job = %job.name, "cannot settle an alert: {e}");
            }
        }
        self.resolve(
            job,
            AlertKind::Freshness,
            format!("{}: a new file arrived ({})", job.name, file.file_path),
            None,
        )
        .await;
    }

    /// After a run: a failure opens `run_failed`, a refused schema `schema_change`; a
    /// success closes them.
    pub(crate) async fn after_run(&self, job: &Job, run: &Run) {
        let refused: Vec<&RunFile> = run
            .files
            .iter()
            .filter(|f| f.outcome == FileOutcome::FailedSchemaMismatch)
            .collect();
        let other_failures: Vec<&RunFile> = run
            .files
            .iter()
            .filter(|f| f.outcome.is_failure() && f.outcome != FileOutcome::FailedSchemaMismatch)
            .collect();
        if refused.is_empty() {
            self.resolve(
                job,
                AlertKind::SchemaChange,
                format!("{}: run {} refused no file", job.name, run.id),
                Some(run.id),
            )
            .await;
        } else {
            let summary = format!(
                "{}: {} file(s) refused because their schema changed, first {}",
                job.name,
                refused.len(),
                refused[0].file_path
            );
            let details = json!({
                "files": refused.iter().map(|f| json!({
                    "file_path": f.file_path, "message": f.message
                })).collect::<Vec<_>>(),
            });
            self.raise(
                job,
                AlertKind::SchemaChange,
                "",
                summary,
                Some(run.id),
                details,
            )
            .await;
        }
        self.rows_rejected(job, run).await;
        let failed = matches!(run.status, RunStatus::Failed | RunStatus::PartiallyFailed)
            && (!other_failures.is_empty() || run.error.is_some());
        if failed {
            let first = other_failures
                .first()
                .and_then(|f| f.message.clone())
                .or_else(|| run.error.clone())
                .unwrap_or_default();
            let summary = format!(
                "{}: run {} {} ({} file(s) failed): {}",
                job.name,
                run.id,
                run.status.as_str().replace('_', " "),
                other_failures.len(),
                first.lines().next().unwrap_or("")
            );
            let details = json!({
                "status": run.status,
                "error": run.error,
                "files": other_failures.iter().map(|f| json!({
                    "file_path": f.file_path, "outcome": f.outcome, "message": f.message
                })).collect::<Vec<_>>(),
            });
            self.raise(
                job,
                AlertKind::RunFailed,
                "",
                summary,
                Some(run.id),
                details,
            )
            .await;
        } else if run.status == RunStatus::Succeeded {
            self.resolve(
                job,
                AlertKind::RunFailed,
                format!("{}: run {} succeeded", job.name, run.id),
                Some(run.id),
            )
            .await;
        }
    }

    /// Raises an alert for a run that quarantined rows, naming its files; a later run that
    /// loads files and quarantines none resolves it.
    async fn rows_rejected(&self, job: &Job, run: &Run) {
        let files: Vec<&RunFile> = run.files.iter().filter(|f| f.rows_rejected > 0).collect();
        if files.is_empty() {
            if run.files_loaded > 0 {
                self.resolve(
                    job,
                    AlertKind::RowsRejected,
                    format!("{}: run {} rejected no row", job.name, run.id),
                    Some(run.id),
                )
                .await;
            }
            return;
        }
        let table = sluice_sinks::quarantine::table_of(&job.table_name);
        let summary = format!(
            "{}: run {} sent {} row(s) of {} file(s) to {table}, first {} ({}); see `sluice rejected {}`",
            job.name,
            run.id,
            run.rows_rejected,
            files.len(),
            files[0].file_path,
            files[0].rows_rejected,
            job.name
        );
        let details = json!({
            "table": table.to_string(),
            "rows_rejected": run.rows_rejected,
            "files": files.iter().map(|f| json!({
                "file_path": f.file_path, "rows_loaded": f.rows_loaded, "rows_rejected": f.rows_rejected
            })).collect::<Vec<_>>(),
        });
        self.raise(
            job,
            AlertKind::RowsRejected,
            "",
            summary,
            Some(run.id),
            details,
        )
        .await;
    }

    /// Raises a freshness alert for each job whose newest file is older than its
    /// `freshness_hours` at `now` (the scheduler calls this on every tick).
    pub(crate) async fn check_freshness(&self, now: DateTime<Utc>) -> Result<()> {
        // As stored: only the alert settings are read.
        for job in self.catalog.list_jobs().await? {
            let Some(hours) = job.settings.alerts.freshness_hours else {
                continue;
            };
            if job.settings.paused {
                continue;
            }
            let ledger = self.catalog.processed_files(job.id).await?;
            let newest = ledger
                .iter()
                .filter(|p| p.is_loaded())
                .map(|p| p.processed_at)
                .max();
            let since = newest.unwrap_or(job.created_at);
            if now - since < Duration::hours(i64::from(hours)) {
                continue;
            }
            let summary = match newest {
                Some(t) => format!(
                    "{}: no new file for {} hours (the last was loaded {})",
                    job.name,
                    (now - t).num_hours(),
                    t.format("%Y-%m-%d %H:%M UTC")
                ),
                None => format!(
                    "{}: no file loaded in the {} hours since the job was created",
                    job.name,
                    (now - job.created_at).num_hours()
                ),
            };
            let details = json!({
                "freshness_hours": hours,
                "last_loaded_at": newest,
            });
            self.raise_at(
                job.clone(),
                AlertKind::Freshness,
                "",
                summary,
                None,
                details,
                now,
            )
            .await;
        }
        Ok(())
    }

    async fn raise(
        &self,
        job: &Job,
        kind: AlertKind,
        key: &str,
        summary: String,
        run_id: Option<i64>,
        details: serde_json::Value,
    ) {
        self.raise_at(job.clone(), kind, key, summary, run_id, details, Utc::now())
            .await;
    }

    /// Opens an incident and, if it is new, sends its alert.
    #[allow(clippy::too_many_arguments)]
    async fn raise_at(
        &self,
        job: Job,
        kind: AlertKind,
        key: &str,
        summary: String,
        run_id: Option<i64>,
        details: serde_json::Value,
        at: DateTime<Utc>,
    ) {
        let opened = self
            .catalog
            .open_incident(job.id, kind, key, &summary, at)
            .await;
        let id = match opened {
            Ok(Some(id)) => id,
            Ok(None) => return, // already open: already told
            Err(e) => {
                tracing::warn!(job = %job.name, "cannot record an alert: {e}");
                return;
            }
        };
        let alert = Alert::new(
            kind,
            AlertState::Firing,
            &job.name,
            summary,
            run_id,
            details,
            at,
        );
        self.deliver(&job, id, run_id, &alert).await;
    }

    /// Closes the job's open incidents of a kind, telling the targets about those whose
    /// alert went out.
    async fn resolve(&self, job: &Job, kind: AlertKind, summary: String, run_id: Option<i64>) {
        let closed = match self
            .catalog
            .close_incidents(job.id, kind, None, Utc::now())
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(job = %job.name, "cannot settle an alert: {e}");
                return;
            }
        };
        if closed.iter().any(|i| i.notified_at.is_some()) && !job.settings.alerts.targets.is_empty()
        {
            let alert = Alert::new(
                kind,
                AlertState::Resolved,
                &job.name,
                summary,
                run_id,
                json!({ "opened_at": closed[0].opened_at }),
                Utc::now(),
            );
            if let Err(e) = self.send(job, &alert).await {
                tracing::warn!(job = %job.name, "cannot send a resolved alert: {e}");
            }
        }
    }

    async fn deliver(&self, job: &Job, incident: i64, run_id: Option<i64>, alert: &Alert) {
        if job.settings.alerts.targets.is_empty() {
            return;
        }
        let sent = self.send(job, alert).await;
        let error = sent.as_ref().err().map(String::as_str);
        if let Some(run_id) = run_id {
            let line = match error {
                None => format!("alert sent: {}", alert.kind.as_str()),
                Some(e) => format!("alert {} not sent: {e}", alert.kind.as_str()),
            };
            let level = if error.is_some() {
                Level::Warn
            } else {
                Level::Info
            };
            self.log.write(run_id, level, line).await;
        } else if let Some(e) = error {
            tracing::warn!(job = %job.name, "alert {} not sent: {e}", alert.kind.as_str());
        }
        if let Err(e) = self
            .catalog
            .mark_notified(incident, Utc::now(), error)
            .await
        {
            tracing::warn!(job = %job.name, "cannot record an alert: {e}");
        }
    }
}
