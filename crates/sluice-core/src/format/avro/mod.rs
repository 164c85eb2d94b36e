//! Avro object container files, read with arrow-avro: every codec it supports (deflate,
//! snappy, zstandard, bzip2, xz), logical types as the warehouse's own (decimal → NUMERIC,
//! date → DATE, timestamp-millis/micros → TIMESTAMP, uuid → STRING), `["null", T]` → a
//! nullable T, and records, arrays, maps and other unions → JSON.
//!
//! The schema comes from the file's header; rows are counted from the block headers
//! (`blocks`) of the sample, without decoding them: exact when the sample is the whole
//! file, else extrapolated. A load streams the file through arrow-avro's reader on a
//! blocking thread, batch by batch, and checks that the bytes ended where a block does,
//! so a file cut short fails instead of loading its first blocks.

mod blocks;

use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use arrow_avro::reader::{ReaderBuilder, read_header_info};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio_util::io::{StreamReader, SyncIoBridge};

use self::blocks::Blocks;
use super::columnar::{Conform, detected_columns, indices_of};
use super::{BATCH_ROWS, BatchStream, Format, FormatInfo, MAX_RECORD_BYTES, SAMPLE_BYTES, Source};
use crate::error::Hint;
use crate::schema::infer::SAMPLE_VALUES;
use crate::schema::{Column, DetectedSchema};
use crate::{Error, Result};

/// Avro object container files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Avro;

/// Avro has no options: its schema is in its header.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvroOptions {}

impl Format for Avro {
    type Options = AvroOptions;

    const INFO: FormatInfo = FormatInfo {
        name: "avro",
        label: "Avro",
        aliases: &[],
        extensions: &["avro"],
        options: &[],
        columns_by_name: true,
        missing_is_null: false,
    };

    async fn detect(
        source: &Source<'_>,
        options: &AvroOptions,
    ) -> Result<(AvroOptions, DetectedSchema)> {
        Ok((options.clone(), detect(source).await?))
    }

    async fn read(
        source: &Source<'_>,
        _options: &AvroOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        read(source, columns).await
    }
}

fn invalid(path: &str, e: impl std::fmt::Display) -> Error {
    Error::Parse {
        path: path.into(),
        line: None,
        column: None,
        message: format!("not a valid Avro file: {e}"),
        hint: Some(
            Hint::text(
                "check that the file is an Avro object container file and completely written",
            )
            .into(),
        ),
    }
}

fn header_len(path: &str, bytes: &[u8]) -> Result<u64> {
    read_header_info(Cursor::new(bytes))
        .map(|h| h.header_len())
        .map_err(|e| invalid(path, e))
}

/// The schema from the header; rows from the block headers; sample values from the first
/// block.
async fn detect(source: &Source<'_>) -> Result<DetectedSchema> {
    let path = source.path();
    let mut sample = source.head(SAMPLE_BYTES).await?;
    let mut header = header_len(path, &sample.bytes)?;
    let mut blocks = Blocks::new(header);
    blocks.feed(&sample.bytes);
    if blocks.blocks == 0
        && !sample.complete
        && let Some(end) = blocks.block_end()
    {
        // The first block is larger than the sample: read up to its end.
        if end > MAX_RECORD_BYTES as u64 {
            return Err(invalid(
                path,
                format!(
                    "its first block takes {end} bytes, past the {MAX_RECORD_BYTES}-byte limit"
                ),
            ));
        }
        sample = source.head(end).await?;
        header = header_len(path, &sample.bytes)?;
        blocks = Blocks::new(header);
        blocks.feed(&sample.bytes);
    }
    if let Some(why) = &blocks.invalid {
        return Err(invalid(path, why));
    }
    if sample.complete && !blocks.at_boundary() {
        return Err(truncated(path, &blocks));
    }
    let whole = &sample.bytes[..blocks.boundary as usize];
    let mut reader = ReaderBuilder::new()
        .with_batch_size(SAMPLE_VALUES * 20)
        .build(Cursor::new(whole))
        .map_err(|e| invalid(path, e))?;
    let schema = reader.schema();
    let first = reader.next().transpose().map_err(|e| invalid(path, e))?;
    let columns = detected_columns(&schema, first.as_ref(), path)?;
    let (rows, estimated) = if sample.complete {
        (blocks.rows, false)
    } else {
        // Rows per byte of the complete blocks, over the sample, over the file.
        let in_sample =
            blocks.rows as f64 * sample.bytes.len() as f64 / blocks.boundary.max(1) as f64;
        (sample.estimate_rows(in_sample.round() as u64), true)
    };
    Ok(DetectedSchema::new(
        columns,
        rows,
        estimated,
        sample.file_size(),
    ))
}

