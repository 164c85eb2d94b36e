//! The reader: a file through its format (and its compression) as batches of the job's
//! columns.

use sluice_core::format::{self, BatchStream, FormatOptions};
use sluice_core::schema::Column;
use sluice_core::storage::{FileEntry, Store};

use super::Failure;

pub(super) struct Reader<'a> {
    store: &'a Store,
    file: &'a FileEntry,
    options: &'a FormatOptions,
}

impl<'a> Reader<'a> {
    pub(super) fn new(store: &'a Store, file: &'a FileEntry, options: &'a FormatOptions) -> Self {
        Self {
            store,
            file,
            options,
        }
    }

    pub(super) async fn read(&self, columns: &[Column]) -> Result<BatchStream, Failure> {
        format::read(self.store, self.file, self.options, columns)
            .await
            .map_err(Failure::from_core)
    }
}
