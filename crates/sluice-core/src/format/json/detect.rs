//! Detecting a JSON file's columns from its head: the union of its records' keys.

use serde_json::value::RawValue;

use super::parse_record;
use super::split::RecordSplitter;
use crate::error::Hint;
use crate::format::Sample;
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
    let truncated = !head.complete;
    let sample = head.complete_lines();
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let mut splitter = RecordSplitter::new();
    splitter.push(sample);
    let mut names: Vec<String> = Vec::new();
    let mut columns: Vec<ColumnInference> = Vec::new();
    let mut rows = 0u64;
    while let Some((record, line)) = splitter.next_record() {
        let fields = parse_record(&record, path, line)?;
        // Keys in the order they appear in the record, not the map's order.
        let mut keys: Vec<(&String, usize)> = fields
            .keys()
            .map(|k| (k, find_key(&record, k).unwrap_or(usize::MAX)))
            .collect();
        keys.sort_by_key(|(_, pos)| *pos);
        for (key, _) in keys {
            if !names.contains(key) {
                names.push(key.clone());
                let mut c = ColumnInference::default();
                for _ in 0..rows {
                    c.observe(None);
                }
                columns.push(c);
            }
        }
        for (name, c) in names.iter().zip(columns.iter_mut()) {
            match fields.get(name) {
                Some(raw) => observe(c, raw),
                None => c.observe(None),
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
        return Err(Error::parse(
            path,
            "no JSON records found in the head of the file",
        ));
    }
    let detected = columns
        .into_iter()
        .zip(names)
        .map(|(c, n)| c.finish(n))
        .collect();
    let total = head.estimate_rows(rows);
    Ok(DetectedSchema::new(
        detected,
        total,
        truncated,
        head.file_size(),
    ))
}

fn find_key(record: &[u8], key: &str) -> Option<usize> {
    let needle = serde_json::to_string(key).ok()?;
    record
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
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
        let got: Vec<(&str, WarehouseType, bool)> = schema
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.bigquery_type, c.nullable))
            .collect();
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
    fn a_broken_record_names_its_line() {
        let text = b"{\"a\": 1}\n{\"a\": 2,}\n";
        let err = detect(&sample(text), "e.jsonl").unwrap_err().to_string();
        assert!(
            err.starts_with("e.jsonl line 2: not a JSON object"),
            "{err}"
        );
    }
}
