//! The rules stage: a job's transforms, filters and validation rules over each batch
//! ([`sluice_rules`], an in-memory DuckDB per file). Rows a filter drops are counted; a row
//! that breaks a rule fails its file, naming the record and the rule (nothing of the file
//! is loaded).

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use sluice_core::format::BatchStream;
use sluice_core::schema::Column;
use sluice_rules::{Evaluator, RowRules};

use super::RowStage;

pub(super) struct Rules {
    rules: RowRules,
    columns: Vec<Column>,
    path: String,
    /// Rows the filters dropped from the file so far.
    dropped: Arc<Mutex<u64>>,
}

impl Rules {
    /// The rules over one file's batches of `columns`.
    pub(super) fn new(rules: &RowRules, columns: Vec<Column>, path: &str) -> Self {
        Self {
            rules: rules.clone(),
            columns,
            path: path.to_string(),
            dropped: Arc::new(Mutex::new(0)),
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
            Ok(e) => Arc::new(Mutex::new(e)),
            Err(e) => return futures::stream::once(async move { Err(fail(e)) }).boxed(),
        };
        let dropped = Arc::clone(&self.dropped);
        let path = self.path.clone();
        batches
            .then(move |batch| {
                let (evaluator, dropped, path) = (Arc::clone(&evaluator), Arc::clone(&dropped), path.clone());
                async move {
                    let batch = batch?;
                    let applied = tokio::task::spawn_blocking(move || {
                        evaluator.lock().unwrap_or_else(|e| e.into_inner()).apply(&batch)
                    })
                    .await
                    .map_err(|e| sluice_core::Error::parse(&path, e.to_string()))?
                    .map_err(|e| sluice_core::Error::parse(&path, format!("row rules: {e}")))?;
                    if let Some(v) = applied.violations.first() {
                        let value = match (&v.column, &v.value) {
                            (Some(c), Some(value)) => format!(" ({c} = {value})"),
                            (Some(c), None) => format!(" ({c} is NULL)"),
                            _ => String::new(),
                        };
                        let more = applied.violations.len() - 1;
                        return Err(sluice_core::Error::Parse {
                            path: path.clone(),
                            line: None,
                            column: v.column.clone(),
                            message: format!(
                                "record {} breaks rule {}{value}{}; nothing of the file was loaded",
                                v.record,
                                v.rule,
                                if more > 0 { format!(" (and {more} more in its batch)") } else { String::new() }
                            ),
                            hint: Some(
                                sluice_core::error::Hint::text(
                                    "fix the file, or change the job's rules (sluice jobs update JOB --rule …)",
                                )
                                .into(),
                            ),
                        });
                    }
                    *dropped.lock().unwrap_or_else(|e| e.into_inner()) += applied.dropped;
                    Ok(applied.batch)
                }
            })
            .boxed()
    }
}
