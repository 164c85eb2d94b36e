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
            let local = Arc::clone(local);
            let under = pattern.list_prefix();
            let walked = tokio::task::spawn_blocking(move || local.walk(&under))
                .await
                .map_err(|e| {
                    Error::storage(
                        self.url.as_str(),
                        object_store::Error::JoinError { source: e },
                    )
                })?;
            let (found, skipped) = walked.map_err(|e| {
                Error::storage(
                    self.url.as_str(),
                    object_store::Error::Generic {
                        store: "local",
                        source: Box::new(e),
                    },
                )
            })?;
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
            let local = Arc::clone(local);
            let under = pattern.list_prefix();
            let (mut found, skipped) = tokio::task::spawn_blocking(move || local.walk(&under))
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
                })?;
            found.sort_by(|a, b| a.0.cmp(&b.0));
            page.warnings = skipped;
            for (path, meta) in found
                .into_iter()
                .filter(|(p, _)| after.is_none_or(|a| p.as_str() > a))
            {
                page.scanned += 1;
                if pattern.matches(&path) {
                    page.files.push(self.entry(path.clone(), meta));
                }
                if page.files.len() == limit || page.scanned == PAGE_SCAN_LIMIT {
                    page.next = Some(path);
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
            page.scanned += 1;
            let path = self.relative(&meta.location);
            if pattern.matches(&path) {
                page.files.push(self.entry(path.clone(), meta));
            }
            if page.files.len() == limit || page.scanned == PAGE_SCAN_LIMIT {
                page.next = Some(path);
                break;
            }
        }
        Ok(page)
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
            let now = store
                .head(&location)
                .await
                .map_err(|e| Error::storage(&listed.path, e))?;
            // Listings and HEADs quote ETags differently (Azure, GCS).
            let tag = |t: &Option<String>| {
                t.as_deref()
                    .map(|t| t.trim_start_matches("W/").trim_matches('"').to_string())
            };
            if tag(&now.e_tag) != tag(&listed.e_tag) || now.size != listed.size {
                return Err(Error::Changed { path: listed.path });
            }
            Ok(Bytes::new())
        })
        .try_filter(|b| futures::future::ready(!b.is_empty()));
        Ok(Box::pin(bytes.chain(recheck)))
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
            checksum: None,
        };
        assert_eq!(f.version_key(), "3@1000000");
        f.e_tag = Some("\"abc\"".into());
        assert_eq!(f.version_key(), "etag:abc");
        f.version = Some("7".into());
        assert_eq!(f.version_key(), "v:7");
    }

    #[test]
    fn s3_and_gcs_etags_that_are_md5s_are_checksums() {
        let md5 = "md5:bc9280dfc1d4e67233f138f5bbbf0951";
        assert_eq!(
            checksum_of("s3", Some("\"BC9280DFC1D4E67233F138F5BBBF0951\"")).as_deref(),
            Some(md5)
        );
        assert_eq!(
            checksum_of("gs", Some("vJKA38HU5nIz8Tj1u78JUQ==")).as_deref(),
            Some(md5)
        );
        // Multipart uploads, other stores, and a base64 tag where S3 never writes one.
        assert_eq!(
            checksum_of("s3", Some("\"bc9280dfc1d4e67233f138f5bbbf0951-3\"")),
            None
        );
        assert_eq!(
            checksum_of("az", Some("\"bc9280dfc1d4e67233f138f5bbbf0951\"")),
            None
        );
        assert_eq!(
            checksum_of("file", Some("bc9280dfc1d4e67233f138f5bbbf0951")),
            None
        );
        assert_eq!(checksum_of("s3", Some("vJKA38HU5nIz8Tj1u78JUQ==")), None);
    }

    #[tokio::test]
    async fn a_file_rewritten_after_its_listing_is_not_read_as_the_listed_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "id\n1\n").unwrap();
        let store = local(dir.path());
        let pattern = FilePattern::new("", "*.csv").unwrap();
        let listed = store.list(&pattern).await.unwrap().files[0].clone();
        let hash = store.content_hash(&listed).await.unwrap();
        assert_eq!(hash, "md5:bc9280dfc1d4e67233f138f5bbbf0951");
        std::fs::write(dir.path().join("a.csv"), "id\n1\n2\n").unwrap();
        assert!(store.read_head(&listed, 10).await.unwrap_err().is_changed());
        assert!(store.content_hash(&listed).await.unwrap_err().is_changed());
        let now = store.list(&pattern).await.unwrap().files[0].clone();
        assert_ne!(now.version_key(), listed.version_key());
        assert!(store.content_hash(&now).await.is_ok());
    }

    #[tokio::test]
    async fn pages_list_in_name_order_from_a_start_after_key() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("f_{i}.csv")), "x\n").unwrap();
        }
        std::fs::write(dir.path().join("other.txt"), "x\n").unwrap();
        let store = local(dir.path());
        let pattern = FilePattern::new("", "f_*.csv").unwrap();
        let one = store.list_page(&pattern, None, 2).await.unwrap();
        let names = |p: &Page| p.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
        assert_eq!(names(&one), vec!["f_0.csv", "f_1.csv"]);
        assert_eq!(one.next.as_deref(), Some("f_1.csv"));
        let two = store
            .list_page(&pattern, one.next.as_deref(), 10)
            .await
            .unwrap();
        assert_eq!(names(&two), vec!["f_2.csv", "f_3.csv", "f_4.csv"]);
        assert_eq!(two.next, None);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_local_listing_skips_what_it_cannot_list_with_a_warning() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("in/sub")).unwrap();
        std::fs::write(dir.path().join("in/a 1%.csv"), "x\n1\n").unwrap();
        std::fs::write(dir.path().join("in/sub/b.csv"), "x\n2\n").unwrap();
        // A link back up, a link to nothing, a name that is not UTF-8.
        std::os::unix::fs::symlink(dir.path().join("in"), dir.path().join("in/sub/up")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("in/dead.csv"))
            .unwrap();
        let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.csv");
        std::fs::write(dir.path().join("in").join(bad), "x\n3\n").unwrap();
        let store = local(dir.path());
        let listing = store
            .list(&FilePattern::new("in", "*.csv").unwrap())
            .await
            .unwrap();
        let mut names: Vec<&str> = listing.files.iter().map(|f| f.path.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, vec!["in/a 1%.csv", "in/sub/b.csv"]);
        let warnings = listing.warnings.join("\n");
        assert!(warnings.contains("loops back"), "{warnings}");
        assert!(warnings.contains("not UTF-8"), "{warnings}");
        assert!(warnings.contains("does not exist"), "{warnings}");
        // A listed file opens by the name it was listed under, with the same version.
        let listed = listing.files.iter().find(|f| f.path.contains('%')).unwrap();
        let head = store.head(&listed.path).await.unwrap();
        assert_eq!(head.version_key(), listed.version_key());
        assert_eq!(
            store.read_head(listed, 100).await.unwrap().as_ref(),
            b"x\n1\n"
        );
    }

    #[tokio::test]
    async fn a_hidden_folder_is_neither_listed_nor_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/secret.key"), "k").unwrap();
        std::fs::write(dir.path().join("t.csv"), "x\n1\n").unwrap();
        let store = local(dir.path()).hiding(&dir.path().join("data"));
        let listing = store
            .list(&FilePattern::new("", "*").unwrap())
            .await
            .unwrap();
        let names: Vec<&str> = listing.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, vec!["t.csv"]);
        let err = store.head("data/secret.key").await.unwrap_err();
        assert!(err.to_string().contains("data directory"), "{err}");
        let err = store.head("./data/../data/secret.key").await.unwrap_err();
        assert!(err.to_string().contains("data directory"), "{err}");
    }
}
