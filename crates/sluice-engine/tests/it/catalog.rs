//! The catalog's contract, on SQLite and on PostgreSQL (a fresh database per test on the
//! server `scripts/peers.sh` starts).

use chrono::Utc;
use sluice_core::format::FormatOptions;
use sluice_core::names::TableName;
use sluice_core::schema::{Column, WarehouseType};
use sluice_core::storage::FileEntry;
use sluice_core::storage::config::{ConnectionConfig, LocalConfig};
use sluice_engine::alerts::AlertKind;
use sluice_engine::alerts::{AlertTarget, Alerts, WebhookFormat};
use sluice_engine::catalog::Catalog;
use sluice_engine::catalog::Promotion;
use sluice_engine::catalog::postgres::PostgresCatalog;
use sluice_engine::catalog::sqlite::SqliteCatalog;
use sluice_engine::model::JobSettings;
use sluice_engine::model::{FileOutcome, Job, NewJob, Run, RunFile, RunStatus};
use sluice_engine::schedule::Schedule;

pub async fn sqlite() -> (tempfile::TempDir, SqliteCatalog) {
    let dir = tempfile::tempdir().unwrap();
    let c = SqliteCatalog::open(&dir.path().join("c.db")).await.unwrap();
    (dir, c)
}

pub use sluice_testkit::postgres::TestDb as PgDatabase;

/// A new, empty database on the test server, dropped when it is.
pub async fn postgres_database() -> PgDatabase {
    PgDatabase::new("catalog").await
}

/// A new, empty database on the test server, and a catalog in it.
pub async fn postgres() -> (PgDatabase, PostgresCatalog) {
    let db = postgres_database().await;
    let catalog = PostgresCatalog::connect(&db.url).await.unwrap();
    (db, catalog)
}

/// Runs a contract test on both backends.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test]
            async fn $test() {
                let (_d, c) = super::sqlite().await;
                super::$test(&c).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test]
            async fn $test() {
                let (_d, c) = super::postgres().await;
                super::$test(&c).await;
            })*
        }
    };
}

on_both!(
    jobs_round_trip_every_setting,
    a_file_version_is_claimed_once,
    a_file_failing_the_same_way_is_parked_and_a_different_failure_starts_over,
    a_run_that_lost_its_lease_can_neither_claim_nor_mark_loaded,
    run_statistics_are_derived_from_file_outcomes,
    names_are_unique_and_missing_names_are_named,
    a_job_runs_once_at_a_time_and_dead_runs_are_taken_over,
    runs_queue_log_and_incidents_open_once,
);

pub fn new_job(connection_id: i64) -> NewJob {
    NewJob {
        uid: "u1".into(),
        name: "tx".into(),
        connection_id,
        file_path_prefix: "in".into(),
        file_pattern: "*.csv".into(),
        file_format_options: FormatOptions::Parquet(Default::default()),
        load_latest_only: false,
        schema: vec![Column::new("id", WarehouseType::Int64)],
        schema_fingerprint: "f".into(),
        destination: Default::default(),
        table_name: TableName::parse("t").unwrap(),
        load_type: Default::default(),
        settings: JobSettings {
            schedule: "daily@02:00".parse::<Schedule>().unwrap(),
            timezone: "Europe/Berlin".parse().unwrap(),
            paused: true,
            alerts: Alerts {
                targets: vec![AlertTarget::Webhook {
                    url: "http://127.0.0.1:9/hook".into(),
                    format: WebhookFormat::Slack,
                }],
                freshness_hours: Some(26),
            },
            park_after_failures: 5,
            ..JobSettings::default()
        },
        max_file_size: 10,
    }
}

pub fn local() -> ConnectionConfig {
    ConnectionConfig::Local(LocalConfig { path: "/x".into() })
}

pub fn file(path: &str) -> FileEntry {
    FileEntry {
        path: path.into(),
        size: 5,
        last_modified: Utc::now(),
        e_tag: Some("e1".into()),
        version: None,
        checksum: None,
    }
}

async fn jobs_round_trip_every_setting(c: &dyn Catalog) {
    let conn = c.add_connection("local", &local()).await.unwrap();
    let job = c.create_job(&new_job(conn.id)).await.unwrap();
    let expected = new_job(conn.id);
    assert_eq!(job.connection, "local");
    assert_eq!(job.schema, expected.schema);
    assert_eq!(job.settings, expected.settings);
    assert_eq!(
        job.file_format_options,
        FormatOptions::Parquet(Default::default())
    );
    assert_eq!(job.max_file_size, 10);
    assert_eq!(c.list_jobs().await.unwrap(), vec![job.clone()]);
    // Reopening migrates nothing and keeps everything.
    assert_eq!(c.job("tx").await.unwrap(), job);
}

