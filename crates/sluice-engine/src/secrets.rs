//! Rotating the secret key: every sealed credential (connections, job destinations, webhook
//! URLs) is re-sealed under a new key in one catalog transaction, then the key replaces the
//! old one.
//!
//! A crash at any point leaves every secret readable: the new key is written to
//! `secret.key.new` before the catalog changes, and renamed over `secret.key` only after it
//! has. Until then the [`Keyring`] falls back to the staged key for a value the old key does
//! not open, and [`settle_staged_key`] finishes the rename when a process next starts.

use std::sync::Arc;

use sluice_core::secret::{KeySource, SecretKey, Secrets};
use sluice_core::storage::ConnectionConfig;
use sluice_sinks::SinkConfig;

use crate::alerts::Alerts;
use crate::catalog::{Catalog, SealedJob};
use crate::keyring::Keyring;
use crate::model::{ConnectionRecord, Job};
use crate::{Error, Result};

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub key: SecretKey,
    /// Connections and jobs whose secrets were re-sealed.
    pub connections: usize,
    pub jobs: usize,
}

/// Seals every credential under a new key and makes it the key. A key file is replaced;
/// a key from `SLUICE_SECRET_KEY` is returned for the user to set (and stays in
/// `secret.key.new` until they have).
pub(crate) async fn rotate(catalog: &Arc<dyn Catalog>, keys: &Keyring) -> Result<Rotation> {
    let records = catalog.list_connections().await?;
    let connections = records
        .iter()
        .filter(|r| !r.config.secret_fields().is_empty())
        .map(|r| Ok((r, keys.open_connection(r)?)))
        .collect::<Result<Vec<_>>>()?;
    let all_jobs = catalog.list_jobs().await?;
    let jobs = all_jobs
        .iter()
        .filter(|j| has_secrets(j))
        .map(|j| Ok((j, keys.open_destination(j)?, keys.open_alerts(j)?)))
        .collect::<Result<Vec<_>>>()?;
    let old = keys.current();
    let new = SecretKey::generate(old.source.clone());
    let staged = keys.staged_path();
    let _ = std::fs::remove_file(&staged);
    new.write_file(&staged)
        .map_err(|e| Error::invalid_input(format!("cannot write {}: {e}", staged.display())))?;
    sluice_core::fault::hit("rotate-staged");
    let resealed: Vec<(i64, ConnectionConfig)> = connections
        .iter()
        .map(|(r, c)| {
            (
                r.id,
                c.sealed(&new, ConnectionConfig::seal_context(&r.name)),
            )
        })
        .collect();
    let sealed_jobs: Vec<SealedJob> = jobs
        .iter()
        .map(|(j, d, a)| seal_job(&new, j, d, a))
        .collect();
    catalog.update_secrets(&resealed, &sealed_jobs).await?;
    sluice_core::fault::hit("rotate-committed");
    if let KeySource::File(path) = &old.source {
        install(&staged, path, &new)?;
    }
    keys.replace(new.clone());
    // Another process may have sealed something with the old key meanwhile.
    let (late_connections, late_jobs) = reseal_stragglers(catalog, &old, &new).await?;
    Ok(Rotation {
        key: new,
        connections: resealed.len() + late_connections,
        jobs: sealed_jobs.len() + late_jobs,
    })
}

/// Puts the staged key in place of the key file. Another process that started meanwhile
/// may have done so already.
fn install(staged: &std::path::Path, path: &std::path::Path, new: &SecretKey) -> Result<()> {
    match std::fs::rename(staged, path) {
        Ok(()) => Ok(()),
        Err(e) => {
            let on_disk = std::fs::read_to_string(path).unwrap_or_default();
            if on_disk.trim() == new.to_text() {
                return Ok(());
            }
            Err(Error::invalid_input(format!(
                "the catalog is sealed with the key in {}, but it could not replace {}: {e}. \
                 Move it there by hand",
                staged.display(),
                path.display()
            )))
        }
    }
}

