//! REPEATED columns on every sink: arrays of each type are native arrays in the destination
//! (DuckDB `T[]`, PostgreSQL `t[]`, BigQuery `ARRAY<T>`), and read back with their values.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Date32Builder,
    Decimal128Builder, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::util::display::ArrayFormatter;
use sluice_core::names::TableName;
use sluice_core::schema::{
    Column, Mode, NUMERIC_PRECISION, NUMERIC_SCALE, UTC, WarehouseType, arrow_schema,
};
use sluice_sinks::{BuiltSink, LoadMode};

use crate::suite::{load, stream};

/// Each row of a list column: NULL, or its values as text.
type Rows = Vec<Option<Vec<Option<String>>>>;

pub(crate) fn repeated(ty: WarehouseType) -> Column {
    let mut c = Column::new(format!("a_{}", ty.as_str().to_lowercase()), ty);
    c.mode = Mode::Repeated;
    c
}

/// Three rows per column: two values (the first row), no values, and a NULL array.
fn list_of<B: ArrayBuilder>(mut items: B, push: impl Fn(&mut B)) -> ArrayRef
where
    ListBuilder<B>: ArrayBuilder,
{
    push(&mut items);
    let values = items.finish();
    let offsets = arrow::buffer::OffsetBuffer::from_lengths([values.len(), 0, 0]);
    let nulls = arrow::buffer::NullBuffer::from(vec![true, true, false]);
    let field = Arc::new(arrow::datatypes::Field::new(
        "item",
        values.data_type().clone(),
        true,
    ));
    Arc::new(arrow::array::ListArray::new(
        field,
        offsets,
        values,
        Some(nulls),
    ))
}

fn arrays() -> (Vec<Column>, RecordBatch) {
    let columns: Vec<Column> = WarehouseType::ALL
        .into_iter()
        .filter(|t| *t != WarehouseType::Json)
        .map(repeated)
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| match c.ty {
            WarehouseType::Int64 => list_of(Int64Builder::new(), |b| {
                b.append_value(i64::MAX);
                b.append_value(-7);
            }),
            WarehouseType::Float64 => list_of(Float64Builder::new(), |b| {
                b.append_value(-1.5e300);
                b.append_value(0.25);
            }),
            WarehouseType::Numeric => list_of(
                Decimal128Builder::new()
                    .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                    .unwrap(),
                |b| {
                    b.append_value(1_500_000_000);
                    b.append_value(-12_345_678_901_234_567_890_123_456_789);
                },
            ),
            WarehouseType::Bool => list_of(BooleanBuilder::new(), |b| {
                b.append_value(true);
                b.append_value(false);
            }),
            WarehouseType::Date => list_of(Date32Builder::new(), |b| {
                b.append_value(20_046);
                b.append_value(0);
            }),
            WarehouseType::Timestamp => {
                list_of(TimestampMicrosecondBuilder::new().with_timezone(UTC), |b| {
                    b.append_value(1_732_003_200_000_001);
                    b.append_value(0);
                })
            }
            // Every character an array literal or COPY treats specially.
            WarehouseType::String => list_of(StringBuilder::new(), |b| {
                b.append_value(r#"a "quoted", {braced} \ value"#);
                b.append_value("tab\there, line\nbreak, héllo ✓");
            }),
            WarehouseType::Bytes => list_of(BinaryBuilder::new(), |b| {
                b.append_value(b"\x00\xff");
                b.append_value(b"ok");
            }),
            WarehouseType::Json => unreachable!("left out above"),
        })
        .collect();
    let batch = RecordBatch::try_new(arrow_schema(&columns), arrays).unwrap();
    (columns, batch)
}

/// A list column (DuckDB's read-back) or a JSON array column (PostgreSQL's and
/// BigQuery's previews) as rows of value texts, each value in the shape `norm` gives.
pub(crate) fn rows_of(array: &ArrayRef, ty: WarehouseType) -> Rows {
    if array.as_list_opt::<i32>().is_some() {
        // In the warehouse's Arrow types (DuckDB names the zone "UTC", which the formatter
        // does not know).
        let target = sluice_core::schema::ColumnType::new(ty, Mode::Repeated).arrow_type();
        let array = arrow::compute::cast(array, &target).unwrap();
        let list = array.as_list::<i32>();
        return (0..list.len())
            .map(|r| {
                list.is_valid(r).then(|| {
                    let values = list.value(r);
                    let f = ArrayFormatter::try_new(values.as_ref(), &Default::default()).unwrap();
                    (0..values.len())
                        .map(|i| {
                            values
                                .is_valid(i)
                                .then(|| norm(ty, &f.value(i).to_string()))
                        })
                        .collect()
                })
            })
            .collect();
    }
    let text = array.as_string::<i32>();
    (0..text.len())
        .map(|r| {
            let json = text
                .is_valid(r)
                .then(|| text.value(r))
                .filter(|t| *t != "null")?;
            // Raw values: a NUMERIC's digits are kept as printed, not read as a double.
            let values: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(json).unwrap();
            Some(
                values
                    .iter()
                    .map(|v| match v.get() {
                        "null" => None,
                        t if t.starts_with('"') => {
                            Some(norm(ty, &serde_json::from_str::<String>(t).unwrap()))
                        }
                        t => Some(norm(ty, t)),
                    })
                    .collect(),
            )
        })
        .collect()
}

