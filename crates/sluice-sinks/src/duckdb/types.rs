//! The DuckDB type of each warehouse type, kept as data.

use sluice_core::schema::WarehouseType;

/// `WarehouseType` → DuckDB column type. JSON is stored as text: the JSON extension is not
/// part of the bundled build, and nothing is downloaded at run time.
pub const TYPE_MAP: [(WarehouseType, &str); 9] = [
    (WarehouseType::Int64, "BIGINT"),
    (WarehouseType::Float64, "DOUBLE"),
    (WarehouseType::Numeric, "DECIMAL(38,9)"),
    (WarehouseType::Bool, "BOOLEAN"),
    (WarehouseType::Date, "DATE"),
    (WarehouseType::Timestamp, "TIMESTAMP WITH TIME ZONE"),
    (WarehouseType::String, "VARCHAR"),
    (WarehouseType::Bytes, "BLOB"),
    (WarehouseType::Json, "VARCHAR"),
];

pub fn duckdb_type(ty: WarehouseType) -> &'static str {
    TYPE_MAP
        .iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, d)| *d)
        .expect("every type is mapped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_warehouse_type_is_mapped_once() {
        for ty in WarehouseType::ALL {
            assert_eq!(TYPE_MAP.iter().filter(|(t, _)| *t == ty).count(), 1, "{ty}");
        }
    }
}
