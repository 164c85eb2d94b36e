//! Connections: adding, editing, testing and opening them, and what they hold (listings,
//! detected schemas). Credentials are sealed before they reach the catalog and redacted in
//! everything handed out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::error::Hint;
use sluice_core::format::{self, FormatOptions};
use sluice_core::schema::DetectedSchema;
use sluice_core::secret::Secrets;
use sluice_core::storage::{ConnectionConfig, FilePattern, Listing, Store};

use crate::access::{LocalAccess, check_not_data_dir};
use crate::catalog::ConnectionCatalog;
use crate::keyring::Keyring;
use crate::model::{ConnectionRecord, DEFAULT_MAX_FILE_SIZE};
use crate::{Error, Result};

/// How long `test_connection` waits for an answer.
pub const CONNECTION_TEST_TIMEOUT: Duration = Duration::from_secs(15);

/// One matching file, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedFile {
    pub name: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub over_limit: bool,
}

/// The files a prefix and pattern select.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileListing {
    pub files: Vec<ListedFile>,
    /// Matching files in all (before `limit`).
    pub count: usize,
    pub prefix: String,
    pub pattern: String,
    pub max_file_size: u64,
    /// When nothing matches: what was found instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// When nothing matches: a broader pattern to try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
    /// The table name the pattern suggests (`transactions_*.csv` → `transactions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_table: Option<String>,
    /// What the listing skipped and why (a folder it cannot read, a link that loops).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ListedFile {
    /// A listed file as people see it, marked if it is over the size limit `max`.
    fn of(f: sluice_core::storage::FileEntry, max: u64) -> Self {
        Self {
            over_limit: f.size > max,
            name: f.path,
            size: f.size,
            last_modified: f.last_modified,
        }
    }
}

/// What a connection or job name may be, as a regular expression (for forms).
pub const NAME_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// Names of connections and jobs: 1–64 letters, digits, `-` and `_` ([`NAME_PATTERN`]).
pub fn validate_name(kind: crate::error::Kind, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!("invalid {kind} name '{name}': use 1–64 letters, digits, '-' and '_'"),
        ))
    }
}

/// The connections of one catalog.
#[derive(Clone)]
pub(crate) struct Connections {
    catalog: Arc<dyn ConnectionCatalog>,
    keys: Arc<Keyring>,
    /// Hidden from every local connection.
    data_dir: PathBuf,
    /// Where local connections may point, when confined (see [`crate::access`]).
    pub(crate) access: Option<LocalAccess>,
}

impl Connections {
    pub(crate) fn new(
        catalog: Arc<dyn ConnectionCatalog>,
        keys: Arc<Keyring>,
        data_dir: &Path,
    ) -> Self {
        Self {
            catalog,
            keys,
            data_dir: data_dir.to_path_buf(),
            access: None,
        }
    }

    /// Refuses a local folder in the data directory, or outside the allowed roots.
    fn check_access(&self, config: &ConnectionConfig) -> Result<()> {
        if let ConnectionConfig::Local(local) = config {
            check_not_data_dir(&local.path, &self.data_dir)?;
            if let Some(access) = &self.access {
                access.check_folder(&local.path)?;
            }
        }
        Ok(())
    }

    /// Adds a connection after validating its settings; credentials are sealed before they
    /// are stored.
    pub(crate) async fn add(
        &self,
        name: &str,
        config: ConnectionConfig,
    ) -> Result<ConnectionRecord> {
        validate_name(crate::error::Kind::Connection, name)?;
        check_config(&config)?;
        self.check_access(&config)?;
        let sealed = self.keys.seal_connection(name, &config);
        Ok(redact(self.catalog.add_connection(name, &sealed).await?))
    }

