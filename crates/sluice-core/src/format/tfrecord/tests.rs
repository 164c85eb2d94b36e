//! TFRecord files framed and encoded by hand here — protobuf bytes written field by field,
//! not by prost — then detected and read as sluice reads them.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};

use super::*;
use crate::format::FormatOptions;
use crate::format::testing::{
    arrays_as_json, list_text, load, put, read_as, read_error, store, typed,
};

/// A protobuf varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field.
fn field(tag: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push((tag << 3) | 2);
    varint(body.len() as u64, out);
    out.extend(body);
}

enum V<'a> {
    Ints(&'a [i64]),
    Floats(&'a [f32]),
    Bytes(&'a [&'a [u8]]),
}

/// A `tf.train.Example` of `features`, as its wire bytes.
fn example(features: &[(&str, V<'_>)]) -> Vec<u8> {
    let mut map = Vec::new();
    for (name, v) in features {
        let mut list = Vec::new();
        let (tag, _) = match v {
            V::Bytes(values) => {
                for b in *values {
                    field(1, b, &mut list);
                }
                (1, ())
            }
            V::Floats(values) => {
                let packed: Vec<u8> = values.iter().flat_map(|f| f.to_le_bytes()).collect();
                field(1, &packed, &mut list);
                (2, ())
            }
            V::Ints(values) => {
                let mut packed = Vec::new();
                for i in *values {
                    varint(*i as u64, &mut packed);
                }
                field(1, &packed, &mut list);
                (3, ())
            }
        };
        let mut feature = Vec::new();
        field(tag, &list, &mut feature);
        let mut entry = Vec::new();
        field(1, name.as_bytes(), &mut entry);
        field(2, &feature, &mut entry);
        field(1, &entry, &mut map);
    }
    let mut out = Vec::new();
    field(1, &map, &mut out);
    out
}

/// Records framed as TensorFlow's writer frames them.
fn tfrecord(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for data in records {
        let len = (data.len() as u64).to_le_bytes();
        out.extend(len);
        out.extend(masked_crc(&len).to_le_bytes());
        out.extend(data);
        out.extend(masked_crc(data).to_le_bytes());
    }
    out
}

fn records() -> Vec<Vec<u8>> {
    vec![
        example(&[
            ("label", V::Ints(&[1])),
            ("score", V::Floats(&[0.5])),
            ("text", V::Bytes(&[b"hello"])),
            ("embedding", V::Floats(&[0.25, -1.5])),
            ("raw", V::Bytes(&[&[0xff, 0x00, 0xfe]])),
        ]),
        example(&[
            ("label", V::Ints(&[-7])),
            ("score", V::Floats(&[2.0])),
            ("embedding", V::Floats(&[1.0])),
            ("raw", V::Bytes(&[b"ok"])),
        ]),
    ]
}

#[tokio::test]
async fn features_become_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let file = put(&store, dir.path(), "train.tfrecord", &tfrecord(&records())).await;
    let (detected, batches) = load(&store, &file).await.unwrap();
    let types = typed(&detected);
    assert_eq!(
        types,
        vec![
            ("embedding", WarehouseType::Float64, false),
            ("label", WarehouseType::Int64, false),
            ("raw", WarehouseType::Bytes, false),
            ("score", WarehouseType::Float64, false),
            ("text", WarehouseType::String, true),
        ]
    );
    assert_eq!(detected.total_rows, 2);
    assert!(!detected.total_rows_estimated);
    assert_eq!(detected.columns[1].sample_values, vec!["1", "-7"]);
    assert_eq!(
        detected.columns[0].column_type().to_string(),
        "ARRAY<FLOAT64>"
    );
    assert_eq!(
        detected.columns[0].source_type,
        "float_list (several values)"
    );

    let b = &batches[0];
    assert_eq!(b.num_rows(), 2);
    assert_eq!(list_text(b.column(0), 0), ["0.25", "-1.5"]);
    assert_eq!(list_text(b.column(0), 1), ["1.0"]);
    assert_eq!(b.column(1).as_primitive::<Int64Type>().values(), &[1, -7]);
    assert_eq!(b.column(2).as_binary::<i32>().value(0), &[0xff, 0x00, 0xfe]);
    assert_eq!(b.column(3).as_primitive::<Float64Type>().value(1), 2.0);
    assert_eq!(b.column(4).as_string::<i32>().value(0), "hello");
    assert!(b.column(4).is_null(1));

    // A job that made the array JSON loads each record's list as JSON text.
    let b = &read_as(&store, &file, &arrays_as_json(&detected))
        .await
        .unwrap()[0];
    assert_eq!(b.column(0).as_string::<i32>().value(0), "[0.25,-1.5]");
    assert_eq!(b.column(0).as_string::<i32>().value(1), "[1.0]");
}

#[tokio::test]
async fn a_gzipped_file_reads_like_the_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut gz = flate2_free_gzip(&tfrecord(&records()));
    let file = put(&store, dir.path(), "train.tfrecord.gz", &gz).await;
    let (detected, batches) = load(&store, &file).await.unwrap();
    assert_eq!(detected.columns.len(), 5);
    assert_eq!(batches[0].num_rows(), 2);
    // A cut in the compressed bytes is the codec's error, naming the file.
    gz.truncate(gz.len() - 10);
    let file = put(&store, dir.path(), "cut.tfrecord.gz", &gz).await;
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(err.starts_with("cut.tfrecord.gz"), "{err}");
}

/// Gzip as the system's gzip writes it.
fn flate2_free_gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip (scripts/test installs it)");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[tokio::test]
async fn corrupt_and_truncated_files_name_the_record_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let good = tfrecord(&records());
    let first_len = tfrecord(&records()[..1]).len();

    let mut corrupt = good.clone();
    corrupt[first_len + 20] ^= 0x01;
    let file = put(&store, dir.path(), "corrupt.tfrecord", &corrupt).await;
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "corrupt.tfrecord: record 1 at byte offset {first_len}: the data's checksum"
        )),
        "{err}"
    );

    let file = put(&store, dir.path(), "cut.tfrecord", &good[..good.len() - 3]).await;
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "record 1 at byte offset {first_len}: the file ends inside"
        )),
        "{err}"
    );

    // Framed correctly, but not an Example.
    let file = put(
        &store,
        dir.path(),
        "junk.tfrecord",
        &tfrecord(&[vec![0xff; 7]]),
    )
    .await;
    let err = load(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.contains("record 0 at byte offset 0 is not a tf.train.Example"),
        "{err}"
    );

    // A value the job's type cannot take names the record and column.
    let columns = vec![Column::new("embedding", WarehouseType::Float64)];
    let file = put(&store, dir.path(), "t.tfrecord", &good).await;
    let _options = FormatOptions::for_file(None, &file.path).unwrap();
    let err = read_error(&store, &file, &columns).await;
    assert!(
        err.starts_with(
            "t.tfrecord, column 'embedding': record 0 at byte offset 0: the feature holds 2 values"
        ),
        "{err}"
    );
}
