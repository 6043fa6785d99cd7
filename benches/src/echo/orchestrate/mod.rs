//! The echo benchmarks as separate processes: for each point a fresh server process and a
//! fresh load-generator process (`loopbench load`, given its whole plan as one
//! [`loadgen::LoadPlan`] file), the server sampled from `/proc` around the measured window
//! the load generator announces.
//!
//! Code map: this file holds what every benchmark shares ([`Settings`], pinning, the
//! thread default, [`Bench::point`]); [`server`] starts servers (built-in or outside
//! commands); `point` runs one point; [`curve`] is `bench echo` (the matrix, servers
//! interleaved within each repeat); [`hosts`] a point whose load comes from several hosts
//! over SSH (shards merged by `loadgen::merge`); [`equal`] the equal-load comparison (probe, then every
//! server at one rate); [`capacity`] the capacity search; [`memory`] the runtime's own share
//! of memory per connection; [`instructions`] servers' user-space instructions per message
//! under callgrind.
//!
//! Invariant: a point whose server fails to start, crashes or hangs becomes a run marked
//! `failed` or `partial` with the reason (`duration_s` 0 when nothing was measured); the
//! benchmark goes on.

pub mod capacity;
pub mod curve;
pub mod equal;
pub mod hosts;
pub mod instructions;
pub mod memory;
mod point;
pub mod server;

use std::path::PathBuf;
use std::time::Duration;

use harness::proc;
use harness::results::{EchoRun, RunPurpose};
use loadgen::plan::FD_MARGIN;
use loadgen::LoadMode;

pub use server::ServerSpec;

/// What every point of a benchmark shares.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The `loopbench` executable (runs `serve`, `load` and the guard).
    pub exe: PathBuf,
    /// Message size in bytes.
    pub size: usize,
    /// Closed loop: messages in flight per connection.
    pub pipeline: u32,
    /// Every server's read buffer per connection, bytes.
    pub buffer: usize,
    /// Connections opened per second.
    pub connect_rate: f64,
    /// Load-generator threads; `None`: the cores the server is not pinned to.
    pub threads: Option<usize>,
    /// The load generator's I/O path; `None`: each load generator's default.
    pub client_io: Option<loadgen::ClientIo>,
    /// Pin the server and the load generator to separate CPUs.
    pub pin: bool,
    /// How long a server may take to start accepting.
    pub start_timeout: Duration,
    /// An echo not complete within this is a time-out.
    pub message_timeout: Duration,
    /// No progress bar.
    pub quiet: bool,
    /// The address a server started here listens on (127.0.0.1 unless load comes from
    /// other hosts).
    pub listen: std::net::IpAddr,
    /// Load agents (and the server) on other hosts over SSH; `None`: all here.
    pub hosts: Option<hosts::Hosts>,
}

/// One point to run.
#[derive(Clone, Debug)]
pub struct Point {
    /// Connections.
    pub connections: u64,
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Open loop: offered rate.
    pub rate: Option<f64>,
    /// Warm-up.
    pub warmup: Duration,
    /// Measured window.
    pub duration: Duration,
    /// What the point is for.
    pub purpose: RunPurpose,
}

/// Which CPUs the server and the load generator run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pins {
    /// The server's CPU.
    pub server: usize,
    /// The load generator's CPUs (one worker thread each).
    pub client: Vec<usize>,
}

/// Why a benchmark could not start.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Our open-file limit (inherited by both children) is too low.
    #[error("{0}")]
    FdLimit(String),
}

/// A benchmark ready to run points.
#[derive(Debug)]
pub struct Bench {
    /// The shared settings.
    pub settings: Settings,
    /// CPUs, when pinning.
    pins: Option<Pins>,
}

impl Bench {
    /// Checks the open-file limit for `max_connections` and decides the pinning.
    pub fn new(settings: Settings, max_connections: u64) -> Result<Self, BenchError> {
        let (soft, hard) = proc::raise_nofile();
        if soft < max_connections + FD_MARGIN {
            return Err(BenchError::FdLimit(proc::nofile_too_low(
                "each benchmark process",
                soft,
                hard,
                max_connections,
                max_connections + FD_MARGIN,
            )));
        }
        let pins = if settings.pin { pin_cpus() } else { None };
        Ok(Self { settings, pins })
    }

    /// What was done about pinning, for the environment record.
    pub fn pinning(&self) -> Option<String> {
        match (&self.pins, self.settings.pin) {
            (Some(p), true) => Some(format!(
                "server cpu {}, load generator cpu {} (sched_setaffinity, inherited at spawn)",
                p.server,
                p.client
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            (None, true) => Some("not pinned: fewer than 2 CPUs available".to_string()),
            _ => None,
        }
    }

    /// Load-generator threads: as asked, else the cores the server is not pinned to (all
    /// but one when not pinning), at least one.
    pub fn client_threads(&self) -> usize {
        match (self.settings.threads, &self.pins) {
            (Some(t), _) => t,
            (None, Some(p)) => p.client.len().max(1),
            (None, None) => harness::info::available_cores().saturating_sub(1).max(1),
        }
    }

    /// Runs one point on `server`.
    pub fn point(&self, server: &ServerSpec, point: &Point) -> EchoRun {
        point::run(self, server, point)
    }
}

/// The CPUs this process may use: the first for the server, the others for the load
/// generator.
fn pin_cpus() -> Option<Pins> {
    let set = rustix::thread::sched_getaffinity(None).ok()?;
    let mut cpus = (0..rustix::thread::CpuSet::MAX_CPU).filter(|c| set.is_set(*c));
    let server = cpus.next()?;
    let client: Vec<usize> = cpus.collect();
    (!client.is_empty()).then_some(Pins { server, client })
}

/// A progress bar for `total` points (hidden when quiet or not on a terminal).
pub(crate) fn progress(quiet: bool, what: &str, total: u64) -> indicatif::ProgressBar {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} [{{bar:30}}] {{pos}}/{{len}} · {{elapsed}} elapsed · ~{{eta}} left · {{wide_msg}}"
        ))
        .expect("static template")
        .progress_chars("=> "),
    );
    bar
}
