//! The sink suite on BigQuery, against local-bigquery (a BigQuery REST emulator) that
//! `scripts/peers.sh` installs and starts (the tests start it themselves if needed).
//!
//! Each test gets a dataset of its own. Where local-bigquery differs from BigQuery:
//! - it has no authentication: the sink runs with `Auth::None` (the token exchange is tested
//!   against a stand-in token endpoint in `bigquery::auth`);
//! - it runs every job in location `US` whatever the request says, and a load job is DONE
//!   when the upload's last chunk is answered (BigQuery answers RUNNING and the sink polls);
//!   the sink's polling is therefore only exercised when the emulator is slow.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use futures::StreamExt;
use sluice_core::names::TableName;
use sluice_core::schema::{Column, WarehouseType, arrow_schema};
use sluice_sinks::bigquery::{Auth, BigQueryConfig, BigQuerySink, job_id};
use sluice_sinks::{FileLoad, Inspect, LoadMode, Sink};

use crate::suite;

pub(crate) fn config() -> BigQueryConfig {
    let dataset = sluice_testkit::peers::unique("it");
    let (endpoint, project) = sluice_testkit::peers::bigquery();
    let mut c = BigQueryConfig::new(&project, &dataset, Auth::None);
    c.endpoint = endpoint;
    // Jobs outlive datasets and test runs; the suite's load ids ("a", "f1") repeat.
    c.job_id_prefix = format!("sluice_{dataset}_");
    c
}

fn bigquery() -> BigQuerySink {
    BigQuerySink::new(config()).unwrap()
}

pub(crate) fn file(id: &str) -> FileLoad {
    FileLoad {
        load_id: id.into(),
        file_path: format!("{id}.csv"),
        file_version: "v1".into(),
    }
}

fn ints(
    columns: &[Column],
    values: impl IntoIterator<Item = i64>,
) -> sluice_core::format::BatchStream {
    let batch = RecordBatch::try_new(
        arrow_schema(columns),
        vec![Arc::new(Int64Array::from_iter_values(values))],
    )
    .unwrap();
    futures::stream::iter(vec![Ok(batch)]).boxed()
}

async fn bigquery_fixture() -> suite::Fixture {
    suite::Fixture {
        sink: Box::new(bigquery()),
        int64: sluice_sinks::bigquery::bigquery_type(WarehouseType::Int64),
        // local-bigquery differs here: its NDJSON load stores a BYTES value's base64 text as
        // the bytes themselves (b"\x00\xff" is written as "AP8=" and read back as the 4
        // bytes "AP8="), where BigQuery decodes base64 as documented. These columns include
        // JSON, so the upload is NDJSON: BYTES values are loaded but not compared;
        // `bigquery::rows` tests that they are written as base64, and `bigquery_uploads`
        // that a Parquet upload's BYTES read back as they were.
        unread: &[WarehouseType::Bytes],
        arrays_hold_nulls: false,
        widens_dates: false,
        guard: Box::new(()),
    }
}

suite::conformance!(conformance, crate::bigquery::bigquery_fixture());

#[tokio::test]
async fn bigquery_a_failed_load_starts_no_job() {
    let sink = bigquery();
    suite::a_failed_load_leaves_nothing_behind(&sink).await;
    // Not even a failed job: the stream broke before the upload's last chunk.
    let rows = sink
        .query(&format!(
            "SELECT COUNT(*) FROM `region-us`.INFORMATION_SCHEMA.JOBS WHERE job_id = '{}'",
            job_id(&sink.config().job_id_prefix, "bad", 1)
        ))
        .await;
    if let Ok(rows) = rows {
        assert_eq!(rows[0][0].as_str(), Some("0"));
    }
}

#[tokio::test]
async fn bigquery_stores_timestamps_as_instants() {
    let sink = bigquery();
    suite::reads_back_timestamps_as_utc_instants(&sink).await;
    // And BigQuery itself holds the instant: UNIX_MICROS and the UTC text agree.
    let rows = sink
        .query(&format!(
            "SELECT UNIX_MICROS(at), FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%S', at, 'UTC') FROM `{}.{}.ts`",
            sink.config().project,
            sink.config().dataset
        ))
        .await
        .unwrap();
    assert_eq!(rows[0][0].as_str(), Some("1732003200000000"));
    assert_eq!(rows[0][1].as_str(), Some("2024-11-19T08:00:00"));
}

