//! Batches → newline-delimited JSON, the way BigQuery's load jobs read each type.

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array,
    Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use base64::Engine as _;
use sluice_core::schema::{Column, Mode, WarehouseType};

/// Appends one JSON object per row of `batch` to `out`, one per line.
///
/// Integers and floats are JSON numbers, NUMERIC a decimal string (no binary float on the
/// way), TIMESTAMP an RFC 3339 UTC instant with microseconds, DATE `YYYY-MM-DD`, BYTES
/// base64, JSON the document itself.
///
/// # Errors
/// A message naming the row (counted from `first_row`, 1-based) and the column when a
/// REQUIRED column is null or a column does not have the type the job declares.
pub fn write_ndjson(
    batch: &RecordBatch,
    columns: &[Column],
    first_row: u64,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if batch.num_columns() != columns.len() {
        return Err(format!(
            "the batch has {} columns; the table has {}",
            batch.num_columns(),
            columns.len()
        ));
    }
    let names: Vec<String> = columns
        .iter()
        .map(|c| serde_json::to_string(&c.name).expect("a string serializes"))
        .collect();
    for row in 0..batch.num_rows() {
        out.push(b'{');
        let mut first = true;
        for (i, col) in columns.iter().enumerate() {
            let array = batch.column(i);
            if array.is_null(row) {
                if col.mode == Mode::Required {
                    return Err(format!(
                        "row {}: column {} is REQUIRED but empty",
                        first_row + row as u64 + 1,
                        col.name
                    ));
                }
                continue; // absent = NULL
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(names[i].as_bytes());
            out.push(b':');
            let written = if col.mode == Mode::Repeated {
                write_array(array.as_ref(), col, row, out)
            } else {
                write_value(array.as_ref(), col, row, out)
            };
            written.map_err(|e| {
                format!(
                    "row {}: column {}: {e}",
                    first_row + row as u64 + 1,
                    col.name
                )
            })?;
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(())
}

/// An array as a JSON array of its values. BigQuery's arrays hold no NULL: one is refused
/// by its position (a NULL array, by contrast, is left out and reads back empty).
fn write_array(
    array: &dyn Array,
    col: &Column,
    row: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let list = array.as_list_opt::<i32>().ok_or_else(|| {
        format!(
            "expected {} values, found Arrow {}",
            col.column_type(),
            array.data_type()
        )
    })?;
    let values = list.value(row);
    out.push(b'[');
    for i in 0..values.len() {
        if values.is_null(i) {
            return Err(format!(
                "value {} of the array is NULL, which a BigQuery array cannot hold",
                i + 1
            ));
        }
        if i > 0 {
            out.push(b',');
        }
        write_value(values.as_ref(), col, i, out)?;
    }
    out.push(b']');
    Ok(())
}

fn mismatch(col: &Column, found: &DataType) -> String {
    format!("expected {} values, found Arrow {found}", col.ty)
}

fn write_value(
    array: &dyn Array,
    col: &Column,
    row: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let bad = || mismatch(col, array.data_type());
    match col.ty {
        WarehouseType::Int64 => {
            let a = array
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(bad)?;
            out.extend_from_slice(a.value(row).to_string().as_bytes());
        }
        WarehouseType::Float64 => {
            let a = array
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(bad)?;
            let v = a.value(row);
            if v.is_finite() {
                // `{:?}` keeps every digit needed to read back the same double.
                out.extend_from_slice(format!("{v:?}").as_bytes());
            } else if v.is_nan() {
                out.extend_from_slice(b"\"NaN\"");
            } else if v > 0.0 {
                out.extend_from_slice(b"\"Infinity\"");
            } else {
                out.extend_from_slice(b"\"-Infinity\"");
            }
        }
        WarehouseType::Numeric => {
            let a = array
                .as_any()
                .downcast_ref::<Decimal128Array>()
                .ok_or_else(bad)?;
            out.push(b'"');
            out.extend_from_slice(a.value_as_string(row).as_bytes());
            out.push(b'"');
        }
        WarehouseType::Bool => {
            let a = array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(bad)?;
            out.extend_from_slice(if a.value(row) { b"true" } else { b"false" });
        }
        WarehouseType::Date => {
            let a = array
                .as_any()
                .downcast_ref::<Date32Array>()
                .ok_or_else(bad)?;
            let d = a.value_as_date(row).ok_or("date out of range")?;
            out.extend_from_slice(format!("\"{}\"", d.format("%Y-%m-%d")).as_bytes());
        }
        WarehouseType::Timestamp => {
            let a = array
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(bad)?;
            let t = chrono::DateTime::from_timestamp_micros(a.value(row))
                .ok_or("timestamp out of range")?;
            out.extend_from_slice(format!("\"{}\"", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")).as_bytes());
        }
        WarehouseType::String => {
            let s = string_value(array, row).ok_or_else(bad)?;
            out.extend_from_slice(
                serde_json::to_string(s)
                    .expect("a string serializes")
                    .as_bytes(),
            );
        }
        WarehouseType::Json => {
            let s = string_value(array, row).ok_or_else(bad)?;
            let doc: &serde_json::value::RawValue =
                serde_json::from_str(s).map_err(|e| format!("not a JSON document: {e}"))?;
            out.extend_from_slice(doc.get().trim().as_bytes());
        }
        WarehouseType::Bytes => {
            let a = array
                .as_any()
                .downcast_ref::<BinaryArray>()
                .ok_or_else(bad)?;
            out.push(b'"');
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(a.value(row))
                    .as_bytes(),
            );
            out.push(b'"');
        }
    }
    Ok(())
}

fn string_value(array: &dyn Array, row: usize) -> Option<&str> {
    match array.data_type() {
        DataType::Utf8 => Some(array.as_any().downcast_ref::<StringArray>()?.value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::ArrayRef;
    use sluice_core::schema::{NUMERIC_PRECISION, NUMERIC_SCALE, UTC, arrow_schema};

    use super::*;

    fn encode(columns: &[Column], arrays: Vec<ArrayRef>) -> Result<String, String> {
        let batch = RecordBatch::try_new(arrow_schema(columns), arrays).unwrap();
        let mut out = Vec::new();
        write_ndjson(&batch, columns, 0, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn each_type_is_written_as_bigquery_reads_it() {
        let columns: Vec<Column> = ["i", "f", "n", "b", "d", "t", "s", "j", "y"]
            .iter()
            .zip([
                WarehouseType::Int64,
                WarehouseType::Float64,
                WarehouseType::Numeric,
                WarehouseType::Bool,
                WarehouseType::Date,
                WarehouseType::Timestamp,
                WarehouseType::String,
                WarehouseType::Json,
                WarehouseType::Bytes,
            ])
            .map(|(n, t)| Column::new(*n, t))
            .collect();
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(i64::MAX), None])),
            Arc::new(Float64Array::from(vec![Some(0.1), Some(f64::NAN)])),
            Arc::new(
                Decimal128Array::from(vec![Some(-1_500_000_000i128), None])
                    .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                    .unwrap(),
            ),
            Arc::new(BooleanArray::from(vec![Some(false), None])),
            Arc::new(Date32Array::from(vec![Some(20_046), None])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(1_732_003_200_000_001), None])
                    .with_timezone(UTC),
            ),
            Arc::new(StringArray::from(vec![Some("a\"b\nç"), None])),
            Arc::new(StringArray::from(vec![Some(" {\"a\": [1, 2]} "), None])),
            Arc::new(BinaryArray::from(vec![Some(&b"\x00\xff"[..]), None])),
        ];
        assert_eq!(
            encode(&columns, arrays).unwrap(),
            "{\"i\":9223372036854775807,\"f\":0.1,\"n\":\"-1.500000000\",\"b\":false,\
             \"d\":\"2024-11-19\",\"t\":\"2024-11-19T08:00:00.000001Z\",\"s\":\"a\\\"b\\nç\",\
             \"j\":{\"a\": [1, 2]},\"y\":\"AP8=\"}\n{\"f\":\"NaN\"}\n"
        );
    }

    #[test]
    fn a_null_in_a_required_column_names_the_row_and_column() {
        let mut col = Column::new("id", WarehouseType::Int64);
        col.mode = Mode::Required;
        let batch = RecordBatch::try_new(
            arrow_schema(std::slice::from_ref(&col)),
            vec![Arc::new(Int64Array::from(vec![Some(1), None]))],
        )
        .unwrap();
        let mut out = Vec::new();
        let err = write_ndjson(&batch, &[col], 100, &mut out).unwrap_err();
        assert_eq!(err, "row 102: column id is REQUIRED but empty");
    }

    #[test]
    fn invalid_json_is_refused_before_upload() {
        let columns = [Column::new("j", WarehouseType::Json)];
        let err = encode(&columns, vec![Arc::new(StringArray::from(vec!["{nope"]))]).unwrap_err();
        assert!(
            err.starts_with("row 1: column j: not a JSON document"),
            "{err}"
        );
    }
}