/// One value's text in one shape whatever the destination printed: numbers as numbers,
/// dates as `YYYY-MM-DD`, instants as microseconds since 1970.
fn norm(ty: WarehouseType, text: &str) -> String {
    match ty {
        WarehouseType::Float64 => text.parse::<f64>().unwrap().to_string(),
        WarehouseType::Numeric => {
            let t = text.trim_start_matches('+');
            if t.contains('.') {
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                t.to_string()
            }
        }
        WarehouseType::Date => text[..10].to_string(),
        WarehouseType::Timestamp => {
            let t = text.replace(' ', "T").replace("UTC", "Z");
            let t = t.trim_end_matches("TZ").to_string();
            chrono::DateTime::parse_from_rfc3339(&t)
                .or_else(|_| chrono::DateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f%#z"))
                .map(|d| d.timestamp_micros().to_string())
                .unwrap_or_else(|e| panic!("{text}: {e}"))
        }
        _ => text.to_string(),
    }
}

/// Arrays of every type load and read back; `arrays_hold_nulls`: the destination keeps a
/// NULL inside an array (DuckDB, PostgreSQL) rather than refusing the row (BigQuery).
pub async fn arrays_of_every_type_round_trip(sink: &dyn BuiltSink, arrays_hold_nulls: bool) {
    let table = TableName::parse("arrays").unwrap();
    let (columns, batch) = arrays();
    sink.ensure_table(&table, &columns).await.unwrap();
    sink.ensure_table(&table, &columns).await.unwrap(); // the table's arrays are the job's
    let receipt = sink
        .load(
            &table,
            &columns,
            &load("a1"),
            LoadMode::Append,
            stream(vec![Ok(batch.clone())]),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rows, 3);
    let back = sink.preview(&table, 10).await.unwrap();
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
    assert_eq!(back.num_rows(), 3);
    // Rows come back in any order: the first row is the one with values.
    for (i, c) in columns.iter().enumerate() {
        let mut got = rows_of(back.column(i), c.ty);
        let mut want = rows_of(batch.column(i), c.ty);
        // BigQuery does not tell a NULL array from an empty one.
        if !arrays_hold_nulls {
            for rows in [&mut got, &mut want] {
                for r in rows.iter_mut() {
                    r.get_or_insert_with(Vec::new);
                }
            }
        }
        got.sort();
        want.sort();
        if c.ty == WarehouseType::Bytes {
            // Each destination prints bytes its own way (hex, base64): count them.
            let lengths = |r: &Rows| {
                r.iter()
                    .map(|v| v.as_ref().map(Vec::len))
                    .collect::<Vec<_>>()
            };
            assert_eq!(lengths(&got), lengths(&want), "column {}", c.name);
            continue;
        }
        assert_eq!(got, want, "column {}", c.name);
    }

    // A NULL inside an array.
    let (columns, _) = arrays();
    let ints = columns[1].clone();
    assert_eq!(ints.ty, WarehouseType::Int64);
    let mut b = ListBuilder::new(Int64Builder::new());
    b.values().append_value(1);
    b.values().append_null();
    b.append(true);
    let batch = RecordBatch::try_new(
        arrow_schema(std::slice::from_ref(&ints)),
        vec![Arc::new(b.finish())],
    )
    .unwrap();
    let table = TableName::parse("null_items").unwrap();
    sink.ensure_table(&table, std::slice::from_ref(&ints))
        .await
        .unwrap();
    let loaded = sink
        .load(
            &table,
            std::slice::from_ref(&ints),
            &load("n1"),
            LoadMode::Append,
            stream(vec![Ok(batch)]),
        )
        .await;
    if arrays_hold_nulls {
        loaded.unwrap();
        let back = sink.preview(&table, 10).await.unwrap();
        assert_eq!(
            rows_of(back[0].column(0), WarehouseType::Int64),
            vec![Some(vec![Some("1".to_string()), None])]
        );
    } else {
        let err = loaded.unwrap_err().to_string();
        assert!(
            err.contains(&ints.name) && err.contains("cannot hold"),
            "{err}"
        );
        assert_eq!(sink.count_rows(&table).await.unwrap(), 0);
        assert_eq!(sink.was_loaded("n1").await.unwrap(), None);
    }
}
