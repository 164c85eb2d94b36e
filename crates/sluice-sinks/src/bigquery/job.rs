//! Load jobs: their ids, derived from the load id; their states as `jobs.get` tells them;
//! and the receipt of a finished one.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_core::names::TableName;

use super::BigQuerySink;
use crate::{FileLoad, LoadMode, LoadReceipt, Result};

/// How many failed attempts of one load are looked at before giving up.
pub(super) const MAX_ATTEMPTS: u32 = 20;

/// The job id of a load's `attempt` (1-based): `<prefix><load_id>`, then `…_2`, `…_3`.
///
/// Characters BigQuery does not allow in a job id become `_`, and then a hash of the
/// original id is appended so that two different load ids never share a job.
pub fn job_id(prefix: &str, load_id: &str, attempt: u32) -> String {
    let clean: String = load_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut id = format!("{prefix}{clean}");
    if clean != load_id {
        use md5::Digest as _;
        let digest = md5::Md5::digest(load_id.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        id.push('_');
        id.push_str(&hex);
    }
    if attempt > 1 {
        id.push_str(&format!("_{attempt}"));
    }
    id
}

/// A load job as `jobs.get` tells it.
#[derive(Debug)]
pub(super) enum JobState {
    Missing,
    Running,
    Done { rows: u64 },
    Failed { message: String },
}

impl BigQuerySink {
    pub(super) fn job_id(&self, load_id: &str, attempt: u32) -> String {
        job_id(&self.config.job_id_prefix, load_id, attempt)
    }

    pub(super) async fn job_state(&self, job_id: &str) -> Result<JobState> {
        let path = format!(
            "{}/jobs/{job_id}?location={}",
            self.project_path(),
            self.config.location
        );
        let job = match self.client.get(&path).await {
            Ok(job) => job,
            Err(e) if e.status == Some(404) => return Ok(JobState::Missing),
            Err(e) => return Err(self.api_error(&format!("reading load job {job_id}"), e)),
        };
        Ok(state_of(&job))
    }

    /// Polls a job until BigQuery says DONE.
    pub(super) async fn wait_for(&self, job_id: &str) -> Result<JobState> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.job_state(job_id).await? {
                JobState::Running | JobState::Missing => {}
                done => return Ok(done),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The first attempt of this load that has not been tried, or what stops it.
    pub(super) async fn next_attempt(&self, table: &TableName, file: &FileLoad) -> Result<String> {
        for attempt in 1..=MAX_ATTEMPTS {
            let id = self.job_id(&file.load_id, attempt);
            match self.job_state(&id).await? {
                JobState::Missing => return Ok(id),
                JobState::Failed { .. } => continue,
                JobState::Done { rows } => {
                    return Err(self.error(format!(
                        "{}: already loaded into {table} by job {id} ({rows} rows); a load id commits once",
                        file.file_path
                    )));
                }
                JobState::Running => {
                    return Err(self.error(format!(
                        "{}: load job {id} of an earlier attempt is still running; try again when it is done",
                        file.file_path
                    )));
                }
            }
        }
        Err(self.error(format!(
            "{}: {MAX_ATTEMPTS} load jobs of this file failed; see the job history of {} for why",
            file.file_path,
            self.job_id(&file.load_id, 1)
        )))
    }

    /// A load job's body: `source` holds the format's fields of `configuration.load`.
    pub(super) fn load_job(
        &self,
        job_id: &str,
        table: &TableName,
        mode: LoadMode,
        source: Value,
    ) -> Value {
        let mut load = json!({
            "destinationTable": {
                "projectId": self.config.project,
                "datasetId": self.dataset_of(table),
                "tableId": table.name(),
            },
            "createDisposition": "CREATE_NEVER",
            "writeDisposition": match mode {
                LoadMode::Append => "WRITE_APPEND",
                LoadMode::Replace => "WRITE_TRUNCATE",
            },
            "maxBadRecords": 0,
        });
        if let (Some(load), Value::Object(source)) = (load.as_object_mut(), source) {
            load.extend(source);
        }
        json!({
            "jobReference": {
                "projectId": self.config.project,
                "jobId": job_id,
                "location": self.config.location,
            },
            "configuration": {"labels": {"sluice": "load"}, "load": load},
        })
    }

    /// The receipt of a finished load job, or its errors with the file's name. `rows` is
    /// what was sent, for when the job does not say.
    pub(super) fn receipt(
        &self,
        table: &TableName,
        file: &FileLoad,
        job_id: &str,
        state: JobState,
        rows: u64,
    ) -> Result<LoadReceipt> {
        match state {
            JobState::Done { rows: out } => Ok(LoadReceipt::new(
                file.load_id.clone(),
                if out == 0 { rows } else { out },
            )),
            JobState::Failed { message } => Err(self.error(format!(
                "{}: load job {job_id} into {table} failed: {message}",
                file.file_path
            ))),
            JobState::Running | JobState::Missing => Err(self.error(format!(
                "{}: load job {job_id} into {table} did not finish",
                file.file_path
            ))),
        }
    }
}

pub(super) fn state_of(job: &Value) -> JobState {
    let state = job.pointer("/status/state").and_then(Value::as_str);
    if state != Some("DONE") {
        return JobState::Running;
    }
    if let Some(err) = job.pointer("/status/errorResult") {
        return JobState::Failed {
            message: describe_job_errors(err, job.pointer("/status/errors")),
        };
    }
    let rows = job
        .pointer("/statistics/load/outputRows")
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
        })
        .unwrap_or(0);
    JobState::Done { rows }
}

