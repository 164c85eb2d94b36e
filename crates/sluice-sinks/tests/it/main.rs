//! The sink conformance suite, run against every sink: DuckDB, embedded; PostgreSQL at
//! `SLUICE_TEST_POSTGRES_URL`, each test in a database of its own (`postgres`); BigQuery
//! at local-bigquery, `SLUICE_TEST_BIGQUERY_URL` (`bigquery`). `bash scripts/peers.sh
//! start` starts both servers.

mod bigquery;
mod postgres;
mod suite;

use sluice_sinks::duckdb::DuckDbSink;

fn duckdb() -> (tempfile::TempDir, DuckDbSink) {
    let dir = tempfile::tempdir().unwrap();
    let sink = DuckDbSink::open(&dir.path().join("nested/w.duckdb")).unwrap();
    (dir, sink)
}

#[tokio::test]
async fn duckdb_round_trips_every_type_with_nulls() {
    let (_d, sink) = duckdb();
    suite::round_trips_every_type_with_nulls(&sink).await;
}

#[tokio::test]
async fn duckdb_appends_and_replaces() {
    let (_d, sink) = duckdb();
    suite::appends_and_replaces(&sink).await;
}

#[tokio::test]
async fn duckdb_a_failed_load_leaves_nothing_behind() {
    let (_d, sink) = duckdb();
    suite::a_failed_load_leaves_nothing_behind(&sink).await;
}

#[tokio::test]
async fn duckdb_refuses_a_table_with_other_columns() {
    let (_d, sink) = duckdb();
    suite::refuses_a_table_with_other_columns(&sink, "BIGINT").await;
}

#[tokio::test]
async fn duckdb_schema_qualified_tables() {
    let (_d, sink) = duckdb();
    suite::schema_qualified_tables(&sink).await;
}

#[tokio::test]
async fn duckdb_required_columns_reject_nulls_atomically() {
    let (_d, sink) = duckdb();
    suite::required_columns_reject_nulls_atomically(&sink).await;
}

#[tokio::test]
async fn duckdb_text_with_delimiters_and_any_script_round_trips() {
    let (_d, sink) = duckdb();
    suite::text_with_delimiters_and_any_script_round_trips(&sink).await;
}

#[tokio::test]
async fn duckdb_numerics_keep_full_precision_and_int64_its_range() {
    let (_d, sink) = duckdb();
    suite::numerics_keep_full_precision_and_int64_its_range(&sink).await;
}

#[tokio::test]
async fn duckdb_was_loaded_answers_after_a_load_and_after_an_interrupted_one() {
    let (_d, sink) = duckdb();
    suite::was_loaded_answers_after_a_load_and_after_an_interrupted_one(&sink).await;
}

#[tokio::test]
async fn duckdb_previews_timestamps_as_utc_instants() {
    let (_d, sink) = duckdb();
    suite::reads_back_timestamps_as_utc_instants(&sink).await;
}

#[test]
fn duckdb_reads_back_timestamps_as_utc_instants() {
    // Checked through DuckDB itself: the instant, not the wall-clock text, is stored.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.duckdb");
    let sink = DuckDbSink::open(&path).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(suite::load_one_timestamp(
        &sink,
        "2024-11-19T10:00:00+02:00",
    ));
    drop(sink);
    let conn = duckdb::Connection::open(&path).unwrap();
    let epoch: i64 = conn
        .query_row("SELECT epoch_us(\"at\") FROM ts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(epoch, 1_732_003_200_000_000); // 2024-11-19T08:00:00Z
}
