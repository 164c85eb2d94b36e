//! Columns of formats that read as Arrow (Parquet, Avro, ORC): warehouse types of Arrow
//! types, detected columns with sample values, and each batch conformed to the job's
//! columns by name, every value cast to the job's type or named where it does not fit.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions as DisplayOptions};

use crate::error::Hint;
use crate::schema::infer::SAMPLE_VALUES;
use crate::schema::{Column, ColumnType, DetectedColumn, Mode, WarehouseType, arrow_schema};
use crate::{Error, Result};

/// Whether a field holds UUIDs (Arrow's `arrow.uuid` extension, or Avro's logical type):
/// 16 bytes each, shown and loaded as their text.
pub fn is_uuid(field: &Field) -> bool {
    matches!(field.data_type(), DataType::FixedSizeBinary(16))
        && (field
            .metadata()
            .get("ARROW:extension:name")
            .map(String::as_str)
            == Some("arrow.uuid")
            || field.metadata().get("logicalType").map(String::as_str) == Some("uuid"))
}

/// The warehouse type of a field found in a file.
pub fn field_type(field: &Field) -> WarehouseType {
    if is_uuid(field) {
        return WarehouseType::String;
    }
    warehouse_type(field.data_type())
}

/// The type of the values of a list field whose values are scalars (not lists, structs
/// or UUIDs): such a field is a REPEATED column of that type. Anything else nested is JSON.
pub fn repeated_item(field: &Field) -> Option<WarehouseType> {
    use DataType::*;
    let item = match field.data_type() {
        List(item) | LargeList(item) | FixedSizeList(item, _) => item,
        _ => return None,
    };
    if is_uuid(item) || matches!(item.data_type(), FixedSizeBinary(_)) {
        return None;
    }
    Some(warehouse_type(item.data_type())).filter(|t| *t != WarehouseType::Json)
}

/// The warehouse type of an Arrow type found in a file.
pub fn warehouse_type(dt: &DataType) -> WarehouseType {
    use DataType::*;
    match dt {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => WarehouseType::Int64,
        // Above i64::MAX a UInt64 would not fit INT64.
        UInt64 => WarehouseType::Numeric,
        Float16 | Float32 | Float64 => WarehouseType::Float64,
        Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => WarehouseType::Numeric,
        Boolean => WarehouseType::Bool,
        Date32 | Date64 => WarehouseType::Date,
        Timestamp(..) => WarehouseType::Timestamp,
        Utf8 | LargeUtf8 | Utf8View => WarehouseType::String,
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => WarehouseType::Bytes,
        Struct(_) | List(_) | LargeList(_) | ListView(_) | LargeListView(_) | FixedSizeList(..)
        | Map(..) | Union(..) => WarehouseType::Json,
        Dictionary(_, value) => warehouse_type(value),
        _ => WarehouseType::String,
    }
}

/// The detected columns of `schema`, with sample values from `first` (a batch of the
/// file's first rows) where there is one.
pub fn detected_columns(
    schema: &Schema,
    first: Option<&RecordBatch>,
    path: &str,
) -> Result<Vec<DetectedColumn>> {
    let mut columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let samples = first
                .map(|b| sample_values(&shown(b.column(i), field)))
                .unwrap_or_default();
            let item = repeated_item(field);
            DetectedColumn {
                name: field.name().clone(),
                source_type: if is_uuid(field) {
                    "uuid".to_string()
                } else {
                    field.data_type().to_string()
                },
                bigquery_type: item.unwrap_or_else(|| field_type(field)),
                bigquery_mode: if item.is_some() {
                    Mode::Repeated
                } else if field.is_nullable() {
                    Mode::Nullable
                } else {
                    Mode::Required
                },
                nullable: field.is_nullable(),
                all_null: false,
                sample_values: samples,
                source: None,
            }
        })
        .collect::<Vec<_>>();
    refuse_repeated_names(&columns, path)?;
    crate::schema::name_from_source(&mut columns);
    Ok(columns)
}

