//! The sink conformance suite ([`suite::conformance!`]), run against every sink: DuckDB,
//! embedded; PostgreSQL at `SLUICE_TEST_POSTGRES_URL`, each test in a database of its own
//! (`postgres`); BigQuery at local-bigquery, `SLUICE_TEST_BIGQUERY_URL` (`bigquery`). The
//! servers are started by `sluice_testkit::peers`. Each sink's file adds what only a query
//! through that destination can show.

mod arrays;
mod bigquery;
mod bigquery_uploads;
mod dedup;
mod evolution;
mod postgres;
mod quarantine;
mod suite;

use sluice_sinks::duckdb::{DuckDbSink, duckdb_type};

async fn duckdb_fixture() -> suite::Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sink = DuckDbSink::open(&dir.path().join("nested/w.duckdb")).unwrap();
    suite::Fixture {
        sink: Box::new(sink),
        int64: duckdb_type(sluice_core::schema::WarehouseType::Int64),
        unread: &[],
        arrays_hold_nulls: true,
        widens_dates: true,
        guard: Box::new(dir),
    }
}

suite::conformance!(on_duckdb, crate::duckdb_fixture());

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
