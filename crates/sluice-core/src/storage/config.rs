//! Typed connection settings per provider, validated on save, with credentials marked so
//! they can be sealed at rest and redacted on display.
//!
//! A config can be written by hand (the API and the wizard send it as JSON, tagged by
//! `provider`), or derived from a URL and `KEY=VALUE` options ([`ConnectionConfig::from_url`]).
//! [`ConnectionConfig::build`] opens it with object_store's builders, with bounded timeouts and
//! retries (backoff on throttling, 5xx and timeouts; none on other 4xx). Each provider lives
//! in a file of its own (`local.rs`, `s3.rs`, `gcs.rs`, `azure.rs`); [`PROVIDERS`] describes
//! them for forms and help.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};
use url::Url;

use super::Store;
pub use super::azure::AzureConfig;
pub use super::gcs::GcsConfig;
pub use super::local::LocalConfig;
pub use super::s3::S3Config;
use crate::fields::Field;
pub use crate::fields::FieldError;
pub use crate::secret::REDACTED;
use crate::secret::Secrets;
use crate::{Error, Result};

/// How long to wait for a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a response may go without a byte arriving (a stalled connection) before the
/// request fails and is retried. There is no limit on a whole request: an object that
/// streams for hours behind a slow destination is read to its end.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Overrides [`READ_TIMEOUT`], in seconds (`0.5` is half a second).
pub const READ_TIMEOUT_ENV: &str = "SLUICE_STORAGE_READ_TIMEOUT";

/// The read timeout: [`READ_TIMEOUT_ENV`] if it is set to a positive number of seconds,
/// else [`READ_TIMEOUT`].
pub fn read_timeout() -> Duration {
    std::env::var(READ_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(READ_TIMEOUT, Duration::from_secs_f64)
}

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

pub(super) fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout_disabled()
        .with_read_timeout(read_timeout())
        .with_allow_http(allow_http)
}

/// A provider's store and the folder inside it that is the connection's root.
pub(super) type Built = (Arc<dyn ObjectStore>, String);

/// A storage provider, as forms and help describe it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProviderInfo {
    /// The `provider` tag of its settings.
    pub name: &'static str,
    pub label: &'static str,
    /// The URL schemes that name it: `s3://…`.
    pub schemes: &'static [&'static str],
    /// Its settings, in the order a form shows them.
    pub fields: &'static [Field],
    /// The settings a URL carries itself (`s3://bucket/prefix`); the others are options.
    #[serde(skip)]
    pub in_url: &'static [&'static str],
}

impl ProviderInfo {
    /// The `KEY=VALUE` options a URL of this provider takes.
    pub fn option_keys(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .map(|f| f.name)
            .filter(|n| !self.in_url.contains(n))
            .collect()
    }
}

/// Declares the providers: the tagged settings enum, [`PROVIDERS`] and the dispatch to each
/// provider's file, written once.
macro_rules! providers {
    ($($variant:ident($config:ident, $module:ident) {
        name: $name:literal, label: $label:literal, schemes: [$($scheme:literal),*], in_url: [$($part:literal),*] $(,)?
    }),* $(,)?) => {
        /// Settings of a connection, tagged by `provider`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "provider", rename_all = "lowercase")]
        pub enum ConnectionConfig {
            $($variant($config),)*
        }

        /// Every storage provider, in the order forms offer them.
        pub const PROVIDERS: &[ProviderInfo] = &[$(ProviderInfo {
            name: $name,
            label: $label,
            schemes: &[$($scheme),*],
            fields: super::$module::FIELDS,
            in_url: &[$($part),*],
        }),*];

        impl ConnectionConfig {
            /// The `provider` tag: `s3`.
            pub fn provider(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name,)* }
            }

            fn from_provider(provider: &str, url: &str, parsed: &Url, options: &Options<'_>) -> Result<Self> {
                match provider {
                    $($name => Ok(Self::$variant($config::from_url(url, parsed, options)?)),)*
                    other => Err(invalid_url(url, &format!("no provider '{other}'"))),
                }
            }

            /// How users write this location: `s3://bucket/prefix`.
            pub fn url(&self) -> String {
                match self { $(Self::$variant(c) => c.url(),)* }
            }

            fn validate_into(&self, errors: &mut Vec<FieldError>) {
                match self { $(Self::$variant(c) => c.validate(errors),)* }
            }

            fn build_store(&self) -> std::result::Result<Built, String> {
                match self { $(Self::$variant(c) => c.build(),)* }
            }
        }

        impl Secrets for ConnectionConfig {
            fn map_secrets<E>(
                &self,
                f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
            ) -> std::result::Result<Self, E> {
                Ok(match self { $(Self::$variant(c) => Self::$variant(c.map_secrets(f)?),)* })
            }
        }
    };
}

providers! {
    Local(LocalConfig, local) { name: "local", label: "Local folder", schemes: ["file"], in_url: ["path"] },
    S3(S3Config, s3) { name: "s3", label: "Amazon S3", schemes: ["s3", "s3a"], in_url: ["bucket", "prefix"] },
    Gcs(GcsConfig, gcs) { name: "gcs", label: "Google Cloud Storage", schemes: ["gs"], in_url: ["bucket", "prefix"] },
    Azure(AzureConfig, azure) { name: "azure", label: "Azure Blob", schemes: ["az", "azure"], in_url: ["container", "prefix"] },
}

