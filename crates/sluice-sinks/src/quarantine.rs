//! Quarantine: the rows of a file that could not load (a value its column cannot hold, a
//! broken rule), kept beside the table in `<table>_rejected` and written in the same
//! transaction as the file's good rows and its marker: both tables change together or not
//! at all.
//!
//! The stages that reject rows push them into a part's [`Rejects`]; the sink takes them
//! when the part's batches end ([`Rejects::batch`]) and writes them with the table's own
//! loading path, so each destination needs no more than a second table.

use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use sluice_core::names::TableName;
use sluice_core::schema::{Column, Mode, WarehouseType, arrow_schema};

/// The longest raw text a rejected row keeps, in bytes.
pub const RAW_BYTES: usize = 1024;

/// One row a file could not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its record in the file, from 1.
    pub record: u64,
    /// Its line in the file, where the format has lines.
    pub line: Option<u64>,
    /// The column at fault, where one is.
    pub column: Option<String>,
    /// The row as read, a JSON object of its values (cut at [`RAW_BYTES`]).
    pub raw: String,
    /// The rule it broke; `None` for a value its column cannot hold.
    pub rule: Option<String>,
    /// What is wrong, for people.
    pub error: String,
}

/// The rows one file rejected, shared by the stages that find them and the sink that
/// writes them.
#[derive(Debug, Clone)]
pub struct Rejects {
    inner: Arc<Mutex<Vec<Rejected>>>,
    /// The run the rows were rejected in, recorded with each.
    pub run_id: Option<i64>,
}

impl Rejects {
    pub fn new(run_id: Option<i64>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Vec::new())),
            run_id,
        }
    }

    pub fn push(&self, row: Rejected) {
        self.lock().push(row);
    }

    /// How many rows were rejected so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// The first row rejected (by record).
    pub fn first(&self) -> Option<Rejected> {
        self.lock().iter().min_by_key(|r| r.record).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rejected>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rows as one batch of [`columns`] for the file `file_path` of load `load_id`,
    /// in record order; `None` when there are none.
    pub fn batch(&self, file_path: &str, load_id: &str) -> Option<RecordBatch> {
        let mut rows = self.lock().clone();
        if rows.is_empty() {
            return None;
        }
        rows.sort_by_key(|r| r.record);
        let n = rows.len();
        let at = chrono::Utc::now().timestamp_micros();
        let text = |f: &dyn Fn(&Rejected) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        let arrays: Vec<ArrayRef> = vec![
            text(&|_| Some(file_path.to_string())),
            Arc::new(
                rows.iter()
                    .map(|r| r.line.map(|l| l as i64))
                    .collect::<Int64Array>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.record as i64))
                    .collect::<Int64Array>(),
            ),
            text(&|r| r.column.clone()),
            text(&|r| Some(cut(&r.raw).to_string())),
            text(&|r| r.rule.clone()),
            text(&|r| Some(r.error.clone())),
            text(&|_| Some(load_id.to_string())),
            Arc::new(Int64Array::from(vec![self.run_id; n])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![at; n])
                    .with_timezone(sluice_core::schema::UTC),
            ),
        ];
        RecordBatch::try_new(arrow_schema(&columns()), arrays).ok()
    }
}

/// `raw` cut at [`RAW_BYTES`], on a character boundary.
pub fn cut(raw: &str) -> &str {
    if raw.len() <= RAW_BYTES {
        return raw;
    }
    let mut end = RAW_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    &raw[..end]
}

const SUFFIX: &str = "_rejected";

/// The quarantine table of `table`: `<table>_rejected`, beside it.
pub fn table_of(table: &TableName) -> TableName {
    // A table name is at most 63 characters: a long one is cut to leave room.
    let base: String = table.name().chars().take(63 - SUFFIX.len()).collect();
    let name = format!("{base}{SUFFIX}");
    let full = match table.schema() {
        Some(schema) => format!("{schema}.{name}"),
        None => name,
    };
    TableName::parse(&full).unwrap_or_else(|_| table.clone())
}

/// Column names of the quarantine table.
pub mod column {
    pub const FILE: &str = "file_path";
    pub const LINE: &str = "line_number";
    pub const RECORD: &str = "record_number";
    pub const COLUMN: &str = "column_name";
    pub const RAW: &str = "raw_text";
    pub const RULE: &str = "rule_name";
    pub const ERROR: &str = "error_message";
    pub const LOAD_ID: &str = "load_id";
    pub const RUN_ID: &str = "run_id";
    pub const REJECTED_AT: &str = "rejected_at";
}

/// The quarantine table's columns.
pub fn columns() -> Vec<Column> {
    use WarehouseType::{Int64, String, Timestamp};
    let required = |name: &str, ty| Column {
        mode: Mode::Required,
        ..Column::new(name, ty)
    };
    vec![
        required(column::FILE, String),
        Column::new(column::LINE, Int64),
        required(column::RECORD, Int64),
        Column::new(column::COLUMN, String),
        required(column::RAW, String),
        Column::new(column::RULE, String),
        required(column::ERROR, String),
        required(column::LOAD_ID, String),
        Column::new(column::RUN_ID, Int64),
        required(column::REJECTED_AT, Timestamp),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    #[test]
    fn rejects_become_one_batch_in_record_order_with_raw_text_cut() {
        let rejects = Rejects::new(Some(7));
        assert!(rejects.batch("a.csv", "l1").is_none());
        for record in [9, 2] {
            rejects.push(Rejected {
                record,
                line: Some(record + 1),
                column: Some("id".into()),
                raw: "é".repeat(600),
                rule: None,
                error: "'x' is not INT64".into(),
            });
        }
        let batch = rejects.batch("a.csv", "l1").unwrap();
        assert_eq!(batch.num_rows(), 2);
        let records = batch
            .column(2)
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!((records.value(0), records.value(1)), (2, 9));
        let raw = batch.column(4).as_string::<i32>().value(0);
        assert!(
            raw.len() <= RAW_BYTES && raw.len() > RAW_BYTES - 2,
            "{}",
            raw.len()
        );
        assert_eq!(
            table_of(&TableName::parse("sales.tx").unwrap()).to_string(),
            "sales.tx_rejected"
        );
    }
}
