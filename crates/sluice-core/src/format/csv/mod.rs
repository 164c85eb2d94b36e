//! CSV: sniffing delimiter, quoting, header and encoding from a sample (`sniff`), and
//! streaming a file through arrow-csv's push decoder into the job's column types (`read`),
//! with arrow-csv's errors turned into ones that name the file, line and column (`errors`).

mod dialect;
pub mod encoding;
mod errors;
mod layout;
mod lenient;
mod numbers;
mod quotes;
mod read;
mod sniff;
mod text;

use serde::{Deserialize, Serialize};

pub use self::encoding::{Confidence, Encoding, EncodingGuess};
pub(crate) use self::errors::fix_or_retype;
pub use self::lenient::{BAD_RECORD, BadRecord, bad_record, mark};
pub use self::numbers::decimal_comma;
pub use self::read::{read, read_lenient};
pub use self::sniff::detect;
use super::{BatchStream, Format, FormatInfo, SAMPLE_BYTES, Source};
use crate::fields::{Field, FieldKind};
use crate::schema::{Column, DetectedSchema};
use crate::{Error, Result};

/// Delimited text: CSV, TSV and the like.
#[derive(Debug, Clone, Copy, Default)]
pub struct Csv;

impl Format for Csv {
    type Options = CsvOptions;

    const INFO: FormatInfo = FormatInfo {
        name: "csv",
        label: "CSV",
        aliases: &["tsv"],
        extensions: &["csv", "tsv", "psv", "txt"],
        options: &[
            Field::text("delimiter", "Delimiter").kind(FieldKind::Choice {
                choices: &[
                    ("", "Detect"),
                    (",", "Comma"),
                    ("|", "Pipe"),
                    ("\t", "Tab"),
                    (";", "Semicolon"),
                ],
            }),
            Field::text("quote", "Quote").kind(FieldKind::Choice {
                choices: &[
                    ("", "Detect"),
                    ("\"", "Double quote"),
                    ("'", "Single quote"),
                ],
            }),
            Field::text("has_header", "First row is a header").kind(FieldKind::Tristate),
            Field::text("encoding", "Encoding").kind(FieldKind::Choice {
                choices: &[
                    ("", "Detect"),
                    ("utf-8", "UTF-8"),
                    ("utf-16le", "UTF-16 LE"),
                    ("utf-16be", "UTF-16 BE"),
                    ("latin-1", "Latin-1 / Windows-1252"),
                    ("windows-1250", "Central European (Windows-1250)"),
                    ("windows-1251", "Cyrillic (Windows-1251)"),
                    ("shift_jis", "Japanese (Shift-JIS)"),
                    ("euc-jp", "Japanese (EUC-JP)"),
                    ("gbk", "Chinese simplified (GBK)"),
                    ("big5", "Chinese traditional (Big5)"),
                    ("euc-kr", "Korean (EUC-KR)"),
                ],
            }),
            Field::text("skip_rows", "Lines to skip before the header").kind(FieldKind::Number),
            Field::text("comment", "Comment lines start with"),
            Field::text(
                "null_markers",
                "Also NULL (comma-separated, e.g. NULL,NA,\\N)",
            ),
            Field::text("escape", "Quote escape character").kind(FieldKind::Choice {
                choices: &[("", "Detect (or doubled quotes)"), ("\\", "Backslash")],
            }),
            Field::text("decimal_comma", "Decimal comma (1.234,56)").kind(FieldKind::Tristate),
        ],
        columns_by_name: false,
        missing_is_null: false,
    };

    async fn detect(
        source: &Source<'_>,
        options: &CsvOptions,
    ) -> Result<(CsvOptions, DetectedSchema)> {
        let sample = source.head(SAMPLE_BYTES).await?;
        sniff::detect_lenient(&sample, source.path(), options, source.is_lenient())
    }

    async fn read(
        source: &Source<'_>,
        options: &CsvOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        Ok(read_lenient(
            source.stream().await?,
            options,
            columns,
            source.path(),
            source.is_lenient(),
        ))
    }

    fn validate(options: &CsvOptions) -> Result<()> {
        options.validate()
    }
}

/// Delimiters sniffing tries, in order of preference on a tie.
pub const DELIMITERS: [char; 4] = [',', '|', '\t', ';'];

/// CSV options; `None` means "sniff it".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvOptions {
    pub delimiter: Option<char>,
    pub quote: Option<char>,
    pub has_header: Option<bool>,
    /// The text encoding; detected when not given.
    pub encoding: Option<Encoding>,
    /// Lines before the header (a title or comment block an export writes first);
    /// detected when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_rows: Option<u32>,
    /// Lines that start with this character are skipped wherever they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<char>,
    /// Cells that are NULL besides the empty one (`NULL`, `NA`, `\N`); detected when not
    /// given.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "markers_or_list"
    )]
    pub null_markers: Option<Vec<String>>,
    /// The character that escapes a quote inside a quoted field (`\"`), where the file
    /// does not double it; detected when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escape: Option<char>,
    /// Numbers written with a decimal comma and dot thousands (`1.234,56`), as European
    /// exports do; detected when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimal_comma: Option<bool>,
}

impl CsvOptions {
    pub(crate) fn delimiter_byte(&self) -> u8 {
        self.delimiter.unwrap_or(',') as u8
    }
    pub(crate) fn quote_byte(&self) -> u8 {
        self.quote.unwrap_or('"') as u8
    }
    /// Whether the file begins with a header line (yes unless told otherwise).
    pub fn header(&self) -> bool {
        self.has_header.unwrap_or(true)
    }

    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding.unwrap_or_default()
    }

    /// The cells read as NULL: the empty one and the markers.
    pub(crate) fn null_markers(&self) -> &[String] {
        self.null_markers.as_deref().unwrap_or_default()
    }

    /// Checks that delimiter, quote, comment and escape are single ASCII characters.
    pub fn validate(&self) -> Result<()> {
        for (option, c) in [
            ("delimiter", self.delimiter),
            ("quote", self.quote),
            ("comment", self.comment),
            ("escape", self.escape),
        ] {
            if let Some(c) = c
                && (!c.is_ascii() || c == '\n' || c == '\r')
            {
                return Err(Error::InvalidOption {
                    option: option.into(),
                    reason: format!("{c:?} is not a single ASCII character"),
                });
            }
        }
        Ok(())
    }
}

/// Null markers as a list, or as one comma-separated text (as a form field gives them).
fn markers_or_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Given>::deserialize(d)? {
        None => None,
        Some(Given::List(l)) => Some(l),
        Some(Given::Text(t)) => Some(
            t.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
        ),
    })
}

pub(crate) fn show_delimiter(c: char) -> String {
    match c {
        '\t' => "tab".into(),
        c => format!("'{c}'"),
    }
}
