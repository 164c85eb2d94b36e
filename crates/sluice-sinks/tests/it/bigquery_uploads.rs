//! What a BigQuery load uploads, as local-bigquery's jobs API reports it: Parquet where every
//! column has a Parquet type BigQuery reads as the column's type, newline-delimited JSON
//! where one does not (a JSON column); and the same values either way.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int64Array, Int64Builder, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondBuilder,
};
use serde_json::{Value, json};
use sluice_core::names::TableName;
use sluice_core::schema::{
    Column, Mode, NUMERIC_PRECISION, NUMERIC_SCALE, UTC, WarehouseType, arrow_schema,
};
use sluice_sinks::bigquery::{BigQueryConfig, BigQuerySink, job_id};
use sluice_sinks::{Inspect, LoadMode, Sink};

use crate::bigquery::{config, file};
use crate::suite::stream;

/// The types Parquet carries, one column each and one array column each, after a REQUIRED
/// key that orders the rows.
fn columns() -> Vec<Column> {
    use WarehouseType::*;
    let mut key = Column::new("k", Int64);
    key.mode = Mode::Required;
    let scalars = [
        Int64, Float64, Numeric, Bool, Date, Timestamp, String, Bytes,
    ];
    let mut columns = vec![key];
    columns.extend(
        scalars
            .iter()
            .map(|t| Column::new(format!("c_{}", t.as_str().to_lowercase()), *t)),
    );
    columns.extend(scalars.iter().map(|t| {
        let mut c = Column::new(format!("a_{}", t.as_str().to_lowercase()), *t);
        c.mode = Mode::Repeated;
        c
    }));
    columns
}

const MAX_NUMERIC: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;
/// 9999-12-31T23:59:59.999999Z and 0001-01-01T00:00:00Z, BigQuery's range.
const MAX_MICROS: i64 = 253_402_300_799_999_999;
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 9999-12-31 and 0001-01-01.
const MAX_DAY: i32 = 2_932_896;
const MIN_DAY: i32 = -719_162;

