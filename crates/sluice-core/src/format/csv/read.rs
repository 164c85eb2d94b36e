//! Streaming a CSV file through arrow-csv's push decoder, chunk by chunk, into batches of
//! the job's column types.

use arrow::csv::reader::{Decoder, ReaderBuilder};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bytes::{Buf, Bytes};
use futures::stream::{BoxStream, StreamExt};

use super::errors::locate_error;
use super::quotes::QuoteTracker;
use super::sniff::unclosed_quote;
use super::{CsvOptions, Encoding};
use crate::format::{BATCH_ROWS, BatchSource, BatchStream, MAX_RECORD_BYTES, batch_stream};
use crate::schema::{Column, arrow_schema};
use crate::{Error, Result};

/// Streams a CSV file as record batches of `columns`' types.
pub fn read(
    bytes: BoxStream<'static, Result<Bytes>>,
    options: &CsvOptions,
    columns: &[Column],
    path: &str,
) -> BatchStream {
    let decoder = ReaderBuilder::new(arrow_schema(columns))
        .with_header(options.header())
        .with_delimiter(options.delimiter_byte())
        .with_quote(options.quote_byte())
        .with_batch_size(BATCH_ROWS)
        .build_decoder();
    let state = CsvStream {
        input: bytes,
        buf: Bytes::new(),
        eof: false,
        at_start: true,
        decoder,
        latin1: (options.encoding == Encoding::Latin1)
            .then(|| encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling()),
        path: path.to_string(),
        names: columns.iter().map(|c| c.name.clone()).collect(),
        delimiter: options.delimiter.unwrap_or(','),
        quote: options.quote.unwrap_or('"'),
        quotes: QuoteTracker::new(options.delimiter_byte(), options.quote_byte()),
        line_bytes: 0,
    };
    batch_stream(state)
}

struct CsvStream {
    input: BoxStream<'static, Result<Bytes>>,
    buf: Bytes,
    eof: bool,
    at_start: bool,
    decoder: Decoder,
    latin1: Option<encoding_rs::Decoder>,
    path: String,
    names: Vec<String>,
    delimiter: char,
    quote: char,
    /// Follows the quoting, to refuse a quote that never closes.
    quotes: QuoteTracker,
    /// Bytes since the last line end, to refuse a line that never ends.
    line_bytes: usize,
}

impl BatchSource for CsvStream {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.decoder.capacity() == 0 {
                break;
            }
            if self.buf.is_empty() {
                if self.eof {
                    // Ends a last record that has no trailing newline.
                    self.decoder.decode(&[]).map_err(|e| self.error(e))?;
                    break;
                }
                match self.input.next().await {
                    Some(chunk) => {
                        let chunk = self.prepare(chunk?);
                        self.check(&chunk)?;
                        self.buf = chunk;
                    }
                    None => {
                        self.eof = true;
                        if let Some(line) = self.quotes.unclosed() {
                            return Err(unclosed_quote(&self.path, line, self.quote));
                        }
                    }
                }
                continue;
            }
            let n = self.decoder.decode(&self.buf).map_err(|e| self.error(e))?;
            self.buf.advance(n);
        }
        self.decoder.flush().map_err(|e| self.error(e))
    }
}

impl CsvStream {
    /// Strips a UTF-8 byte-order mark and turns Latin-1 into UTF-8, chunk by chunk.
    fn prepare(&mut self, chunk: Bytes) -> Bytes {
        let chunk = if std::mem::take(&mut self.at_start)
            && chunk.starts_with(b"\xEF\xBB\xBF")
            && self.latin1.is_none()
        {
            chunk.slice(3..)
        } else {
            chunk
        };
        match &mut self.latin1 {
            None => chunk,
            Some(decoder) => {
                let mut out = String::with_capacity(
                    decoder
                        .max_utf8_buffer_length(chunk.len())
                        .unwrap_or(chunk.len() * 3),
                );
                let _ = decoder.decode_to_string(&chunk, &mut out, false);
                Bytes::from(out)
            }
        }
    }

    /// Follows the quoting of the next bytes, and refuses a line longer than
    /// [`MAX_RECORD_BYTES`] before it is buffered.
    fn check(&mut self, chunk: &[u8]) -> Result<()> {
        self.quotes.feed(chunk);
        match memchr::memrchr(b'\n', chunk) {
            Some(last) => self.line_bytes = chunk.len() - last - 1,
            None => self.line_bytes += chunk.len(),
        }
        if self.line_bytes > MAX_RECORD_BYTES {
            return Err(Error::Parse {
                path: self.path.clone(),
                line: Some(self.quotes.line()),
                column: None,
                message: format!(
                    "the line runs on for more than {} MiB without a line end",
                    MAX_RECORD_BYTES >> 20
                ),
                hint: Some(
                    crate::error::Hint::text("check that the file is text with line ends (CSV)")
                        .into(),
                ),
            });
        }
        Ok(())
    }

