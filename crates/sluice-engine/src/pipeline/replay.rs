//! Replaying quarantined rows: a file's rows in the quarantine table read again from their
//! raw values through the job's current schema and rules. One transaction loads those
//! that pass and replaces the file's rows in the quarantine table with those that fail
//! again, so each row is in exactly one of the two tables once it commits, and a crash
//! before leaves both as they were.

use futures::StreamExt;
use sluice_sinks::quarantine::Rejected;
use sluice_sinks::{Load, LoadMode, Part};

use super::quarantine::Quarantine;
use super::{Failure, FilePipeline, Loaded, joined};
use crate::engine::RejectedRow;

/// What a row whose raw values were cut at the quarantine's limit says.
const CUT: &str = "its raw values were cut at 1 KB: it cannot be replayed";

impl FilePipeline<'_> {
    /// Loads the quarantined `rows` of the file `path` again, as load `load_id`.
    pub(crate) async fn replay(
        &self,
        path: &str,
        rows: &[RejectedRow],
        load_id: &str,
    ) -> Result<Loaded, Failure> {
        let job = self.job();
        let mut text = String::new();
        let mut records = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for r in rows {
            if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&r.raw_text)
                .is_ok()
            {
                text.push_str(&r.raw_text);
                text.push('\n');
                records.push(r.record_number);
            } else {
                unreadable.push(r);
            }
        }
        let quarantine = Quarantine::replaying(&job, path, records);
        for r in unreadable {
            quarantine.rejects.push(Rejected {
                record: r.record_number,
                line: r.line_number,
                column: r.column_name.clone(),
                raw: r.raw_text.clone(),
                rule: r.rule_name.clone(),
                error: if r.error_message.contains(CUT) {
                    r.error_message.clone()
                } else {
                    format!("{}; {CUT}", r.error_message)
                },
            });
        }
        let batches = if text.is_empty() {
            futures::stream::empty().boxed()
        } else {
            let bytes = futures::stream::once(async move { Ok(bytes::Bytes::from(text)) }).boxed();
            sluice_core::format::json::read(
                bytes,
                &quarantine.read_columns(&sluice_core::schema::read_view(&job.schema)),
                path,
            )
        };
        let (batches, rules) = self.staged(&job, path, None, Some(&quarantine), batches);
        let load = Load {
            load_id: load_id.to_string(),
            // A replay adds rows whatever the job's mode: it must not empty the table.
            mode: LoadMode::Append,
            parts: vec![Part {
                file_path: path.to_string(),
                file_version: String::new(),
                replace_rows: false,
                batches,
                rejects: Some(quarantine.rejects.clone()),
                clear_rejected: true,
            }],
            dedup: job.settings.dedup.clone(),
        };
        let receipt = self
            .sink
            .load_parts(&job.table_name, &job.table_columns(), load)
            .await
            .map_err(|e| Failure::from_sink_at(path, e))?;
        let again = quarantine.rejects.len() as u64;
        let note = format!(
            "replayed {} quarantined row(s): {} loaded, {again} quarantined again",
            rows.len(),
            receipt.rows
        );
        Ok(Loaded {
            rows: receipt.rows,
            rejected: again,
            note: joined(Some(note), rules.and_then(|r| r.note())),
        })
    }
}
