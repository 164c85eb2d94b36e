//! A replay run: the rows of the job's quarantine table loaded again, file by file, each in
//! one transaction ([`crate::pipeline::FilePipeline::replay`]). It holds the job's lease
//! like any run, so two replays (or a replay and a load) never work on the same rows at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::heartbeat::LeaseGuard;
use super::log::Level;
use super::{Done, Quiet, Runner};
use crate::model::{FileOutcome, Job, RunFile};
use crate::pipeline::FilePipeline;
use crate::{Error, Result};

impl Runner {
    pub(super) async fn replay(&self, job: &Job, run_id: i64, lease: &LeaseGuard) -> Result<Done> {
        if job.settings.schema_policy == crate::model::SchemaPolicy::Rescue {
            return Err(Error::invalid(
                "schema_policy",
                format!(
                    "job '{}' rescues values into _rescued: its quarantined rows cannot be replayed (set another schema policy first)",
                    job.name
                ),
            ));
        }
        let sink = self.jobs.sink(job)?;
        let store = self.connections.store(&job.connection).await?;
        let rows = crate::engine::rejected::quarantined(sink.as_ref(), &job.table_name).await?;
        let mut by_file: BTreeMap<String, Vec<crate::engine::RejectedRow>> = BTreeMap::new();
        for r in rows {
            by_file.entry(r.file_path.clone()).or_default().push(r);
        }
        self.log
            .write(
                run_id,
                Level::Info,
                format!(
                    "replaying the quarantined rows of {} file(s) from {}",
                    by_file.len(),
                    sluice_sinks::quarantine::table_of(&job.table_name)
                ),
            )
            .await;
        let pipeline = FilePipeline::new(
            job,
            &store,
            sink.as_ref(),
            self.catalog.as_ref(),
            Arc::new(Quiet),
            chrono::Utc::now(),
            run_id,
        );
        let mut outcomes = Vec::with_capacity(by_file.len());
        for (i, (path, rows)) in by_file.iter().enumerate() {
            if lease.lost.is_cancelled() {
                return Err(Error::LeaseLost { run_id });
            }
            let mut record = RunFile {
                file_path: path.clone(),
                file_version: "quarantine".into(),
                file_size_bytes: 0,
                outcome: FileOutcome::Loaded,
                message: None,
                hint: None,
                rows_loaded: 0,
                rows_rejected: 0,
                worker: None,
            };
            let load_id = format!("{}_replay_{run_id}_{i}", job.uid.replace('-', ""));
            match pipeline.replay(path, rows, &load_id).await {
                Ok(loaded) => {
                    record.rows_loaded = loaded.rows;
                    record.rows_rejected = loaded.rejected;
                    record.message = loaded.note;
                }
                Err(f) => f.onto(&mut record),
            }
            self.finish_file(job, run_id, &record).await?;
            outcomes.push(record.outcome);
        }
        Ok(Done {
            seen: by_file.len() as u64,
            already_loaded: 0,
            outcomes,
            left: 0,
        })
    }
}
