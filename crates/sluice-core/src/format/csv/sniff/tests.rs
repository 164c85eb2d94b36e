//! Sniffing CSV samples: dialects, headers, encodings, types.

use super::*;
use crate::schema::WarehouseType::{self, Bool, Date, Float64, Int64, Numeric, Timestamp};
use bytes::Bytes;

/// The head of a file of `size` bytes.
fn entry(text: &[u8], size: usize) -> Sample {
    Sample::new(Bytes::copy_from_slice(text), size as u64)
}

fn sniff(text: &[u8]) -> (CsvOptions, DetectedSchema) {
    detect(&entry(text, text.len()), "t.csv", &CsvOptions::default()).unwrap()
}

fn types(s: &DetectedSchema) -> Vec<WarehouseType> {
    s.columns.iter().map(|c| c.bigquery_type).collect()
}

#[test]
fn sniffs_each_delimiter() {
    for d in DELIMITERS {
        let text = format!("id{d}name{d}amount\n1{d}a{d}1.5\n2{d}b{d}2.5\n");
        let (opts, schema) = sniff(text.as_bytes());
        assert_eq!(opts.delimiter, Some(d));
        assert_eq!(types(&schema), vec![Int64, WarehouseType::String, Float64]);
    }
}

#[test]
fn quoted_commas_do_not_split_fields() {
    let (opts, schema) = sniff(include_bytes!(
        "../../../../../../testdata/csv/quoted_commas.csv"
    ));
    assert_eq!(opts.delimiter, Some(','));
    assert_eq!(schema.columns.len(), 3);
    assert_eq!(schema.columns[1].sample_values[0], "Smith, John");
}

#[test]
fn detects_header_or_its_absence() {
    let (opts, schema) = sniff(b"1,2024-01-01,3.5\n2,2024-01-02,4.5\n");
    assert_eq!(opts.has_header, Some(false));
    assert_eq!(schema.columns[0].name, "column_1");
    assert_eq!(types(&schema), vec![Int64, Date, Float64]);
    let (opts, _) = sniff(b"city,country\nParis,FR\nLyon,FR\n");
    assert_eq!(opts.has_header, Some(true));
}

#[test]
fn handles_a_byte_order_mark() {
    let (_, schema) = sniff(b"\xEF\xBB\xBFid,name\n1,a\n");
    assert_eq!(schema.columns[0].name, "id");
}

