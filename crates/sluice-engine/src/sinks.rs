//! One sink per destination per process: DuckDB files are opened once, PostgreSQL and
//! BigQuery sinks keep their connections and tokens.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use sluice_sinks::{BuildContext, BuiltSink, SinkConfig};

use crate::Result;

/// Built sinks by their resolved config.
pub(crate) struct SinkPool {
    data_dir: PathBuf,
    /// The operator's BigQuery endpoint: set once, before the first sink is built, else
    /// [`sluice_sinks::bigquery::ENDPOINT_ENV`] from the environment.
    bigquery_endpoint: OnceLock<Option<String>>,
    open: Mutex<HashMap<String, Arc<dyn BuiltSink>>>,
}

impl SinkPool {
    pub(crate) fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            bigquery_endpoint: OnceLock::new(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the BigQuery endpoint; `false` when sinks were already built with another.
    pub(crate) fn set_bigquery_endpoint(&self, endpoint: Option<String>) -> bool {
        self.bigquery_endpoint.set(endpoint.clone()).is_ok()
            || self.bigquery_endpoint.get() == Some(&endpoint)
    }

    pub(crate) fn context(&self) -> BuildContext<'_> {
        let endpoint = self.bigquery_endpoint.get_or_init(|| {
            std::env::var(sluice_sinks::bigquery::ENDPOINT_ENV)
                .ok()
                .filter(|e| !e.is_empty())
        });
        BuildContext {
            data_dir: &self.data_dir,
            bigquery_endpoint: endpoint.as_deref(),
        }
    }

    /// The sink of a destination whose credentials are open; built on first use.
    pub(crate) fn get(&self, config: &SinkConfig) -> Result<Arc<dyn BuiltSink>> {
        let ctx = self.context();
        let key = serde_json::to_string(&config.resolved(&ctx))
            .map_err(|e| crate::Error::invalid("destination", e.to_string()))?;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = open.get(&key) {
            return Ok(Arc::clone(sink));
        }
        let sink = config.build(&ctx)?;
        open.insert(key, Arc::clone(&sink));
        Ok(sink)
    }
}
