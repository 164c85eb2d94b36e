//! The storage conformance suite: one set of behaviours, run on a local folder and on real
//! S3 (moto), GCS (fake-gcs-server) and Azure Blob (Azurite) servers, which
//! `scripts/peers.sh` installs and starts (the suite starts them itself if needed).
//!
//! Gaps of the emulators, tested where a server has the feature:
//! - moto does not check signatures and fake-gcs-server has no auth: a wrong credential is
//!   tested on Azurite; on S3 and GCS a missing bucket is tested instead.
//! - fake-gcs-server's XML list ignores `max-keys` and continuation tokens and returns every
//!   key in one page, so listing 2,600 objects exercises pagination on S3 and Azure only.
//! - fake-gcs-server accepts writes only through its JSON API; objects are seeded there.
//! - fake-gcs-server ignores `If-Match` and writes its ETags in base64: a pinned ranged read
//!   is tested on the others; whole reads are checked after they end everywhere.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use sluice_core::schema::WarehouseType;
use sluice_core::storage::config::{AzureConfig, GcsConfig, LocalConfig, S3Config};
use sluice_core::storage::{ConnectionConfig, FailureKind};
use sluice_engine::model::FileOutcome;
use sluice_engine::{Engine, JobRequest, Quiet, RunOptions};

use crate::transactions;

/// Azurite's public development account key.
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Local,
    S3,
    Gcs,
    Azure,
}

/// A setting of the test servers, which `sluice_testkit::peers` starts once.
pub fn var(name: &str, default: &str) -> String {
    sluice_testkit::peers::var_or(name, default)
}

pub struct Backend {
    pub provider: Provider,
    pub config: ConnectionConfig,
    _local: Option<tempfile::TempDir>,
    http: reqwest::Client,
    ticks: std::sync::atomic::AtomicU64,
}

fn unique() -> String {
    format!("t{}-{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

impl Backend {
    pub fn new(provider: Provider) -> Self {
        let prefix = unique();
        let bucket = || var("SLUICE_TEST_BUCKET", "sluice-test");
        let (config, local) = match provider {
            Provider::Local => {
                let dir = tempfile::tempdir().unwrap();
                (
                    ConnectionConfig::Local(LocalConfig {
                        path: dir.path().to_path_buf(),
                    }),
                    Some(dir),
                )
            }
            Provider::S3 => (
                ConnectionConfig::S3(S3Config {
                    bucket: bucket(),
                    prefix,
                    region: Some("us-east-1".into()),
                    access_key_id: Some("testing".into()),
                    secret_access_key: Some("testing".into()),
                    endpoint: Some(format!(
                        "http://127.0.0.1:{}",
                        var("SLUICE_S3_PORT", "5000")
                    )),
                    path_style: true,
                    allow_http: true,
                    ..Default::default()
                }),
                None,
            ),
            Provider::Gcs => (
                ConnectionConfig::Gcs(GcsConfig {
                    bucket: bucket(),
                    prefix,
                    endpoint: Some(format!(
                        "http://127.0.0.1:{}",
                        var("SLUICE_GCS_PORT", "4443")
                    )),
                    anonymous: true,
                    ..Default::default()
                }),
                None,
            ),
            Provider::Azure => (
                ConnectionConfig::Azure(AzureConfig {
                    account: "devstoreaccount1".into(),
                    container: bucket(),
                    prefix,
                    access_key: Some(AZURITE_KEY.into()),
                    endpoint: Some(format!(
                        "http://127.0.0.1:{}/devstoreaccount1",
                        var("SLUICE_AZURE_PORT", "10000")
                    )),
                    ..Default::default()
                }),
                None,
            ),
        };
        if provider != Provider::Local {
            let _ = var("SLUICE_TEST_BUCKET", "");
        }
        Self {
            provider,
            config,
            _local: local,
            http: reqwest::Client::new(),
            ticks: Default::default(),
        }
    }

    /// Writes an object under the connection's root.
    pub async fn put(&self, path: &str, body: impl Into<Bytes>) {
        let body: Bytes = body.into();
        match (&self.config, self.provider) {
            (ConnectionConfig::Local(c), _) => {
                let p = c.path.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, &body).unwrap();
                let tick = self.ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let f = std::fs::File::options().write(true).open(&p).unwrap();
                f.set_modified(
                    std::time::SystemTime::now() - Duration::from_secs(86_400)
                        + Duration::from_secs(tick * 10),
                )
                .unwrap();
            }
            (ConnectionConfig::Gcs(c), _) => {
                // fake-gcs-server takes writes through its JSON API only.
                let name = format!("{}/{path}", c.prefix);
                let url = url::Url::parse_with_params(
                    &format!(
                        "{}/upload/storage/v1/b/{}/o",
                        c.endpoint.as_deref().unwrap(),
                        c.bucket
                    ),
                    &[("uploadType", "media"), ("name", name.as_str())],
                )
                .unwrap();
                let resp = self.http.post(url).body(body).send().await.unwrap();
                assert!(
                    resp.status().is_success(),
                    "GCS upload of {name}: {}",
                    resp.status()
                );
            }
            _ => {
                let store = self.config.build().unwrap();
                store
                    .object_store()
                    .put(&store.location(path), body.into())
                    .await
                    .unwrap();
            }
        }
    }

    /// Writes an object that must list as newer than those written before it.
    pub async fn put_later(&self, path: &str, body: impl Into<Bytes>) {
        if self.provider != Provider::Local {
            // Object stores keep last-modified times to the second.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        self.put(path, body).await;
    }

    pub async fn engine(&self) -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).await.unwrap();
        engine
            .add_connection("src", self.config.clone())
            .await
            .unwrap();
        (dir, engine)
    }
}

