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

pub(crate) type Fields<'a> = HashMap<String, &'a RawValue>;

pub(crate) fn parse_record<'a>(record: &'a [u8], path: &str, line: u64) -> Result<Fields<'a>> {
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
