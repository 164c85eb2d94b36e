//! What the formats' tests share: a store over a folder, a file detected and read as a run
//! reads it, and compressed fixtures from the system's own tools.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;

use crate::format::{self, FormatOptions};
use crate::schema::DetectedSchema;
use crate::storage::{FileEntry, Store};

/// A store over the local folder `dir`.
pub(crate) fn store(dir: &Path) -> Store {
    Store::open(
        url::Url::from_directory_path(dir).unwrap().as_str(),
        &BTreeMap::new(),
    )
    .unwrap()
}

/// Writes `bytes` at `dir/name` and lists it.
pub(crate) async fn put(store: &Store, dir: &Path, name: &str, bytes: &[u8]) -> FileEntry {
    std::fs::write(dir.join(name), bytes).unwrap();
    store.head(name).await.unwrap()
}

/// A file detected (format from its extension) and read in the detected columns.
pub(crate) async fn load(
    store: &Store,
    file: &FileEntry,
) -> crate::Result<(DetectedSchema, Vec<RecordBatch>)> {
    let options = FormatOptions::for_file(None, &file.path)?;
    let detected = format::detect(store, file, &options).await?;
    let resolved = detected.format_options.clone().unwrap_or(options);
    let batches = format::read(store, file, &resolved, &detected.reviewed_columns())
        .await?
        .try_collect()
        .await?;
    Ok((detected, batches))
}

/// A whole read of `file` in `columns` (its format from its name).
pub(crate) async fn read_as(
    store: &Store,
    file: &FileEntry,
    columns: &[crate::schema::Column],
) -> crate::Result<Vec<RecordBatch>> {
    let options = FormatOptions::for_file(None, &file.path)?;
    format::read(store, file, &options, columns)
        .await?
        .try_collect::<Vec<_>>()
        .await
}

/// The error a whole read of `file` in `columns` ends with (its format from its name).
pub(crate) async fn read_error(
    store: &Store,
    file: &FileEntry,
    columns: &[crate::schema::Column],
) -> String {
    read_as(store, file, columns).await.unwrap_err().to_string()
}

/// The columns of `schema` with the array columns made JSON, as a job may choose.
pub(crate) fn arrays_as_json(schema: &DetectedSchema) -> Vec<crate::schema::Column> {
    schema
        .reviewed_columns()
        .into_iter()
        .map(|mut c| {
            if c.is_repeated() {
                c.ty = crate::schema::WarehouseType::Json;
                c.mode = crate::schema::Mode::Nullable;
            }
            c
        })
        .collect()
}

/// The values of row `row` of a list column, as text.
pub(crate) fn list_text(array: &arrow::array::ArrayRef, row: usize) -> Vec<String> {
    let list = array.as_list::<i32>().value(row);
    let f =
        arrow::util::display::ArrayFormatter::try_new(list.as_ref(), &Default::default()).unwrap();
    (0..list.len()).map(|i| f.value(i).to_string()).collect()
}

/// Each detected column's name, type and whether it is nullable.
pub(crate) fn typed(schema: &DetectedSchema) -> Vec<(&str, crate::schema::WarehouseType, bool)> {
    schema
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.bigquery_type, c.nullable))
        .collect()
}

/// The first column's INT64 values of a file, as [`load`] reads it.
pub(crate) async fn ids(store: &Store, file: &FileEntry) -> crate::Result<Vec<i64>> {
    let (_, batches) = load(store, file).await?;
    Ok(batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect())
}

/// `data` through a system tool (`["gzip", "-c"]`, `["zstd", "-c", "-q"]` …), as the tool
/// writes it.
pub(crate) fn compress(tool: &[&str], data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; the tests need gzip, zstd, bzip2, xz and zip (scripts/test installs them)",
                tool[0]
            )
        });
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{tool:?} failed");
    out.stdout
}
