//! The rescue stage (schema policy `rescue`): the table never changes. A file's columns the
//! job lacks, and values of a column the file holds as another type that do not convert to
//! the job's, go into the row's `_rescued` column as one JSON object
//! (`{"channel": "web", "amount": "n/a"}`); the job's column holds NULL for a rescued value.
//! Rows with nothing rescued hold NULL there.
//!
//! A text format (CSV, JSON) is read with the job's typed columns as text and typed here,
//! row by row, so a value that does not fit is rescued wherever in the file it is, not only
//! where the sample showed it; a typed format (Parquet, Avro, ORC) holds its types, and
//! only a column the file holds as another type is converted.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, StringBuilder};
use arrow::compute::{CastOptions, cast_with_options};
use futures::StreamExt;
use sluice_core::format::BatchStream;
use sluice_core::schema::evolve::rescued_column;
use sluice_core::schema::{Column, DetectedColumn, Mode, SchemaDiff, WarehouseType, arrow_schema};

use super::RowStage;
use super::quarantine::{text_typing, type_text, typed_here};
use crate::model::Job;

/// How one file is read and rescued.
#[derive(Debug, Clone)]
pub(crate) struct Rescue {
    /// The columns its reader reads: the job's (a mistyped one as text), then the file's
    /// columns the job lacks.
    read: Vec<Column>,
    /// The job's columns, and `_rescued`: what the stage yields.
    out: Vec<Column>,
    /// Of `read`, the job's columns read as text, to convert.
    mistyped: Vec<usize>,
    /// How many of `read` are the job's.
    known: usize,
    /// Of `mistyped`, those read as text and typed as the readers type text (the empty
    /// value NULL, a decimal comma where the format has one).
    text: bool,
    decimal_comma: bool,
    path: String,
}

impl Rescue {
    /// The plan for a file whose columns differ from the job's by `diff`.
    pub(crate) fn plan(job: &Job, file: &[DetectedColumn], diff: &SchemaDiff) -> Self {
        let mut read = sluice_core::schema::read_view(&job.schema);
        let mut mistyped = Vec::new();
        for (name, _, file_type) in &diff.retyped {
            if let Some(i) = read.iter().position(|c| &c.name == name) {
                // Read as its text (an array as its JSON), converted by the stage.
                read[i].ty = if file_type.repeated {
                    WarehouseType::Json
                } else {
                    WarehouseType::String
                };
                read[i].mode = Mode::Nullable;
                mistyped.push(i);
            }
        }
        let (text, decimal_comma) = text_typing(&job.file_format_options);
        if text {
            for (i, c) in read.iter_mut().enumerate() {
                if !mistyped.contains(&i) && typed_here(c) {
                    c.ty = WarehouseType::String;
                    mistyped.push(i);
                }
            }
        }
        let known = read.len();
        for added in &diff.added {
            if let Some(f) = file.iter().find(|f| f.name == added.name) {
                let mut c = f.column();
                if c.mode == Mode::Required {
                    c.mode = Mode::Nullable;
                }
                read.push(c);
            }
        }
        // As the file holds them: the rules stage after makes the job's types of them.
        let mut out = sluice_core::schema::read_view(&job.schema);
        out.push(rescued_column());
        Self {
            read,
            out,
            mistyped,
            known,
            text,
            decimal_comma,
            path: String::new(),
        }
    }

    /// The plan for a file whose columns are the job's: nothing to rescue.
    pub(crate) fn nothing(job: &Job) -> Self {
        Self::plan(job, &[], &SchemaDiff::default())
    }

    /// For `path`'s rows (errors name it).
    pub(crate) fn of(mut self, path: &str) -> Self {
        self.path = path.to_string();
        self
    }

    /// The columns the file's reader reads.
    pub(crate) fn read_columns(&self) -> &[Column] {
        &self.read
    }

    /// What the file's columns and values put in `_rescued` of each row.
    fn rescue(&self, batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
        let rows = batch.num_rows();
        let mut rescued: Vec<serde_json::Map<String, serde_json::Value>> =
            vec![serde_json::Map::new(); rows];
        let unknown: Vec<usize> = (self.known..self.read.len()).collect();
        if !unknown.is_empty() {
            for (r, object) in json_rows(batch, &unknown)?.into_iter().enumerate() {
                rescued[r].extend(object);
            }
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.out.len());
        for (i, c) in self.out[..self.known].iter().enumerate() {
            let array = batch.column(i);
            if !self.mistyped.contains(&i) {
                columns.push(Arc::clone(array));
                continue;
            }
            let raw = array.as_any().downcast_ref::<StringArray>();
            let (prepared, converted): (ArrayRef, ArrayRef) = match (c.ty, raw) {
                (WarehouseType::String | WarehouseType::Json, _) => {
                    (Arc::clone(array), Arc::clone(array))
                }
                (_, Some(raw)) if self.text => {
                    let (prepared, typed) = type_text(c, raw, self.decimal_comma)
                        .map_err(arrow::error::ArrowError::CastError)?;
                    (Arc::new(prepared), typed)
                }
                _ => (
                    Arc::clone(array),
                    cast_with_options(
                        array,
                        &c.column_type().arrow_type(),
                        &CastOptions::default(),
                    )?,
                ),
            };
            for (r, object) in rescued.iter_mut().enumerate() {
                if prepared.is_valid(r) && converted.is_null(r) {
                    let raw = raw.map(|t| t.value(r).to_string()).unwrap_or_default();
                    if c.mode == Mode::Required {
                        return Err(arrow::error::ArrowError::CastError(format!(
                            "column {} requires a value, and '{}' is not a valid {}: the rescue policy would leave it NULL; fix the file, or make the column nullable",
                            c.name,
                            sluice_core::error::excerpt(&raw),
                            c.column_type()
                        )));
                    }
                    let value = if self.read[i].ty == WarehouseType::Json {
                        serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw))
                    } else {
                        serde_json::Value::String(raw)
                    };
                    object.insert(c.name.clone(), value);
                }
            }
            columns.push(converted);
        }
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        for object in rescued {
            if object.is_empty() {
                out.append_null();
            } else {
                out.append_value(serde_json::Value::Object(object).to_string());
            }
        }
        columns.push(Arc::new(out.finish()));
        RecordBatch::try_new(arrow_schema(&self.out), columns)
    }
}

/// Each row's values of `columns` of `batch`, as JSON objects (NULLs left out).
fn json_rows(
    batch: &RecordBatch,
    columns: &[usize],
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, arrow::error::ArrowError> {
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|&i| Arc::clone(batch.column(i)))
        .collect();
    let fields: Vec<arrow::datatypes::Field> = columns
        .iter()
        .zip(&arrays)
        .map(|(&i, a)| {
            arrow::datatypes::Field::new(
                batch.schema().field(i).name(),
                a.data_type().clone(),
                true,
            )
        })
        .collect();
    let part = RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), arrays)?;
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write(&part)?;
    writer.finish()?;
    let text = writer.into_inner();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = if text.is_empty() {
        vec![serde_json::Map::new(); batch.num_rows()]
    } else {
        serde_json::from_slice(&text)
            .map_err(|e| arrow::error::ArrowError::JsonError(e.to_string()))?
    };
    Ok(rows)
}

impl RowStage for Rescue {
    fn name(&self) -> &'static str {
        "rescue"
    }

    fn apply(&self, batches: BatchStream) -> BatchStream {
        let plan = self.clone();
        batches
            .map(move |batch| {
                let batch = batch?;
                plan.rescue(&batch)
                    .map_err(|e| sluice_core::Error::parse(&plan.path, e.to_string()))
            })
            .boxed()
    }
}
