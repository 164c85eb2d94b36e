//! Deduplication by key on every sink: within a part (the first or last of a key), against
//! the table's rows (kept, or replaced), and the part's count is the rows it added.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use sluice_core::names::TableName;
use sluice_core::schema::{Column, WarehouseType, arrow_schema, lineage};
use sluice_sinks::dedup::{Dedup, Keep};
use sluice_sinks::{BuiltSink, Load, LoadMode, Part};

use crate::suite::stream;

fn columns() -> Vec<Column> {
    let mut c = vec![
        Column::new("id", WarehouseType::Int64),
        Column::new("v", WarehouseType::String),
    ];
    c.extend(lineage::columns());
    c
}

fn part(file: &str, rows: &[(i64, &str)]) -> Part {
    let base = &columns()[..2];
    let batch = RecordBatch::try_new(
        arrow_schema(base),
        vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let batch = lineage::Stamp::new(file, chrono::Utc::now())
        .apply(&batch)
        .unwrap();
    Part {
        file_path: file.into(),
        file_version: "v1".into(),
        replace_rows: false,
        batches: stream(vec![Ok(batch)]),
        rejects: None,
        clear_rejected: false,
    }
}

async fn values(sink: &dyn BuiltSink, table: &TableName) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for b in sink.preview(table, 100).await.unwrap() {
        let id = arrow::compute::cast(
            b.column(b.schema().index_of("id").unwrap()),
            &arrow::datatypes::DataType::Int64,
        )
        .unwrap();
        let v = arrow::compute::cast(
            b.column(b.schema().index_of("v").unwrap()),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        use arrow::array::AsArray;
        for r in 0..b.num_rows() {
            out.push((
                id.as_primitive::<arrow::datatypes::Int64Type>().value(r),
                v.as_string::<i32>().value(r).to_string(),
            ));
        }
    }
    out.sort();
    out
}

pub async fn rows_are_deduplicated_by_key_within_and_across_loads(sink: &dyn BuiltSink) {
    let table = TableName::parse("dd").unwrap();
    let columns = columns();
    sink.ensure_table(&table, &columns).await.unwrap();
    let load = |id: &str, keep, parts| Load {
        load_id: id.into(),
        mode: LoadMode::Append,
        parts,
        dedup: Some(Dedup {
            key: vec!["id".into()],
            keep,
        }),
    };
    let r = sink
        .load_parts(
            &table,
            &columns,
            load(
                "d1",
                Keep::First,
                vec![part(
                    "a.csv",
                    &[(1, "a1"), (2, "a2"), (2, "a2b"), (3, "a3")],
                )],
            ),
        )
        .await
        .unwrap();
    assert_eq!((r.rows, r.parts.clone()), (3, vec![3]));
    // A second file: id 3 is loaded already and stays; id 4 is new.
    let r = sink
        .load_parts(
            &table,
            &columns,
            load(
                "d2",
                Keep::First,
                vec![part("b.csv", &[(3, "b3"), (4, "b4")])],
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.rows, 1);
    assert_eq!(
        values(sink, &table).await,
        vec![
            (1, "a1".into()),
            (2, "a2".into()),
            (3, "a3".into()),
            (4, "b4".into())
        ]
    );
    // Keeping the last: the file's last row of a key replaces the table's.
    let r = sink
        .load_parts(
            &table,
            &columns,
            load(
                "d3",
                Keep::Last,
                vec![part("c.csv", &[(1, "c1"), (5, "c5"), (1, "c1b")])],
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.rows, 2);
    assert_eq!(
        values(sink, &table).await,
        vec![
            (1, "c1b".into()),
            (2, "a2".into()),
            (3, "a3".into()),
            (4, "b4".into()),
            (5, "c5".into())
        ]
    );
    assert!(sink.was_loaded("d3").await.unwrap().is_some());
}
