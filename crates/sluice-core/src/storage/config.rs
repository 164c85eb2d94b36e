//! Typed connection settings per provider, validated on save, with credentials marked so
//! they can be sealed at rest and redacted on display.
//!
//! A config can be written by hand (the API and the wizard send it as JSON, tagged by
//! `provider`), or derived from a URL and `KEY=VALUE` options ([`ConnectionConfig::from_url`]).
//! [`ConnectionConfig::build`] opens it with object_store's builders, with bounded timeouts and
//! retries (backoff on throttling, 5xx and timeouts; none on other 4xx).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};
use url::Url;

use super::Store;
use crate::secret::{SecretError, SecretKey};
use crate::{Error, Result};

/// What a redacted credential shows.
pub const REDACTED: &str = "••••";

/// How long to wait for a TCP connection, and for a whole request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Retries of one request: up to 4, backing off from 100 ms to 5 s, within 60 s in all.
pub fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
    }
}

fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        .with_allow_http(allow_http)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum ConnectionConfig {
    Local(LocalConfig),
    S3(S3Config),
    Gcs(GcsConfig),
    Azure(AzureConfig),
}

/// A folder on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalConfig {
    pub path: PathBuf,
}

/// Amazon S3 or an S3-compatible store (MinIO, Cloudflare R2, Ceph).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Config {
    pub bucket: String,
    /// A folder inside the bucket that is the connection's root.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// With `secret_access_key`; when both are absent the default AWS credential chain is used
    /// (environment, profile, web identity, instance metadata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// A custom endpoint for S3-compatible stores, e.g. `http://minio.local:9000`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket` rather than `bucket.endpoint` (MinIO, Ceph).
    pub path_style: bool,
    /// Allow plain `http://` endpoints.
    pub allow_http: bool,
}

/// Google Cloud Storage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GcsConfig {
    pub bucket: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// A service-account key, pasted as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_json: Option<String>,
    /// A service-account key file on this machine. Without a key, application default
    /// credentials are used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_path: Option<String>,
    /// Another endpoint (an emulator, a private endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Send requests unsigned (public buckets, emulators).
    pub anonymous: bool,
}

/// Azure Blob Storage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AzureConfig {
    /// Storage account; may come from `connection_string` instead.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    pub container: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// A SAS token (`sv=…&sig=…`, with or without the leading `?`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sas_token: Option<String>,
    /// `AccountName=…;AccountKey=…;BlobEndpoint=…` as the portal shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// Another blob endpoint (Azurite, sovereign clouds), e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// A field that failed validation, for per-field errors in forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn set(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// The option keys a URL-based connection accepts, per scheme.
const S3_KEYS: &[&str] = &[
    "region",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "endpoint",
    "path_style",
    "allow_http",
];
const GCS_KEYS: &[&str] = &[
    "service_account_json",
    "service_account_path",
    "endpoint",
    "anonymous",
];
const AZURE_KEYS: &[&str] = &[
    "account",
    "access_key",
    "sas_token",
    "connection_string",
    "endpoint",
];

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(Error::InvalidOption {
            option: key.into(),
            reason: format!("'{v}' is not true or false"),
        }),
    }
}

