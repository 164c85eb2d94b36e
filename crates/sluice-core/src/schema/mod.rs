//! Warehouse types, columns, detected schemas, fingerprints and diffs.
//!
//! A job's contract with its files is a list of [`Column`]s. Detection produces a
//! [`DetectedSchema`] whose `schema_fingerprint` is the MD5 of `name:TYPE|name:TYPE|…`
//! in column order; at run time each file's detected schema is compared with the job's
//! and a [`SchemaDiff`] explains any difference.

mod diff;
pub mod evolve;
pub mod infer;
pub mod lineage;

pub use self::diff::{SchemaDiff, diff};
pub use self::evolve::TableChange;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// The zone of TIMESTAMP batches. An offset rather than a zone name, so no zone database is needed.
pub const UTC: &str = "+00:00";

/// Precision and scale of NUMERIC, as in BigQuery: 29 integer digits, 9 fraction digits.
pub const NUMERIC_PRECISION: u8 = 38;
/// See [`NUMERIC_PRECISION`].
pub const NUMERIC_SCALE: i8 = 9;

/// The types a warehouse column can have, named as BigQuery names them. Read also by
/// BigQuery's legacy names (`INTEGER`, `FLOAT`, `BOOLEAN`) and common SQL ones, as
/// [`FromStr`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WarehouseType {
    Int64,
    Float64,
    Numeric,
    Bool,
    Date,
    Timestamp,
    String,
    Bytes,
    Json,
}

impl WarehouseType {
    /// Every type, in the order they are offered to users.
    pub const ALL: [WarehouseType; 9] = [
        Self::String,
        Self::Int64,
        Self::Float64,
        Self::Numeric,
        Self::Bool,
        Self::Date,
        Self::Timestamp,
        Self::Json,
        Self::Bytes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int64 => "INT64",
            Self::Float64 => "FLOAT64",
            Self::Numeric => "NUMERIC",
            Self::Bool => "BOOL",
            Self::Date => "DATE",
            Self::Timestamp => "TIMESTAMP",
            Self::String => "STRING",
            Self::Bytes => "BYTES",
            Self::Json => "JSON",
        }
    }

    /// The Arrow type batches carry for a column of this type on their way to a sink.
    ///
    /// Timestamps are instants: microseconds in UTC, whatever offset the file wrote.
    /// JSON travels as its text.
    pub fn arrow_type(self) -> DataType {
        match self {
            Self::Int64 => DataType::Int64,
            Self::Float64 => DataType::Float64,
            Self::Numeric => DataType::Decimal128(NUMERIC_PRECISION, NUMERIC_SCALE),
            Self::Bool => DataType::Boolean,
            Self::Date => DataType::Date32,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            Self::String | Self::Json => DataType::Utf8,
            Self::Bytes => DataType::Binary,
        }
    }

    /// Whether every value of a column detected as `self` loads into a column of type `target`
    /// without loss of meaning. A FLOAT64 column loads into NUMERIC, the exact type a job
    /// chose for it (decimals in a text file are read as decimals; a value NUMERIC cannot
    /// hold fails its row, naming it).
    pub fn loads_into(self, target: WarehouseType) -> bool {
        use WarehouseType::*;
        self == target
            || target == String
            || matches!(
                (self, target),
                (Int64, Float64)
                    | (Int64, Numeric)
                    | (Date, Timestamp)
                    | (Numeric, Float64)
                    | (Float64, Numeric)
            )
    }
}

impl fmt::Display for WarehouseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WarehouseType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d)
    }
}

/// A value read from its text as [`FromStr`] reads it (types by any of their spellings).
fn from_text<'de, D: serde::Deserializer<'de>, T: FromStr<Err = String>>(
    d: D,
) -> Result<T, D::Error> {
    let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl FromStr for WarehouseType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = match s.trim().to_ascii_uppercase().as_str() {
            "INT64" | "INTEGER" | "INT" | "BIGINT" => Self::Int64,
            "FLOAT64" | "FLOAT" | "DOUBLE" => Self::Float64,
            "NUMERIC" | "DECIMAL" => Self::Numeric,
            "BOOL" | "BOOLEAN" => Self::Bool,
            "DATE" => Self::Date,
            "TIMESTAMP" => Self::Timestamp,
            "STRING" | "TEXT" | "VARCHAR" => Self::String,
            "BYTES" => Self::Bytes,
            "JSON" => Self::Json,
            other => {
                return Err(format!(
                    "unknown type '{other}'; expected one of {}",
                    Self::ALL.map(|t| t.as_str()).join(", ")
                ));
            }
        };
        Ok(t)
    }
}

