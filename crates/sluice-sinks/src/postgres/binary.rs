//! Rows in `COPY … FROM STDIN (FORMAT binary)`: each value in PostgreSQL's own binary
//! representation, so neither side formats or parses text — the cheapest way in.
//!
//! The encoding is pgpq's (Arrow → PostgreSQL binary), which is built on arrow 59: each
//! batch crosses to it through the Arrow C Data Interface, sharing its buffers. Tables with
//! an array column keep the text format ([`super::copy`]): a binary array names its
//! element type, and pgpq's timestamps are `timestamp`, not the `timestamptz` a TIMESTAMP
//! column's elements are.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, StructArray};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::{Bytes, BytesMut};
use pgpq::ArrowToPostgresBinaryEncoder;
use pgpq::encoders::{EncoderBuilder, StringEncoderBuilder};
use pgpq::pg_schema::PostgresType;
use sluice_core::schema::{Column, WarehouseType};

/// Whether a table with these columns is loaded in the binary format.
pub(super) fn supports(columns: &[Column]) -> bool {
    !columns.iter().any(Column::is_repeated)
}

/// The batches of one `COPY`, encoded.
pub(super) struct BinaryCopy<'a> {
    columns: &'a [Column],
    encoder: ArrowToPostgresBinaryEncoder,
}

impl<'a> BinaryCopy<'a> {
    /// An encoder for the table's columns; its first bytes are the format's header.
    ///
    /// # Errors
    /// A message when a column's type has no binary encoding.
    pub(super) fn new(columns: &'a [Column]) -> Result<(Self, Bytes), String> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(&c.name, c.column_type().arrow_type(), true))
            .collect();
        let schema = to_59_schema(&Schema::new(fields))?;
        let mut builders: HashMap<String, EncoderBuilder> = pgpq::build_encoders(schema.fields())
            .map_err(|e| format!("no binary encoding: {e}"))?
            .into_iter()
            .collect();
        // JSON goes to `jsonb`, whose binary form carries a version byte.
        for (c, field) in columns.iter().zip(schema.fields()) {
            if c.ty == WarehouseType::Json {
                let jsonb =
                    StringEncoderBuilder::new_with_output(Arc::clone(field), PostgresType::Jsonb)
                        .map_err(|e| format!("column {}: {e}", c.name))?;
                builders.insert(c.name.clone(), EncoderBuilder::String(jsonb));
            }
        }
        let mut encoder = ArrowToPostgresBinaryEncoder::try_new_with_encoders(&schema, &builders)
            .map_err(|e| format!("no binary encoding: {e}"))?;
        let mut header = BytesMut::new();
        encoder
            .write_header(&mut header)
            .map_err(|e| e.to_string())?;
        Ok((Self { columns, encoder }, header.freeze()))
    }

    /// One batch, its columns first cast to their warehouse type's Arrow type (a no-op for
    /// batches that come through the schema gate).
    ///
    /// # Errors
    /// A message naming the column when a value cannot be written.
    pub(super) fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, String> {
        if batch.num_columns() != self.columns.len() {
            return Err(format!(
                "the batch has {} columns, the table {}",
                batch.num_columns(),
                self.columns.len()
            ));
        }
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter()
            .zip(batch.columns())
            .map(|(c, a)| {
                arrow::compute::cast(a, &c.column_type().arrow_type()).map_err(|e| {
                    format!("column {}: cannot read as {}: {e}", c.name, c.column_type())
                })
            })
            .collect::<Result<_, _>>()?;
        let fields: Vec<Field> = self
            .columns
            .iter()
            .zip(&arrays)
            .map(|(c, a)| Field::new(&c.name, a.data_type().clone(), true))
            .collect();
        let typed = StructArray::try_new(fields.into(), arrays, None).map_err(|e| e.to_string())?;
        let rows = to_59_batch(typed)?;
        let mut out = BytesMut::with_capacity(rows.num_rows() * 64);
        self.encoder
            .write_batch(&rows, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out.freeze())
    }

    /// The format's trailer, after the last batch.
    pub(super) fn finish(mut self) -> Result<Bytes, String> {
        let mut out = BytesMut::new();
        self.encoder
            .write_footer(&mut out)
            .map_err(|e| e.to_string())?;
        Ok(out.freeze())
    }
}

