//! A job's quarantined rows, read back from `<table>_rejected`: counts per file and rule,
//! and the rows themselves.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use serde::Serialize;
use sluice_sinks::quarantine::{self, column};

use super::Engine;
use crate::{Error, Result};

/// The most rows [`Engine::rejected`] reads back.
pub const MAX_ROWS: usize = 100_000;

/// One quarantined row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRow {
    pub file_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<u64>,
    pub record_number: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_name: Option<String>,
    pub raw_text: String,
    /// The rule the row broke; `None` for a value its column cannot hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    pub error_message: String,
    pub load_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
}

/// How many rows of a file one rule (or bad values) sent to the quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedCount {
    pub file_path: String,
    /// The rule, or `value` for values their columns cannot hold.
    pub reason: String,
    pub rows: u64,
}

/// A job's quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The quarantine table: `<table>_rejected`.
    pub table: String,
    pub total: u64,
    pub counts: Vec<RejectedCount>,
    /// The rows, by file and record (at most [`MAX_ROWS`]).
    pub rows: Vec<RejectedRow>,
}

impl Rejected {
    /// What a rejected row's reason is counted as.
    pub fn reason_of(row: &RejectedRow) -> String {
        row.rule_name.clone().unwrap_or_else(|| "value".into())
    }
}

impl Engine {
    /// Loads the job's quarantined rows again through its current schema and rules, as a
    /// run of its own (it waits for a run of the job going on): per file, in one
    /// transaction, the rows that pass load and the rest stay quarantined with their new
    /// error, each row exactly once. Returns the run.
    ///
    /// # Errors
    /// [`Error::NotFound`] for no such job; the run fails for a job that rescues values
    /// (its table has a `_rescued` column replayed rows would not fill).
    pub async fn replay_rejected(&self, name: &str) -> Result<crate::model::Run> {
        let options = crate::run::RunOptions {
            replay: true,
            wait: true,
            ..Default::default()
        };
        self.run(name, options, Arc::new(crate::run::Quiet)).await
    }

    /// The job's quarantined rows, with counts per file and rule.
    ///
    /// # Errors
    /// [`Error::NotFound`] for no such job; the destination's.
    pub async fn rejected(&self, name: &str) -> Result<Rejected> {
        let job = self.catalog.job(name).await?;
        let sink = self.jobs.sink(&job)?;
        let table = quarantine::table_of(&job.table_name);
        let rows = quarantined(sink.as_ref(), &job.table_name).await?;
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        for r in &rows {
            *counts
                .entry((r.file_path.clone(), Rejected::reason_of(r)))
                .or_default() += 1;
        }
        Ok(Rejected {
            table: table.to_string(),
            total: rows.len() as u64,
            counts: counts
                .into_iter()
                .map(|((file_path, reason), rows)| RejectedCount {
                    file_path,
                    reason,
                    rows,
                })
                .collect(),
            rows,
        })
    }
}

/// The rows the quarantine table of `table` holds (none if it was never made), by file and
/// record, at most [`MAX_ROWS`].
pub(crate) async fn quarantined(
    sink: &dyn sluice_sinks::BuiltSink,
    table: &sluice_core::names::TableName,
) -> Result<Vec<RejectedRow>> {
    let table = quarantine::table_of(table);
    let mut rows = Vec::new();
    if sink.table_exists(&table).await.map_err(Error::Sink)? {
        let total = sink.count_rows(&table).await.map_err(Error::Sink)?;
        let batches = sink
            .preview(&table, MAX_ROWS.min(total as usize))
            .await
            .map_err(Error::Sink)?;
        for b in &batches {
            rows.extend(rows_of(b).map_err(|e| Error::Catalog(format!("reading {table}: {e}")))?);
        }
    }
    rows.sort_by(|a, b| (&a.file_path, a.record_number).cmp(&(&b.file_path, b.record_number)));
    Ok(rows)
}

/// A quarantine table's rows from a batch in the destination's own types.
fn rows_of(batch: &RecordBatch) -> std::result::Result<Vec<RejectedRow>, String> {
    let text = |name: &str| -> std::result::Result<ArrayRef, String> {
        let i = batch
            .schema()
            .index_of(name)
            .map_err(|_| format!("it has no column {name}"))?;
        arrow::compute::cast(batch.column(i), &DataType::Utf8).map_err(|e| e.to_string())
    };
    let number = |name: &str| -> std::result::Result<ArrayRef, String> {
        let i = batch
            .schema()
            .index_of(name)
            .map_err(|_| format!("it has no column {name}"))?;
        arrow::compute::cast(batch.column(i), &DataType::Int64).map_err(|e| e.to_string())
    };
    let (file, line, record, col, raw, rule, error, load, run) = (
        text(column::FILE)?,
        number(column::LINE)?,
        number(column::RECORD)?,
        text(column::COLUMN)?,
        text(column::RAW)?,
        text(column::RULE)?,
        text(column::ERROR)?,
        text(column::LOAD_ID)?,
        number(column::RUN_ID)?,
    );
    let s = |a: &ArrayRef, r: usize| {
        let a = a.as_string::<i32>();
        a.is_valid(r).then(|| a.value(r).to_string())
    };
    let n = |a: &ArrayRef, r: usize| {
        let a = a.as_primitive::<Int64Type>();
        a.is_valid(r).then(|| a.value(r))
    };
    Ok((0..batch.num_rows())
        .map(|r| RejectedRow {
            file_path: s(&file, r).unwrap_or_default(),
            line_number: n(&line, r).map(|v| v as u64),
            record_number: n(&record, r).unwrap_or(0) as u64,
            column_name: s(&col, r),
            raw_text: s(&raw, r).unwrap_or_default(),
            rule_name: s(&rule, r),
            error_message: s(&error, r).unwrap_or_default(),
            load_id: s(&load, r).unwrap_or_default(),
            run_id: n(&run, r),
        })
        .collect())
}
