//! What a load run is asked to do ([`LoadPlan`]) and the ranges every field must lie in
//! ([`limits`]): the user-facing `loopbench load` flags and the orchestrators build the same
//! plan, and [`LoadPlan::validate`] checks it once more before anything is opened.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// File descriptors the load generator needs besides its connections (epoll, timerfd, stdio,
/// the JSON file, a few per worker thread).
pub const FD_MARGIN: u64 = 64;

/// The documented range of every number of a plan; the CLI parsers use the same ones.
pub mod limits {
    use super::*;

    /// Connections per run.
    pub const CONNECTIONS: RangeInclusive<u64> = 1..=1_000_000;
    /// Offered rate, messages per second (open loop).
    pub const RATE: RangeInclusive<f64> = 1.0..=100_000_000.0;
    /// Connections opened per second.
    pub const CONNECT_RATE: RangeInclusive<f64> = 1.0..=1_000_000.0;
    /// Messages in flight per connection (closed loop).
    pub const PIPELINE: RangeInclusive<u64> = 1..=1024;
    /// Message size, bytes.
    pub const MESSAGE_SIZE: RangeInclusive<u64> = 1..=1 << 20;
    /// Bytes in flight over all connections (connections x pipeline x size): what the
    /// generator may have to hold queued.
    pub const MAX_INFLIGHT_BYTES: u64 = 2 << 30;
    /// Measured window.
    pub const DURATION: RangeInclusive<Duration> =
        Duration::from_millis(10)..=Duration::from_secs(3600);
    /// Warm-up.
    pub const WARMUP: RangeInclusive<Duration> = Duration::ZERO..=Duration::from_secs(3600);
    /// Connect and per-message time-outs.
    pub const TIMEOUT: RangeInclusive<Duration> =
        Duration::from_millis(1)..=Duration::from_secs(3600);
    /// Load-generator threads.
    pub const THREADS: RangeInclusive<u64> = 1..=256;
}

/// How far from now (seconds) `--start-at` may be.
pub const START_AT_SLACK: f64 = 86_400.0;

/// The current Unix time in seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Closed loop (send, await the echo, repeat) or open loop (a fixed offered rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    /// Each connection keeps `pipeline` messages in flight and sends as soon as one returns.
    Closed,
    /// Sends follow a fixed schedule (total rate spread over connections), one in flight per
    /// connection; latency is measured from the intended send time.
    Open,
}

impl LoadMode {
    /// `closed` or `open`, as in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Closed => "closed",
            LoadMode::Open => "open",
        }
    }
}

impl fmt::Display for LoadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LoadMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "closed" => Ok(LoadMode::Closed),
            "open" => Ok(LoadMode::Open),
            other => Err(format!("unknown mode '{other}'; valid modes: closed, open")),
        }
    }
}

/// The load generator's I/O path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientIo {
    /// io_uring: one system call per loop iteration, multishot receives into provided
    /// buffers, sends as submissions.
    Uring,
    /// epoll: a `recv` per readiness event and a `send` per wake-up and connection.
    Epoll,
}

impl ClientIo {
    /// `uring` or `epoll`, as in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientIo::Uring => "uring",
            ClientIo::Epoll => "epoll",
        }
    }
}

impl fmt::Display for ClientIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ClientIo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uring" | "io_uring" | "io-uring" => Ok(ClientIo::Uring),
            "epoll" => Ok(ClientIo::Epoll),
            other => Err(format!("unknown I/O '{other}'; valid: uring, epoll")),
        }
    }
}

/// One load run, as the load generator executes it. Travels to a child `loopbench load`
/// as JSON ([`crate::child`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadPlan {
    /// The echo server.
    pub target: SocketAddr,
    /// Name recorded as the run's `runtime` (the server being measured).
    pub label: String,
    /// Connections to open.
    pub connections: u64,
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Offered total rate in messages per second (open loop).
    pub rate: Option<f64>,
    /// Messages in flight per connection (closed loop; 1 in open loop).
    pub pipeline: u32,
    /// Message size in bytes.
    pub message_size: usize,
    /// Traffic before measurement starts (excluded from every figure).
    pub warmup: Duration,
    /// Measured interval.
    pub duration: Duration,
    /// Connections opened per second.
    pub connect_rate: f64,
    /// A connection not established within this is a connect failure.
    pub connect_timeout: Duration,
    /// An echo not complete within this (from its send) is a timeout; the connection is closed.
    pub message_timeout: Duration,
    /// Event-loop threads of the load generator (0 in a plan file for another host:
    /// `loopbench load` there uses its default).
    pub threads: usize,
    /// CPUs the worker threads are pinned to, round-robin (empty: not pinned).
    #[serde(default)]
    pub cpus: Vec<usize>,
    /// The shard this plan is (its connections and rate are already the shard's share, see
    /// [`LoadPlan::shard_of`]); recorded in the run.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// Wall-clock moment (Unix time, seconds, this host's clock) at which the measured
    /// window starts, so several hosts measure the same window; `None`: right after the
    /// warm-up that follows connecting.
    #[serde(default)]
    pub start_at: Option<f64>,
    /// The I/O path; `None`: io_uring where it can be set up, else epoll (with a notice,
    /// see [`crate::choose_io`]).
    #[serde(default)]
    pub io: Option<ClientIo>,
}

