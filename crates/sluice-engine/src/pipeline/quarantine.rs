//! Quarantine in the pipeline: where a job allows bad rows (`max_rejected`), a row whose
//! value its column cannot hold, or that breaks a rule, goes to the table's quarantine
//! table with its file, line or record, column, raw values and error, and the file's good
//! rows load; the sink writes both in one transaction ([`sluice_sinks::quarantine`]).
//!
//! Each batch carries its rows' record numbers in the file ([`RECORD`]) from the reader to
//! the lineage stage, so a row keeps its number however many rows before it were left out.
//! Text formats (CSV, JSON) are read with the job's typed scalar columns as text and typed
//! here ([`Quarantine::typed`]), row by row: a value that does not fit rejects its row, not
//! its file. Typed formats (Parquet, Avro, ORC, TFRecord) hold their types already; their
//! rows are quarantined by the rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::{CastOptions, cast_with_options, filter, filter_record_batch};
use arrow::datatypes::{DataType, Field, Schema};
use futures::StreamExt;
use sluice_core::format::{BatchStream, FormatOptions};
use sluice_core::schema::{Column, Mode, WarehouseType, arrow_schema};
use sluice_sinks::quarantine::{Rejected, Rejects};

use crate::model::{Job, MaxRejected};

/// The column that carries each row's record number (from 1) through the stages.
pub(super) const RECORD: &str = "__sluice_record";

/// A file's quarantine: where its rejected rows go, and how many it may have.
#[derive(Clone)]
pub(super) struct Quarantine {
    pub(super) rejects: Rejects,
    limit: MaxRejected,
    path: String,
    /// Records read from the file so far.
    records: Arc<AtomicU64>,
    /// Lines before the first record (a header, skipped lines), where records are lines.
    lines_before: Option<u64>,
    /// Read as text and typed here.
    text: bool,
    decimal_comma: bool,
    /// The rows' record numbers, where they are not 1, 2, 3 … (a replay's rows).
    given: Option<Arc<Vec<u64>>>,
}

impl Quarantine {
    /// The quarantine of one file of `job`, or `None` where the job quarantines nothing.
    /// `rescued`: the file's mistyped columns go to `_rescued` instead (read as they are).
    pub(super) fn of(job: &Job, path: &str, run_id: i64, rescued: bool) -> Option<Self> {
        let limit = job.settings.max_rejected;
        if !limit.quarantines() {
            return None;
        }
        let (text, decimal_comma) = text_typing(&job.file_format_options);
        Some(Self {
            rejects: Rejects::new(Some(run_id)),
            limit,
            path: path.to_string(),
            records: Arc::new(AtomicU64::new(0)),
            lines_before: lines_before(&job.file_format_options),
            text: text && !rescued,
            decimal_comma,
            given: None,
        })
    }

    /// Record numbering alone, for a file whose job quarantines nothing.
    pub(super) fn counting(path: &str) -> Self {
        Self {
            rejects: Rejects::new(None),
            limit: MaxRejected::None,
            path: path.to_string(),
            records: Arc::new(AtomicU64::new(0)),
            lines_before: None,
            text: false,
            decimal_comma: false,
            given: None,
        }
    }

    /// The quarantine of a replay of rows quarantined before: read again from their raw
    /// values (JSON objects of text), numbered as they were in their file, and quarantined
    /// again however many fail (the replay itself never fails for them).
    pub(super) fn replaying(job: &Job, path: &str, records: Vec<u64>) -> Self {
        Self {
            rejects: Rejects::new(None),
            limit: MaxRejected::Rows(u64::MAX),
            path: path.to_string(),
            records: Arc::new(AtomicU64::new(0)),
            lines_before: lines_before(&job.file_format_options),
            text: true,
            decimal_comma: false,
            given: Some(Arc::new(records)),
        }
    }

    /// The line of record `record`, where records are lines (CSV: exact unless a quoted
    /// value holds a line end).
    pub(super) fn line_of(&self, record: u64) -> Option<u64> {
        self.lines_before.map(|before| before + record)
    }