impl ConnectionConfig {
    /// Builds a config from a URL (`file:///abs`, `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`) and provider options.
    ///
    /// # Errors
    /// An unknown scheme, a relative path, or an option the provider does not take.
    pub fn from_url(url: &str, options: &BTreeMap<String, String>) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| {
            invalid(format!(
                "{e}; expected file:///absolute/path, s3://bucket, gs://bucket or az://container"
            ))
        })?;
        let host = parsed.host_str().unwrap_or_default().to_string();
        let prefix = parsed.path().trim_matches('/').to_string();
        let allowed: &[&str] = match parsed.scheme() {
            "file" => &[],
            "s3" | "s3a" => S3_KEYS,
            "gs" => GCS_KEYS,
            "az" | "azure" => AZURE_KEYS,
            other => {
                return Err(invalid(format!(
                    "unsupported scheme '{other}'; use file://, s3://, gs:// or az://"
                )));
            }
        };
        if let Some(k) = options.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::InvalidOption {
                option: k.clone(),
                reason: if allowed.is_empty() {
                    "local folders take no options".into()
                } else {
                    format!(
                        "{} connections take {}",
                        parsed.scheme(),
                        allowed.join(", ")
                    )
                },
            });
        }
        let get = |k: &str| options.get(k).cloned();
        let flag = |k: &str| {
            get(k)
                .map(|v| parse_bool(k, &v))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let config = match parsed.scheme() {
            "file" => {
                let path = parsed
                    .to_file_path()
                    .map_err(|()| invalid("expected file:///absolute/path".into()))?;
                Self::Local(LocalConfig { path })
            }
            "s3" | "s3a" => Self::S3(S3Config {
                bucket: host,
                prefix,
                region: get("region"),
                access_key_id: get("access_key_id"),
                secret_access_key: get("secret_access_key"),
                session_token: get("session_token"),
                endpoint: get("endpoint"),
                path_style: flag("path_style")?,
                allow_http: flag("allow_http")?,
            }),
            "gs" => Self::Gcs(GcsConfig {
                bucket: host,
                prefix,
                service_account_json: get("service_account_json"),
                service_account_path: get("service_account_path"),
                endpoint: get("endpoint"),
                anonymous: flag("anonymous")?,
            }),
            _ => Self::Azure(AzureConfig {
                account: get("account").unwrap_or_default(),
                container: host,
                prefix,
                access_key: get("access_key"),
                sas_token: get("sas_token"),
                connection_string: get("connection_string"),
                endpoint: get("endpoint"),
            }),
        };
        Ok(config)
    }

    pub fn provider(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::S3(_) => "s3",
            Self::Gcs(_) => "gcs",
            Self::Azure(_) => "azure",
        }
    }

    /// How users write this location: `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        let with = |scheme: &str, root: &str, prefix: &str| {
            if prefix.is_empty() {
                format!("{scheme}://{root}")
            } else {
                format!("{scheme}://{root}/{prefix}")
            }
        };
        match self {
            Self::Local(c) => format!("file://{}", c.path.display()),
            Self::S3(c) => with("s3", &c.bucket, &c.prefix),
            Self::Gcs(c) => with("gs", &c.bucket, &c.prefix),
            Self::Azure(c) => with("az", &c.container, &c.prefix),
        }
    }

    /// Every problem with the settings, by field. Empty when valid.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let bucket_name = |errors: &mut Vec<FieldError>, name: &str, key: &str| {
            let ok = (3..=63).contains(&name.len())
                && name.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_')
                });
            if !ok {
                errors.push(field(key, format!("'{name}' is not a valid {key} name: 3–63 lowercase letters, digits, '-', '.'")));
            }
        };
        match self {
            Self::Local(c) => {
                if !c.path.is_absolute() {
                    errors.push(field("path", "use an absolute path"));
                } else if !c.path.is_dir() {
                    errors.push(field(
                        "path",
                        format!(
                            "the folder {} does not exist; create it first",
                            c.path.display()
                        ),
                    ));
                }
            }
            Self::S3(c) => {
                bucket_name(&mut errors, &c.bucket, "bucket");
                if set(&c.access_key_id) != set(&c.secret_access_key) {
                    errors.push(field(
                        if set(&c.access_key_id) { "secret_access_key" } else { "access_key_id" },
                        "give both the access key id and the secret access key, or neither for the default credential chain",
                    ));
                }
                if set(&c.session_token) && !set(&c.access_key_id) {
                    errors.push(field(
                        "session_token",
                        "a session token goes with an access key id and secret",
                    ));
                }
                if let Some(e) = &c.endpoint {
                    match Url::parse(e) {
                        Ok(u) if u.scheme() == "http" && !c.allow_http => {
                            errors.push(field("endpoint", "an http:// endpoint needs allow_http"));
                        }
                        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                        _ => errors.push(field("endpoint", format!("'{e}' is not an http(s) URL"))),
                    }
                }
            }
            Self::Gcs(c) => {
                bucket_name(&mut errors, &c.bucket, "bucket");
                if set(&c.service_account_json) && set(&c.service_account_path) {
                    errors.push(field(
                        "service_account_path",
                        "give the key as JSON or as a file path, not both",
                    ));
                }
                if let Some(j) = c
                    .service_account_json
                    .as_deref()
                    .filter(|j| !j.trim().is_empty())
                {
                    match serde_json::from_str::<serde_json::Value>(j) {
                        Ok(v) if v.get("client_email").is_some() || v.get("gcs_base_url").is_some() => {}
                        _ => errors.push(field("service_account_json", "not a service-account key: expected JSON with client_email and private_key")),
                    }
                }
                if let Some(p) = c.service_account_path.as_deref().filter(|p| !p.is_empty())
                    && !std::path::Path::new(p).is_file()
                {
                    errors.push(field("service_account_path", format!("no file at {p}")));
                }
            }
            Self::Azure(c) => {
                bucket_name(&mut errors, &c.container, "container");
                let kinds = [
                    set(&c.access_key),
                    set(&c.sas_token),
                    set(&c.connection_string),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if kinds > 1 {
                    errors.push(field(
                        "access_key",
                        "give one of access key, SAS token or connection string",
                    ));
                }
                if c.account.is_empty() && !set(&c.connection_string) {
                    errors.push(field(
                        "account",
                        "name the storage account (or give a connection string)",
                    ));
                }
                if let Some(cs) = c.connection_string.as_deref().filter(|s| !s.is_empty())
                    && !parse_connection_string(cs).contains_key("AccountName")
                {
                    errors.push(field(
                        "connection_string",
                        "expected AccountName=…;AccountKey=…",
                    ));
                }
            }
        }
        errors
    }

    /// The names of the credential fields that are set.
    pub fn secret_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |name: &'static str, v: &Option<String>| {
            if v.is_some() {
                out.push(name);
            }
        };
        match self {
            Self::Local(_) => {}
            Self::S3(c) => {
                add("secret_access_key", &c.secret_access_key);
                add("session_token", &c.session_token);
            }
            Self::Gcs(c) => add("service_account_json", &c.service_account_json),
            Self::Azure(c) => {
                add("access_key", &c.access_key);
                add("sas_token", &c.sas_token);
                add("connection_string", &c.connection_string);
            }
        }
        out
    }

    fn map_secrets<E>(
        &self,
        mut f: impl FnMut(&'static str, &str) -> Result<String, E>,
    ) -> Result<Self, E> {
        let mut c = self.clone();
        let mut apply = |name: &'static str, v: &mut Option<String>| -> Result<(), E> {
            if let Some(s) = v.as_deref() {
                *v = Some(f(name, s)?);
            }
            Ok(())
        };
        match &mut c {
            Self::Local(_) => {}
            Self::S3(s) => {
                apply("secret_access_key", &mut s.secret_access_key)?;
                apply("session_token", &mut s.session_token)?;
            }
            Self::Gcs(g) => apply("service_account_json", &mut g.service_account_json)?,
            Self::Azure(a) => {
                apply("access_key", &mut a.access_key)?;
                apply("sas_token", &mut a.sas_token)?;
                apply("connection_string", &mut a.connection_string)?;
            }
        }
        Ok(c)
    }

    /// A copy safe to show: credentials replaced by [`REDACTED`].
    pub fn redacted(&self) -> Self {
        self.map_secrets::<std::convert::Infallible>(|_, _| Ok(REDACTED.into()))
            .expect("infallible")
    }

    /// A copy with every credential sealed under `key`, bound to the connection's name.
    pub fn sealed(&self, key: &SecretKey, connection: &str) -> Self {
        self.map_secrets::<std::convert::Infallible>(|f, v| {
            Ok(key.seal(v, &format!("{connection}/{f}")))
        })
        .expect("infallible")
    }

    /// A copy with every credential opened; the error names the field that did not open.
    pub fn opened(&self, key: &SecretKey, connection: &str) -> Result<Self, (String, SecretError)> {
        self.map_secrets(|f, v| {
            key.open(v, &format!("{connection}/{f}"))
                .map_err(|e| (f.to_string(), e))
        })
    }

    /// Fills credentials left as [`REDACTED`] (or absent) from `previous`: an edit form shows
    /// `••••` and sends it back unchanged when the user keeps the secret.
    pub fn keep_secrets_from(&self, previous: &Self) -> Self {
        let mut old = BTreeMap::new();
        let _ = previous.map_secrets::<std::convert::Infallible>(|f, v| {
            old.insert(f, v.to_string());
            Ok(v.to_string())
        });
        self.map_secrets::<std::convert::Infallible>(|f, v| {
            Ok(if v == REDACTED {
                old.get(f).cloned().unwrap_or_default()
            } else {
                v.to_string()
            })
        })
        .expect("infallible")
    }

    /// Opens the store.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] naming the first invalid field, or what the provider's builder rejects.
    pub fn build(&self) -> Result<Store> {
        let url = self.url();
        let invalid = |reason: String| Error::InvalidUrl {
            url: url.clone(),
            reason,
        };
        if let Some(e) = self.validate().into_iter().next() {
            return Err(invalid(format!("{}: {}", e.field, e.message)));
        }
        let parsed = Url::parse(&url).map_err(|e| invalid(e.to_string()))?;
        let (store, prefix): (Arc<dyn ObjectStore>, &str) = match self {
            Self::Local(c) => {
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&c.path)
                    .map_err(|e| invalid(e.to_string()))?;
                (Arc::new(fs), "")
            }
            Self::S3(c) => {
                let mut b = if set(&c.access_key_id) {
                    AmazonS3Builder::new()
                } else {
                    AmazonS3Builder::from_env()
                };
                b = b
                    .with_bucket_name(&c.bucket)
                    .with_client_options(client_options(c.allow_http))
                    .with_retry(retry_config())
                    .with_virtual_hosted_style_request(!c.path_style)
                    .with_allow_http(c.allow_http);
                if let Some(r) = &c.region {
                    b = b.with_region(r);
                }
                if let (Some(id), Some(secret)) = (&c.access_key_id, &c.secret_access_key) {
                    b = b.with_access_key_id(id).with_secret_access_key(secret);
                }
                if let Some(t) = &c.session_token {
                    b = b.with_token(t);
                }
                if let Some(e) = &c.endpoint {
                    b = b.with_endpoint(e);
                }
                (
                    Arc::new(b.build().map_err(|e| invalid(e.to_string()))?),
                    c.prefix.as_str(),
                )
            }
            Self::Gcs(c) => {
                let no_key = !set(&c.service_account_json) && !set(&c.service_account_path);
                let mut b = if no_key && !c.anonymous {
                    GoogleCloudStorageBuilder::from_env()
                } else {
                    GoogleCloudStorageBuilder::new()
                };
                b = b
                    .with_bucket_name(&c.bucket)
                    .with_client_options(client_options(true))
                    .with_retry(retry_config());
                if let Some(j) = c.service_account_json.as_deref().filter(|s| !s.is_empty()) {
                    b = b.with_service_account_key(j);
                }
                if let Some(p) = c.service_account_path.as_deref().filter(|s| !s.is_empty()) {
                    b = b.with_service_account_path(p);
                }
                if let Some(e) = &c.endpoint {
                    b = b.with_base_url(e);
                }
                if c.anonymous {
                    b = b.with_skip_signature(true);
                }
                (
                    Arc::new(b.build().map_err(|e| invalid(e.to_string()))?),
                    c.prefix.as_str(),
                )
            }
            Self::Azure(c) => {
                let mut b = MicrosoftAzureBuilder::new()
                    .with_container_name(&c.container)
                    .with_client_options(client_options(true))
                    .with_retry(retry_config());
                let mut account = c.account.clone();
                let mut key = c.access_key.clone();
                let mut endpoint = c.endpoint.clone();
                if let Some(cs) = c.connection_string.as_deref().filter(|s| !s.is_empty()) {
                    let parts = parse_connection_string(cs);
                    account = parts.get("AccountName").cloned().unwrap_or(account);
                    key = parts.get("AccountKey").cloned().or(key);
                    endpoint = parts.get("BlobEndpoint").cloned().or(endpoint);
                    if let Some(sas) = parts.get("SharedAccessSignature") {
                        b = b.with_config(AzureConfigKey::SasKey, sas.trim_start_matches('?'));
                    }
                }
                b = b.with_account(&account);
                if let Some(k) = key.filter(|k| !k.is_empty()) {
                    b = b.with_access_key(k);
                }
                if let Some(sas) = c.sas_token.as_deref().filter(|s| !s.is_empty()) {
                    b = b.with_config(AzureConfigKey::SasKey, sas.trim_start_matches('?'));
                }
                if let Some(e) = endpoint {
                    b = b
                        .with_endpoint(e.trim_end_matches('/').to_string())
                        .with_allow_http(true);
                }
                (
                    Arc::new(b.build().map_err(|e| invalid(e.to_string()))?),
                    c.prefix.as_str(),
                )
            }
        };
        let root = Path::from_iter(prefix.split('/').filter(|s| !s.is_empty()));
        Ok(Store::from_store(store, root, parsed))
    }
}

