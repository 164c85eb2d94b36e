//! ORC files written by pyarrow (the Apache ORC C++ library; `testdata/orc/make.py`), read
//! as sluice reads them.

use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType};

use crate::format::testing::{arrays_as_json, list_text, load, read_as, store};
use crate::schema::WarehouseType::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/orc");

#[tokio::test]
async fn types_map_to_the_warehouses_and_values_cross_the_bridge() {
    let store = store(Path::new(FIXTURES));
    let file = store.head("typed.orc").await.unwrap();
    let (detected, batches) = load(&store, &file).await.unwrap();
    let types: Vec<_> = detected
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.bigquery_type))
        .collect();
    assert_eq!(
        types,
        vec![
            ("id", Int64),
            ("small", Int64),
            ("name", String),
            ("amount", Numeric),
            ("day", Date),
            ("at", Timestamp),
            ("flag", Bool),
            ("ratio", Float64),
            ("raw", Bytes),
            ("tags", String),
            ("address", Json),
        ]
    );
    assert_eq!(
        (detected.total_rows, detected.total_rows_estimated),
        (3, false)
    );
    assert_eq!(detected.columns[2].sample_values, vec!["ann", "bob"]);
    assert_eq!(
        detected.columns[9].column_type().to_string(),
        "ARRAY<STRING>"
    );

    let b = &batches[0];
    let col = |name: &str| b.column(b.schema().index_of(name).unwrap()).clone();
    assert_eq!(col("id").as_primitive::<Int64Type>().values(), &[1, 2, 3]);
    assert_eq!(col("small").as_primitive::<Int64Type>().value(1), -2);
    assert!(col("name").is_null(2));
    let amount = col("amount");
    assert_eq!(
        amount.as_primitive::<Decimal128Type>().value(0),
        1_234_560_000_000
    );
    assert_eq!(col("day").as_primitive::<Date32Type>().value(1), 10_956);
    assert_eq!(
        col("at")
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        1_732_005_000_123_456
    );
    assert_eq!(col("raw").as_binary::<i32>().value(0), &[0x00, 0xff]);
    assert_eq!(list_text(&col("tags"), 0), ["a", "b"]);
    assert_eq!(
        col("address").as_string::<i32>().value(0),
        r#"{"city":"Oslo","zip":150}"#
    );
    assert!(col("address").is_null(2));

    let batches = read_as(&store, &file, &arrays_as_json(&detected))
        .await
        .unwrap();
    let tags = batches[0].column(9).as_string::<i32>().value(0).to_string();
    assert_eq!(tags, r#"["a","b"]"#);
}

#[tokio::test]
async fn every_codec_reads_every_row() {
    let store = store(Path::new(FIXTURES));
    for codec in ["uncompressed", "zlib", "snappy", "zstd", "lz4"] {
        let file = store.head(&format!("codec_{codec}.orc")).await.unwrap();
        let (detected, batches) = load(&store, &file).await.unwrap();
        assert_eq!(detected.total_rows, 5000, "{codec}");
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, (0..5000).collect::<Vec<i64>>(), "{codec}");
    }
}

#[tokio::test]
async fn cut_short_and_corrupt_files_fail_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(Path::new(FIXTURES).join("codec_zlib.orc")).unwrap();
    let store = store(dir.path());
    std::fs::write(dir.path().join("cut.orc"), &good[..good.len() / 2]).unwrap();
    let file = store.head("cut.orc").await.unwrap();
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(err.starts_with("cut.orc: "), "{err}");

    let mut bad = good.clone();
    for b in &mut bad[3..200] {
        *b = !*b;
    }
    std::fs::write(dir.path().join("bad.orc"), &bad).unwrap();
    let file = store.head("bad.orc").await.unwrap();
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(err.starts_with("bad.orc: "), "{err}");

    std::fs::write(dir.path().join("not.orc"), b"id,name\n1,ann\n").unwrap();
    let file = store.head("not.orc").await.unwrap();
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(err.contains("cannot read the ORC footer"), "{err}");
}