/// Re-seals what opens with `old` but not `new`; returns how many connections and jobs.
async fn reseal_stragglers(
    catalog: &Arc<dyn Catalog>,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<(usize, usize)> {
    let mut connections = Vec::new();
    for r in catalog.list_connections().await? {
        let context = ConnectionConfig::seal_context(&r.name);
        if r.config.opened(new, &context).is_err()
            && let Ok(c) = r.config.opened(old, &context)
        {
            connections.push((r.id, c.sealed(new, &context)));
        }
    }
    let mut jobs = Vec::new();
    for j in catalog.list_jobs().await? {
        if opens(&j, new) {
            continue;
        }
        if let (Ok(d), Ok(a)) = (
            j.destination.opened(old, SinkConfig::seal_context(&j.name)),
            j.settings.alerts.opened(old, Alerts::seal_context(&j.name)),
        ) {
            jobs.push(seal_job(new, &j, &d, &a));
        }
    }
    if !connections.is_empty() || !jobs.is_empty() {
        catalog.update_secrets(&connections, &jobs).await?;
    }
    Ok((connections.len(), jobs.len()))
}

fn seal_job(key: &SecretKey, job: &Job, destination: &SinkConfig, alerts: &Alerts) -> SealedJob {
    SealedJob {
        id: job.id,
        destination: destination.sealed(key, SinkConfig::seal_context(&job.name)),
        alerts: alerts.sealed(key, Alerts::seal_context(&job.name)),
    }
}

fn has_secrets(job: &Job) -> bool {
    !job.destination.secret_fields().is_empty() || !job.settings.alerts.secret_fields().is_empty()
}

fn opens(job: &Job, key: &SecretKey) -> bool {
    job.destination
        .opened(key, SinkConfig::seal_context(&job.name))
        .is_ok()
        && job
            .settings
            .alerts
            .opened(key, Alerts::seal_context(&job.name))
            .is_ok()
}

fn opens_connection(r: &ConnectionRecord, key: &SecretKey) -> bool {
    r.config
        .opened(key, ConnectionConfig::seal_context(&r.name))
        .is_ok()
}

/// At start: if a rotation stopped after re-sealing the catalog but before replacing the
/// key file, finishes it; with `SLUICE_SECRET_KEY`, adopts the staged key and says to set it.
pub(crate) async fn settle_staged_key(catalog: &Arc<dyn Catalog>, keys: &Keyring) -> Result<()> {
    let staged_path = keys.staged_path();
    let current = keys.current();
    let Ok(text) = std::fs::read_to_string(&staged_path) else {
        return Ok(());
    };
    let Ok(staged) = SecretKey::from_text(&text, current.source.clone()) else {
        return Ok(());
    };
    // The first sealed value decides which key the catalog is sealed with.
    let records = catalog.list_connections().await?;
    let jobs = catalog.list_jobs().await?;
    let decides = |key: &SecretKey| -> Option<bool> {
        if let Some(r) = records
            .iter()
            .find(|r| !r.config.secret_fields().is_empty())
        {
            return Some(opens_connection(r, key));
        }
        jobs.iter().find(|j| has_secrets(j)).map(|j| opens(j, key))
    };
    // Unless the catalog opens with the staged key only, the rotation never reached the
    // catalog or is finished. A rotation in another process may be between staging and
    // committing, so a stale staged key is left for the next rotation to replace: it is
    // tried only for values the key does not open.
    if decides(&current) != Some(false) || decides(&staged) != Some(true) {
        return Ok(());
    }
    match &current.source {
        KeySource::File(path) => {
            install(&staged_path, path, &staged)?;
            tracing::warn!(
                "finished an interrupted key rotation: {} now holds the key the catalog is sealed with",
                path.display()
            );
        }
        KeySource::Env => tracing::warn!(
            "the catalog is sealed with the key in {}, not SLUICE_SECRET_KEY (a key rotation was not finished): set SLUICE_SECRET_KEY to it",
            staged_path.display()
        ),
    }
    keys.replace(staged);
    Ok(())
}
