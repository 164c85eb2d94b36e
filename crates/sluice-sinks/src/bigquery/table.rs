//! Datasets and tables: created from the job's columns, or checked against them.

use serde_json::{Value, json};
use sluice_core::names::TableName;
use sluice_core::schema::{Column, Mode};

use super::{BigQuerySink, bigquery_type, types};
use crate::{Error, Result};

impl BigQuerySink {
    async fn ensure_dataset(&self, dataset: &str) -> Result<()> {
        let path = format!("{}/datasets/{dataset}", self.project_path());
        match self.client.get(&path).await {
            Ok(_) => return Ok(()),
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Err(self.api_error(&format!("reading dataset {dataset}"), e)),
        }
        let body = json!({
            "datasetReference": {"projectId": self.config.project, "datasetId": dataset},
            "location": self.config.location,
        });
        match self
            .client
            .post_json(&format!("{}/datasets", self.project_path()), &body)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(409) => Ok(()), // created meanwhile
            Err(e) => Err(self.api_error(
                &format!(
                    "creating dataset {dataset} in {} (the service account needs bigquery.datasets.create, or create the dataset yourself)",
                    self.config.location
                ),
                e,
            )),
        }
    }

    /// The table's columns as `(name, type, mode)`, `None` if it does not exist.
    pub(super) async fn table_columns(
        &self,
        table: &TableName,
    ) -> Result<Option<Vec<(String, String, String)>>> {
        let t = match self.client.get(&self.table_path(table)).await {
            Ok(t) => t,
            Err(e) if e.status == Some(404) => return Ok(None),
            Err(e) => return Err(self.api_error(&format!("reading table {table}"), e)),
        };
        let fields = t
            .pointer("/schema/fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(Some(
            fields
                .iter()
                .map(|f| {
                    let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let mode = if s("mode").is_empty() {
                        "NULLABLE".into()
                    } else {
                        s("mode")
                    };
                    (s("name"), types::canonical(&s("type")).to_string(), mode)
                })
                .collect(),
        ))
    }

    /// Creates the table (and its dataset) from the columns, or checks an existing one.
    pub(super) async fn create_or_check_table(
        &self,
        table: &TableName,
        columns: &[Column],
    ) -> Result<()> {
        let expected = expected_columns(columns);
        if let Some(existing) = self.table_columns(table).await? {
            return same_columns(table, &existing, &expected);
        }
        let dataset = self.dataset_of(table).to_string();
        self.ensure_dataset(&dataset).await?;
        let fields: Vec<Value> = expected
            .iter()
            .map(|(n, t, m)| json!({"name": n, "type": t, "mode": m}))
            .collect();
        let body = json!({
            "tableReference": {
                "projectId": self.config.project,
                "datasetId": dataset,
                "tableId": table.name(),
            },
            "schema": {"fields": fields},
        });
        let path = format!("{}/datasets/{dataset}/tables", self.project_path());
        let mut attempt = 0;
        let created = loop {
            match self.client.post_json(&path, &body).await {
                Err(e) if attempt < CREATE_RETRIES && racing(&e) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                    // The racing commit may have been another worker creating this table.
                    if let Some(existing) = self.table_columns(table).await? {
                        return same_columns(table, &existing, &expected);
                    }
                }
                other => break other,
            }
        };
        match created {
            Ok(_) => Ok(()),
            // Created by another worker meanwhile: check it is ours.
            Err(e) if e.status == Some(409) => match self.table_columns(table).await? {
                Some(existing) => same_columns(table, &existing, &expected),
                None => Err(self.api_error(&format!("creating table {table}"), e)),
            },
            Err(e) => Err(self.api_error(
                &format!(
                    "creating table {table} (the service account needs bigquery.tables.create on dataset {dataset})"
                ),
                e,
            )),
        }
    }
}

/// How often a table's creation is tried again when it raced another change.
const CREATE_RETRIES: u32 = 5;

/// A creation refused because another change committed at the same moment: what any
/// destination call may try again (BigQuery's 429 and 5xx, "too many table update
/// operations"), and local-bigquery's catalog refusing a commit that raced another
/// (`Failed to commit`). Creating is idempotent (an existing table is checked), so trying
/// again is safe.
fn racing(e: &super::client::ApiError) -> bool {
    crate::transient_message(&e.to_string())
        || (e.status == Some(400) && e.message.contains("Failed to commit"))
}

fn describe_columns(cols: &[(String, String, String)]) -> String {
    cols.iter()
        .map(|(n, t, m)| match m.as_str() {
            "REQUIRED" => format!("{n} {t} REQUIRED"),
            "REPEATED" => format!("{n} ARRAY<{t}>"),
            _ => format!("{n} {t}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An existing table's columns (name, type, mode) must be the job's, in any order.
fn same_columns(
    table: &TableName,
    existing: &[(String, String, String)],
    expected: &[(String, String, String)],
) -> Result<()> {
    // By name: loads name their columns, so a table added to later is the job's when it
    // holds the same columns.
    let sorted = |cols: &[(String, String, String)]| {
        let mut v = cols.to_vec();
        v.sort_unstable();
        v
    };
    if sorted(existing) == sorted(expected) {
        return Ok(());
    }
    Err(Error::TableMismatch {
        table: table.to_string(),
        found: describe_columns(existing),
        expected: describe_columns(expected),
    })
}

fn expected_columns(columns: &[Column]) -> Vec<(String, String, String)> {
    columns
        .iter()
        .map(|c| {
            let mode = match c.mode {
                Mode::Required => "REQUIRED",
                Mode::Nullable => "NULLABLE",
                Mode::Repeated => "REPEATED",
            };
            (
                c.name.clone(),
                bigquery_type(c.ty).to_string(),
                mode.to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::client::ApiError;
    use super::racing;

    fn error(status: u16, reason: &str, message: &str) -> ApiError {
        ApiError {
            status: Some(status),
            reason: Some(reason.into()),
            message: message.into(),
        }
    }

    #[test]
    fn a_creation_that_raced_another_commit_is_tried_again_a_refused_one_is_not() {
        assert!(racing(&error(
            400,
            "invalidQuery",
            "Failed to commit: Failed to commit DuckLake transaction."
        )));
        assert!(racing(&error(503, "backendError", "try again")));
        assert!(racing(&error(
            403,
            "rateLimitExceeded",
            "too many table update operations"
        )));
        assert!(!racing(&error(
            403,
            "accessDenied",
            "no bigquery.tables.create"
        )));
        assert!(!racing(&error(
            400,
            "invalid",
            "Invalid field name \"a b\""
        )));
    }
}