    fn error(&self, e: ArrowError) -> Error {
        locate_error(&e.to_string(), &self.path, &self.names, self.delimiter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::WarehouseType::{self, Int64, Timestamp};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
    use futures::TryStreamExt;

    async fn read_all(
        text: &'static [u8],
        options: &CsvOptions,
        columns: &[Column],
    ) -> Result<Vec<RecordBatch>> {
        // Split into small chunks so records straddle chunk boundaries.
        let chunks: Vec<Result<Bytes>> = text
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        read(
            futures::stream::iter(chunks).boxed(),
            options,
            columns,
            "t.csv",
        )
        .try_collect()
        .await
    }

    #[tokio::test]
    async fn reads_typed_batches_across_chunk_boundaries() {
        let columns = vec![
            Column::new("id", Int64),
            Column::new("at", Timestamp),
            Column::new("note", WarehouseType::String),
        ];
        let text: &'static [u8] =
            b"id,at,note\n1,2024-01-01T10:00:00+02:00,\"a, b\"\n2,2024-01-01 08:00:00,\n3,,x";
        let opts = CsvOptions {
            has_header: Some(true),
            ..Default::default()
        };
        let batches = read_all(text, &opts, &columns).await.unwrap();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        assert_eq!(batch.num_rows(), 3);
        let at = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        // 10:00+02:00 and 08:00 (no offset, read as UTC) are the same instant.
        assert_eq!(at.value(0), at.value(1));
        assert!(at.is_null(2));
        let note = batch.column(2).as_string::<i32>();
        assert_eq!(note.value(0), "a, b");
        assert!(note.is_null(1), "empty cells are NULL");
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(2), 3);
    }

    #[tokio::test]
    async fn a_bad_value_names_the_file_line_and_column() {
        let columns = vec![Column::new("id", Int64), Column::new("qty", Int64)];
        let text: &'static [u8] = b"id,qty\n1,2\n2,3\n3,three\n";
        let err = read_all(text, &CsvOptions::default(), &columns)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "t.csv line 4, column 'qty': 'three' is not a valid INT64 — fix the file, or change the column's type in the job's schema"
        );
    }

    #[tokio::test]
    async fn a_bad_value_is_quoted_in_part_only() {
        let columns = vec![Column::new("n", Int64)];
        let text: &'static [u8] =
            Box::leak(format!("n\n1\n{}\n", "9x".repeat(5_000)).into_boxed_str()).as_bytes();
        let err = read_all(text, &CsvOptions::default(), &columns)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.len() < 600, "{} bytes: {err}", err.len());
        assert!(err.contains("(10000 bytes in all)"), "{err}");
    }

    #[tokio::test]
    async fn a_ragged_record_names_its_line_when_streaming() {
        let columns = vec![Column::new("a", Int64), Column::new("b", Int64)];
        let text: &'static [u8] = b"a,b\n1,2\n3,4\n5,6,7\n";
        let err = read_all(text, &CsvOptions::default(), &columns)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.csv line 4: expected 2 fields, found 3"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_quote_that_never_closes_is_an_error_not_a_swallowed_file() {
        let columns = vec![
            Column::new("id", Int64),
            Column::new("note", WarehouseType::String),
        ];
        let text: &'static [u8] = b"id,note\n1,\"a\"\n2,\"b\n3,c\n4,d\n";
        let err = read_all(text, &CsvOptions::default(), &columns)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.csv line 3: a field quoted with \" opens here and never closes"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_line_without_end_is_refused_before_it_fills_memory() {
        let columns = vec![Column::new("a", WarehouseType::String)];
        let chunk = Bytes::from(vec![b'x'; 1 << 20]);
        let chunks = std::iter::once(Bytes::from_static(b"a\n"))
            .chain(std::iter::repeat_n(chunk, (MAX_RECORD_BYTES >> 20) + 2))
            .map(Ok::<Bytes, Error>);
        let err = read(
            futures::stream::iter(chunks).boxed(),
            &CsvOptions::default(),
            &columns,
            "big.csv",
        )
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("big.csv line 2: the line runs on for more than 64 MiB"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn latin1_is_decoded_while_streaming() {
        let columns = vec![
            Column::new("id", Int64),
            Column::new("name", WarehouseType::String),
        ];
        let text: &'static [u8] = include_bytes!("../../../../../testdata/csv/latin1.csv");
        let opts = CsvOptions {
            encoding: Encoding::Latin1,
            ..Default::default()
        };
        let batches = read_all(text, &opts, &columns).await.unwrap();
        let names: Vec<&str> = batches
            .iter()
            .flat_map(|b| b.column(1).as_string::<i32>().iter().flatten())
            .collect();
        assert!(names.contains(&"Zoë"), "{names:?}");
        assert!(names.contains(&"François"), "{names:?}");
    }
}