/// The job `tx` over a local connection, and a run of it held by another host.
async fn running_job(c: &dyn Catalog) -> (Job, Run) {
    let conn = c.add_connection("local", &local()).await.unwrap();
    let job = c.create_job(&new_job(conn.id)).await.unwrap();
    let run = c
        .start_run(job.id, "elsewhere:1", None, false)
        .await
        .unwrap();
    (job, run)
}

async fn a_file_version_is_claimed_once(c: &dyn Catalog) {
    let (job, run) = running_job(c).await;
    assert_eq!(run.status, RunStatus::Running);
    let f = file("a.csv");
    assert!(c.claim_file(job.id, run.id, &f, "L1", None).await.unwrap());
    assert!(
        !c.claim_file(job.id, run.id, &f, "L1", None).await.unwrap(),
        "a second claim fails"
    );
    c.release_claim(job.id, "a.csv", &f.version_key())
        .await
        .unwrap();
    assert!(
        c.claim_file(job.id, run.id, &f, "L1", None).await.unwrap(),
        "released claims can be retaken"
    );
    c.mark_loaded(job.id, "a.csv", &f.version_key(), 42, run.id)
        .await
        .unwrap();
    c.release_claim(job.id, "a.csv", &f.version_key())
        .await
        .unwrap();
    let ledger = c.processed_files(job.id).await.unwrap();
    assert_eq!(ledger.len(), 1, "a loaded file's row is not released");
    assert_eq!(
        (ledger[0].status.as_str(), ledger[0].rows_loaded),
        ("loaded", 42)
    );
}

async fn a_file_failing_the_same_way_is_parked_and_a_different_failure_starts_over(
    c: &dyn Catalog,
) {
    use sluice_engine::catalog::FileFailure;
    let (job, run) = running_job(c).await;
    let f = file("a.csv");
    let v = f.version_key();
    let fail = |error| FileFailure {
        file_path: "a.csv",
        file_version: &v,
        run_id: run.id,
        error,
    };
    let mut seen = Vec::new();
    for error in [
        "parse: line 2",
        "parse: line 2",
        "parse: line 9",
        "parse: line 9",
        "parse: line 9",
    ] {
        assert!(
            c.claim_file(job.id, run.id, &f, "L1", None).await.unwrap(),
            "a failed version is claimed again"
        );
        seen.push(c.fail_file(job.id, &fail(error), 3).await.unwrap());
    }
    assert_eq!(
        seen,
        vec![(1, false), (2, false), (1, false), (2, false), (3, true)]
    );
    assert!(
        !c.claim_file(job.id, run.id, &f, "L1", None).await.unwrap(),
        "a parked version is not claimed"
    );
    let ledger = c.processed_files(job.id).await.unwrap();
    assert_eq!(
        (
            ledger[0].status.as_str(),
            ledger[0].failures,
            ledger[0].last_error.as_deref()
        ),
        ("parked", 3, Some("parse: line 9"))
    );

    // A transient failure is not the file's: its count stays as it was.
    let g = file("b.csv");
    let w = g.version_key();
    assert!(c.claim_file(job.id, run.id, &g, "L2", None).await.unwrap());
    let failure = FileFailure {
        file_path: "b.csv",
        file_version: &w,
        run_id: run.id,
        error: "x",
    };
    assert_eq!(c.fail_file(job.id, &failure, 0).await.unwrap(), (1, false));
    assert!(c.claim_file(job.id, run.id, &g, "L2", None).await.unwrap());
    c.release_claim(job.id, "b.csv", &w).await.unwrap();
    assert!(c.claim_file(job.id, run.id, &g, "L2", None).await.unwrap());
    for _ in 0..5 {
        assert!(
            !c.fail_file(job.id, &failure, 0).await.unwrap().1,
            "0: never parked"
        );
        assert!(c.claim_file(job.id, run.id, &g, "L2", None).await.unwrap());
    }
    c.mark_loaded(job.id, "b.csv", &w, 7, run.id).await.unwrap();
    let b = c
        .processed_files(job.id)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.file_path == "b.csv")
        .unwrap();
    assert_eq!(
        (b.status.as_str(), b.failures, b.last_error),
        ("loaded", 0, None)
    );
}