/// Our arrow's rows (a struct array of the columns) as an arrow 59 batch, through the C
/// Data Interface: the buffers are shared, not copied.
fn to_59_batch(rows: StructArray) -> Result<arrow59::record_batch::RecordBatch, String> {
    let data = arrow::array::Array::into_data(rows);
    let (array, schema) = arrow::ffi::to_ffi(&data).map_err(|e| e.to_string())?;
    // SAFETY: `FFI_ArrowArray` and `FFI_ArrowSchema` are `#[repr(C)]` renderings of the C
    // Data Interface's `ArrowArray` and `ArrowSchema` in both releases: the same size and
    // layout, and ownership moves with the value (the release callback travels in it).
    let (array, schema) = unsafe {
        (
            std::mem::transmute::<arrow::ffi::FFI_ArrowArray, arrow59::ffi::FFI_ArrowArray>(array),
            std::mem::transmute::<arrow::ffi::FFI_ArrowSchema, arrow59::ffi::FFI_ArrowSchema>(
                schema,
            ),
        )
    };
    // SAFETY: `array` and `schema` were exported just above as one valid pair.
    let data = unsafe { arrow59::ffi::from_ffi(array, &schema) }.map_err(|e| e.to_string())?;
    Ok(arrow59::record_batch::RecordBatch::from(
        arrow59::array::StructArray::from(data),
    ))
}

/// Our arrow's schema as arrow 59's.
fn to_59_schema(from: &Schema) -> Result<arrow59::datatypes::Schema, String> {
    let exported = arrow::ffi::FFI_ArrowSchema::try_from(from).map_err(|e| e.to_string())?;
    // SAFETY: as in `to_59_batch`: one C struct in two releases.
    let imported = unsafe {
        std::mem::transmute::<arrow::ffi::FFI_ArrowSchema, arrow59::ffi::FFI_ArrowSchema>(exported)
    };
    arrow59::datatypes::Schema::try_from(&imported).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_framed_as_postgres_binary_copy_rows() {
        let columns = vec![
            Column::new("id", WarehouseType::Int64),
            Column::new("note", WarehouseType::String),
            Column::new("doc", WarehouseType::Json),
        ];
        let (mut copy, header) = BinaryCopy::new(&columns).unwrap();
        assert_eq!(&header[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(header.len(), 19, "signature, flags, extension length");
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(arrow::array::Int64Array::from(vec![Some(7), None])) as ArrayRef,
            ),
            (
                "note",
                Arc::new(arrow::array::StringArray::from(vec!["a", "é"])) as ArrayRef,
            ),
            (
                "doc",
                Arc::new(arrow::array::StringArray::from(vec!["{}", "[1]"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let rows = copy.batch(&batch).unwrap();
        // Row 1: 3 fields; 7 as 8 bytes; "a"; jsonb version 1 then "{}".
        let mut expected = vec![0, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7];
        expected.extend([0, 0, 0, 1, b'a', 0, 0, 0, 3, 1, b'{', b'}']);
        // Row 2: a NULL is length -1.
        expected.extend([0, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0xc3, 0xa9]);
        expected.extend([0, 0, 0, 4, 1, b'[', b'1', b']']);
        assert_eq!(rows.as_ref(), expected.as_slice());
        assert_eq!(copy.finish().unwrap().as_ref(), [0xff, 0xff]);
    }

    #[test]
    fn a_batch_of_other_columns_is_refused_and_arrays_keep_the_text_format() {
        let columns = vec![Column::new("id", WarehouseType::Int64)];
        let (mut copy, _) = BinaryCopy::new(&columns).unwrap();
        let two = RecordBatch::try_from_iter([
            (
                "a",
                Arc::new(arrow::array::Int64Array::from(vec![1])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(arrow::array::Int64Array::from(vec![1])) as ArrayRef,
            ),
        ])
        .unwrap();
        assert!(
            copy.batch(&two)
                .unwrap_err()
                .contains("the batch has 2 columns")
        );
        let mut tags = Column::new("tags", WarehouseType::String);
        tags.mode = sluice_core::schema::Mode::Repeated;
        assert!(supports(&columns));
        assert!(!supports(&[columns[0].clone(), tags]));
    }
}