fn truncated(path: &str, blocks: &Blocks) -> Error {
    Error::Parse {
        path: path.into(),
        line: None,
        column: None,
        message: format!(
            "the file ends inside block {} (which starts at byte {}); it was cut short or is still being written",
            blocks.blocks + 1,
            blocks.boundary
        ),
        hint: Some(Hint::text("load it again once it is completely written").into()),
    }
}

/// The bytes arrow-avro reads, walked block by block on the way, and the first error of
/// the stream beneath kept as it was (a changed file, a storage failure).
struct Walked<R> {
    inner: R,
    blocks: Arc<Mutex<Option<Blocks>>>,
    header: Vec<u8>,
    failure: Arc<Mutex<Option<std::io::Error>>>,
}

impl<R: Read> Read for Walked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                let kept = std::io::Error::new(e.kind(), e.to_string());
                *self.failure.lock().expect("not poisoned") = Some(e);
                return Err(kept);
            }
        };
        let mut blocks = self.blocks.lock().expect("not poisoned");
        match blocks.as_mut() {
            Some(b) => b.feed(&buf[..n]),
            None => {
                // The header's length is known once it has passed.
                self.header.extend_from_slice(&buf[..n]);
                if let Ok(info) = read_header_info(Cursor::new(&self.header)) {
                    let mut b = Blocks::new(info.header_len());
                    b.feed(&std::mem::take(&mut self.header));
                    *blocks = Some(b);
                }
            }
        }
        Ok(n)
    }
}

/// Streams the file as batches of `columns`.
async fn read(source: &Source<'_>, columns: &[Column]) -> Result<BatchStream> {
    let path = source.path().to_string();
    let bytes = source.stream().await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let columns = columns.to_vec();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = stream_blocking(bytes, &columns, &path, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Ok(super::until_error(futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )))
}

fn stream_blocking(
    bytes: BoxStream<'static, Result<Bytes>>,
    columns: &[Column],
    path: &str,
    tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let blocks = Arc::new(Mutex::new(None));
    let failure = Arc::new(Mutex::new(None));
    let reader = StreamReader::new(bytes.map_err(std::io::Error::other));
    let walked = Walked {
        inner: SyncIoBridge::new(reader),
        blocks: Arc::clone(&blocks),
        header: Vec::new(),
        failure: Arc::clone(&failure),
    };
    // The first error of the store beneath, as it was; else arrow-avro's.
    let fail = |e: &dyn std::fmt::Display| -> Error {
        match failure.lock().expect("not poisoned").take() {
            Some(io) => match io.into_inner().map(|i| i.downcast::<Error>()) {
                Some(Ok(core)) => *core,
                Some(Err(other)) => invalid(path, other),
                None => invalid(path, e),
            },
            None => invalid(path, e),
        }
    };
    let buffered: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 20, walked));
    let reader = ReaderBuilder::new()
        .with_batch_size(BATCH_ROWS)
        .build(buffered)
        .map_err(|e| fail(&e))?;
    let indices = indices_of(&reader.schema(), columns, path)?;
    let mut conform = Conform::new(columns, indices, path);
    for batch in reader {
        let batch = batch.map_err(|e| fail(&e))?;
        if tx.blocking_send(conform.batch(&batch)).is_err() {
            // The load stopped reading.
            return Ok(());
        }
    }
    if failure.lock().expect("not poisoned").is_some() {
        return Err(fail(&"the read failed"));
    }
    let blocks = blocks.lock().expect("not poisoned");
    match blocks.as_ref() {
        Some(b) if b.at_boundary() => Ok(()),
        Some(b) => Err(match &b.invalid {
            Some(why) => invalid(path, why),
            None => truncated(path, b),
        }),
        None => Err(invalid(path, "the file ends inside its header")),
    }
}

#[cfg(test)]
mod tests;
