//! Connections to where files land, and listing them.
//!
//! There is no storage trait of our own: a connection URL (`file:///data/drop`,
//! `s3://bucket/prefix`, `gs://bucket`, `az://container`) plus options opens as an
//! [`object_store::ObjectStore`] and the root path under it. [`Store::list`] applies a
//! job's folder prefix and file-name glob and returns [`FileEntry`]s newest first.

mod azure;
pub mod config;
pub mod failure;
mod gcs;
mod local;
mod pattern;
mod s3;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use url::Url;

pub use config::{ConnectionConfig, PROVIDERS, ProviderInfo};
pub use failure::{FailureKind, classify};
pub use pattern::FilePattern;

use crate::{Error, Result};

/// A connection opened: the store and the path its URL points at.
#[derive(Clone)]
pub struct Store {
    store: Arc<dyn ObjectStore>,
    root: Path,
    url: Url,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url.as_str())
            .finish()
    }
}

/// One file found by a listing. `path` is relative to the connection's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl FileEntry {
    /// What tells two versions of a file under one path apart: the object version if the
    /// store keeps versions, else its ETag, else size and modification time.
    pub fn version_key(&self) -> String {
        match (&self.version, &self.e_tag) {
            (Some(v), _) => format!("v:{v}"),
            (None, Some(e)) => format!("etag:{}", e.trim_matches('"')),
            (None, None) => format!("{}@{}", self.size, self.last_modified.timestamp_micros()),
        }
    }

    /// The file's name without its folders.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// The result of a listing: matching files newest first, and how many objects were looked at.
#[derive(Debug, Clone)]
pub struct Listing {
    pub files: Vec<FileEntry>,
    pub scanned: usize,
    /// A few names of objects that did not match, to suggest a broader pattern.
    pub other_names: Vec<String>,
}

impl Store {
    /// Opens a connection URL with provider options (`region`, `endpoint`, …); see
    /// [`config::ConnectionConfig::from_url`].
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for an unparseable URL, an unknown scheme, a relative local
    /// path, or settings the provider rejects.
    pub fn open(url: &str, options: &BTreeMap<String, String>) -> Result<Self> {
        config::ConnectionConfig::from_url(url, options)?.build()
    }

