//! Settling what a dead process left: a file version still `loading` in the ledger is asked
//! of the destination, whose marker says whether its load committed.

use std::collections::HashSet;

use sluice_sinks::Sink;

use super::Runner;
use super::log::Level;
use crate::Result;
use crate::model::{FileOutcome, Job, LedgerStatus, RunFile};

impl Runner {
    /// Settles files a dead process left `loading`; returns those whose load had committed.
    pub(super) async fn reconcile(
        &self,
        job: &Job,
        run_id: i64,
        sink: &dyn Sink,
    ) -> Result<HashSet<(String, String)>> {
        let mut recovered = HashSet::new();
        // Files loaded together share one load id and one receipt: its rows count once.
        let mut counted: HashSet<String> = HashSet::new();
        for p in self.catalog.processed_files(job.id).await? {
            if p.status != LedgerStatus::Loading {
                continue;
            }
            let committed = sink
                .was_loaded(&p.load_id)
                .await
                .map_err(|e| crate::Error::Sink(e.about(&p.file_path)))?;
            match committed {
                Some(mut receipt) => {
                    if !counted.insert(p.load_id.clone()) {
                        receipt.rows = 0;
                    }
                    self.catalog
                        .mark_loaded(job.id, &p.file_path, &p.file_version, receipt.rows, run_id)
                        .await?;
                    recovered.insert((p.file_path.clone(), p.file_version.clone()));
                    let record = RunFile {
                        file_path: p.file_path,
                        file_version: p.file_version,
                        file_size_bytes: p.file_size_bytes,
                        outcome: FileOutcome::Recovered,
                        message: Some(
                            "the previous run stopped after the destination committed this file"
                                .into(),
                        ),
                        hint: None,
                        rows_loaded: receipt.rows,
                        rows_rejected: 0,
                    };
                    self.finish_file(job, run_id, &record).await?;
                }
                None => {
                    self.log
                        .write(
                            run_id,
                            Level::Warn,
                            format!(
                                "{}: an interrupted load had not committed; it will be loaded again",
                                p.file_path
                            ),
                        )
                        .await;
                    self.catalog
                        .release_claim(job.id, &p.file_path, &p.file_version)
                        .await?;
                }
            }
        }
        Ok(recovered)
    }
}
