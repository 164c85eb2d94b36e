//! JSON: newline-delimited objects (JSONL) or one array of objects, read as a stream.
//!
//! Records are split by a small scanner that tracks strings and nesting, so a file never has
//! to fit in memory and errors name the line a record starts on. Field values are kept as raw
//! JSON text until they are converted, so large numbers keep every digit and nested values
//! load as their JSON text.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::kernels::cast_utils::{Parser, parse_decimal, string_to_datetime};
use arrow::datatypes::{Date32Type, Decimal128Type};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use chrono::Utc;
use futures::stream::{BoxStream, StreamExt};
use serde_json::value::RawValue;

use serde::{Deserialize, Serialize};

use super::csv::fix_or_retype;
use super::{
    BATCH_ROWS, BatchSource, BatchStream, Format, FormatInfo, SAMPLE_BYTES, Sample, Source,
    batch_stream,
};
use crate::error::Hint;
use crate::schema::infer::ColumnInference;
use crate::schema::{
    Column, DetectedSchema, NUMERIC_PRECISION, NUMERIC_SCALE, WarehouseType, arrow_schema,
};
use crate::{Error, Result};

/// Newline-delimited JSON objects, or one JSON array of objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

/// JSON has no options: records are split and typed by detection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonOptions {}

impl Format for Json {
    type Options = JsonOptions;

    const INFO: FormatInfo = FormatInfo {
        name: "json",
        label: "JSON / JSONL",
        aliases: &["jsonl", "ndjson"],
        extensions: &["json", "jsonl", "ndjson"],
        options: &[],
    };

    async fn detect(
        source: &Source<'_>,
        options: &JsonOptions,
    ) -> Result<(JsonOptions, DetectedSchema)> {
        let sample = source.head(SAMPLE_BYTES).await?;
        Ok((options.clone(), detect(&sample, source.path())?))
    }

    async fn read(
        source: &Source<'_>,
        _options: &JsonOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        Ok(read(source.stream().await?, columns, source.path()))
    }
}

/// Splits a byte stream into top-level JSON records: the values of a top-level array, or
/// whitespace-separated values (JSONL).
#[derive(Debug, Default)]
struct RecordSplitter {
    pending: Vec<u8>,
    /// Bytes of `pending` already scanned.
    scanned: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Whether the first non-blank byte was `[`: records are then at depth 1.
    array: Option<bool>,
    record_start: Option<usize>,
    /// The record in progress is a bare scalar (an error the caller reports).
    scalar: bool,
    /// Line (1-based) at `scanned`, and where the current record started.
    line: u64,
    record_line: u64,
}

impl RecordSplitter {
    fn new() -> Self {
        Self {
            line: 1,
            ..Default::default()
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
    }

    /// The next complete record and the line it starts on.
    ///
    /// A record that is not an object or array (a bare scalar) runs to the end of its line
    /// and is returned whole, for the caller to reject.
    fn next_record(&mut self) -> Option<(Vec<u8>, u64)> {
        while self.scanned < self.pending.len() {
            let i = self.scanned;
            let b = self.pending[i];
            self.scanned += 1;
            if b == b'\n' {
                self.line += 1;
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            let record_depth = u32::from(self.array == Some(true));
            if self.record_start.is_none() {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'[' if self.array.is_none() => {
                        self.array = Some(true);
                        self.depth = 1;
                        continue;
                    }
                    b',' if self.array == Some(true) => continue,
                    b']' if self.array == Some(true) && self.depth == 1 => {
                        self.depth = 0;
                        continue;
                    }
                    _ => {
                        self.array.get_or_insert(false);
                        self.record_start = Some(i);
                        self.record_line = self.line - u64::from(b == b'\n');
                        self.scalar = !matches!(b, b'{' | b'[');
                    }
                }
            }
            if self.scalar {
                if b == b'\n' {
                    return self.take_record(i);
                }
                continue;
            }
            match b {
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == record_depth {
                        return self.take_record(self.scanned);
                    }
                }
                b'"' => self.in_string = true,
                _ => {}
            }
        }
        // Drop what has been scanned and is not part of a record in progress.
        let keep_from = self.record_start.unwrap_or(self.scanned);
        self.pending.drain(..keep_from);
        self.scanned -= keep_from;
        if let Some(s) = &mut self.record_start {
            *s = 0;
        }
        None
    }

    fn take_record(&mut self, end: usize) -> Option<(Vec<u8>, u64)> {
        let start = self.record_start.take()?;
        self.scalar = false;
        Some((self.pending[start..end].to_vec(), self.record_line))
    }

