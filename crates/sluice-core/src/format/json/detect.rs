//! Detecting a JSON file's columns from its head: the union of its records' keys.

use serde_json::value::RawValue;

use std::collections::HashMap;

use super::parse_record;
use super::split::RecordSplitter;
use crate::error::Hint;
use crate::format::{MAX_COLUMNS, Sample};
use crate::schema::DetectedSchema;
use crate::schema::infer::ColumnInference;
use crate::{Error, Result};

fn observe(c: &mut ColumnInference, raw: &RawValue) {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => c.observe(None),
        Some(b'{' | b'[') => c.observe_nested(),
        Some(b'"') => match serde_json::from_str::<String>(text) {
            Ok(s) if s.is_empty() => c.observe(None),
            Ok(s) => c.observe_json_string(&s),
            Err(_) => c.observe_nested(),
        },
        _ => c.observe(Some(text)),
    }
}

/// Detects the columns of a JSON file from its head: the union of the keys of its records in
/// the order first seen.
pub fn detect(head: &Sample, path: &str) -> Result<DetectedSchema> {
    detect_lenient(head, path, false)
}

/// [`detect`]; when `lenient`, records that are not JSON are left out of the inference (a
/// job that quarantines them reads the rest) instead of refusing the file.
///
/// # Errors
/// As [`detect`].
pub fn detect_lenient(head: &Sample, path: &str, lenient: bool) -> Result<DetectedSchema> {
    let truncated = !head.complete;
    let sample = head.complete_lines();
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let mut splitter = RecordSplitter::new(path);
    splitter.push(sample);
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut columns: Vec<ColumnInference> = Vec::new();
    // The record each column was last seen in, to give the others a NULL.
    let mut seen_in: Vec<u64> = Vec::new();
    let mut rows = 0u64;
    while let Some(next) = splitter.next_record() {
        let (record, line) = next?;
        let fields = match parse_record(&record, path, line) {
            Ok(fields) => fields,
            Err(_) if lenient => continue,
            Err(e) => return Err(e),
        };
        // Keys in the order the file writes them: new ones become columns in that order.
        for (key, raw) in &fields.ordered {
            let i = match index.get(key) {
                Some(&i) => i,
                None => {
                    if names.len() == MAX_COLUMNS {
                        return Err(Error::Parse {
                            path: path.into(),
                            line: Some(line),
                            column: Some(crate::error::excerpt(key)),
                            message: format!(
                                "the records have more than {MAX_COLUMNS} keys in all; sluice reads at most {MAX_COLUMNS} columns"
                            ),
                            hint: None,
                        });
                    }
                    let mut c = ColumnInference::default();
                    for _ in 0..rows {
                        c.observe(None);
                    }
                    index.insert(key.clone(), names.len());
                    names.push(key.clone());
                    columns.push(c);
                    seen_in.push(u64::MAX);
                    names.len() - 1
                }
            };
            observe(&mut columns[i], raw);
            seen_in[i] = rows;
        }
        for (c, seen) in columns.iter_mut().zip(&seen_in) {
            if *seen != rows {
                c.observe(None);
            }
        }
        rows += 1;
    }
    if rows == 0 {
        if let (false, Some(line)) = (truncated, splitter.finish()) {
            return Err(Error::Parse {
                path: path.into(),
                line: Some(line),
                column: None,
                message: "the record starting here never ends".into(),
                hint: Some(Hint::text("check for a missing closing brace or quote").into()),
            });
        }
        if !truncated {
            return Err(Error::NoRows {
                path: path.into(),
                what: "the file holds no JSON records".into(),
            });
        }
        return Err(Error::parse(
            path,
            "no JSON records found in the head of the file",
        ));
    }
    let mut detected: Vec<_> = columns
        .into_iter()
        .zip(names)
        .map(|(c, n)| c.finish(n))
        .collect();
    crate::schema::name_from_source(&mut detected);
    let total = head.estimate_rows(rows);
    Ok(DetectedSchema::new(
        detected,
        total,
        truncated,
        head.file_size(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::WarehouseType::{self, Bool, Float64, Int64, Json, Timestamp};
    use bytes::Bytes;

    fn sample(text: &[u8]) -> Sample {
        Sample::new(Bytes::copy_from_slice(text), text.len() as u64)
    }

    #[test]
    fn detects_types_nested_values_and_missing_keys() {
        let text = include_bytes!("../../../../../testdata/json/events.jsonl");
        let schema = detect(&sample(text), "e.jsonl").unwrap();
        let got = crate::format::testing::typed(&schema);
        assert_eq!(
            got,
            vec![
                ("id", Int64, false),
                ("user", WarehouseType::String, false),
                ("at", Timestamp, false),
                ("amount", Float64, true),
                ("tags", Json, true),
                ("ok", Bool, false),
                ("zip", WarehouseType::String, false),
                ("coupon", WarehouseType::String, true),
            ]
        );
        assert_eq!(schema.total_rows, 3);
    }

    #[test]
    fn keys_are_columns_in_the_order_first_written_and_a_repeated_key_is_an_error() {
        let text = b"{\"b\": 1, \"a\": 2}\n{\"c\": 3, \"a\": 4}\n";
        let schema = detect(&sample(text), "k.jsonl").unwrap();
        let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["b", "a", "c"]);
        assert!(schema.columns[0].nullable && !schema.columns[1].nullable);
        let err = detect(&sample(b"{\"a\": 1, \"a\": 2}\n"), "d.jsonl")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("d.jsonl line 1, column 'a': the record has this key twice"),
            "{err}"
        );
    }

    #[test]
    fn many_keys_are_read_in_one_pass_and_bounded() {
        // 5,000 keys in one record: a search of the record for each key is 25 million steps.
        let keys: Vec<String> = (0..5_000).map(|i| format!("\"k{i}\": {i}")).collect();
        let text = format!("{{{}}}\n", keys.join(", "));
        let schema = detect(&sample(text.as_bytes()), "w.jsonl").unwrap();
        assert_eq!(schema.columns.len(), 5_000);
        assert_eq!(schema.columns[4_999].name, "k4999");
        let keys: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("\"k{i}\": 1")).collect();
        let text = format!("{{{}}}\n", keys.join(", "));
        let err = detect(&sample(text.as_bytes()), "w.jsonl")
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 10000 keys"), "{err}");
    }

    #[test]
    fn a_broken_record_names_its_line() {
        let text = b"{\"a\": 1}\n{\"a\": 2,}\n";
        let err = detect(&sample(text), "e.jsonl").unwrap_err().to_string();
        assert!(
            err.starts_with("e.jsonl line 2: not a JSON object"),
            "{err}"
        );
    }
}
