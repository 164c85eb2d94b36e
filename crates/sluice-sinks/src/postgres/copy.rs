//! Rows in `COPY … FROM STDIN` text format: tab-separated, `\\N` for NULL, one line a row.

use std::fmt::Write as _;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow::record_batch::RecordBatch;
use sluice_core::schema::{Column, WarehouseType};

/// Appends a batch to `out` in `COPY` text format: tab-separated, `\N` for NULL, one line
/// a row. Columns are first cast to their warehouse type's Arrow type (a no-op for batches
/// that come through the schema gate).
///
/// # Errors
/// A message naming the column when a value cannot be written.
pub(super) fn encode_batch(
    batch: &RecordBatch,
    columns: &[Column],
    out: &mut String,
) -> Result<(), String> {
    if batch.num_columns() != columns.len() {
        return Err(format!(
            "the batch has {} columns, the table {}",
            batch.num_columns(),
            columns.len()
        ));
    }
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .zip(batch.columns())
        .map(|(c, a)| {
            arrow::compute::cast(a, &c.column_type().arrow_type())
                .map_err(|e| format!("column {}: cannot read as {}: {e}", c.name, c.column_type()))
        })
        .collect::<Result<_, _>>()?;
    for row in 0..batch.num_rows() {
        for (i, (c, a)) in columns.iter().zip(&arrays).enumerate() {
            if i > 0 {
                out.push('\t');
            }
            if a.is_null(row) {
                out.push_str("\\N");
                continue;
            }
            let written = if c.is_repeated() {
                encode_array(c.ty, a, row, out)
            } else {
                encode_value(c.ty, a, row, out, true)
            };
            written.map_err(|e| format!("column {} row {}: {e}", c.name, row + 1))?;
        }
        out.push('\n');
    }
    Ok(())
}

/// One value as PostgreSQL's text input reads it; `copy`: escaped for `COPY` text.
fn encode_value(
    ty: WarehouseType,
    a: &ArrayRef,
    row: usize,
    out: &mut String,
    copy: bool,
) -> Result<(), String> {
    match ty {
        WarehouseType::Int64 => {
            let _ = write!(out, "{}", a.as_primitive::<Int64Type>().value(row));
        }
        WarehouseType::Float64 => {
            let v = a.as_primitive::<Float64Type>().value(row);
            if v.is_nan() {
                out.push_str("NaN");
            } else if v.is_infinite() {
                out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
            } else {
                // `{:e}` is the shortest text that reads back as the same double.
                let _ = write!(out, "{v:e}");
            }
        }
        WarehouseType::Numeric => {
            let a = a.as_primitive::<Decimal128Type>();
            push_decimal(a.value(row), a.scale(), out);
        }
        WarehouseType::Bool => {
            out.push(if a.as_boolean().value(row) { 't' } else { 'f' });
        }
        WarehouseType::Date => {
            let days = a.as_primitive::<Date32Type>().value(row);
            let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .ok_or_else(|| format!("date {days} days from 1970 is out of range"))?;
            let _ = write!(out, "{}", date.format("%Y-%m-%d"));
        }
        WarehouseType::Timestamp => {
            let micros = a.as_primitive::<TimestampMicrosecondType>().value(row);
            let at = chrono::DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| format!("timestamp {micros}µs from 1970 is out of range"))?;
            let _ = write!(out, "{}", at.format("%Y-%m-%d %H:%M:%S%.6f+00"));
        }
        WarehouseType::String | WarehouseType::Json if copy => {
            push_escaped(a.as_string::<i32>().value(row), out);
        }
        WarehouseType::String | WarehouseType::Json => {
            out.push_str(a.as_string::<i32>().value(row));
        }
        WarehouseType::Bytes => {
            // bytea's hex form `\x…`, its backslash escaped for COPY.
            out.push_str(if copy { "\\\\x" } else { "\\x" });
            for b in a.as_binary::<i32>().value(row) {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
    Ok(())
}

/// An array as PostgreSQL's array literal, `{1,2,NULL}`, then escaped for `COPY`: every
/// element quoted but numbers and booleans, `"` and `\` inside quotes backslash-escaped.
fn encode_array(
    ty: WarehouseType,
    a: &ArrayRef,
    row: usize,
    out: &mut String,
) -> Result<(), String> {
    let values = a.as_list::<i32>().value(row);
    let quoted = !matches!(
        ty,
        WarehouseType::Int64
            | WarehouseType::Float64
            | WarehouseType::Numeric
            | WarehouseType::Bool
    );
    let mut literal = String::from("{");
    let mut element = String::new();
    for i in 0..values.len() {
        if i > 0 {
            literal.push(',');
        }
        if values.is_null(i) {
            literal.push_str("NULL");
            continue;
        }
        element.clear();
        // Unescaped: the literal is escaped for COPY as a whole below.
        encode_value(ty, &values, i, &mut element, false)?;
        if quoted {
            literal.push('"');
            for ch in element.chars() {
                if ch == '"' || ch == '\\' {
                    literal.push('\\');
                }
                literal.push(ch);
            }
            literal.push('"');
        } else {
            literal.push_str(&element);
        }
    }
    literal.push('}');
    push_escaped(&literal, out);
    Ok(())
}

fn push_decimal(value: i128, scale: i8, out: &mut String) {
    if value < 0 {
        out.push('-');
    }
    let abs = value.unsigned_abs();
    if scale <= 0 {
        let _ = write!(out, "{abs}");
        for _ in 0..-scale {
            out.push('0');
        }
        return;
    }
    let scale = scale as u32;
    let unit = 10u128.pow(scale);
    let _ = write!(
        out,
        "{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = scale as usize
    );
}

fn push_escaped(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_every_digit() {
        let mut s = String::new();
        push_decimal(12_345_678_901_234_567_890_123_456_789, 9, &mut s);
        assert_eq!(s, "12345678901234567890.123456789");
        s.clear();
        push_decimal(-5, 9, &mut s);
        assert_eq!(s, "-0.000000005");
    }

    #[test]
    fn arrays_are_array_literals_escaped_for_copy() {
        use arrow::array::{ListBuilder, StringBuilder};
        let mut b = ListBuilder::new(StringBuilder::new());
        b.values().append_value("a\"b");
        b.values().append_null();
        b.values().append_value("c\\d\te");
        b.append(true);
        let a: ArrayRef = std::sync::Arc::new(b.finish());
        let mut s = String::new();
        encode_array(WarehouseType::String, &a, 0, &mut s).unwrap();
        // {"a\"b",NULL,"c\\d<tab>e"}, each backslash doubled for COPY, the tab as \t.
        assert_eq!(s, r#"{"a\\"b",NULL,"c\\\\d\te"}"#);
    }

    #[test]
    fn copy_text_escapes_its_delimiters() {
        let mut s = String::new();
        push_escaped("a\tb\\c\nd\re", &mut s);
        assert_eq!(s, "a\\tb\\\\c\\nd\\re");
    }
}
