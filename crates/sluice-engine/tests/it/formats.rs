//! Every format and codec end to end: detected and loaded from each store, and the
//! logical types of Avro and ORC files (written by fastavro and pyarrow) round-tripped
//! into DuckDB, PostgreSQL and BigQuery.

use serde_json::{Value, json};
use sluice_engine::JobRequest;
use sluice_sinks::SinkConfig;
use sluice_testkit::fixtures::{compress, core_testdata};

use crate::storage::{Backend, Provider};
use crate::{Env, run_all, transactions};

/// A plain and a gzipped CSV file in one job, and an Avro file, from `b`.
async fn loads_compressed_and_avro_files(b: &Backend) {
    b.put("in/t_1.csv", transactions(1, 10)).await;
    b.put_later(
        "in/t_2.csv.gz",
        compress(&["gzip", "-c"], transactions(11, 15).as_bytes()),
    )
    .await;
    b.put("avro/orders.avro", core_testdata("avro/codec_deflate.avro"))
        .await;
    let (_d, engine) = b.engine().await;
    engine
        .create_job(JobRequest {
            name: "tx".into(),
            connection: "src".into(),
            file_path_prefix: "in".into(),
            file_pattern: "t_*.csv*".into(),
            ..JobRequest::default()
        })
        .await
        .unwrap();
    let run = run_all(&engine, "tx").await;
    assert_eq!(
        (run.files_loaded, run.rows_loaded),
        (2, 25),
        "{:?}: {run:?}",
        b.provider
    );
    engine
        .create_job(JobRequest {
            name: "orders".into(),
            connection: "src".into(),
            file_path_prefix: "avro".into(),
            file_pattern: "*.avro".into(),
            ..JobRequest::default()
        })
        .await
        .unwrap();
    let run = run_all(&engine, "orders").await;
    assert_eq!(
        (run.files_loaded, run.rows_loaded),
        (1, 3000),
        "{:?}: {run:?}",
        b.provider
    );
    assert_eq!(engine.table_rows("orders").await.unwrap(), 3000);
}

macro_rules! on_every_store {
    ($($module:ident => $provider:expr),*) => {
        $(mod $module {
            use super::*;

            #[tokio::test]
            async fn loads_compressed_and_avro_files() {
                super::loads_compressed_and_avro_files(&Backend::new($provider)).await;
            }
        })*
    };
}

on_every_store!(local => Provider::Local, s3 => Provider::S3, gcs => Provider::Gcs, azure => Provider::Azure);

/// Loads `file` of the core fixtures into a job `t` of `env` with `destination`.
async fn load_fixture(env: &Env, file: &str, destination: SinkConfig) {
    let name = file.rsplit('/').next().unwrap();
    env.write_bytes(name, &core_testdata(file), 1);
    let mut req = env.request("t", name);
    req.table_name = Some("t".into());
    req.destination = destination;
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("t").await;
    assert_eq!(run.files_loaded, 1, "{run:?}");
}

