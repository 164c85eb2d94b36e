//! The parts of a CSV dialect beyond delimiter and quote, sniffed from a sample: comment
//! lines, backslash-escaped quotes, a title block before the header, null markers, and
//! numbers with a decimal comma.

use super::numbers;
use super::sniff::{records, split_score};
use crate::schema::WarehouseType;
use crate::schema::infer::ColumnInference;

/// How the sample's lines are split: delimiter, quote, and where the file has them, the
/// quote escape and comment lines.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dialect {
    pub delimiter: char,
    pub quote: char,
    pub escape: Option<char>,
    pub comment: Option<char>,
}

/// The most lines a title block may take.
const MAX_TITLE_LINES: usize = 30;

/// Cells that often mean NULL, looked for in the sample.
const MARKERS: [&str; 5] = ["NULL", "null", "\\N", "NA", "N/A"];

/// `#` is a comment when the file's first line that says anything starts with it.
pub(super) fn sniff_comment(text: &str) -> Option<char> {
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    first.starts_with('#').then_some('#')
}

/// A backslash escapes quotes when the file has `\"` and never doubles a quote inside a
/// field (`""` between other characters of a field).
pub(super) fn sniff_escape(text: &str, d: Dialect) -> Option<char> {
    let q = d.quote;
    let escaped = format!("\\{q}");
    if !text.contains(&escaped) {
        return None;
    }
    let chars: Vec<char> = text.chars().take(1 << 20).collect();
    let edge = |c: Option<&char>| c.is_none_or(|c| *c == d.delimiter || *c == '\n' || *c == '\r');
    let doubled_inside = chars.windows(2).enumerate().any(|(i, w)| {
        w[0] == q
            && w[1] == q
            && !edge(i.checked_sub(1).and_then(|p| chars.get(p)))
            && chars.get(i.wrapping_sub(1)) != Some(&'\\')
            && !edge(chars.get(i + 2))
    });
    (!doubled_inside).then_some('\\')
}

/// The text after its first `n` lines.
pub(super) fn after_lines(text: &str, n: u32) -> &str {
    let mut rest = text;
    for _ in 0..n {
        match rest.find('\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return "",
        }
    }
    rest
}

/// Lines before the header that are not rows: a title block of lines with no delimiter
/// (or blank, or comments) before the first line as wide as most rows are.
pub(super) fn sniff_skip(text: &str, d: Dialect) -> u32 {
    let (width, _) = split_score(text, d);
    if width <= 1 {
        return 0;
    }
    let fields = |line: &str| -> usize {
        records(line, d, 1)
            .0
            .first()
            .map(csv::StringRecord::len)
            .unwrap_or(0)
    };
    for (i, line) in text.lines().take(MAX_TITLE_LINES + 1).enumerate() {
        let title = line.trim().is_empty()
            || d.comment.is_some_and(|c| line.starts_with(c))
            || fields(line) <= 1;
        if !title {
            // The first line with a delimiter: the header, if it is as wide as the rows.
            return if fields(line) == width { i as u32 } else { 0 };
        }
    }
    0
}

/// Markers that hide a column's type: with the marker read as NULL, some column that
/// would be text has a type.
pub(super) fn sniff_null_markers(rows: &[csv::StringRecord], width: usize) -> Vec<String> {
    let mut found = Vec::new();
    for marker in MARKERS {
        let hides_a_type = (0..width).any(|i| {
            let cells = rows.iter().filter_map(|r| r.get(i));
            let mut with = ColumnInference::default();
            let mut without = ColumnInference::default();
            let mut seen = false;
            for cell in cells {
                with.observe(Some(cell));
                if cell == marker {
                    seen = true;
                    without.observe(None);
                } else {
                    without.observe(Some(cell));
                }
            }
            let typed = |c: &ColumnInference| c.finish_type().0 != WarehouseType::String;
            seen && !typed(&with) && typed(&without) && without.finish_type().1 != "empty"
        });
        if hides_a_type {
            found.push(marker.to_string());
        }
    }
    found
}

/// A decimal comma (never with `,` as the delimiter): some column is numbers only when read
/// so, and no column that is a number as written stops being one.
pub(super) fn sniff_decimal_comma(
    rows: &[csv::StringRecord],
    width: usize,
    delimiter: char,
    markers: &[String],
) -> bool {
    if delimiter == ',' {
        return false;
    }
    let mut gained = false;
    for i in 0..width {
        let mut plain = ColumnInference::default();
        let mut comma = ColumnInference::default();
        // Every value of the column reads in the notation (or is an integer).
        let mut all_read = true;
        for cell in rows.iter().filter_map(|r| r.get(i)) {
            if markers.iter().any(|m| m == cell) || cell.is_empty() {
                plain.observe(None);
                comma.observe(None);
                continue;
            }
            plain.observe(Some(cell));
            match numbers::decimal_comma(cell) {
                Some(n) => comma.observe(Some(&n)),
                None => {
                    all_read &= cell.trim().parse::<i64>().is_ok();
                    comma.observe(Some(cell));
                }
            }
        }
        let numeric =
            |t: WarehouseType| matches!(t, WarehouseType::Float64 | WarehouseType::Numeric);
        let (before, after) = (plain.finish_type().0, comma.finish_type().0);
        if numeric(before) && !numeric(after) && after != WarehouseType::Int64 {
            // `1.5` in a column: a decimal point, so not this notation.
            return false;
        }
        gained |= before == WarehouseType::String && numeric(after) && all_read;
    }
    gained
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(delimiter: char) -> Dialect {
        Dialect {
            delimiter,
            quote: '"',
            escape: None,
            comment: None,
        }
    }

    #[test]
    fn finds_a_title_block_before_the_header() {
        let text = "Sales report\nGenerated 2024-11-19 by SAP\n\nid;amount;city\n1;2,5;Oslo\n2;3,5;Rome\n3;1,0;Lima\n";
        assert_eq!(sniff_skip(text, d(';')), 3);
        assert_eq!(sniff_skip("id,x\n1,2\n3,4\n", d(',')), 0);
        assert_eq!(after_lines("a\nb\nc\n", 2), "c\n");
    }

    #[test]
    fn finds_comments_escapes_markers_and_decimal_commas() {
        assert_eq!(sniff_comment("# exported\nid,x\n1,2\n"), Some('#'));
        assert_eq!(sniff_comment("id,x\n#1,2\n"), None);
        let text = "id,note\n1,\"say \\\"hi\\\", then go\"\n2,\"plain\"\n3,\"a \\\"b\\\"\"\n";
        assert_eq!(sniff_escape(text, d(',')), Some('\\'));
        assert_eq!(sniff_escape("id,n\n1,\"a \"\"b\"\"\"\n", d(',')), None);

        let rows = |text: &str, delim: char| records(text, d(delim), usize::MAX).0;
        let data = rows("1,NULL,\\N\n2,5,6\n3,7,\\N\n", ',');
        assert_eq!(sniff_null_markers(&data, 3), vec!["NULL", "\\N"]);
        // A word in a text column is a value, not a marker.
        let data = rows("1,NA\n2,EU\n3,US\n", ',');
        assert!(sniff_null_markers(&data, 2).is_empty());

        let data = rows("1;1.234,56;x\n2;-0,5;y\n3;12;z\n", ';');
        assert!(sniff_decimal_comma(&data, 3, ';', &[]));
        let data = rows("1;1.5;x\n2;2,5;y\n", ';');
        assert!(!sniff_decimal_comma(&data, 3, ';', &[]));
        let data = rows("1,2\n", ',');
        assert!(!sniff_decimal_comma(&data, 2, ',', &[]));
    }
}
