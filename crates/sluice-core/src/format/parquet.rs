//! Parquet: the schema and row count come from the footer alone; loads stream row group by
//! row group and cast each column to the job's type.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use serde::{Deserialize, Serialize};

pub use super::columnar::warehouse_type;
use super::columnar::{Conform, detected_columns, indices_of};
use super::{BATCH_ROWS, BatchStream, Format, FormatInfo, Source};
use crate::error::Hint;
use crate::schema::infer::SAMPLE_VALUES;
use crate::schema::{Column, DetectedSchema};
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
        columns_by_name: true,
        missing_is_null: false,
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
    let first = if builder.metadata().num_row_groups() > 0 {
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
    let columns = detected_columns(&schema, first.as_ref(), &file.path)?;
    Ok(DetectedSchema::new(columns, total_rows, false, file.size))
}

/// Streams the file's row groups as batches of `columns`, matched to the file's columns by name.
pub async fn read(source: &Source<'_>, columns: &[Column]) -> Result<BatchStream> {
    let file = source.file();
    let builder = ParquetRecordBatchStreamBuilder::new(reader(source)?)
        .await
        .map_err(|e| open_error(&file.path, e))?;
    let indices = indices_of(builder.schema(), columns, &file.path)?;
    let stream = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| open_error(&file.path, e))?;
    let mut conform = Conform::new(columns, indices, &file.path);
    let path = file.path.clone();
    Ok(stream
        .map(move |batch| {
            let batch = batch.map_err(|e| {
                changed(&path, &e).unwrap_or_else(|| Error::parse(&path, e.to_string()))
            })?;
            conform.batch(&batch)
        })
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::WarehouseType;
    use crate::storage::{FileEntry, Store};
    use arrow::array::ArrayRef;
    use arrow::array::{AsArray, Int32Array, StringArray, StructArray};
    use arrow::datatypes::Int64Type;
    use arrow::datatypes::{DataType, Field};
    use arrow::record_batch::RecordBatch;
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
    async fn a_list_of_scalars_is_an_array_column_and_a_list_of_lists_json() {
        use arrow::array::{Array, Int32Builder, ListBuilder};
        let dir = tempfile::tempdir().unwrap();
        let mut ints = ListBuilder::new(Int32Builder::new());
        ints.values().append_value(3);
        ints.values().append_null();
        ints.append(true);
        ints.append(false);
        let mut nested = ListBuilder::new(ListBuilder::new(Int32Builder::new()));
        nested.values().values().append_value(1);
        nested.values().append(true);
        nested.append(true);
        nested.append(true);
        let batch = RecordBatch::try_from_iter([
            ("ids", Arc::new(ints.finish()) as ArrayRef),
            ("grid", Arc::new(nested.finish()) as ArrayRef),
        ])
        .unwrap();
        let file = write_parquet(dir.path(), "l.parquet", &batch);
        let store = Store::open(
            url::Url::from_directory_path(dir.path()).unwrap().as_str(),
            &BTreeMap::new(),
        )
        .unwrap();
        let schema = detect(&Source::new(&store, &file)).await.unwrap();
        let types: Vec<String> = schema
            .columns
            .iter()
            .map(|c| c.column_type().to_string())
            .collect();
        assert_eq!(types, ["ARRAY<INT64>", "JSON"]);
        let batches: Vec<RecordBatch> =
            read(&Source::new(&store, &file), &schema.reviewed_columns())
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
        let ids = batches[0].column(0).as_list::<i32>();
        // Widened to INT64 values, the NULL item and the NULL list kept.
        let first = ids.value(0);
        assert_eq!(first.as_primitive::<Int64Type>().value(0), 3);
        assert!(first.is_null(1));
        assert!(ids.is_null(1));
        assert_eq!(batches[0].column(1).as_string::<i32>().value(0), "[[1]]");
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