/// The options given with a URL, read by the provider they belong to.
pub(super) struct Options<'a>(&'a BTreeMap<String, String>);

impl Options<'_> {
    pub(super) fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    /// A boolean option; absent is false.
    pub(super) fn flag(&self, key: &str) -> Result<bool> {
        match self.0.get(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(false),
            Some(v) => Err(Error::InvalidOption {
                option: key.into(),
                reason: format!("'{v}' is not true or false"),
            }),
        }
    }
}

pub(super) fn invalid_url(url: &str, reason: &str) -> Error {
    Error::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

/// Whether an optional setting holds more than blanks.
pub(super) fn set(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// `scheme://root[/prefix]`.
pub(super) fn url_of(scheme: &str, root: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        format!("{scheme}://{root}")
    } else {
        format!("{scheme}://{root}/{prefix}")
    }
}

/// Checks a bucket or container name: 3–63 lowercase letters, digits, '-', '.', '_'.
pub(super) fn bucket_name(errors: &mut Vec<FieldError>, name: &str, key: &str) {
    let ok = (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'));
    if !ok {
        errors.push(FieldError::new(
            key,
            format!("'{name}' is not a valid {key} name: 3–63 lowercase letters, digits, '-', '.'"),
        ));
    }
}

/// Applies `f` to an optional credential.
pub(super) fn map_opt<E>(
    f: &mut impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    name: &'static str,
    value: &Option<String>,
) -> std::result::Result<Option<String>, E> {
    value.as_deref().map(|v| f(name, v)).transpose()
}

impl ConnectionConfig {
    /// Builds a config from a URL (`file:///abs`, `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`) and provider options.
    ///
    /// # Errors
    /// An unknown scheme, a relative path, or an option the provider does not take.
    pub fn from_url(url: &str, options: &BTreeMap<String, String>) -> Result<Self> {
        let schemes = || {
            PROVIDERS
                .iter()
                .map(|p| format!("{}://", p.schemes[0]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let parsed = Url::parse(url).map_err(|e| {
            invalid_url(
                url,
                &format!(
                    "{e}; expected file:///absolute/path, s3://bucket, gs://bucket or az://container"
                ),
            )
        })?;
        let Some(provider) = PROVIDERS
            .iter()
            .find(|p| p.schemes.contains(&parsed.scheme()))
        else {
            return Err(invalid_url(
                url,
                &format!(
                    "unsupported scheme '{}'; use {}",
                    parsed.scheme(),
                    schemes()
                ),
            ));
        };
        let allowed = provider.option_keys();
        // Options in the URL's query would be silently dropped (and `?` may be part of a
        // local folder's name only as %3F): say where they go instead.
        if let Some(query) = parsed.query() {
            let first = query.split('&').next().unwrap_or(query);
            let reason = if allowed.is_empty() {
                format!("'?{first}' is not part of the path; write a '?' in a folder's name as %3F")
            } else {
                format!(
                    "options are not read from the URL ('?{first}'); give each as an option of its own (the CLI's -o KEY=VALUE): {}",
                    allowed.join(", ")
                )
            };
            return Err(invalid_url(url, &reason));
        }
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
        Self::from_provider(provider.name, url, &parsed, &Options(options))
    }

    /// The provider's description.
    pub fn info(&self) -> &'static ProviderInfo {
        PROVIDERS
            .iter()
            .find(|p| p.name == self.provider())
            .unwrap_or(&PROVIDERS[0])
    }

    /// Every problem with the settings, by field. Empty when valid.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        self.validate_into(&mut errors);
        errors
    }

    /// Opens the store.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] naming the first invalid field, or what the provider's builder rejects.
    pub fn build(&self) -> Result<Store> {
        let url = self.url();
        if let Some(e) = self.validate().into_iter().next() {
            return Err(invalid_url(&url, &e.to_string()));
        }
        let parsed = Url::parse(&url).map_err(|e| invalid_url(&url, &e.to_string()))?;
        let (store, prefix) = self.build_store().map_err(|e| invalid_url(&url, &e))?;
        let root = Path::from_iter(prefix.split('/').filter(|s| !s.is_empty()));
        Ok(Store::from_store(store, root, parsed))
    }

    /// Where the credentials of connection `name` are sealed: bound to it and the field.
    pub fn seal_context(name: &str) -> impl Fn(&str) -> String + '_ {
        move |field| format!("{name}/{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{KeySource, SecretKey};

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
    fn options_in_a_urls_query_are_refused_not_dropped() {
        let none = BTreeMap::new();
        let err = ConnectionConfig::from_url("s3://b/p?endpoint=http://x&path_style=true", &none)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("options are not read from the URL ('?endpoint=http://x')"),
            "{err}"
        );
        assert!(err.contains("-o KEY=VALUE"), "{err}");
        let err = ConnectionConfig::from_url("file:///data/a?b", &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("%3F"), "{err}");
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
        let sealed = c.sealed(&key, ConnectionConfig::seal_context("prod"));
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(
            !text.contains("wJalrXUtnFEMI") && text.contains("AKIAEXAMPLE"),
            "{text}"
        );
        assert_eq!(
            sealed
                .opened(&key, ConnectionConfig::seal_context("prod"))
                .unwrap(),
            c
        );
        let (field, _) = sealed
            .opened(&key, ConnectionConfig::seal_context("other"))
            .unwrap_err();
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
