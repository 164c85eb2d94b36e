//! Jobs that load into BigQuery: local-bigquery (a BigQuery REST emulator started by
//! `scripts/peers.sh`), each test in a dataset of its own.
//!
//! local-bigquery has no authentication. To follow a service-account key from the job's
//! definition through the catalog (sealed) to the sink (a signed JWT exchanged for a
//! token), the key's `token_uri` points at a stand-in token endpoint the test starts: a
//! hand-written fake of Google's OAuth endpoint, the one part no emulator provides.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};
use sluice_core::names::TableName;
use sluice_core::secret::SecretKey;
use sluice_sinks::bigquery::{Auth, BigQueryConfig, BigQuerySink, job_id};
use sluice_sinks::{Inspect, SinkConfig};

use crate::storage::{Backend, Provider, var};
use crate::{Env, run_all, transactions};

const TEST_KEY: &str = include_str!("../../../sluice-sinks/testdata/bigquery/test_key.pem");

fn config(auth: Auth) -> BigQueryConfig {
    let dataset = sluice_testkit::peers::unique("engine");
    let mut c = BigQueryConfig::new(
        var("SLUICE_TEST_BIGQUERY_PROJECT", "test-proj"),
        &dataset,
        auth,
    );
    c.endpoint = var("SLUICE_TEST_BIGQUERY_URL", "http://127.0.0.1:9050");
    // Job ids are unique per project and outlive test runs.
    c.job_id_prefix = format!("sluice_{dataset}_");
    c
}