/// NULLABLE, REQUIRED or REPEATED, as BigQuery calls a column's mode. A REPEATED column
/// holds an array of its type's values in each row (DuckDB `T[]`, PostgreSQL `t[]`,
/// BigQuery `ARRAY<T>`); formats with lists (Parquet, Avro, ORC, TFRecord) detect them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Mode {
    #[default]
    Nullable,
    Required,
    Repeated,
}

/// What a column holds: one value of a type, or an array of them. Shown and serialized as
/// `INT64` or `ARRAY<INT64>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnType {
    pub ty: WarehouseType,
    pub repeated: bool,
}

impl ColumnType {
    pub fn new(ty: WarehouseType, mode: Mode) -> Self {
        Self {
            ty,
            repeated: mode == Mode::Repeated,
        }
    }

    /// The Arrow type of the column's batches: the type's, or a list of it.
    pub fn arrow_type(self) -> DataType {
        if self.repeated {
            DataType::List(Arc::new(Field::new("item", self.ty.arrow_type(), true)))
        } else {
            self.ty.arrow_type()
        }
    }

    /// Whether every value of a column of this type in a file loads into a column of type
    /// `target` without loss of meaning: arrays into arrays of a type their values load
    /// into, or into JSON (as their JSON text).
    pub fn loads_into(self, target: ColumnType) -> bool {
        match (self.repeated, target.repeated) {
            (true, true) | (false, false) => self.ty.loads_into(target.ty),
            (true, false) => target.ty == WarehouseType::Json,
            (false, true) => false,
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.repeated {
            write!(f, "ARRAY<{}>", self.ty)
        } else {
            f.write_str(self.ty.as_str())
        }
    }
}

impl Serialize for ColumnType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ColumnType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d)
    }
}

impl FromStr for ColumnType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let inner = t
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("ARRAY<"))
            .and_then(|_| t[6..].strip_suffix('>'));
        Ok(match inner {
            Some(item) => Self::new(item.parse()?, Mode::Repeated),
            None => Self::new(t.parse()?, Mode::Nullable),
        })
    }
}

/// One column of a job's reviewed schema: what the destination table holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "bigquery_type")]
    pub ty: WarehouseType,
    #[serde(rename = "bigquery_mode", default)]
    pub mode: Mode,
    /// The key or field name the file gives the column, where `name` differs from it (made
    /// unique, or usable as a column name): readers that match by name look this up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The type the file holds, where the job's transform of the column makes `ty` of it
    /// (`day = strptime(day, '%d/%m/%Y')::DATE` over a STRING): readers and the schema gate
    /// take the column as this type, the table as `ty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_as: Option<WarehouseType>,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: WarehouseType) -> Self {
        Self {
            name: name.into(),
            ty,
            mode: Mode::Nullable,
            source: None,
            read_as: None,
        }
    }

    /// The column as its files hold it: of the type a transform makes the table's from.
    pub fn as_read(&self) -> Column {
        Column {
            ty: self.read_as.unwrap_or(self.ty),
            read_as: None,
            ..self.clone()
        }
    }

    /// The name the file gives the column.
    pub fn source_name(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.name)
    }

    /// Its type, or an array of it.
    pub fn column_type(&self) -> ColumnType {
        ColumnType::new(self.ty, self.mode)
    }

    pub fn is_repeated(&self) -> bool {
        self.mode == Mode::Repeated
    }
}

/// `columns` as their files hold them ([`Column::as_read`]): what readers read and the
/// schema gate compares a file's columns with.
pub fn read_view(columns: &[Column]) -> Vec<Column> {
    columns.iter().map(Column::as_read).collect()
}

/// The Arrow schema of the batches a reader yields for `columns`.
///
/// Every field is nullable in Arrow; REQUIRED is enforced by the destination table.
pub fn arrow_schema(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, c.column_type().arrow_type(), true))
            .collect::<Vec<_>>(),
    ))
}