/// `errorResult` and the first few `errors`, as one message.
fn describe_job_errors(result: &Value, errors: Option<&Value>) -> String {
    let one = |e: &Value| {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        let mut m = s("message").to_string();
        if !s("reason").is_empty() {
            m.push_str(&format!(" ({})", s("reason")));
        }
        if !s("location").is_empty() {
            m.push_str(&format!(" at {}", s("location")));
        }
        m
    };
    let mut message = one(result);
    let first = one(result);
    let details: Vec<String> = errors
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(one)
        .filter(|m| *m != first)
        .take(5)
        .collect();
    if !details.is_empty() {
        message.push_str("; ");
        message.push_str(&details.join("; "));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_derived_from_the_load_id() {
        assert_eq!(job_id("sluice_", "abc-123_X", 1), "sluice_abc-123_X");
        assert_eq!(job_id("sluice_", "abc-123_X", 3), "sluice_abc-123_X_3");
        let odd = job_id("sluice_", "job/a.csv@v1", 1);
        assert!(odd.starts_with("sluice_job_a_csv_v1_"), "{odd}");
        assert_ne!(odd, job_id("sluice_", "job/a.csv@v2", 1));
        assert_ne!(job_id("sluice_", "a.b", 1), job_id("sluice_", "a_b", 1));
    }

    #[test]
    fn job_states_come_from_status_and_statistics() {
        let done =
            json!({"status": {"state": "DONE"}, "statistics": {"load": {"outputRows": "42"}}});
        assert!(matches!(state_of(&done), JobState::Done { rows: 42 }));
        let running = json!({"status": {"state": "RUNNING"}});
        assert!(matches!(state_of(&running), JobState::Running));
        let failed = json!({"status": {"state": "DONE",
            "errorResult": {"reason": "invalid", "message": "Error while reading data"},
            "errors": [{"reason": "invalid", "message": "Error while reading data"},
                       {"reason": "invalid", "message": "Could not parse 'x' as INT64", "location": "row 4"}]}});
        match state_of(&failed) {
            JobState::Failed { message } => assert_eq!(
                message,
                "Error while reading data (invalid); Could not parse 'x' as INT64 (invalid) at row 4"
            ),
            other => panic!("{other:?}"),
        }
    }
}