/// A column as people read it: UUIDs as their text.
fn shown(array: &ArrayRef, field: &Field) -> ArrayRef {
    if is_uuid(field) {
        uuid_text(array)
    } else {
        Arc::clone(array)
    }
}

/// 16-byte UUIDs as `8-4-4-4-12` text.
fn uuid_text(array: &ArrayRef) -> ArrayRef {
    let bytes = array.as_fixed_size_binary();
    let mut out = StringBuilder::new();
    for i in 0..bytes.len() {
        if bytes.is_null(i) {
            out.append_null();
            continue;
        }
        let hex: String = bytes.value(i).iter().map(|b| format!("{b:02x}")).collect();
        out.append_value(format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        ));
    }
    Arc::new(out.finish())
}

/// The index in `schema` of each of `columns`, by name.
pub fn indices_of(schema: &Schema, columns: &[Column], path: &str) -> Result<Vec<Option<usize>>> {
    columns
        .iter()
        .map(|c| match schema.index_of(c.source_name()) {
            Ok(i) => Ok(Some(i)),
            // A nullable column the file lacks loads as NULL (a job whose schema grew).
            Err(_) if c.mode != crate::schema::Mode::Required => Ok(None),
            Err(_) => Err(Error::Parse {
                path: path.into(),
                line: None,
                column: Some(c.name.clone()),
                message: "the column is missing from the file, and the job's schema requires it"
                    .into(),
                hint: None,
            }),
        })
        .collect()
}

/// Turns a file's batches into batches of the job's columns.
pub struct Conform {
    target: SchemaRef,
    columns: Vec<Column>,
    indices: Vec<Option<usize>>,
    path: String,
    rows_before: u64,
}

impl Conform {
    /// `indices`: where each of `columns` is in the file's batches ([`indices_of`]).
    pub fn new(columns: &[Column], indices: Vec<Option<usize>>, path: &str) -> Self {
        Self {
            target: arrow_schema(columns),
            columns: columns.to_vec(),
            indices,
            path: path.to_string(),
            rows_before: 0,
        }
    }

