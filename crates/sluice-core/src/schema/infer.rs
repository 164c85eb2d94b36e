//! Type inference from text values, as found in CSV cells and JSON strings.
//!
//! Each column gets a [`ColumnInference`] that is fed every value of the sample. A type is
//! chosen only if *every* non-empty value fits it, so one odd value makes a column STRING
//! rather than failing a load later. Rules users rely on:
//! - codes with leading zeros (`00501`) stay STRING;
//! - a mix of integers and decimals is FLOAT64;
//! - integers too large for INT64 become NUMERIC when they fit NUMERIC(38, 9), else STRING;
//! - ISO-8601 timestamps with or without an offset are TIMESTAMP, plain dates DATE,
//!   and a mix of the two TIMESTAMP;
//! - empty cells are NULL; a column with no value at all is a nullable STRING.

use arrow::compute::kernels::cast_utils::string_to_datetime;
use chrono::{NaiveDate, Utc};

use super::{DetectedColumn, Mode, NUMERIC_SCALE, WarehouseType};

/// How many sample values a detected column shows.
pub const SAMPLE_VALUES: usize = 5;

const MAX_NUMERIC_INTEGER_DIGITS: usize = 38 - NUMERIC_SCALE as usize;

/// Accumulates what the values of one column could be.
#[derive(Debug, Clone)]
pub struct ColumnInference {
    values: u64,
    nulls: u64,
    bool_ok: bool,
    int_ok: bool,
    numeric_ok: bool,
    any_big_int: bool,
    float_ok: bool,
    date_ok: bool,
    any_date_only: bool,
    timestamp_ok: bool,
    any_nested: bool,
    samples: Vec<String>,
}