    /// At the end of input: an unterminated record is an error.
    fn finish(&self) -> Option<u64> {
        self.record_start.map(|_| self.record_line)
    }
}

type Fields<'a> = HashMap<String, &'a RawValue>;

fn parse_record<'a>(record: &'a [u8], path: &str, line: u64) -> Result<Fields<'a>> {
    serde_json::from_slice::<Fields<'a>>(record).map_err(|e| Error::Parse {
        path: path.into(),
        line: Some(line + e.line() as u64 - 1),
        column: None,
        message: format!("not a JSON object: {e}"),
        hint: Some(
            Hint::text("each record must be an object, one per line (JSONL) or inside one array")
                .into(),
        ),
    })
}

fn observe(c: &mut ColumnInference, raw: &RawValue) {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => c.observe(None),
        Some(b'{' | b'[') => c.observe_nested(),
        Some(b'"') => match serde_json::from_str::<String>(text) {
            Ok(s) if s.is_empty() => c.observe(None),
            Ok(s) => c.observe_json_string(&s),
            Err(_) => c.observe_nested(),
        },
        _ => c.observe(Some(text)),
    }
}

/// Detects the columns of a JSON file from its head: the union of the keys of its records in
/// the order first seen.
pub fn detect(head: &Sample, path: &str) -> Result<DetectedSchema> {
    let truncated = !head.complete;
    let sample = head.complete_lines();
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let mut splitter = RecordSplitter::new();
    splitter.push(sample);
    let mut names: Vec<String> = Vec::new();
    let mut columns: Vec<ColumnInference> = Vec::new();
    let mut rows = 0u64;
    while let Some((record, line)) = splitter.next_record() {
        let fields = parse_record(&record, path, line)?;
        // Keys in the order they appear in the record, not the map's order.
        let mut keys: Vec<(&String, usize)> = fields
            .keys()
            .map(|k| (k, find_key(&record, k).unwrap_or(usize::MAX)))
            .collect();
        keys.sort_by_key(|(_, pos)| *pos);
        for (key, _) in keys {
            if !names.contains(key) {
                names.push(key.clone());
                let mut c = ColumnInference::default();
                for _ in 0..rows {
                    c.observe(None);
                }
                columns.push(c);
            }
        }
        for (name, c) in names.iter().zip(columns.iter_mut()) {
            match fields.get(name) {
                Some(raw) => observe(c, raw),
                None => c.observe(None),
            }
        }
        rows += 1;
    }
    if rows == 0 {
        if let (false, Some(line)) = (truncated, splitter.finish()) {
            return Err(Error::Parse {
                path: path.into(),
                line: Some(line),
                column: None,
                message: "the record starting here never ends".into(),
                hint: Some(Hint::text("check for a missing closing brace or quote").into()),
            });
        }
        return Err(Error::parse(
            path,
            "no JSON records found in the head of the file",
        ));
    }
    let detected = columns
        .into_iter()
        .zip(names)
        .map(|(c, n)| c.finish(n))
        .collect();
    let total = head.estimate_rows(rows);
    Ok(DetectedSchema::new(
        detected,
        total,
        truncated,
        head.file_size(),
    ))
}

