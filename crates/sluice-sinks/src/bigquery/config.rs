//! A BigQuery destination's settings: project, dataset, location, credentials, and how to
//! write them as a URL (`bigquery://PROJECT/DATASET?…`).

use serde::{Deserialize, Serialize};
use sluice_core::fields::{Field, FieldKind};
use sluice_core::secret::Secrets;

use std::sync::Arc;

use super::BigQuerySink;
use super::auth::{self, Auth};
use crate::config::{BuildContext, Config, SinkInfo};
use crate::{BuiltSink, Error, Result};

/// BigQuery's API, unless the operator names another with [`ENDPOINT_ENV`].
pub const DEFAULT_ENDPOINT: &str = "https://bigquery.googleapis.com";
/// Where the operator points sluice at another BigQuery API (an emulator, a private
/// endpoint). It is not a destination's setting: whoever may create a job must not be able
/// to send the service's credentials elsewhere.
pub const ENDPOINT_ENV: &str = "SLUICE_BIGQUERY_ENDPOINT";
/// The size of each upload request but the last; a multiple of 256 KiB, as the resumable
/// protocol requires.
pub const CHUNK_SIZE: usize = 8 * 1024 * 1024;

/// Where and how to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BigQueryConfig {
    /// The project that owns the dataset and runs the load jobs.
    pub project: String,
    /// The dataset of unqualified table names (`schema.table` names their own dataset).
    pub dataset: String,
    /// Where datasets are created and jobs run (`US`, `EU`, `europe-west1` …).
    #[serde(default = "default_location")]
    pub location: String,
    /// The API's base URL: [`DEFAULT_ENDPOINT`], or the operator's [`ENDPOINT_ENV`] (given
    /// to [`BuildContext`]); never read from a request or the catalog.
    #[serde(skip, default = "default_endpoint")]
    pub endpoint: String,
    /// An endpoint a request or an older catalog names: refused unless it is the
    /// operator's.
    #[serde(default, rename = "endpoint", skip_serializing)]
    pub requested_endpoint: Option<String>,
    pub auth: Auth,
    /// The size of each upload request but the last (rounded down to 256 KiB).
    #[serde(default = "default_chunk")]
    pub chunk_size: usize,
    /// The start of every load job id. Job ids are unique per project: two installations
    /// of sluice that load into one project need different prefixes.
    #[serde(default = "default_prefix")]
    pub job_id_prefix: String,
    /// Push-down: a UTF-8 CSV file in Google Cloud Storage is loaded by BigQuery straight
    /// from its `gs://` URI (the service account needs read access to the bucket); sluice
    /// reads only the sample that checks its schema. Other files stream through sluice.
    #[serde(default)]
    pub push_down: bool,
}

fn default_location() -> String {
    "US".into()
}
fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.into()
}
fn default_chunk() -> usize {
    CHUNK_SIZE
}
fn default_prefix() -> String {
    "sluice_".into()
}

impl BigQueryConfig {
    pub fn new(project: impl Into<String>, dataset: impl Into<String>, auth: Auth) -> Self {
        Self {
            project: project.into(),
            dataset: dataset.into(),
            location: default_location(),
            endpoint: default_endpoint(),
            requested_endpoint: None,
            auth,
            chunk_size: CHUNK_SIZE,
            job_id_prefix: default_prefix(),
            push_down: false,
        }
    }

