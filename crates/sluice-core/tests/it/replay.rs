use std::path::{Path, PathBuf};

use sluice_core::fuzzing;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file of the target's corpus and regressions through `entry`; panics name the file.
fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let mut n = 0;
    for folder in [
        root().join("corpus").join(target),
        root().join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let run = std::panic::catch_unwind(|| entry(&data));
            assert!(run.is_ok(), "{target} panicked on {}", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn the_csv_sniff_corpus_replays_without_a_panic() {
    assert!(replay("csv_sniff", fuzzing::csv_sniff) > 0);
}

#[test]
fn the_csv_read_corpus_replays_without_a_panic() {
    assert!(replay("csv_read", fuzzing::csv_read) > 0);
}

#[test]
fn the_json_corpus_replays_without_a_panic() {
    assert!(replay("json_records", fuzzing::json_records) > 0);
}

#[test]
fn the_schema_inference_corpus_replays_without_a_panic() {
    assert!(replay("schema_inference", fuzzing::schema_inference) > 0);
}
