//! Push-down: when the destination can read a file itself (BigQuery from `gs://`), the
//! load is its own job and no byte of the file passes through sluice. The gate has already
//! checked the file's schema from its sample.

use sluice_core::format::FormatOptions;
use sluice_core::schema::{DetectedSchema, WarehouseType};
use sluice_core::storage::{FileEntry, Store};
use sluice_sinks::{DirectSource, FileLoad, Sink};

use super::Failure;
use crate::model::Job;

pub(super) struct PushDown<'a> {
    file: &'a FileEntry,
    sink: &'a dyn Sink,
    source: DirectSource,
}

impl<'a> PushDown<'a> {
    /// The push-down of `file`, if the destination reads it itself.
    pub(super) fn offer(
        store: &Store,
        file: &'a FileEntry,
        checked: &DetectedSchema,
        job: &Job,
        sink: &'a dyn Sink,
    ) -> Option<Self> {
        // The destination matches columns by name (or, for CSV, by position): a renamed column, a nested value sluice writes as JSON text, or
        // a list (which BigQuery reads from Parquet as a record of its own), would not load
        // as sluice loads it.
        let by_name = !matches!(job.file_format_options, FormatOptions::Csv(_));
        let maps_by_name = job.schema.iter().all(|c| {
            c.source_name() == c.name
                && c.read_as.is_none()
                && !c.is_repeated()
                && !(by_name && c.ty == WarehouseType::Json)
        });
        // BigQuery reads CSV by position: the file's header must be the job's, in order
        // (sluice itself matches the header's names).
        let in_order = by_name
            || (checked.columns.len() == job.schema.len()
                && checked
                    .columns
                    .iter()
                    .zip(&job.schema)
                    .all(|(f, c)| f.name == c.name));
        // A column the file lacks loads as NULL through sluice; the destination might not.
        let has_all = job
            .schema
            .iter()
            .all(|c| checked.columns.iter().any(|f| f.name == c.source_name()));
        if !maps_by_name || !in_order || !has_all {
            return None;
        }
        let uri = store.uri_of(&file.path)?;
        let source = DirectSource {
            uri,
            format: checked
                .format_options
                .clone()
                .unwrap_or_else(|| job.file_format_options.clone()),
        };
        sink.loads_directly(&source)
            .then_some(Self { file, sink, source })
    }

    pub(super) async fn load(
        &self,
        job: &Job,
        store: &Store,
        load: &FileLoad,
    ) -> Result<u64, Failure> {
        self.sink
            .load_direct(
                &job.table_name,
                &job.schema,
                load,
                job.load_type,
                &self.source,
                Box::pin(store.still_listed(self.file)),
            )
            .await
            .map(|r| r.rows)
            .map_err(|e| Failure::from_sink(self.file, e))
    }

    /// What the run log says about it.
    pub(super) fn note(&self) -> String {
        format!(
            "read by the destination from {} (push-down)",
            self.source.uri
        )
    }
}
