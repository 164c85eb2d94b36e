//! The secret key that seals credentials, shared by the parts that seal and open them, and
//! replaced in place when it is rotated.

use std::sync::RwLock;

use sluice_core::secret::{SecretKey, Secrets};
use sluice_core::storage::ConnectionConfig;
use sluice_sinks::SinkConfig;

use crate::model::{ConnectionRecord, Job};
use crate::{Error, Result};

/// The current key.
#[derive(Debug)]
pub(crate) struct Keyring(RwLock<SecretKey>);

impl Keyring {
    pub(crate) fn new(key: SecretKey) -> Self {
        Self(RwLock::new(key))
    }

    pub(crate) fn current(&self) -> SecretKey {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn replace(&self, key: SecretKey) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    /// A connection's settings sealed for the catalog.
    pub(crate) fn seal_connection(
        &self,
        name: &str,
        config: &ConnectionConfig,
    ) -> ConnectionConfig {
        config.sealed(&self.current(), ConnectionConfig::seal_context(name))
    }

    /// A stored connection's settings with credentials opened.
    pub(crate) fn open_connection(&self, record: &ConnectionRecord) -> Result<ConnectionConfig> {
        let key = self.current();
        record
            .config
            .opened(&key, ConnectionConfig::seal_context(&record.name))
            .map_err(|(field, e)| {
                Error::invalid_input(format!(
                    "cannot open the {field} of connection '{}' with the secret key from {}: {e}. \
                     Use the key the connection was saved with (SLUICE_SECRET_KEY or the key file), or add the connection again",
                    record.name, key.source
                ))
            })
    }

    /// A destination sealed for the catalog, bound to its job.
    pub(crate) fn seal_destination(&self, job: &str, config: &SinkConfig) -> SinkConfig {
        config.sealed(&self.current(), SinkConfig::seal_context(job))
    }

    /// A stored job's destination with its credentials opened.
    pub(crate) fn open_destination(&self, job: &Job) -> Result<SinkConfig> {
        let key = self.current();
        job.destination
            .opened(&key, SinkConfig::seal_context(&job.name))
            .map_err(|(field, e)| {
                Error::invalid_input(format!(
                    "cannot open the destination {field} of job '{}' with the secret key from {}: {e}. \
                     Use the key the job was created with (SLUICE_SECRET_KEY or the key file), or create the job again",
                    job.name, key.source
                ))
            })
    }
}
