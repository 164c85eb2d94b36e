//! Which files a run takes, and why it leaves the others: a pure function of the listing,
//! the ledger, what is known of the files' contents, and the job's strategy, policies and
//! gates. `sluice plan` shows it; a run carries it out.
//!
//! For each matching file, newest first:
//! 1. Its version (path + the store's version) in the ledger: loaded, parked, skipped by a
//!    person, or being loaded → passed over; failed → tried again; forgotten → loaded again.
//! 2. Its content, where known (the store's MD5, or hashed because a loaded file has its
//!    size): the same as a loaded file's → recorded as already loaded, not loaded again
//!    (a `touch`, a copy, a restore, a re-upload of the same bytes).
//! 3. Its path loaded before with other content → the job's changed-files policy: reload
//!    (replace its rows), append, ignore, or fail.
//! 4. Gates: over the size limit; modified less than the settle time ago; its folder has no
//!    ready marker yet. A file held back by a gate is *waiting*, with the reason.
//! 5. Strategy: latest-only takes the newest file left (others wait for later runs); all
//!    files takes every one, oldest first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sluice_core::storage::FileEntry;

use crate::model::{ChangedFiles, LedgerStatus, ProcessedFile};
use crate::text::{human_bytes, human_duration};

/// What a run does with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Load,
    Skip,
    /// Held back by a gate (settle time, ready marker) or by latest-only; a later run
    /// takes it.
    Wait,
    /// Recorded as failed (a changed file, under the `fail` policy).
    Fail,
}

impl Action {
    pub const ALL: [Action; 4] = [Self::Load, Self::Skip, Self::Wait, Self::Fail];

    /// What it means, for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Skip => "skip",
            Self::Wait => "wait",
            Self::Fail => "fail",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Skip => "skip",
            Self::Wait => "wait",
            Self::Fail => "fail",
        }
    }
}

/// Why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// Not loaded before.
    New,
    /// Its last load failed this many times in a row.
    Retry {
        failures: u32,
    },
    /// A person forgot it; it loads again.
    Forgotten,
    /// Its path was loaded with other content; the policy says what happens.
    Changed {
        policy: ChangedFiles,
    },
    AlreadyLoaded,
    /// Its content is that of a loaded file (`same_as`; its own path if only its timestamp
    /// changed).
    SameContent {
        same_as: String,
    },
    TooLarge {
        limit: u64,
    },
    /// Modified less than the settle time ago; taken from `until`.
    NotSettled {
        until: DateTime<Utc>,
    },
    /// Its folder has no ready marker yet.
    NoMarker {
        marker: String,
        folder: String,
    },
    Parked {
        failures: u32,
    },
    /// A person marked it skipped.
    Skipped,
    /// Being loaded by another run.
    Loading,
    /// Latest file only: a newer file is taken first; a later run takes this one.
    NotNewest,
    /// It is the ready marker itself.
    Marker,
}

impl Reason {
    /// The reason for people.
    pub fn describe(&self) -> String {
        match self {
            Self::New => "new".into(),
            Self::Retry { failures } => format!("failed {failures} time(s) before; tried again"),
            Self::Forgotten => "forgotten by a person; loaded again".into(),
            Self::Changed { policy } => {
                format!("changed since it was loaded: {}", policy.label())
            }
            Self::AlreadyLoaded => "already loaded".into(),
            Self::SameContent { same_as } => {
                format!("same content as {same_as}, already loaded")
            }
            Self::TooLarge { limit } => {
                format!("over the job's size limit of {}", human_bytes(*limit))
            }
            Self::NotSettled { until } => format!("not settled: taken from {until}"),
            Self::NoMarker { marker, folder } => {
                if folder.is_empty() {
                    format!("waiting for its ready marker {marker}")
                } else {
                    format!("waiting for its ready marker {folder}/{marker}")
                }
            }
            Self::Parked { failures } => {
                format!("parked after failing the same way {failures} time(s)")
            }
            Self::Skipped => "skipped by a person".into(),
            Self::Loading => "being loaded by another run".into(),
            Self::NotNewest => "a newer file is loaded first (latest file only)".into(),
            Self::Marker => "the ready marker itself".into(),
        }
    }
}

/// One matching file and what the next run does with it. It holds the listed entry itself
/// (shared with the run's [`Take`]), and says the reason in words only when shown: a plan
/// over a large folder costs the listing and little more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub file: Arc<FileEntry>,
    pub action: Action,
    pub reason: Reason,
}

impl Planned {
    pub fn file_path(&self) -> &str {
        &self.file.path
    }

    /// The reason in words.
    pub fn detail(&self) -> String {
        self.reason.describe()
    }
}

