//! The reader: a file through its format (and its compression) as batches of the job's
//! columns.

use sluice_core::format::compression::Limits;
use sluice_core::format::{self, BatchStream, FormatOptions};
use sluice_core::schema::Column;
use sluice_core::storage::{FileEntry, Store};

use super::Failure;

pub(super) struct Reader<'a> {
    store: &'a Store,
    file: &'a FileEntry,
    options: &'a FormatOptions,
    limits: Limits,
}

/// The decompression limits of a job.
pub(super) fn limits_of(job: &crate::model::Job) -> Limits {
    Limits {
        max_expansion: job.settings.max_expansion,
    }
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        store: &'a Store,
        file: &'a FileEntry,
        options: &'a FormatOptions,
        limits: Limits,
    ) -> Self {
        Self {
            store,
            file,
            options,
            limits,
        }
    }

    pub(super) async fn read(&self, columns: &[Column]) -> Result<BatchStream, Failure> {
        format::read_with(self.store, self.file, self.options, columns, self.limits)
            .await
            .map_err(Failure::from_core)
    }
}