pub fn parquet_bytes() -> Vec<u8> {
    let batch = arrow::record_batch::RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3])) as arrow::array::ArrayRef,
        ),
        (
            "name",
            Arc::new(arrow::array::StringArray::from(vec!["a", "b", "c"])) as _,
        ),
    ])
    .unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

async fn lists_with_glob_and_prefix_push_down_newest_first(b: &Backend) {
    b.put("bulk/noise_1.csv", "x\n1\n").await;
    b.put("bulk/noise_2.csv", "x\n1\n").await;
    b.put("exports/2024-01/part_0.csv", "x\n1\n").await;
    b.put("exports/2024-02/other.json", "{}\n").await;
    b.put_later("exports/2024-02/part_1.csv", "x\n1\n2\n").await;
    let (_d, engine) = b.engine().await;
    let l = engine
        .list_files("src", "", "exports/2024-*/part_*.csv", None, None)
        .await
        .unwrap();
    let names: Vec<&str> = l.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["exports/2024-02/part_1.csv", "exports/2024-01/part_0.csv"],
        "{:?}",
        b.provider
    );
    assert_eq!(l.files[0].size, 6);
    // Only exports/ was listed: the two bulk/ objects were never returned by the store.
    let store = engine.store("src").await.unwrap();
    let listing = store
        .list(&sluice_core::storage::FilePattern::new("", "exports/2024-*/part_*.csv").unwrap())
        .await
        .unwrap();
    assert_eq!(listing.scanned, 3, "{:?}", b.provider);
    let none = engine
        .list_files("src", "exports", "*.parquet", None, None)
        .await
        .unwrap();
    assert!(none.suggestion.unwrap().contains("try the pattern '*.csv'"));
    let hint = none.hint.unwrap();
    assert_eq!(
        (hint.field.as_deref(), hint.value.as_deref()),
        (Some("file_pattern"), Some("*.csv"))
    );
}