    /// Reads `bigquery://PROJECT/DATASET?location=EU&credentials=…&push_down=true`.
    ///
    /// `credentials`: `adc` (application default credentials, the default), `none` (no
    /// token: emulators), or the path of a service-account JSON key, read now (the key, not
    /// the path, is kept). Other parameters: `location` (default `US`), `job_id_prefix`,
    /// `push_down` (`true`/`false`). The API's endpoint is the operator's [`ENDPOINT_ENV`].
    ///
    /// # Errors
    /// A message naming what is wrong and how to write it.
    pub fn from_url(url: &str) -> std::result::Result<Self, String> {
        const FORM: &str = "write it as bigquery://PROJECT/DATASET?location=US&credentials=adc|none|/path/key.json";
        let parsed =
            url::Url::parse(url).map_err(|e| format!("invalid BigQuery URL: {e}; {FORM}"))?;
        if parsed.scheme() != "bigquery" {
            return Err(format!("a BigQuery URL starts with bigquery://; {FORM}"));
        }
        let project = parsed.host_str().unwrap_or_default().to_string();
        let dataset = parsed.path().trim_matches('/').to_string();
        if project.is_empty() || dataset.is_empty() || dataset.contains('/') {
            return Err(format!("the URL names no project and dataset; {FORM}"));
        }
        if !dataset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "dataset '{dataset}': a dataset name holds only letters, digits and _"
            ));
        }
        let mut config = Self::new(project, dataset, Auth::ApplicationDefault);
        for (k, v) in parsed.query_pairs() {
            match k.as_ref() {
                "location" => config.location = v.into_owned(),
                "endpoint" => {
                    return Err(format!(
                        "endpoint={v}: the BigQuery endpoint is not part of a destination; the operator sets {ENDPOINT_ENV} where sluice runs"
                    ));
                }
                "job_id_prefix" => config.job_id_prefix = v.into_owned(),
                "push_down" => {
                    config.push_down = match v.as_ref() {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        other => return Err(format!("push_down={other}: write true or false")),
                    }
                }
                "credentials" => {
                    config.auth = match v.as_ref() {
                        "adc" | "application_default" => Auth::ApplicationDefault,
                        "none" => Auth::None,
                        path => {
                            let key_json = std::fs::read_to_string(path).map_err(|e| {
                                format!("cannot read the service-account key {path}: {e}")
                            })?;
                            auth::parse_key(&key_json, path)?;
                            Auth::ServiceAccountKey { key_json }
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown parameter '{other}'; the parameters are location, credentials, job_id_prefix, push_down"
                    ));
                }
            }
        }
        Ok(config)
    }

    /// One line for listings: `bigquery://proj/raw (US, service-account key, push-down)`.
    pub fn describe(&self) -> String {
        let auth = match &self.auth {
            Auth::ServiceAccountKey { .. } => "service-account key".to_string(),
            Auth::ServiceAccountFile { path } => format!("key file {}", path.display()),
            Auth::ApplicationDefault => "application default credentials".into(),
            Auth::None => "no credentials".into(),
        };
        let mut text = format!(
            "bigquery://{}/{} ({}, {auth}",
            self.project, self.dataset, self.location
        );
        if self.endpoint != DEFAULT_ENDPOINT {
            text.push_str(&format!(", endpoint {}", self.endpoint));
        }
        if self.push_down {
            text.push_str(", push-down");
        }
        text.push(')');
        text
    }
}

/// The settings a form shows; `auth.type` and `auth.key_json` fill the tagged `auth`.
const FIELDS: &[Field] = &[
    Field::text("project", "Project")
        .placeholder("my-project")
        .pattern("^[A-Za-z0-9_.:-]+$")
        .required(),
    Field::text("dataset", "Dataset")
        .placeholder("raw")
        .pattern("^[A-Za-z0-9_]+$")
        .hint("tables named schema.table go to that dataset")
        .required(),
    Field::text("location", "Location").placeholder("US").hint("US, EU, europe-west1 …"),
    Field::text("auth.type", "Credentials").kind(FieldKind::Choice {
        choices: &[
            ("application_default", "Application default credentials"),
            ("service_account_key", "Service-account key (JSON)"),
            ("none", "None (emulators)"),
        ],
    }),
    Field::text("auth.key_json", "Service-account key (JSON)")
        .secret(FieldKind::Textarea)
        .hint("needs roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project")
        .when("auth.type", "service_account_key"),
    Field::text("push_down", "Push-down: BigQuery reads files in Google Cloud Storage itself (CSV, JSONL, Parquet, Avro, ORC)")
        .checkbox(),
];

