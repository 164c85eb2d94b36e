//! Parquet: the schema and row count come from the footer alone; loads stream row group by
//! row group and cast each column to the job's type.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions as DisplayOptions};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use serde::{Deserialize, Serialize};

use super::{BATCH_ROWS, BatchStream, Format, FormatInfo, Source};
use crate::error::Hint;
use crate::schema::infer::SAMPLE_VALUES;
use crate::schema::{Column, DetectedColumn, DetectedSchema, Mode, WarehouseType, arrow_schema};
use crate::storage::{FileEntry, Store};
use crate::{Error, Result};

/// Apache Parquet: schema and row count from the footer, row groups streamed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parquet;

/// Parquet has no options: its schema is in its footer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetOptions {}

impl Format for Parquet {
    type Options = ParquetOptions;

    const INFO: FormatInfo = FormatInfo {
        name: "parquet",
        label: "Parquet",
        aliases: &[],
        extensions: &["parquet", "pq"],
        options: &[],
    };

    async fn detect(
        source: &Source<'_>,
        options: &ParquetOptions,
    ) -> Result<(ParquetOptions, DetectedSchema)> {
        Ok((options.clone(), detect(source).await?))
    }

    async fn read(
        source: &Source<'_>,
        _options: &ParquetOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        read(source, columns).await
    }
}

/// Reads a Parquet file's byte ranges from an object store.
///
/// The footer is found from the known file size with plain ranged reads (not a suffix
/// request, which Azure does not support), prefetching 64 KiB so one request usually holds
/// the whole footer.
///
/// Every read is pinned to the version listed ([`Store::read_range`]): a file rewritten
/// between two row groups fails with [`Error::Changed`] instead of mixing its versions.
#[derive(Clone)]
struct ObjectReader {
    store: Store,
    file: FileEntry,
}

const FOOTER_PREFETCH: usize = 64 * 1024;

fn parquet_err(e: Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

/// A changed file inside a Parquet error, as the changed file it is.
fn changed(path: &str, e: &ParquetError) -> Option<Error> {
    match e {
        ParquetError::External(inner) => inner
            .downcast_ref::<Error>()
            .filter(|e| e.is_changed())
            .map(|_| Error::Changed { path: path.into() }),
        _ => None,
    }
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .read_range(&self.file, range)
                .await
                .map_err(parquet_err)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            futures::future::try_join_all(
                ranges
                    .into_iter()
                    .map(|r| self.store.read_range(&self.file, r)),
            )
            .await
            .map_err(parquet_err)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.file.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// The warehouse type of an Arrow type found in a Parquet file.
pub fn warehouse_type(dt: &DataType) -> WarehouseType {
    use DataType::*;
    match dt {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => WarehouseType::Int64,
        // Above i64::MAX a UInt64 would not fit INT64.
        UInt64 => WarehouseType::Numeric,
        Float16 | Float32 | Float64 => WarehouseType::Float64,
        Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => WarehouseType::Numeric,
        Boolean => WarehouseType::Bool,
        Date32 | Date64 => WarehouseType::Date,
        Timestamp(..) => WarehouseType::Timestamp,
        Utf8 | LargeUtf8 | Utf8View => WarehouseType::String,
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => WarehouseType::Bytes,
        Struct(_) | List(_) | LargeList(_) | ListView(_) | LargeListView(_) | FixedSizeList(..)
        | Map(..) => WarehouseType::Json,
        Dictionary(_, value) => warehouse_type(value),
        _ => WarehouseType::String,
    }
}

fn reader(source: &Source<'_>) -> Result<ObjectReader> {
    let (store, file) = source.ranged("Parquet")?;
    Ok(ObjectReader { store, file })
}

fn open_error(path: &str, e: ParquetError) -> Error {
    if let Some(changed) = changed(path, &e) {
        return changed;
    }
    Error::Parse {
        path: path.into(),
        line: None,
        column: None,
        message: format!("cannot read the Parquet footer: {e}"),
        hint: Some(Hint::text("check that the file is Parquet and completely written").into()),
    }
}

/// Detects the schema from the footer; the row count is exact. Sample values come from the
/// first row group only.
pub async fn detect(source: &Source<'_>) -> Result<DetectedSchema> {
    let file = source.file();
    let builder = ParquetRecordBatchStreamBuilder::new(reader(source)?)
        .await
        .map_err(|e| open_error(&file.path, e))?;
    let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let schema = builder.schema().clone();
    let mut first = if builder.metadata().num_row_groups() > 0 {
        builder
            .with_row_groups(vec![0])
            .with_batch_size(SAMPLE_VALUES * 20)
            .build()
            .map_err(|e| open_error(&file.path, e))?
            .next()
            .await
            .transpose()
            .map_err(|e| open_error(&file.path, e))?
    } else {
        None
    };
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let samples = first
                .as_mut()
                .map(|b| sample_values(b.column(i)))
                .unwrap_or_default();
            DetectedColumn {
                name: field.name().clone(),
                source_type: field.data_type().to_string(),
                bigquery_type: warehouse_type(field.data_type()),
                bigquery_mode: if field.is_nullable() {
                    Mode::Nullable
                } else {
                    Mode::Required
                },
                nullable: field.is_nullable(),
                all_null: false,
                sample_values: samples,
                source: None,
            }
        })
        .collect::<Vec<_>>();
    let mut columns = columns;
    refuse_repeated_names(&columns, &file.path)?;
    crate::schema::name_from_source(&mut columns);
    Ok(DetectedSchema::new(columns, total_rows, false, file.size))
}

