//! TFRecord files of `tf.train.Example` records (`.tfrecord`, `.tfrecords`, and gzipped,
//! as TensorFlow's `GZIP` option writes them).
//!
//! Records are framed and checked (`frame`), decoded with prost (`example`), and each
//! feature is a column: `int64_list` → INT64, `float_list` → FLOAT64, `bytes_list` →
//! STRING when every sampled value is UTF-8, else BYTES. A feature with more than one value
//! in any sampled record is a REPEATED column, an array in the destination (`[0.5, 1.5]`);
//! one whose records mix kinds of list is JSON. Columns are named after the features,
//! sorted (an Example's features have no order).

mod example;
mod frame;

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use prost::Message;
use serde::{Deserialize, Serialize};

pub use self::example::{Example, Feature, Kind};
pub use self::frame::{Framer, Record, masked_crc};
use super::values::Builder;
use super::{BATCH_ROWS, BatchSource, BatchStream, Format, FormatInfo, SAMPLE_BYTES, Source};
use crate::error::Hint;
use crate::schema::infer::SAMPLE_VALUES;
use crate::schema::{Column, DetectedColumn, DetectedSchema, Mode, WarehouseType};
use crate::{Error, Result};

/// TFRecord files of `tf.train.Example`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TfRecord;

/// TFRecord has no options: features are found and typed by detection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TfRecordOptions {}

impl Format for TfRecord {
    type Options = TfRecordOptions;

    const INFO: FormatInfo = FormatInfo {
        name: "tfrecord",
        label: "TFRecord (tf.train.Example)",
        aliases: &["tfrecords"],
        extensions: &["tfrecord", "tfrecords"],
        options: &[],
        columns_by_name: true,
        missing_is_null: true,
    };

    async fn detect(
        source: &Source<'_>,
        options: &TfRecordOptions,
    ) -> Result<(TfRecordOptions, DetectedSchema)> {
        let sample = source.head(SAMPLE_BYTES).await?;
        let mut framer = Framer::new(source.path());
        framer.push(&sample.bytes);
        let mut features: BTreeMap<String, Seen> = BTreeMap::new();
        let mut records = 0u64;
        while let Some(record) = framer.next_record()? {
            let example = decode(source.path(), &record)?;
            for (name, feature) in example.features.map(|f| f.feature).unwrap_or_default() {
                let seen = features.entry(name).or_insert_with(|| Seen::new(records));
                seen.observe(&feature);
            }
            records += 1;
            for seen in features.values_mut() {
                seen.fill_to(records);
            }
        }
        if sample.complete {
            framer.finish()?;
        }
        if records == 0 {
            return Err(Error::NoRows {
                path: source.path().into(),
                what: "no complete record in its first 5 MB".into(),
            });
        }
        if features.len() > super::MAX_COLUMNS {
            return Err(Error::parse(
                source.path(),
                format!(
                    "the records have {} features in all; sluice reads at most {} columns",
                    features.len(),
                    super::MAX_COLUMNS
                ),
            ));
        }
        let columns: Vec<DetectedColumn> = features
            .into_iter()
            .map(|(name, seen)| seen.finish(name))
            .collect();
        let rows = sample.estimate_rows(records);
        Ok((
            options.clone(),
            DetectedSchema::new(columns, rows, !sample.complete, sample.file_size()),
        ))
    }

    async fn read(
        source: &Source<'_>,
        _options: &TfRecordOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        Ok(super::batch_stream(Reader {
            input: source.stream().await?,
            framer: Framer::new(source.path()),
            eof: false,
            columns: columns.to_vec(),
            path: source.path().to_string(),
        }))
    }
}

fn decode(path: &str, record: &Record) -> Result<Example> {
    Example::decode(record.data.clone()).map_err(|e| {
        Error::parse(
            path,
            format!(
                "record {} at byte offset {} is not a tf.train.Example: {e}",
                record.index, record.offset
            ),
        )
    })
}

/// What detection saw of one feature.
struct Seen {
    kind: Option<&'static str>,
    /// More than one kind of list across records: the column is JSON.
    mixed: bool,
    multi: bool,
    utf8: bool,
    values: u64,
    nulls: u64,
    records: u64,
    samples: Vec<String>,
}

impl Seen {
    /// A feature first seen after `missing` records without it.
    fn new(missing: u64) -> Self {
        Self {
            kind: None,
            mixed: false,
            multi: false,
            utf8: true,
            values: 0,
            nulls: missing,
            records: missing,
            samples: Vec::new(),
        }
    }

    fn observe(&mut self, feature: &Feature) {
        self.records += 1;
        let Some(kind) = &feature.kind else {
            self.nulls += 1;
            return;
        };
        if kind.is_empty() {
            self.nulls += 1;
            return;
        }
        match self.kind {
            None => self.kind = Some(kind.list_name()),
            Some(k) if k != kind.list_name() => self.mixed = true,
            Some(_) => {}
        }
        self.values += 1;
        self.multi |= kind.len() > 1;
        if let Kind::BytesList(l) = kind {
            self.utf8 &= l.value.iter().all(|v| std::str::from_utf8(v).is_ok());
        }
        if self.samples.len() < SAMPLE_VALUES {
            let shown = crate::error::excerpt(&json_of(kind));
            if !self.samples.contains(&shown) {
                self.samples.push(shown);
            }
        }
    }

    /// Counts the records since this feature was last seen as NULLs.
    fn fill_to(&mut self, records: u64) {
        if self.records < records {
            self.nulls += records - self.records;
            self.records = records;
        }
    }

