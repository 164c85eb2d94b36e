//! orc-rust's batches (arrow 59) as our arrow's (60), through the Arrow C Data Interface:
//! the batch is exported as an `ArrowArray` and `ArrowSchema` pair and imported on the
//! other side, sharing its buffers — no value is copied.
//!
//! Why this and not Arrow IPC: IPC would encode and decode every buffer (a copy of the
//! whole file's data) where the C interface hands over the buffers themselves; its
//! structs are fixed by the Arrow specification, so two releases of arrow-rs agree on them
//! by definition. This module and its mirror for PostgreSQL's binary COPY
//! (`sluice-sinks`, `postgres/binary.rs`) are the only `unsafe` in sluice.
#![allow(unsafe_code)]

use arrow::array::{Array, StructArray};
use arrow::record_batch::RecordBatch;
use arrow59::array::Array as _;

/// A batch of arrow 59 as a batch of our arrow.
///
/// # Errors
/// When either side refuses the data (a type one release does not know).
pub fn batch(from: arrow59::record_batch::RecordBatch) -> Result<RecordBatch, String> {
    let rows = from.num_rows();
    let data = arrow59::array::StructArray::from(from).into_data();
    let (array, schema) = arrow59::ffi::to_ffi(&data).map_err(|e| e.to_string())?;
    // SAFETY: `FFI_ArrowArray` and `FFI_ArrowSchema` are `#[repr(C)]` renderings of the C
    // Data Interface's `ArrowArray` and `ArrowSchema` in both releases: the same size and
    // layout, and ownership moves with the value (the release callback travels in it).
    let (array, schema) = unsafe {
        (
            std::mem::transmute::<arrow59::ffi::FFI_ArrowArray, arrow::ffi::FFI_ArrowArray>(array),
            std::mem::transmute::<arrow59::ffi::FFI_ArrowSchema, arrow::ffi::FFI_ArrowSchema>(
                schema,
            ),
        )
    };
    // SAFETY: `array` and `schema` were exported just above as one valid pair.
    let data = unsafe { arrow::ffi::from_ffi(array, &schema) }.map_err(|e| e.to_string())?;
    let imported = StructArray::from(data);
    debug_assert_eq!(imported.len(), rows);
    Ok(RecordBatch::from(imported))
}

/// A schema of arrow 59 as a schema of our arrow.
///
/// # Errors
/// When either side refuses a type.
pub fn schema(from: &arrow59::datatypes::Schema) -> Result<arrow::datatypes::Schema, String> {
    let exported = arrow59::ffi::FFI_ArrowSchema::try_from(from).map_err(|e| e.to_string())?;
    // SAFETY: as in `batch`: one C struct in two releases.
    let imported = unsafe {
        std::mem::transmute::<arrow59::ffi::FFI_ArrowSchema, arrow::ffi::FFI_ArrowSchema>(exported)
    };
    arrow::datatypes::Schema::try_from(&imported).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray};
    use arrow59::array::{Int64Array, ListArray, StringArray};
    use arrow59::datatypes::Int32Type;

    #[test]
    fn a_batch_crosses_with_its_values_and_nulls() {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
        ]);
        let from = arrow59::record_batch::RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![7, 8])) as arrow59::array::ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a"), None])) as _,
            ),
            ("xs", Arc::new(list) as _),
        ])
        .unwrap();
        let schema = super::schema(&from.schema()).unwrap();
        let got = super::batch(from).unwrap();
        assert_eq!(got.schema().as_ref(), &schema);
        assert_eq!(got.num_rows(), 2);
        assert_eq!(
            got.column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values(),
            &[7, 8]
        );
        assert!(got.column(1).is_null(1));
        assert_eq!(got.column(2).as_list::<i32>().value(0).len(), 2);
    }
}