/// The stand-in token endpoint: answers every exchange with a token and counts them.
async fn token_endpoint() -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |body: String| {
            let counter = counter.clone();
            async move {
                assert!(body.contains("assertion="), "{body}");
                counter.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"access_token": "ya29.stand-in", "expires_in": 3600, "token_type": "Bearer"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/token"), calls)
}

#[tokio::test]
async fn a_job_into_bigquery_loads_each_file_once_and_keeps_its_key_sealed() {
    let (token_uri, token_calls) = token_endpoint().await;
    let key_json = json!({
        "type": "service_account",
        "client_email": "loader@test-proj.iam.gserviceaccount.com",
        "private_key": TEST_KEY,
        "token_uri": token_uri,
    })
    .to_string();
    let config = config(Auth::ServiceAccountKey {
        key_json: key_json.clone(),
    });
    let env = Env::new().await;
    // The emulator's endpoint is the operator's setting, as SLUICE_BIGQUERY_ENDPOINT.
    env.engine
        .set_bigquery_endpoint(Some(config.endpoint.clone()))
        .unwrap();
    env.write("transactions_2024-11-18.csv", &transactions(1, 300), 20);
    env.write("transactions_2024-11-19.csv", &transactions(301, 200), 10);
    let mut req = env.request("tx", "transactions_*.csv");
    req.load_latest_only = false;
    req.destination = SinkConfig::BigQuery(config.clone());
    let job = env.engine.create_job(req).await.unwrap();

    // Shown redacted, stored sealed, never in clear in the data directory.
    match &job.destination {
        SinkConfig::BigQuery(c) => {
            assert_eq!(
                c.auth,
                Auth::ServiceAccountKey {
                    key_json: "••••".into()
                }
            );
            assert_eq!(
                (c.project.as_str(), c.dataset.as_str()),
                (config.project.as_str(), config.dataset.as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        job.destination.describe().contains("service-account key"),
        "{}",
        job.destination.describe()
    );
    let stored_key = || async {
        match env.engine.catalog().job("tx").await.unwrap().destination {
            SinkConfig::BigQuery(BigQueryConfig {
                auth: Auth::ServiceAccountKey { key_json },
                ..
            }) => key_json,
            other => panic!("{other:?}"),
        }
    };
    let sealed = stored_key().await;
    assert!(SecretKey::is_sealed(&sealed), "{sealed}");
    let secret_line = TEST_KEY.lines().nth(2).unwrap();
    for entry in std::fs::read_dir(env.dir.path().join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(
            !bytes
                .windows(secret_line.len())
                .any(|w| w == secret_line.as_bytes()),
            "the private key is in the data directory in clear"
        );
    }

    let first = env.run_all("tx").await;
    assert_eq!(
        (first.files_loaded, first.rows_loaded),
        (2, 500),
        "{first:?}"
    );
    let second = env.run_all("tx").await;
    assert_eq!(
        (second.files_loaded, second.rows_loaded),
        (0, 0),
        "{second:?}"
    );

    // A new secret key re-seals the job's key, which still opens for the next run.
    env.engine.rotate_secret_key().await.unwrap();
    let resealed = stored_key().await;
    assert!(SecretKey::is_sealed(&resealed) && resealed != sealed);
    env.write("transactions_2024-11-20.csv", &transactions(501, 50), 5);
    let third = env.run_all("tx").await;
    assert_eq!(
        (third.files_loaded, third.rows_loaded),
        (1, 50),
        "{third:?}"
    );

    let check = BigQuerySink::new(BigQueryConfig {
        auth: Auth::None,
        ..config.clone()
    })
    .unwrap();
    let table = TableName::parse("transactions").unwrap();
    assert_eq!(check.count_rows(&table).await.unwrap(), 550);
    let sum = check
        .query(&format!(
            "SELECT SUM(id) FROM `{}.{}.transactions`",
            config.project, config.dataset
        ))
        .await
        .unwrap();
    assert_eq!(sum[0][0], Value::String((1..=550).sum::<i64>().to_string()));
    // The job's key was opened from the catalog and signed in: one token, reused.
    assert_eq!(token_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn with_push_down_bigquery_reads_a_gcs_csv_file_itself() {
    let gcs = Backend::new(Provider::Gcs);
    gcs.put(
        "drop/orders_1.csv",
        "id,amount,note\n1,2.50,\"a, b\"\n2,3.75,c\n",
    )
    .await;
    gcs.put_later(
        "drop/orders_2.csv",
        "id,amount,note\n3,1.00,\"multi\nline\"\n",
    )
    .await;
    let (_dir, engine) = gcs.engine().await;
    let mut config = config(Auth::None);
    config.push_down = true;
    engine
        .set_bigquery_endpoint(Some(config.endpoint.clone()))
        .unwrap();
    let job = engine
        .create_job(sluice_engine::JobRequest {
            name: "orders".into(),
            connection: "src".into(),
            file_path_prefix: "drop".into(),
            file_pattern: "orders_*.csv".into(),
            load_latest_only: false,
            destination: SinkConfig::BigQuery(config.clone()),
            // Push-down loads the file as it is: no lineage columns beside its own.
            settings: sluice_engine::model::JobSettings {
                lineage: false,
                changed_files: sluice_engine::model::ChangedFiles::Append,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let run = engine
        .run(
            "orders",
            sluice_engine::RunOptions {
                wait: false,
                all_files: Some(true),
                ..Default::default()
            },
            Arc::new(sluice_engine::Quiet),
        )
        .await
        .unwrap();
    assert_eq!((run.files_loaded, run.rows_loaded), (2, 3), "{run:?}");
    let details = engine.run_details(run.id).await.unwrap();
    for f in &details.files {
        let note = f.message.as_deref().unwrap_or_default();
        assert!(
            note.starts_with("read by the destination from gs://sluice-test/")
                && note.ends_with("(push-down)"),
            "{note}"
        );
    }

    // Each file was loaded by a job reading its gs:// URI into a staging table, not by an
    // upload from sluice; the load's marker is the transaction that moved the rows.
    let prefix = match &gcs.config {
        sluice_core::storage::ConnectionConfig::Gcs(c) => c.prefix.clone(),
        _ => unreachable!(),
    };
    let http = reqwest::Client::new();
    for file in engine.processed_files("orders").await.unwrap() {
        let id = format!("{}_stage", job_id(&config.job_id_prefix, &file.load_id, 1));
        let got = http
            .get(format!(
                "{}/bigquery/v2/projects/{}/jobs/{id}",
                config.endpoint, config.project
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let got: Value = serde_json::from_str(&got).unwrap();
        assert_eq!(
            got.pointer("/configuration/load/sourceUris/0"),
            Some(&json!(format!(
                "gs://sluice-test/{prefix}/{}",
                file.file_path
            ))),
            "{got}"
        );
        assert_eq!(
            got.pointer("/configuration/load/sourceFormat"),
            Some(&json!("CSV"))
        );
    }
    let check = BigQuerySink::new(config.clone()).unwrap();
    let rows = check
        .query(&format!(
            "SELECT note FROM `{}.{}.{}` ORDER BY id",
            config.project, config.dataset, job.table_name
        ))
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![json!("a, b")],
            vec![json!("c")],
            vec![json!("multi\nline")]
        ]
    );

    // A header in another order: BigQuery would read it by position, so sluice loads it,
    // matching the header's names.
    gcs.put_later("drop/orders_3.csv", "note,id,amount\nz,4,9.50\n")
        .await;
    let run = run_all(&engine, "orders").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 1), "{run:?}");
    let details = engine.run_details(run.id).await.unwrap();
    let note = details.files[0].message.clone().unwrap_or_default();
    assert!(!note.ends_with("(push-down)"), "{note}");
    let rows = check
        .query(&format!(
            "SELECT note, CAST(amount AS STRING) FROM `{}.{}.{}` WHERE id = 4",
            config.project, config.dataset, job.table_name
        ))
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![json!("z"), json!("9.5")]]);
}

/// Push-down is pinned to the listed version: a file overwritten while BigQuery read it
/// leaves the table and the markers as they were, and loads once it is read unchanged.
#[tokio::test]
async fn push_down_commits_nothing_when_the_file_changed_while_bigquery_read_it() {
    use sluice_core::format::FormatOptions;
    use sluice_core::format::csv::CsvOptions;
    use sluice_core::schema::{Column, WarehouseType};
    use sluice_sinks::{DirectSource, FileLoad, LoadMode, Sink};

    let gcs = Backend::new(Provider::Gcs);
    gcs.put("drop/orders.csv", "id,note\n1,first\n2,second\n")
        .await;
    let store = gcs.config.build().unwrap();
    let listed = store.head("drop/orders.csv").await.unwrap();
    let mut config = config(Auth::None);
    config.push_down = true;
    let sink = BigQuerySink::new(config.clone()).unwrap();
    let table = TableName::parse("orders").unwrap();
    let columns = vec![
        Column::new("id", WarehouseType::Int64),
        Column::new("note", WarehouseType::String),
    ];
    sink.ensure_table(&table, &columns).await.unwrap();
    let source = DirectSource {
        uri: store.uri_of("drop/orders.csv").unwrap(),
        format: FormatOptions::Csv(CsvOptions {
            delimiter: Some(','),
            has_header: Some(true),
            ..Default::default()
        }),
    };
    let load = FileLoad {
        load_id: "pinned_1".into(),
        file_path: listed.path.clone(),
        file_version: listed.version_key(),
    };
    assert!(sink.loads_directly(&source));

    // Rewritten after BigQuery's load job read it, before the rows are committed.
    let err = sink
        .load_direct(
            &table,
            &columns,
            &load,
            LoadMode::Append,
            &source,
            Box::pin(async {
                gcs.put("drop/orders.csv", "id,note\n9,rewritten\n").await;
                store.still_listed(&listed).await
            }),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            sluice_sinks::Error::Source(sluice_core::Error::Changed { path }) if path == "drop/orders.csv"
        ),
        "{err}"
    );
    assert_eq!(sink.count_rows(&table).await.unwrap(), 0);
    assert!(sink.was_loaded("pinned_1").await.unwrap().is_none());

    // The version now listed loads, once.
    let listed = store.head("drop/orders.csv").await.unwrap();
    let load = FileLoad {
        load_id: "pinned_2".into(),
        file_version: listed.version_key(),
        ..load
    };
    let receipt = sink
        .load_direct(
            &table,
            &columns,
            &load,
            LoadMode::Append,
            &source,
            Box::pin(store.still_listed(&listed)),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 1);
    let rows = sink
        .query(&format!(
            "SELECT id, note FROM `{}.{}.orders`",
            config.project, config.dataset
        ))
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![json!("9"), json!("rewritten")]]);
    assert!(sink.was_loaded("pinned_2").await.unwrap().is_some());
}
