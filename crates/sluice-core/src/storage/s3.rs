//! Amazon S3 and S3-compatible stores (MinIO, Cloudflare R2, Ceph): `s3://bucket/prefix`.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::{Built, Options, bucket_name, client_options, map_opt, retry_config, set};
use crate::Result;
use crate::fields::{Field, FieldError, FieldKind};

/// Amazon S3 or an S3-compatible store.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// A folder inside the bucket that is the connection's root.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// With `secret_access_key`; when both are absent the default AWS credential chain is used
    /// (environment, profile, web identity, instance metadata) for AWS, and requests to a
    /// custom `endpoint` go unsigned: ambient credentials never go to another server.
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

pub(super) const FIELDS: &[Field] = &[
    Field::text("bucket", "Bucket").required(),
    Field::text("prefix", "Prefix").hint("optional"),
    Field::text("region", "Region").hint("e.g. eu-west-1"),
    Field::text("access_key_id", "Access key id").hint(
        "empty: the default AWS credential chain on AWS; unsigned requests to a custom endpoint",
    ),
    Field::text("secret_access_key", "Secret access key").secret(FieldKind::Password),
    Field::text("session_token", "Session token")
        .secret(FieldKind::Password)
        .hint("temporary credentials only"),
    Field::text("endpoint", "Endpoint").hint("S3-compatible stores only"),
    Field::text("path_style", "Path-style addressing").checkbox(),
    Field::text("allow_http", "Allow http://").checkbox(),
];

impl S3Config {
    pub(super) fn from_url(_url: &str, parsed: &Url, o: &Options<'_>) -> Result<Self> {
        Ok(Self {
            bucket: parsed.host_str().unwrap_or_default().to_string(),
            prefix: parsed.path().trim_matches('/').to_string(),
            region: o.get("region"),
            access_key_id: o.get("access_key_id"),
            secret_access_key: o.get("secret_access_key"),
            session_token: o.get("session_token"),
            endpoint: o.get("endpoint"),
            path_style: o.flag("path_style")?,
            allow_http: o.flag("allow_http")?,
        })
    }

    pub(super) fn url(&self) -> String {
        super::config::url_of("s3", &self.bucket, &self.prefix)
    }

    pub(super) fn validate(&self, errors: &mut Vec<FieldError>) {
        bucket_name(errors, &self.bucket, "bucket");
        if set(&self.access_key_id) != set(&self.secret_access_key) {
            errors.push(FieldError::new(
                if set(&self.access_key_id) {
                    "secret_access_key"
                } else {
                    "access_key_id"
                },
                "give both the access key id and the secret access key, or neither for the default credential chain",
            ));
        }
        if set(&self.session_token) && !set(&self.access_key_id) {
            errors.push(FieldError::new(
                "session_token",
                "a session token goes with an access key id and secret",
            ));
        }
        if let Some(e) = &self.endpoint {
            match Url::parse(e) {
                Ok(u) if u.scheme() == "http" && !self.allow_http => {
                    errors.push(FieldError::new(
                        "endpoint",
                        "an http:// endpoint needs allow_http",
                    ));
                }
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => errors.push(FieldError::new(
                    "endpoint",
                    format!("'{e}' is not an http(s) URL"),
                )),
            }
        }
    }

    pub(super) fn build(&self) -> std::result::Result<Built, String> {
        // With a custom endpoint, only the keys given here are used: the ambient AWS chain
        // (environment, profile, instance role) is for AWS alone, and is never sent to a
        // server someone else named. Without keys, requests there go unsigned.
        let custom_endpoint = self.endpoint.as_deref().is_some_and(|e| !e.is_empty());
        let mut b = if set(&self.access_key_id) || custom_endpoint {
            AmazonS3Builder::new()
        } else {
            AmazonS3Builder::from_env()
        };
        if custom_endpoint && !set(&self.access_key_id) {
            b = b.with_skip_signature(true);
        }
        b = b
            .with_bucket_name(&self.bucket)
            .with_client_options(client_options(self.allow_http))
            .with_retry(retry_config())
            .with_virtual_hosted_style_request(!self.path_style)
            .with_allow_http(self.allow_http);
        if let Some(r) = &self.region {
            b = b.with_region(r);
        }
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        if let Some(t) = &self.session_token {
            b = b.with_token(t);
        }
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e);
        }
        let store = b.build().map_err(|e| e.to_string())?;
        Ok((Arc::new(store) as Arc<dyn ObjectStore>, self.prefix.clone()))
    }

    pub(super) fn map_secrets<E>(
        &self,
        mut f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    ) -> std::result::Result<Self, E> {
        Ok(Self {
            secret_access_key: map_opt(&mut f, "secret_access_key", &self.secret_access_key)?,
            session_token: map_opt(&mut f, "session_token", &self.session_token)?,
            ..self.clone()
        })
    }
}
