//! The PostgreSQL type of each warehouse type, kept as data.

use sluice_core::schema::WarehouseType;

/// `WarehouseType` → PostgreSQL column type, spelled as `format_type()` prints it, so an
/// existing table's columns compare with the job's by name. NUMERIC keeps the warehouse's
/// full precision (38 digits, 9 after the point); TIMESTAMP is an instant (`timestamptz`).
pub const TYPE_MAP: [(WarehouseType, &str); 9] = [
    (WarehouseType::Int64, "bigint"),
    (WarehouseType::Float64, "double precision"),
    (WarehouseType::Numeric, "numeric(38,9)"),
    (WarehouseType::Bool, "boolean"),
    (WarehouseType::Date, "date"),
    (WarehouseType::Timestamp, "timestamp with time zone"),
    (WarehouseType::String, "text"),
    (WarehouseType::Bytes, "bytea"),
    (WarehouseType::Json, "jsonb"),
];

pub fn postgres_type(ty: WarehouseType) -> &'static str {
    TYPE_MAP
        .iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, p)| *p)
        .expect("every type is mapped")
}

/// The warehouse type a PostgreSQL column reads back as, for previews; `None` for types
/// sluice does not create (they are read as text).
pub fn warehouse_type(postgres: &str) -> Option<WarehouseType> {
    TYPE_MAP
        .iter()
        .find(|(_, p)| *p == postgres)
        .map(|(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_warehouse_type_is_mapped_once_and_back() {
        for ty in WarehouseType::ALL {
            assert_eq!(TYPE_MAP.iter().filter(|(t, _)| *t == ty).count(), 1, "{ty}");
            assert_eq!(warehouse_type(postgres_type(ty)), Some(ty), "{ty}");
        }
        assert_eq!(warehouse_type("integer"), None);
    }
}