/// `Key=Value;Key=Value` as Azure writes connection strings.
fn parse_connection_string(s: &str) -> BTreeMap<String, String> {
    s.split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::KeySource;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn urls_and_options_become_typed_configs() {
        let c = ConnectionConfig::from_url(
            "s3://drops/landing/daily",
            &opts(&[
                ("region", "eu-west-1"),
                ("endpoint", "http://127.0.0.1:9000"),
                ("allow_http", "true"),
                ("path_style", "yes"),
            ]),
        )
        .unwrap();
        let ConnectionConfig::S3(s3) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("drops", "landing/daily")
        );
        assert!(s3.path_style && s3.allow_http);
        assert_eq!(c.url(), "s3://drops/landing/daily");
        assert!(c.validate().is_empty(), "{:?}", c.validate());

        let err = ConnectionConfig::from_url("gs://b", &opts(&[("region", "x")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gs connections take service_account_json"),
            "{err}"
        );
        let err = ConnectionConfig::from_url("ftp://b", &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported scheme 'ftp'"), "{err}");
    }

    #[test]
    fn validation_names_each_bad_field() {
        let c = ConnectionConfig::S3(S3Config {
            bucket: "Bad_Bucket!".into(),
            access_key_id: Some("AKIA".into()),
            endpoint: Some("http://x".into()),
            ..Default::default()
        });
        let fields: Vec<String> = c.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["bucket", "secret_access_key", "endpoint"]);

        let az = ConnectionConfig::Azure(AzureConfig {
            container: "c1x".into(),
            access_key: Some("k".into()),
            sas_token: Some("s".into()),
            ..Default::default()
        });
        let fields: Vec<String> = az.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["access_key", "account"]);

        let gcs = ConnectionConfig::Gcs(GcsConfig {
            bucket: "ok-bucket".into(),
            service_account_json: Some("{not json".into()),
            ..Default::default()
        });
        assert_eq!(gcs.validate()[0].field, "service_account_json");
    }

    #[test]
    fn secrets_are_sealed_redacted_and_opened() {
        let c = ConnectionConfig::S3(S3Config {
            bucket: "drops".into(),
            access_key_id: Some("AKIAEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI".into()),
            ..Default::default()
        });
        let key = SecretKey::generate(KeySource::Env);
        let sealed = c.sealed(&key, "prod");
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(
            !text.contains("wJalrXUtnFEMI") && text.contains("AKIAEXAMPLE"),
            "{text}"
        );
        assert_eq!(sealed.opened(&key, "prod").unwrap(), c);
        let (field, _) = sealed.opened(&key, "other").unwrap_err();
        assert_eq!(field, "secret_access_key");
        let shown = serde_json::to_string(&c.redacted()).unwrap();
        assert!(
            shown.contains(REDACTED) && !shown.contains("wJalr"),
            "{shown}"
        );
        // An edit that sends the redacted value back keeps the stored secret.
        assert_eq!(c.redacted().keep_secrets_from(&c), c);
    }

    #[test]
    fn configs_serialize_tagged_by_provider() {
        let c: ConnectionConfig = serde_json::from_value(serde_json::json!({
            "provider": "azure", "account": "acct", "container": "drops", "sas_token": "?sv=1&sig=x"
        }))
        .unwrap();
        assert_eq!(c.provider(), "azure");
        assert_eq!(c.secret_fields(), vec!["sas_token"]);
        assert!(c.build().is_ok());
    }
}
