//! CSV: sniffing delimiter, quoting, header and encoding from a sample (`sniff`), and
//! streaming a file through arrow-csv's push decoder into the job's column types (`read`),
//! with arrow-csv's errors turned into ones that name the file, line and column (`errors`).

mod errors;
mod quotes;
mod read;
mod sniff;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub(crate) use self::errors::fix_or_retype;
pub use self::read::read;
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
                choices: &[("utf-8", "UTF-8"), ("latin-1", "Latin-1 / Windows-1252")],
            }),
        ],
    };

    async fn detect(
        source: &Source<'_>,
        options: &CsvOptions,
    ) -> Result<(CsvOptions, DetectedSchema)> {
        let sample = source.head(SAMPLE_BYTES).await?;
        detect(&sample, source.path(), options)
    }

    async fn read(
        source: &Source<'_>,
        options: &CsvOptions,
        columns: &[Column],
    ) -> Result<BatchStream> {
        Ok(read(
            source.stream().await?,
            options,
            columns,
            source.path(),
        ))
    }

    fn validate(options: &CsvOptions) -> Result<()> {
        options.validate()
    }
}

/// Delimiters sniffing tries, in order of preference on a tie.
pub const DELIMITERS: [char; 4] = [',', '|', '\t', ';'];

/// Text encodings a CSV file can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    /// ISO-8859-1 and its superset Windows-1252, decoded as Windows-1252 as browsers do.
    #[serde(
        rename = "latin-1",
        alias = "iso-8859-1",
        alias = "latin1",
        alias = "windows-1252"
    )]
    Latin1,
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Self::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "windows-1252" | "cp1252" => {
                Ok(Self::Latin1)
            }
            other => Err(format!(
                "unknown encoding '{other}'; expected utf-8, latin-1 or iso-8859-1"
            )),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Utf8 => "utf-8",
            Self::Latin1 => "latin-1",
        })
    }
}

/// CSV options; `None` means "sniff it".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvOptions {
    pub delimiter: Option<char>,
    pub quote: Option<char>,
    pub has_header: Option<bool>,
    pub encoding: Encoding,
}

impl CsvOptions {
    pub(crate) fn delimiter_byte(&self) -> u8 {
        self.delimiter.unwrap_or(',') as u8
    }
    pub(crate) fn quote_byte(&self) -> u8 {
        self.quote.unwrap_or('"') as u8
    }
    pub(crate) fn header(&self) -> bool {
        self.has_header.unwrap_or(true)
    }

    /// Checks that delimiter and quote are single ASCII characters.
    pub fn validate(&self) -> Result<()> {
        for (option, c) in [("delimiter", self.delimiter), ("quote", self.quote)] {
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

pub(crate) fn show_delimiter(c: char) -> String {
    match c {
        '\t' => "tab".into(),
        c => format!("'{c}'"),
    }
}