fn find_key(record: &[u8], key: &str) -> Option<usize> {
    let needle = serde_json::to_string(key).ok()?;
    record
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// Streams a JSON file as record batches of `columns`' types. Keys not in `columns` are ignored.
pub fn read(
    bytes: BoxStream<'static, Result<Bytes>>,
    columns: &[Column],
    path: &str,
) -> BatchStream {
    let state = JsonStream {
        input: bytes,
        splitter: RecordSplitter::new(),
        eof: false,
        columns: columns.to_vec(),
        path: path.to_string(),
        at_start: true,
    };
    batch_stream(state)
}

struct JsonStream {
    input: BoxStream<'static, Result<Bytes>>,
    splitter: RecordSplitter,
    eof: bool,
    columns: Vec<Column>,
    path: String,
    at_start: bool,
}

impl BatchSource for JsonStream {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut builders: Vec<Builder> = self.columns.iter().map(|c| Builder::new(c.ty)).collect();
        let mut rows = 0;
        while rows < BATCH_ROWS {
            match self.splitter.next_record() {
                Some((record, line)) => {
                    let fields = parse_record(&record, &self.path, line)?;
                    for (c, b) in self.columns.iter().zip(builders.iter_mut()) {
                        b.append(fields.get(&c.name).copied())
                            .map_err(|message| Error::Parse {
                                path: self.path.clone(),
                                line: Some(line),
                                column: Some(c.name.clone()),
                                message,
                                hint: Some(fix_or_retype().into()),
                            })?;
                    }
                    rows += 1;
                }
                None if self.eof => {
                    if let Some(line) = self.splitter.finish() {
                        return Err(Error::Parse {
                            path: self.path.clone(),
                            line: Some(line),
                            column: None,
                            message: "the file ends inside this record".into(),
                            hint: Some(
                                Hint::text("the file may be truncated or still being written")
                                    .into(),
                            ),
                        });
                    }
                    break;
                }
                None => match self.input.next().await {
                    Some(chunk) => {
                        let chunk = chunk?;
                        let chunk = if std::mem::take(&mut self.at_start) {
                            chunk
                                .strip_prefix(b"\xEF\xBB\xBF")
                                .map_or(chunk.clone(), |_| chunk.slice(3..))
                        } else {
                            chunk
                        };
                        self.splitter.push(&chunk);
                    }
                    None => {
                        self.eof = true;
                        // A final scalar without a trailing newline.
                        self.splitter.push(b"\n");
                    }
                },
            }
        }
        if rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
        RecordBatch::try_new(arrow_schema(&self.columns), arrays)
            .map(Some)
            .map_err(|e| Error::parse(&self.path, e.to_string()))
    }
}

/// One column being built from raw JSON values.
enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Numeric(Decimal128Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Text { builder: StringBuilder, json: bool },
    Bytes(BinaryBuilder),
}

impl Builder {
    fn new(ty: WarehouseType) -> Self {
        match ty {
            WarehouseType::Int64 => Self::Int(Int64Builder::new()),
            WarehouseType::Float64 => Self::Float(Float64Builder::new()),
            WarehouseType::Numeric => Self::Numeric(
                Decimal128Builder::new()
                    .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                    .expect("valid"),
            ),
            WarehouseType::Bool => Self::Bool(BooleanBuilder::new()),
            WarehouseType::Date => Self::Date(Date32Builder::new()),
            WarehouseType::Timestamp => Self::Timestamp(
                TimestampMicrosecondBuilder::new().with_timezone(crate::schema::UTC),
            ),
            WarehouseType::String => Self::Text {
                builder: StringBuilder::new(),
                json: false,
            },
            WarehouseType::Json => Self::Text {
                builder: StringBuilder::new(),
                json: true,
            },
            WarehouseType::Bytes => Self::Bytes(BinaryBuilder::new()),
        }
    }