    /// The columns the reader reads: the job's, its typed scalars as text for a text format.
    pub(super) fn read_columns(&self, columns: &[Column]) -> Vec<Column> {
        if !self.text {
            return columns.to_vec();
        }
        columns
            .iter()
            .map(|c| {
                if typed_here(c) {
                    Column {
                        ty: WarehouseType::String,
                        ..c.clone()
                    }
                } else {
                    c.clone()
                }
            })
            .collect()
    }

    /// Each batch with its rows' record numbers ([`RECORD`]) after its columns.
    pub(super) fn numbered(&self, batches: BatchStream) -> BatchStream {
        let records = Arc::clone(&self.records);
        let path = self.path.clone();
        let given = self.given.clone();
        batches
            .map(move |batch| {
                let batch = batch?;
                let n = batch.num_rows() as u64;
                let before = records.fetch_add(n, Ordering::SeqCst);
                let numbers: ArrayRef = match &given {
                    Some(given) => Arc::new(Int64Array::from_iter_values(
                        (before..before + n)
                            .map(|i| given.get(i as usize).copied().unwrap_or(i + 1) as i64),
                    )),
                    None => {
                        let first = before as i64 + 1;
                        Arc::new(Int64Array::from_iter_values(first..first + n as i64))
                    }
                };
                with_records(&batch, numbers).map_err(|e| sluice_core::Error::parse(&path, e))
            })
            .boxed()
    }

    /// Text columns typed as the job's `columns`, row by row: a row with a value its
    /// column cannot hold is rejected (its first such column named), the rest go on.
    pub(super) fn typed(&self, columns: Vec<Column>, batches: BatchStream) -> BatchStream {
        if !self.text {
            return batches;
        }
        let this = self.clone();
        batches
            .map(move |batch| {
                let batch = batch?;
                this.type_batch(&columns, &batch)
                    .map_err(|e| sluice_core::Error::parse(&this.path, e))
            })
            .boxed()
    }

    fn type_batch(&self, columns: &[Column], batch: &RecordBatch) -> Result<RecordBatch, String> {
        let (values, records) = split_records(batch);
        let n = values.num_rows();
        let mut bad: Vec<Option<(usize, String)>> = vec![None; n];
        // Records the reader could not read, kept by it in every text field.
        let mut broken: Vec<Option<(String, String)>> = vec![None; n];
        for i in 0..values.num_columns() {
            let Some(text) = values.column(i).as_string_opt::<i32>() else {
                continue;
            };
            for (r, slot) in broken.iter_mut().enumerate() {
                if slot.is_none()
                    && text.is_valid(r)
                    && let Some(b) = sluice_core::format::csv::bad_record(text.value(r))
                {
                    *slot = Some((b.error.to_string(), b.text.to_string()));
                }
            }
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let got = values.column(i);
            if !typed_here(c) || got.data_type() != &DataType::Utf8 {
                arrays.push(Arc::clone(got));
                continue;
            }
            let text = got.as_string::<i32>();
            let (prepared, typed) = type_text(c, text, self.decimal_comma)?;
            for (r, slot) in bad.iter_mut().enumerate() {
                if slot.is_none() && broken[r].is_none() && prepared.is_valid(r) && typed.is_null(r)
                {
                    *slot = Some((i, text.value(r).to_string()));
                }
            }
            arrays.push(typed);
        }
        let typed =
            RecordBatch::try_new(arrow_schema(columns), arrays).map_err(|e| e.to_string())?;
        if bad.iter().all(Option::is_none) && broken.iter().all(Option::is_none) {
            return with_records(&typed, records);
        }
        let numbers = records.as_primitive::<arrow::datatypes::Int64Type>();
        for (r, slot) in broken.iter().enumerate() {
            if let Some((error, text)) = slot {
                let record = numbers.value(r) as u64;
                self.rejects.push(Rejected {
                    record,
                    line: self.line_of(record),
                    column: None,
                    raw: text.clone(),
                    rule: None,
                    error: error.clone(),
                });
            }
        }
        for (r, slot) in bad.iter().enumerate() {
            if let Some((i, value)) = slot {
                let record = numbers.value(r) as u64;
                self.rejects.push(Rejected {
                    record,
                    line: self.line_of(record),
                    column: Some(columns[*i].name.clone()),
                    raw: raw_row(&values, r),
                    rule: None,
                    error: format!(
                        "'{}' is not a valid {}",
                        sluice_core::error::excerpt(value),
                        columns[*i].column_type()
                    ),
                });
            }
        }
        let keep = BooleanArray::from(
            bad.iter()
                .zip(&broken)
                .map(|(b, w)| b.is_none() && w.is_none())
                .collect::<Vec<bool>>(),
        );
        let kept = filter_record_batch(&typed, &keep).map_err(|e| e.to_string())?;
        let records = filter(&records, &keep).map_err(|e| e.to_string())?;
        with_records(&kept, records)
    }

