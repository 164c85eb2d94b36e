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
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use object_store::path::{Path, PathPart};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use url::Url;

pub use config::{ConnectionConfig, PROVIDERS, ProviderInfo};
pub use failure::{FailureKind, classify};
pub use pattern::FilePattern;

use crate::{Error, Result};

/// The object path of a key or file name's segments as they are (`data[1].csv`,
/// `50%.csv`): object_store's `From<&str>` would percent-encode such characters, naming
/// another object. Only `.`, `..` and control characters, which no stored name holds, are
/// encoded.
pub(crate) fn key<'a>(segments: impl IntoIterator<Item = &'a str>) -> Path {
    let raw: Vec<String> = segments
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| match PathPart::parse(s) {
            Ok(_) => s.to_string(),
            Err(_) => PathPart::from(s).as_ref().to_string(),
        })
        .collect();
    Path::parse(raw.join("/")).unwrap_or_else(|_| Path::from_iter(raw))
}

/// A connection opened: the store and the path its URL points at.
#[derive(Clone)]
pub struct Store {
    store: Arc<dyn ObjectStore>,
    root: Path,
    url: Url,
    /// A local folder is listed by sluice itself, which skips what it cannot read rather
    /// than failing, and hides folders no connection may read.
    local: Option<Arc<local::LocalDir>>,
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
    /// The content's checksum as the store gives it (`md5:<hex>`): an S3 or GCS ETag that
    /// is the MD5 of the object (single-part uploads, non-composite objects). `None` where
    /// the store gives none (local folders, Azure, multipart uploads); then the content is
    /// hashed while it is read ([`Store::content_hash`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// The MD5 of an object as S3 and GCS give it in its ETag: 32 hex digits, quoted (or, as
/// some GCS-compatible servers write it, the 16 bytes in base64). ETags of other stores,
/// multipart uploads (`…-3`) and composite objects are not checksums.
fn checksum_of(scheme: &str, e_tag: Option<&str>) -> Option<String> {
    use base64::Engine as _;
    if !matches!(scheme, "s3" | "gs") {
        return None;
    }
    let tag = e_tag?.trim_matches('"');
    if tag.len() == 32 && tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(format!("md5:{}", tag.to_ascii_lowercase()));
    }
    match base64::engine::general_purpose::STANDARD.decode(tag) {
        Ok(bytes) if scheme == "gs" && bytes.len() == 16 => Some(md5_identity(&bytes)),
        _ => None,
    }
}

/// How a content hash computed by sluice is written: the same form as the stores' own, so
/// the two compare.
pub fn md5_identity(digest: &[u8]) -> String {
    let mut s = String::with_capacity(4 + digest.len() * 2);
    s.push_str("md5:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl FileEntry {
    /// Options that pin a read to this version of the file: its ETag (and the store's
    /// object version, where it keeps versions). A read of a file that changed since it was
    /// listed fails with [`Error::Changed`] instead of returning other bytes.
    pub fn pinned(&self) -> GetOptions {
        GetOptions {
            if_match: self.e_tag.clone(),
            version: self.version.clone(),
            ..GetOptions::default()
        }
    }

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
    /// What was skipped and why: a folder that cannot be read, a link that loops, a name
    /// that is not UTF-8 (local folders).
    pub warnings: Vec<String>,
}

/// One page of a listing in key (name) order, and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page {
    pub files: Vec<FileEntry>,
    /// The start-after key of the next page (a path relative to the connection), if the
    /// listing did not end.
    pub next: Option<String>,
    /// Objects looked at for this page.
    pub scanned: usize,
    pub warnings: Vec<String>,
}

