//! Batches → one Parquet file, written as a stream: row groups are encoded in memory and
//! appended to a buffer the upload drains a chunk at a time, so memory holds a chunk and a
//! row group whatever the file's size.
//!
//! Each column is written in its type's Arrow type ([`WarehouseType::arrow_type`]), which
//! the Parquet writer turns into the Parquet type of [`PARQUET_MAP`](super::types::PARQUET_MAP):
//! the values BigQuery loads are the ones `write_ndjson` would have sent. Values that
//! `write_ndjson` refuses (a NULL in a REQUIRED column or inside an array, a column of
//! another type) are refused here with its message.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use sluice_core::schema::{Column, Mode, UTC, WarehouseType};

use super::rows::write_ndjson;

/// The Parquet file of one upload, being written.
pub struct ParquetRows {
    writer: ArrowWriter<Vec<u8>>,
    schema: SchemaRef,
}

impl ParquetRows {
    /// A file with `columns`, compressed with zstd, whose row groups are closed at about
    /// `row_group_bytes` (encoded): a group's rows are held in memory until then.
    ///
    /// # Errors
    /// When the Parquet writer does not take the columns' schema.
    pub fn new(columns: &[Column], row_group_bytes: usize) -> Result<Self, String> {
        let schema = file_schema(columns);
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_bytes(Some(row_group_bytes))
            // BigQuery reads every row: statistics and page indexes would only add bytes.
            .set_statistics_enabled(EnabledStatistics::None)
            .set_offset_index_disabled(true)
            .build();
        let options = ArrowWriterOptions::new()
            .with_properties(properties)
            .with_skip_arrow_metadata(true);
        let writer = ArrowWriter::try_new_with_options(Vec::new(), schema.clone(), options)
            .map_err(|e| e.to_string())?;
        Ok(Self { writer, schema })
    }

    /// Adds the rows of `batch` (the first counted as `first_row + 1` in messages).
    ///
    /// # Errors
    /// As [`write_ndjson`] for the same batch, and when the writer fails.
    pub fn write(
        &mut self,
        batch: &RecordBatch,
        columns: &[Column],
        first_row: u64,
    ) -> Result<(), String> {
        let shaped = shape(batch, columns, &self.schema, first_row)?;
        self.writer.write(&shaped).map_err(|e| e.to_string())
    }

    /// The bytes written and not yet taken: the upload sends and drains them.
    pub fn ready(&mut self) -> &mut Vec<u8> {
        // The writer counts its offsets itself; taking bytes out of its sink is safe.
        self.writer.inner_mut()
    }

    /// Writes the last row group and the footer into [`Self::ready`].
    ///
    /// # Errors
    /// When the writer fails.
    pub fn finish(&mut self) -> Result<(), String> {
        self.writer.finish().map(|_| ()).map_err(|e| e.to_string())
    }
}

/// The file's Arrow schema: each column as its type's Arrow type, REQUIRED columns not
/// nullable, arrays as lists whose items are named `element` (the Parquet LIST
/// specification's name, which BigQuery's list inference reads as the array's values).
pub fn file_schema(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| {
                let ty = if c.mode == Mode::Repeated {
                    DataType::List(Arc::new(Field::new("element", c.ty.arrow_type(), true)))
                } else {
                    c.ty.arrow_type()
                };
                Field::new(&c.name, ty, c.mode != Mode::Required)
            })
            .collect::<Vec<_>>(),
    ))
}

/// Why a batch cannot be written as it is.
enum Refused {
    /// `write_ndjson` refuses it too, and says why.
    AsNdjson,
    Message(String),
}