    pub(crate) async fn add_url(
        &self,
        name: &str,
        url: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<ConnectionRecord> {
        self.add(name, ConnectionConfig::from_url(url, options)?)
            .await
    }

    /// Replaces a connection's settings. Credentials sent back as `••••` keep their stored value.
    pub(crate) async fn update(
        &self,
        name: &str,
        config: ConnectionConfig,
    ) -> Result<ConnectionRecord> {
        let record = self.catalog.connection(name).await?;
        let previous = self.keys.open_connection(&record)?;
        let config = config.keep_secrets_from(&previous);
        check_config(&config)?;
        self.check_access(&config)?;
        self.catalog
            .update_connection(record.id, &self.keys.seal_connection(name, &config))
            .await?;
        self.get(name).await
    }

    /// Connections with credentials redacted.
    pub(crate) async fn list(&self) -> Result<Vec<ConnectionRecord>> {
        Ok(self
            .catalog
            .list_connections()
            .await?
            .into_iter()
            .map(redact)
            .collect())
    }

    pub(crate) async fn get(&self, name: &str) -> Result<ConnectionRecord> {
        Ok(redact(self.catalog.connection(name).await?))
    }

    pub(crate) async fn delete(&self, name: &str) -> Result<()> {
        self.catalog.delete_connection(name).await
    }

    /// Opens a stored connection; the data directory is hidden from it.
    pub(crate) async fn store(&self, name: &str) -> Result<Store> {
        let record = self.catalog.connection(name).await?;
        let config = self.keys.open_connection(&record)?;
        Ok(config
            .build()
            .map_err(|e| Error::invalid_input(format!("connection '{name}': {e}")))?
            .hiding(&self.data_dir))
    }

    /// Lists one page at the connection's root, within [`CONNECTION_TEST_TIMEOUT`].
    pub(crate) async fn test(&self, name: &str) -> Result<usize> {
        let store = self.store(name).await?;
        match tokio::time::timeout(CONNECTION_TEST_TIMEOUT, store.check()).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(Error::Timeout(format!(
                "connection '{name}' did not answer within {}s; check the endpoint and the network",
                CONNECTION_TEST_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Lists matching files newest first; `limit` caps how many are returned.
    pub(crate) async fn list_files(
        &self,
        connection: &str,
        prefix: &str,
        pattern: &str,
        limit: Option<usize>,
        max_file_size: Option<u64>,
    ) -> Result<FileListing> {
        let store = self.store(connection).await?;
        let pattern = FilePattern::new(prefix, pattern)?;
        let mut listing = store.list(&pattern).await?;
        let max = max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
        let nothing = listing
            .files
            .is_empty()
            .then(|| no_match(&listing, &pattern));
        let count = listing.files.len();
        let warnings = std::mem::take(&mut listing.warnings);
        let files = listing
            .files
            .into_iter()
            .take(limit.unwrap_or(usize::MAX))
            .map(|f| ListedFile::of(f, max))
            .collect();
        let (suggestion, hint) = match nothing {
            Some(e @ Error::NoFiles { .. }) => (Some(e.to_string()), e.hint().cloned()),
            _ => (None, None),
        };
        Ok(FileListing {
            files,
            count,
            prefix: pattern.prefix().to_string(),
            pattern: pattern.glob().to_string(),
            max_file_size: max,
            suggestion,
            hint,
            suggested_table: Some(pattern.table_stem()).filter(|t| !t.is_empty()),
            warnings,
        })
    }

    /// One page of matching files in name order, after `after` (the previous page's
    /// `next_cursor`): only this page's objects are listed from the store.
    pub(crate) async fn list_files_page(
        &self,
        connection: &str,
        prefix: &str,
        pattern: &str,
        after: Option<&str>,
        limit: usize,
        max_file_size: Option<u64>,
    ) -> Result<(FileListing, Option<String>)> {
        let store = self.store(connection).await?;
        let pattern = FilePattern::new(prefix, pattern)?;
        let page = store
            .list_page(&pattern, after.filter(|a| !a.is_empty()), limit)
            .await?;
        let max = max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
        let files: Vec<ListedFile> = page
            .files
            .into_iter()
            .map(|f| ListedFile::of(f, max))
            .collect();
        Ok((
            FileListing {
                count: files.len(),
                files,
                prefix: pattern.prefix().to_string(),
                pattern: pattern.glob().to_string(),
                max_file_size: max,
                suggestion: None,
                hint: None,
                suggested_table: Some(pattern.table_stem()).filter(|t| !t.is_empty()),
                warnings: page.warnings,
            },
            page.next,
        ))
    }

    /// Detects the schema of one file (`path` relative to the connection's root).
    pub(crate) async fn detect(
        &self,
        connection: &str,
        path: &str,
        options: Option<FormatOptions>,
    ) -> Result<DetectedSchema> {
        let store = self.store(connection).await?;
        let file = store.head(path).await?;
        let options = FormatOptions::for_file(options, &file.path)?;
        Ok(format::detect(&store, &file, &options).await?)
    }
}

fn redact(mut r: ConnectionRecord) -> ConnectionRecord {
    r.config = r.config.redacted();
    r
}

fn check_config(config: &ConnectionConfig) -> Result<()> {
    let errors = config.validate();
    if !errors.is_empty() {
        return Err(Error::InvalidFields(errors));
    }
    config.build()?;
    Ok(())
}

/// Says that nothing matched and what was there instead, with a broader pattern to try.
pub fn no_match(listing: &Listing, pattern: &FilePattern) -> Error {
    let place = if pattern.list_prefix().is_empty() {
        "the connection's root".to_string()
    } else {
        format!("'{}/'", pattern.list_prefix())
    };
    if listing.scanned == 0 {
        return Error::NoFiles {
            message: format!(
                "no files matching '{}' under {place}: the folder is empty or does not exist",
                pattern.glob()
            ),
            hint: Some(Hint::set("check the prefix", "file_path_prefix", None)),
        };
    }
    let ext = listing
        .other_names
        .first()
        .and_then(|n| n.rsplit('/').next())
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_string()));
    let broader = match ext {
        Some(e) => format!("*.{e}"),
        None => "*".to_string(),
    };
    Error::NoFiles {
        message: format!(
            "no files matching '{}' under {place} ({} other file(s) there, e.g. {})",
            pattern.glob(),
            listing.scanned,
            listing
                .other_names
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        hint: Some(Hint::set(
            format!("try the pattern '{broader}'"),
            "file_pattern",
            Some(&broader),
        )),
    }
}