/// Shard `index` of `count` (`--shard I/N`, I from 0 to N-1): a share of a run's
/// connections and of its offered rate, as k6's execution segments split a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based index (a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`).
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Most shards a run may be split into.
    pub const MAX: u32 = 10_000;

    /// This shard's share of `total` connections: `total / count`, the remainder going one
    /// each to the first shards, so the shares add up to `total` exactly.
    pub fn share(&self, total: u64) -> u64 {
        let n = u64::from(self.count);
        total / n + u64::from(u64::from(self.index) < total % n)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid shard '{s}': expected I/N with 0 <= I < N <= {}, e.g. 0/2",
                Shard::MAX
            )
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || count > Shard::MAX || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Why a plan cannot run: the flag at fault and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {problem}")]
pub struct PlanError {
    /// The command-line flag that sets the field (`--rate`).
    pub flag: &'static str,
    /// What is wrong, with the valid range.
    pub problem: String,
}

fn err(flag: &'static str, problem: impl Into<String>) -> PlanError {
    PlanError {
        flag,
        problem: problem.into(),
    }
}

fn within_d(
    flag: &'static str,
    v: Duration,
    r: &RangeInclusive<Duration>,
) -> Result<(), PlanError> {
    if r.contains(&v) {
        return Ok(());
    }
    Err(err(
        flag,
        format!(
            "{} is out of range: {} to {}",
            harness::units::format_duration(v),
            harness::units::format_duration(*r.start()),
            harness::units::format_duration(*r.end())
        ),
    ))
}

fn within_u(flag: &'static str, v: u64, r: &RangeInclusive<u64>) -> Result<(), PlanError> {
    if r.contains(&v) {
        return Ok(());
    }
    Err(err(
        flag,
        format!("{v} is out of range: {} to {}", r.start(), r.end()),
    ))
}

fn within_f(flag: &'static str, v: f64, r: &RangeInclusive<f64>) -> Result<(), PlanError> {
    if v >= *r.start() && v <= *r.end() {
        return Ok(());
    }
    Err(err(
        flag,
        format!("{v} is out of range: {} to {}", r.start(), r.end()),
    ))
}

