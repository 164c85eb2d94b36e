//! The lineage stage: each row gets the columns that say where it came from (its file, its
//! record number, when its run started), so a changed file's rows can be replaced and a
//! forgotten file's rows deleted ([`sluice_core::schema::lineage`]).

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sluice_core::format::BatchStream;
use sluice_core::schema::lineage::Stamp;

use super::RowStage;

pub(super) struct Lineage {
    file: String,
    loaded_at: DateTime<Utc>,
}

impl Lineage {
    pub(super) fn new(file: &str, loaded_at: DateTime<Utc>) -> Self {
        Self {
            file: file.to_string(),
            loaded_at,
        }
    }
}

impl RowStage for Lineage {
    fn name(&self) -> &'static str {
        "lineage"
    }

    fn apply(&self, batches: BatchStream) -> BatchStream {
        let mut stamp = Stamp::new(&self.file, self.loaded_at);
        let file = self.file.clone();
        batches
            .map(move |batch| {
                // Rows keep the record numbers the stages before carried, if they did.
                let (batch, records) = super::quarantine::take_records(batch?);
                stamp
                    .apply_numbered(&batch, records)
                    .map_err(|e| sluice_core::Error::parse(&file, e.to_string()))
            })
            .boxed()
    }
}
