//! Settling what a dead process left: a file version still `loading` in the ledger is asked
//! of the destination, whose marker says whether its load committed.

use std::collections::HashSet;

use sluice_core::storage::Store;
use sluice_sinks::Sink;

use super::Runner;
use super::log::Level;
use crate::Result;
use crate::model::{FileOutcome, Job, LedgerStatus, ProcessedFile, RunFile};

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
            let key = (p.file_path.clone(), p.file_version.clone());
            if self
                .settle_interrupted(job, run_id, sink, p, &mut counted, None)
                .await?
            {
                recovered.insert(key);
            }
        }
        Ok(recovered)
    }

    /// Records the content identity of recovered files whose process died before it was
    /// known (a file is hashed beside its load), so that a later copy of the same bytes is
    /// still known for what it is. A file no longer listed as that version is left.
    pub(super) async fn identify_recovered(
        &self,
        job: &Job,
        store: &Store,
        ledger: &[ProcessedFile],
        recovered: &HashSet<(String, String)>,
    ) -> Result<()> {
        for p in ledger.iter().filter(|p| {
            p.content.is_none()
                && p.status == LedgerStatus::Loaded
                && recovered.contains(&(p.file_path.clone(), p.file_version.clone()))
        }) {
            let Ok(file) = store.head(&p.file_path).await else {
                continue;
            };
            if file.version_key() != p.file_version {
                continue;
            }
            let content = match &file.checksum {
                Some(c) => c.clone(),
                None => match store.content_hash(&file).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(file = %p.file_path, "not hashed: {e}");
                        continue;
                    }
                },
            };
            self.catalog
                .record_content(job.id, &p.file_path, &p.file_version, &content)
                .await?;
        }
        Ok(())
    }

    /// Settles one file left `loading` by a process that died: marked loaded and recorded
    /// as recovered (by `worker`, in a shared run) if the destination holds its load's
    /// marker — its rows counted once per load id in `counted` — else its claim is dropped
    /// so that it is loaded again. Returns whether its load had committed.
    pub(super) async fn settle_interrupted(
        &self,
        job: &Job,
        run_id: i64,
        sink: &dyn Sink,
        p: ProcessedFile,
        counted: &mut HashSet<String>,
        worker: Option<&str>,
    ) -> Result<bool> {
        let committed = sink
            .was_loaded(&p.load_id)
            .await
            .map_err(|e| crate::Error::Sink(e.about(&p.file_path)))?;
        let Some(mut receipt) = committed else {
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
            return Ok(false);
        };
        if !counted.insert(p.load_id.clone()) {
            receipt.rows = 0;
        }
        self.catalog
            .mark_loaded(job.id, &p.file_path, &p.file_version, receipt.rows, run_id)
            .await?;
        let record = RunFile {
            outcome: FileOutcome::Recovered,
            message: Some(
                match worker {
                    None => "the previous run stopped after the destination committed this file",
                    Some(_) => "the worker loading it stopped after the destination committed it",
                }
                .into(),
            ),
            rows_loaded: receipt.rows,
            worker: worker.map(str::to_string),
            file_path: p.file_path,
            file_version: p.file_version,
            file_size_bytes: p.file_size_bytes,
            hint: None,
            rows_rejected: 0,
        };
        self.finish_file(job, run_id, &record).await?;
        Ok(true)
    }
}
