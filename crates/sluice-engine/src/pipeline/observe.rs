//! A stage that watches the rows go by: progress for the interface, and the test-only pause
//! that lets a test stop a process mid-file.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use sluice_core::format::BatchStream;

use super::RowStage;
use crate::run::Progress;

pub(super) struct Observe {
    progress: Arc<dyn Progress>,
}

impl Observe {
    pub(super) fn new(progress: Arc<dyn Progress>) -> Self {
        Self { progress }
    }
}

impl RowStage for Observe {
    fn name(&self) -> &'static str {
        "progress"
    }

    fn needs_rows(&self) -> bool {
        false
    }

    fn apply(&self, batches: BatchStream) -> BatchStream {
        let progress = Arc::clone(&self.progress);
        let mut rows = 0u64;
        batches
            .inspect_ok(move |b| {
                rows += b.num_rows() as u64;
                progress.rows(rows);
                sluice_core::fault::slow("batch");
            })
            .boxed()
    }
}
