//! Who is running a job: a run holds a lease named by its runner and renewed by a
//! heartbeat written with the catalog's clock. A second run of the job is refused while the
//! lease is alive; a lease whose heartbeat is older than [`LEASE_TIMEOUT`] by the catalog's
//! clock is taken over, and its run is marked interrupted. The run that lost it finds out
//! at its next heartbeat or ledger update (both fenced on the run still holding the job)
//! and stops.
//!
//! A runner is named `host:pid@boot/pidns`. A process known dead is taken over at once,
//! without waiting for the timeout, only when that is certain: same host name, same boot
//! (`/proc/sys/kernel/random/boot_id`) and same PID namespace (`/proc/self/ns/pid`), and no
//! such PID (or a zombie: exited, not yet reaped). Containers that share a host name, or a host that rebooted, wait for the
//! timeout.

use std::sync::OnceLock;
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

/// This boot and PID namespace (`boot/pidns`), where the system tells them.
fn process_space() -> Option<&'static str> {
    static SPACE: OnceLock<Option<String>> = OnceLock::new();
    SPACE
        .get_or_init(|| {
            let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
            // "pid:[4026531836]" → "4026531836"
            let ns = ns.to_string_lossy();
            let ns = ns.trim_start_matches("pid:[").trim_end_matches(']');
            Some(format!("{}/{ns}", boot.trim()))
        })
        .as_deref()
}

/// This process's runner name: `host:pid@boot/pidns` (`host:pid` where the system does
/// not tell its boot and PID namespace).
pub fn this_runner() -> String {
    runner_name(&host(), std::process::id(), process_space())
}

fn runner_name(host: &str, pid: u32, space: Option<&str>) -> String {
    match space {
        Some(space) => format!("{host}:{pid}@{space}"),
        None => format!("{host}:{pid}"),
    }
}

/// Whether a lease held by `runner`, last renewed at `heartbeat`, is still alive at `now`
/// (the catalog's clock).
pub fn is_alive(
    runner: Option<&str>,
    heartbeat: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let fresh = heartbeat.is_some_and(|h| (now - h).to_std().unwrap_or_default() < LEASE_TIMEOUT);
    if !fresh {
        return false;
    }
    match runner.and_then(|r| local_pid(r, &host(), process_space())) {
        Some(pid) => process_lives(pid),
        None => true,
    }
}

/// Whether a process of this PID namespace lives: it has a `/proc` entry and is not a
/// zombie (dead, not yet reaped by its parent).
fn process_lives(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "1234 (name) S …": the state follows the last ')' (a name may hold one).
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X'))
}

/// The PID of a runner in this host's boot and PID namespace, whose `/proc` entry therefore
/// tells whether it lives; `None` for any other runner (trusted until its heartbeat lapses).
fn local_pid(runner: &str, host: &str, space: Option<&str>) -> Option<u32> {
    let (host_pid, theirs) = runner.split_once('@')?;
    let (h, pid) = host_pid.rsplit_once(':')?;
    if !cfg!(target_os = "linux") || h != host || Some(theirs) != space {
        return None;
    }
    pid.parse().ok()
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
        let gone = runner_name(&host(), u32::MAX - 1, process_space());
        assert!(!is_alive(Some(&gone), Some(now), now), "no such process");
        assert!(
            is_alive(Some("other-host:1@b/1"), Some(now), now),
            "another host is trusted until the timeout"
        );
        assert!(!is_alive(None, None, now));
    }

    #[test]
    fn a_zombie_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Exited, not yet reaped: a zombie whose /proc entry is still there.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_lives(pid) {
            assert!(std::time::Instant::now() < deadline, "{pid} still lives");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        child.wait().unwrap();
        assert!(!process_lives(pid));
        assert!(process_lives(std::process::id()));
    }

    #[test]
    fn a_missing_pid_means_death_only_in_this_boot_and_pid_namespace() {
        let now = Utc::now();
        let space = process_space().expect("Linux tells its boot id and PID namespace");
        let pid = u32::MAX - 1;
        // Another container with the same host name, or this host before a reboot: its PIDs
        // are not ours to look up.
        let boot = space.split_once('/').unwrap().0;
        for other in [
            format!("{}:{pid}@{boot}/1", host()),
            format!(
                "{}:{pid}@another-boot/{}",
                host(),
                space.split_once('/').unwrap().1
            ),
            format!("{}:{pid}", host()),
        ] {
            assert!(is_alive(Some(&other), Some(now), now), "{other}");
            assert_eq!(local_pid(&other, &host(), Some(space)), None, "{other}");
        }
        let here = runner_name(&host(), pid, Some(space));
        assert_eq!(local_pid(&here, &host(), Some(space)), Some(pid));
        assert!(!is_alive(Some(&here), Some(now), now));
    }
}