/// At most this many objects are looked at for one page, however few of them match, so a
/// page answers in bounded time.
pub const PAGE_SCAN_LIMIT: usize = 10_000;

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
        let local = (url.scheme() == "file")
            .then(|| url.to_file_path().ok())
            .flatten()
            .map(|dir| Arc::new(local::LocalDir::new(&dir)));
        Self {
            store,
            root,
            url,
            local,
        }
    }

    /// Hides a local folder from this connection: it is not listed, and its files are not
    /// read, however a path or link leads there (sluice's data directory, with the secret
    /// key and the catalog). No effect on other stores.
    pub fn hiding(mut self, dir: &std::path::Path) -> Self {
        if let Some(local) = &self.local {
            let mut local = local.as_ref().clone();
            local.hide(dir);
            self.local = Some(Arc::new(local));
        }
        self
    }

    /// Refuses a file of a hidden folder.
    fn check_readable(&self, relative: &str) -> Result<()> {
        match &self.local {
            Some(local) if !local.readable(relative) => Err(Error::storage(
                relative,
                object_store::Error::PermissionDenied {
                    path: relative.to_string(),
                    source: local::HIDDEN.into(),
                },
            )),
            _ => Ok(()),
        }
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The store's location of a path relative to the root.
    pub fn location(&self, relative: &str) -> Path {
        key(self.root.as_ref().split('/').chain(relative.split('/')))
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
        let mut listing = Listing {
            files: Vec::new(),
            scanned: 0,
            other_names: Vec::new(),
            warnings: Vec::new(),
        };
        let mut consider = |path: String, meta: object_store::ObjectMeta| {
            listing.scanned += 1;
            if pattern.matches(&path) {
                listing.files.push(self.entry(path, meta));
            } else if listing.other_names.len() < 5 {
                listing.other_names.push(path);
            }
        };
        let mut warnings = Vec::new();
        if let Some(local) = &self.local {
            let (found, skipped) = self.walk(local, pattern).await?;
            for (path, meta) in found {
                consider(path, meta);
            }
            warnings = skipped;
        } else {
            let mut stream = self
                .store
                .list(Some(&self.location(&pattern.list_prefix())));
            while let Some(meta) = stream
                .try_next()
                .await
                .map_err(|e| Error::storage(self.url.as_str(), e))?
            {
                consider(self.relative(&meta.location), meta);
            }
        }
        for w in &warnings {
            tracing::warn!(connection = %self.url, "{w}");
        }
        let Listing {
            mut files,
            scanned,
            other_names,
            ..
        } = listing;
        files.sort_by(|a, b| {
            b.last_modified
                .cmp(&a.last_modified)
                .then_with(|| b.path.cmp(&a.path))
        });
        Ok(Listing {
            files,
            scanned,
            other_names,
            warnings,
        })
    }

    fn entry(&self, path: String, meta: object_store::ObjectMeta) -> FileEntry {
        FileEntry {
            path,
            size: meta.size,
            last_modified: meta.last_modified,
            checksum: checksum_of(self.url.scheme(), meta.e_tag.as_deref()),
            e_tag: meta.e_tag,
            version: meta.version,
        }
    }

    /// A page of matching files in key order, after the key `after` (start-after, as the
    /// stores' own listings take it): at most `limit` files, from at most
    /// [`PAGE_SCAN_LIMIT`] objects. Only this page's objects are fetched from the store.
    pub async fn list_page(
        &self,
        pattern: &FilePattern,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let limit = limit.max(1);
        let mut page = Page {
            files: Vec::new(),
            next: None,
            scanned: 0,
            warnings: Vec::new(),
        };
        if let Some(local) = &self.local {
            // A local folder is walked (it cannot be listed from a key), then cut.
            let (mut found, skipped) = self.walk(local, pattern).await?;
            found.sort_by(|a, b| a.0.cmp(&b.0));
            page.warnings = skipped;
            for (path, meta) in found
                .into_iter()
                .filter(|(p, _)| after.is_none_or(|a| p.as_str() > a))
            {
                if self.add_to_page(&mut page, pattern, path, meta, limit) {
                    break;
                }
            }
            return Ok(page);
        }
        let prefix = self.location(&pattern.list_prefix());
        let mut stream = match after {
            Some(a) => self
                .store
                .list_with_offset(Some(&prefix), &self.location(a)),
            None => self.store.list(Some(&prefix)),
        };
        while let Some(meta) = stream
            .try_next()
            .await
            .map_err(|e| Error::storage(self.url.as_str(), e))?
        {
            let path = self.relative(&meta.location);
            if self.add_to_page(&mut page, pattern, path, meta, limit) {
                break;
            }
        }
        Ok(page)
    }

    /// Looks at one object for a page; true once the page is full (its `next` set).
    fn add_to_page(
        &self,
        page: &mut Page,
        pattern: &FilePattern,
        path: String,
        meta: object_store::ObjectMeta,
        limit: usize,
    ) -> bool {
        page.scanned += 1;
        if pattern.matches(&path) {
            page.files.push(self.entry(path.clone(), meta));
        }
        if page.files.len() == limit || page.scanned == PAGE_SCAN_LIMIT {
            page.next = Some(path);
            return true;
        }
        false
    }

    /// Walks a local folder under the pattern's literal prefix, off the async threads:
    /// its files and what was skipped, and why.
    async fn walk(
        &self,
        local: &Arc<local::LocalDir>,
        pattern: &FilePattern,
    ) -> Result<(Vec<(String, object_store::ObjectMeta)>, Vec<String>)> {
        let local = Arc::clone(local);
        let under = pattern.list_prefix();
        tokio::task::spawn_blocking(move || local.walk(&under))
            .await
            .map_err(|e| {
                Error::storage(
                    self.url.as_str(),
                    object_store::Error::JoinError { source: e },
                )
            })?
            .map_err(|e| {
                Error::storage(
                    self.url.as_str(),
                    object_store::Error::Generic {
                        store: "local",
                        source: Box::new(e),
                    },
                )
            })
    }

    /// The first `len` bytes of a file (fewer if it is shorter): one ranged read, pinned to
    /// the version listed.
    pub async fn read_head(&self, file: &FileEntry, len: u64) -> Result<Bytes> {
        self.check_readable(&file.path)?;
        let end = len.min(file.size);
        if end == 0 {
            return Ok(Bytes::new());
        }
        self.read_range(file, 0..end).await
    }

    /// Bytes `range` of a file, pinned to the version listed.
    pub async fn read_range(&self, file: &FileEntry, range: std::ops::Range<u64>) -> Result<Bytes> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..file.pinned()
        };
        let result = self
            .store
            .get_opts(&self.location(&file.path), options)
            .await
            .map_err(|e| Error::storage(&file.path, e))?;
        result
            .bytes()
            .await
            .map_err(|e| Error::storage(&file.path, e))
    }

    /// The MD5 of a file's stored bytes (`md5:<hex>`), read as a stream pinned to the
    /// version listed: what tells a byte-identical redelivery from a new version where the
    /// store gives no checksum.
    pub async fn content_hash(&self, file: &FileEntry) -> Result<String> {
        let mut stream = self.read_stream(file).await?;
        let mut hasher = Md5::new();
        while let Some(chunk) = stream.try_next().await? {
            hasher.update(&chunk);
        }
        Ok(md5_identity(&hasher.finalize()))
    }

    /// A file's metadata, for a path typed by a user.
    pub async fn head(&self, relative: &str) -> Result<FileEntry> {
        self.check_readable(relative)?;
        let meta = self
            .store
            .head(&self.location(relative))
            .await
            .map_err(|e| Error::storage(relative, e))?;
        Ok(self.entry(self.relative(&meta.location), meta))
    }

    /// Whether `file` is still the version listed: [`Error::Changed`] if it was rewritten
    /// since. A destination that reads a file itself asks this before it commits the rows.
    pub async fn still_listed(&self, file: &FileEntry) -> Result<()> {
        self.check_readable(&file.path)?;
        still_listed(self.store.as_ref(), &self.location(&file.path), file).await
    }

    /// The whole file as a stream of byte chunks: nothing is buffered beyond a chunk.
    ///
    /// The read is pinned to the version listed: the store serves that version or refuses
    /// (`If-Match`), and once the stream is read to the end the file's version is asked
    /// again, so a file rewritten (or still being written) while it was read — on a local
    /// folder, or a store that does not honour `If-Match` — ends the stream with
    /// [`Error::Changed`] rather than a mix of its versions.
    pub async fn read_stream(
        &self,
        file: &FileEntry,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes>>> {
        self.check_readable(&file.path)?;
        let path = file.path.clone();
        let result = self
            .store
            .get_opts(&self.location(&file.path), file.pinned())
            .await
            .map_err(|e| Error::storage(&file.path, e))?;
        let bytes = result
            .into_stream()
            .map_err(move |e| Error::storage(path.clone(), e));
        let (store, location, listed) = (
            Arc::clone(&self.store),
            self.location(&file.path),
            file.clone(),
        );
        let recheck = futures::stream::once(async move {
            still_listed(store.as_ref(), &location, &listed).await?;
            Ok(Bytes::new())
        })
        .try_filter(|b| futures::future::ready(!b.is_empty()));
        Ok(Box::pin(bytes.chain(recheck)))
    }
}

/// [`Store::still_listed`] on the object store itself.
async fn still_listed(store: &dyn ObjectStore, location: &Path, listed: &FileEntry) -> Result<()> {
    let now = store
        .head(location)
        .await
        .map_err(|e| Error::storage(&listed.path, e))?;
    // Listings and HEADs quote ETags differently (Azure, GCS).
    let tag = |t: &Option<String>| {
        t.as_deref()
            .map(|t| t.trim_start_matches("W/").trim_matches('"').to_string())
    };
    if tag(&now.e_tag) != tag(&listed.e_tag) || now.size != listed.size {
        return Err(Error::Changed {
            path: listed.path.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
