//! Google Cloud Storage: `gs://bucket/prefix`.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::gcp::GoogleCloudStorageBuilder;
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::{Built, Options, bucket_name, client_options, map_opt, retry_config, set};
use crate::Result;
use crate::fields::{Field, FieldError, FieldKind};

/// Google Cloud Storage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Another endpoint (an emulator, a private endpoint). Without a key of its own, requests
    /// there go unsigned: application default credentials are never sent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Send requests unsigned (public buckets, emulators).
    pub anonymous: bool,
}

pub(super) const FIELDS: &[Field] = &[
    Field::text("bucket", "Bucket").required(),
    Field::text("prefix", "Prefix").hint("optional"),
    Field::text("service_account_json", "Service-account key (JSON)")
        .secret(FieldKind::Textarea)
        .hint("empty: application default credentials"),
    Field::text("service_account_path", "Service-account key file")
        .hint("a path on the server, instead of pasting the key"),
    Field::text("endpoint", "Endpoint").hint("emulators and private endpoints only"),
    Field::text("anonymous", "Unsigned requests (public buckets)").checkbox(),
];

impl GcsConfig {
    pub(super) fn from_url(_url: &str, parsed: &Url, o: &Options<'_>) -> Result<Self> {
        Ok(Self {
            bucket: parsed.host_str().unwrap_or_default().to_string(),
            prefix: parsed.path().trim_matches('/').to_string(),
            service_account_json: o.get("service_account_json"),
            service_account_path: o.get("service_account_path"),
            endpoint: o.get("endpoint"),
            anonymous: o.flag("anonymous")?,
        })
    }

    pub(super) fn url(&self) -> String {
        super::config::url_of("gs", &self.bucket, &self.prefix)
    }

    pub(super) fn validate(&self, errors: &mut Vec<FieldError>) {
        bucket_name(errors, &self.bucket, "bucket");
        if set(&self.service_account_json) && set(&self.service_account_path) {
            errors.push(FieldError::new(
                "service_account_path",
                "give the key as JSON or as a file path, not both",
            ));
        }
        if let Some(j) = self
            .service_account_json
            .as_deref()
            .filter(|j| !j.trim().is_empty())
        {
            match serde_json::from_str::<serde_json::Value>(j) {
                Ok(v) if v.get("client_email").is_some() || v.get("gcs_base_url").is_some() => {}
                _ => errors.push(FieldError::new(
                    "service_account_json",
                    "not a service-account key: expected JSON with client_email and private_key",
                )),
            }
        }
        if let Some(p) = self
            .service_account_path
            .as_deref()
            .filter(|p| !p.is_empty())
            && !std::path::Path::new(p).is_file()
        {
            errors.push(FieldError::new(
                "service_account_path",
                format!("no file at {p}"),
            ));
        }
    }

    pub(super) fn build(&self) -> std::result::Result<Built, String> {
        let no_key = !set(&self.service_account_json) && !set(&self.service_account_path);
        // With a custom endpoint, only a key given here is used: application default
        // credentials (and the metadata server's tokens) are for Google alone, and are never
        // sent to a server someone else named. Without a key, requests there go unsigned.
        let custom_endpoint = self.endpoint.as_deref().is_some_and(|e| !e.is_empty());
        let anonymous = self.anonymous || (custom_endpoint && no_key);
        let mut b = if no_key && !anonymous {
            GoogleCloudStorageBuilder::from_env()
        } else {
            GoogleCloudStorageBuilder::new()
        };
        b = b
            .with_bucket_name(&self.bucket)
            .with_client_options(client_options(true))
            .with_retry(retry_config());
        if let Some(j) = self
            .service_account_json
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            b = b.with_service_account_key(j);
        }
        if let Some(p) = self
            .service_account_path
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            b = b.with_service_account_path(p);
        }
        if let Some(e) = &self.endpoint {
            b = b.with_base_url(e);
        }
        if anonymous {
            b = b.with_skip_signature(true);
        }
        let store = b.build().map_err(|e| e.to_string())?;
        Ok((Arc::new(store) as Arc<dyn ObjectStore>, self.prefix.clone()))
    }

    pub(super) fn map_secrets<E>(
        &self,
        mut f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    ) -> std::result::Result<Self, E> {
        Ok(Self {
            service_account_json: map_opt(
                &mut f,
                "service_account_json",
                &self.service_account_json,
            )?,
            ..self.clone()
        })
    }
}
