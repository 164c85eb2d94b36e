//! A PostgreSQL destination's settings: one connection URL, sealed at rest because it may
//! hold a password, shown with the password as `••••`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_core::fields::{Field, FieldKind};
use sluice_core::secret::{Secrets, redact_password};

use super::PostgresSink;
use crate::config::{BuildContext, Config, SinkInfo};
use crate::{BuiltSink, Result};

/// A PostgreSQL database: `postgres://user:password@host:5432/db?sslmode=prefer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    pub url: String,
}

impl Secrets for PostgresConfig {
    fn map_secrets<E>(
        &self,
        mut f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    ) -> std::result::Result<Self, E> {
        Ok(Self {
            url: f("url", &self.url)?,
        })
    }

    fn redact_field(_field: &str, value: &str) -> String {
        redact_password(value)
    }
}

impl Config for PostgresConfig {
    const INFO: SinkInfo = SinkInfo {
        name: "postgres",
        label: "PostgreSQL",
        schemes: &["postgres", "postgresql"],
        url_form: "postgres://user:password@host:5432/database?sslmode=verify-full",
        fields: &[Field::text("url", "PostgreSQL URL")
            .secret(FieldKind::Password)
            .placeholder("postgres://user:password@host:5432/database?sslmode=prefer")
            .pattern("^postgres(ql)?://[^/]")
            .hint("the user needs CREATE on the database (new schemas) or the schema; stored sealed, shown with the password as ••••")
            .required()],
    };

    fn from_url(url: &str) -> Result<Self> {
        // Checked now, so a bad URL is refused when the job is created.
        PostgresSink::new(url)?;
        Ok(Self {
            url: url.to_string(),
        })
    }

    fn describe(&self) -> String {
        redact_password(&self.url)
    }

    fn build(&self, _ctx: &BuildContext<'_>) -> Result<Arc<dyn BuiltSink>> {
        Ok(Arc::new(PostgresSink::new(&self.url)?))
    }
}
