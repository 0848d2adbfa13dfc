//! CPU time and memory of another process, from `/proc` (Linux).
//!
//! `getrusage` only reports on the calling process and its reaped children; the runtime is a
//! separate, still-running process, so its counters are read from `/proc/<pid>` instead.

use std::io;
use std::time::Duration;

use serde::Serialize;

/// Resident memory of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Memory {
    /// Resident set now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set (`VmHWM`), KiB: since start, or since [`reset_peak`].
    pub peak_kib: u64,
}

/// User + system CPU time the process (all its threads) has used so far.
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| malformed("stat"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `after_name` starts at field 3 (state); utime and stime are fields 14 and 15.
    let ticks = |field: usize| -> io::Result<u64> {
        fields
            .get(field - 3)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| malformed("stat"))
    };
    let total = ticks(14)? + ticks(15)?;
    Ok(Duration::from_secs_f64(total as f64 / ticks_per_second()))
}

fn ticks_per_second() -> f64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks as f64,
        // USER_HZ is 100 on every Linux architecture the runtime supports.
        _ => 100.0,
    }
}

/// Current and peak resident memory.
pub fn memory(pid: u32) -> io::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| -> io::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| malformed(key))
    };
    Ok(Memory {
        rss_kib: kib("VmRSS:")?,
        peak_kib: kib("VmHWM:")?,
    })
}

/// Resets the peak resident set (`VmHWM`) to the current one, so a scenario's peak is its
/// own. Needs the right to write `/proc/<pid>/clear_refs` (our own child: yes).
pub fn reset_peak(pid: u32) -> io::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
}

/// The direct children of a process (e.g. the business-logic processes of the runtime).
pub fn children(pid: u32) -> io::Result<Vec<u32>> {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("children");
        // A thread may have exited since the listing.
        let Ok(list) = std::fs::read_to_string(path) else {
            continue;
        };
        children.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    children.sort_unstable();
    children.dedup();
    Ok(children)
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected /proc format ({what})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let pid = std::process::id();
        let memory = memory(pid).expect("status");
        assert!(memory.rss_kib > 0 && memory.peak_kib >= memory.rss_kib);
        cpu_time(pid).expect("stat");
        children(pid).expect("children");
    }
}