    /// The batches, failing the file once it rejected more rows than the job allows: as
    /// soon as a count is passed, at the end of the file for a share of its records.
    pub(super) fn limited(&self, batches: BatchStream) -> BatchStream {
        let this = self.clone();
        let each = batches.map(move |batch| {
            let batch = batch?;
            if this.limit.exceeded_already(this.rejects.len() as u64) {
                return Err(this.too_many());
            }
            Ok(batch)
        });
        let this = self.clone();
        let end = futures::stream::once(async move {
            let records = this.records.load(Ordering::SeqCst);
            this.limit
                .exceeded(this.rejects.len() as u64, records)
                .then(|| Err(this.too_many()))
        })
        .filter_map(|item| async move { item });
        each.chain(end).boxed()
    }

    fn too_many(&self) -> sluice_core::Error {
        let rejected = self.rejects.len();
        let first = self.rejects.first();
        let (line, column, what) = match &first {
            Some(r) => (
                r.line,
                r.column.clone(),
                format!(
                    "; the first, {}: {}",
                    r.line
                        .map_or_else(|| format!("record {}", r.record), |l| format!("line {l}")),
                    r.error
                ),
            ),
            None => (None, None, String::new()),
        };
        sluice_core::Error::Parse {
            path: self.path.clone(),
            line,
            column,
            message: format!(
                "{rejected} row(s) rejected, more than the job allows (max rejected {}){what}; nothing of the file was loaded",
                self.limit
            ),
            hint: Some(
                sluice_core::error::Hint::set(
                    "fix the file, or allow more rejected rows",
                    "max_rejected",
                    None,
                )
                .into(),
            ),
        }
    }

    /// What the file's quarantine did, for its record.
    pub(super) fn note(&self, table: &sluice_core::names::TableName) -> Option<String> {
        let n = self.rejects.len();
        (n > 0).then(|| {
            format!(
                "{n} row(s) rejected to {}",
                sluice_sinks::quarantine::table_of(table)
            )
        })
    }
}

/// Whether the job's files are read as text and typed row by row: it quarantines bad rows,
/// its format is text (CSV, JSON), and it does not rescue mistyped values instead.
pub(super) fn types_rows(job: &Job) -> bool {
    job.settings.max_rejected.quarantines()
        && job.settings.schema_policy != crate::model::SchemaPolicy::Rescue
        && text_typing(&job.file_format_options).0
}

/// The text values of `c`, typed as the readers type them: the empty value is NULL, a
/// decimal comma is read where the format has one. Returns the values as prepared for the
/// cast, and the typed values: NULL where a prepared value does not fit.
pub(super) fn type_text(
    c: &Column,
    text: &StringArray,
    decimal_comma: bool,
) -> Result<(StringArray, ArrayRef), String> {
    let prepared: StringArray = text
        .iter()
        .map(|v| {
            v.filter(|v| !v.is_empty()).map(|v| {
                if decimal_comma && matches!(c.ty, WarehouseType::Float64 | WarehouseType::Numeric)
                {
                    sluice_core::format::csv::decimal_comma(v)
                        .unwrap_or_else(|| v.trim().to_string())
                } else {
                    v.to_string()
                }
            })
        })
        .collect();
    let typed = cast_with_options(
        &prepared,
        &c.column_type().arrow_type(),
        &CastOptions {
            safe: true,
            ..Default::default()
        },
    )
    .map_err(|e| format!("column {}: {e}", c.name))?;
    Ok((prepared, typed))
}

