//! Rotating the secret key: every sealed credential (connections and job destinations) is
//! re-sealed under a new key in one catalog transaction, then the key replaces the old one.

use std::sync::Arc;

use sluice_core::secret::{KeySource, SecretKey, Secrets};
use sluice_core::storage::ConnectionConfig;
use sluice_sinks::SinkConfig;

use crate::catalog::Catalog;
use crate::keyring::Keyring;
use crate::{Error, Result};

/// Seals every credential under a new key and makes it the key. A key file is replaced
/// (through `secret.key.new`, so a crash leaves the new key on disk); a key from
/// `SLUICE_SECRET_KEY` is returned for the user to set.
///
/// Returns the new key and how many connections were re-sealed.
pub(crate) async fn rotate(
    catalog: &Arc<dyn Catalog>,
    keys: &Keyring,
) -> Result<(SecretKey, usize)> {
    let records = catalog.list_connections().await?;
    let opened = records
        .iter()
        .map(|r| Ok((r, keys.open_connection(r)?)))
        .collect::<Result<Vec<_>>>()?;
    let jobs = catalog.list_jobs().await?;
    let destinations = jobs
        .iter()
        .filter(|j| !j.destination.secret_fields().is_empty())
        .map(|j| Ok((j, keys.open_destination(j)?)))
        .collect::<Result<Vec<_>>>()?;
    let old = keys.current();
    let new = SecretKey::generate(old.source.clone());
    let staged = match &old.source {
        KeySource::File(path) => {
            let staged = path.with_extension("key.new");
            let _ = std::fs::remove_file(&staged);
            new.write_file(&staged).map_err(|e| {
                Error::invalid_input(format!("cannot write {}: {e}", staged.display()))
            })?;
            Some((staged, path.clone()))
        }
        KeySource::Env => None,
    };
    let resealed: Vec<(i64, ConnectionConfig)> = opened
        .iter()
        .map(|(r, c)| {
            (
                r.id,
                c.sealed(&new, ConnectionConfig::seal_context(&r.name)),
            )
        })
        .collect();
    let destinations: Vec<(i64, SinkConfig)> = destinations
        .iter()
        .map(|(j, d)| (j.id, d.sealed(&new, SinkConfig::seal_context(&j.name))))
        .collect();
    catalog.update_secrets(&resealed, &destinations).await?;
    if let Some((staged, path)) = staged {
        std::fs::rename(&staged, &path).map_err(|e| {
            Error::invalid_input(format!(
                "the connections use the key in {}, but it could not replace {}: {e}",
                staged.display(),
                path.display()
            ))
        })?;
    }
    keys.replace(new.clone());
    Ok((new, resealed.len()))
}
