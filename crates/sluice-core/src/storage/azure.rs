//! Azure Blob Storage: `az://container/prefix` with an account.

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::{Built, Options, bucket_name, client_options, map_opt, retry_config, set};
use crate::Result;
use crate::fields::{Field, FieldError, FieldKind};

/// Azure Blob Storage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

pub(super) const FIELDS: &[Field] = &[
    Field::text("account", "Storage account"),
    Field::text("container", "Container").required(),
    Field::text("prefix", "Prefix").hint("optional"),
    Field::text("access_key", "Account key").secret(FieldKind::Password),
    Field::text("sas_token", "SAS token")
        .secret(FieldKind::Password)
        .hint("instead of the account key"),
    Field::text("connection_string", "Connection string")
        .secret(FieldKind::Password)
        .hint("instead of account and key: AccountName=…;AccountKey=…"),
    Field::text("endpoint", "Blob endpoint").hint("Azurite and sovereign clouds only"),
];

impl AzureConfig {
    pub(super) fn from_url(_url: &str, parsed: &Url, o: &Options<'_>) -> Result<Self> {
        Ok(Self {
            account: o.get("account").unwrap_or_default(),
            container: parsed.host_str().unwrap_or_default().to_string(),
            prefix: parsed.path().trim_matches('/').to_string(),
            access_key: o.get("access_key"),
            sas_token: o.get("sas_token"),
            connection_string: o.get("connection_string"),
            endpoint: o.get("endpoint"),
        })
    }

    pub(super) fn url(&self) -> String {
        super::config::url_of("az", &self.container, &self.prefix)
    }

    pub(super) fn validate(&self, errors: &mut Vec<FieldError>) {
        bucket_name(errors, &self.container, "container");
        let kinds = [
            set(&self.access_key),
            set(&self.sas_token),
            set(&self.connection_string),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds > 1 {
            errors.push(FieldError::new(
                "access_key",
                "give one of access key, SAS token or connection string",
            ));
        }
        if self.account.is_empty() && !set(&self.connection_string) {
            errors.push(FieldError::new(
                "account",
                "name the storage account (or give a connection string)",
            ));
        }
        if let Some(cs) = self.connection_string.as_deref().filter(|s| !s.is_empty())
            && !parse_connection_string(cs).contains_key("AccountName")
        {
            errors.push(FieldError::new(
                "connection_string",
                "expected AccountName=…;AccountKey=…",
            ));
        }
    }

    pub(super) fn build(&self) -> std::result::Result<Built, String> {
        let mut b = MicrosoftAzureBuilder::new()
            .with_container_name(&self.container)
            .with_client_options(client_options(true))
            .with_retry(retry_config());
        let mut account = self.account.clone();
        let mut key = self.access_key.clone();
        let mut endpoint = self.endpoint.clone();
        if let Some(cs) = self.connection_string.as_deref().filter(|s| !s.is_empty()) {
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
        if let Some(sas) = self.sas_token.as_deref().filter(|s| !s.is_empty()) {
            b = b.with_config(AzureConfigKey::SasKey, sas.trim_start_matches('?'));
        }
        if let Some(e) = endpoint {
            b = b
                .with_endpoint(e.trim_end_matches('/').to_string())
                .with_allow_http(true);
        }
        let store = b.build().map_err(|e| e.to_string())?;
        Ok((Arc::new(store) as Arc<dyn ObjectStore>, self.prefix.clone()))
    }

    pub(super) fn map_secrets<E>(
        &self,
        mut f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    ) -> std::result::Result<Self, E> {
        Ok(Self {
            access_key: map_opt(&mut f, "access_key", &self.access_key)?,
            sas_token: map_opt(&mut f, "sas_token", &self.sas_token)?,
            connection_string: map_opt(&mut f, "connection_string", &self.connection_string)?,
            ..self.clone()
        })
    }
}

/// `Key=Value;Key=Value` as Azure writes connection strings.
fn parse_connection_string(s: &str) -> BTreeMap<String, String> {
    s.split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}