/// The values each destination should hold for `avro/logical.avro`, as text.
const AVRO_EXPECTED: &[(&str, &str)] = &[
    ("id", "1"),
    ("note", "NULL"),
    ("amount", "1234.56"),
    ("day", "2024-11-19"),
    ("at_ms", "2024-11-19 08:30:00.123"),
    ("at_us", "2024-11-19 08:30:00.123456"),
    ("uid", "12345678-1234-5678-1234-567812345678"),
    ("flag", "true"),
    ("kind", "NEW"),
    ("tags", "[a, b]"),
    ("address", r#"{"city":"Oslo","zip":150}"#),
];

#[tokio::test]
async fn avro_and_orc_types_round_trip_into_duckdb() {
    let env = Env::new().await;
    load_fixture(&env, "avro/logical.avro", SinkConfig::default()).await;
    let table = env.engine.job_table("t").await.unwrap();
    let job = env.engine.job("t").await.unwrap();
    let batches = table.preview(&job.table_name, 10).await.unwrap();
    let b = &batches[0];
    // The Avro array is a DuckDB list, not text.
    assert!(matches!(
        b.schema().field_with_name("tags").unwrap().data_type(),
        arrow::datatypes::DataType::List(_)
    ));
    let shown = |name: &str| {
        let i = b.schema().index_of(name).unwrap();
        // Shown without its zone (the formatter knows offsets, not zone names).
        let column = match b.column(i).data_type() {
            arrow::datatypes::DataType::Timestamp(unit, Some(_)) => arrow::compute::cast(
                b.column(i),
                &arrow::datatypes::DataType::Timestamp(*unit, None),
            )
            .unwrap(),
            _ => b.column(i).clone(),
        };
        let f = arrow::util::display::ArrayFormatter::try_new(
            column.as_ref(),
            &arrow::util::display::FormatOptions::default().with_null("NULL"),
        )
        .unwrap();
        f.value(0).to_string()
    };
    for (column, want) in AVRO_EXPECTED {
        let got = shown(column);
        let got = got.trim_end_matches('Z').replace('T', " ");
        let got = if *column == "amount" {
            got.trim_end_matches('0').to_string()
        } else {
            got
        };
        assert_eq!(&got, want, "{column}");
    }
}

#[tokio::test]
async fn avro_types_round_trip_into_postgres() {
    let db = sluice_testkit::postgres::TestDb::new("formats").await;
    let env = Env::new().await;
    load_fixture(
        &env,
        "avro/logical.avro",
        SinkConfig::Postgres(sluice_sinks::postgres::PostgresConfig {
            url: db.url_with_password("disable"),
        }),
    )
    .await;
    assert_eq!(
        db.text("SELECT amount::text FROM t WHERE id = 1").await,
        "1234.560000000"
    );
    assert_eq!(
        db.text("SELECT day::text FROM t WHERE id = 1").await,
        "2024-11-19"
    );
    assert_eq!(
        db.text("SELECT (at_us AT TIME ZONE 'UTC')::text FROM t WHERE id = 1")
            .await,
        "2024-11-19 08:30:00.123456"
    );
    assert_eq!(
        db.text("SELECT uid FROM t WHERE id = 1").await,
        "12345678-1234-5678-1234-567812345678"
    );
    assert_eq!(
        db.text("SELECT tags::text FROM t WHERE id = 1").await,
        "{a,b}"
    );
    assert_eq!(db.text("SELECT tags[2] FROM t WHERE id = 1").await, "b");
    assert_eq!(
        db.text("SELECT pg_typeof(tags)::text FROM t LIMIT 1").await,
        "text[]"
    );
    assert_eq!(
        db.text("SELECT address->>'city' FROM t WHERE id = 1").await,
        "Oslo"
    );
    assert_eq!(
        db.text("SELECT choice::text FROM t WHERE id = 2").await,
        r#""seven""#
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM t WHERE note IS NULL").await,
        1
    );
}

#[tokio::test]
async fn orc_types_round_trip_into_postgres() {
    let db = sluice_testkit::postgres::TestDb::new("formats").await;
    let env = Env::new().await;
    load_fixture(
        &env,
        "orc/typed.orc",
        SinkConfig::Postgres(sluice_sinks::postgres::PostgresConfig {
            url: db.url_with_password("disable"),
        }),
    )
    .await;
    assert_eq!(db.scalar("SELECT count(*) FROM t").await, 3);
    assert_eq!(
        db.text("SELECT (at AT TIME ZONE 'UTC')::text FROM t WHERE id = 1")
            .await,
        "2024-11-19 08:30:00.123456"
    );
    assert_eq!(
        db.text("SELECT amount::text FROM t WHERE id = 2").await,
        "-0.050000000"
    );
    assert_eq!(
        db.text("SELECT address->>'zip' FROM t WHERE id = 1").await,
        "150"
    );
}

pub(crate) fn bigquery_config() -> sluice_sinks::bigquery::BigQueryConfig {
    let dataset = sluice_testkit::peers::unique("formats");
    let mut c = sluice_sinks::bigquery::BigQueryConfig::new(
        crate::storage::var("SLUICE_TEST_BIGQUERY_PROJECT", "test-proj"),
        &dataset,
        sluice_sinks::bigquery::Auth::None,
    );
    c.endpoint = crate::storage::var("SLUICE_TEST_BIGQUERY_URL", "http://127.0.0.1:9050");
    c.job_id_prefix = format!("sluice_{dataset}_");
    c
}

#[tokio::test]
async fn avro_types_round_trip_into_bigquery() {
    let env = Env::new().await;
    let config = bigquery_config();
    env.engine
        .set_bigquery_endpoint(Some(config.endpoint.clone()))
        .unwrap();
    load_fixture(
        &env,
        "avro/logical.avro",
        SinkConfig::BigQuery(config.clone()),
    )
    .await;
    let sink = sluice_sinks::bigquery::BigQuerySink::new(config.clone()).unwrap();
    let rows = sink
        .query(&format!(
            "SELECT CAST(amount * 100 AS INT64), CAST(day AS STRING), CAST(at_us AS STRING), uid, TO_JSON_STRING(tags) FROM `{}.{}.t` WHERE id = 1",
            config.project, config.dataset
        ))
        .await
        .unwrap();
    assert_eq!(
        rows[0],
        vec![
            json!("123456"),
            json!("2024-11-19"),
            json!("2024-11-19 08:30:00.123456+00"),
            json!("12345678-1234-5678-1234-567812345678"),
            Value::String(r#"["a","b"]"#.into()),
        ]
    );
}

/// With push-down on, each format BigQuery reads from `gs://` is loaded by a load job of
/// its own, and the rows are those sluice would have loaded.
#[tokio::test]
async fn push_down_covers_parquet_avro_orc_jsonl_and_gzip_csv() {
    let gcs = Backend::new(Provider::Gcs);
    // (The emulator reads snappy Avro only with a Python library it does not install.)
    gcs.put("d/a.avro", core_testdata("avro/codec_deflate.avro"))
        .await;
    gcs.put("d/p.parquet", crate::storage::parquet_bytes())
        .await;
    gcs.put("d/o.orc", core_testdata("orc/codec_zstd.orc"))
        .await;
    gcs.put(
        "d/j.jsonl",
        "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n",
    )
    .await;
    gcs.put(
        "d/c.csv.gz",
        compress(&["gzip", "-c"], b"id,name\n1,a\n2,b\n3,c\n"),
    )
    .await;
    let (_d, engine) = gcs.engine().await;
    let mut config = bigquery_config();
    config.push_down = true;
    engine
        .set_bigquery_endpoint(Some(config.endpoint.clone()))
        .unwrap();
    for (job, pattern, rows) in [
        ("p", "*.parquet", 3),
        ("a", "*.avro", 3000),
        ("o", "*.orc", 5000),
        ("j", "*.jsonl", 2),
        ("c", "*.csv.gz", 3),
    ] {
        engine
            .create_job(JobRequest {
                name: job.into(),
                connection: "src".into(),
                file_path_prefix: "d".into(),
                file_pattern: pattern.into(),
                destination: SinkConfig::BigQuery(config.clone()),
                settings: sluice_engine::model::JobSettings {
                    lineage: false,
                    changed_files: sluice_engine::model::ChangedFiles::Append,
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let run = run_all(&engine, job).await;
        assert_eq!(
            (run.files_loaded, run.rows_loaded),
            (1, rows),
            "{job}: {run:?}"
        );
        let details = engine.run_details(run.id).await.unwrap();
        let note = details.files[0].message.clone().unwrap_or_default();
        assert!(note.ends_with("(push-down)"), "{job}: {note}");
        assert_eq!(engine.table_rows(job).await.unwrap(), rows, "{job}");
    }
}

/// A zip of CSV entries is one load: every entry, or (when one entry is bad) none.
#[tokio::test]
async fn a_zip_archive_loads_all_its_entries_or_none() {
    let env = Env::new().await;
    let zip = |name: &str, entries: &[(&str, String)]| {
        let src = env.dir.path().join("zipsrc");
        std::fs::create_dir_all(&src).unwrap();
        for (entry, body) in entries {
            std::fs::write(src.join(entry), body).unwrap();
        }
        let names: Vec<&str> = entries.iter().map(|(n, _)| *n).collect();
        let status = std::process::Command::new("zip")
            .arg("-q")
            .arg(env.drop_dir().join(name))
            .args(&names)
            .current_dir(&src)
            .status()
            .expect("zip (scripts/test installs it)");
        assert!(status.success());
        std::fs::remove_dir_all(&src).unwrap();
    };
    zip(
        "orders_1.csv.zip",
        &[
            ("a.csv", transactions(1, 10)),
            ("b.csv", transactions(11, 5)),
        ],
    );
    let mut req = env.request("z", "orders_*.csv.zip");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("z").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 15), "{run:?}");

    // The second entry has a value its column cannot take: the archive loads nothing.
    let mut bad = transactions(31, 5);
    bad.push_str("x,1.00,EUR,2024-11-19T08:00:00Z,\"bad id\"\n");
    zip(
        "orders_2.csv.zip",
        &[("a.csv", transactions(21, 10)), ("b.csv", bad)],
    );
    let run = env.run_all("z").await;
    assert_eq!((run.files_loaded, run.files_failed), (0, 1), "{run:?}");
    let message = run.files[0].message.clone().unwrap_or_default();
    assert!(message.contains("orders_2.csv.zip!b.csv"), "{message}");
    assert_eq!(env.rows("z").await, 15);

    // A job's glob chooses the entries: only a.csv of each archive.
    let mut req = env.request("za", "orders_*.csv.zip");
    req.load_latest_only = false;
    req.table_name = Some("za".into());
    req.settings.archive_entries = Some("a.csv".into());
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("za").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (2, 20), "{run:?}");
}

/// JSON reads keys by name: records that order them otherwise, or leave an optional one
/// out, load; a new key is still a changed schema (CSV headers: `evolution`).
#[tokio::test]
async fn json_keys_in_another_order_or_left_out_are_not_a_changed_schema() {
    let env = Env::new().await;
    env.write(
        "events_1.jsonl",
        "{\"id\": 1, \"name\": \"a\", \"note\": \"x\"}\n{\"id\": 2, \"name\": \"b\", \"note\": null}\n",
        3,
    );
    let mut req = env.request("ev", "events_*.jsonl");
    req.load_latest_only = false;
    env.engine.create_job(req).await.unwrap();
    assert_eq!(env.run_all("ev").await.rows_loaded, 2);
    env.write(
        "events_2.jsonl",
        "{\"note\": \"y\", \"id\": 3}\n{\"id\": 4, \"note\": \"z\"}\n",
        2,
    );
    let run = env.run_all("ev").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 2), "{run:?}");
    env.write(
        "events_3.jsonl",
        "{\"id\": 5, \"name\": \"e\", \"extra\": 1}\n",
        1,
    );
    let run = env.run_all("ev").await;
    assert_eq!(run.files_failed, 1, "{run:?}");
    let message = run.files[0].message.clone().unwrap_or_default();
    assert!(message.contains("extra"), "{message}");
}
