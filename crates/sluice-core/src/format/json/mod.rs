//! JSON: newline-delimited objects (JSONL) or one array of objects, read as a stream.
//!
//! Records are split by a small scanner that tracks strings and nesting (`split`), so a
//! file never has to fit in memory and errors name the line a record starts on. Field values
//! are kept as raw JSON text until they are converted (`read`), so large numbers keep every
//! digit and nested values load as their JSON text. Detection (`detect`) types each key
//! from the values of the sample.

mod detect;
mod read;
mod split;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use self::detect::detect;
pub use self::read::read;
use super::{BatchStream, Format, FormatInfo, SAMPLE_BYTES, Source};
use crate::error::Hint;
use crate::schema::{Column, DetectedSchema};
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
        columns_by_name: true,
        missing_is_null: true,
    };

    async fn detect(
        source: &Source<'_>,
        options: &JsonOptions,
    ) -> Result<(JsonOptions, DetectedSchema)> {
        let sample = source.head(SAMPLE_BYTES).await?;
        Ok((
            options.clone(),
            detect::detect_lenient(&sample, source.path(), source.is_lenient())?,
        ))
    }

    async fn read(
        source: &Source<'_>,
        _options: &JsonOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        Ok(read::read_lenient(
            source.stream().await?,
            columns,
            source.path(),
            source.is_lenient(),
        ))
    }
}

/// A record's fields in the order the file writes them, and by name.
pub(crate) struct Fields<'a> {
    pub ordered: Vec<(String, &'a RawValue)>,
    by_name: HashMap<String, usize>,
}

impl<'a> Fields<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.by_name.get(name).map(|&i| self.ordered[i].1)
    }
}

/// One JSON object read as `(key, raw value)` pairs in order, in one pass.
struct Pairs<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> std::result::Result<Pairs<'a>, M::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// Parses one record: an object whose keys are unique.
pub(crate) fn parse_record<'a>(record: &'a [u8], path: &str, line: u64) -> Result<Fields<'a>> {
    let Pairs(ordered) = serde_json::from_slice::<Pairs<'a>>(record).map_err(|e| Error::Parse {
        path: path.into(),
        line: Some(line + e.line() as u64 - 1),
        column: None,
        message: format!("not a JSON object: {e}"),
        hint: Some(
            Hint::text("each record must be an object, one per line (JSONL) or inside one array")
                .into(),
        ),
    })?;
    let mut by_name = HashMap::with_capacity(ordered.len());
    for (i, (k, _)) in ordered.iter().enumerate() {
        if by_name.insert(k.clone(), i).is_some() {
            return Err(Error::Parse {
                path: path.into(),
                line: Some(line),
                column: Some(crate::error::excerpt(k)),
                message: "the record has this key twice".into(),
                hint: Some(Hint::text("write each key once per record").into()),
            });
        }
    }
    Ok(Fields { ordered, by_name })
}
