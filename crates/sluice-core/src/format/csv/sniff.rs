//! Sniffing a CSV sample: encoding, quote, delimiter and header, then the columns' types.

use super::dialect::{self, Dialect};
use super::quotes::QuoteTracker;
use super::{CsvOptions, DELIMITERS, Encoding, numbers, show_delimiter};
use crate::error::Hint;
use crate::format::{MAX_COLUMNS, Sample};
use crate::schema::infer::ColumnInference;
use crate::schema::{DetectedSchema, unique_names};
use crate::{Error, Result};

/// Rows sniffing looks at to choose a delimiter and a header.
const SNIFF_ROWS: usize = 200;

/// Turns the raw sample into text in `encoding`; a UTF-8 sample that is not valid UTF-8
/// (an encoding a person gave) is refused with its line.
fn decode_sample(sample: &[u8], encoding: Encoding, path: &str) -> Result<String> {
    if !encoding.is_utf8() {
        return Ok(super::encoding::decode_all(sample, encoding));
    }
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    match std::str::from_utf8(sample) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let line = sample[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
                + 1;
            let guess = super::encoding::detect(sample).encoding;
            Err(Error::Parse {
                path: path.into(),
                line: Some(line),
                column: None,
                message: "the file is not valid UTF-8".into(),
                hint: Some(
                    Hint::set(
                        format!(
                            "it looks like {guess}; set the encoding to {guess}, or leave it out to detect it"
                        ),
                        "encoding",
                        Some(&guess.name()),
                    )
                    .into(),
                ),
            })
        }
    }
}

