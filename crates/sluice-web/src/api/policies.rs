//! A job's policies as requests give them: changed files, settling, schema changes, bad
//! rows and row rules.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use sluice_engine::model::JobUpdate;

use crate::ApiError;

fn bad_field(field: &str, message: String) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "invalid", field, message)
}

/// How a job treats changed files and files still arriving.
pub(super) struct PolicyFields {
    pub(super) changed_files: Option<String>,
    pub(super) settle_time_seconds: Option<u64>,
    pub(super) settle_time: Option<String>,
    pub(super) ready_marker: Option<String>,
    pub(super) max_expansion: Option<u32>,
    pub(super) archive_entries: Option<String>,
    pub(super) schema_policy: Option<String>,
    pub(super) max_rejected: Option<Value>,
    pub(super) dedup_key: Option<Value>,
    pub(super) dedup_keep: Option<String>,
    pub(super) rules: Option<Vec<RuleInput>>,
    pub(super) filters: Option<Vec<String>>,
    pub(super) transforms: Option<Vec<TransformInput>>,
}

/// A rule as people write it, or as the API returns it.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum RuleInput {
    Text(String),
    Rule(sluice_rules::Rule),
}

/// A transform as people write it, or as the API returns it.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum TransformInput {
    Text(String),
    Transform(sluice_rules::Transform),
}

impl PolicyFields {
    /// The dedup key and keep as given: `Some(None)` for an empty key (stop deduplicating).
    fn dedup(&self) -> Result<Option<Option<sluice_sinks::dedup::Dedup>>, ApiError> {
        let keep = self
            .dedup_keep
            .as_deref()
            .map(|k| k.parse().map_err(|e| bad_field("dedup_keep", e)))
            .transpose()?;
        let key: Option<Vec<String>> = match &self.dedup_key {
            None => None,
            Some(Value::String(s)) => Some(
                s.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            bad_field("dedup_key", format!("{v} is not a column name"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(Value::Null) => Some(Vec::new()),
            Some(other) => {
                return Err(bad_field(
                    "dedup_key",
                    format!("a column name or a list of them, not {other}"),
                ));
            }
        };
        Ok(match key {
            None if keep.is_some() => {
                return Err(bad_field(
                    "dedup_keep",
                    "give dedup_key with dedup_keep".into(),
                ));
            }
            None => None,
            Some(key) if key.is_empty() => Some(None),
            Some(key) => Some(Some(sluice_sinks::dedup::Dedup {
                key,
                keep: keep.unwrap_or_default(),
            })),
        })
    }

    pub(super) fn apply(mut self, update: &mut JobUpdate) -> Result<(), ApiError> {
        update.changed_files = self
            .changed_files
            .as_deref()
            .map(|c| c.parse().map_err(|e| bad_field("changed_files", e)))
            .transpose()?;
        update.settle_time_seconds = match (&self.settle_time, self.settle_time_seconds) {
            (Some(t), _) => Some(
                sluice_engine::plan::parse_duration(t)
                    .map_err(|e| bad_field("settle_time", e))?
                    .as_secs(),
            ),
            (None, s) => s,
        };
        update.ready_marker = self.ready_marker.clone();
        update.max_expansion = self.max_expansion;
        update.archive_entries = self.archive_entries.clone();
        update.schema_policy = self
            .schema_policy
            .as_deref()
            .map(|c| c.parse().map_err(|e| bad_field("schema_policy", e)))
            .transpose()?;
        update.max_rejected = self
            .max_rejected
            .as_ref()
            .map(|v| match v {
                Value::Number(n) => n.to_string().parse(),
                Value::String(t) => t.parse(),
                other => Err(format!(
                    "max_rejected is a number of rows or a share like \"2.5%\", not {other}"
                )),
            })
            .transpose()
            .map_err(|e| bad_field("max_rejected", e))?;
        update.dedup = self.dedup()?;
        update.rules = self
            .rules
            .take()
            .map(|rules| {
                rules
                    .into_iter()
                    .map(|r| match r {
                        RuleInput::Text(t) => t.parse().map_err(|e| bad_field("rules", e)),
                        RuleInput::Rule(r) => Ok(r),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        update.filters = self.filters.take();
        update.transforms = self
            .transforms
            .take()
            .map(|list| {
                list.into_iter()
                    .map(|t| match t {
                        TransformInput::Text(t) => {
                            t.parse().map_err(|e| bad_field("transforms", e))
                        }
                        TransformInput::Transform(t) => Ok(t),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(())
    }
}

/// A column mapping as a request gives it: `rename` an object of file column to table
/// column, `drop` a list of the file's columns, `set` a list of `column = SQL`.
pub(super) fn column_mapping(
    v: Option<&Value>,
) -> Result<sluice_engine::mapping::ColumnMapping, ApiError> {
    let bad = |m: String| bad_field("column_mapping", m);
    let mut mapping = sluice_engine::mapping::ColumnMapping::default();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(mapping);
    };
    let Some(o) = v.as_object() else {
        return Err(bad(format!("an object with rename, drop and set, not {v}")));
    };
    let texts = |key: &str| -> Result<Vec<String>, ApiError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(format!("{key}: {x} is not text")))
                })
                .collect(),
            Some(other) => Err(bad(format!("{key} is a list, not {other}"))),
        }
    };
    if let Some(r) = o.get("rename").filter(|r| !r.is_null()) {
        let r = r.as_object().ok_or_else(|| {
            bad(format!(
                "rename is an object of file column to table column, not {r}"
            ))
        })?;
        for (from, to) in r {
            let to = to
                .as_str()
                .ok_or_else(|| bad(format!("rename {from}: {to} is not a column name")))?;
            mapping.rename.push((from.clone(), to.to_string()));
        }
    }
    mapping.drop = texts("drop")?;
    mapping.set = texts("set")?
        .iter()
        .map(|t| t.parse().map_err(|e| bad(format!("set: {e}"))))
        .collect::<Result<_, _>>()?;
    Ok(mapping)
}
