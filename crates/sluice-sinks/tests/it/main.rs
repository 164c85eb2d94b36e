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

#[test]
fn duckdb_inserts_a_file_of_many_batches_on_its_threads_every_row_once() {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use sluice_core::names::TableName;
    use sluice_core::schema::arrow_schema;
    use sluice_sinks::{Load, LoadMode, Part, Sink};

    let dir = tempfile::tempdir().unwrap();
    let sink = DuckDbSink::open(&dir.path().join("w.duckdb")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let table = TableName::parse("many").unwrap();
    let (columns, _) = suite::ints(0);
    // 40 batches of 10,000 rows, cut by the feed into chunks of 2,048 across threads.
    let batches = |from: i64| -> Vec<_> {
        (0..40)
            .map(|b| {
                let start = from + b * 10_000;
                Ok(RecordBatch::try_new(
                    arrow_schema(&columns),
                    vec![Arc::new(Int64Array::from_iter_values(
                        start..start + 10_000,
                    ))],
                )
                .unwrap())
            })
            .collect()
    };
    let part = |path: &str, batches| Part {
        file_path: path.into(),
        file_version: "v1".into(),
        replace_rows: false,
        batches: suite::stream(batches),
        rejects: None,
        clear_rejected: false,
    };
    let load = |id: &str, parts| Load {
        load_id: id.into(),
        mode: LoadMode::Append,
        parts,
        dedup: None,
    };
    rt.block_on(async {
        sink.ensure_table(&table, &columns).await.unwrap();
        let receipt = sink
            .load_parts(
                &table,
                &columns,
                load(
                    "big",
                    vec![
                        part("a.csv", batches(0)),
                        part("empty.csv", vec![]),
                        part("b.csv", batches(400_000)),
                    ],
                ),
            )
            .await
            .unwrap();
        assert_eq!(receipt.parts, vec![400_000, 0, 400_000]);
        // A batch whose columns are not the first's fails the file: nothing of it stays.
        let mut odd = batches(1_000_000);
        odd.insert(
            3,
            Ok(
                RecordBatch::try_from_iter([("id", Arc::new(StringArray::from(vec!["x"])) as _)])
                    .unwrap(),
            ),
        );
        let err = sink
            .load_parts(&table, &columns, load("odd", vec![part("odd.csv", odd)]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("odd.csv"), "{err}");
        assert_eq!(sink.was_loaded("odd").await.unwrap(), None);
    });
    drop(sink);
    let conn = duckdb::Connection::open(dir.path().join("w.duckdb")).unwrap();
    let (rows, distinct, sum): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT id), sum(id)::BIGINT FROM many",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (rows, distinct, sum),
        (800_000, 800_000, 799_999 * 800_000 / 2)
    );
}
