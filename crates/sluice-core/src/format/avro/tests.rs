//! Avro files written by fastavro (`testdata/avro/make.py`), read as sluice reads them.

use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};

use crate::format::FormatOptions;
use crate::format::testing::{arrays_as_json, list_text, load, read_as, read_error, store, typed};
use crate::schema::Column;
use crate::schema::WarehouseType::*;
use crate::storage::{FileEntry, Store};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/avro");

async fn fixture(name: &str) -> (Store, FileEntry) {
    let store = store(Path::new(FIXTURES));
    let file = store.head(name).await.unwrap();
    (store, file)
}

#[tokio::test]
async fn logical_types_and_nested_values_map_to_the_warehouses_types() {
    let (store, file) = fixture("logical.avro").await;
    let (detected, batches) = load(&store, &file).await.unwrap();
    let types = typed(&detected);
    assert_eq!(
        types,
        vec![
            ("id", Int64, false),
            ("name", String, false),
            ("note", String, true),
            ("amount", Numeric, false),
            ("day", Date, false),
            ("at_ms", Timestamp, false),
            ("at_us", Timestamp, false),
            ("uid", String, false),
            ("flag", Bool, false),
            ("ratio", Float64, false),
            ("small", Float64, false),
            ("raw", Bytes, false),
            ("kind", String, false),
            ("tags", String, false),
            ("attrs", Json, false),
            ("address", Json, false),
            ("choice", Json, false),
        ]
    );
    assert_eq!(
        (detected.total_rows, detected.total_rows_estimated),
        (2, false)
    );
    // An array of strings is an array column; a map, a record and a union are JSON.
    assert_eq!(
        detected.columns[13].column_type().to_string(),
        "ARRAY<STRING>"
    );
    assert_eq!(detected.columns[14].column_type().to_string(), "JSON");
    let uid = &detected.columns[7];
    assert_eq!(uid.source_type, "uuid");
    assert_eq!(uid.sample_values[0], "12345678-1234-5678-1234-567812345678");

    let b = &batches[0];
    let col = |name: &str| b.column(b.schema().index_of(name).unwrap()).clone();
    assert_eq!(col("id").as_primitive::<Int64Type>().values(), &[1, 2]);
    assert!(col("note").is_null(0));
    assert_eq!(col("note").as_string::<i32>().value(1), "rush");
    // NUMERIC(38, 9): 1234.56 and -0.05.
    let amount = col("amount");
    let amount = amount.as_primitive::<Decimal128Type>();
    assert_eq!(
        (amount.value(0), amount.value(1)),
        (1_234_560_000_000, -50_000_000)
    );
    assert_eq!(
        col("day").as_primitive::<Date32Type>().value(0),
        chrono::NaiveDate::from_ymd_opt(2024, 11, 19)
            .unwrap()
            .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days() as i32
    );
    let at = |name: &str, i: usize| {
        col(name)
            .as_primitive::<TimestampMicrosecondType>()
            .value(i)
    };
    assert_eq!(at("at_ms", 0), 1_732_005_000_123_000);
    assert_eq!(at("at_us", 0), 1_732_005_000_123_456);
    assert_eq!(at("at_us", 1), 946_684_799_000_001);
    assert_eq!(
        col("uid").as_string::<i32>().value(1),
        "00000000-0000-0000-0000-000000000001"
    );
    assert_eq!(col("small").as_primitive::<Float64Type>().value(0), 1.5);
    assert_eq!(col("raw").as_binary::<i32>().value(0), &[0x00, 0xff]);
    assert_eq!(col("kind").as_string::<i32>().value(1), "PAID");
    assert_eq!(list_text(&col("tags"), 0), ["a", "b"]);
    assert_eq!(col("attrs").as_string::<i32>().value(0), r#"{"x":1}"#);
    assert_eq!(
        col("address").as_string::<i32>().value(0),
        r#"{"city":"Oslo","zip":150}"#
    );
    let choice = col("choice");
    let choice = choice.as_string::<i32>();
    assert_eq!((choice.value(0), choice.value(1)), ("7", "\"seven\""));

    // A job that made the array JSON loads each array as its JSON text.
    let batches = read_as(&store, &file, &arrays_as_json(&detected))
        .await
        .unwrap();
    let tags = batches[0]
        .column(13)
        .as_string::<i32>()
        .value(0)
        .to_string();
    assert_eq!(tags, r#"["a","b"]"#);
}

#[tokio::test]
async fn every_codec_reads_every_block() {
    for codec in ["null", "deflate", "snappy", "zstandard", "bzip2", "xz"] {
        let (store, file) = fixture(&format!("codec_{codec}.avro")).await;
        let (detected, batches) = load(&store, &file).await.unwrap();
        assert_eq!(detected.total_rows, 3000, "{codec}");
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, (0..3000).collect::<Vec<i64>>(), "{codec}");
        assert_eq!(
            batches[0].column(1).as_string::<i32>().value(1),
            "name 856",
            "{codec}"
        );
    }
}

#[tokio::test]
async fn cut_short_and_corrupt_files_fail_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(Path::new(FIXTURES).join("codec_deflate.avro")).unwrap();
    let store = store(dir.path());
    let put = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    };

    put("cut.avro", &good[..good.len() - 100]);
    let file = store.head("cut.avro").await.unwrap();
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.starts_with("cut.avro: ") && err.contains("the file ends inside block"),
        "{err}"
    );
    // Its schema and known blocks still read as a sample would, but a load of the whole
    // file refuses it too.
    let columns = vec![Column::new("id", Int64), Column::new("name", String)];
    let _options = FormatOptions::for_file(None, "cut.avro").unwrap();
    let err = read_error(&store, &file, &columns).await;
    assert!(err.contains("the file ends inside block"), "{err}");

    let mut bad = good.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 40] {
        *b = !*b;
    }
    put("bad.avro", &bad);
    let file = store.head("bad.avro").await.unwrap();
    let err = read_error(&store, &file, &columns).await;
    assert!(err.starts_with("bad.avro: "), "{err}");

    put("not.avro", b"id,name\n1,ann\n");
    let file = store.head("not.avro").await.unwrap();
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(err.contains("not a valid Avro file"), "{err}");
}