async fn a_run_that_lost_its_lease_can_neither_claim_nor_mark_loaded(c: &dyn Catalog) {
    let (job, run) = running_job(c).await;
    let f = file("a.csv");
    assert!(c.claim_file(job.id, run.id, &f, "L1", None).await.unwrap());
    assert!(
        c.heartbeat(run.id).await.unwrap(),
        "the run holds its lease"
    );
    // Another process takes the job over (here: the run is ended as interrupted, as a
    // takeover after a lapsed heartbeat does).
    c.finish_run(run.id, RunStatus::Failed, 0, 0, Some("interrupted"))
        .await
        .unwrap();
    assert!(
        !c.heartbeat(run.id).await.unwrap(),
        "the heartbeat tells it lost the lease"
    );
    let err = c
        .mark_loaded(job.id, "a.csv", &f.version_key(), 5, run.id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, sluice_engine::Error::LeaseLost { .. }),
        "{err}"
    );
    let err = c
        .claim_file(job.id, run.id, &file("b.csv"), "L2", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lost its lease"), "{err}");
    let ledger = c.processed_files(job.id).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        ledger[0].status.as_str(),
        "loading",
        "left for the run that holds the job"
    );

    // The run holding the job settles it.
    let next = c
        .start_run(job.id, "elsewhere:2", None, false)
        .await
        .unwrap();
    c.mark_loaded(job.id, "a.csv", &f.version_key(), 5, next.id)
        .await
        .unwrap();
    let now = c.now().await.unwrap();
    assert!(
        (Utc::now() - now).num_seconds().abs() < 60,
        "the catalog's clock: {now}"
    );
}

async fn run_statistics_are_derived_from_file_outcomes(c: &dyn Catalog) {
    let (job, run) = running_job(c).await;
    for (path, outcome, rows) in [
        ("a", FileOutcome::Loaded, 10),
        ("b", FileOutcome::SkippedTooLarge, 0),
        ("c", FileOutcome::FailedParse, 0),
    ] {
        let f = RunFile {
            file_path: path.into(),
            file_version: "v".into(),
            file_size_bytes: 100,
            outcome,
            message: None,
            hint: None,
            rows_loaded: rows,
            rows_rejected: rows / 5,
            worker: None,
        };
        c.record_file(run.id, &f).await.unwrap();
    }
    let done = c
        .finish_run(run.id, RunStatus::PartiallyFailed, 5, 2, None)
        .await
        .unwrap();
    assert_eq!(
        (
            done.files_seen,
            done.files_loaded,
            done.files_skipped,
            done.files_failed,
            done.rows_loaded,
            done.rows_rejected,
            done.bytes_loaded
        ),
        (5, 1, 3, 1, 10, 2, 100)
    );
    assert!(done.finished_at.is_some());
    assert_eq!(c.runs(job.id, 5).await.unwrap(), vec![done]);
}

async fn names_are_unique_and_missing_names_are_named(c: &dyn Catalog) {
    let conn = c.add_connection("local", &local()).await.unwrap();
    assert!(c.add_connection("local", &local()).await.is_err());
    c.create_job(&new_job(conn.id)).await.unwrap();
    let err = c
        .create_job(&new_job(conn.id))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("a job named 'tx' already exists"), "{err}");
    let err = c.job("nope").await.unwrap_err().to_string();
    assert!(err.contains("no job named 'nope'"), "{err}");
}

async fn a_job_runs_once_at_a_time_and_dead_runs_are_taken_over(c: &dyn Catalog) {
    let conn = c.add_connection("local", &local()).await.unwrap();
    let job = c.create_job(&new_job(conn.id)).await.unwrap();
    let first = c
        .start_run(job.id, "other-host:42", None, false)
        .await
        .unwrap();
    let err = c
        .start_run(job.id, "other-host:43", None, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("job 'tx' is already running (run 1"), "{err}");
    c.finish_run(first.id, RunStatus::Succeeded, 0, 0, None)
        .await
        .unwrap();
    let second = c
        .start_run(job.id, &sluice_engine::lease::this_runner(), None, false)
        .await
        .unwrap();

    // A run whose process is gone (this host, no such PID) is interrupted and taken over.
    c.finish_run(second.id, RunStatus::Succeeded, 0, 0, None)
        .await
        .unwrap();
    let me = sluice_engine::lease::this_runner();
    let (host_pid, space) = me.split_once('@').unwrap();
    let host = host_pid.rsplit_once(':').unwrap().0;
    let dead = c
        .start_run(
            job.id,
            &format!("{host}:{}@{space}", u32::MAX - 1),
            None,
            false,
        )
        .await
        .unwrap();
    let next = c
        .start_run(job.id, &sluice_engine::lease::this_runner(), None, false)
        .await
        .unwrap();
    let dead = c.run(dead.id).await.unwrap();
    assert_eq!(dead.status, RunStatus::Failed);
    assert!(dead.error.unwrap().starts_with("interrupted"));
    assert_eq!(c.run(next.id).await.unwrap().status, RunStatus::Running);
}