pub(super) fn records(text: &str, d: Dialect, limit: usize) -> (Vec<csv::StringRecord>, bool) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(d.delimiter as u8)
        .quote(d.quote as u8)
        .escape(d.escape.map(|e| e as u8))
        .double_quote(d.escape.is_none())
        .comment(d.comment.map(|c| c as u8))
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut failed = false;
    for record in reader.records().take(limit) {
        match record {
            Ok(r) => out.push(r),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    (out, failed)
}

/// How well a delimiter splits the first rows: (fields in most rows, share of rows with that count).
pub(super) fn split_score(text: &str, d: Dialect) -> (usize, f64) {
    let (rows, _) = records(text, d, SNIFF_ROWS);
    let rows: Vec<usize> = rows
        .iter()
        .map(csv::StringRecord::len)
        .filter(|&n| n > 0)
        .collect();
    if rows.is_empty() {
        return (0, 0.0);
    }
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for n in &rows {
        match counts.iter_mut().find(|(k, _)| k == n) {
            Some((_, c)) => *c += 1,
            None => counts.push((*n, 1)),
        }
    }
    let (mode, freq) = counts
        .into_iter()
        .max_by_key(|&(k, c)| (c, k))
        .unwrap_or((0, 0));
    (mode, freq as f64 / rows.len() as f64)
}

/// The delimiter that splits the rows into the same number (> 1) of fields most consistently.
/// A title block before the header is left out of the count.
fn sniff_delimiter(text: &str, base: Dialect) -> Option<(char, usize)> {
    DELIMITERS
        .iter()
        .map(|&d| {
            let dialect = Dialect {
                delimiter: d,
                ..base
            };
            let rows = dialect::after_lines(text, dialect::sniff_skip(text, dialect));
            (d, split_score(rows, dialect))
        })
        .filter(|(_, (fields, share))| *fields > 1 && *share >= 0.9)
        .max_by(|a, b| {
            let (_, (fa, sa)) = a;
            let (_, (fb, sb)) = b;
            sa.partial_cmp(sb)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(fa.cmp(fb))
        })
        .map(|(d, (fields, _))| (d, fields))
}

/// `'` quotes fields only if it, and never `"`, appears around fields.
fn sniff_quote(text: &str) -> char {
    let head: String = text.chars().take(64 * 1024).collect();
    let wrapped = |q: char| {
        head.lines()
            .filter(|line| {
                line.starts_with(q)
                    || DELIMITERS.iter().any(|d| {
                        line.contains(&format!("{d}{q}")) && line.contains(&format!("{q}{d}"))
                    })
            })
            .count()
    };
    if wrapped('"') == 0 && wrapped('\'') > 0 {
        '\''
    } else {
        '"'
    }
}

/// A header row is one whose cells do not fit the types of the rows below it, or, where
/// every column is text, one whose cells are all distinct labels. Empty cells say nothing
/// either way (a header may leave a column unnamed, a trailing delimiter leaves one), as
/// long as some cell is a label; in an all-text file an unnamed column must be empty below.
fn sniff_header(rows: &[csv::StringRecord]) -> bool {
    let Some((first, rest)) = rows.split_first() else {
        return true;
    };
    let named = |c: &str| !c.trim().is_empty();
    if !first.iter().any(named) {
        return false;
    }
    let mut typed_columns = 0;
    let mut header_votes = 0;
    for (i, cell) in first.iter().enumerate().filter(|(_, c)| named(c)) {
        let mut below = ColumnInference::default();
        for r in rest.iter().take(SNIFF_ROWS) {
            below.observe(r.get(i));
        }
        let (ty, _) = below.finish_type();
        if ty != crate::schema::WarehouseType::String {
            typed_columns += 1;
            let mut with_first = below.clone();
            with_first.observe(Some(cell));
            if with_first.finish_type().0 != ty {
                header_votes += 1;
            }
        }
    }
    if typed_columns > 0 {
        return header_votes * 2 >= typed_columns;
    }
    // All text: a header when its labels are distinct, none recurs as a value below, and
    // its unnamed columns hold nothing below.
    let labels: Vec<&str> = first.iter().collect();
    let mut seen = std::collections::HashSet::with_capacity(labels.len());
    let distinct = labels.iter().filter(|l| named(l)).all(|l| seen.insert(*l));
    let recurs = rest
        .iter()
        .take(SNIFF_ROWS)
        .any(|r| r.iter().zip(&labels).any(|(v, l)| named(l) && v == *l));
    let gaps_empty = rest.iter().take(SNIFF_ROWS).all(|r| {
        r.iter()
            .zip(&labels)
            .all(|(v, l)| named(l) || v.trim().is_empty())
    });
    distinct && !recurs && gaps_empty
}

/// A sample whose bytes are one in ten NUL or more is not text in this encoding: UTF-16
/// (every other byte of Latin text is NUL), or binary.
fn looks_binary(sample: &[u8]) -> bool {
    let head = &sample[..sample.len().min(64 * 1024)];
    let nul = head.iter().filter(|b| **b == 0).count();
    !head.is_empty() && nul * 10 >= head.len()
}

/// A quoted field that never closes, as an error naming the line it opened on.
pub(super) fn unclosed_quote(path: &str, line: u64, quote: char) -> Error {
    Error::Parse {
        path: path.into(),
        line: Some(line),
        column: None,
        message: format!("a field quoted with {quote} opens here and never closes"),
        hint: Some(
            Hint::text(format!(
                "add the missing closing {quote}, or set another quote character if {quote} is not one"
            ))
            .into(),
        ),
    }
}

/// Detects a CSV file's options and schema from the head of the file.
///
/// # Errors
/// Invalid UTF-8 (with a hint to try Latin-1), a delimiter given that leaves every row in
/// one column while another splits them, and rows whose field count differs from the
/// header's.
pub fn detect(
    sample: &Sample,
    path: &str,
    given: &CsvOptions,
) -> Result<(CsvOptions, DetectedSchema)> {
    detect_lenient(sample, path, given, false)
}

/// [`detect`]; when `lenient`, rows of the wrong width are left out of the inference (a
/// job that quarantines them reads the rest) instead of refusing the file.
///
/// # Errors
/// As [`detect`].
pub fn detect_lenient(
    sample: &Sample,
    path: &str,
    given: &CsvOptions,
    lenient: bool,
) -> Result<(CsvOptions, DetectedSchema)> {
    given.validate()?;
    let truncated = !sample.complete;
    let guess = match given.encoding {
        Some(_) => None,
        None => Some(super::encoding::detect(&sample.bytes)),
    };
    let encoding = given
        .encoding
        .or(guess.as_ref().map(|g| g.encoding))
        .unwrap_or_default();
    let utf16 = encoding == Encoding::UTF16LE || encoding == Encoding::UTF16BE;
    if !utf16 && looks_binary(sample.complete_lines()) {
        return Err(Error::Parse {
            path: path.into(),
            line: None,
            column: None,
            message: "the file is mostly NUL bytes: it is UTF-16 text or binary, not CSV in the expected encoding".into(),
            hint: Some(
                Hint::set(
                    "if it is UTF-16 text, set the encoding to utf-16le (or leave it out to detect it); else check that it is the file you meant",
                    "encoding",
                    Some("utf-16le"),
                )
                .into(),
            ),
        });
    }
    // UTF-16 lines end in two bytes: decode the whole sample and cut at the last line end.
    let raw = if utf16 {
        &sample.bytes[..]
    } else {
        sample.complete_lines()
    };
    let mut decoded = decode_sample(raw, encoding, path)?;
    if utf16 && truncated {
        decoded.truncate(decoded.rfind('\n').map_or(decoded.len(), |i| i + 1));
    }
    let text = decoded.as_str();
    if text.trim().is_empty() {
        return Err(Error::NoRows {
            path: path.into(),
            what: "the file is empty".into(),
        });
    }

    let quote = given.quote.unwrap_or_else(|| sniff_quote(text));
    let comment = given.comment.or_else(|| dialect::sniff_comment(text));
    let base = Dialect {
        delimiter: ',',
        quote,
        escape: given.escape,
        comment,
    };
    let delimiter = match given.delimiter {
        Some(d) => {
            let (fields, _) = split_score(
                text,
                Dialect {
                    delimiter: d,
                    ..base
                },
            );
            if fields <= 1
                && let Some((better, n)) = sniff_delimiter(text, base)
            {
                return Err(Error::Parse {
                    path: path.into(),
                    line: None,
                    column: None,
                    message: format!(
                        "with delimiter {} every row is one column",
                        show_delimiter(d)
                    ),
                    hint: Some(
                        Hint::set(
                            format!(
                                "{} splits the rows into {n} columns; set the delimiter to {}",
                                show_delimiter(better),
                                show_delimiter(better),
                            ),
                            "delimiter",
                            Some(&better.to_string()),
                        )
                        .into(),
                    ),
                });
            }
            d
        }
        None => sniff_delimiter(text, base).map_or(',', |(d, _)| d),
    };
    let mut dialect = Dialect { delimiter, ..base };
    if given.escape.is_none() {
        dialect.escape = dialect::sniff_escape(text, dialect);
    }
    let skip_rows = match given.skip_rows {
        Some(n) => n,
        None => dialect::sniff_skip(text, dialect),
    };
    let text = dialect::after_lines(text, skip_rows);
    let (delimiter, quote) = (dialect.delimiter, dialect.quote);

    if !truncated {
        let mut quotes = QuoteTracker::new(delimiter as u8, quote as u8);
        quotes.feed(text.as_bytes());
        if dialect.escape.is_none()
            && let Some(line) = quotes.unclosed()
        {
            return Err(unclosed_quote(path, line + u64::from(skip_rows), quote));
        }
    }
    let (mut rows, failed) = records(text, dialect, usize::MAX);
    if failed && !truncated {
        return Err(Error::parse(
            path,
            "the sample could not be split into rows; check the quote character",
        ));
    }
    // A quoted field cut by the end of the sample leaves a partial last row.
    if truncated && rows.len() > 1 {
        rows.pop();
    }
    rows.retain(|r| !(r.len() == 1 && r.get(0).is_some_and(str::is_empty)));
    let Some(first) = rows.first() else {
        return Err(Error::NoRows {
            path: path.into(),
            what: "the file holds no rows, only empty lines".into(),
        });
    };
    let width = first.len();
    if width > MAX_COLUMNS {
        return Err(Error::Parse {
            path: path.into(),
            line: Some(first.position().map_or(1, csv::Position::line) + u64::from(skip_rows)),
            column: None,
            message: format!(
                "the row has {width} fields; sluice reads at most {MAX_COLUMNS} columns"
            ),
            hint: Some(
                Hint::set(
                    format!(
                        "check the delimiter (detected {})",
                        show_delimiter(delimiter)
                    ),
                    "delimiter",
                    None,
                )
                .into(),
            ),
        });
    }
    let has_header = given.has_header.unwrap_or_else(|| sniff_header(&rows));
    let names = if has_header {
        unique_names(first.iter().map(str::to_string))
    } else {
        unique_names((1..=width).map(|i| format!("column_{i}")))
    };
    let data = rows.get(usize::from(has_header)..).unwrap_or_default();

    let mut columns: Vec<ColumnInference> = vec![ColumnInference::default(); width];
    for (i, row) in data.iter().enumerate() {
        if row.len() != width && lenient {
            continue;
        }
        if row.len() != width {
            let line = row
                .position()
                .map_or(i as u64 + 1 + u64::from(has_header), |p| p.line())
                + u64::from(skip_rows);
            return Err(Error::Parse {
                path: path.into(),
                line: Some(line),
                column: None,
                message: format!("expected {width} fields, found {}", row.len()),
                hint: Some(
                    Hint::set(
                        format!(
                            "check the delimiter (detected {}) and quoting",
                            show_delimiter(delimiter)
                        ),
                        "delimiter",
                        None,
                    )
                    .into(),
                ),
            });
        }
    }
    let null_markers = match &given.null_markers {
        Some(m) => m.clone(),
        None => dialect::sniff_null_markers(data, width),
    };
    let decimal_comma = match given.decimal_comma {
        Some(d) => d,
        None => dialect::sniff_decimal_comma(data, width, delimiter, &null_markers),
    };
    for row in data {
        for (c, value) in columns.iter_mut().zip(row.iter()) {
            if null_markers.iter().any(|m| m == value) {
                c.observe(None);
            } else if decimal_comma && let Some(n) = numbers::decimal_comma(value) {
                c.observe(Some(&n));
            } else {
                c.observe(Some(value));
            }
        }
    }
    let detected = columns
        .into_iter()
        .zip(names)
        .map(|(c, name)| c.finish(name))
        .collect();
    let total_rows = sample.estimate_rows(data.len() as u64);
    let mut notes = Vec::new();
    if skip_rows > 0 && given.skip_rows.is_none() {
        notes.push(format!(
            "skipped {skip_rows} line(s) before the header (a title block); set skip_rows to change it"
        ));
    }
    if let (Some(c), None) = (comment, given.comment) {
        notes.push(format!("lines starting with {c} are comments"));
    }
    if let (Some(e), None) = (dialect.escape, given.escape) {
        notes.push(format!("quotes inside quoted fields are escaped with {e}"));
    }
    if !null_markers.is_empty() && given.null_markers.is_none() {
        notes.push(format!(
            "{} read as NULL",
            null_markers
                .iter()
                .map(|m| format!("'{m}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if decimal_comma && given.decimal_comma.is_none() {
        notes.push("numbers are written with a decimal comma (1.234,56)".into());
    }
    let resolved = CsvOptions {
        delimiter: Some(delimiter),
        quote: Some(quote),
        has_header: Some(has_header),
        encoding: Some(encoding),
        skip_rows: Some(skip_rows),
        comment,
        null_markers: Some(null_markers),
        escape: dialect.escape,
        decimal_comma: Some(decimal_comma),
    };
    let mut schema = DetectedSchema::new(detected, total_rows, truncated, sample.file_size());
    schema.encoding = guess;
    schema.notes = notes;
    Ok((resolved, schema))
}

#[cfg(test)]
mod tests;