#[tokio::test]
async fn bigquery_was_loaded_is_answered_by_another_sink_after_a_crash() {
    let config = config();
    let first = BigQuerySink::new(config.clone()).unwrap();
    let table = TableName::parse("t").unwrap();
    let columns = vec![Column::new("id", WarehouseType::Int64)];
    first.ensure_table(&table, &columns).await.unwrap();
    let receipt = first
        .load(
            &table,
            &columns,
            &file("crash-1"),
            LoadMode::Append,
            ints(&columns, 0..7),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 7);
    drop(first); // the process "dies" after the job committed, before its ledger knew

    // A new process with the same configuration.
    let second = BigQuerySink::new(config).unwrap();
    assert_eq!(
        second.was_loaded("crash-1").await.unwrap().map(|r| r.rows),
        Some(7)
    );
    assert_eq!(second.was_loaded("crash-2").await.unwrap(), None);
    let again = second
        .load(
            &table,
            &columns,
            &file("crash-1"),
            LoadMode::Append,
            ints(&columns, 0..7),
        )
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("crash-1.csv: already loaded"),
        "{again}"
    );
}

#[tokio::test]
async fn bigquery_a_failed_job_names_the_file_and_the_retry_takes_the_next_job_id() {
    let sink = bigquery();
    let table = TableName::parse("t").unwrap();
    // The table says INT64; the file's column is text that is no number: the load job fails.
    // (local-bigquery turns 5 into a BOOL true, where BigQuery refuses it; text into INT64
    // fails on both.)
    let columns = vec![Column::new("id", WarehouseType::Int64)];
    sink.ensure_table(&table, &columns).await.unwrap();
    let text = vec![Column::new("id", WarehouseType::String)];
    let batch = RecordBatch::try_new(
        arrow_schema(&text),
        vec![Arc::new(StringArray::from(vec!["zwölf"]))],
    )
    .unwrap();
    let err = sink
        .load(
            &table,
            &text,
            &file("retry"),
            LoadMode::Append,
            futures::stream::iter(vec![Ok(batch)]).boxed(),
        )
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "retry.csv: load job {} into t failed:",
            job_id(&sink.config().job_id_prefix, "retry", 1)
        )),
        "{message}"
    );
    assert!(!err.is_transient(), "{message}");
    assert_eq!(sink.was_loaded("retry").await.unwrap(), None);

    let receipt = sink
        .load(
            &table,
            &columns,
            &file("retry"),
            LoadMode::Append,
            ints(&columns, [5, 6]),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 2);
    assert_eq!(
        sink.was_loaded("retry").await.unwrap().map(|r| r.rows),
        Some(2)
    );
    assert_eq!(sink.count_rows(&table).await.unwrap(), 2);
}

#[tokio::test]
async fn bigquery_uploads_a_large_file_in_chunks() {
    let mut c = config();
    c.chunk_size = 256 * 1024; // the protocol's smallest chunk: many chunks, few rows
    let sink = BigQuerySink::new(c).unwrap();
    let table = TableName::parse("big").unwrap();
    let columns = vec![
        Column::new("id", WarehouseType::Int64),
        Column::new("note", WarehouseType::String),
    ];
    sink.ensure_table(&table, &columns).await.unwrap();
    let batches: Vec<Result<RecordBatch, sluice_core::Error>> = (0..40)
        .map(|b| {
            let ids: Vec<i64> = (b * 10_000..(b + 1) * 10_000).collect();
            let notes: Vec<String> = ids.iter().map(|i| format!("zeile {i} — ünïcode")).collect();
            Ok(RecordBatch::try_new(
                arrow_schema(&columns),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(notes)),
                ],
            )
            .unwrap())
        })
        .collect();
    // About 2 MB of Parquet in row groups of about a chunk, sent while rows still come.
    let receipt = sink
        .load(
            &table,
            &columns,
            &file("big"),
            LoadMode::Append,
            futures::stream::iter(batches).boxed(),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 400_000);
    let job = crate::bigquery_uploads::job(sink.config(), "big").await;
    let sent: u64 = job
        .pointer("/statistics/load/inputFileBytes")
        .and_then(|v| v.as_str()?.parse().ok())
        .unwrap_or_else(|| panic!("{job}"));
    assert!(sent > 4 * 256 * 1024, "{sent} bytes: more than four chunks");
    let rows = sink
        .query(&format!(
            "SELECT COUNT(*), SUM(id), COUNT(DISTINCT note) FROM `{}.{}.big`",
            sink.config().project,
            sink.config().dataset
        ))
        .await
        .unwrap();
    assert_eq!(rows[0][0].as_str(), Some("400000"));
    assert_eq!(rows[0][1].as_str(), Some("79999800000"));
    assert_eq!(rows[0][2].as_str(), Some("400000"));
}

#[tokio::test]
async fn bigquery_check_names_an_unreachable_endpoint() {
    assert!(bigquery().check().await.is_ok());
    let mut c = config();
    c.endpoint = "http://127.0.0.1:9".into();
    let err = BigQuerySink::new(c).unwrap().check().await.unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("bigquery:test-proj.it_"), "{message}");
    assert!(
        message.contains("listing datasets of project test-proj"),
        "{message}"
    );
    assert!(
        message.contains("cannot reach the API (check the endpoint and the network)"),
        "{message}"
    );
    assert!(
        err.is_transient(),
        "a refused connection may pass: {message}"
    );
}