/// Two fields of one name cannot be told apart by name, which is how rows are read.
fn refuse_repeated_names(columns: &[DetectedColumn], path: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(columns.len());
    for c in columns {
        if !seen.insert(c.name.as_str()) {
            return Err(Error::Parse {
                path: path.into(),
                line: None,
                column: Some(crate::error::excerpt(&c.name)),
                message: "the file has more than one column of this name; sluice reads columns by name and cannot tell them apart".into(),
                hint: Some(crate::error::Hint::text("write the file with distinct column names").into()),
            });
        }
    }
    Ok(())
}

fn sample_values(array: &ArrayRef) -> Vec<String> {
    let Ok(formatter) = ArrayFormatter::try_new(array.as_ref(), &DisplayOptions::default()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for i in 0..array.len() {
        if out.len() == SAMPLE_VALUES {
            break;
        }
        if array.is_valid(i) {
            let v = formatter.value(i).to_string();
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// Streams the file's row groups as batches of `columns`, matched to the file's columns by name.
pub async fn read(source: &Source<'_>, columns: &[Column]) -> Result<BatchStream> {
    let file = source.file();
    let builder = ParquetRecordBatchStreamBuilder::new(reader(source)?)
        .await
        .map_err(|e| open_error(&file.path, e))?;
    let file_schema = builder.schema().clone();
    let mut indices = Vec::with_capacity(columns.len());
    for c in columns {
        let i = file_schema
            .index_of(c.source_name())
            .map_err(|_| Error::Parse {
                path: file.path.clone(),
                line: None,
                column: Some(c.name.clone()),
                message: "the column is missing from the file".into(),
                hint: None,
            })?;
        indices.push(i);
    }
    let stream = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| open_error(&file.path, e))?;
    let target = arrow_schema(columns);
    let columns = columns.to_vec();
    let path = file.path.clone();
    let mut rows_before = 0u64;
    Ok(stream
        .map(move |batch| {
            let batch = batch.map_err(|e| {
                changed(&path, &e).unwrap_or_else(|| Error::parse(&path, e.to_string()))
            })?;
            let arrays = indices
                .iter()
                .zip(&columns)
                .map(|(&i, c)| conform(batch.column(i), c, &path, rows_before))
                .collect::<Result<Vec<_>>>()?;
            rows_before += batch.num_rows() as u64;
            RecordBatch::try_new(Arc::clone(&target), arrays)
                .map_err(|e| Error::parse(&path, e.to_string()))
        })
        .boxed())
}

/// Casts one column to the job's type; a value that does not fit names its row.
fn conform(array: &ArrayRef, column: &Column, path: &str, rows_before: u64) -> Result<ArrayRef> {
    let target = column.ty.arrow_type();
    if array.data_type() == &target {
        return Ok(Arc::clone(array));
    }
    if column.ty == WarehouseType::Json && warehouse_type(array.data_type()) == WarehouseType::Json
    {
        return nested_to_json(array, column, path);
    }
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(array, &target, &strict).map_err(|e| {
        // Find the first value that failed: the lenient cast turns it into a NULL.
        let lenient = cast_with_options(array, &target, &CastOptions::default()).ok();
        let row =
            lenient.and_then(|l| (0..array.len()).find(|&i| array.is_valid(i) && l.is_null(i)));
        let value = row.and_then(|r| {
            ArrayFormatter::try_new(array.as_ref(), &DisplayOptions::default())
                .ok()
                .map(|f| f.value(r).to_string())
        });
        Error::Parse {
            path: path.into(),
            line: row.map(|r| rows_before + r as u64 + 1),
            column: Some(column.name.clone()),
            message: match value {
                Some(v) => format!(
                    "'{}' does not fit {} (row number)",
                    crate::error::excerpt(&v),
                    column.ty
                ),
                None => format!("cannot cast {} to {}: {e}", array.data_type(), column.ty),
            },
            hint: Some(
                Hint::set(
                    "change the column's type in the job's schema",
                    "schema",
                    None,
                )
                .into(),
            ),
        }
    })
}

/// Nested values (structs, lists, maps) become their JSON text.
fn nested_to_json(array: &ArrayRef, column: &Column, path: &str) -> Result<ArrayRef> {
    let field = Field::new("v", array.data_type().clone(), true);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![Arc::clone(array)])
        .map_err(|e| Error::parse(path, e.to_string()))?;
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
        writer
            .write(&batch)
            .map_err(|e| Error::parse(path, e.to_string()))?;
        writer
            .finish()
            .map_err(|e| Error::parse(path, e.to_string()))?;
    }
    let mut out = StringBuilder::new();
    let mut lines = buf.split(|&b| b == b'\n');
    for i in 0..array.len() {
        let line = lines.next().unwrap_or_default();
        if array.is_null(i) {
            out.append_null();
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| Error::Parse {
            path: path.into(),
            line: Some(i as u64 + 1),
            column: Some(column.name.clone()),
            message: e.to_string(),
            hint: None,
        })?;
        match value.get("v") {
            Some(v) => out.append_value(v.to_string()),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{FileEntry, Store};
    use arrow::array::{AsArray, Int32Array, StringArray, StructArray};
    use arrow::datatypes::Int64Type;
    use futures::TryStreamExt;
    use parquet::arrow::ArrowWriter;
    use std::collections::BTreeMap;

    fn write_parquet(dir: &std::path::Path, name: &str, batch: &RecordBatch) -> FileEntry {
        let path = dir.join(name);
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None)
                .unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        FileEntry {
            path: name.into(),
            size: std::fs::metadata(&path).unwrap().len(),
            last_modified: chrono::Utc::now(),
            e_tag: None,
            version: None,
            checksum: None,
        }
    }

    fn sample_batch() -> RecordBatch {
        let ids: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(2), None]));
        let names: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]));
        let inner: ArrayRef = Arc::new(Int32Array::from(vec![7, 8, 9]));
        let nested: ArrayRef = Arc::new(StructArray::from(vec![(
            Arc::new(Field::new("k", DataType::Int32, false)),
            inner,
        )]));
        RecordBatch::try_from_iter([("id", ids), ("name", names), ("meta", nested)]).unwrap()
    }

    #[tokio::test]
    async fn detects_from_the_footer_with_exact_rows() {
        let dir = tempfile::tempdir().unwrap();
        let file = write_parquet(dir.path(), "p.parquet", &sample_batch());
        let store = Store::open(
            url::Url::from_directory_path(dir.path()).unwrap().as_str(),
            &BTreeMap::new(),
        )
        .unwrap();
        let schema = detect(&Source::new(&store, &file)).await.unwrap();
        assert_eq!(schema.total_rows, 3);
        assert!(!schema.total_rows_estimated);
        let types: Vec<_> = schema
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.bigquery_type))
            .collect();
        assert_eq!(
            types,
            vec![
                ("id", WarehouseType::Int64),
                ("name", WarehouseType::String),
                ("meta", WarehouseType::Json)
            ]
        );
        assert_eq!(schema.columns[0].sample_values, vec!["1", "2"]);

        let columns = schema.reviewed_columns();
        let batches: Vec<RecordBatch> = read(&Source::new(&store, &file), &columns)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let b = &batches[0];
        assert_eq!(b.column(0).as_primitive::<Int64Type>().value(1), 2);
        assert_eq!(b.column(2).as_string::<i32>().value(0), "{\"k\":7}");
    }

    #[tokio::test]
    async fn a_value_that_does_not_fit_names_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let file = write_parquet(dir.path(), "p.parquet", &sample_batch());
        let store = Store::open(
            url::Url::from_directory_path(dir.path()).unwrap().as_str(),
            &BTreeMap::new(),
        )
        .unwrap();
        let columns = vec![Column::new("name", WarehouseType::Int64)];
        let err = read(&Source::new(&store, &file), &columns)
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.parquet line 1, column 'name': 'a' does not fit INT64"),
            "{err}"
        );
    }
}
