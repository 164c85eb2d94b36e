//! arrow-csv's errors as errors that name the file, line and column, with what to do.

use std::sync::LazyLock;

use regex::Regex;

use super::show_delimiter;
use crate::Error;
use crate::error::{Hint, excerpt};

static VALUE_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)parsing value '(.*)' as type '([^']*)' for column (\d+) at line (\d+)")
        .expect("valid regex")
});
static COLUMN_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)Error parsing column (\d+) at line (\d+): (.*)").expect("valid regex")
});
static FIELDS_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"incorrect number of fields for line (\d+), expected (\d+) got (\d+)")
        .expect("valid regex")
});
static UTF8_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"invalid UTF-8 data for line (\d+) and field (\d+)").expect("valid regex")
});

/// The advice for a value that does not fit its column's type.
pub(crate) fn fix_or_retype() -> Hint {
    Hint::set(
        "fix the file, or change the column's type in the job's schema",
        "schema",
        None,
    )
}

/// Turns arrow-csv's messages into errors that name the file, line and column.
///
/// arrow-csv counts records from 0 with the header as record 0, so its `line N` is
/// the file's line N + 1 (exact unless quoted fields hold newlines).
pub(super) fn locate_error(message: &str, path: &str, names: &[String], delimiter: char) -> Error {
    let num = |s: &str| s.parse::<u64>().unwrap_or(0);
    let name = |i: &str| names.get(num(i) as usize).cloned();
    if let Some(c) = VALUE_ERROR.captures(message) {
        let ty = &c[2];
        let expected = crate::schema::WarehouseType::ALL
            .into_iter()
            .find(|t| t.arrow_type().to_string() == ty)
            .map_or(ty.to_string(), |t| t.to_string());
        return Error::Parse {
            path: path.into(),
            line: Some(num(&c[4]) + 1),
            column: name(&c[3]),
            message: format!("'{}' is not a valid {expected}", excerpt(&c[1])),
            hint: Some(fix_or_retype().into()),
        };
    }
    if let Some(c) = COLUMN_ERROR.captures(message) {
        return Error::Parse {
            path: path.into(),
            line: Some(num(&c[2]) + 1),
            column: name(&c[1]),
            message: excerpt(c[3].trim()),
            hint: Some(fix_or_retype().into()),
        };
    }
    if let Some(c) = FIELDS_ERROR.captures(message) {
        return Error::Parse {
            path: path.into(),
            line: Some(num(&c[1])),
            column: None,
            message: format!("expected {} fields, found {}", &c[2], &c[3]),
            hint: Some(
                Hint::set(
                    format!(
                        "check the delimiter ({}) and quoting",
                        show_delimiter(delimiter)
                    ),
                    "delimiter",
                    None,
                )
                .into(),
            ),
        };
    }
    if let Some(c) = UTF8_ERROR.captures(message) {
        return Error::Parse {
            path: path.into(),
            line: Some(num(&c[1])),
            column: name(&(num(&c[2]).saturating_sub(1)).to_string()),
            message: "the text is not valid UTF-8".into(),
            hint: Some(Hint::set(
                "set the job's encoding to latin-1 if the file comes from Excel or an older system",
                "encoding",
                Some("latin-1"),
            ).into()),
        };
    }
    Error::parse(path, excerpt(message))
}