/// MD5 hex of `name:TYPE|name:TYPE|…` in column order (an array's type is `ARRAY<TYPE>`).
pub fn fingerprint<'a>(columns: impl IntoIterator<Item = (&'a str, ColumnType)>) -> String {
    let text = columns
        .into_iter()
        .map(|(name, ty)| format!("{name}:{ty}"))
        .collect::<Vec<_>>()
        .join("|");
    hex(&Md5::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One detected column, in the shape the API and `detect --json` print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedColumn {
    pub name: String,
    /// The type as found in the file (`integer`, `timestamp`, or an Arrow type for Parquet).
    #[serde(rename = "type")]
    pub source_type: String,
    pub bigquery_type: WarehouseType,
    #[serde(default)]
    pub bigquery_mode: Mode,
    #[serde(default)]
    pub sample_values: Vec<String>,
    #[serde(default = "yes")]
    pub nullable: bool,
    /// No value of this column was seen in the sample: its type is a guess, and any type
    /// the job chose for it is accepted at run time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_null: bool,
    /// The key or field name the file gives the column, where `name` differs from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn yes() -> bool {
    true
}

impl DetectedColumn {
    /// The name the file gives the column.
    pub fn source_name(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.name)
    }

    /// Its type, or an array of it.
    pub fn column_type(&self) -> ColumnType {
        ColumnType::new(self.bigquery_type, self.bigquery_mode)
    }

    pub fn column(&self) -> Column {
        Column {
            name: self.name.clone(),
            ty: self.bigquery_type,
            mode: self.bigquery_mode,
            source: self.source.clone(),
            read_as: None,
        }
    }
}

/// Names the columns by the file's own names (keys, fields) made usable and unique with
/// [`unique_names`]; a column whose name had to change keeps the file's in `source`.
pub fn name_from_source(columns: &mut [DetectedColumn]) {
    let names = unique_names(columns.iter().map(|c| c.name.clone()));
    for (c, name) in columns.iter_mut().zip(names) {
        if c.name != name {
            c.source = Some(std::mem::replace(&mut c.name, name));
        }
    }
}

/// What detection found in one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedSchema {
    pub columns: Vec<DetectedColumn>,
    pub total_rows: u64,
    /// True when `total_rows` is extrapolated from a sample.
    pub total_rows_estimated: bool,
    pub schema_fingerprint: String,
    pub file_size: u64,
    /// The format and options detection settled on (delimiter, header, encoding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_options: Option<crate::format::FormatOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// The text encoding detection found (CSV), how sure it is and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<crate::format::csv::EncodingGuess>,
    /// What else detection found that a person should know: a title block skipped,
    /// null markers, a decimal comma.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl DetectedSchema {
    pub fn new(
        columns: Vec<DetectedColumn>,
        total_rows: u64,
        estimated: bool,
        file_size: u64,
    ) -> Self {
        let schema_fingerprint =
            fingerprint(columns.iter().map(|c| (c.name.as_str(), c.column_type())));
        Self {
            columns,
            total_rows,
            total_rows_estimated: estimated,
            schema_fingerprint,
            file_size,
            format_options: None,
            file_path: None,
            encoding: None,
            notes: Vec::new(),
        }
    }

    pub fn reviewed_columns(&self) -> Vec<Column> {
        self.columns.iter().map(DetectedColumn::column).collect()
    }
}

/// Column names a table can hold: trimmed, control characters (NUL, tabs, line breaks) made
/// `_`, never empty, unique regardless of case (`name`, `name_2`, …). Linear in the number
/// of names, however many repeat.
pub fn unique_names(raw: impl IntoIterator<Item = String>) -> Vec<String> {
    unique_names_counted(raw).0
}