    fn append(&mut self, raw: Option<&RawValue>) -> Result<(), String> {
        let text = raw.map(RawValue::get).filter(|t| *t != "null");
        let Some(text) = text else {
            self.append_null();
            return Ok(());
        };
        let unquoted = if text.starts_with('"') {
            serde_json::from_str::<String>(text).ok()
        } else {
            None
        };
        let scalar = unquoted.as_deref().unwrap_or(text);
        if unquoted.as_deref() == Some("") && !matches!(self, Self::Text { .. } | Self::Bytes(_)) {
            self.append_null();
            return Ok(());
        }
        let bad = |ty: &str| format!("{text} is not a valid {ty}");
        match self {
            Self::Int(b) => b.append_value(scalar.parse::<i64>().map_err(|_| bad("INT64"))?),
            Self::Float(b) => b.append_value(scalar.parse::<f64>().map_err(|_| bad("FLOAT64"))?),
            Self::Numeric(b) => b.append_value(
                parse_decimal::<Decimal128Type>(scalar, NUMERIC_PRECISION, NUMERIC_SCALE)
                    .map_err(|_| bad("NUMERIC"))?,
            ),
            Self::Bool(b) => b.append_value(match scalar {
                "true" => true,
                "false" => false,
                _ => return Err(bad("BOOL")),
            }),
            Self::Date(b) => b.append_value(Date32Type::parse(scalar).ok_or_else(|| bad("DATE"))?),
            Self::Timestamp(b) => b.append_value(
                string_to_datetime(&Utc, scalar)
                    .map_err(|_| bad("TIMESTAMP"))?
                    .timestamp_micros(),
            ),
            Self::Text { builder, json } => builder.append_value(if *json { text } else { scalar }),
            Self::Bytes(b) => b.append_value(scalar.as_bytes()),
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Self::Int(b) => b.append_null(),
            Self::Float(b) => b.append_null(),
            Self::Numeric(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Text { builder, .. } => builder.append_null(),
            Self::Bytes(b) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Self::Int(mut b) => Arc::new(b.finish()),
            Self::Float(mut b) => Arc::new(b.finish()),
            Self::Numeric(mut b) => Arc::new(b.finish()),
            Self::Bool(mut b) => Arc::new(b.finish()),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish()),
            Self::Text { mut builder, .. } => Arc::new(builder.finish()),
            Self::Bytes(mut b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WarehouseType::{Bool, Float64, Int64, Json, Numeric, Timestamp};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use futures::TryStreamExt;

    fn sample(text: &[u8]) -> Sample {
        Sample::new(Bytes::copy_from_slice(text), text.len() as u64)
    }

    fn split_all(input: &[u8], chunk: usize) -> Vec<(String, u64)> {
        let mut s = RecordSplitter::new();
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            s.push(c);
            while let Some((r, l)) = s.next_record() {
                out.push((String::from_utf8(r).unwrap(), l));
            }
        }
        s.push(b"\n");
        while let Some((r, l)) = s.next_record() {
            out.push((String::from_utf8(r).unwrap(), l));
        }
        out
    }

    #[test]
    fn splits_jsonl_and_arrays_at_any_chunk_size() {
        let jsonl = b"{\"a\": 1, \"s\": \"x}\\\"{\"}\n\n{\"a\": [1, {\"b\": 2}]}\n";
        let array = b"[\n  {\"a\": 1, \"s\": \"x}\\\"{\"},\n  {\"a\": [1, {\"b\": 2}]}\n]\n";
        for chunk in [1, 2, 5, 100] {
            let r = split_all(jsonl, chunk);
            assert_eq!(r.len(), 2, "chunk {chunk}: {r:?}");
            assert_eq!(r[0].0, "{\"a\": 1, \"s\": \"x}\\\"{\"}");
            assert_eq!(r[1].1, 3);
            let r = split_all(array, chunk);
            assert_eq!(r.len(), 2, "chunk {chunk}: {r:?}");
            assert_eq!(r[1].0, "{\"a\": [1, {\"b\": 2}]}");
            assert_eq!(r[1].1, 3);
        }
    }

    #[test]
    fn detects_types_nested_values_and_missing_keys() {
        let text = include_bytes!("../../../../testdata/json/events.jsonl");
        let schema = detect(&sample(text), "e.jsonl").unwrap();
        let got: Vec<(&str, WarehouseType, bool)> = schema
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.bigquery_type, c.nullable))
            .collect();
        assert_eq!(
            got,
            vec![
                ("id", Int64, false),
                ("user", WarehouseType::String, false),
                ("at", Timestamp, false),
                ("amount", Float64, true),
                ("tags", Json, true),
                ("ok", Bool, false),
                ("zip", WarehouseType::String, false),
                ("coupon", WarehouseType::String, true),
            ]
        );
        assert_eq!(schema.total_rows, 3);
    }

    #[test]
    fn a_broken_record_names_its_line() {
        let text = b"{\"a\": 1}\n{\"a\": 2,}\n";
        let err = detect(&sample(text), "e.jsonl").unwrap_err().to_string();
        assert!(
            err.starts_with("e.jsonl line 2: not a JSON object"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn reads_with_casts_and_names_bad_values() {
        let columns = vec![
            Column::new("id", Int64),
            Column::new("tags", Json),
            Column::new("big", Numeric),
        ];
        let text: &'static [u8] = b"[{\"id\": 1, \"tags\": [\"a\"], \"big\": 123456789012345678901234567},\n {\"id\": 2}]";
        let chunks: Vec<Result<Bytes>> = text
            .chunks(3)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let batches: Vec<RecordBatch> =
            read(futures::stream::iter(chunks).boxed(), &columns, "a.json")
                .try_collect()
                .await
                .unwrap();
        let b = &batches[0];
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(0).as_primitive::<Int64Type>().value(1), 2);
        assert_eq!(b.column(1).as_string::<i32>().value(0), "[\"a\"]");
        assert!(b.column(1).is_null(1));
        let big = b
            .column(2)
            .as_primitive::<arrow::datatypes::Decimal128Type>();
        assert_eq!(
            big.value(0),
            123456789012345678901234567i128 * 1_000_000_000
        );

        let bad: &'static [u8] = b"{\"id\": 1}\n{\"id\": \"x\"}\n";
        let err = read(
            futures::stream::iter(vec![Ok(Bytes::from_static(bad))]).boxed(),
            &columns,
            "a.json",
        )
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("a.json line 2, column 'id': \"x\" is not a valid INT64"),
            "{err}"
        );
    }
}