impl LoadPlan {
    /// Checks every field against [`limits`] and the fields against each other; the error
    /// names the offending flag.
    pub fn validate(&self) -> Result<(), PlanError> {
        use limits::*;
        within_u("--connections", self.connections, &CONNECTIONS)?;
        within_u("--size", self.message_size as u64, &MESSAGE_SIZE)?;
        within_u("--pipeline", u64::from(self.pipeline), &PIPELINE)?;
        within_u("--threads", self.threads as u64, &THREADS)?;
        within_d("--duration", self.duration, &DURATION)?;
        within_d("--warmup", self.warmup, &WARMUP)?;
        within_d("--connect-timeout", self.connect_timeout, &TIMEOUT)?;
        within_d("--timeout", self.message_timeout, &TIMEOUT)?;
        within_f("--connect-rate", self.connect_rate, &CONNECT_RATE)?;
        match (self.mode, self.rate) {
            (LoadMode::Open, None) => {
                return Err(err("--rate", "--mode open needs --rate R (messages/s)"))
            }
            (LoadMode::Open, Some(r)) => within_f("--rate", r, &RATE)?,
            (LoadMode::Closed, Some(_)) => {
                return Err(err(
                    "--rate",
                    "applies to the open loop only (add --mode open)",
                ))
            }
            (LoadMode::Closed, None) => {}
        }
        if self.mode == LoadMode::Open && self.pipeline != 1 {
            return Err(err("--pipeline", "applies to the closed loop only"));
        }
        let inflight = self
            .connections
            .saturating_mul(u64::from(self.pipeline))
            .saturating_mul(self.message_size as u64);
        if inflight > MAX_INFLIGHT_BYTES {
            return Err(err(
                "--size",
                format!(
                    "{} connections x {} in flight x {} bytes would need {:.1} GiB of send \
                     buffers; at most {} GiB",
                    self.connections,
                    self.pipeline,
                    self.message_size,
                    inflight as f64 / f64::from(1u32 << 30),
                    MAX_INFLIGHT_BYTES >> 30
                ),
            ));
        }
        if self.label.trim().is_empty() {
            return Err(err("--label", "must not be empty"));
        }
        if let Some(t) = self.start_at {
            let now = unix_now();
            if !t.is_finite() || t < now - START_AT_SLACK || t > now + START_AT_SLACK {
                return Err(err(
                    "--start-at",
                    format!(
                        "{t} is not within {} s of now ({now:.0}): give a Unix time in \
                         seconds, e.g. $(( $(date +%s) + 10 ))",
                        START_AT_SLACK
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Shard `shard` of this plan: its share of the connections and the same share of the
    /// offered rate (so every connection keeps the whole run's per-connection rate).
    pub fn shard_of(&self, shard: Shard) -> Result<LoadPlan, PlanError> {
        let share = shard.share(self.connections);
        if share == 0 {
            return Err(err(
                "--shard",
                format!(
                    "{} connections cannot be split into {} shards (each needs one)",
                    self.connections, shard.count
                ),
            ));
        }
        let fraction = share as f64 / self.connections as f64;
        Ok(LoadPlan {
            connections: share,
            rate: self.rate.map(|r| (r * fraction).max(*limits::RATE.start())),
            shard: Some(shard),
            ..self.clone()
        })
    }

    /// Open files this plan needs.
    pub fn fds_needed(&self) -> u64 {
        self.connections + FD_MARGIN
    }

    /// The longest this run can take when all goes well: connecting, warm-up, window,
    /// teardown (for a parent's time limit).
    pub fn expected_length(&self) -> Duration {
        let connect = self.connections as f64 / self.connect_rate;
        Duration::from_secs_f64(connect.min(1e6))
            + self.connect_timeout
            + self.warmup
            + self.duration
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plan for tests: 10 connections to a closed port, closed loop, 1 s.
    pub(crate) fn plan() -> LoadPlan {
        LoadPlan {
            target: "127.0.0.1:9".parse().unwrap(),
            label: "x".into(),
            connections: 10,
            mode: LoadMode::Closed,
            rate: None,
            pipeline: 1,
            message_size: 64,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            connect_rate: 1000.0,
            connect_timeout: Duration::from_secs(1),
            message_timeout: Duration::from_secs(1),
            threads: 1,
            cpus: vec![],
            shard: None,
            start_at: None,
            io: None,
        }
    }

    #[test]
    fn shards_add_up_to_the_whole() {
        let mut p = plan();
        p.connections = 2001;
        p.mode = LoadMode::Open;
        p.rate = Some(20_010.0);
        let parts: Vec<LoadPlan> = (0..4)
            .map(|i| p.shard_of(Shard { index: i, count: 4 }).unwrap())
            .collect();
        assert_eq!(parts.iter().map(|s| s.connections).sum::<u64>(), 2001);
        assert_eq!(parts[0].connections, 501);
        assert_eq!(parts[3].connections, 500);
        let rate: f64 = parts.iter().map(|s| s.rate.unwrap()).sum();
        assert!((rate - 20_010.0).abs() < 1e-6, "{rate}");
        assert_eq!(
            "1/4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
        for bad in ["4/4", "1/0", "x/2", "1", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        p.connections = 3;
        assert_eq!(
            p.shard_of(Shard { index: 3, count: 4 }).unwrap_err().flag,
            "--shard"
        );
        let mut p = plan();
        p.start_at = Some(unix_now() + 3.0 * START_AT_SLACK);
        assert_eq!(p.validate().unwrap_err().flag, "--start-at");
    }

    #[test]
    fn validation_names_the_flag() {
        assert!(plan().validate().is_ok());
        let bad = |f: fn(&mut LoadPlan)| {
            let mut p = plan();
            f(&mut p);
            p.validate().unwrap_err().flag
        };
        assert_eq!(bad(|p| p.connect_rate = 1e-300), "--connect-rate");
        assert_eq!(bad(|p| p.connect_rate = f64::NAN), "--connect-rate");
        assert_eq!(bad(|p| p.connections = 0), "--connections");
        assert_eq!(bad(|p| p.message_size = 3_000_000_000), "--size");
        assert_eq!(bad(|p| p.mode = LoadMode::Open), "--rate");
        assert_eq!(
            bad(|p| {
                p.mode = LoadMode::Open;
                p.rate = Some(0.0)
            }),
            "--rate"
        );
        assert_eq!(bad(|p| p.duration = Duration::ZERO), "--duration");
        assert_eq!(
            bad(|p| {
                p.connections = 1_000_000;
                p.pipeline = 1024;
                p.message_size = 1 << 20
            }),
            "--size"
        );
    }

    #[test]
    fn a_plan_round_trips_through_json() {
        let mut p = plan();
        p.mode = LoadMode::Open;
        p.rate = Some(1234.5);
        p.cpus = vec![1];
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<LoadPlan>(&text).unwrap(), p);
    }
}
