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

/// A Parquet physical type and its logical type, as the `parquet` crate's schema printer
/// names them.
pub type ParquetType = (&'static str, Option<&'static str>);

/// `WarehouseType` → the Parquet type (physical, logical) an upload writes a column of it
/// as, one BigQuery loads as the column's type: the writer's own choice for the type's Arrow
/// type ([`WarehouseType::arrow_type`]), pinned here by a test. `None`: no Parquet type loads
/// as it, and an upload into a table with such a column is newline-delimited JSON. BigQuery
/// loads a Parquet STRING into a STRING column, not a JSON one.
pub const PARQUET_MAP: [(WarehouseType, Option<ParquetType>); 9] = [
    (WarehouseType::Int64, Some(("INT64", None))),
    (WarehouseType::Float64, Some(("DOUBLE", None))),
    (
        WarehouseType::Numeric,
        Some(("FIXED_LEN_BYTE_ARRAY (16)", Some("DECIMAL(38,9)"))),
    ),
    (WarehouseType::Bool, Some(("BOOLEAN", None))),
    (WarehouseType::Date, Some(("INT32", Some("DATE")))),
    (
        WarehouseType::Timestamp,
        Some(("INT64", Some("TIMESTAMP(MICROS,true)"))),
    ),
    (WarehouseType::String, Some(("BYTE_ARRAY", Some("STRING")))),
    (WarehouseType::Bytes, Some(("BYTE_ARRAY", None))),
    (WarehouseType::Json, None),
];

/// Whether an upload of `columns` can be Parquet: every column's type has a Parquet type
/// BigQuery reads as it (arrays of such types too, read with list inference).
pub fn parquet_loads(columns: &[sluice_core::schema::Column]) -> bool {
    columns.iter().all(|c| {
        PARQUET_MAP
            .iter()
            .any(|(t, parquet)| *t == c.ty && parquet.is_some())
    })
}

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
            assert_eq!(
                PARQUET_MAP.iter().filter(|(t, _)| *t == ty).count(),
                1,
                "{ty}"
            );
            // bigquery_type names are the BigQuery names: the map is the identity on names.
            assert_eq!(bigquery_type(ty), ty.as_str().to_ascii_uppercase(), "{ty}");
        }
    }

    #[test]
    fn each_type_is_written_as_the_parquet_type_of_the_map() {
        use sluice_core::schema::{Column, Mode};
        let mut columns: Vec<Column> = WarehouseType::ALL
            .iter()
            .map(|t| Column::new(format!("c_{}", t.as_str().to_lowercase()), *t))
            .collect();
        let mut required = Column::new("r", WarehouseType::Int64);
        required.mode = Mode::Required;
        let mut array = Column::new("a", WarehouseType::Date);
        array.mode = Mode::Repeated;
        columns.extend([required, array]);
        let mut file = crate::bigquery::parquet::ParquetRows::new(&columns, 1 << 20).unwrap();
        file.finish().unwrap();
        let bytes = bytes::Bytes::from(std::mem::take(file.ready()));
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let mut printed = Vec::new();
        parquet::schema::printer::print_schema(
            &mut printed,
            reader.metadata().file_metadata().schema(),
        );
        let printed = String::from_utf8(printed).unwrap();
        for (ty, parquet) in PARQUET_MAP {
            let name = format!("c_{}", ty.as_str().to_lowercase());
            let want = match parquet {
                Some((physical, Some(logical))) => format!("{physical} {name} ({logical});"),
                Some((physical, None)) => format!("{physical} {name};"),
                // Written as its Arrow type, but not uploaded as Parquet.
                None => continue,
            };
            assert!(
                printed.contains(&format!("OPTIONAL {want}")),
                "{want} in {printed}"
            );
        }
        assert!(printed.contains("REQUIRED INT64 r;"), "{printed}");
        assert!(
            printed.contains("OPTIONAL group a (LIST) {")
                && printed.contains("OPTIONAL INT32 element (DATE);"),
            "{printed}"
        );
        assert!(!parquet_loads(&columns));
        columns.retain(|c| c.ty != WarehouseType::Json);
        assert!(parquet_loads(&columns));
    }

    #[test]
    fn legacy_api_names_are_the_same_types() {
        assert_eq!(canonical("INTEGER"), "INT64");
        assert_eq!(canonical("FLOAT"), "FLOAT64");
        assert_eq!(canonical("BOOLEAN"), "BOOL");
        assert_eq!(canonical("TIMESTAMP"), "TIMESTAMP");
    }
}
