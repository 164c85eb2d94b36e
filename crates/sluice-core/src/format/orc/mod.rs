//! Apache ORC, read with orc-rust: the footer through ranged reads (row count exact, schema
//! from the footer), stripes streamed one at a time, each batch handed to our arrow
//! through the C Data Interface (`bridge`). Every read is pinned to the version listed.

mod bridge;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use orc_rust::ArrowReaderBuilder;
use orc_rust::reader::AsyncChunkReader;
use serde::{Deserialize, Serialize};

use super::columnar::{Conform, detected_columns, indices_of};
use super::{BATCH_ROWS, BatchStream, Format, FormatInfo, Source};
use crate::error::Hint;
use crate::schema::infer::SAMPLE_VALUES;
use crate::schema::{Column, DetectedSchema};
use crate::storage::{FileEntry, Store};
use crate::{Error, Result};

/// Apache ORC.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orc;

/// ORC has no options: its schema is in its footer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrcOptions {}

impl Format for Orc {
    type Options = OrcOptions;

    const INFO: FormatInfo = FormatInfo {
        name: "orc",
        label: "ORC",
        aliases: &[],
        extensions: &["orc"],
        options: &[],
        columns_by_name: true,
        missing_is_null: false,
    };

    async fn detect(
        source: &Source<'_>,
        options: &OrcOptions,
    ) -> Result<(OrcOptions, DetectedSchema)> {
        Ok((options.clone(), detect(source).await?))
    }

    async fn read(
        source: &Source<'_>,
        _options: &OrcOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        read(source, columns).await
    }
}

/// A file's byte ranges, pinned to the version listed.
struct Ranges {
    store: Store,
    file: FileEntry,
}

impl AsyncChunkReader for Ranges {
    fn len(&mut self) -> BoxFuture<'_, std::io::Result<u64>> {
        let size = self.file.size;
        async move { Ok(size) }.boxed()
    }

    fn get_bytes(
        &mut self,
        offset_from_start: u64,
        length: u64,
    ) -> BoxFuture<'_, std::io::Result<Bytes>> {
        async move {
            self.store
                .read_range(&self.file, offset_from_start..offset_from_start + length)
                .await
                .map_err(std::io::Error::other)
        }
        .boxed()
    }
}

/// An ORC error as the file's: the store's own (a changed file) where it was one.
fn orc_error(path: &str, what: &str, e: &(dyn std::error::Error + 'static)) -> Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(core) = c.downcast_ref::<Error>() {
            if core.is_changed() {
                return Error::Changed { path: path.into() };
            }
            return Error::parse(path, core.to_string());
        }
        cause = c.source();
    }
    Error::Parse {
        path: path.into(),
        line: None,
        column: None,
        message: format!("{what}: {e}"),
        hint: Some(Hint::text("check that the file is ORC and completely written").into()),
    }
}

async fn builder(store: Store, file: FileEntry) -> Result<ArrowReaderBuilder<Ranges>> {
    let path = file.path.clone();
    ArrowReaderBuilder::try_new_async(Ranges { store, file })
        .await
        .map_err(|e| orc_error(&path, "cannot read the ORC footer", &e))
}

/// The schema and the exact row count from the footer; sample values from the first rows.
/// orc-rust runs on a task of its own ([`super::guarded`]): it panics on some corrupt files.
async fn detect(source: &Source<'_>) -> Result<DetectedSchema> {
    let (store, file) = source.ranged("ORC")?;
    let path = file.path.clone();
    let size = file.size;
    super::guarded(&path.clone(), async move {
        let builder = builder(store, file).await?;
        let rows = builder.file_metadata().number_of_rows();
        let schema = bridge::schema(&builder.schema()).map_err(|e| Error::parse(&path, e))?;
        let first = builder
            .with_batch_size(SAMPLE_VALUES * 20)
            .build_async()
            .next()
            .await
            .transpose()
            .map_err(|e| orc_error(&path, "cannot read the first stripe", &e))?
            .map(bridge::batch)
            .transpose()
            .map_err(|e| Error::parse(&path, e))?;
        let columns = detected_columns(&schema, first.as_ref(), &path)?;
        Ok(DetectedSchema::new(columns, rows, false, size))
    })
    .await
}

/// Streams the file's stripes as batches of `columns`, matched by name.
async fn read(source: &Source<'_>, columns: &[Column]) -> Result<BatchStream> {
    let (store, file) = source.ranged("ORC")?;
    let path = file.path.clone();
    let builder = super::guarded(&path, builder(store, file)).await?;
    let schema = bridge::schema(&builder.schema()).map_err(|e| Error::parse(&path, e))?;
    let indices = indices_of(&schema, columns, &path)?;
    let mut conform = Conform::new(columns, indices, &path);
    let at = path.clone();
    let stream = builder
        .with_batch_size(BATCH_ROWS)
        .build_async()
        .map(move |batch| {
            let batch = batch.map_err(|e| orc_error(&at, "cannot read a stripe", &e))?;
            let batch = bridge::batch(batch).map_err(|e| Error::parse(&at, e))?;
            conform.batch(&batch)
        })
        .boxed();
    Ok(super::guarded_stream(&path, stream))
}

#[cfg(test)]
mod tests;