/// [`unique_names`], and how many candidate names it tried: one per name, plus one per
/// suffix already taken (each suffix is tried once however often a name repeats).
fn unique_names_counted(raw: impl IntoIterator<Item = String>) -> (Vec<String>, usize) {
    use std::collections::{HashMap, HashSet};
    let mut tries = 0;
    let mut out: Vec<String> = Vec::new();
    let mut taken: HashSet<String> = HashSet::new();
    // Per base name, the next suffix to try: repeats of one name do not rescan.
    let mut next: HashMap<String, usize> = HashMap::new();
    for (i, name) in raw.into_iter().enumerate() {
        let base: String = name
            .trim()
            .trim_start_matches('\u{feff}')
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        let base = if base.is_empty() {
            format!("column_{}", i + 1)
        } else {
            base
        };
        let key = base.to_ascii_lowercase();
        let mut candidate = base.clone();
        if taken.contains(&key) {
            let n = next.entry(key.clone()).or_insert(2);
            loop {
                tries += 1;
                candidate = format!("{base}_{n}");
                *n += 1;
                if !taken.contains(&candidate.to_ascii_lowercase()) {
                    break;
                }
            }
        }
        tries += 1;
        taken.insert(candidate.to_ascii_lowercase());
        out.push(candidate);
    }
    (out, tries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_names_become_underscores() {
        let names = unique_names(["a\0b".to_string(), "c\td".into(), "\u{feff}e\r\n".into()]);
        assert_eq!(names, vec!["a_b", "c_d", "e"]);
    }

    #[test]
    fn fingerprint_is_md5_of_name_type_pairs_in_order() {
        // md5("id:INT64|name:STRING")
        let one = |ty| ColumnType::new(ty, Mode::Nullable);
        let fp = fingerprint([
            ("id", one(WarehouseType::Int64)),
            ("name", one(WarehouseType::String)),
        ]);
        assert_eq!(fp, hex(&Md5::digest(b"id:INT64|name:STRING")));
        assert_eq!(fp.len(), 32);
        let swapped = fingerprint([
            ("name", one(WarehouseType::String)),
            ("id", one(WarehouseType::Int64)),
        ]);
        assert_ne!(fp, swapped);
        let tags = fingerprint([
            ("id", one(WarehouseType::Int64)),
            (
                "name",
                ColumnType::new(WarehouseType::String, Mode::Repeated),
            ),
        ]);
        assert_eq!(tags, hex(&Md5::digest(b"id:INT64|name:ARRAY<STRING>")));
    }

    #[test]
    fn array_types_read_and_show_as_array_of_their_type() {
        let t: ColumnType = "array<int64>".parse().unwrap();
        assert_eq!(t, ColumnType::new(WarehouseType::Int64, Mode::Repeated));
        assert_eq!(t.to_string(), "ARRAY<INT64>");
        assert_eq!(serde_json::to_value(t).unwrap(), "ARRAY<INT64>");
        let scalar: ColumnType = serde_json::from_value("FLOAT64".into()).unwrap();
        assert!(!scalar.repeated);
        assert!("ARRAY<MONEY>".parse::<ColumnType>().is_err());
        let ints = ColumnType::new(WarehouseType::Int64, Mode::Repeated);
        let floats = ColumnType::new(WarehouseType::Float64, Mode::Repeated);
        let json = ColumnType::new(WarehouseType::Json, Mode::Nullable);
        let int = ColumnType::new(WarehouseType::Int64, Mode::Nullable);
        assert!(ints.loads_into(floats));
        assert!(ints.loads_into(json), "an array loads as its JSON text");
        assert!(!ints.loads_into(int));
        assert!(!int.loads_into(ints));
    }

    #[test]
    fn unique_names_fills_blanks_and_dedupes() {
        let names = unique_names(["id".into(), "".into(), "ID".into(), " name ".into()]);
        assert_eq!(names, vec!["id", "column_2", "ID_2", "name"]);
        let names = unique_names(["a".into(), "a_2".into(), "a".into(), "A".into()]);
        assert_eq!(names, vec!["a", "a_2", "a_3", "A_4"]);
    }

    #[test]
    fn unique_names_tries_at_most_two_candidates_a_name() {
        // 20,000 copies of one name: a search from `_2` for each would try 200 million.
        let (names, tries) = unique_names_counted(std::iter::repeat_n("a".to_string(), 20_000));
        assert_eq!(names.len(), 20_000);
        assert_eq!(names[19_999], "a_20000");
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), 20_000);
        assert!(tries <= 2 * 20_000, "{tries}");
    }

    #[test]
    fn types_parse_from_common_spellings() {
        assert_eq!(
            "integer".parse::<WarehouseType>().unwrap(),
            WarehouseType::Int64
        );
        assert_eq!(
            "Timestamp".parse::<WarehouseType>().unwrap(),
            WarehouseType::Timestamp
        );
        let err = "money".parse::<WarehouseType>().unwrap_err();
        assert!(err.contains("unknown type 'MONEY'"), "{err}");
    }

    #[test]
    fn column_serializes_with_the_original_field_names() {
        let json = serde_json::to_value(Column::new("id", WarehouseType::Int64)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "id", "bigquery_type": "INT64", "bigquery_mode": "NULLABLE"})
        );
    }
}
