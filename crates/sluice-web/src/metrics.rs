//! `GET /metrics` in Prometheus text format, derived from the catalog at scrape time (no
//! state of its own): runs by job and status, files, rows and bytes loaded, run durations,
//! the last successful run per job, and the files waiting per job (counted by listing, at
//! most every 30 s per job; a job whose listing fails or takes over 5 s is left out).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sluice_engine::model::RunStatus;

use crate::{ApiError, Shared};

type Labels = Vec<(String, String)>;

/// Runs per job looked at: the most recent ones.
const RUNS_PER_JOB: u32 = 1000;
/// How long a scrape waits for one job's listing.
const WAITING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn metrics(State(s): State<Shared>) -> Result<impl IntoResponse, ApiError> {
    let runs_total = Family::<Labels, Counter>::default();
    let files = Family::<Labels, Counter>::default();
    let rows = Family::<Labels, Counter>::default();
    let bytes = Family::<Labels, Counter>::default();
    let last_success = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let durations = Family::<Labels, Histogram>::new_with_constructor(|| {
        Histogram::new(exponential_buckets(0.25, 2.0, 14))
    });

    let waiting = Family::<Labels, Gauge>::default();
    for job in s.engine.jobs().await? {
        let labels = vec![("job".to_string(), job.name.clone())];
        match tokio::time::timeout(WAITING_TIMEOUT, s.engine.files_waiting(&job)).await {
            Ok(Ok(n)) => {
                waiting
                    .get_or_create(&labels)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            Ok(Err(e)) => tracing::warn!(job = %job.name, "cannot count waiting files: {e}"),
            Err(_) => {
                tracing::warn!(job = %job.name, "counting waiting files took over {WAITING_TIMEOUT:?}")
            }
        }
    }
    // Every job's recent runs in numbers, in one query.
    for run in s.engine.catalog().run_totals(RUNS_PER_JOB).await? {
        let job_label = || vec![("job".to_string(), run.job.clone())];
        let mut l = job_label();
        l.push(("status".into(), run.status.as_str().into()));
        runs_total.get_or_create(&l).inc();
        files.get_or_create(&job_label()).inc_by(run.files_loaded);
        rows.get_or_create(&job_label()).inc_by(run.rows_loaded);
        bytes.get_or_create(&job_label()).inc_by(run.bytes_loaded);
        if let Some(d) = run.duration_seconds() {
            durations.get_or_create(&job_label()).observe(d);
        }
        if run.status == RunStatus::Succeeded
            && let Some(done) = run.finished_at
        {
            let g = last_success.get_or_create(&job_label());
            let t = done.timestamp_millis() as f64 / 1000.0;
            if t > g.get() {
                g.set(t);
            }
        }
    }

    let mut registry = Registry::with_prefix("sluice");
    registry.register("runs", "Runs by job and status", runs_total);
    registry.register("files_loaded", "Files loaded", files);
    registry.register("rows_loaded", "Rows loaded", rows);
    registry.register("bytes_loaded", "Bytes of files loaded", bytes);
    registry.register("run_duration_seconds", "How long runs took", durations);
    registry.register(
        "last_success_timestamp_seconds",
        "When the job last ran successfully (Unix time)",
        last_success,
    );
    registry.register(
        "files_waiting",
        "Files the job's next run would load",
        waiting,
    );
    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e.to_string(),
        )
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}
