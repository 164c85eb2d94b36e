//! Which files a run takes, and why it leaves the others: a pure function of the listing,
//! the ledger and the job's strategy.

use std::collections::HashSet;

use sluice_core::storage::FileEntry;

use crate::model::{LedgerStatus, ProcessedFile};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Files to load, in load order (oldest first).
    pub take: Vec<FileEntry>,
    /// Files over the size limit, skipped.
    pub too_large: Vec<FileEntry>,
    /// Matching files already in the ledger as loaded.
    pub already_loaded: u64,
    /// Matching files parked after failing the same way run after run, passed over.
    pub parked: u64,
}

/// The ledger as a plan reads it: file versions `(path, version)` loaded and parked.
#[derive(Debug, Clone, Default)]
pub struct Settled {
    pub loaded: HashSet<(String, String)>,
    pub parked: HashSet<(String, String)>,
}

impl Settled {
    pub fn of(ledger: &[ProcessedFile]) -> Self {
        let versions = |status: LedgerStatus| {
            ledger
                .iter()
                .filter(|p| p.status == status)
                .map(|p| (p.file_path.clone(), p.file_version.clone()))
                .collect()
        };
        Self {
            loaded: versions(LedgerStatus::Loaded),
            parked: versions(LedgerStatus::Parked),
        }
    }
}

/// Plans a run over `listing` (newest first, as listed).
///
/// With `latest_only`, the candidate is the newest matching file that can be loaded: parked
/// files and files over the size limit (reported) are passed over; if that newest file is
/// loaded there is nothing to do, and older files are never loaded (backfills use all
/// files). Otherwise every file neither loaded nor parked is taken, oldest first.
pub fn plan(
    listing: &[FileEntry],
    settled: &Settled,
    latest_only: bool,
    max_file_size: u64,
) -> Plan {
    let key = |f: &FileEntry| (f.path.clone(), f.version_key());
    let is_loaded = |f: &FileEntry| settled.loaded.contains(&key(f));
    let is_parked = |f: &FileEntry| settled.parked.contains(&key(f));
    let mut plan = Plan {
        already_loaded: listing.iter().filter(|f| is_loaded(f)).count() as u64,
        parked: listing.iter().filter(|f| is_parked(f)).count() as u64,
        ..Plan::default()
    };
    if latest_only {
        for f in listing.iter().filter(|f| !is_parked(f)) {
            if f.size > max_file_size && !is_loaded(f) {
                plan.too_large.push(f.clone());
                continue;
            }
            if !is_loaded(f) {
                plan.take.push(f.clone());
            }
            break;
        }
    } else {
        for f in listing
            .iter()
            .rev()
            .filter(|f| !is_loaded(f) && !is_parked(f))
        {
            if f.size > max_file_size {
                plan.too_large.push(f.clone());
            } else {
                plan.take.push(f.clone());
            }
        }
    }
    plan
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

    fn versions(files: &[&FileEntry]) -> HashSet<(String, String)> {
        files
            .iter()
            .map(|f| (f.path.clone(), f.version_key()))
            .collect()
    }

    fn loaded(files: &[&FileEntry]) -> Settled {
        Settled {
            loaded: versions(files),
            parked: HashSet::new(),
        }
    }

    #[test]
    fn latest_only_takes_the_newest_file_once() {
        let l = listing();
        let p = plan(&l, &Settled::default(), true, 100);
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
        let p = plan(&l, &Settled::default(), false, 1000);
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

    #[test]
    fn latest_only_passes_over_parked_and_oversized_files_to_the_newest_loadable_one() {
        let l = listing();
        let parked = Settled {
            loaded: HashSet::new(),
            parked: versions(&[&l[0]]),
        };
        // d3 parked, d2 over the limit: d1 is the newest file that can be loaded.
        let p = plan(&l, &parked, true, 100);
        assert_eq!(p.take, vec![l[2].clone()]);
        assert_eq!(p.too_large, vec![l[1].clone()]);
        assert_eq!(p.parked, 1);
        // Once it is loaded, there is nothing to do.
        let settled = Settled {
            loaded: versions(&[&l[2]]),
            parked: versions(&[&l[0]]),
        };
        let p = plan(&l, &settled, true, 1000);
        assert_eq!(p.take, vec![l[1].clone()], "d2 fits under a higher limit");
        let p = plan(&l, &settled, false, 1000);
        assert_eq!(
            p.take,
            vec![l[1].clone()],
            "all files: the parked one is left"
        );
    }
}