impl Serialize for Planned {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            file_path: &'a str,
            file_size_bytes: u64,
            last_modified: DateTime<Utc>,
            file_version: String,
            action: Action,
            #[serde(flatten)]
            reason: &'a Reason,
            detail: String,
        }
        Shown {
            file_path: &self.file.path,
            file_size_bytes: self.file.size,
            last_modified: self.file.last_modified,
            file_version: self.file.version_key(),
            action: self.action,
            reason: &self.reason,
            detail: self.reason.describe(),
        }
        .serialize(serializer)
    }
}

/// A file the run takes up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub file: Arc<FileEntry>,
    /// Its content's identity, where already known.
    pub content: Option<String>,
    /// Replace the rows of its earlier version (a changed file, reloaded).
    pub reload: bool,
    /// Record it as failed instead of loading it (a changed file, under `fail`).
    pub fail: bool,
    /// Times a person forgot it (its load id changes with it).
    pub generation: u32,
}

/// A file whose content repeats a loaded one: recorded as loaded, not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    pub file: Arc<FileEntry>,
    pub content: String,
    pub same_as: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Every matching file, newest first, with what happens to it.
    pub files: Vec<Planned>,
    /// Files to take up, in load order (oldest first).
    pub take: Vec<Take>,
    /// Files whose content is a loaded file's.
    pub repeats: Vec<Repeat>,
}

impl Plan {
    pub fn count(&self, f: impl Fn(&Planned) -> bool) -> u64 {
        self.files.iter().filter(|p| f(p)).count() as u64
    }

    /// Matching versions already in the ledger as loaded.
    pub fn already_loaded(&self) -> u64 {
        self.count(|p| p.reason == Reason::AlreadyLoaded)
    }

    pub fn parked(&self) -> u64 {
        self.count(|p| matches!(p.reason, Reason::Parked { .. }))
    }

    pub fn too_large(&self) -> Vec<&Planned> {
        self.files
            .iter()
            .filter(|p| matches!(p.reason, Reason::TooLarge { .. }))
            .collect()
    }

    pub fn waiting(&self) -> Vec<&Planned> {
        self.files
            .iter()
            .filter(|p| p.action == Action::Wait)
            .collect()
    }
}

/// What a plan reads besides the listing and the ledger.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub latest_only: bool,
    pub max_file_size: u64,
    pub changed_files: ChangedFiles,
    /// The settle time and the clock to judge it by.
    pub settle: Option<(std::time::Duration, DateTime<Utc>)>,
    /// The ready marker's name and the folders (paths relative to the connection, `""` for
    /// its root) that hold one.
    pub ready_marker: Option<(&'a str, &'a HashSet<String>)>,
    /// Content identities known of listed versions: `(path, version)` → `md5:<hex>`.
    pub contents: &'a HashMap<(String, String), String>,
}

/// The folder a file is in: `a/b` for `a/b/c.csv`, `""` at the root.
pub fn folder_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
}

/// The content each path holds now in the destination: that of its last loaded version.
fn current_contents(ledger: &[ProcessedFile]) -> HashMap<&str, (&ProcessedFile, Option<&str>)> {
    let mut current: HashMap<&str, (&ProcessedFile, Option<&str>)> = HashMap::new();
    for row in ledger.iter().filter(|r| r.status == LedgerStatus::Loaded) {
        let newer = current
            .get(row.file_path.as_str())
            .is_none_or(|(seen, _)| row.processed_at > seen.processed_at);
        if newer {
            current.insert(&row.file_path, (row, row.content.as_deref()));
        }
    }
    current
}

