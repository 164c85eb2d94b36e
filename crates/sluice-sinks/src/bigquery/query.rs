//! Reading tables back: queries, their rows as Arrow batches, row counts.

use std::time::Duration;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_core::names::TableName;
use sluice_core::schema::{
    Column, NUMERIC_PRECISION, NUMERIC_SCALE, UTC, WarehouseType, arrow_schema,
};

use super::{BigQuerySink, bigquery_type};
use crate::{Inspect, Result};

impl BigQuerySink {
    /// Rows of a query, each value as BigQuery's JSON gives it (strings or null).
    ///
    /// # Errors
    /// The query's error.
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<Value>>> {
        let body = json!({
            "query": sql,
            "useLegacySql": false,
            "location": self.config.location,
            "timeoutMs": 60_000,
            "formatOptions": {"useInt64Timestamp": true},
        });
        let path = format!("{}/queries", self.project_path());
        let mut response = self
            .client
            .post_json(&path, &body)
            .await
            .map_err(|e| self.api_error(&format!("query `{sql}`"), e))?;
        let job_id = response
            .pointer("/jobReference/jobId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut rows: Vec<Vec<Value>> = Vec::new();
        loop {
            if response.get("jobComplete") == Some(&Value::Bool(false)) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            } else {
                for row in response
                    .get("rows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let cells = row.get("f").and_then(Value::as_array);
                    rows.push(
                        cells
                            .into_iter()
                            .flatten()
                            .map(|c| c.get("v").cloned().unwrap_or(Value::Null))
                            .collect(),
                    );
                }
                if response.get("pageToken").and_then(Value::as_str).is_none() {
                    return Ok(rows);
                }
            }
            let Some(job_id) = &job_id else {
                return Ok(rows);
            };
            let mut next = format!(
                "{}/queries/{job_id}?location={}&formatOptions.useInt64Timestamp=true",
                self.project_path(),
                self.config.location
            );
            if let Some(token) = response.get("pageToken").and_then(Value::as_str) {
                next.push_str(&format!("&pageToken={}", urlencode(token)));
            }
            response = self
                .client
                .get(&next)
                .await
                .map_err(|e| self.api_error(&format!("query `{sql}`"), e))?;
        }
    }
}

#[async_trait]
impl Inspect for BigQuerySink {
    async fn table_exists(&self, table: &TableName) -> Result<bool> {
        Ok(self.table_columns(table).await?.is_some())
    }