impl Default for ColumnInference {
    fn default() -> Self {
        Self {
            values: 0,
            nulls: 0,
            bool_ok: true,
            int_ok: true,
            numeric_ok: true,
            any_big_int: false,
            float_ok: true,
            date_ok: true,
            any_date_only: false,
            timestamp_ok: true,
            any_nested: false,
            samples: Vec::new(),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Number {
    Int,
    BigInt {
        integer_digits: usize,
    },
    Decimal {
        integer_digits: usize,
        fraction_digits: usize,
    },
}

/// Classifies plain decimal notation; leading zeros (other than a lone `0` before the
/// point) make a value a code, not a number.
fn number(s: &str) -> Option<Number> {
    // One pass over the bytes: a text value is told apart at its first non-digit, without
    // searching the rest of it for a '.'.
    let bytes = s.as_bytes();
    let body = match bytes.first() {
        Some(b'-' | b'+') => &bytes[1..],
        _ => bytes,
    };
    let int_digits = body
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(body.len());
    if int_digits == 0 || (int_digits > 1 && body[0] == b'0') {
        return None;
    }
    match &body[int_digits..] {
        // Up to 18 digits always fit an INT64; more are parsed to know.
        [] if int_digits <= 18 || s.parse::<i64>().is_ok() => Some(Number::Int),
        [] => Some(Number::BigInt {
            integer_digits: int_digits,
        }),
        [b'.', fraction @ ..]
            if !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit) =>
        {
            Some(Number::Decimal {
                integer_digits: int_digits,
                fraction_digits: fraction.len(),
            })
        }
        _ => None,
    }
}

/// Scientific notation (`1.5e3`) is a float but never an integer or NUMERIC.
fn is_scientific(s: &str) -> bool {
    let Some((mantissa, exp)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exp = exp.strip_prefix(['-', '+']).unwrap_or(exp);
    !exp.is_empty()
        && exp.bytes().all(|b| b.is_ascii_digit())
        && matches!(number(mantissa), Some(Number::Int | Number::Decimal { .. }))
}

fn is_date(s: &str) -> bool {
    s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_timestamp(s: &str) -> bool {
    // The same parser the readers use, so what is detected here is what loads.
    s.len() > 10 && s.as_bytes().get(4) == Some(&b'-') && string_to_datetime(&Utc, s).is_ok()
}

impl ColumnInference {
    /// Feeds one value; `None` or an empty string is a NULL.
    pub fn observe(&mut self, value: Option<&str>) {
        let Some(v) = value.filter(|v| !v.is_empty()) else {
            self.nulls += 1;
            return;
        };
        self.values += 1;
        if self.samples.len() < SAMPLE_VALUES && !self.samples.iter().any(|s| s == v) {
            // A sample is shown, not stored whole: a 5 MB cell is cut like an error's quote.
            self.samples.push(crate::error::excerpt(v));
        }
        if self.bool_ok && !(v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")) {
            self.bool_ok = false;
        }
        if self.int_ok || self.numeric_ok || self.float_ok {
            match number(v) {
                Some(Number::Int) => {}
                Some(Number::BigInt { integer_digits }) => {
                    self.int_ok = false;
                    self.any_big_int = true;
                    self.numeric_ok &= integer_digits <= MAX_NUMERIC_INTEGER_DIGITS;
                }
                Some(Number::Decimal {
                    integer_digits,
                    fraction_digits,
                }) => {
                    self.int_ok = false;
                    self.numeric_ok &= integer_digits <= MAX_NUMERIC_INTEGER_DIGITS
                        && fraction_digits <= NUMERIC_SCALE as usize;
                }
                None => {
                    self.int_ok = false;
                    self.numeric_ok = false;
                    self.float_ok &= is_scientific(v);
                }
            }
        }
        if self.date_ok || self.timestamp_ok {
            let date = is_date(v);
            self.any_date_only |= date;
            self.date_ok &= date;
            self.timestamp_ok &= date || is_timestamp(v);
        }
    }

    /// Feeds a JSON string value: it may be a date or timestamp, but a string holding
    /// digits stays a string (the file chose to quote it).
    pub fn observe_json_string(&mut self, value: &str) {
        self.bool_ok = false;
        self.int_ok = false;
        self.numeric_ok = false;
        self.float_ok = false;
        self.observe(Some(value));
    }

    /// Feeds a nested value (a JSON object or array): the column becomes JSON.
    pub fn observe_nested(&mut self) {
        self.values += 1;
        self.any_nested = true;
    }

    /// The warehouse type every observed value fits, and a word for what the file holds.
    pub fn finish_type(&self) -> (WarehouseType, &'static str) {
        if self.values == 0 {
            return (WarehouseType::String, "empty");
        }
        if self.any_nested {
            return (WarehouseType::Json, "nested");
        }
        if self.bool_ok {
            (WarehouseType::Bool, "boolean")
        } else if self.int_ok {
            (WarehouseType::Int64, "integer")
        } else if self.any_big_int && self.numeric_ok {
            (WarehouseType::Numeric, "big integer")
        } else if self.any_big_int {
            // Too large even for NUMERIC: keep the digits as text rather than round them.
            (WarehouseType::String, "big integer")
        } else if self.float_ok {
            (WarehouseType::Float64, "float")
        } else if self.date_ok {
            (WarehouseType::Date, "date")
        } else if self.timestamp_ok {
            (
                WarehouseType::Timestamp,
                if self.any_date_only {
                    "date/timestamp"
                } else {
                    "timestamp"
                },
            )
        } else {
            (WarehouseType::String, "string")
        }
    }

    pub fn finish(self, name: String) -> DetectedColumn {
        let (ty, source) = self.finish_type();
        DetectedColumn {
            name,
            source_type: source.to_string(),
            bigquery_type: ty,
            bigquery_mode: Mode::Nullable,
            source: None,
            nullable: self.nulls > 0 || self.values == 0,
            all_null: self.values == 0,
            sample_values: self.samples,
        }
    }
}

/// Infers one column from a list of values (a test and small-input convenience).
pub fn infer_values<'a>(values: impl IntoIterator<Item = &'a str>) -> WarehouseType {
    let mut c = ColumnInference::default();
    for v in values {
        c.observe(Some(v));
    }
    c.finish_type().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use WarehouseType::*;

    #[test]
    fn numbers_are_told_from_text_at_their_first_byte_that_is_not_a_digit() {
        let int = Some(Number::Int);
        for v in [
            "0",
            "7",
            "-0",
            "+5",
            "-9223372036854775808",
            "123456789012345678",
        ] {
            assert_eq!(number(v), int, "{v}");
        }
        assert_eq!(
            number("9223372036854775808"),
            Some(Number::BigInt { integer_digits: 19 })
        );
        assert_eq!(
            number("-12.50"),
            Some(Number::Decimal {
                integer_digits: 2,
                fraction_digits: 2
            })
        );
        for v in [
            "",
            "-",
            "01",
            "1.",
            ".5",
            "1.2.3",
            "1,5",
            "12a",
            "a long note. with a dot",
            "1e3",
        ] {
            assert_eq!(number(v), None, "{v}");
        }
    }

    #[test]
    fn leading_zero_codes_stay_strings() {
        assert_eq!(infer_values(["00501", "10001", "02134"]), String);
        assert_eq!(infer_values(["0", "1", "20"]), Int64);
        assert_eq!(infer_values(["0.5", "01.5"]), String);
    }

    #[test]
    fn ints_mixed_with_floats_are_float64() {
        assert_eq!(infer_values(["1", "2.5", "-3"]), Float64);
        assert_eq!(infer_values(["1.5e3", "2"]), Float64);
    }

    #[test]
    fn integers_too_large_for_int64_are_never_truncated() {
        assert_eq!(infer_values(["9223372036854775807"]), Int64);
        assert_eq!(infer_values(["9223372036854775808", "1"]), Numeric);
        assert_eq!(infer_values(["123456789012345678901234567890123"]), String);
    }

    #[test]
    fn timestamps_with_and_without_offsets() {
        assert_eq!(
            infer_values([
                "2024-11-19T08:15:00Z",
                "2024-11-19 09:00:00",
                "2024-11-19T10:00:00.123+02:00"
            ]),
            Timestamp
        );
        assert_eq!(infer_values(["2024-11-19", "2024-02-29"]), Date);
        assert_eq!(
            infer_values(["2024-11-19", "2024-11-19T10:00:00"]),
            Timestamp
        );
        assert_eq!(infer_values(["2023-02-30"]), String);
    }

    #[test]
    fn booleans_and_strings() {
        assert_eq!(infer_values(["true", "FALSE", "True"]), Bool);
        assert_eq!(infer_values(["yes", "no"]), String);
        assert_eq!(infer_values(["1", "0"]), Int64);
    }

    #[test]
    fn empty_cells_are_null_and_an_empty_column_is_nullable_string() {
        let mut c = ColumnInference::default();
        c.observe(Some("12"));
        c.observe(Some(""));
        c.observe(None);
        let col = c.finish("qty".into());
        assert_eq!(col.bigquery_type, Int64);
        assert!(col.nullable);
        assert!(!col.all_null);

        let mut empty = ColumnInference::default();
        empty.observe(Some(""));
        let col = empty.finish("blank".into());
        assert_eq!(col.bigquery_type, String);
        assert!(col.nullable && col.all_null);
    }

    #[test]
    fn keeps_five_distinct_sample_values() {
        let mut c = ColumnInference::default();
        for v in ["a", "a", "b", "c", "d", "e", "f"] {
            c.observe(Some(v));
        }
        assert_eq!(
            c.finish("x".into()).sample_values,
            vec!["a", "b", "c", "d", "e"]
        );
    }
}