/// Whether a format's typed columns can be read as text and typed here (CSV, JSON: not
/// the typed formats), and whether its numbers have a decimal comma.
pub(super) fn text_typing(format: &FormatOptions) -> (bool, bool) {
    match format {
        FormatOptions::Csv(csv) => (true, csv.decimal_comma == Some(true)),
        FormatOptions::Json(_) => (true, false),
        _ => (false, false),
    }
}

/// Whether a column of this type is read as text and typed here.
pub(super) fn typed_here(c: &Column) -> bool {
    c.mode != Mode::Repeated
        && matches!(
            c.ty,
            WarehouseType::Int64
                | WarehouseType::Float64
                | WarehouseType::Numeric
                | WarehouseType::Bool
                | WarehouseType::Date
                | WarehouseType::Timestamp
        )
}

/// Lines before a file's first record, where its records are lines (CSV: a header and the
/// lines skipped before it).
fn lines_before(format: &FormatOptions) -> Option<u64> {
    match format {
        FormatOptions::Csv(csv) => {
            Some(u64::from(csv.header()) + u64::from(csv.skip_rows.unwrap_or(0)))
        }
        _ => None,
    }
}

/// `batch` with `records` after its columns as [`RECORD`], for the next stage.
pub(super) fn with_records(batch: &RecordBatch, records: ArrayRef) -> Result<RecordBatch, String> {
    let mut fields = batch.schema().fields().to_vec();
    fields.push(Arc::new(Field::new(RECORD, DataType::Int64, false)));
    let mut arrays = batch.columns().to_vec();
    arrays.push(records);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}

/// A batch's values and its record numbers ([`RECORD`]), if it carries them.
pub(super) fn take_records(mut batch: RecordBatch) -> (RecordBatch, Option<ArrayRef>) {
    match batch.schema().index_of(RECORD) {
        Ok(i) => {
            let records = batch.remove_column(i);
            (batch, Some(records))
        }
        Err(_) => (batch, None),
    }
}

/// A batch's values and its record numbers ([`RECORD`], or 1.. where it has none).
pub(super) fn split_records(batch: &RecordBatch) -> (RecordBatch, ArrayRef) {
    let n = batch.num_rows() as i64;
    let (values, records) = take_records(batch.clone());
    let records =
        records.unwrap_or_else(|| Arc::new(Int64Array::from_iter_values(1..=n)) as ArrayRef);
    (values, records)
}

/// The batches without their record numbers.
pub(super) fn unnumbered(batches: BatchStream) -> BatchStream {
    batches.map(|batch| Ok(take_records(batch?).0)).boxed()
}

/// Record numbers for the rows `kept` (a filter's mask) leaves.
pub(super) fn kept_records(
    records: &ArrayRef,
    kept: Option<&BooleanArray>,
) -> Result<ArrayRef, String> {
    match kept {
        Some(mask) => filter(records, mask).map_err(|e| e.to_string()),
        None => Ok(Arc::clone(records)),
    }
}

/// Row `row` of `batch` as a JSON object of its values (NULLs left out), as the quarantine
/// table keeps it.
pub(super) fn raw_row(batch: &RecordBatch, row: usize) -> String {
    let one = batch.slice(row, 1);
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    if writer.write(&one).is_err() || writer.finish().is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&writer.into_inner())
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_raw_values_are_a_json_object() {
        let batch = RecordBatch::try_new(
            arrow_schema(&[
                Column::new("id", WarehouseType::String),
                Column::new("n", WarehouseType::Int64),
            ]),
            vec![
                Arc::new(StringArray::from(vec![Some("1x"), None])),
                Arc::new(Int64Array::from(vec![Some(5), Some(6)])),
            ],
        )
        .unwrap();
        assert_eq!(raw_row(&batch, 0), r#"{"id":"1x","n":5}"#);
        assert_eq!(raw_row(&batch, 1), r#"{"n":6}"#);
    }
}
