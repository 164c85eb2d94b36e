//! Rejected rows on every sink: written to `<table>_rejected` in the same transaction as
//! the file's good rows and its marker, nothing of either when the file fails, and a
//! replayed file's rejected rows replaced by those that fail again.

use sluice_core::names::TableName;
use sluice_core::schema::lineage;
use sluice_sinks::quarantine::{self, Rejected, Rejects};
use sluice_sinks::{BuiltSink, Load, LoadMode, Part};

use crate::suite::{ints, stamped, stream};

fn rejected(record: u64) -> Rejected {
    Rejected {
        record,
        line: Some(record + 1),
        column: Some("id".into()),
        raw: format!(r#"{{"id":"x{record}"}}"#),
        rule: None,
        error: format!("'x{record}' is not a valid INT64"),
    }
}

fn part(file: &str, ids: &[i64], rejects: &[u64], clear: bool, fail: bool) -> Part {
    let r = Rejects::new(Some(7));
    for record in rejects {
        r.push(rejected(*record));
    }
    let mut batches = vec![Ok(stamped(file, ids))];
    if fail {
        batches.push(Err(sluice_core::Error::parse(file, "bad row")));
    }
    Part {
        file_path: file.into(),
        file_version: "v1".into(),
        replace_rows: false,
        batches: stream(batches),
        rejects: Some(r),
        clear_rejected: clear,
    }
}

/// The quarantine table's `(file, record, line)` rows, sorted.
async fn quarantined(sink: &dyn BuiltSink, table: &TableName) -> Vec<(String, i64, i64)> {
    let q = quarantine::table_of(table);
    if !sink.table_exists(&q).await.unwrap() {
        return Vec::new();
    }
    let back = sink.preview(&q, 1000).await.unwrap();
    let mut rows = Vec::new();
    for b in &back {
        let col = |name: &str| {
            arrow::compute::cast(
                b.column(b.schema().index_of(name).unwrap()),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap()
        };
        let (file, record, line) = (col("file_path"), col("record_number"), col("line_number"));
        use arrow::array::AsArray;
        for r in 0..b.num_rows() {
            rows.push((
                file.as_string::<i32>().value(r).to_string(),
                record.as_string::<i32>().value(r).parse().unwrap(),
                line.as_string::<i32>().value(r).parse().unwrap(),
            ));
        }
    }
    rows.sort();
    rows
}

pub async fn rejected_rows_commit_with_the_file_and_only_with_it(sink: &dyn BuiltSink) {
    let table = TableName::parse("q").unwrap();
    let (mut columns, _) = ints(0);
    columns.extend(lineage::columns());
    sink.ensure_table(&table, &columns).await.unwrap();
    let load = |id: &str, parts| Load {
        load_id: id.into(),
        mode: LoadMode::Append,
        parts,
        dedup: None,
    };
    let receipt = sink
        .load_parts(
            &table,
            &columns,
            load(
                "q1",
                vec![
                    part("a.csv", &[1, 2, 4], &[3, 5], false, false),
                    part("b.csv", &[6], &[], false, false),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 4);
    assert_eq!(sink.count_rows(&table).await.unwrap(), 4);
    assert_eq!(
        quarantined(sink, &table).await,
        vec![("a.csv".into(), 3, 4), ("a.csv".into(), 5, 6)]
    );

    // A file that fails part way: neither its rows nor its rejected rows, nor the marker.
    assert!(
        sink.load_parts(
            &table,
            &columns,
            load("q2", vec![part("c.csv", &[7], &[2], false, true)])
        )
        .await
        .is_err()
    );
    assert_eq!(sink.was_loaded("q2").await.unwrap(), None);
    assert_eq!(sink.count_rows(&table).await.unwrap(), 4);
    assert_eq!(quarantined(sink, &table).await.len(), 2);

    // a.csv's rejected rows replayed: one loads, the other fails again and stays.
    sink.load_parts(
        &table,
        &columns,
        load("q3", vec![part("a.csv", &[3], &[5], true, false)]),
    )
    .await
    .unwrap();
    assert_eq!(sink.count_rows(&table).await.unwrap(), 5);
    assert_eq!(
        quarantined(sink, &table).await,
        vec![("a.csv".into(), 5, 6)]
    );
}
