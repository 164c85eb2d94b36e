//! Streaming a CSV file through arrow-csv's push decoder, chunk by chunk, into batches of
//! the job's column types.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, StringBuilder};
use arrow::csv::reader::ReaderBuilder;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bytes::{Buf, Bytes};
use futures::stream::BoxStream;

use super::errors::locate_error;
use super::layout::{self, Layout};
use super::text::Text;
use super::{CsvOptions, numbers};
use crate::format::{BATCH_ROWS, BatchSource, BatchStream, batch_stream};
use crate::schema::{Column, WarehouseType, arrow_schema};
use crate::{Error, Result};

/// Streams a CSV file as record batches of `columns`' types.
pub fn read(
    bytes: BoxStream<'static, Result<Bytes>>,
    options: &CsvOptions,
    columns: &[Column],
    path: &str,
) -> BatchStream {
    read_lenient(bytes, options, columns, path, false)
}

/// [`read`], keeping records of the wrong width as marked rows ([`super::BAD_RECORD`])
/// when `lenient`, for the job to quarantine.
pub fn read_lenient(
    bytes: BoxStream<'static, Result<Bytes>>,
    options: &CsvOptions,
    columns: &[Column],
    path: &str,
    lenient: bool,
) -> BatchStream {
    let decimal_comma = options.decimal_comma == Some(true);
    // Numbers with a decimal comma are read as text and rewritten before they are cast.
    let read_as: Vec<Column> = columns
        .iter()
        .map(|c| match c.ty {
            WarehouseType::Float64 | WarehouseType::Numeric if decimal_comma => Column {
                ty: WarehouseType::String,
                ..c.clone()
            },
            _ => c.clone(),
        })
        .collect();
    let mut state = CsvStream {
        text: Text::start(bytes, options, columns.len(), path, lenient),
        buf: Bytes::new(),
        eof: false,
        decoder: None,
        layout: None,
        options: options.clone(),
        read_as,
        path: path.to_string(),
        names: columns.iter().map(|c| c.name.clone()).collect(),
        columns: columns.to_vec(),
        decimal_comma,
        rows_before: 0,
        header: options.header(),
        delimiter: options.delimiter.unwrap_or(','),
    };
    if !state.header {
        // Without a header columns are positional: the file's first is the job's first.
        state.decoder = Some(state.decoder_for(arrow_schema(&state.read_as), None));
    }
    batch_stream(state)
}

/// The regex of cells arrow-csv reads as NULL: the empty cell and each marker.
pub(crate) fn null_regex(markers: &[String]) -> Option<regex::Regex> {
    if markers.is_empty() {
        return None;
    }
    let alternatives: Vec<String> = markers.iter().map(|m| regex::escape(m)).collect();
    regex::Regex::new(&format!("^(?:|{})$", alternatives.join("|"))).ok()
}

struct CsvStream {
    /// The file's text as checked UTF-8, read ahead.
    text: Text,
    buf: Bytes,
    eof: bool,
    /// Made once the header is read (at once for a file without one).
    decoder: Option<arrow::csv::reader::Decoder>,
    /// Where the file holds the job's columns, when not where the job has them.
    layout: Option<Layout>,
    options: CsvOptions,
    /// The job's columns as decoded (numbers with a decimal comma as text).
    read_as: Vec<Column>,
    path: String,
    names: Vec<String>,
    columns: Vec<Column>,
    decimal_comma: bool,
    rows_before: u64,
    header: bool,
    delimiter: char,
}

impl BatchSource for CsvStream {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.decoder.is_none() {
            self.read_header().await?;
        }
        let mut decoder = self.decoder.take().expect("made above");
        let batch = self.decode(&mut decoder).await;
        self.decoder = Some(decoder);
        let Some(batch) = batch? else {
            return Ok(None);
        };
        let batch = match &self.layout {
            Some(layout) => layout.arrange(&batch, &self.read_as, &self.path)?,
            None => batch,
        };
        let batch = if self.decimal_comma {
            self.rewrite_numbers(batch)?
        } else {
            batch
        };
        self.rows_before += batch.num_rows() as u64;
        Ok(Some(batch))
    }
}

impl CsvStream {
    /// Decodes the file's next batch.
    async fn decode(
        &mut self,
        decoder: &mut arrow::csv::reader::Decoder,
    ) -> Result<Option<RecordBatch>> {
        loop {
            if decoder.capacity() == 0 {
                break;
            }
            if self.buf.is_empty() {
                if self.eof {
                    // Ends a last record that has no trailing newline.
                    decoder.decode(&[]).map_err(|e| self.error(e))?;
                    break;
                }
                self.buf = self.next_text().await?;
                continue;
            }
            let n = decoder.decode(&self.buf).map_err(|e| self.error(e))?;
            self.buf.advance(n);
        }
        decoder.flush().map_err(|e| self.error(e))
    }

    /// The next chunk of the file's text; empty at its end.
    async fn next_text(&mut self) -> Result<Bytes> {
        match self.text.next().await? {
            Some(chunk) => Ok(chunk),
            None => {
                self.eof = true;
                Ok(Bytes::new())
            }
        }
    }