async fn runs_queue_log_and_incidents_open_once(c: &dyn Catalog) {
    let conn = c.add_connection("local", &local()).await.unwrap();
    let job = c.create_job(&new_job(conn.id)).await.unwrap();
    let runner = sluice_engine::lease::this_runner();
    let first = c.start_run(job.id, &runner, None, true).await.unwrap();
    assert_eq!(first.status, RunStatus::Running);
    let queued = c.start_run(job.id, &runner, None, true).await.unwrap();
    assert_eq!(queued.status, RunStatus::Queued);
    let again = c
        .start_run(job.id, &runner, Some(Utc::now()), true)
        .await
        .unwrap();
    assert_eq!(again.id, queued.id, "one run waits at most");
    assert_eq!(
        c.queued_runs().await.unwrap(),
        vec![("tx".to_string(), queued.id)]
    );
    assert!(matches!(
        c.promote_queued(queued.id, &runner).await.unwrap(),
        Promotion::Waiting(m) if m.contains("already running")
    ));
    c.finish_run(first.id, RunStatus::Succeeded, 0, 0, None)
        .await
        .unwrap();
    assert_eq!(
        c.promote_queued(queued.id, &runner).await.unwrap(),
        Promotion::Started
    );
    assert_eq!(
        c.promote_queued(queued.id, &runner).await.unwrap(),
        Promotion::Gone
    );
    c.heartbeat(queued.id).await.unwrap();

    c.log(queued.id, "info", "one").await.unwrap();
    c.log(queued.id, "warn", "two").await.unwrap();
    let run = c.run(queued.id).await.unwrap();
    assert_eq!(
        run.log
            .iter()
            .map(|l| (l.level.as_str(), l.message.as_str()))
            .collect::<Vec<_>>(),
        vec![("info", "one"), ("warn", "two")]
    );
    assert_eq!(c.last_scheduled(job.id).await.unwrap(), None);

    let now = Utc::now();
    let id = c
        .open_incident(job.id, AlertKind::RunFailed, "", "failed", now)
        .await
        .unwrap()
        .expect("a new incident");
    assert_eq!(
        c.open_incident(job.id, AlertKind::RunFailed, "", "failed again", now)
            .await
            .unwrap(),
        None,
        "open already"
    );
    c.mark_notified(id, now, Some("answered 500"))
        .await
        .unwrap();
    let i = &c.incidents(job.id, 10).await.unwrap()[0];
    assert_eq!(
        (i.notified_at, i.notify_error.as_deref()),
        (None, Some("answered 500"))
    );
    c.mark_notified(id, now, None).await.unwrap();
    assert!(
        c.incidents(job.id, 10).await.unwrap()[0]
            .notified_at
            .is_some()
    );
    c.open_incident(job.id, AlertKind::SizeAnomaly, "a.csv@1", "big", now)
        .await
        .unwrap();
    c.open_incident(job.id, AlertKind::SizeAnomaly, "b.csv@1", "big", now)
        .await
        .unwrap();
    let closed = c
        .close_incidents(job.id, AlertKind::SizeAnomaly, Some("a.csv@1"), now)
        .await
        .unwrap();
    assert_eq!(
        closed.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        vec!["a.csv@1"]
    );
    let closed = c
        .close_incidents(job.id, AlertKind::RunFailed, None, now)
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    assert!(
        c.open_incident(job.id, AlertKind::RunFailed, "", "failed anew", now)
            .await
            .unwrap()
            .is_some(),
        "a closed incident lets a new one open"
    );

    let mut changed = job.clone();
    changed.settings.paused = false;
    changed.settings.timezone = "Asia/Tokyo".parse().unwrap();
    changed.settings.park_after_failures = 0;
    changed.settings.changed_files = sluice_engine::model::ChangedFiles::Ignore;
    changed.settings.settle_time_seconds = 600;
    changed.settings.ready_marker = Some("_SUCCESS".into());
    changed.file_pattern = "u_*.csv".into();
    changed.max_file_size = 7;
    let changes = vec![sluice_engine::model::FieldChange {
        field: "file_pattern".into(),
        old: job.file_pattern.clone(),
        new: "u_*.csv".into(),
    }];
    c.update_job(&changed, &changes).await.unwrap();
    let stored = c.job("tx").await.unwrap();
    assert_eq!(stored.settings, changed.settings);
    assert_eq!(
        (stored.file_pattern.as_str(), stored.max_file_size),
        ("u_*.csv", 7)
    );
    let history = c.job_changes(job.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].changes, changes);
}