impl Secrets for BigQueryConfig {
    fn map_secrets<E>(
        &self,
        mut f: impl FnMut(&'static str, &str) -> Result<String, E>,
    ) -> Result<Self, E> {
        let mut copy = self.clone();
        if let Auth::ServiceAccountKey { key_json } = &mut copy.auth {
            *key_json = f("auth.key_json", key_json)?;
        }
        Ok(copy)
    }
}

impl BigQueryConfig {
    /// A copy safe to show: an inline key replaced by `••••`.
    pub fn redacted(&self) -> Self {
        Secrets::redacted(self)
    }
}

impl Config for BigQueryConfig {
    const INFO: SinkInfo = SinkInfo {
        name: "bigquery",
        label: "BigQuery",
        schemes: &["bigquery"],
        url_form: "bigquery://PROJECT/DATASET?credentials=/path/key.json",
        fields: FIELDS,
    };

    fn from_url(url: &str) -> Result<Self> {
        BigQueryConfig::from_url(url).map_err(|message| Error::Invalid {
            field: "destination".into(),
            message,
        })
    }

    fn describe(&self) -> String {
        BigQueryConfig::describe(self)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn BuiltSink>> {
        let mut config = self.clone();
        if let Some(endpoint) = ctx.bigquery_endpoint {
            config.endpoint = endpoint.trim_end_matches('/').to_string();
        }
        if let Some(requested) = &self.requested_endpoint
            && requested.trim_end_matches('/') != config.endpoint
        {
            return Err(Error::Invalid {
                field: "destination.endpoint".into(),
                message: format!(
                    "the destination names the BigQuery endpoint {requested}, which is not a destination's setting: the operator sets {ENDPOINT_ENV} where sluice runs (now {})",
                    config.endpoint
                ),
            });
        }
        Ok(Arc::new(BigQuerySink::new(config)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_url_reads_into_a_config() {
        let c = BigQueryConfig::from_url(
            "bigquery://my-proj/raw?location=EU&credentials=none&push_down=true&job_id_prefix=etl_",
        )
        .unwrap();
        assert_eq!(
            (c.project.as_str(), c.dataset.as_str(), c.location.as_str()),
            ("my-proj", "raw", "EU")
        );
        assert_eq!(
            (c.auth.clone(), c.endpoint.as_str()),
            (Auth::None, DEFAULT_ENDPOINT)
        );
        assert!(c.push_down);
        assert_eq!(c.job_id_prefix, "etl_");
        assert_eq!(
            c.describe(),
            "bigquery://my-proj/raw (EU, no credentials, push-down)"
        );
        let d = BigQueryConfig::from_url("bigquery://p/d").unwrap();
        assert_eq!(
            (d.auth, d.location.as_str(), d.push_down),
            (Auth::ApplicationDefault, "US", false)
        );

        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.json");
        let text = serde_json::json!({
            "client_email": "a@p.iam.gserviceaccount.com",
            "private_key": include_str!("../../testdata/bigquery/test_key.pem"),
        })
        .to_string();
        std::fs::write(&key, &text).unwrap();
        let k = BigQueryConfig::from_url(&format!("bigquery://p/d?credentials={}", key.display()))
            .unwrap();
        assert_eq!(k.auth, Auth::ServiceAccountKey { key_json: text });
        assert_eq!(
            k.redacted().auth,
            Auth::ServiceAccountKey {
                key_json: "••••".into()
            }
        );

        for (url, says) in [
            ("bigquery://p", "names no project and dataset"),
            ("bigquery://p/a/b", "names no project and dataset"),
            ("bigquery://p/my-data", "holds only letters, digits and _"),
            ("bq://p/d", "starts with bigquery://"),
            ("bigquery://p/d?push_down=maybe", "push_down=maybe"),
            ("bigquery://p/d?zone=x", "unknown parameter 'zone'"),
            (
                "bigquery://p/d?endpoint=http://evil.example",
                "SLUICE_BIGQUERY_ENDPOINT",
            ),
        ] {
            let err = BigQueryConfig::from_url(url).unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
        }
    }
}
