//! Entry points for fuzzing: each takes arbitrary bytes and drives one reader the way a file
//! would, returning nothing; a panic (or a hang) is the bug. The fuzz targets in `fuzz/` call
//! these, and the test suite replays the saved corpus through them (`tests/replay.rs`).

use bytes::Bytes;
use futures::StreamExt;

use crate::format::csv::{self, CsvOptions, Encoding};
use crate::format::{Sample, json};
use crate::schema::{Column, WarehouseType, infer::ColumnInference, unique_names};

/// Options chosen by the first byte, so the fuzzer explores given and sniffed settings.
fn csv_options(flags: u8) -> CsvOptions {
    CsvOptions {
        delimiter: match flags & 0b111 {
            1 => Some(','),
            2 => Some('|'),
            3 => Some('\t'),
            4 => Some(';'),
            _ => None,
        },
        quote: (flags & 0b1000 != 0).then_some('\''),
        has_header: match (flags >> 4) & 0b11 {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        },
        encoding: Some(if flags & 0b100_0000 != 0 {
            Encoding::LATIN1
        } else {
            Encoding::UTF8
        }),
        ..Default::default()
    }
}

fn split_flags(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((f, rest)) => (*f, rest),
        None => (0, data),
    }
}

/// Drives a batch stream to its end on a runtime of its own, in small chunks.
fn drain(stream: crate::format::BatchStream) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            if item.is_err() {
                break;
            }
        }
    });
}

fn chunks(data: &[u8]) -> futures::stream::BoxStream<'static, crate::Result<Bytes>> {
    let parts: Vec<crate::Result<Bytes>> = data
        .chunks(97)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(parts).boxed()
}

/// CSV sniffing: the head of a file, whole or cut short.
pub fn csv_sniff(data: &[u8]) {
    let (flags, text) = split_flags(data);
    let size = if flags & 0x80 != 0 {
        text.len() as u64 * 2
    } else {
        text.len() as u64
    };
    let _ = csv::detect(
        &Sample::new(Bytes::copy_from_slice(text), size),
        "fuzz.csv",
        &csv_options(flags),
    );
}

/// CSV reading: what detection settles on, then the whole file streamed in those types.
pub fn csv_read(data: &[u8]) {
    let (flags, text) = split_flags(data);
    let options = csv_options(flags);
    let sample = Sample::new(Bytes::copy_from_slice(text), text.len() as u64);
    let (options, columns) = match csv::detect(&sample, "fuzz.csv", &options) {
        Ok((resolved, schema)) => (resolved, schema.reviewed_columns()),
        Err(_) => (
            options,
            vec![
                Column::new("a", WarehouseType::Int64),
                Column::new("b", WarehouseType::String),
            ],
        ),
    };
    drain(csv::read(chunks(text), &options, &columns, "fuzz.csv"));
}

/// JSON: the record splitter and detection, then the file streamed in the detected types.
pub fn json_records(data: &[u8]) {
    let sample = Sample::new(Bytes::copy_from_slice(data), data.len() as u64);
    let columns = match json::detect(&sample, "fuzz.jsonl") {
        Ok(schema) => schema.reviewed_columns(),
        Err(_) => vec![
            Column::new("a", WarehouseType::Int64),
            Column::new("b", WarehouseType::Json),
        ],
    };
    drain(json::read(chunks(data), &columns, "fuzz.jsonl"));
}

/// Schema inference: values (split at NUL) into one column, lines as column names.
pub fn schema_inference(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut column = ColumnInference::default();
    for value in text.split('\0') {
        column.observe(Some(value));
    }
    let _ = column.finish("c".into());
    let _ = unique_names(text.lines().map(str::to_string));
}