    /// Reads up to the end of the header line, and makes the decoder for the columns it
    /// names: as the job's when they are the job's in its order, else by name.
    async fn read_header(&mut self) -> Result<()> {
        let mut head = bytes::BytesMut::new();
        let names = loop {
            if let Some(names) = layout::header(&head, &self.options, self.eof) {
                break Some(names);
            }
            if self.eof {
                break None;
            }
            let text = self.next_text().await?;
            head.extend_from_slice(&text);
        };
        let layout = names
            .map(|n| Layout::of(n, &self.columns))
            .filter(|l| !l.is_identity());
        let decoder = match &layout {
            Some(layout) => {
                let (schema, projection) = layout.decoding(&self.read_as);
                self.names = layout.file_names.clone();
                self.decoder_for(schema, Some(projection))
            }
            None => self.decoder_for(arrow_schema(&self.read_as), None),
        };
        self.decoder = Some(decoder);
        self.layout = layout;
        self.buf = head.freeze();
        Ok(())
    }

    fn decoder_for(
        &self,
        schema: arrow::datatypes::SchemaRef,
        projection: Option<Vec<usize>>,
    ) -> arrow::csv::reader::Decoder {
        let options = &self.options;
        let mut builder = ReaderBuilder::new(schema)
            .with_header(options.header())
            .with_delimiter(options.delimiter_byte())
            .with_quote(options.quote_byte())
            .with_batch_size(BATCH_ROWS);
        if let Some(projection) = projection {
            builder = builder.with_projection(projection);
        }
        if let Some(escape) = options.escape {
            builder = builder.with_escape(escape as u8);
        }
        if let Some(comment) = options.comment {
            builder = builder.with_comment(comment as u8);
        }
        if let Some(regex) = null_regex(options.null_markers()) {
            builder = builder.with_null_regex(regex);
        }
        builder.build_decoder()
    }

    /// Numbers written with a decimal comma, as the job's FLOAT64 and NUMERIC columns.
    fn rewrite_numbers(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (i, c) in self.columns.iter().enumerate() {
            let array = batch.column(i);
            if !matches!(c.ty, WarehouseType::Float64 | WarehouseType::Numeric) {
                arrays.push(Arc::clone(array));
                continue;
            }
            let text = array.as_string::<i32>();
            let mut rewritten = StringBuilder::new();
            for (row, value) in text.iter().enumerate() {
                match value {
                    None => rewritten.append_null(),
                    Some(v) => match numbers::decimal_comma(v) {
                        Some(n) => rewritten.append_value(n),
                        // `12` or `-3` are numbers either way.
                        None if v.trim().parse::<i64>().is_ok() => rewritten.append_value(v.trim()),
                        None => {
                            return Err(Error::Parse {
                                path: self.path.clone(),
                                line: Some(self.line_of(row)),
                                column: Some(c.name.clone()),
                                message: format!(
                                    "'{}' is not a number with a decimal comma",
                                    crate::error::excerpt(v)
                                ),
                                hint: Some(super::fix_or_retype().into()),
                            });
                        }
                    },
                }
            }
            let rewritten: ArrayRef = Arc::new(rewritten.finish());
            let strict = arrow::compute::CastOptions {
                safe: false,
                ..Default::default()
            };
            let cast = arrow::compute::cast_with_options(&rewritten, &c.ty.arrow_type(), &strict)
                .map_err(|e| Error::Parse {
                path: self.path.clone(),
                line: None,
                column: Some(c.name.clone()),
                message: format!("does not fit {}: {e}", c.ty),
                hint: Some(super::fix_or_retype().into()),
            })?;
            arrays.push(cast);
        }
        RecordBatch::try_new(arrow_schema(&self.columns), arrays)
            .map_err(|e| Error::parse(&self.path, e.to_string()))
    }

    /// The file's line of a row of the current batch (exact unless quoted fields hold
    /// line ends).
    fn line_of(&self, row: usize) -> u64 {
        self.rows_before + row as u64 + 1 + u64::from(self.header) + u64::from(self.text.skipped())
    }

    fn error(&self, e: ArrowError) -> Error {
        let mut e = locate_error(&e.to_string(), &self.path, &self.names, self.delimiter);
        if let Error::Parse {
            line: Some(line), ..
        } = &mut e
        {
            *line += u64::from(self.text.skipped());
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::MAX_RECORD_BYTES;
    use crate::schema::WarehouseType::{self, Int64, Timestamp};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
    use futures::{StreamExt, TryStreamExt};

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
    async fn columns_are_found_by_the_headers_names() {
        let columns = vec![
            Column::new("id", Int64),
            Column::new("note", WarehouseType::String),
            Column::new("gone", WarehouseType::String),
        ];
        // Reordered, a column more, one less, and a bad value in a moved column.
        let text: &'static [u8] = b"extra,note,id\nx,\"a, b\",1\ny,c,2\n";
        let batches = read_all(text, &CsvOptions::default(), &columns)
            .await
            .unwrap();
        let b = &batches[0];
        assert_eq!(b.schema().field(0).name(), "id");
        assert_eq!(b.column(0).as_primitive::<Int64Type>().values(), &[1, 2]);
        assert_eq!(b.column(1).as_string::<i32>().value(0), "a, b");
        assert_eq!(b.column(2).null_count(), 2);
        let err = read_all(b"note,id\nc,two\n", &CsvOptions::default(), &columns[..2])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.csv line 2, column 'id': 'two'"), "{err}");
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
            encoding: Some(super::super::Encoding::LATIN1),
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