/// `batch` in the file's schema. What `write_ndjson` accepts is accepted: strings in any
/// of Arrow's layouts, decimals of any precision and scale, microseconds in any zone
/// (read as UTC, as `write_ndjson` does).
fn shape(
    batch: &RecordBatch,
    columns: &[Column],
    schema: &SchemaRef,
    first_row: u64,
) -> Result<RecordBatch, String> {
    let refused = if batch.num_columns() == columns.len() {
        let shaped: Result<Vec<ArrayRef>, Refused> = columns
            .iter()
            .zip(schema.fields())
            .enumerate()
            .map(|(i, (c, field))| shape_column(batch.column(i), c, field))
            .collect();
        match shaped {
            Ok(arrays) => {
                return RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string());
            }
            Err(r) => r,
        }
    } else {
        Refused::AsNdjson
    };
    match refused {
        Refused::Message(m) => Err(m),
        Refused::AsNdjson => {
            // The refusal names the first row and column at fault, as an NDJSON upload did.
            write_ndjson(batch, columns, first_row, &mut Vec::new())?;
            Err("the batch does not have the table's columns".to_string())
        }
    }
}

fn shape_column(array: &ArrayRef, col: &Column, field: &Field) -> Result<ArrayRef, Refused> {
    if col.mode == Mode::Required && array.null_count() > 0 {
        return Err(Refused::AsNdjson);
    }
    if col.mode != Mode::Repeated {
        return shape_values(array, col);
    }
    let (Some(list), DataType::List(item)) = (array.as_list_opt::<i32>(), field.data_type()) else {
        return Err(Refused::AsNdjson);
    };
    // BigQuery's arrays hold no NULL (a NULL array, by contrast, reads back empty).
    if list.values().null_count() > 0
        && (0..list.len()).any(|r| list.is_valid(r) && list.value(r).null_count() > 0)
    {
        return Err(Refused::AsNdjson);
    }
    let values = shape_values(list.values(), col)?;
    ListArray::try_new(
        item.clone(),
        list.offsets().clone(),
        values,
        list.nulls().cloned(),
    )
    .map(|l| Arc::new(l) as ArrayRef)
    .map_err(|e| Refused::Message(format!("column {}: {e}", col.name)))
}

