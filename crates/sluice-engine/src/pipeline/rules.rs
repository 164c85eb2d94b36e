//! The rules stage: a job's transforms, filters and validation rules over each batch
//! ([`sluice_rules`], an in-memory DuckDB per file). Rows a filter drops are counted; a row
//! that breaks a rule is quarantined where the job allows it, else fails its file, naming
//! the record and the rule (nothing of the file is loaded).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow::array::{AsArray, Int64Array};
use futures::StreamExt;
use sluice_core::format::BatchStream;
use sluice_core::schema::Column;
use sluice_rules::{Evaluator, RowRules, Violation};
use sluice_sinks::quarantine::Rejected;

use super::RowStage;
use super::quarantine::{Quarantine, kept_records, raw_row, split_records, with_records};

pub(super) struct Rules {
    rules: RowRules,
    columns: Vec<Column>,
    path: String,
    /// Rows the filters dropped from the file so far.
    dropped: Arc<Mutex<u64>>,
    /// Where rows that break a rule go, if the job quarantines them.
    quarantine: Option<Quarantine>,
}

impl Rules {
    /// The rules over one file's batches of `columns`.
    pub(super) fn new(
        rules: &RowRules,
        columns: Vec<Column>,
        path: &str,
        quarantine: Option<Quarantine>,
    ) -> Self {
        Self {
            rules: rules.clone(),
            columns,
            path: path.to_string(),
            dropped: Arc::new(Mutex::new(0)),
            quarantine,
        }
    }

    /// What the stage did to the file, for its record: `12 row(s) filtered out`.
    pub(super) fn note(&self) -> Option<String> {
        let dropped = *self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        (dropped > 0).then(|| format!("{dropped} row(s) filtered out"))
    }
}

impl RowStage for Rules {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn apply(&self, batches: BatchStream) -> BatchStream {
        let path = self.path.clone();
        let fail = move |message: String| sluice_core::Error::parse(&path, message);
        let evaluator = match Evaluator::new(&self.rules, &self.columns) {
            Ok(e) if self.quarantine.is_some() => Arc::new(Mutex::new(e.dropping_broken())),
            Ok(e) => Arc::new(Mutex::new(e)),
            Err(e) => return futures::stream::once(async move { Err(fail(e)) }).boxed(),
        };
        let dropped = Arc::clone(&self.dropped);
        let path = self.path.clone();
        let quarantine = self.quarantine.clone();
        batches
            .then(move |batch| {
                let (evaluator, dropped, path, quarantine) = (
                    Arc::clone(&evaluator),
                    Arc::clone(&dropped),
                    path.clone(),
                    quarantine.clone(),
                );
                async move {
                    let (values, records) = split_records(&batch?);
                    let input = values.clone();
                    let applied = tokio::task::spawn_blocking(move || {
                        evaluator
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .apply(&input)
                    })
                    .await
                    .map_err(|e| sluice_core::Error::parse(&path, e.to_string()))?
                    .map_err(|e| sluice_core::Error::parse(&path, format!("row rules: {e}")))?;
                    let numbers = records.as_primitive::<arrow::datatypes::Int64Type>();
                    match &quarantine {
                        Some(q) => quarantine_broken(q, &values, numbers, &applied.violations),
                        None => {
                            if let Some(v) = applied.violations.first() {
                                return Err(broken(&path, v, numbers, applied.violations.len()));
                            }
                        }
                    }
                    *dropped.lock().unwrap_or_else(|e| e.into_inner()) += applied.dropped;
                    let records = kept_records(&records, applied.kept.as_ref())
                        .map_err(|e| sluice_core::Error::parse(&path, e))?;
                    with_records(&applied.batch, records)
                        .map_err(|e| sluice_core::Error::parse(&path, e))
                }
            })
            .boxed()
    }
}

/// What a violation says of its value: ` (code = X)`, ` (code is NULL)`, or nothing.
fn value_of(v: &Violation) -> String {
    match (&v.column, &v.value) {
        (Some(c), Some(value)) => format!(" ({c} = {value})"),
        (Some(c), None) => format!(" ({c} is NULL)"),
        _ => String::new(),
    }
}

/// The error of a file whose row broke a rule, where the job quarantines nothing.
fn broken(path: &str, v: &Violation, records: &Int64Array, all: usize) -> sluice_core::Error {
    let more = all - 1;
    sluice_core::Error::Parse {
        path: path.to_string(),
        line: None,
        column: v.column.clone(),
        message: format!(
            "record {} breaks rule {}{}{}; nothing of the file was loaded",
            records.value(v.row),
            v.rule,
            value_of(v),
            if more > 0 {
                format!(" (and {more} more in its batch)")
            } else {
                String::new()
            }
        ),
        hint: Some(
            sluice_core::error::Hint::set(
                "fix the file, change the job's rules (sluice jobs update JOB --rule …), or quarantine such rows",
                "max_rejected",
                None,
            )
            .into(),
        ),
    }
}

/// Each row that broke a rule, quarantined once (naming every rule it broke).
fn quarantine_broken(
    q: &Quarantine,
    values: &arrow::array::RecordBatch,
    records: &Int64Array,
    violations: &[Violation],
) {
    let mut by_row: BTreeMap<usize, Vec<&Violation>> = BTreeMap::new();
    for v in violations {
        by_row.entry(v.row).or_default().push(v);
    }
    for (row, broken) in by_row {
        let record = records.value(row) as u64;
        let first = broken[0];
        q.rejects.push(Rejected {
            record,
            line: q.line_of(record),
            column: first.column.clone(),
            raw: raw_row(values, row),
            rule: Some(first.rule.clone()),
            error: broken
                .iter()
                .map(|v| format!("breaks rule {}{}", v.rule, value_of(v)))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
}