async fn detects_csv_parquet_and_jsonl(b: &Backend) {
    b.put(
        "d/t.csv",
        "id,zip,at\n1,00501,2024-11-19T08:00:00Z\n2,10001,2024-11-19T09:00:00+01:00\n",
    )
    .await;
    b.put("d/p.parquet", parquet_bytes()).await;
    b.put(
        "d/e.jsonl",
        "{\"id\": 1, \"tags\": [\"a\"]}\n{\"id\": 2, \"tags\": null}\n",
    )
    .await;
    let (_d, engine) = b.engine().await;
    let types = |s: &sluice_core::schema::DetectedSchema| {
        s.columns
            .iter()
            .map(|c| c.bigquery_type)
            .collect::<Vec<_>>()
    };
    let csv = engine.detect("src", "d/t.csv", None).await.unwrap();
    assert_eq!(
        types(&csv),
        vec![
            WarehouseType::Int64,
            WarehouseType::String,
            WarehouseType::Timestamp
        ]
    );
    let pq = engine.detect("src", "d/p.parquet", None).await.unwrap();
    assert_eq!(
        (types(&pq), pq.total_rows, pq.total_rows_estimated),
        (vec![WarehouseType::Int64, WarehouseType::String], 3, false)
    );
    let js = engine.detect("src", "d/e.jsonl", None).await.unwrap();
    assert_eq!(types(&js), vec![WarehouseType::Int64, WarehouseType::Json]);
    let missing = engine
        .detect("src", "d/nope.csv", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("d/nope.csv") && missing.contains("not found"),
        "{missing}"
    );
}

async fn runs_latest_all_again_new_and_too_large(b: &Backend) {
    b.put("in/t_1.csv", transactions(1, 10)).await;
    b.put_later("in/t_2.csv", transactions(11, 10)).await;
    let (_d, engine) = b.engine().await;
    let mut req = JobRequest {
        name: "tx".into(),
        connection: "src".into(),
        file_path_prefix: "in".into(),
        file_pattern: "t_*.csv".into(),
        load_latest_only: true,
        max_file_size: Some(4096),
        ..JobRequest::default()
    };
    engine.create_job(req.clone()).await.unwrap();
    let quiet = Arc::new(Quiet);
    let run = engine
        .run("tx", RunOptions::default(), quiet.clone())
        .await
        .unwrap();
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 10));
    assert_eq!(
        run.files[0].file_path, "in/t_2.csv",
        "{:?}: the newest file",
        b.provider
    );
    let run = engine
        .run(
            "tx",
            RunOptions {
                wait: false,
                all_files: Some(true),
                ..Default::default()
            },
            quiet.clone(),
        )
        .await
        .unwrap();
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 10));
    let run = engine
        .run(
            "tx",
            RunOptions {
                wait: false,
                all_files: Some(true),
                ..Default::default()
            },
            quiet.clone(),
        )
        .await
        .unwrap();
    assert_eq!(
        (run.files_seen, run.files_loaded),
        (2, 0),
        "a second run loads nothing"
    );

    b.put_later("in/t_3.csv", transactions(21, 5)).await;
    b.put("in/t_big.csv", transactions(100, 200)).await;
    let run = engine
        .run(
            "tx",
            RunOptions {
                wait: false,
                all_files: Some(true),
                ..Default::default()
            },
            quiet.clone(),
        )
        .await
        .unwrap();
    assert_eq!(
        (run.files_loaded, run.files_skipped, run.rows_loaded),
        (1, 3, 5),
        "{run:?}"
    );
    assert!(run.files.iter().any(|f| f.file_path == "in/t_big.csv"
        && f.outcome == sluice_engine::model::FileOutcome::SkippedTooLarge));
    let job = engine.job("tx").await.unwrap();
    assert_eq!(
        engine
            .sink(&job.destination)
            .unwrap()
            .count_rows(&job.table_name)
            .await
            .unwrap(),
        25
    );
    req.name = "other".into();
    req.table_name = Some("other".into());
    req.file_pattern = "nothing_*.csv".into();
    assert!(
        engine
            .create_job(req)
            .await
            .unwrap_err()
            .to_string()
            .contains("no files matching")
    );
}

