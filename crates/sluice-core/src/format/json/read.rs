//! Streaming a JSON file as batches of the job's columns, converting each raw value.

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use super::parse_record;
use super::split::RecordSplitter;
use crate::error::Hint;
use crate::format::csv::fix_or_retype;
use crate::format::values::Builder;
use crate::format::{BATCH_ROWS, BatchSource, BatchStream, batch_stream};
use crate::schema::Column;
use crate::{Error, Result};

/// Streams a JSON file as record batches of `columns`' types. Keys not in `columns` are ignored.
pub fn read(
    bytes: BoxStream<'static, Result<Bytes>>,
    columns: &[Column],
    path: &str,
) -> BatchStream {
    read_lenient(bytes, columns, path, false)
}

/// [`read`], keeping a record that is not JSON as a marked row
/// ([`crate::format::csv::BAD_RECORD`]) when `lenient`, for the job to quarantine.
pub fn read_lenient(
    bytes: BoxStream<'static, Result<Bytes>>,
    columns: &[Column],
    path: &str,
    lenient: bool,
) -> BatchStream {
    let state = JsonStream {
        lenient: lenient && columns.iter().any(|c| Builder::for_column(c).is_text()),
        input: bytes,
        splitter: RecordSplitter::new(path),
        eof: false,
        columns: columns.to_vec(),
        path: path.to_string(),
        at_start: true,
    };
    batch_stream(state)
}

struct JsonStream {
    /// A record that is not JSON becomes a marked row (there is a text column to mark).
    lenient: bool,
    input: BoxStream<'static, Result<Bytes>>,
    splitter: RecordSplitter,
    eof: bool,
    columns: Vec<Column>,
    path: String,
    at_start: bool,
}

impl BatchSource for JsonStream {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut builders: Vec<Builder> = self.columns.iter().map(Builder::for_column).collect();
        let mut rows = 0;
        while rows < BATCH_ROWS {
            match self.splitter.next_record() {
                Some(next) => {
                    let (record, line) = next?;
                    let fields = match parse_record(&record, &self.path, line) {
                        Ok(fields) => fields,
                        Err(e) if self.lenient => {
                            let error = match &e {
                                Error::Parse { message, .. } => message.clone(),
                                other => other.to_string(),
                            };
                            let marked =
                                crate::format::csv::mark(&error, &String::from_utf8_lossy(&record));
                            for b in &mut builders {
                                if b.is_text() {
                                    b.append_value(&marked, &marked)
                                        .map_err(|m| Error::parse(&self.path, m))?;
                                } else {
                                    b.append_null();
                                }
                            }
                            rows += 1;
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    for (c, b) in self.columns.iter().zip(builders.iter_mut()) {
                        b.append(fields.get(c.source_name()))
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
        Builder::batch(builders, rows, &self.columns, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::WarehouseType::{Int64, Json, Numeric};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use futures::TryStreamExt;

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
