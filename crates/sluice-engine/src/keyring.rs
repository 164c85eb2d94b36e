//! The secret key that seals credentials, shared by the parts that seal and open them.
//!
//! Rotation (see [`crate::secrets`]) stages the new key in `secret.key.new`, re-seals the
//! catalog in one transaction, then renames the staged key over `secret.key`. A process
//! can stop anywhere in that, and another process (a running `sluice serve`) can hold the
//! old key in memory all along; so when a value does not open with the key in hand, the
//! keyring reads the key files again (`secret.key`, then `secret.key.new`) and adopts the
//! one that opens it. Sealing re-reads `secret.key` first, so nothing new is sealed under
//! a key a rotation has replaced.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use sluice_core::secret::{KeySource, SecretError, SecretKey, Secrets};
use sluice_core::storage::ConnectionConfig;
use sluice_sinks::SinkConfig;

use crate::alerts::Alerts;
use crate::model::{ConnectionRecord, Job};
use crate::{Error, Result};

/// Where a rotation stages its new key, in the data directory.
pub(crate) const STAGED_KEY_FILE: &str = "secret.key.new";

/// The current key, and where to look for a newer one.
#[derive(Debug)]
pub(crate) struct Keyring {
    key: RwLock<SecretKey>,
    data_dir: PathBuf,
}

impl Keyring {
    pub(crate) fn new(key: SecretKey, data_dir: &Path) -> Self {
        Self {
            key: RwLock::new(key),
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub(crate) fn current(&self) -> SecretKey {
        self.key.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn replace(&self, key: SecretKey) {
        *self.key.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    pub(crate) fn staged_path(&self) -> PathBuf {
        self.data_dir.join(STAGED_KEY_FILE)
    }

    /// The key in the key file, if the key comes from one and it now holds another key.
    fn newer_on_disk(&self) -> Option<SecretKey> {
        let current = self.current();
        let KeySource::File(path) = &current.source else {
            return None;
        };
        let text = std::fs::read_to_string(path).ok()?;
        let key = SecretKey::from_text(&text, current.source.clone()).ok()?;
        (key.to_text() != current.to_text()).then_some(key)
    }

    /// The key to seal with: the key file's, should a rotation elsewhere have replaced it.
    fn sealing_key(&self) -> SecretKey {
        if let Some(newer) = self.newer_on_disk() {
            tracing::info!("the secret key was rotated; using the new one");
            self.replace(newer);
        }
        self.current()
    }

    /// Runs `open` with the current key; if the value was sealed with another key, with the
    /// key file's key and then a staged key, adopting the first that opens it.
    fn open_with<T>(
        &self,
        open: impl Fn(&SecretKey) -> std::result::Result<T, (String, SecretError)>,
    ) -> std::result::Result<T, (String, SecretError, KeySource)> {
        let current = self.current();
        let first = match open(&current) {
            Ok(t) => return Ok(t),
            Err((field, SecretError::WrongKey)) => (field, SecretError::WrongKey),
            Err((field, e)) => return Err((field, e, current.source)),
        };
        let staged = std::fs::read_to_string(self.staged_path())
            .ok()
            .and_then(|t| SecretKey::from_text(&t, current.source.clone()).ok());
        for candidate in self.newer_on_disk().into_iter().chain(staged) {
            if candidate.to_text() == current.to_text() {
                continue;
            }
            if let Ok(t) = open(&candidate) {
                tracing::info!("the secret key was rotated; using the new one");
                self.replace(candidate);
                return Ok(t);
            }
        }
        Err((first.0, first.1, current.source))
    }

    /// A connection's settings sealed for the catalog.
    pub(crate) fn seal_connection(
        &self,
        name: &str,
        config: &ConnectionConfig,
    ) -> ConnectionConfig {
        config.sealed(&self.sealing_key(), ConnectionConfig::seal_context(name))
    }

    /// A stored connection's settings with credentials opened.
    pub(crate) fn open_connection(&self, record: &ConnectionRecord) -> Result<ConnectionConfig> {
        self.open_with(|key| {
            record
                .config
                .opened(key, ConnectionConfig::seal_context(&record.name))
        })
        .map_err(|(field, e, source)| {
            Error::invalid_input(format!(
                "cannot open the {field} of connection '{}' with the secret key from {source}: {e}. \
                 Use the key the connection was saved with (SLUICE_SECRET_KEY or the key file), or add the connection again",
                record.name
            ))
        })
    }

    /// A destination sealed for the catalog, bound to its job.
    pub(crate) fn seal_destination(&self, job: &str, config: &SinkConfig) -> SinkConfig {
        config.sealed(&self.sealing_key(), SinkConfig::seal_context(job))
    }

    /// A stored job's destination with its credentials opened.
    pub(crate) fn open_destination(&self, job: &Job) -> Result<SinkConfig> {
        self.open_with(|key| {
            job.destination
                .opened(key, SinkConfig::seal_context(&job.name))
        })
        .map_err(|(field, e, source)| {
            Error::invalid_input(format!(
                "cannot open the destination {field} of job '{}' with the secret key from {source}: {e}. \
                 Use the key the job was created with (SLUICE_SECRET_KEY or the key file), or create the job again",
                job.name
            ))
        })
    }

    /// A job's alert targets sealed for the catalog (webhook URLs carry secrets).
    pub(crate) fn seal_alerts(&self, job: &str, alerts: &Alerts) -> Alerts {
        alerts.sealed(&self.sealing_key(), Alerts::seal_context(job))
    }

    /// A stored job's alert targets with webhook URLs opened.
    pub(crate) fn open_alerts(&self, job: &Job) -> Result<Alerts> {
        self.open_with(|key| {
            job.settings
                .alerts
                .opened(key, Alerts::seal_context(&job.name))
        })
        .map_err(|(_, e, source)| {
            Error::invalid_input(format!(
                "cannot open the webhook URLs of job '{}' with the secret key from {source}: {e}. \
                 Use the key the job was saved with, or set its alerts again",
                job.name
            ))
        })
    }
}
