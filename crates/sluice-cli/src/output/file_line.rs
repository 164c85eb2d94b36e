//! One file of a run, as a line (and its failure, indented, below it).

use sluice_engine::model::RunFile;

use super::thousands;
use crate::hints;

/// A run's file: its mark, path, outcome, rows, and what loading it did or why it failed.
pub fn file_line(f: &RunFile) -> String {
    let mark = if f.outcome.is_failure() {
        "✗"
    } else if f.rows_loaded > 0 || f.outcome == sluice_engine::model::FileOutcome::Loaded {
        "✓"
    } else {
        "-"
    };
    let mut s = format!("  {mark} {}  {}", f.file_path, f.outcome.label());
    if f.rows_loaded > 0 {
        s.push_str(&format!(", {} rows", thousands(f.rows_loaded)));
    }
    // In a run shared among workers: which one (`host:pid`).
    if let Some(w) = &f.worker {
        s.push_str(&format!(
            " [{}]",
            w.split_once('@').map_or(w.as_str(), |(w, _)| w)
        ));
    }
    // What loading it also did: a schema change taken, earlier rows replaced, a push-down.
    if let Some(m) = &f.message
        && f.outcome.is_loaded()
    {
        s.push_str(&format!(" ({m})"));
    }
    if let Some(m) = &f.message
        && (f.outcome.is_failure()
            || f.outcome == sluice_engine::model::FileOutcome::SkippedTooLarge)
    {
        s.push_str(&format!("\n      {}", m.replace('\n', "\n      ")));
        if let Some(h) = &f.hint {
            if !m.contains(&h.text) {
                s.push_str(&format!("; {}", h.text));
            }
            s.push_str(&hints::as_flag(h));
        }
    }
    s
}