async fn lists_thousands_of_objects(b: &Backend) {
    const N: usize = 2600;
    futures::stream::iter(0..N)
        .map(|i| async move {
            b.put(&format!("many/{:02}/f_{i:05}.csv", i % 13), "x\n1\n")
                .await
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let (_d, engine) = b.engine().await;
    let l = engine
        .list_files("src", "many", "f_*.csv", Some(10), None)
        .await
        .unwrap();
    assert_eq!((l.count, l.files.len()), (N, 10), "{:?}", b.provider);
}

async fn reports_a_missing_bucket_or_a_wrong_credential(b: &Backend) {
    let (_d, engine) = b.engine().await;
    assert!(
        engine.test_connection("src").await.is_ok(),
        "{:?}: the right settings work",
        b.provider
    );
    let (broken, expected) = match &b.config {
        ConnectionConfig::Azure(c) => {
            let mut c = c.clone();
            c.access_key = Some(base64_key());
            (ConnectionConfig::Azure(c), FailureKind::AccessDenied)
        }
        ConnectionConfig::S3(c) => {
            let mut c = c.clone();
            c.bucket = "no-such-bucket".into();
            (ConnectionConfig::S3(c), FailureKind::NotFound)
        }
        ConnectionConfig::Gcs(c) => {
            // fake-gcs-server answers a missing bucket with 500 "no bucket named …" (GCS
            // answers 404 NoSuchBucket, which the classifier's unit tests cover): check that
            // the provider's own message reaches the user.
            let mut c = c.clone();
            c.bucket = "no-such-bucket".into();
            engine
                .add_connection("broken", ConnectionConfig::Gcs(c))
                .await
                .unwrap();
            let err = engine
                .test_connection("broken")
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("no bucket named no-such-bucket"), "{err}");
            return;
        }
        ConnectionConfig::Local(_) => return,
    };
    engine.add_connection("broken", broken).await.unwrap();
    let err = engine.test_connection("broken").await.unwrap_err();
    let sluice_engine::Error::Core(core) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        core.storage_failure(),
        Some(expected),
        "{:?}: {err}",
        b.provider
    );
    let text = err.to_string();
    assert!(text.contains(expected.advice()), "{text}");
    // A 4xx answer is final: no retries.
    assert!(!text.contains("retries"), "{text}");

    // An endpoint nobody listens on is unreachable, and says so within the timeout.
    let mut dead = b.config.clone();
    match &mut dead {
        ConnectionConfig::S3(c) => c.endpoint = Some("http://127.0.0.1:9".into()),
        ConnectionConfig::Gcs(c) => c.endpoint = Some("http://127.0.0.1:9".into()),
        ConnectionConfig::Azure(c) => {
            c.endpoint = Some("http://127.0.0.1:9/devstoreaccount1".into())
        }
        ConnectionConfig::Local(_) => unreachable!(),
    }
    engine.add_connection("dead", dead).await.unwrap();
    let started = std::time::Instant::now();
    let err = engine.test_connection("dead").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    let sluice_engine::Error::Core(core) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        core.storage_failure(),
        Some(FailureKind::Unreachable),
        "{err}"
    );
}

fn base64_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([7u8; 64])
}

/// A file version is its content: the same bytes uploaded again, or under another name,
/// are already loaded; other bytes under the same path replace the file's rows.
async fn a_redelivery_of_the_same_bytes_is_already_loaded(b: &Backend) {
    let same = "id,v\n1,2\n3,4\n";
    b.put("in/a.csv", same).await;
    let (_d, engine) = b.engine().await;
    let req = JobRequest {
        name: "tx".into(),
        connection: "src".into(),
        file_path_prefix: "in".into(),
        file_pattern: "*.csv".into(),
        load_latest_only: false,
        ..JobRequest::default()
    };
    engine.create_job(req).await.unwrap();
    let quiet = Arc::new(Quiet);
    let run = engine
        .run("tx", RunOptions::default(), quiet.clone())
        .await
        .unwrap();
    assert_eq!(run.rows_loaded, 2, "{:?}", b.provider);
    b.put_later("in/a.csv", same).await;
    b.put_later("in/copy.csv", same).await;
    let run = engine
        .run("tx", RunOptions::default(), quiet.clone())
        .await
        .unwrap();
    assert_eq!(run.files_loaded, 0, "{:?}: {:?}", b.provider, run.files);
    assert!(
        run.files
            .iter()
            .all(|f| f.outcome == FileOutcome::SkippedSameContent),
        "{:?}: {:?}",
        b.provider,
        run.files
    );
    assert_eq!(engine.table_rows("tx").await.unwrap(), 2);
    b.put_later("in/a.csv", "id,v\n5,6\n7,8\n9,10\n").await;
    let run = engine
        .run("tx", RunOptions::default(), quiet.clone())
        .await
        .unwrap();
    assert_eq!(
        (run.files_loaded, run.rows_loaded),
        (1, 3),
        "{:?}",
        run.files
    );
    assert_eq!(
        engine.table_rows("tx").await.unwrap(),
        3,
        "{:?}: the file's old rows replaced",
        b.provider
    );
}