    /// The next batch of the file, as the job's columns.
    ///
    /// # Errors
    /// A value that does not fit its column, naming its row.
    pub fn batch(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let schema = batch.schema();
        let arrays = self
            .indices
            .iter()
            .zip(&self.columns)
            .map(|(&i, c)| match i {
                Some(i) => {
                    let array = shown(batch.column(i), schema.field(i));
                    conform(&array, c, &self.path, self.rows_before)
                }
                None => Ok(arrow::array::new_null_array(
                    &c.column_type().arrow_type(),
                    batch.num_rows(),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        self.rows_before += batch.num_rows() as u64;
        RecordBatch::try_new(Arc::clone(&self.target), arrays)
            .map_err(|e| Error::parse(&self.path, e.to_string()))
    }
}

/// Two fields of one name cannot be told apart by name, which is how rows are read.
fn refuse_repeated_names(columns: &[DetectedColumn], path: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(columns.len());
    for c in columns {
        if !seen.insert(c.name.as_str()) {
            return Err(Error::Parse {
                path: path.into(),
                line: None,
                column: Some(crate::error::excerpt(&c.name)),
                message: "the file has more than one column of this name; sluice reads columns by name and cannot tell them apart".into(),
                hint: Some(crate::error::Hint::text("write the file with distinct column names").into()),
            });
        }
    }
    Ok(())
}

fn sample_values(array: &ArrayRef) -> Vec<String> {
    let Ok(formatter) = ArrayFormatter::try_new(array.as_ref(), &DisplayOptions::default()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for i in 0..array.len() {
        if out.len() == SAMPLE_VALUES {
            break;
        }
        if array.is_valid(i) {
            let v = formatter.value(i).to_string();
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// Casts one column to the job's type; a value that does not fit names its row.
fn conform(array: &ArrayRef, column: &Column, path: &str, rows_before: u64) -> Result<ArrayRef> {
    let target = column.column_type().arrow_type();
    if array.data_type() == &target {
        return Ok(Arc::clone(array));
    }
    if let DataType::Union(..) = array.data_type() {
        return union_to_json(array, column, path, rows_before);
    }
    if column.column_type() == ColumnType::new(WarehouseType::Json, Mode::Nullable)
        && warehouse_type(array.data_type()) == WarehouseType::Json
    {
        return nested_to_json(array, column, path);
    }
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(array, &target, &strict).map_err(|e| {
        // Find the first value that failed: the lenient cast turns it into a NULL.
        let lenient = cast_with_options(array, &target, &CastOptions::default()).ok();
        let row =
            lenient.and_then(|l| (0..array.len()).find(|&i| array.is_valid(i) && l.is_null(i)));
        let value = row.and_then(|r| {
            ArrayFormatter::try_new(array.as_ref(), &DisplayOptions::default())
                .ok()
                .map(|f| f.value(r).to_string())
        });
        Error::Parse {
            path: path.into(),
            line: row.map(|r| rows_before + r as u64 + 1),
            column: Some(column.name.clone()),
            message: match value {
                Some(v) => format!(
                    "'{}' does not fit {} (row number)",
                    crate::error::excerpt(&v),
                    column.column_type()
                ),
                None => format!(
                    "cannot cast {} to {}: {e}",
                    array.data_type(),
                    column.column_type()
                ),
            },
            hint: Some(
                Hint::set(
                    "change the column's type in the job's schema",
                    "schema",
                    None,
                )
                .into(),
            ),
        }
    })
}

/// Nested values (structs, lists, maps) become their JSON text.
fn nested_to_json(array: &ArrayRef, column: &Column, path: &str) -> Result<ArrayRef> {
    let field = Field::new("v", array.data_type().clone(), true);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![Arc::clone(array)])
        .map_err(|e| Error::parse(path, e.to_string()))?;
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
        writer
            .write(&batch)
            .map_err(|e| Error::parse(path, e.to_string()))?;
        writer
            .finish()
            .map_err(|e| Error::parse(path, e.to_string()))?;
    }
    let mut out = StringBuilder::new();
    let mut lines = buf.split(|&b| b == b'\n');
    for i in 0..array.len() {
        let line = lines.next().unwrap_or_default();
        if array.is_null(i) {
            out.append_null();
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| Error::Parse {
            path: path.into(),
            line: Some(i as u64 + 1),
            column: Some(column.name.clone()),
            message: e.to_string(),
            hint: None,
        })?;
        match value.get("v") {
            Some(v) => out.append_value(v.to_string()),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// A union's values (Avro's unions of more than one type besides null) as JSON: each row's
/// value as its own type writes it; strings are JSON strings, a JSON column keeps the text.
fn union_to_json(
    array: &ArrayRef,
    column: &Column,
    path: &str,
    rows_before: u64,
) -> Result<ArrayRef> {
    let union = array.as_union();
    let mut out = StringBuilder::new();
    for i in 0..union.len() {
        let value = union.value(i);
        if value.is_null(0) {
            out.append_null();
            continue;
        }
        let as_json = Column::new(column.name.clone(), WarehouseType::Json);
        let text = nested_to_json(&value, &as_json, path)?;
        let text = text.as_string::<i32>();
        if text.is_null(0) {
            out.append_null();
        } else {
            out.append_value(text.value(0));
        }
    }
    let json: ArrayRef = Arc::new(out.finish());
    if column.ty == WarehouseType::Json {
        return Ok(json);
    }
    Err(Error::Parse {
        path: path.into(),
        line: Some(rows_before + 1),
        column: Some(column.name.clone()),
        message: format!(
            "the column is a union of several types ({}); it loads only as JSON",
            array.data_type()
        ),
        hint: Some(Hint::set("set the column's type to JSON", "schema", None).into()),
    })
}
