//! The test servers: started once per test binary with `scripts/peers.sh start` (which
//! reuses servers that already run), their settings read from `scripts/peers.sh env`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The checkout's `scripts/peers.sh`, found from the running test's crate (see
/// [`crate::fixtures::core_testdata`]).
fn script() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../../scripts/peers.sh")
}

fn vars() -> &'static BTreeMap<String, String> {
    static VARS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    VARS.get_or_init(|| {
        let start = std::process::Command::new("bash")
            .arg(script())
            .arg("start")
            .output()
            .expect("run scripts/peers.sh");
        assert!(
            start.status.success(),
            "scripts/peers.sh start failed:\n{}{}",
            String::from_utf8_lossy(&start.stdout),
            String::from_utf8_lossy(&start.stderr)
        );
        let env = std::process::Command::new("bash")
            .arg(script())
            .arg("env")
            .output()
            .expect("run scripts/peers.sh env");
        String::from_utf8_lossy(&env.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.trim_matches(|c| c == '"' || c == '\'').to_string(),
                )
            })
            .collect()
    })
}

/// A setting of the test servers (`SLUICE_TEST_POSTGRES_URL`, …): from the environment
/// when set (the test script exports them), else from `scripts/peers.sh env` after
/// starting the servers.
///
/// # Panics
/// When neither has it: the servers did not start.
pub fn var(name: &str) -> String {
    if let Ok(v) = std::env::var(name) {
        return v;
    }
    vars()
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("scripts/peers.sh env has no {name}"))
}

/// A setting of the test servers, or `default` when the servers do not set it.
pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .or_else(|| vars().get(name).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// A name no other test (or test run) uses: `prefix_<pid>_<n>_<nanos>`.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// local-bigquery's REST endpoint and project.
pub fn bigquery() -> (String, String) {
    (
        var("SLUICE_TEST_BIGQUERY_URL"),
        var("SLUICE_TEST_BIGQUERY_PROJECT"),
    )
}