/// Plans a run over `listing` (newest first, as listed).
pub fn plan(listing: Vec<FileEntry>, ledger: &[ProcessedFile], rules: &Rules<'_>) -> Plan {
    let rows: HashMap<(&str, &str), &ProcessedFile> = ledger
        .iter()
        .map(|r| ((r.file_path.as_str(), r.file_version.as_str()), r))
        .collect();
    let current = current_contents(ledger);
    // Paths a person forgot: any version of them loads again.
    let forgotten: std::collections::HashSet<&str> = ledger
        .iter()
        .filter(|r| r.status == LedgerStatus::Forgotten)
        .map(|r| r.file_path.as_str())
        .collect();
    // Content → a path whose current rows hold it.
    let mut holders: HashMap<&str, &str> = HashMap::new();
    for (path, (_, content)) in &current {
        if let Some(c) = content {
            holders.entry(c).or_insert(path);
        }
    }

    let mut plan = Plan::default();
    let mut candidates: Vec<(usize, Take)> = Vec::new();
    for file in listing {
        let file = Arc::new(file);
        let version = file.version_key();
        let row = rows.get(&(file.path.as_str(), version.as_str())).copied();
        let content = file.checksum.clone().or_else(|| {
            rules
                .contents
                .get(&(file.path.clone(), version.clone()))
                .cloned()
        });
        let generation = row.map(|r| r.generation).unwrap_or(0);
        let settled = match row.map(|r| r.status) {
            Some(LedgerStatus::Loaded) => Some((Action::Skip, Reason::AlreadyLoaded)),
            Some(LedgerStatus::Parked) => Some((
                Action::Skip,
                Reason::Parked {
                    failures: row.map(|r| r.failures).unwrap_or(0),
                },
            )),
            Some(LedgerStatus::Skipped) => Some((Action::Skip, Reason::Skipped)),
            Some(LedgerStatus::Loading) => Some((Action::Skip, Reason::Loading)),
            Some(LedgerStatus::Failed) | Some(LedgerStatus::Forgotten) | None => None,
        };
        let is_marker = rules
            .ready_marker
            .is_some_and(|(marker, _)| file.name() == marker);
        let (action, reason, take) = if let Some((action, reason)) = settled {
            (action, reason, None)
        } else if is_marker {
            (Action::Skip, Reason::Marker, None)
        } else if let Some(same_as) = content
            .as_deref()
            .and_then(|c| holders.get(c).map(|p| (c, *p)))
            .map(|(c, p)| {
                plan.repeats.push(Repeat {
                    file: Arc::clone(&file),
                    content: c.to_string(),
                    same_as: p.to_string(),
                });
                p.to_string()
            })
        {
            (Action::Skip, Reason::SameContent { same_as }, None)
        } else {
            let changed = current.contains_key(file.path.as_str());
            let (action, reason, reload, fail) = if changed {
                let policy = rules.changed_files;
                let reason = Reason::Changed { policy };
                match policy {
                    ChangedFiles::Reload => (Action::Load, reason, true, false),
                    ChangedFiles::Append => (Action::Load, reason, false, false),
                    ChangedFiles::Ignore => (Action::Skip, reason, false, false),
                    ChangedFiles::Fail => (Action::Fail, reason, false, true),
                }
            } else {
                let reason = match row {
                    Some(r) if r.status == LedgerStatus::Forgotten => Reason::Forgotten,
                    None if forgotten.contains(file.path.as_str()) => Reason::Forgotten,
                    Some(r) if r.failures > 0 => Reason::Retry {
                        failures: r.failures,
                    },
                    _ => Reason::New,
                };
                (Action::Load, reason, false, false)
            };
            let take = (action != Action::Skip).then(|| Take {
                file: Arc::clone(&file),
                content: content.clone(),
                reload,
                fail,
                generation,
            });
            match gate(&file, rules) {
                Some((action, reason)) => (action, reason, None),
                None => (action, reason, take),
            }
        };
        if let Some(take) = take {
            candidates.push((plan.files.len(), take));
        }
        plan.files.push(Planned {
            file,
            action,
            reason,
        });
    }
    if rules.latest_only {
        // The newest file left is taken; the others wait for later runs.
        let mut candidates = candidates.into_iter();
        if let Some((_, newest)) = candidates.next() {
            plan.take.push(newest);
        }
        for (i, _) in candidates {
            let p = &mut plan.files[i];
            p.action = Action::Wait;
            p.reason = Reason::NotNewest;
        }
    } else {
        plan.take = candidates.into_iter().rev().map(|(_, t)| t).collect();
    }
    plan
}

/// What holds a file back: its size, its age, its folder's marker.
fn gate(file: &FileEntry, rules: &Rules<'_>) -> Option<(Action, Reason)> {
    if file.size > rules.max_file_size {
        return Some((
            Action::Skip,
            Reason::TooLarge {
                limit: rules.max_file_size,
            },
        ));
    }
    if let Some((settle, now)) = rules.settle {
        let settle = chrono::Duration::from_std(settle).unwrap_or(chrono::Duration::MAX);
        let until = file.last_modified + settle;
        if until > now {
            return Some((Action::Wait, Reason::NotSettled { until }));
        }
    }
    if let Some((marker, folders)) = rules.ready_marker {
        let folder = folder_of(&file.path);
        if !folders.contains(folder) {
            return Some((
                Action::Wait,
                Reason::NoMarker {
                    marker: marker.to_string(),
                    folder: folder.to_string(),
                },
            ));
        }
    }
    None
}

/// A settle time as people write it: `10m`, `30s`, `2h`, `1h30m`, or seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "'{text}' is not a duration; write it as 30s, 10m, 2h or 1h30m"
                ));
            }
        };
        let n: u64 = number.parse().map_err(|_| {
            format!("'{text}' is not a duration; write it as 30s, 10m, 2h or 1h30m")
        })?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!(
            "'{text}' is not a duration: '{number}' has no unit; write it as 30s, 10m, 2h or 1h30m"
        ));
    }
    Ok(std::time::Duration::from_secs(total))
}

/// A duration as [`parse_duration`] reads it back.
pub fn show_duration(seconds: u64) -> String {
    human_duration(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests;
