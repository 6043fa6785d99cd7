//! Readings from `/proc` and the kernel: a process's CPU time and resident memory, open-file
//! limits (ours and another process's), and raising our own soft limit.

use std::io;
use std::time::Duration;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// User + system CPU time of process `pid` (all its threads), from `/proc/PID/stat`.
/// Resolution is one clock tick (usually 10 ms).
pub fn process_cpu(pid: u32) -> io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other(format!("unreadable /proc/{pid}/stat")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let tick = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other(format!("unreadable /proc/{pid}/stat")))
    };
    let ticks = tick(11)? + tick(12)?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / hz,
    ))
}

/// CPU time of this process (all threads), nanosecond resolution.
pub fn self_cpu() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Resident set size of process `pid` in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// Open-file limit (soft, hard) of process `pid`, from `/proc/PID/limits`; `u64::MAX` for
/// unlimited.
pub fn nofile_limit_of(pid: u32) -> io::Result<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or_else(|| io::Error::other(format!("no open-file limit in /proc/{pid}/limits")))?;
    let nums: Vec<u64> = line["Max open files".len()..]
        .split_whitespace()
        .take(2)
        .map(|v| v.parse().unwrap_or(u64::MAX))
        .collect();
    match nums.as_slice() {
        [soft, hard] => Ok((*soft, *hard)),
        _ => Err(io::Error::other(format!(
            "unreadable open-file limit in /proc/{pid}/limits"
        ))),
    }
}

/// This process's open-file limit (soft, hard); `u64::MAX` for unlimited.
pub fn nofile_limit() -> (u64, u64) {
    let lim = getrlimit(Resource::Nofile);
    (
        lim.current.unwrap_or(u64::MAX),
        lim.maximum.unwrap_or(u64::MAX),
    )
}

/// Raises this process's soft open-file limit to its hard limit (children inherit it) and
/// returns the limit now in force.
pub fn raise_nofile() -> (u64, u64) {
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
    nofile_limit()
}

/// The one-line explanation when `soft` open files cannot hold `needed`.
pub fn nofile_too_low(who: &str, soft: u64, hard: u64, connections: u64, needed: u64) -> String {
    format!(
        "{who} may open {soft} files (hard limit {hard}), but {connections} connections need \
         at least {needed}: use fewer connections, or raise the limit (`ulimit -n {needed}`; \
         raising the hard limit needs root)"
    )
}

/// Resolution of the kernel's coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`): one
/// scheduler tick, 4 ms at `HZ=250`, 1 ms at `HZ=1000`. libuv reads its loop clock from it
/// when it is 1 ms or finer, which makes uvloop's `loop.time()` lag the monotonic clock by up
/// to a tick more.
pub fn coarse_clock_resolution() -> Duration {
    let ts = rustix::time::clock_getres(rustix::time::ClockId::MonotonicCoarse);
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_readings() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        process_cpu(pid).unwrap();
        let (soft, hard) = nofile_limit_of(pid).unwrap();
        assert_eq!((soft, hard), nofile_limit());
        assert!(self_cpu() > Duration::ZERO);
    }
}
