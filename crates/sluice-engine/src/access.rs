//! What the callers of a server may reach on its machine.
//!
//! The CLI is run by the operator, who may point a connection at any folder. `sluice serve`
//! takes requests from whoever holds its token, so it confines what they can name: local
//! connections to the folders the operator allows ([`LOCAL_ROOTS_ENV`], `--local-root`),
//! DuckDB files to the data directory and the folders allowed for them
//! ([`DUCKDB_ROOTS_ENV`], `--duckdb-root`). Whoever made a connection, sluice's data
//! directory (the secret key, the catalog) is never read through it.

use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Folders local connections made through the server may point into, separated by `:`.
pub const LOCAL_ROOTS_ENV: &str = "SLUICE_LOCAL_ROOTS";
/// Folders, besides the data directory, DuckDB files named through the server may be in.
pub const DUCKDB_ROOTS_ENV: &str = "SLUICE_DUCKDB_ROOTS";

/// The folders a server's callers may name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalAccess {
    /// Where local connections may point.
    pub local_roots: Vec<PathBuf>,
    /// Where DuckDB files may be, besides the data directory.
    pub duckdb_roots: Vec<PathBuf>,
}

impl LocalAccess {
    /// Refuses a local connection's folder outside the allowed roots.
    pub(crate) fn check_folder(&self, folder: &Path) -> Result<()> {
        if within(folder, &self.local_roots) {
            return Ok(());
        }
        let allowed = if self.local_roots.is_empty() {
            "none are allowed".to_string()
        } else {
            format!("the allowed folders are {}", list(&self.local_roots))
        };
        Err(Error::invalid(
            "path",
            format!(
                "{} is not inside a folder this server may read ({allowed}); the operator allows folders with `sluice serve --local-root DIR` or {LOCAL_ROOTS_ENV}, or adds the connection with the CLI",
                folder.display()
            ),
        ))
    }

    /// Refuses a DuckDB file outside the data directory and the allowed roots.
    pub(crate) fn check_duckdb(&self, file: &Path, data_dir: &Path) -> Result<()> {
        let mut roots = vec![data_dir.to_path_buf()];
        roots.extend(self.duckdb_roots.iter().cloned());
        if within(file, &roots) {
            return Ok(());
        }
        Err(Error::invalid(
            "destination.path",
            format!(
                "{} is outside the folders this server may write DuckDB files in ({}); use a path inside the data directory (a relative path is), or the operator allows a folder with `sluice serve --duckdb-root DIR` or {DUCKDB_ROOTS_ENV}",
                file.display(),
                list(&roots)
            ),
        ))
    }
}

fn list(roots: &[PathBuf]) -> String {
    roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a local connection's folder inside the data directory, whoever asks.
pub(crate) fn check_not_data_dir(folder: &Path, data_dir: &Path) -> Result<()> {
    if within(folder, &[data_dir.to_path_buf()]) {
        return Err(Error::invalid(
            "path",
            format!(
                "{} is inside sluice's data directory ({}), which no connection reads: it holds the secret key and the catalog",
                folder.display(),
                data_dir.display()
            ),
        ));
    }
    Ok(())
}

/// Whether `path` is (inside) one of `roots` once `..` and links are resolved, however much
/// of it exists yet.
pub(crate) fn within(path: &Path, roots: &[PathBuf]) -> bool {
    let path = resolve(path);
    roots.iter().any(|r| path.starts_with(resolve(r)))
}

/// The path with `.` and `..` taken out and links resolved in the part that exists.
pub fn resolve(path: &Path) -> PathBuf {
    let mut lexical = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    // Resolve the longest existing ancestor; keep the rest as written.
    let mut rest = Vec::new();
    let mut existing = lexical.clone();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return lexical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_judged_after_dots_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("drops");
        std::fs::create_dir_all(root.join("in")).unwrap();
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        let roots = [root.clone()];
        assert!(within(&root.join("in"), &roots));
        assert!(within(&root.join("not/yet/made"), &roots));
        assert!(!within(&root.join("../other"), &roots));
        assert!(!within(&root.join("in/../../other"), &roots));
        assert!(!within(Path::new("/"), &roots));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("other"), root.join("out")).unwrap();
            assert!(!within(&root.join("out"), &roots), "a link out is outside");
            assert!(!within(&root.join("out/new"), &roots));
        }
        let access = LocalAccess {
            local_roots: roots.to_vec(),
            duckdb_roots: vec![],
        };
        assert!(access.check_folder(&root.join("in")).is_ok());
        let err = access.check_folder(Path::new("/etc")).unwrap_err();
        assert_eq!(err.field(), Some("path"));
        assert!(err.to_string().contains("--local-root"), "{err}");
        let data = dir.path().join("data");
        assert!(access.check_duckdb(&data.join("w.duckdb"), &data).is_ok());
        let err = access
            .check_duckdb(&data.join("../../w.duckdb"), &data)
            .unwrap_err();
        assert_eq!(err.field(), Some("destination.path"));
    }
}
