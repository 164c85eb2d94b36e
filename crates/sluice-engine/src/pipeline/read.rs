//! The reader: a file through its format (and its compression) as batches of the job's
//! columns.

use sluice_core::format::{self, BatchStream, FormatOptions, Reading};
use sluice_core::schema::Column;
use sluice_core::storage::{FileEntry, Store};

use super::Failure;

pub(super) struct Reader<'a> {
    store: &'a Store,
    file: &'a FileEntry,
    options: &'a FormatOptions,
    reading: Reading,
}

/// How a job reads its files: its expansion cap and archive entries.
pub(crate) fn reading_of(settings: &crate::model::JobSettings) -> Reading {
    Reading {
        limits: sluice_core::format::compression::Limits {
            max_expansion: settings.max_expansion,
        },
        archive_entries: settings.archive_entries.clone(),
        // Kept for the typing stage to quarantine (a job that rescues types nothing).
        lenient_records: settings.max_rejected.quarantines()
            && settings.schema_policy != crate::model::SchemaPolicy::Rescue,
    }
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        store: &'a Store,
        file: &'a FileEntry,
        options: &'a FormatOptions,
        reading: Reading,
    ) -> Self {
        Self {
            store,
            file,
            options,
            reading,
        }
    }

    pub(super) async fn read(&self, columns: &[Column]) -> Result<BatchStream, Failure> {
        format::read_with(self.store, self.file, self.options, columns, &self.reading)
            .await
            .map_err(Failure::from_core)
    }
}
