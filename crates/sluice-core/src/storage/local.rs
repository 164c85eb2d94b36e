//! A folder on this machine (`file:///data/landing`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::{ObjectMeta, ObjectStore};
use serde::{Deserialize, Serialize};
use url::Url;
use walkdir::WalkDir;

use super::config::{Built, Options, invalid_url};
use crate::Result;
use crate::fields::{Field, FieldError};

/// A folder on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    pub path: PathBuf,
}

pub(super) const FIELDS: &[Field] = &[Field::text("path", "Folder")
    .hint("an absolute path on the server")
    .placeholder("/data/landing")
    .required()];

impl LocalConfig {
    pub(super) fn from_url(url: &str, parsed: &Url, _options: &Options<'_>) -> Result<Self> {
        let path = parsed
            .to_file_path()
            .map_err(|()| invalid_url(url, "expected file:///absolute/path"))?;
        Ok(Self { path })
    }

    pub(super) fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    pub(super) fn validate(&self, errors: &mut Vec<FieldError>) {
        if !self.path.is_absolute() {
            errors.push(FieldError::new("path", "use an absolute path"));
        } else if !self.path.is_dir() {
            errors.push(FieldError::new(
                "path",
                format!(
                    "the folder {} does not exist; create it first",
                    self.path.display()
                ),
            ));
        }
    }

    pub(super) fn build(&self) -> std::result::Result<Built, String> {
        let fs = object_store::local::LocalFileSystem::new_with_prefix(&self.path)
            .map_err(|e| e.to_string())?;
        Ok((Arc::new(fs) as Arc<dyn ObjectStore>, String::new()))
    }

    pub(super) fn map_secrets<E>(
        &self,
        _f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    ) -> std::result::Result<Self, E> {
        Ok(self.clone())
    }
}

/// A local connection's folder, as listings and reads see it: resolved (symbolic links
/// followed), with folders no connection may read (sluice's own data directory).
#[derive(Debug, Clone)]
pub(super) struct LocalDir {
    root: PathBuf,
    hidden: Vec<PathBuf>,
}

/// Files found (path relative to the root, as named on disk; metadata) and warnings.
pub(super) type Walked = (Vec<(String, ObjectMeta)>, Vec<String>);

/// Why a path is refused: it is inside a hidden folder.
pub(super) const HIDDEN: &str = "this is inside sluice's data directory, which no connection reads";

impl LocalDir {
    pub(super) fn new(root: &Path) -> Self {
        Self {
            root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            hidden: Vec::new(),
        }
    }

    pub(super) fn hide(&mut self, dir: &Path) {
        self.hidden
            .push(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
    }

    fn is_hidden(&self, resolved: &Path) -> bool {
        self.hidden.iter().any(|h| resolved.starts_with(h))
    }

    /// Whether a file (relative to the root) may be read: it resolves outside every hidden
    /// folder. A path that does not resolve is left for the read to report.
    pub(super) fn readable(&self, relative: &str) -> bool {
        match std::fs::canonicalize(self.root.join(relative)) {
            Ok(resolved) => !self.is_hidden(&resolved),
            Err(_) => !self.is_hidden(&self.root.join(relative)),
        }
    }

    /// Every file under `under` (a folder relative to the root), with the warnings of what
    /// was skipped: folders that cannot be read, links that loop or lead nowhere, names that
    /// are not UTF-8, hidden folders. Only the start folder being unreadable fails.
    /// Files come with their path relative to the root, as named on disk.
    pub(super) fn walk(&self, under: &str) -> std::io::Result<Walked> {
        let start = under
            .split('/')
            .filter(|s| !s.is_empty())
            .fold(self.root.clone(), |p, s| p.join(s));
        match std::fs::metadata(&start) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Ok((Vec::new(), Vec::new())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new()));
            }
            Err(e) => return Err(e),
        }
        std::fs::read_dir(&start)?;
        let mut files = Vec::new();
        let mut warnings = Vec::new();
        let mut resolved_dirs: HashMap<PathBuf, PathBuf> = HashMap::new();
        let mut it = WalkDir::new(&start)
            .follow_links(true)
            .min_depth(1)
            .into_iter();
        while let Some(entry) = it.next() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(skipped(&self.root, &e));
                    continue;
                }
            };
            let Some(relative) = relative_name(&self.root, entry.path()) else {
                warnings.push(format!(
                    "skipped {}: its name is not UTF-8; rename it to load it",
                    entry.path().display()
                ));
                if entry.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            };
            if entry.file_type().is_dir() {
                let resolved = std::fs::canonicalize(entry.path())
                    .unwrap_or_else(|_| entry.path().to_path_buf());
                if self.is_hidden(&resolved) {
                    it.skip_current_dir();
                } else {
                    resolved_dirs.insert(entry.path().to_path_buf(), resolved);
                }
                continue;
            }
            if !entry.file_type().is_file() {
                continue;
            }
            let resolved = if entry.path_is_symlink() {
                std::fs::canonicalize(entry.path()).ok()
            } else {
                let parent = entry.path().parent().unwrap_or(&start);
                resolved_dirs
                    .get(parent)
                    .cloned()
                    .or_else(|| std::fs::canonicalize(parent).ok())
                    .map(|p| p.join(entry.file_name()))
            };
            if resolved.as_deref().is_none_or(|r| self.is_hidden(r)) {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    warnings.push(skipped(&self.root, &e));
                    continue;
                }
            };
            let location = super::key(relative.split('/'));
            if !valid_file_name(&location) {
                continue;
            }
            files.push((
                relative,
                ObjectMeta {
                    location,
                    last_modified: meta
                        .modified()
                        .map(chrono::DateTime::<chrono::Utc>::from)
                        .unwrap_or_default(),
                    size: meta.len(),
                    e_tag: Some(e_tag(&meta)),
                    version: None,
                },
            ));
        }
        Ok((files, warnings))
    }
}

/// `path` relative to `root`, with `/` between folders; `None` when a name is not UTF-8.
fn relative_name(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rest.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn skipped(root: &Path, e: &walkdir::Error) -> String {
    let at = e
        .path()
        .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
        .unwrap_or_default();
    if e.loop_ancestor().is_some() {
        return format!("skipped {at}: a folder link that loops back to a folder above it");
    }
    match e.io_error().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::PermissionDenied) => {
            format!(
                "skipped {at}: permission denied; give sluice read access to load what is inside"
            )
        }
        Some(std::io::ErrorKind::NotFound) => {
            format!("skipped {at}: a link to something that does not exist")
        }
        _ => format!("skipped {at}: {e}"),
    }
}

/// As object_store's local store: its own partial uploads (`name#3`) are not files.
fn valid_file_name(location: &object_store::path::Path) -> bool {
    match location.filename() {
        Some(name) => match name.split_once('#') {
            Some((_, suffix)) if !suffix.is_empty() => !suffix.bytes().all(|b| b.is_ascii_digit()),
            _ => true,
        },
        None => false,
    }
}

/// The ETag object_store's local store gives the same file (inode, modification time in
/// microseconds, size), so a listed file and one opened by name have one version key.
fn e_tag(meta: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("\"{inode:x}-{mtime:x}-{:x}\"", meta.len())
}
