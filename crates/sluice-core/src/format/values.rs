//! Typed column builders for readers that see values as text (JSON, TFRecord): each
//! value converted to the job's type for the column, or an error that says what it is.

use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float64Builder, Int64Builder, ListArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::kernels::cast_utils::{Parser, parse_decimal, string_to_datetime};
use arrow::datatypes::Field;
use arrow::datatypes::{Date32Type, Decimal128Type};
use chrono::Utc;
use serde_json::value::RawValue;

use crate::schema::{Column, NUMERIC_PRECISION, NUMERIC_SCALE, WarehouseType};

/// One column being built from text values, in the job's type.
pub(crate) enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Numeric(Decimal128Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Text {
        builder: StringBuilder,
        json: bool,
    },
    Bytes(BinaryBuilder),
    /// A REPEATED column: each row a list of the item builder's values.
    List(Box<ListParts>),
}

pub(crate) struct ListParts {
    item: Builder,
    ty: WarehouseType,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl Builder {
    /// The builder of a job's column: of its type, or of lists of it.
    pub(crate) fn for_column(column: &Column) -> Self {
        if column.is_repeated() {
            Self::List(Box::new(ListParts {
                item: Self::new(column.ty),
                ty: column.ty,
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
            }))
        } else {
            Self::new(column.ty)
        }
    }

    /// The builder the values of the current row's list go to; `None` for a column
    /// that is not REPEATED.
    pub(crate) fn items(&mut self) -> Option<&mut Builder> {
        match self {
            Self::List(l) => Some(&mut l.item),
            _ => None,
        }
    }

    /// Ends the current row's list (of the values appended to [`Builder::items`] since).
    pub(crate) fn end_list(&mut self) -> Result<(), String> {
        if let Self::List(l) = self {
            let end = i32::try_from(l.item.len())
                .map_err(|_| "more than 2^31 array values in one batch".to_string())?;
            l.offsets.push(end);
            l.nulls.append_non_null();
        }
        Ok(())
    }

    fn len(&self) -> usize {
        match self {
            Self::Int(b) => b.len(),
            Self::Float(b) => b.len(),
            Self::Numeric(b) => b.len(),
            Self::Bool(b) => b.len(),
            Self::Date(b) => b.len(),
            Self::Timestamp(b) => b.len(),
            Self::Text { builder, .. } => builder.len(),
            Self::Bytes(b) => b.len(),
            Self::List(l) => l.offsets.len() - 1,
        }
    }

    pub(crate) fn new(ty: WarehouseType) -> Self {
        match ty {
            WarehouseType::Int64 => Self::Int(Int64Builder::new()),
            WarehouseType::Float64 => Self::Float(Float64Builder::new()),
            WarehouseType::Numeric => Self::Numeric(
                Decimal128Builder::new()
                    .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                    .expect("valid"),
            ),
            WarehouseType::Bool => Self::Bool(BooleanBuilder::new()),
            WarehouseType::Date => Self::Date(Date32Builder::new()),
            WarehouseType::Timestamp => Self::Timestamp(
                TimestampMicrosecondBuilder::new().with_timezone(crate::schema::UTC),
            ),
            WarehouseType::String => Self::Text {
                builder: StringBuilder::new(),
                json: false,
            },
            WarehouseType::Json => Self::Text {
                builder: StringBuilder::new(),
                json: true,
            },
            WarehouseType::Bytes => Self::Bytes(BinaryBuilder::new()),
        }
    }

    /// Appends a raw JSON value (`None` or `null` is NULL): strings are unquoted for the
    /// scalar types, JSON columns keep the text as it is.
    pub(crate) fn append(&mut self, raw: Option<&RawValue>) -> Result<(), String> {
        let text = raw.map(RawValue::get).filter(|t| *t != "null");
        let Some(text) = text else {
            self.append_null();
            return Ok(());
        };
        if let Self::List(l) = self {
            let values: Vec<&RawValue> = serde_json::from_str(text)
                .map_err(|_| format!("{} is not an array", crate::error::excerpt(text)))?;
            for v in values {
                l.item.append(Some(v))?;
            }
            return self.end_list();
        }
        let unquoted = if text.starts_with('"') {
            serde_json::from_str::<String>(text).ok()
        } else {
            None
        };
        let scalar = unquoted.as_deref().unwrap_or(text);
        if unquoted.as_deref() == Some("") && !matches!(self, Self::Text { .. } | Self::Bytes(_)) {
            self.append_null();
            return Ok(());
        }
        self.append_value(scalar, text)
    }

    /// Appends one value: `scalar` as the scalar types read it, `json` as a JSON column
    /// stores it (and as errors quote it).
    pub(crate) fn append_value(&mut self, scalar: &str, json: &str) -> Result<(), String> {
        let bad = |ty: &str| format!("{} is not a valid {ty}", crate::error::excerpt(json));
        match self {
            Self::Int(b) => b.append_value(scalar.parse::<i64>().map_err(|_| bad("INT64"))?),
            Self::Float(b) => b.append_value(scalar.parse::<f64>().map_err(|_| bad("FLOAT64"))?),
            Self::Numeric(b) => b.append_value(
                parse_decimal::<Decimal128Type>(scalar, NUMERIC_PRECISION, NUMERIC_SCALE)
                    .map_err(|_| bad("NUMERIC"))?,
            ),
            Self::Bool(b) => b.append_value(match scalar {
                "true" => true,
                "false" => false,
                _ => return Err(bad("BOOL")),
            }),
            Self::Date(b) => b.append_value(Date32Type::parse(scalar).ok_or_else(|| bad("DATE"))?),
            Self::Timestamp(b) => b.append_value(
                string_to_datetime(&Utc, scalar)
                    .map_err(|_| bad("TIMESTAMP"))?
                    .timestamp_micros(),
            ),
            Self::Text { builder, json: j } => builder.append_value(if *j { json } else { scalar }),
            Self::Bytes(b) => b.append_value(scalar.as_bytes()),
            Self::List(_) => {
                return Err(format!("{} is not an array", crate::error::excerpt(json)));
            }
        }
        Ok(())
    }

    /// Appends bytes that need not be text: kept as they are in a BYTES column, else read
    /// as UTF-8 text.
    pub(crate) fn append_binary(&mut self, bytes: &[u8]) -> Result<(), String> {
        if let Self::Bytes(b) = self {
            b.append_value(bytes);
            return Ok(());
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let json = serde_json::Value::from(text).to_string();
                self.append_value(text, &json)
            }
            Err(_) => Err("the value is not UTF-8 text; choose BYTES for this column".to_string()),
        }
    }

