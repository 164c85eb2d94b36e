//! Arguments several commands share: sizes, delimiters, formats and their options.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use clap::Args;
use sluice_core::format::{self, CsvOptions, Encoding, FormatInfo, FormatOptions};

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct FormatArgs {
    /// The file format (csv, parquet, json, avro, orc, tfrecord); by default from the
    /// file's extension, looking through .gz, .zst, .bz2 and .xz.
    #[arg(long, value_parser = parse_format)]
    pub(crate) format: Option<&'static FormatInfo>,
    /// CSV delimiter: ',', '|', ';' or 'tab'; sniffed when not given.
    #[arg(long, value_parser = parse_delimiter)]
    pub(crate) delimiter: Option<char>,
    /// CSV quote character; sniffed when not given.
    #[arg(long)]
    pub(crate) quote: Option<char>,
    /// CSV text encoding (utf-8, utf-16le, utf-16be, latin-1, windows-1250, shift_jis,
    /// gbk, big5, euc-kr …); detected when not given (`detect` shows how sure it is).
    #[arg(long)]
    pub(crate) encoding: Option<Encoding>,
    /// CSV lines to skip before the header (a title block); detected when not given.
    #[arg(long, value_name = "N")]
    pub(crate) skip_rows: Option<u32>,
    /// CSV lines starting with this character are comments, skipped wherever they are.
    #[arg(long, value_name = "CHAR")]
    pub(crate) comment: Option<char>,
    /// A CSV cell that means NULL besides the empty one (repeatable): NULL, NA, '\N';
    /// detected when not given.
    #[arg(long = "null", value_name = "MARKER")]
    pub(crate) null_markers: Vec<String>,
    /// CSV quotes inside quoted fields are escaped with this character (\\) rather than
    /// doubled; detected when not given.
    #[arg(long, value_name = "CHAR")]
    pub(crate) escape: Option<char>,
    /// CSV numbers use a decimal comma and dot thousands (1.234,56); detected when not
    /// given.
    #[arg(long)]
    pub(crate) decimal_comma: bool,
    /// CSV numbers use a decimal point, even where detection would see a decimal comma.
    #[arg(long, conflicts_with = "decimal_comma")]
    pub(crate) decimal_point: bool,
    /// The CSV's first row is data, not a header.
    #[arg(long)]
    pub(crate) no_header: bool,
    /// The CSV's first row is a header (the default is to sniff).
    #[arg(long, conflicts_with = "no_header")]
    pub(crate) header: bool,
    /// Any option of the format, as the API names it (repeatable), e.g. `-O quote="'"`;
    /// `sluice detect --json` shows the options a format took.
    #[arg(long = "format-option", short = 'O', value_name = "KEY=VALUE")]
    pub(crate) format_options: Vec<String>,
}

impl FormatArgs {
    pub(crate) fn options(&self) -> Result<Option<FormatOptions>> {
        let csv_given = self.delimiter.is_some()
            || self.quote.is_some()
            || self.encoding.is_some()
            || self.skip_rows.is_some()
            || self.comment.is_some()
            || !self.null_markers.is_empty()
            || self.escape.is_some()
            || self.decimal_comma
            || self.decimal_point
            || self.no_header
            || self.header;
        let csv = CsvOptions {
            delimiter: self.delimiter,
            quote: self.quote,
            has_header: if self.no_header {
                Some(false)
            } else if self.header {
                Some(true)
            } else {
                None
            },
            encoding: self.encoding,
            skip_rows: self.skip_rows,
            comment: self.comment,
            null_markers: (!self.null_markers.is_empty()).then(|| self.null_markers.clone()),
            escape: self.escape,
            decimal_comma: if self.decimal_comma {
                Some(true)
            } else if self.decimal_point {
                Some(false)
            } else {
                None
            },
        };
        if !self.format_options.is_empty() {
            return self.generic_options(csv_given.then_some(csv));
        }
        Ok(match self.format {
            Some(f) if f.name == "csv" => Some(FormatOptions::Csv(csv)),
            Some(f) if csv_given => bail!("CSV options were given but the format is {}", f.name),
            Some(f) => FormatOptions::default_for(f),
            None if csv_given => Some(FormatOptions::Csv(csv)),
            None => None,
        })
    }
}

impl FormatArgs {
    /// `--format-option KEY=VALUE`s read as the API reads `file_format_options`: each value
    /// as JSON where it parses (`true`, `3`), else as text. CSV flags given beside them are
    /// folded in.
    fn generic_options(&self, csv: Option<CsvOptions>) -> Result<Option<FormatOptions>> {
        let format = match (self.format, &csv) {
            (Some(f), _) => f,
            (None, Some(_)) => format::by_name("csv").context("CSV is a registered format")?,
            (None, None) => bail!("--format-option needs --format to say whose option it is"),
        };
        let mut map = match csv.map(serde_json::to_value).transpose()? {
            Some(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        for (key, value) in parse_options(&self.format_options)? {
            let value = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            map.insert(key, value);
        }
        Ok(FormatOptions::from_request(Some(format.name), &map)?)
    }
}

/// A format by name (or alias), from the registry.
fn parse_format(s: &str) -> Result<&'static FormatInfo, String> {
    format::by_name(s).ok_or_else(|| format!("unknown format '{s}'; expected {}", format::names()))
}

pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("invalid size '{s}' ({e}); use e.g. 500MB or 1GiB"))
}

pub(crate) fn parse_delimiter(s: &str) -> Result<char, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok('\t'),
        "pipe" => Ok('|'),
        "comma" => Ok(','),
        "semicolon" => Ok(';'),
        _ if s.chars().count() == 1 => Ok(s.chars().next().unwrap_or(',')),
        _ => Err(format!(
            "invalid delimiter '{s}': give one character, or tab"
        )),
    }
}

pub(crate) fn parse_options(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .with_context(|| format!("invalid option '{p}': use KEY=VALUE"))?;
            let v = match v.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("option {k}: cannot read {path}"))?
                    .trim_end()
                    .to_string(),
                None => v.to_string(),
            };
            Ok((k.trim().to_string(), v))
        })
        .collect()
}
