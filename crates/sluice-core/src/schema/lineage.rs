//! Lineage: the columns that say where each row came from, so that a file's rows can be
//! found again (to replace them when the file changes, or delete them when it is
//! forgotten). The field's tools add the same (Fivetran `_file`/`_line`/`_modified`, dlt
//! `_dlt_load_id`, Airbyte `_airbyte_extracted_at`).
//!
//! - `_sluice_file`: the file's path in its connection;
//! - `_sluice_line`: the row's record number in the file (1 for the first record; for CSV
//!   the first data row, after the header);
//! - `_sluice_loaded_at`: when the run that loaded it started.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};

use super::{Column, Mode, WarehouseType, arrow_schema};

pub const FILE: &str = "_sluice_file";
pub const LINE: &str = "_sluice_line";
pub const LOADED_AT: &str = "_sluice_loaded_at";

/// The lineage columns, as a table holds them after the job's own.
pub fn columns() -> Vec<Column> {
    [
        (FILE, WarehouseType::String),
        (LINE, WarehouseType::Int64),
        (LOADED_AT, WarehouseType::Timestamp),
    ]
    .into_iter()
    .map(|(name, ty)| Column {
        mode: Mode::Required,
        ..Column::new(name, ty)
    })
    .collect()
}

/// Whether a column name is one of the lineage columns.
pub fn is_lineage(name: &str) -> bool {
    [FILE, LINE, LOADED_AT].contains(&name)
}

/// Adds the lineage columns to one file's batches, counting its records.
#[derive(Debug, Clone)]
pub struct Stamp {
    file: String,
    loaded_at: i64,
    next_line: i64,
}

impl Stamp {
    pub fn new(file: &str, loaded_at: DateTime<Utc>) -> Self {
        Self {
            file: file.to_string(),
            loaded_at: loaded_at.timestamp_micros(),
            next_line: 1,
        }
    }

    /// The batch with the lineage columns after its own.
    ///
    /// # Errors
    /// Arrow's, if the batch's columns do not make a batch with them (never for a
    /// reader's batches).
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
        self.apply_numbered(batch, None)
    }

    /// [`Stamp::apply`], each row's record number given (`records`, INT64) where rows were
    /// left out before it: a row keeps the number it has in the file.
    ///
    /// # Errors
    /// As [`Stamp::apply`].
    pub fn apply_numbered(
        &mut self,
        batch: &RecordBatch,
        records: Option<ArrayRef>,
    ) -> Result<RecordBatch, arrow::error::ArrowError> {
        let n = batch.num_rows();
        let first = self.next_line;
        self.next_line += n as i64;
        let file: ArrayRef = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            self.file.as_str(),
            n,
        )));
        let line: ArrayRef = match records {
            Some(records) => records,
            None => Arc::new(Int64Array::from_iter_values(first..first + n as i64)),
        };
        let at: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from_iter_values(std::iter::repeat_n(self.loaded_at, n))
                .with_timezone(super::UTC),
        );
        let mut schema = batch.schema().fields().to_vec();
        schema.extend(arrow_schema(&columns()).fields().iter().cloned());
        let mut arrays = batch.columns().to_vec();
        arrays.extend([file, line, at]);
        RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(schema)), arrays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    #[test]
    fn rows_are_numbered_across_batches_and_stamped_with_their_file() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let batch = |v: Vec<i64>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(Int64Array::from(v)) as ArrayRef],
            )
            .unwrap()
        };
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut stamp = Stamp::new("in/a.csv", at);
        let one = stamp.apply(&batch(vec![7, 8])).unwrap();
        let two = stamp.apply(&batch(vec![9])).unwrap();
        assert_eq!(one.num_columns(), 4);
        assert_eq!(one.schema().field(1).name(), FILE);
        assert_eq!(one.column(1).as_string::<i32>().value(1), "in/a.csv");
        let lines = two.column(2).as_primitive::<Int64Type>();
        assert_eq!(lines.value(0), 3, "numbering goes on in the next batch");
        assert_eq!(
            two.column(3).data_type(),
            &WarehouseType::Timestamp.arrow_type()
        );
        assert!(two.column(3).is_valid(0));
        assert!(is_lineage("_sluice_line") && !is_lineage("line"));
    }
}
