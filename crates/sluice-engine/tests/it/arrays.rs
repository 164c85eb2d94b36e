//! Arrays end to end: a TFRecord feature with several values a record is a REPEATED
//! column, loaded as a native array into DuckDB, PostgreSQL and BigQuery; a job may load
//! it as JSON text instead, and REPEATED is refused where the file holds no arrays.

use arrow::array::{Array, AsArray};
use serde_json::{Value, json};
use sluice_core::format::tfrecord::masked_crc;
use sluice_core::schema::{Mode, WarehouseType};
use sluice_sinks::SinkConfig;

use crate::Env;

/// A protocol buffer field: `tag` with wire type 2 (length-delimited).
fn field(tag: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(tag << 3 | 2);
    varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A `tf.train.Example` of int64 features (`Int64List`, unpacked) and one bytes feature,
/// encoded by hand: a second implementation beside the reader's prost messages.
fn example(ints: &[(&str, &[i64])], text: &str) -> Vec<u8> {
    let mut map = Vec::new();
    let mut entry = |name: &str, feature: Vec<u8>| {
        let mut e = Vec::new();
        field(1, name.as_bytes(), &mut e);
        field(2, &feature, &mut e);
        field(1, &e, &mut map);
    };
    for (name, values) in ints {
        let mut list = Vec::new();
        for v in *values {
            list.push(1 << 3);
            varint(*v as u64, &mut list);
        }
        let mut feature = Vec::new();
        field(3, &list, &mut feature);
        entry(name, feature);
    }
    let mut list = Vec::new();
    field(1, text.as_bytes(), &mut list);
    let mut feature = Vec::new();
    field(1, &list, &mut feature);
    entry("word", feature);
    let mut out = Vec::new();
    field(1, &map, &mut out);
    out
}

/// Three records: `ids` with two values, none, and one; `label` one value each.
fn tfrecord() -> Vec<u8> {
    let records = [
        example(&[("ids", &[7, -1]), ("label", &[1])], "a,\"b\""),
        example(&[("ids", &[]), ("label", &[0])], "c"),
        example(&[("ids", &[42]), ("label", &[1])], "d"),
    ];
    let mut out = Vec::new();
    for data in records {
        let len = (data.len() as u64).to_le_bytes();
        out.extend(len);
        out.extend(masked_crc(&len).to_le_bytes());
        out.extend(&data);
        out.extend(masked_crc(&data).to_le_bytes());
    }
    out
}

async fn load(env: &Env, destination: SinkConfig) {
    env.write_bytes("train.tfrecord", &tfrecord(), 1);
    let mut req = env.request("t", "*.tfrecord");
    req.table_name = Some("t".into());
    req.destination = destination;
    let job = env.engine.create_job(req).await.unwrap();
    let ids = job.schema.iter().find(|c| c.name == "ids").unwrap();
    assert_eq!((ids.ty, ids.mode), (WarehouseType::Int64, Mode::Repeated));
    let run = env.run_all("t").await;
    assert_eq!((run.files_loaded, run.rows_loaded), (1, 3), "{run:?}");
}

#[tokio::test]
async fn tfrecord_lists_are_duckdb_lists() {
    let env = Env::new().await;
    load(&env, SinkConfig::default()).await;
    let table = env.engine.job_table("t").await.unwrap();
    let job = env.engine.job("t").await.unwrap();
    let b = &table.preview(&job.table_name, 10).await.unwrap()[0];
    let i = b.schema().index_of("ids").unwrap();
    let ids = b.column(i).as_list::<i32>();
    let label = b.column(b.schema().index_of("label").unwrap()).clone();
    let label = label.as_primitive::<arrow::datatypes::Int64Type>();
    let mut rows: Vec<(i64, Vec<i64>)> = (0..b.num_rows())
        .map(|r| {
            let v = ids.value(r);
            let v = v.as_primitive::<arrow::datatypes::Int64Type>();
            (label.value(r), v.values().to_vec())
        })
        .collect();
    rows.sort();
    assert_eq!(rows, vec![(0, vec![]), (1, vec![7, -1]), (1, vec![42])]);
    assert!(ids.is_valid(0) && ids.is_valid(1) && ids.is_valid(2));
}

#[tokio::test]
async fn tfrecord_lists_are_postgres_arrays() {
    let db = sluice_testkit::postgres::TestDb::new("arrays").await;
    let env = Env::new().await;
    load(
        &env,
        SinkConfig::Postgres(sluice_sinks::postgres::PostgresConfig {
            url: db.url_with_password("disable"),
        }),
    )
    .await;
    assert_eq!(
        db.text("SELECT pg_typeof(ids)::text FROM t LIMIT 1").await,
        "bigint[]"
    );
    assert_eq!(
        db.text("SELECT ids::text FROM t WHERE word = 'a,\"b\"'")
            .await,
        "{7,-1}"
    );
    assert_eq!(db.scalar("SELECT sum(ids[1])::bigint FROM t").await, 49);
    assert_eq!(
        db.scalar("SELECT cardinality(ids)::bigint FROM t WHERE word = 'c'")
            .await,
        0
    );
}

#[tokio::test]
async fn tfrecord_lists_are_bigquery_arrays() {
    let env = Env::new().await;
    let config = crate::formats::bigquery_config();
    env.engine
        .set_bigquery_endpoint(Some(config.endpoint.clone()))
        .unwrap();
    load(&env, SinkConfig::BigQuery(config.clone())).await;
    let sink = sluice_sinks::bigquery::BigQuerySink::new(config.clone()).unwrap();
    let rows = sink
        .query(&format!(
            "SELECT word, TO_JSON_STRING(ids), ARRAY_LENGTH(ids) FROM `{}.{}.t` ORDER BY word",
            config.project, config.dataset
        ))
        .await
        .unwrap();
    let lengths: Vec<Value> = rows.iter().map(|r| r[2].clone()).collect();
    assert_eq!(lengths, vec![json!("2"), json!("0"), json!("1")]);
    assert_eq!(rows[0][1], Value::String("[7,-1]".into()));
}

#[tokio::test]
async fn a_job_may_load_an_array_as_json_but_not_make_a_scalar_an_array() {
    let env = Env::new().await;
    env.write_bytes("train.tfrecord", &tfrecord(), 1);
    let detected = env
        .engine
        .detect("local", "train.tfrecord", None)
        .await
        .unwrap();
    let as_json: Vec<_> = detected
        .reviewed_columns()
        .into_iter()
        .map(|mut c| {
            if c.name == "ids" {
                (c.ty, c.mode) = (WarehouseType::Json, Mode::Nullable);
            }
            c
        })
        .collect();
    let mut req = env.request("t", "*.tfrecord");
    req.schema = Some(as_json);
    env.engine.create_job(req).await.unwrap();
    let run = env.run_all("t").await;
    assert_eq!(run.files_loaded, 1, "{run:?}");
    let table = env.engine.job_table("t").await.unwrap();
    let job = env.engine.job("t").await.unwrap();
    let b = &table.preview(&job.table_name, 10).await.unwrap()[0];
    let ids = b.column(b.schema().index_of("ids").unwrap()).clone();
    let mut texts: Vec<Option<String>> = (0..3)
        .map(|r| {
            ids.is_valid(r)
                .then(|| ids.as_string::<i32>().value(r).to_string())
        })
        .collect();
    texts.sort();
    // A record whose feature is empty has no value (NULL), as for any feature.
    assert_eq!(
        texts,
        vec![None, Some("[42]".to_string()), Some("[7,-1]".to_string())]
    );

    // A scalar made REPEATED, and an array made a scalar other than JSON: both refused.
    let mut scalar_as_array = detected.reviewed_columns();
    let label = scalar_as_array
        .iter_mut()
        .find(|c| c.name == "label")
        .unwrap();
    label.mode = Mode::Repeated;
    let mut req = env.request("u", "*.tfrecord");
    req.schema = Some(scalar_as_array);
    let err = env.engine.create_job(req).await.unwrap_err().to_string();
    assert!(
        err.contains("column label: REPEATED is for columns"),
        "{err}"
    );
    let mut array_as_scalar = detected.reviewed_columns();
    let ids = array_as_scalar
        .iter_mut()
        .find(|c| c.name == "ids")
        .unwrap();
    ids.mode = Mode::Nullable;
    let mut req = env.request("v", "*.tfrecord");
    req.schema = Some(array_as_scalar);
    let err = env.engine.create_job(req).await.unwrap_err().to_string();
    assert!(
        err.contains("column ids: the file holds an array of INT64"),
        "{err}"
    );
}
