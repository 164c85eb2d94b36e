//! Who is running a job: a run holds a lease named by its runner (`host:pid`) and renewed
//! by a heartbeat. A second run of the job is refused while the lease is alive; a lease
//! whose process is gone (same host, no such PID) or whose heartbeat is older than
//! [`LEASE_TIMEOUT`] is taken over, and its run is marked interrupted.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How often a running job renews its lease.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
/// A lease not renewed for this long is dead.
pub const LEASE_TIMEOUT: Duration = Duration::from_secs(120);

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// This process's runner name: `host:pid`.
pub fn this_runner() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// Whether a lease held by `runner`, last renewed at `heartbeat`, is still alive at `now`.
pub fn is_alive(
    runner: Option<&str>,
    heartbeat: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let fresh = heartbeat.is_some_and(|h| (now - h).to_std().unwrap_or_default() < LEASE_TIMEOUT);
    if !fresh {
        return false;
    }
    // On this host a dead process is known at once, without waiting for the timeout.
    match runner.and_then(|r| r.rsplit_once(':')) {
        Some((h, pid)) if h == host() && cfg!(target_os = "linux") => pid
            .parse::<u32>()
            .is_ok_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_die_with_their_process_or_their_heartbeat() {
        let now = Utc::now();
        let me = this_runner();
        assert!(is_alive(Some(&me), Some(now), now));
        assert!(
            !is_alive(Some(&me), Some(now - chrono::Duration::seconds(121)), now),
            "stale heartbeat"
        );
        assert!(
            !is_alive(
                Some(&format!("{}:{}", host(), u32::MAX - 1)),
                Some(now),
                now
            ),
            "no such process"
        );
        assert!(
            is_alive(Some("other-host:1"), Some(now), now),
            "another host is trusted until the timeout"
        );
        assert!(!is_alive(None, None, now));
    }
}
