//! Destinations that build themselves: [`SinkConfig`] holds one destination's settings,
//! tagged by `kind` as the API and the catalog store them. Each destination's folder
//! implements [`Config`] (URL parsing, credentials, description, `build()`); the
//! [`sinks!`] registry below lists them once and makes the enum, [`SINKS`] (what the CLI's
//! `--destination`, the API and the UI's choices offer) and the dispatch.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_core::fields::Field;
use sluice_core::secret::{Secrets, redact_password};

use crate::bigquery::BigQueryConfig;
use crate::duckdb::DuckDbConfig;
use crate::postgres::PostgresConfig;
use crate::{BuiltSink, Error, Result};

/// A destination as users choose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SinkInfo {
    /// The `kind` tag of its settings.
    pub name: &'static str,
    pub label: &'static str,
    /// The URL schemes that name it: `postgres://…`.
    pub schemes: &'static [&'static str],
    /// How its URL is written, for help and errors.
    pub url_form: &'static str,
    /// Its settings, in the order a form shows them.
    pub fields: &'static [Field],
}

/// What building a sink may need beyond its settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// Where relative DuckDB files live.
    pub data_dir: &'a Path,
    /// The operator's BigQuery endpoint ([`crate::bigquery::ENDPOINT_ENV`]), if not Google's.
    pub bigquery_endpoint: Option<&'a str>,
}

/// One destination's settings.
pub trait Config: Secrets + Clone + Sized {
    const INFO: SinkInfo;

    /// Reads the destination's URL.
    ///
    /// # Errors
    /// [`Error::Invalid`] saying what is wrong and how to write it.
    fn from_url(url: &str) -> Result<Self>;

    /// One line for listings; call it on a redacted copy.
    fn describe(&self) -> String;

    /// The same settings with everything relative made absolute, so that two configs for
    /// one database compare equal.
    fn resolved(&self, _ctx: &BuildContext<'_>) -> Self {
        self.clone()
    }

    /// The sink; connections are made as it needs them, so this does not fail when the
    /// destination is down ([`crate::Sink::check`] says whether it answers).
    ///
    /// # Errors
    /// Settings the destination cannot use.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn BuiltSink>>;
}

macro_rules! sinks {
    ($($variant:ident($config:ty)),* $(,)?) => {
        /// Where a job's rows go, tagged by `kind`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        pub enum SinkConfig {
            $($variant($config),)*
        }

        /// Every destination, the default first.
        pub const SINKS: &[SinkInfo] = &[$(<$config as Config>::INFO),*];

        impl SinkConfig {
            /// The destination's description.
            pub fn info(&self) -> &'static SinkInfo {
                match self {
                    $(Self::$variant(_) => &<$config as Config>::INFO,)*
                }
            }

            fn parse_url(scheme: &str, url: &str) -> Option<Result<Self>> {
                $(if <$config as Config>::INFO.schemes.contains(&scheme) {
                    return Some(<$config as Config>::from_url(url).map(Self::$variant));
                })*
                None
            }

            /// One line for listings: `duckdb (warehouse.duckdb in the data directory)`,
            /// `postgres://loader:••••@db:5432/wh?sslmode=prefer`. Call on a redacted copy.
            pub fn describe(&self) -> String {
                match self {
                    $(Self::$variant(c) => c.describe(),)*
                }
            }

            /// See [`Config::resolved`].
            pub fn resolved(&self, ctx: &BuildContext<'_>) -> Self {
                match self {
                    $(Self::$variant(c) => Self::$variant(c.resolved(ctx)),)*
                }
            }

            fn build_sink(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn BuiltSink>> {
                match self {
                    $(Self::$variant(c) => c.build(ctx),)*
                }
            }
        }

        impl Secrets for SinkConfig {
            fn map_secrets<E>(
                &self,
                f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
            ) -> std::result::Result<Self, E> {
                Ok(match self {
                    $(Self::$variant(c) => Self::$variant(c.map_secrets(f)?),)*
                })
            }

            fn redact_field(field: &str, value: &str) -> String {
                // Only URLs show part of themselves.
                if field == "url" {
                    redact_password(value)
                } else {
                    sluice_core::secret::REDACTED.into()
                }
            }
        }
    };
}

sinks! {
    DuckDb(DuckDbConfig),
    Postgres(PostgresConfig),
    BigQuery(BigQueryConfig),
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self::DuckDb(DuckDbConfig::default())
    }
}

impl SinkConfig {
    /// Reads a destination URL: `postgres://…`, `bigquery://…`, `duckdb:…`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown scheme (its password redacted) or what the
    /// destination finds wrong.
    pub fn from_url(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        Self::parse_url(&scheme.to_ascii_lowercase(), url).unwrap_or_else(|| {
            Err(Error::Invalid {
                field: "destination".into(),
                message: format!(
                    "unknown destination '{}': use {}",
                    redact_password(url),
                    SINKS
                        .iter()
                        .map(|s| s.url_form)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        })
    }

    /// The sink. A config that still holds a redacted or sealed credential is refused.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field, or what the destination refuses.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn BuiltSink>> {
        if let Some(field) = self.holds_redacted() {
            return Err(Error::Invalid {
                field: "destination".into(),
                message: format!(
                    "the {} {field} is sealed or redacted (••••); give it in full",
                    self.info().label
                ),
            });
        }
        self.build_sink(ctx).map_err(|e| match e {
            e @ Error::Invalid { .. } => e,
            other => Error::Invalid {
                field: "destination".into(),
                message: other.to_string(),
            },
        })
    }

    /// Where a job's destination credentials are sealed: bound to the job.
    pub fn seal_context(job: &str) -> impl Fn(&str) -> String + '_ {
        move |_field| format!("job:{job}:destination")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_destination_is_tagged_by_its_name() {
        for info in SINKS {
            // The documented form reads back (with credentials that need no key file).
            let url = info.url_form.replace("/path/key.json", "none");
            let config = SinkConfig::from_url(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(config.info(), info);
            let json = serde_json::to_value(&config).unwrap();
            assert_eq!(json["kind"], info.name, "{json}");
        }
        assert_eq!(SinkConfig::default().info().name, "duckdb");
    }

    #[test]
    fn urls_choose_the_destination_and_unknown_ones_hide_their_password() {
        assert!(matches!(
            SinkConfig::from_url("postgresql://u:p@h/db").unwrap(),
            SinkConfig::Postgres(_)
        ));
        assert!(matches!(
            SinkConfig::from_url("bigquery://p/d?credentials=none").unwrap(),
            SinkConfig::BigQuery(_)
        ));
        let err = SinkConfig::from_url("mysql://u:topsecret@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown destination 'mysql://u:••••@h/db'") && !err.contains("topsecret"),
            "{err}"
        );
    }

    #[test]
    fn a_redacted_destination_does_not_build() {
        let shown = SinkConfig::from_url("postgres://u:pw@h/db")
            .unwrap()
            .redacted();
        let dir = tempfile::tempdir().unwrap();
        let err = shown
            .build(&BuildContext {
                data_dir: dir.path(),
                bigquery_endpoint: None,
            })
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "destination"),
            "{err}"
        );
    }
}
