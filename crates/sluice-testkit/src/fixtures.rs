//! Small files the tests write: transactions as CSV, and files of a given age.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// A small transactions file: `n` rows with ids from `first`, with a quoted comma in
/// every note and ISO timestamps.
pub fn transactions(first: u64, n: u64) -> String {
    let mut s = String::from("id,amount,currency,created_at,note\n");
    for i in first..first + n {
        s.push_str(&format!(
            "{i},{}.{:02},EUR,2024-11-19T08:{:02}:00Z,\"note {i}, with comma\"\n",
            i * 3,
            i % 100,
            i % 60
        ));
    }
    s
}

/// Sets a file's modification time `age_minutes` (+1) minutes back: listings order files
/// by it, newest first.
pub fn set_age(path: &Path, age_minutes: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.set_modified(SystemTime::now() - Duration::from_secs(60 * (age_minutes + 1)))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Writes `content` at `dir/name` (making folders) and sets its age.
pub fn write(dir: &Path, name: &str, content: &str, age_minutes: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    set_age(&path, age_minutes);
    path
}

/// `data` compressed by a system tool (`["gzip", "-c"]`, `["zstd", "-c", "-q"]` …), as the
/// tool writes it: fixtures from another implementation than the one that reads them.
pub fn compress(tool: &[&str], data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}; scripts/test installs it", tool[0]));
    let mut stdin = child.stdin.take().expect("piped");
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).expect("write"));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    assert!(out.status.success(), "{tool:?} failed");
    out.stdout
}

/// A fixture file of sluice-core's `testdata/` (`avro/logical.avro`).
///
/// Found from the test's own crate (cargo sets `CARGO_MANIFEST_DIR` when it runs a test),
/// not from where this crate was built: a target directory shared by two checkouts may
/// hold this crate built in the other.
pub fn core_testdata(path: &str) -> Vec<u8> {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf());
    let full = crate_dir.join("../sluice-core/testdata").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}
