//! What a run finds before it loads: the job's files listed, the ledger, what is known of
//! the files' contents (the store's checksums, or hashes of files that may repeat a loaded
//! one), the folders with a ready marker, and the plan over them all.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sluice_core::storage::{FileEntry, FilePattern, Store};

use super::Runner;
use crate::Result;
use crate::model::Job;
use crate::plan::{Plan, Rules};

impl Runner {
    /// Lists the job's files and plans a run over them (`latest_only` as the run asks):
    /// what a run does, and what `sluice plan` shows. With `hash`, files that may repeat a
    /// loaded one are read to find out; without (a metric), they count as new.
    pub(crate) async fn survey(
        &self,
        job: &Job,
        store: &Store,
        latest_only: bool,
        hash: bool,
    ) -> Result<Survey> {
        let pattern = FilePattern::new(&job.file_path_prefix, &job.file_pattern)?;
        let mut listing = store.list(&pattern).await?;
        let ledger = self.catalog.processed_files(job.id).await?;
        let contents = if hash {
            identify(store, &listing.files, &ledger).await
        } else {
            HashMap::new()
        };
        let marked = match &job.settings.ready_marker {
            Some(marker) => Some(marked_folders(store, &pattern, marker).await?),
            None => None,
        };
        let settle = match job.settings.settle_time_seconds {
            0 => None,
            s => Some((Duration::from_secs(s), self.catalog.now().await?)),
        };
        let rules = Rules {
            latest_only,
            max_file_size: job.max_file_size,
            changed_files: job.settings.changed_files,
            settle,
            ready_marker: job.settings.ready_marker.as_deref().zip(marked.as_ref()),
            contents: &contents,
        };
        let listed = listing.files.len();
        let plan = crate::plan::plan(std::mem::take(&mut listing.files), &ledger, &rules);
        Ok(Survey {
            pattern,
            listed,
            warnings: listing.warnings,
            ledger,
            plan,
        })
    }
}

/// A job's files as a run finds them: listed, with the ledger, planned (the plan holds the
/// listed entries).
pub(crate) struct Survey {
    pub(crate) pattern: FilePattern,
    /// How many files matched.
    pub(crate) listed: usize,
    /// What the listing skipped and why.
    pub(crate) warnings: Vec<String>,
    pub(crate) ledger: Vec<crate::model::ProcessedFile>,
    pub(crate) plan: Plan,
}

/// The content identities a plan needs and the store does not give: a listed version not
/// yet settled in the ledger, of the size of a loaded file, is hashed (only such a file can
/// repeat one). A file that cannot be read now is left unknown; its load says why.
async fn identify(
    store: &Store,
    listing: &[FileEntry],
    ledger: &[crate::model::ProcessedFile],
) -> HashMap<(String, String), String> {
    let settled: HashSet<(&str, &str)> = ledger
        .iter()
        .filter(|r| {
            r.status != crate::model::LedgerStatus::Failed
                && r.status != crate::model::LedgerStatus::Forgotten
        })
        .map(|r| (r.file_path.as_str(), r.file_version.as_str()))
        .collect();
    let sizes: HashSet<u64> = ledger
        .iter()
        .filter(|r| r.status == crate::model::LedgerStatus::Loaded && r.content.is_some())
        .map(|r| r.file_size_bytes)
        .collect();
    let mut contents = HashMap::new();
    for file in listing {
        let version = file.version_key();
        if file.checksum.is_some()
            || !sizes.contains(&file.size)
            || settled.contains(&(file.path.as_str(), version.as_str()))
        {
            continue;
        }
        match store.content_hash(file).await {
            Ok(hash) => {
                contents.insert((file.path.clone(), version), hash);
            }
            Err(e) => tracing::debug!(file = %file.path, "not hashed: {e}"),
        }
    }
    contents
}

/// The folders under the job's prefix that hold a ready marker named `marker`.
async fn marked_folders(
    store: &Store,
    pattern: &FilePattern,
    marker: &str,
) -> Result<HashSet<String>> {
    let markers = FilePattern::new(pattern.prefix(), marker)?;
    Ok(store
        .list(&markers)
        .await?
        .files
        .iter()
        .map(|f| crate::plan::folder_of(&f.path).to_string())
        .collect())
}