    /// The batch of `rows` rows the builders of `columns` hold; `None` for no rows.
    pub(crate) fn batch(
        builders: Vec<Self>,
        rows: usize,
        columns: &[crate::schema::Column],
        path: &str,
    ) -> crate::Result<Option<arrow::record_batch::RecordBatch>> {
        if rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = builders.into_iter().map(Self::finish).collect();
        arrow::record_batch::RecordBatch::try_new(crate::schema::arrow_schema(columns), arrays)
            .map(Some)
            .map_err(|e| crate::Error::parse(path, e.to_string()))
    }

    /// Whether it builds text (a STRING or JSON column).
    pub(crate) fn is_text(&self) -> bool {
        matches!(self, Self::Text { .. })
    }

    pub(crate) fn append_null(&mut self) {
        match self {
            Self::Int(b) => b.append_null(),
            Self::Float(b) => b.append_null(),
            Self::Numeric(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Text { builder, .. } => builder.append_null(),
            Self::Bytes(b) => b.append_null(),
            Self::List(l) => {
                l.offsets.push(*l.offsets.last().expect("starts with 0"));
                l.nulls.append_null();
            }
        }
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            Self::Int(mut b) => Arc::new(b.finish()),
            Self::Float(mut b) => Arc::new(b.finish()),
            Self::Numeric(mut b) => Arc::new(b.finish()),
            Self::Bool(mut b) => Arc::new(b.finish()),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish()),
            Self::Text { mut builder, .. } => Arc::new(builder.finish()),
            Self::Bytes(mut b) => Arc::new(b.finish()),
            Self::List(l) => {
                let ListParts {
                    item,
                    ty,
                    offsets,
                    mut nulls,
                } = *l;
                Arc::new(ListArray::new(
                    Arc::new(Field::new("item", ty.arrow_type(), true)),
                    OffsetBuffer::new(offsets.into()),
                    item.finish(),
                    nulls.finish(),
                ))
            }
        }
    }
}