    fn finish(self, name: String) -> DetectedColumn {
        let (ty, mut source) = match self.kind {
            _ if self.mixed => (WarehouseType::Json, "mixed lists".to_string()),
            None => (WarehouseType::String, "empty".to_string()),
            Some("int64_list") => (WarehouseType::Int64, "int64_list".into()),
            Some("float_list") => (WarehouseType::Float64, "float_list".into()),
            Some(_) if self.utf8 => (WarehouseType::String, "bytes_list (UTF-8)".into()),
            Some(_) => (WarehouseType::Bytes, "bytes_list".into()),
        };
        let repeated = self.multi && !self.mixed;
        if repeated {
            source.push_str(" (several values)");
        }
        DetectedColumn {
            name,
            source_type: source,
            bigquery_type: ty,
            bigquery_mode: if repeated {
                Mode::Repeated
            } else {
                Mode::Nullable
            },
            sample_values: self.samples,
            nullable: self.nulls > 0 || self.values == 0,
            all_null: self.values == 0,
            source: None,
        }
    }
}

/// A feature's values as JSON: one value as itself, several as an array; bytes as UTF-8
/// text, or base64 where they are not text.
fn json_of(kind: &Kind) -> String {
    use base64::Engine as _;
    let values: Vec<serde_json::Value> = match kind {
        Kind::Int64List(l) => l.value.iter().map(|v| (*v).into()).collect(),
        Kind::FloatList(l) => l
            .value
            .iter()
            .map(|v| {
                serde_json::Number::from_f64(f64::from(*v))
                    .map(serde_json::Value::Number)
                    .unwrap_or_else(|| v.to_string().into())
            })
            .collect(),
        Kind::BytesList(l) => l
            .value
            .iter()
            .map(|v| match std::str::from_utf8(v) {
                Ok(s) => s.into(),
                Err(_) => base64::engine::general_purpose::STANDARD.encode(v).into(),
            })
            .collect(),
    };
    match values.as_slice() {
        [one] => one.to_string(),
        _ => serde_json::Value::Array(values).to_string(),
    }
}

/// Appends a feature's value to its column: a REPEATED column takes every value (none
/// when the feature is empty, NULL when the record lacks it), another column one.
fn append(
    builder: &mut Builder,
    ty: WarehouseType,
    feature: Option<&Feature>,
) -> Result<(), String> {
    if let Some(items) = builder.items() {
        let Some(kind) = feature.and_then(|f| f.kind.as_ref()) else {
            builder.append_null();
            return Ok(());
        };
        for i in 0..kind.len() {
            append_one(items, ty, kind, i)?;
        }
        return builder.end_list();
    }
    let Some(kind) = feature
        .and_then(|f| f.kind.as_ref())
        .filter(|k| !k.is_empty())
    else {
        builder.append_null();
        return Ok(());
    };
    if ty == WarehouseType::Json {
        let json = match kind {
            // A JSON column holds the feature's list, even where a record has one value.
            k if k.len() == 1 => format!("[{}]", json_of(k)),
            k => json_of(k),
        };
        return builder.append_value(&json, &json);
    }
    if kind.len() > 1 {
        return Err(format!(
            "the feature holds {} values ({}); choose JSON for this column, or detect the schema from a file whose records show it",
            kind.len(),
            crate::error::excerpt(&json_of(kind))
        ));
    }
    append_one(builder, ty, kind, 0)
}

/// Appends the `i`th value of a feature's list.
fn append_one(
    builder: &mut Builder,
    ty: WarehouseType,
    kind: &Kind,
    i: usize,
) -> Result<(), String> {
    match kind {
        Kind::Int64List(l) => {
            let v = l.value[i].to_string();
            builder.append_value(&v, &v)
        }
        Kind::FloatList(l) => {
            let v = f64::from(l.value[i]).to_string();
            if ty == WarehouseType::Int64 {
                return Err(format!("{v} is a float_list value, not an INT64"));
            }
            builder.append_value(&v, &v)
        }
        Kind::BytesList(l) => builder.append_binary(&l.value[i]),
    }
}

struct Reader {
    input: BoxStream<'static, Result<Bytes>>,
    framer: Framer,
    eof: bool,
    columns: Vec<Column>,
    path: String,
}

impl BatchSource for Reader {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut builders: Vec<Builder> = self.columns.iter().map(Builder::for_column).collect();
        let mut rows = 0;
        while rows < BATCH_ROWS {
            if let Some(record) = self.framer.next_record()? {
                let example = decode(&self.path, &record)?;
                let features = example.features.map(|f| f.feature).unwrap_or_default();
                for (c, b) in self.columns.iter().zip(builders.iter_mut()) {
                    append(b, c.ty, features.get(c.source_name())).map_err(|message| {
                        Error::Parse {
                            path: self.path.clone(),
                            line: None,
                            column: Some(c.name.clone()),
                            message: format!(
                                "record {} at byte offset {}: {message}",
                                record.index, record.offset
                            ),
                            hint: Some(
                                Hint::text(
                                    "change the column's type in the job's schema, or fix the record",
                                )
                                .into(),
                            ),
                        }
                    })?;
                }
                rows += 1;
                continue;
            }
            if self.eof {
                self.framer.finish()?;
                break;
            }
            match self.input.next().await {
                Some(chunk) => self.framer.push(&chunk?),
                None => self.eof = true,
            }
        }
        Builder::batch(builders, rows, &self.columns, &self.path)
    }
}

#[cfg(test)]
mod tests;