#[test]
fn latin1_is_detected_and_a_wrong_encoding_says_which_it_looks_like() {
    let text = include_bytes!("../../../../../../testdata/csv/latin1.csv");
    let (opts, schema) = detect(
        &entry(text, text.len()),
        "latin1.csv",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(opts.encoding, Some(Encoding::LATIN1));
    let guess = schema.encoding.clone().unwrap();
    assert_eq!(guess.encoding, Encoding::LATIN1);
    assert!(guess.reason.contains("not UTF-8"), "{guess:?}");
    assert!(
        schema.columns[1].sample_values.iter().any(|v| v == "Zoë"),
        "{:?}",
        schema.columns[1]
    );
    let opts = CsvOptions {
        encoding: Some(Encoding::UTF8),
        ..Default::default()
    };
    let err = detect(&entry(text, text.len()), "latin1.csv", &opts).unwrap_err();
    assert_eq!(
        err.hint().map(|h| (h.field.as_deref(), h.value.as_deref())),
        Some((Some("encoding"), Some("latin-1")))
    );
    let err = err.to_string();
    assert!(
        err.contains("latin1.csv line 2: the file is not valid UTF-8"),
        "{err}"
    );
    assert!(err.contains("set the encoding to latin-1"), "{err}");
}

#[test]
fn utf16_with_or_without_a_mark_is_read_as_text() {
    let csv = "id,name\n1,Zoë\n2,Åsa\n";
    for (bytes, want) in [
        (
            [
                vec![0xFF, 0xFE],
                csv.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            ]
            .concat(),
            Encoding::UTF16LE,
        ),
        (
            csv.encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect::<Vec<u8>>(),
            Encoding::UTF16BE,
        ),
    ] {
        let (opts, schema) =
            detect(&entry(&bytes, bytes.len()), "u.csv", &CsvOptions::default()).unwrap();
        assert_eq!(opts.encoding, Some(want));
        assert_eq!(schema.columns[0].bigquery_type, Int64);
        assert_eq!(schema.columns[1].sample_values, vec!["Zoë", "Åsa"]);
    }
}

#[test]
fn a_european_export_with_a_title_block_nulls_and_decimal_commas() {
    let text = "Umsatzbericht\nerstellt am 19.11.2024\n\nid;betrag;stadt;rabatt\n1;1.234,56;Köln;NULL\n2;-0,50;Bonn;5\n3;12;Ulm;NULL\n";
    let (opts, schema) = sniff(text.as_bytes());
    assert_eq!(opts.delimiter, Some(';'));
    assert_eq!(opts.skip_rows, Some(3));
    assert_eq!(opts.decimal_comma, Some(true));
    assert_eq!(opts.null_markers, Some(vec!["NULL".to_string()]));
    assert_eq!(
        types(&schema),
        vec![Int64, Float64, WarehouseType::String, Int64]
    );
    assert_eq!(schema.columns[1].name, "betrag");
    assert_eq!(schema.columns[1].sample_values[0], "1234.56");
    assert_eq!(schema.notes.len(), 3, "{:?}", schema.notes);
}

#[test]
fn comments_and_backslash_escapes_are_found() {
    let text = "# exported by tool 1.2\nid,note\n1,\"say \\\"hi\\\"\"\n2,\"plain\"\n# a note\n3,\"x \\\"y\\\"\"\n";
    let (opts, schema) = sniff(text.as_bytes());
    assert_eq!(opts.comment, Some('#'));
    assert_eq!(opts.escape, Some('\\'));
    assert_eq!(schema.columns.len(), 2, "{schema:?}");
    assert_eq!(
        schema.columns[1].sample_values[0], "say \"hi\"",
        "{schema:?}"
    );
}

#[test]
fn a_wrong_delimiter_never_passes_silently() {
    let text = b"id|name|amount\n1|a|1.5\n2|b|2.5\n";
    let opts = CsvOptions {
        delimiter: Some(','),
        ..Default::default()
    };
    let err = detect(&entry(text, text.len()), "p.csv", &opts).unwrap_err();
    assert_eq!(
        err.hint().map(|h| (h.field.as_deref(), h.value.as_deref())),
        Some((Some("delimiter"), Some("|")))
    );
    let err = err.to_string();
    assert!(
        err.contains("with delimiter ',' every row is one column"),
        "{err}"
    );
    assert!(err.contains("set the delimiter to '|'"), "{err}");
}

#[test]
fn files_of_only_quotes_or_empty_lines_are_errors_not_panics() {
    for text in [&b"\"\""[..], b"\"", b"\n\n", b"\"\"\n\"\"\n", b" \r\n"] {
        let err = detect(&entry(text, text.len()), "q.csv", &CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("q.csv"), "{err}");
    }
    let err = detect(&entry(b"\"", 1), "q.csv", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 1: a field quoted with \" opens here and never closes"),
        "{err}"
    );
}

#[test]
fn an_unclosed_quote_is_named_by_the_line_it_opened_on() {
    let text = b"id,note\n1,\"fine\"\n2,\"runs on\n3,x\n4,y\n";
    let err = detect(&entry(text, text.len()), "u.csv", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("u.csv line 3: a field quoted with"),
        "{err}"
    );
}

#[test]
fn too_many_columns_are_refused_with_the_limit() {
    let text = format!("{}\n", vec!["c"; MAX_COLUMNS + 1].join(","));
    let err = detect(
        &entry(text.as_bytes(), text.len()),
        "w.csv",
        &CsvOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!("the row has {} fields", MAX_COLUMNS + 1)),
        "{err}"
    );
}

#[test]
fn ragged_rows_name_their_line() {
    let text = b"a,b\n1,2\n3,4,5\n";
    let err = detect(&entry(text, text.len()), "r.csv", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("r.csv line 3: expected 2 fields, found 3"),
        "{err}"
    );
}

#[test]
fn a_truncated_sample_estimates_rows_and_drops_the_partial_line() {
    let text = b"id,v\n1,10\n2,20\n3,3";
    let (_, schema) = detect(&entry(text, 1900), "big.csv", &CsvOptions::default()).unwrap();
    assert!(schema.total_rows_estimated);
    assert_eq!(types(&schema), vec![Int64, Int64]);
    assert!(schema.total_rows > 100, "{}", schema.total_rows);
    let (_, exact) = sniff(b"id,v\n1,10\n2,20\n");
    assert!(!exact.total_rows_estimated);
    assert_eq!(exact.total_rows, 2);
}

#[test]
fn inference_fixture_covers_what_users_trip_on() {
    let (_, schema) = sniff(include_bytes!("../../../../../../testdata/csv/types.csv"));
    let got = crate::format::testing::typed(&schema);
    assert_eq!(
        got,
        vec![
            ("id", Int64, false),
            ("zip", WarehouseType::String, false),
            ("amount", Float64, true),
            ("paid", Bool, false),
            ("day", Date, false),
            ("at", Timestamp, false),
            ("big", Numeric, false),
            ("empty", WarehouseType::String, true),
            ("note", WarehouseType::String, true),
        ]
    );
}
