//! Engine integration tests: real folders, a real SQLite catalog, a real DuckDB file, the
//! PostgreSQL server at `SLUICE_TEST_POSTGRES_URL` and local-bigquery at
//! `SLUICE_TEST_BIGQUERY_URL` (`bash scripts/peers.sh start`).

/// Cases on every destination: `on_every_destination!("db"; case, …)` makes the modules
/// `duckdb`, `postgres` (each test on a database of its own, named after `db`) and
/// `bigquery`, with one test per case awaiting `case(destination)` of the module it is
/// used in (once per module).
macro_rules! on_every_destination {
    ($db:literal; $($case:ident),* $(,)?) => {
        mod duckdb {
            $(#[tokio::test]
            async fn $case() {
                super::$case(sluice_sinks::SinkConfig::default()).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                let db = sluice_testkit::postgres::TestDb::new($db).await;
                super::$case(sluice_sinks::SinkConfig::Postgres(
                    sluice_sinks::postgres::PostgresConfig { url: db.url_with_password("disable") },
                ))
                .await;
            })*
        }
        mod bigquery {
            $(#[tokio::test]
            async fn $case() {
                super::$case(sluice_sinks::SinkConfig::BigQuery(crate::formats::bigquery_config())).await;
            })*
        }
    };
}

mod alerts;
mod arrays;
mod bad_input;
mod bigquery;
mod catalog;
mod dedup;
mod evolution;
mod formats;
mod jobs;
mod mapping;
mod parallel;
mod policies;
mod postgres;
mod quarantine;
mod retries;
mod rules;
mod runs;
mod scheduler;
mod schema_edit;
mod secrets;
mod shared_catalog;
mod stalls;
mod storage;
mod tasks;
mod versions;

use std::path::PathBuf;
use std::sync::Arc;

use sluice_engine::model::Run;
use sluice_engine::{Engine, JobRequest, Quiet, RunOptions};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
}

impl Env {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("drop")).unwrap();
        let engine = Engine::open(&dir.path().join("data")).await.unwrap();
        let url = format!("file://{}", dir.path().join("drop").display());
        engine
            .add_connection_url("local", &url, &Default::default())
            .await
            .unwrap();
        Self { dir, engine }
    }

    pub fn drop_dir(&self) -> PathBuf {
        self.dir.path().join("drop")
    }

    /// Writes a file into the drop; `age_minutes` orders files (larger is older).
    pub fn write(&self, name: &str, content: &str, age_minutes: u64) -> PathBuf {
        self.write_bytes(name, content.as_bytes(), age_minutes)
    }

    /// [`Env::write`] for content that need not be text.
    pub fn write_bytes(&self, name: &str, content: &[u8], age_minutes: u64) -> PathBuf {
        let path = self.drop_dir().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        set_age(&path, age_minutes);
        path
    }

    pub fn request(&self, name: &str, pattern: &str) -> JobRequest {
        JobRequest {
            name: name.into(),
            connection: "local".into(),
            file_pattern: pattern.into(),
            load_latest_only: true,
            ..JobRequest::default()
        }
    }

    pub async fn run(&self, job: &str) -> Run {
        self.engine
            .run(job, RunOptions::default(), Arc::new(Quiet))
            .await
            .unwrap()
    }

    pub async fn run_all(&self, job: &str) -> Run {
        run_all(&self.engine, job).await
    }

    pub async fn rows(&self, job: &str) -> u64 {
        self.engine.table_rows(job).await.unwrap()
    }

    pub async fn loaded_files(&self, job: &str) -> Vec<String> {
        let mut files: Vec<String> = self
            .engine
            .processed_files(job)
            .await
            .unwrap()
            .into_iter()
            .filter(|p| p.is_loaded())
            .map(|p| p.file_path)
            .collect();
        files.sort();
        files
    }
}

pub use sluice_testkit::fixtures::{set_age, transactions};

/// Runs `job` once over all its unprocessed files.
pub async fn run_all(engine: &Engine, job: &str) -> Run {
    engine
        .run(
            job,
            RunOptions {
                wait: false,
                all_files: Some(true),
                ..Default::default()
            },
            Arc::new(Quiet),
        )
        .await
        .unwrap()
}
