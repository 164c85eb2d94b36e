//! Jobs that load into PostgreSQL: each test in a database of its own.

use sluice_core::secret::SecretKey;
use sluice_engine::model::FileOutcome;
use sluice_sinks::SinkConfig;
use sluice_sinks::postgres::PostgresConfig;
use sluice_testkit::postgres::{PASSWORD, TestDb};

use crate::{Env, transactions};

/// A fresh database on the test server, and its URL with a password (the server trusts
/// local connections, so any password is accepted) to show it is sealed and redacted.
async fn test_db() -> (TestDb, String) {
    let db = TestDb::new("engine").await;
    let url = db.url_with_password("disable");
    (db, url)
}

#[tokio::test]
async fn a_job_into_postgres_loads_each_file_once_and_keeps_its_url_sealed() {
    let (db, url) = test_db().await;
    let env = Env::new().await;
    env.write("transactions_2024-11-18.csv", &transactions(1, 300), 20);
    env.write("transactions_2024-11-19.csv", &transactions(301, 200), 10);
    let mut req = env.request("tx", "transactions_*.csv");
    req.load_latest_only = false;
    req.table_name = Some("raw.transactions".into());
    req.destination = SinkConfig::Postgres(PostgresConfig { url: url.clone() });
    let job = env.engine.create_job(req).await.unwrap();

    // Shown redacted, stored sealed, never in clear in the catalog file.
    let shown = match &job.destination {
        SinkConfig::Postgres(PostgresConfig { url }) => url.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        shown.contains("••••") && !shown.contains(PASSWORD),
        "{shown}"
    );
    assert!(
        shown.ends_with(&format!("/{}?sslmode=disable", db.name)),
        "{shown}"
    );
    assert_eq!(
        env.engine.job("tx").await.unwrap().destination,
        job.destination
    );
    assert_eq!(
        env.engine.jobs().await.unwrap()[0].destination,
        job.destination
    );
    match env.engine.catalog().job("tx").await.unwrap().destination {
        SinkConfig::Postgres(PostgresConfig { url }) => {
            assert!(SecretKey::is_sealed(&url), "{url}")
        }
        other => panic!("{other:?}"),
    }
    for entry in std::fs::read_dir(env.dir.path().join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "the password is in the data directory in clear"
        );
    }

    let first = env.run_all("tx").await;
    assert_eq!(
        (first.files_loaded, first.rows_loaded),
        (2, 500),
        "{first:?}"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM raw.transactions").await,
        500
    );
    assert_eq!(
        db.scalar("SELECT sum(id)::bigint FROM raw.transactions")
            .await,
        (1..=500).sum::<i64>()
    );
    assert_eq!(db.scalar("SELECT count(*) FROM _sluice_loads").await, 2);

    let second = env.run_all("tx").await;
    assert_eq!(
        (second.files_loaded, second.rows_loaded),
        (0, 0),
        "{second:?}"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM raw.transactions").await,
        500
    );
    assert_eq!(env.rows("tx").await, 500);
}

/// A job `tx` taking every `transactions_*.csv` into a fresh database, its first file of
/// `rows` rows loaded.
async fn loaded_job(rows: u64) -> (TestDb, Env) {
    let (db, url) = test_db().await;
    let env = Env::new().await;
    env.write("transactions_2024-11-18.csv", &transactions(1, rows), 20);
    let mut req = env.request("tx", "transactions_*.csv");
    req.load_latest_only = false;
    req.destination = SinkConfig::Postgres(PostgresConfig { url });
    env.engine.create_job(req).await.unwrap();
    assert_eq!(env.run_all("tx").await.rows_loaded, rows);
    (db, env)
}

#[tokio::test]
async fn a_file_that_fails_mid_load_leaves_nothing_in_postgres_and_loads_once_when_fixed() {
    let (db, env) = loaded_job(100).await;

    // 30,000 good rows (several batches already sent through COPY), then a broken line.
    let mut broken = transactions(101, 30_000);
    broken.push_str("999999,1.00,EUR\n");
    env.write("transactions_2024-11-19.csv", &broken, 10);
    let failed = env.run_all("tx").await;
    assert_eq!(
        (failed.files_failed, failed.rows_loaded),
        (1, 0),
        "{failed:?}"
    );
    assert_eq!(db.scalar("SELECT count(*) FROM transactions").await, 100);
    assert_eq!(db.scalar("SELECT count(*) FROM _sluice_loads").await, 1);

    env.write("transactions_2024-11-19.csv", &transactions(101, 30_000), 5);
    let fixed = env.run_all("tx").await;
    assert_eq!(
        (fixed.files_loaded, fixed.rows_loaded),
        (1, 30_000),
        "{fixed:?}"
    );
    let again = env.run_all("tx").await;
    assert_eq!(again.files_loaded, 0, "{again:?}");
    assert_eq!(db.scalar("SELECT count(*) FROM transactions").await, 30_100);
    assert_eq!(
        db.scalar("SELECT count(DISTINCT id) FROM transactions")
            .await,
        30_100,
        "no row twice"
    );
}

#[tokio::test]
async fn a_value_the_destination_refuses_fails_its_file_by_name_and_loads_nothing() {
    let (db, env) = loaded_job(10).await;

    // PostgreSQL's text cannot hold a NUL byte; the file reads fine, the destination refuses.
    let mut nul = transactions(11, 5);
    nul.push_str("16,3.00,EUR,2024-11-19T08:00:00Z,\"a\0b\"\n");
    env.write("transactions_2024-11-19.csv", &nul, 10);
    let run = env.run_all("tx").await;
    let file = &run.files[0];
    assert_eq!(file.outcome, FileOutcome::FailedDestination, "{file:?}");
    let message = file.message.clone().unwrap();
    assert!(
        message.starts_with("transactions_2024-11-19.csv: "),
        "the destination's error names the file: {message}"
    );
    assert!(message.contains("0x00"), "{message}");
    assert_eq!(db.scalar("SELECT count(*) FROM transactions").await, 10);
}

#[tokio::test]
async fn a_postgres_destination_survives_key_rotation_and_bad_urls_are_refused() {
    let (db, url) = test_db().await;
    let env = Env::new().await;
    env.write("transactions_2024-11-18.csv", &transactions(1, 10), 20);
    let mut req = env.request("tx", "transactions_*.csv");
    req.destination = SinkConfig::Postgres(PostgresConfig { url: url.clone() });
    env.engine.create_job(req).await.unwrap();
    env.engine.rotate_secret_key().await.unwrap();
    assert_eq!(env.run("tx").await.rows_loaded, 10);
    assert_eq!(db.scalar("SELECT count(*) FROM transactions").await, 10);

    let mut bad = env.request("bad", "transactions_*.csv");
    bad.destination = SinkConfig::Postgres(PostgresConfig {
        url: "postgres://x:y@127.0.0.1:1/none?sslmode=bogus".into(),
    });
    let err = env.engine.create_job(bad).await.unwrap_err().to_string();
    assert!(err.contains("sslmode") && !err.contains(":y@"), "{err}");
    assert!(env.engine.job("bad").await.is_err(), "no job is stored");
}
