//! A DuckDB destination's settings: the database file, by default `warehouse.duckdb` in the
//! data directory.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_core::fields::Field;
use sluice_core::secret::Secrets;

use super::DuckDbSink;
use crate::config::{BuildContext, Config, SinkInfo};
use crate::{BuiltSink, Error, Result};

/// The default DuckDB destination's file name in the data directory.
pub const WAREHOUSE_FILE: &str = "warehouse.duckdb";

/// A DuckDB file; `None` is [`WAREHOUSE_FILE`] in the data directory, a relative path is
/// under the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuckDbConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl DuckDbConfig {
    /// The database file this config names, with `data_dir` for relative paths.
    pub fn file(&self, ctx: &BuildContext<'_>) -> PathBuf {
        match &self.path {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => ctx.data_dir.join(p),
            None => ctx.data_dir.join(WAREHOUSE_FILE),
        }
    }
}

impl Secrets for DuckDbConfig {
    fn map_secrets<E>(
        &self,
        _f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    ) -> std::result::Result<Self, E> {
        Ok(self.clone())
    }
}

impl Config for DuckDbConfig {
    const INFO: SinkInfo = SinkInfo {
        name: "duckdb",
        label: "DuckDB",
        schemes: &["duckdb"],
        url_form: "duckdb:///path/warehouse.duckdb",
        fields: &[Field::text("path", "Database file")
            .placeholder(WAREHOUSE_FILE)
            .hint("empty: warehouse.duckdb in the data directory; a relative path is under it")],
    };

    /// `duckdb:///abs/w.duckdb` or `duckdb:relative/w.duckdb`; `duckdb:` alone is the default.
    fn from_url(url: &str) -> Result<Self> {
        let rest = url.strip_prefix("duckdb:").ok_or_else(|| Error::Invalid {
            field: "destination".into(),
            message: format!("a DuckDB URL starts with duckdb: (got '{url}')"),
        })?;
        let path = rest.strip_prefix("//").unwrap_or(rest);
        Ok(Self {
            path: (!path.is_empty()).then(|| PathBuf::from(path)),
        })
    }

    fn describe(&self) -> String {
        match &self.path {
            None => "duckdb (warehouse.duckdb in the data directory)".into(),
            Some(p) => format!("duckdb {}", p.display()),
        }
    }

    fn resolved(&self, ctx: &BuildContext<'_>) -> Self {
        Self {
            path: Some(self.file(ctx)),
        }
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn BuiltSink>> {
        Ok(Arc::new(DuckDbSink::open(&self.file(ctx))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_absolute_relative_and_default_files() {
        let ctx = BuildContext {
            data_dir: std::path::Path::new("/data"),
            bigquery_endpoint: None,
        };
        let abs = DuckDbConfig::from_url("duckdb:///srv/w.duckdb").unwrap();
        assert_eq!(abs.file(&ctx), PathBuf::from("/srv/w.duckdb"));
        let rel = DuckDbConfig::from_url("duckdb:marts/w.duckdb").unwrap();
        assert_eq!(rel.file(&ctx), PathBuf::from("/data/marts/w.duckdb"));
        let default = DuckDbConfig::from_url("duckdb:").unwrap();
        assert_eq!(default, DuckDbConfig::default());
        assert_eq!(
            default.resolved(&ctx).file(&ctx),
            PathBuf::from("/data/warehouse.duckdb")
        );
        assert!(DuckDbConfig::from_url("sqlite:x").is_err());
    }
}
