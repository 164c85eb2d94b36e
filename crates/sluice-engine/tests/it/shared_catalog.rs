//! Engines sharing one PostgreSQL catalog, as several sluice processes do.

use std::sync::Arc;

use sluice_core::secret::{KeySource, SecretKey};
use sluice_engine::catalog::postgres::PostgresCatalog;
use sluice_engine::model::RunStatus;
use sluice_engine::{Engine, JobRequest, Quiet, RunOptions};

use crate::transactions;

/// Two engines, as two processes: each with its own connection pool. B connects over TLS
/// (verify-full against the test CA) as the role `sluice_tls_only`, which the test server
/// lets in over TLS only.
#[tokio::test]
async fn two_engines_on_one_postgres_catalog_share_jobs_runs_and_the_lease() {
    let db = crate::catalog::postgres_database().await;
    let (name, url) = (db.name.clone(), db.url.clone());
    let a_catalog = PostgresCatalog::connect(&url).await.unwrap();
    let grants = sqlx_postgres::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "GRANT USAGE, CREATE ON SCHEMA public TO sluice_tls_only;
         GRANT ALL ON ALL TABLES IN SCHEMA public TO sluice_tls_only;
         GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO sluice_tls_only",
    )
    .execute(&grants)
    .await
    .unwrap();
    let port = url::Url::parse(&url).unwrap().port().unwrap();
    let ca = crate::storage::var("SLUICE_TEST_POSTGRES_CA", "");
    let tls = format!(
        "postgres://sluice_tls_only@localhost:{port}/{name}?sslmode=verify-full&sslrootcert={ca}"
    );
    let b_catalog = PostgresCatalog::connect(&tls).await.unwrap();
    // Without TLS the server refuses that role: B's catalog is encrypted.
    let plain = PostgresCatalog::connect(&format!(
        "postgres://sluice_tls_only@127.0.0.1:{port}/{name}?sslmode=disable"
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(plain.contains("no encryption"), "{plain}");

    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(drop.join("t_1.csv"), transactions(0, 20)).unwrap();
    let key = SecretKey::generate(KeySource::Env);
    let a = Engine::with_catalog(Arc::new(a_catalog), &dir.path().join("a"), key.clone());
    let b = Engine::with_catalog(Arc::new(b_catalog), &dir.path().join("b"), key);
    a.add_connection_url(
        "local",
        &format!("file://{}", drop.display()),
        &Default::default(),
    )
    .await
    .unwrap();
    a.create_job(JobRequest {
        name: "tx".into(),
        connection: "local".into(),
        file_pattern: "t_*.csv".into(),
        load_latest_only: false,
        destination: sluice_sinks::SinkConfig::DuckDb(sluice_sinks::duckdb::DuckDbConfig {
            path: Some(dir.path().join("w.duckdb")),
        }),
        ..JobRequest::default()
    })
    .await
    .unwrap();
    // B sees A's job and connection, and runs it.
    let run = b
        .run("tx", RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    assert_eq!((run.status, run.rows_loaded), (RunStatus::Succeeded, 20));
    // A sees B's run and ledger: nothing new for it.
    let again = a
        .run("tx", RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    assert_eq!((again.files_loaded, again.files_already_loaded), (0, 1));
    assert_eq!(a.runs("tx", 10).await.unwrap().len(), 2);
    assert!(!a.run_details(run.id).await.unwrap().log.is_empty());

    // While A holds the job, B is refused, or queued when it asks to wait.
    let (_, held) = a.start_run("tx", false).await.unwrap();
    let err = b.start_run("tx", false).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("already running (run {}", held.id)),
        "{err}"
    );
    let (_, waiting) = b.start_run("tx", true).await.unwrap();
    assert_eq!(waiting.status, RunStatus::Queued);
}

/// With a shared catalog, a DuckDB file relative to one process's data directory would be
/// a different file on each machine: such a destination is refused, saying why.
#[tokio::test]
async fn a_shared_catalog_refuses_a_duckdb_file_relative_to_the_data_directory() {
    let db = crate::catalog::postgres_database().await;
    let catalog = PostgresCatalog::connect(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(drop.join("t_1.csv"), transactions(0, 5)).unwrap();
    let engine = Engine::with_catalog(
        Arc::new(catalog),
        &dir.path().join("data"),
        SecretKey::generate(KeySource::Env),
    );
    engine
        .add_connection_url(
            "local",
            &format!("file://{}", drop.display()),
            &Default::default(),
        )
        .await
        .unwrap();
    let request = |destination| JobRequest {
        name: "tx".into(),
        connection: "local".into(),
        file_pattern: "t_*.csv".into(),
        destination,
        ..JobRequest::default()
    };
    use sluice_sinks::SinkConfig;
    use sluice_sinks::duckdb::DuckDbConfig;
    for relative in [
        SinkConfig::default(),
        SinkConfig::DuckDb(DuckDbConfig {
            path: Some("mine.duckdb".into()),
        }),
    ] {
        let err = engine.create_job(request(relative)).await.unwrap_err();
        assert_eq!(err.field(), Some("destination"), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("shared PostgreSQL catalog") && message.contains("absolute path"),
            "{message}"
        );
    }
    assert!(!dir.path().join("data/warehouse.duckdb").exists());
    let absolute = SinkConfig::DuckDb(DuckDbConfig {
        path: Some(dir.path().join("shared.duckdb")),
    });
    engine.create_job(request(absolute)).await.unwrap();
    let run = engine
        .run("tx", RunOptions::default(), Arc::new(Quiet))
        .await
        .unwrap();
    assert_eq!(run.rows_loaded, 5);
}