/// A read of a file that changed after it was listed fails as changed: it is never taken
/// for the version listed.
async fn reads_are_pinned_to_the_listed_version(b: &Backend) {
    b.put("p/a.csv", "id\n1\n").await;
    let (_d, engine) = b.engine().await;
    let store = engine.store("src").await.unwrap();
    let pattern = sluice_core::storage::FilePattern::new("p", "*.csv").unwrap();
    let listed = store.list(&pattern).await.unwrap().files[0].clone();
    assert_eq!(
        store.read_head(&listed, 100).await.unwrap().as_ref(),
        b"id\n1\n"
    );
    b.put_later("p/a.csv", "id\n1\n2\n").await;
    // fake-gcs-server ignores If-Match (GCS itself honours it); a whole read is checked
    // again once it ends on every store.
    if b.provider != Provider::Gcs {
        let err = store.read_head(&listed, 100).await.unwrap_err();
        assert!(err.is_changed(), "{:?}: {err}", b.provider);
    }
    let err = store.content_hash(&listed).await.unwrap_err();
    assert!(err.is_changed(), "{:?}: {err}", b.provider);
    assert!(err.to_string().contains("p/a.csv"), "{err}");
    // The version listed now reads, and its checksum is the store's where it gives one.
    let now = store.list(&pattern).await.unwrap().files[0].clone();
    let hash = store.content_hash(&now).await.unwrap();
    if let Some(checksum) = &now.checksum {
        assert_eq!(
            checksum, &hash,
            "{:?}: the store's MD5 is the content's",
            b.provider
        );
    }
    match b.provider {
        Provider::S3 | Provider::Gcs => assert!(now.checksum.is_some(), "{:?}", b.provider),
        Provider::Local | Provider::Azure => assert!(now.checksum.is_none()),
    }
}

macro_rules! conformance {
    ($module:ident, $provider:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn lists_with_glob_and_prefix_push_down_newest_first() {
                super::lists_with_glob_and_prefix_push_down_newest_first(&Backend::new($provider))
                    .await;
            }

            #[tokio::test]
            async fn detects_csv_parquet_and_jsonl() {
                super::detects_csv_parquet_and_jsonl(&Backend::new($provider)).await;
            }

            #[tokio::test]
            async fn runs_latest_all_again_new_and_too_large() {
                super::runs_latest_all_again_new_and_too_large(&Backend::new($provider)).await;
            }

            #[tokio::test]
            async fn a_redelivery_of_the_same_bytes_is_already_loaded() {
                super::a_redelivery_of_the_same_bytes_is_already_loaded(&Backend::new($provider))
                    .await;
            }

            #[tokio::test]
            async fn reads_are_pinned_to_the_listed_version() {
                super::reads_are_pinned_to_the_listed_version(&Backend::new($provider)).await;
            }

            #[tokio::test]
            async fn lists_thousands_of_objects() {
                super::lists_thousands_of_objects(&Backend::new($provider)).await;
            }

            #[tokio::test]
            async fn reports_a_missing_bucket_or_a_wrong_credential() {
                super::reports_a_missing_bucket_or_a_wrong_credential(&Backend::new($provider))
                    .await;
            }
        }
    };
}

conformance!(local, Provider::Local);
conformance!(s3, Provider::S3);
conformance!(gcs, Provider::Gcs);
conformance!(azure, Provider::Azure);