    /// Wraps an existing store (tests, and stores built by other means).
    pub fn from_store(store: Arc<dyn ObjectStore>, root: Path, url: Url) -> Self {
        Self { store, root, url }
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The store's location of a path relative to the root.
    pub fn location(&self, relative: &str) -> Path {
        let mut parts: Vec<String> = self.root.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(
            relative
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        Path::from_iter(parts)
    }

    /// The URI another service reads a file by, for stores that have one: `gs://bucket/path`
    /// for Google Cloud Storage; `None` for the others.
    pub fn uri_of(&self, relative: &str) -> Option<String> {
        match (self.url.scheme(), self.url.host_str()) {
            ("gs", Some(bucket)) => Some(format!("gs://{bucket}/{}", self.location(relative))),
            _ => None,
        }
    }

    fn relative(&self, location: &Path) -> String {
        location
            .prefix_match(&self.root)
            .map(|parts| {
                parts
                    .map(|p| p.as_ref().to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_else(|| location.to_string())
    }

    /// Checks that the connection answers: lists one page at the root.
    ///
    /// Returns how many entries (files and folders) the first page held.
    pub async fn check(&self) -> Result<usize> {
        if self.url.scheme() == "file" {
            let dir = self.url.to_file_path().unwrap_or_default();
            match std::fs::metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(self.not_found("is not a folder")),
                Err(e) => return Err(self.not_found(&e.to_string())),
            }
        }
        let page = self
            .store
            .list_with_delimiter(Some(&self.root))
            .await
            .map_err(|e| Error::storage(self.url.as_str(), e))?;
        Ok(page.objects.len() + page.common_prefixes.len())
    }

    fn not_found(&self, why: &str) -> Error {
        Error::storage(
            self.url.as_str(),
            object_store::Error::NotFound {
                path: self.url.to_string(),
                source: why.to_string().into(),
            },
        )
    }

    /// Lists the files under `pattern`'s prefix whose names match it, newest first.
    ///
    /// Only the literal folders of prefix and pattern are sent to the store as the list
    /// prefix, so a narrow pattern does not list a whole bucket.
    pub async fn list(&self, pattern: &FilePattern) -> Result<Listing> {
        let list_prefix = self.location(&pattern.list_prefix());
        let mut stream = self.store.list(Some(&list_prefix));
        let mut files = Vec::new();
        let mut other_names = Vec::new();
        let mut scanned = 0;
        while let Some(meta) = stream
            .try_next()
            .await
            .map_err(|e| Error::storage(self.url.as_str(), e))?
        {
            scanned += 1;
            let path = self.relative(&meta.location);
            if pattern.matches(&path) {
                files.push(FileEntry {
                    path,
                    size: meta.size,
                    last_modified: meta.last_modified,
                    e_tag: meta.e_tag,
                    version: meta.version,
                });
            } else if other_names.len() < 5 {
                other_names.push(path);
            }
        }
        files.sort_by(|a, b| {
            b.last_modified
                .cmp(&a.last_modified)
                .then_with(|| b.path.cmp(&a.path))
        });
        Ok(Listing {
            files,
            scanned,
            other_names,
        })
    }

    /// The first `len` bytes of a file (fewer if it is shorter): one ranged read.
    pub async fn read_head(&self, file: &FileEntry, len: u64) -> Result<Bytes> {
        let end = len.min(file.size);
        if end == 0 {
            return Ok(Bytes::new());
        }
        self.store
            .get_range(&self.location(&file.path), 0..end)
            .await
            .map_err(|e| Error::storage(&file.path, e))
    }

    /// A file's metadata, for a path typed by a user.
    pub async fn head(&self, relative: &str) -> Result<FileEntry> {
        let meta = self
            .store
            .head(&self.location(relative))
            .await
            .map_err(|e| Error::storage(relative, e))?;
        Ok(FileEntry {
            path: self.relative(&meta.location),
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
            version: meta.version,
        })
    }

    /// The whole file as a stream of byte chunks: nothing is buffered beyond a chunk.
    pub async fn read_stream(
        &self,
        file: &FileEntry,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes>>> {
        let path = file.path.clone();
        let result = self
            .store
            .get(&self.location(&file.path))
            .await
            .map_err(|e| Error::storage(&file.path, e))?;
        Ok(Box::pin(
            result
                .into_stream()
                .map_err(move |e| Error::storage(path.clone(), e)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn local(dir: &std::path::Path) -> Store {
        let url = Url::from_directory_path(dir).unwrap();
        Store::open(url.as_str(), &BTreeMap::new()).unwrap()
    }

    #[tokio::test]
    async fn lists_recursively_newest_first_matching_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("in/2024")).unwrap();
        for (i, name) in [
            "in/a_1.csv",
            "in/2024/a_2.csv",
            "in/b.csv",
            "in/2024/a_3.json",
        ]
        .iter()
        .enumerate()
        {
            std::fs::write(dir.path().join(name), "x\n1\n").unwrap();
            let f = std::fs::File::options()
                .write(true)
                .open(dir.path().join(name))
                .unwrap();
            f.set_modified(
                std::time::SystemTime::UNIX_EPOCH
                    + Duration::from_secs(1_700_000_000 + i as u64 * 60),
            )
            .unwrap();
        }
        let store = local(dir.path());
        let listing = store
            .list(&FilePattern::new("in", "a_*.csv").unwrap())
            .await
            .unwrap();
        let paths: Vec<_> = listing.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["in/2024/a_2.csv", "in/a_1.csv"]);
        assert_eq!(listing.scanned, 4);
        assert_eq!(listing.files[0].size, 4);
    }

    #[tokio::test]
    async fn a_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let url = Url::from_directory_path(dir.path().join("nope")).unwrap();
        let err = Store::open(url.as_str(), &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nope") && err.contains("does not exist"),
            "{err}"
        );
        let store = local(dir.path());
        std::fs::remove_dir(dir.path()).unwrap();
        let err = store.check().await.unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }

    #[test]
    fn rejects_relative_and_unknown_urls() {
        let err = Store::open("ftp://host/x", &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported scheme 'ftp'"), "{err}");
        let err = Store::open("data/drop", &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected file:///absolute/path"), "{err}");
    }

    #[test]
    fn version_key_prefers_versions_then_etags() {
        let mut f = FileEntry {
            path: "a.csv".into(),
            size: 3,
            last_modified: DateTime::from_timestamp(1, 0).unwrap(),
            e_tag: None,
            version: None,
        };
        assert_eq!(f.version_key(), "3@1000000");
        f.e_tag = Some("\"abc\"".into());
        assert_eq!(f.version_key(), "etag:abc");
        f.version = Some("7".into());
        assert_eq!(f.version_key(), "v:7");
    }
}