/// Five rows: the largest values, the smallest, zeros and specials, more specials, NULLs.
/// Each array column holds two values, none, one, one, and NULL.
fn batch(columns: &[Column]) -> RecordBatch {
    type Of<T> = [Option<T>; 5];
    let ints: Of<i64> = [Some(i64::MAX), Some(i64::MIN), Some(0), Some(-7), None];
    let floats: Of<f64> = [
        Some(0.1),
        Some(-1.5e300),
        Some(f64::NAN),
        Some(f64::NEG_INFINITY),
        None,
    ];
    let more_floats: Of<f64> = [
        Some(f64::INFINITY),
        Some(5e-324),
        Some(-0.0),
        Some(2.5),
        None,
    ];
    let numerics: Of<i128> = [
        Some(MAX_NUMERIC),
        Some(-MAX_NUMERIC),
        Some(0),
        Some(-1_500_000_001),
        None,
    ];
    let bools: Of<bool> = [Some(true), Some(false), Some(false), Some(true), None];
    let days: Of<i32> = [Some(MAX_DAY), Some(MIN_DAY), Some(0), Some(20_046), None];
    let micros: Of<i64> = [
        Some(MAX_MICROS),
        Some(MIN_MICROS),
        Some(0),
        Some(1_732_003_200_000_001),
        None,
    ];
    let texts: Of<&str> = [
        Some("a \"quoted\", {braced} \\ value\ttab\nline ✓ 日本"),
        Some(""),
        Some("NULL"),
        Some("  padded  "),
        None,
    ];
    let bytes: Of<&[u8]> = [
        Some(b"\x00\xff\n"),
        Some(b""),
        Some(b"AP8="),
        Some(b"ok"),
        None,
    ];
    // Row r of an array column: values r and r+1 of the list, then none, then one, one, NULL.
    fn list<B, T: Copy>(mut b: ListBuilder<B>, of: &[Option<T>; 5], push: fn(&mut B, T)) -> ArrayRef
    where
        B: arrow::array::ArrayBuilder,
    {
        let shapes: [Option<&[usize]>; 5] =
            [Some(&[0, 1]), Some(&[]), Some(&[2]), Some(&[3]), None];
        for shape in shapes {
            match shape {
                Some(items) => {
                    for &i in items {
                        push(b.values(), of[i].expect("array values are not NULL"));
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }
    let decimal = || {
        Decimal128Builder::new()
            .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
            .unwrap()
    };
    let stamp = || TimestampMicrosecondBuilder::new().with_timezone(UTC);
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| -> ArrayRef {
            use WarehouseType::*;
            if c.name == "k" {
                return Arc::new(Int64Array::from_iter_values(1..=5));
            }
            if c.mode == Mode::Repeated {
                return match c.ty {
                    Int64 => list(ListBuilder::new(Int64Builder::new()), &ints, |b, v| {
                        b.append_value(v)
                    }),
                    Float64 => list(
                        ListBuilder::new(Float64Builder::new()),
                        &more_floats,
                        |b, v| b.append_value(v),
                    ),
                    Numeric => list(ListBuilder::new(decimal()), &numerics, |b, v| {
                        b.append_value(v)
                    }),
                    Bool => list(ListBuilder::new(BooleanBuilder::new()), &bools, |b, v| {
                        b.append_value(v)
                    }),
                    Date => list(ListBuilder::new(Date32Builder::new()), &days, |b, v| {
                        b.append_value(v)
                    }),
                    Timestamp => list(ListBuilder::new(stamp()), &micros, |b, v| b.append_value(v)),
                    String => list(ListBuilder::new(StringBuilder::new()), &texts, |b, v| {
                        b.append_value(v)
                    }),
                    Bytes => list(ListBuilder::new(BinaryBuilder::new()), &bytes, |b, v| {
                        b.append_value(v)
                    }),
                    Json => unreachable!("no JSON arrays"),
                };
            }
            match c.ty {
                Int64 => Arc::new(Int64Array::from(ints.to_vec())),
                Float64 => Arc::new(arrow::array::Float64Array::from(floats.to_vec())),
                Numeric => Arc::new(
                    arrow::array::Decimal128Array::from(numerics.to_vec())
                        .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                        .unwrap(),
                ),
                Bool => Arc::new(arrow::array::BooleanArray::from(bools.to_vec())),
                Date => Arc::new(arrow::array::Date32Array::from(days.to_vec())),
                Timestamp => Arc::new(
                    arrow::array::TimestampMicrosecondArray::from(micros.to_vec())
                        .with_timezone(UTC),
                ),
                String => Arc::new(StringArray::from(texts.to_vec())),
                Bytes => Arc::new(arrow::array::BinaryArray::from(bytes.to_vec())),
                Json => Arc::new(StringArray::from(vec![
                    Some(" {\"a\": [1, 2]} "),
                    Some("[]"),
                    Some("null"),
                    Some("\"text\""),
                    None,
                ])),
            }
        })
        .collect();
    RecordBatch::try_new(arrow_schema(columns), arrays).unwrap()
}

/// A load job as local-bigquery's `jobs.get` reports it.
pub(crate) async fn job(config: &BigQueryConfig, load_id: &str) -> Value {
    let id = job_id(&config.job_id_prefix, load_id, 1);
    let url = format!(
        "{}/bigquery/v2/projects/{}/jobs/{id}",
        config.endpoint, config.project
    );
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Loads `columns` (and the rows of [`batch`]) into a new table `name` as load `load_id`.
async fn load_into(sink: &BigQuerySink, name: &str, columns: &[Column], load_id: &str) {
    let table = TableName::parse(name).unwrap();
    sink.ensure_table(&table, columns).await.unwrap();
    let receipt = sink
        .load(
            &table,
            columns,
            &file(load_id),
            LoadMode::Append,
            stream(vec![Ok(batch(columns))]),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 5);
}

/// Every column but the BYTES ones, in order of the key.
async fn values(sink: &BigQuerySink, table: &str, columns: &[Column]) -> Vec<Vec<Value>> {
    let names: Vec<String> = columns
        .iter()
        .filter(|c| c.ty != WarehouseType::Bytes && c.ty != WarehouseType::Json)
        .map(|c| format!("`{}`", c.name))
        .collect();
    let c = sink.config();
    sink.query(&format!(
        "SELECT {} FROM `{}.{}.{table}` ORDER BY k",
        names.join(", "),
        c.project,
        c.dataset
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn bigquery_uploads_parquet_with_the_values_an_ndjson_upload_loads() {
    let config = config();
    let sink = BigQuerySink::new(config.clone()).unwrap();
    let typed = columns();
    load_into(&sink, "parquet", &typed, "pq").await;
    // The same rows beside a JSON column, which no Parquet type loads as: NDJSON.
    let mut with_json = typed.clone();
    with_json.push(Column::new("j", WarehouseType::Json));
    load_into(&sink, "ndjson", &with_json, "nd").await;

    let pq = job(&config, "pq").await;
    assert_eq!(
        pq.pointer("/configuration/load/sourceFormat"),
        Some(&json!("PARQUET")),
        "{pq}"
    );
    assert_eq!(
        pq.pointer("/configuration/load/parquetOptions/enableListInference"),
        Some(&json!(true)),
        "{pq}"
    );
    let nd = job(&config, "nd").await;
    assert_eq!(
        nd.pointer("/configuration/load/sourceFormat"),
        Some(&json!("NEWLINE_DELIMITED_JSON")),
        "{nd}"
    );

    let from_parquet = values(&sink, "parquet", &typed).await;
    assert_eq!(from_parquet.len(), 5);
    assert_eq!(from_parquet, values(&sink, "ndjson", &typed).await);

    // And the values are the batch's (TIMESTAMPs come back as microseconds).
    let row = |r: usize, name: &str| {
        let i = typed
            .iter()
            .filter(|c| c.ty != WarehouseType::Bytes)
            .position(|c| c.name == name)
            .unwrap();
        from_parquet[r][i].clone()
    };
    assert_eq!(row(0, "c_int64"), json!(i64::MAX.to_string()));
    assert_eq!(row(1, "c_int64"), json!(i64::MIN.to_string()));
    assert_eq!(
        row(0, "c_numeric"),
        json!("99999999999999999999999999999.999999999")
    );
    assert_eq!(row(3, "c_numeric"), json!("-1.500000001"));
    assert_eq!(row(0, "c_timestamp"), json!(MAX_MICROS.to_string()));
    assert_eq!(row(1, "c_timestamp"), json!(MIN_MICROS.to_string()));
    assert_eq!(row(0, "c_date"), json!("9999-12-31"));
    assert_eq!(row(1, "c_date"), json!("0001-01-01"));
    assert_eq!(
        row(0, "c_string"),
        json!("a \"quoted\", {braced} \\ value\ttab\nline ✓ 日本")
    );
    assert_eq!(row(2, "c_float64"), json!("NaN"));
    assert_eq!(row(4, "c_bool"), Value::Null);
    assert_eq!(
        row(0, "a_int64"),
        json!([{"v": i64::MAX.to_string()}, {"v": i64::MIN.to_string()}])
    );
    // An empty array and a NULL one both read back empty, as BigQuery has them.
    assert_eq!(row(1, "a_string"), json!([]));
    assert_eq!(row(4, "a_string"), json!([]));

    // BYTES: the Parquet upload's are the batch's bytes, as BigQuery reads base64 from
    // NDJSON (local-bigquery's NDJSON load keeps the base64 text itself; see `bigquery`).
    let c = sink.config();
    let got = sink
        .query(&format!(
            "SELECT c_bytes, a_bytes FROM `{}.{}.parquet` ORDER BY k",
            c.project, c.dataset
        ))
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![
            vec![json!("AP8K"), json!([{"v": "AP8K"}, {"v": ""}])],
            vec![json!(""), json!([])],
            vec![json!("QVA4PQ=="), json!([{"v": "QVA4PQ=="}])],
            vec![json!("b2s="), json!([{"v": "b2s="}])],
            vec![Value::Null, json!([])],
        ]
    );
}

#[tokio::test]
async fn bigquery_parquet_uploads_refuse_what_ndjson_refuses_and_start_no_job() {
    let config = config();
    let sink = BigQuerySink::new(config.clone()).unwrap();
    let table = TableName::parse("req").unwrap();
    let mut id = Column::new("id", WarehouseType::Int64);
    id.mode = Mode::Required;
    let columns = vec![id];
    sink.ensure_table(&table, &columns).await.unwrap();
    let good = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![Arc::new(Int64Array::from_iter_values(0..10))],
    )
    .unwrap();
    let bad = RecordBatch::try_new(
        arrow_schema(&columns),
        vec![Arc::new(Int64Array::from(vec![Some(1), None]))],
    )
    .unwrap();
    let err = sink
        .load(
            &table,
            &columns,
            &file("req"),
            LoadMode::Append,
            stream(vec![Ok(good), Ok(bad)]),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("req.csv: row 12: column id is REQUIRED but empty"),
        "{err}"
    );
    assert_eq!(sink.count_rows(&table).await.unwrap(), 0);
    let job = job(&config, "req").await;
    assert!(job.pointer("/error").is_some(), "no job: {job}");
}

#[tokio::test]
async fn bigquery_parquet_uploads_are_several_times_smaller_than_ndjson() {
    let config = config();
    let sink = BigQuerySink::new(config.clone()).unwrap();
    // Rows like a transactions file's: ids, amounts, codes, instants, text.
    let mut columns = vec![
        Column::new("id", WarehouseType::Int64),
        Column::new("amount", WarehouseType::Numeric),
        Column::new("currency", WarehouseType::String),
        Column::new("at", WarehouseType::Timestamp),
        Column::new("note", WarehouseType::String),
    ];
    let n = 50_000i64;
    let rows = |columns: &[Column]| {
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(
                arrow::array::Decimal128Array::from_iter_values(
                    (0..n).map(|i| i128::from(i * 7919 % 100_000) * 10_000_000),
                )
                .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                .unwrap(),
            ),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| ["EUR", "USD", "GBP"][i as usize % 3]),
            )),
            Arc::new(
                arrow::array::TimestampMicrosecondArray::from_iter_values(
                    (0..n).map(|i| 1_732_003_200_000_000 + i * 1_000_003),
                )
                .with_timezone(UTC),
            ),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("order {i}, paid")),
            )),
        ];
        if columns.len() > arrays.len() {
            arrays.push(Arc::new(StringArray::from_iter_values(
                (0..n).map(|_| "{}"),
            )));
        }
        stream(vec![Ok(RecordBatch::try_new(
            arrow_schema(columns),
            arrays,
        )
        .unwrap())])
    };
    let mut sent = Vec::new();
    for (name, load_id) in [("tx_parquet", "small"), ("tx_ndjson", "large")] {
        if name == "tx_ndjson" {
            columns.push(Column::new("extra", WarehouseType::Json));
        }
        let table = TableName::parse(name).unwrap();
        sink.ensure_table(&table, &columns).await.unwrap();
        let receipt = sink
            .load(
                &table,
                &columns,
                &file(load_id),
                LoadMode::Append,
                rows(&columns),
            )
            .await
            .unwrap();
        assert_eq!(receipt.rows, n as u64);
        let job = job(&config, load_id).await;
        let bytes: u64 = job
            .pointer("/statistics/load/inputFileBytes")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{job}"));
        sent.push(bytes);
    }
    let (parquet, ndjson) = (sent[0], sent[1]);
    assert!(
        parquet * 4 < ndjson,
        "Parquet {parquet} bytes, NDJSON {ndjson} bytes"
    );
}