    async fn count_rows(&self, table: &TableName) -> Result<u64> {
        let rows = self
            .query(&format!("SELECT COUNT(*) FROM {}", self.sql_table(table)))
            .await?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.error(format!("counting rows of {table}: no count in the answer")))
    }

    async fn preview(&self, table: &TableName, limit: usize) -> Result<Vec<RecordBatch>> {
        let Some(cols) = self.table_columns(table).await? else {
            return Err(self.error(format!("table {table} does not exist")));
        };
        // Arrays are previewed as their JSON text.
        let columns: Vec<Column> = cols
            .iter()
            .map(|(n, t, m)| {
                let ty = WarehouseType::ALL
                    .into_iter()
                    .find(|w| bigquery_type(*w) == t)
                    .filter(|_| m != "REPEATED")
                    .unwrap_or(WarehouseType::String);
                Column::new(n.clone(), ty)
            })
            .collect();
        let select: Vec<String> = columns
            .iter()
            .zip(&cols)
            .map(|(c, (_, _, mode))| match c.ty {
                _ if mode == "REPEATED" => format!("TO_JSON_STRING(`{0}`) AS `{0}`", c.name),
                // Exact text for the types whose JSON form would lose digits.
                WarehouseType::Numeric => format!("CAST(`{0}` AS STRING) AS `{0}`", c.name),
                WarehouseType::Json => {
                    format!(
                        "IF(`{0}` IS NULL, NULL, TO_JSON_STRING(`{0}`)) AS `{0}`",
                        c.name
                    )
                }
                _ => format!("`{}`", c.name),
            })
            .collect();
        let rows = self
            .query(&format!(
                "SELECT {} FROM {} LIMIT {limit}",
                select.join(", "),
                self.sql_table(table)
            ))
            .await?;
        let batch = to_batch(&columns, &rows)
            .map_err(|e| self.error(format!("reading rows of {table}: {e}")))?;
        Ok(vec![batch])
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Query rows (BigQuery's JSON: every value a string or null) → one batch.
fn to_batch(columns: &[Column], rows: &[Vec<Value>]) -> Result<RecordBatch, String> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let values = rows.iter().map(|r| r.get(i).and_then(Value::as_str));
        let bad = |v: &str| format!("column {}: unexpected {} value {v:?}", c.name, c.ty);
        let array: ArrayRef = match c.ty {
            WarehouseType::Int64 => {
                let mut b = Int64Builder::new();
                for v in values {
                    b.append_option(v.map(|v| v.parse().map_err(|_| bad(v))).transpose()?);
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Float64 => {
                let mut b = Float64Builder::new();
                for v in values {
                    b.append_option(v.map(|v| v.parse().map_err(|_| bad(v))).transpose()?);
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Numeric => {
                let mut b = Decimal128Builder::new();
                for v in values {
                    b.append_option(
                        v.map(|v| parse_decimal(v).ok_or_else(|| bad(v)))
                            .transpose()?,
                    );
                }
                std::sync::Arc::new(
                    b.finish()
                        .with_precision_and_scale(NUMERIC_PRECISION, NUMERIC_SCALE)
                        .map_err(|e| e.to_string())?,
                )
            }
            WarehouseType::Bool => {
                let mut b = BooleanBuilder::new();
                for v in values {
                    b.append_option(v.map(|v| v.eq_ignore_ascii_case("true")));
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Date => {
                let mut b = Date32Builder::new();
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
                for v in values {
                    b.append_option(
                        v.map(|v| {
                            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                                .map(|d| (d - epoch).num_days() as i32)
                                .map_err(|_| bad(v))
                        })
                        .transpose()?,
                    );
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Timestamp => {
                let mut b = TimestampMicrosecondBuilder::new().with_timezone(UTC);
                for v in values {
                    b.append_option(
                        v.map(|v| parse_timestamp(v).ok_or_else(|| bad(v)))
                            .transpose()?,
                    );
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::String | WarehouseType::Json => {
                let mut b = StringBuilder::new();
                for v in values {
                    b.append_option(v);
                }
                std::sync::Arc::new(b.finish())
            }
            WarehouseType::Bytes => {
                let mut b = BinaryBuilder::new();
                for v in values {
                    b.append_option(
                        v.map(|v| {
                            base64::engine::general_purpose::STANDARD
                                .decode(v)
                                .map_err(|_| bad(v))
                        })
                        .transpose()?,
                    );
                }
                std::sync::Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    RecordBatch::try_new(arrow_schema(columns), arrays).map_err(|e| e.to_string())
}

/// `-123.45` → the NUMERIC(38, 9) integer `-123450000000`.
fn parse_decimal(v: &str) -> Option<i128> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = NUMERIC_SCALE as usize;
    if frac.len() > scale || int.is_empty() && frac.is_empty() {
        return None;
    }
    let text = format!("{int}{frac:0<scale$}");
    let n: i128 = text.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// Microseconds since the epoch (what `useInt64Timestamp` gives), or float seconds
/// (`1.7320032E9`, BigQuery's default), or an RFC 3339 / `YYYY-MM-DD HH:MM:SS[.f] UTC` text.
fn parse_timestamp(v: &str) -> Option<i64> {
    if let Ok(micros) = v.parse::<i64>() {
        return Some(micros);
    }
    if let Ok(secs) = v.parse::<f64>() {
        return Some((secs * 1e6).round() as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp_micros());
    }
    let trimmed = v.trim_end_matches(" UTC").trim_end_matches('Z');
    chrono::NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_parse_back_exactly() {
        assert_eq!(
            parse_decimal("12345678901234567890.123456789"),
            Some(12_345_678_901_234_567_890_123_456_789)
        );
        assert_eq!(parse_decimal("-1.5"), Some(-1_500_000_000));
        assert_eq!(parse_decimal("7"), Some(7_000_000_000));
        assert_eq!(parse_decimal("1.0000000001"), None);
        assert_eq!(
            parse_timestamp("1732003200000001"),
            Some(1_732_003_200_000_001)
        );
        assert_eq!(parse_timestamp("1.7320032E9"), Some(1_732_003_200_000_000));
        assert_eq!(
            parse_timestamp("2024-11-19 08:00:00 UTC"),
            Some(1_732_003_200_000_000)
        );
    }
}