/// Values of a column (or of its arrays) in the Arrow type of the column's type.
fn shape_values(array: &ArrayRef, col: &Column) -> Result<ArrayRef, Refused> {
    let target = col.ty.arrow_type();
    if *array.data_type() == target {
        return Ok(array.clone());
    }
    use WarehouseType as W;
    match (col.ty, array.data_type()) {
        (W::String | W::Json, DataType::LargeUtf8 | DataType::Utf8View)
        | (W::Numeric, DataType::Decimal128(_, _)) => {
            // Not `safe`: a value the target cannot hold fails instead of becoming NULL.
            let options = CastOptions {
                safe: false,
                ..Default::default()
            };
            cast_with_options(array, &target, &options)
                .map_err(|e| Refused::Message(format!("column {}: {e}", col.name)))
        }
        (W::Timestamp, DataType::Timestamp(TimeUnit::Microsecond, _)) => Ok(Arc::new(
            array
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone(UTC),
        )),
        _ => Err(Refused::AsNdjson),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, LargeStringArray, StringArray, TimestampMicrosecondArray};
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use sluice_core::schema::arrow_schema;

    use super::*;

    const ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;

    fn read_back(bytes: Vec<u8>) -> Vec<RecordBatch> {
        ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn rows_are_drained_as_row_groups_fill_and_the_file_reads_back() {
        let columns = [
            Column::new("id", WarehouseType::Int64),
            Column::new("note", WarehouseType::String),
        ];
        let mut file = ParquetRows::new(&columns, ROW_GROUP_BYTES).unwrap();
        let mut sent = Vec::new();
        let mut most_held = 0;
        // Text that compresses little: 24 MB of it, more than one row group.
        let mut seed: u64 = 7;
        for b in 0..24i64 {
            let ids: Vec<i64> = (b * 1000..(b + 1) * 1000).collect();
            let notes: Vec<String> = ids
                .iter()
                .map(|_| {
                    (0..1000)
                        .map(|_| {
                            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                            char::from(b'a' + (seed >> 60) as u8)
                        })
                        .collect()
                })
                .collect();
            let batch = RecordBatch::try_new(
                arrow_schema(&columns),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(notes)),
                ],
            )
            .unwrap();
            file.write(&batch, &columns, 0).unwrap();
            most_held = most_held.max(file.ready().len());
            sent.append(file.ready());
        }
        // Row groups were handed over while rows were still coming.
        assert!(sent.len() > ROW_GROUP_BYTES / 2, "{} bytes", sent.len());
        file.finish().unwrap();
        sent.append(file.ready());
        assert!(
            most_held < 2 * ROW_GROUP_BYTES,
            "the buffer held {most_held} bytes"
        );
        let groups = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(sent.clone()))
            .unwrap()
            .metadata()
            .num_row_groups();
        assert!(groups >= 2, "{groups} row groups");
        let back = read_back(sent);
        let rows: usize = back.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 24_000);
        let ids = back[0]
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(ids.value(0), 0);
    }

    #[test]
    fn other_arrow_layouts_of_a_type_are_written_as_its_own() {
        let columns = [
            Column::new("s", WarehouseType::String),
            Column::new("t", WarehouseType::Timestamp),
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::LargeUtf8, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(LargeStringArray::from(vec!["é"])),
                Arc::new(TimestampMicrosecondArray::from(vec![1_732_003_200_000_001])),
            ],
        )
        .unwrap();
        let mut file = ParquetRows::new(&columns, ROW_GROUP_BYTES).unwrap();
        file.write(&batch, &columns, 0).unwrap();
        file.finish().unwrap();
        let back = read_back(std::mem::take(file.ready()));
        assert_eq!(back[0].column(0).as_string::<i32>().value(0), "é");
        let t = back[0].column(1).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(t.value(0), 1_732_003_200_000_001);
        // Written as an instant in UTC (the reader names the zone "UTC").
        assert_eq!(
            back[0].schema().field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn what_ndjson_refuses_is_refused_with_its_message() {
        let mut required = Column::new("id", WarehouseType::Int64);
        required.mode = Mode::Required;
        let batch = RecordBatch::try_new(
            arrow_schema(std::slice::from_ref(&required)),
            vec![Arc::new(Int64Array::from(vec![Some(1), None]))],
        )
        .unwrap();
        let mut file = ParquetRows::new(std::slice::from_ref(&required), ROW_GROUP_BYTES).unwrap();
        let err = file.write(&batch, &[required], 100).unwrap_err();
        assert_eq!(err, "row 102: column id is REQUIRED but empty");

        let int = [Column::new("id", WarehouseType::Int64)];
        let text = RecordBatch::try_new(
            arrow_schema(&[Column::new("id", WarehouseType::String)]),
            vec![Arc::new(StringArray::from(vec!["zwölf"]))],
        )
        .unwrap();
        let err = ParquetRows::new(&int, ROW_GROUP_BYTES)
            .unwrap()
            .write(&text, &int, 0)
            .unwrap_err();
        assert_eq!(
            err,
            "row 1: column id: expected INT64 values, found Arrow Utf8"
        );

        let mut ints = Column::new("a", WarehouseType::Int64);
        ints.mode = Mode::Repeated;
        let mut b = arrow::array::ListBuilder::new(arrow::array::Int64Builder::new());
        b.append_value([Some(1)]);
        b.append_null();
        b.append_value([Some(2), None]);
        let batch = RecordBatch::try_new(
            arrow_schema(std::slice::from_ref(&ints)),
            vec![Arc::new(b.finish())],
        )
        .unwrap();
        let err = ParquetRows::new(std::slice::from_ref(&ints), ROW_GROUP_BYTES)
            .unwrap()
            .write(&batch, &[ints], 0)
            .unwrap_err();
        assert_eq!(
            err,
            "row 3: column a: value 2 of the array is NULL, which a BigQuery array cannot hold"
        );
    }
}
