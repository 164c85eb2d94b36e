//! The BigQuery type of each warehouse type, kept as data.

use sluice_core::schema::WarehouseType;

/// `WarehouseType` → BigQuery column type (the names of `bigquery_type`).
pub const TYPE_MAP: [(WarehouseType, &str); 9] = [
    (WarehouseType::Int64, "INT64"),
    (WarehouseType::Float64, "FLOAT64"),
    (WarehouseType::Numeric, "NUMERIC"),
    (WarehouseType::Bool, "BOOL"),
    (WarehouseType::Date, "DATE"),
    (WarehouseType::Timestamp, "TIMESTAMP"),
    (WarehouseType::String, "STRING"),
    (WarehouseType::Bytes, "BYTES"),
    (WarehouseType::Json, "JSON"),
];

pub fn bigquery_type(ty: WarehouseType) -> &'static str {
    TYPE_MAP
        .iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, b)| *b)
        .expect("every type is mapped")
}

/// The canonical name of a type as `tables.get` reports it: the legacy names (`INTEGER`,
/// `FLOAT`, `BOOLEAN`) are what the API answers even for tables created as `INT64`.
pub fn canonical(api_type: &str) -> &str {
    match api_type {
        "INTEGER" => "INT64",
        "FLOAT" => "FLOAT64",
        "BOOLEAN" => "BOOL",
        "BIGNUMERIC" | "BIGDECIMAL" => "BIGNUMERIC",
        "DECIMAL" => "NUMERIC",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_warehouse_type_is_mapped_once_and_by_its_own_name() {
        for ty in WarehouseType::ALL {
            assert_eq!(TYPE_MAP.iter().filter(|(t, _)| *t == ty).count(), 1, "{ty}");
            // bigquery_type names are the BigQuery names: the map is the identity on names.
            assert_eq!(bigquery_type(ty), ty.as_str().to_ascii_uppercase(), "{ty}");
        }
    }

    #[test]
    fn legacy_api_names_are_the_same_types() {
        assert_eq!(canonical("INTEGER"), "INT64");
        assert_eq!(canonical("FLOAT"), "FLOAT64");
        assert_eq!(canonical("BOOLEAN"), "BOOL");
        assert_eq!(canonical("TIMESTAMP"), "TIMESTAMP");
    }
}
