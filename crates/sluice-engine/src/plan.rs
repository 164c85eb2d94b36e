//! Which files a run takes, and why it leaves the others: a pure function of the listing,
//! the ledger and the job's strategy.

use std::collections::HashSet;

use sluice_core::storage::FileEntry;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Files to load, in load order (oldest first).
    pub take: Vec<FileEntry>,
    /// Files over the size limit, skipped.
    pub too_large: Vec<FileEntry>,
    /// Matching files already in the ledger as loaded.
    pub already_loaded: u64,
}

/// Plans a run over `listing` (newest first, as listed).
///
/// With `latest_only`, only the newest matching file is a candidate: if it is loaded there
/// is nothing to do, and older files are never loaded (backfills use all files). Otherwise
/// every file not yet loaded is taken, oldest first.
pub fn plan(
    listing: &[FileEntry],
    loaded: &HashSet<(String, String)>,
    latest_only: bool,
    max_file_size: u64,
) -> Plan {
    let is_loaded = |f: &FileEntry| loaded.contains(&(f.path.clone(), f.version_key()));
    let already_loaded = listing.iter().filter(|f| is_loaded(f)).count() as u64;
    let candidates: Vec<&FileEntry> = if latest_only {
        listing
            .first()
            .filter(|f| !is_loaded(f))
            .into_iter()
            .collect()
    } else {
        listing.iter().rev().filter(|f| !is_loaded(f)).collect()
    };
    let (too_large, take): (Vec<&FileEntry>, Vec<&FileEntry>) =
        candidates.into_iter().partition(|f| f.size > max_file_size);
    Plan {
        take: take.into_iter().cloned().collect(),
        too_large: too_large.into_iter().cloned().collect(),
        already_loaded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn file(path: &str, size: u64, minute: i64) -> FileEntry {
        FileEntry {
            path: path.into(),
            size,
            last_modified: DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap(),
            e_tag: Some(format!("{path}-v1")),
            version: None,
        }
    }

    fn listing() -> Vec<FileEntry> {
        vec![
            file("d3.csv", 10, 3),
            file("d2.csv", 500, 2),
            file("d1.csv", 10, 1),
        ]
    }

    fn loaded(files: &[&FileEntry]) -> HashSet<(String, String)> {
        files
            .iter()
            .map(|f| (f.path.clone(), f.version_key()))
            .collect()
    }

    #[test]
    fn latest_only_takes_the_newest_file_once() {
        let l = listing();
        let p = plan(&l, &HashSet::new(), true, 100);
        assert_eq!(p.take, vec![l[0].clone()]);
        let p = plan(&l, &loaded(&[&l[0]]), true, 100);
        assert!(p.take.is_empty() && p.too_large.is_empty());
        assert_eq!(p.already_loaded, 1);
    }

    #[test]
    fn all_takes_every_unloaded_file_oldest_first_and_skips_large_ones() {
        let l = listing();
        let p = plan(&l, &loaded(&[&l[2]]), false, 100);
        assert_eq!(p.take, vec![l[0].clone()]);
        assert_eq!(p.too_large, vec![l[1].clone()]);
        assert_eq!(p.already_loaded, 1);
        let p = plan(&l, &HashSet::new(), false, 1000);
        let order: Vec<&str> = p.take.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(order, vec!["d1.csv", "d2.csv", "d3.csv"]);
    }

    #[test]
    fn a_changed_file_is_a_new_version() {
        let l = listing();
        let mut changed = l.clone();
        changed[0].e_tag = Some("d3.csv-v2".into());
        let p = plan(&changed, &loaded(&[&l[0]]), true, 100);
        assert_eq!(p.take.len(), 1);
    }
}
