//! One sink per destination per process: DuckDB files are opened once, PostgreSQL and
//! BigQuery sinks keep their connections and tokens.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sluice_sinks::{BuildContext, BuiltSink, SinkConfig};

use crate::Result;

/// Built sinks by their resolved config.
pub(crate) struct SinkPool {
    data_dir: PathBuf,
    open: Mutex<HashMap<String, Arc<dyn BuiltSink>>>,
}

impl SinkPool {
    pub(crate) fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            open: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn context(&self) -> BuildContext<'_> {
        BuildContext {
            data_dir: &self.data_dir,
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
