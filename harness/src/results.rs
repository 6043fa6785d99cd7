//! The results model: what every loopbench command writes as JSON and what `report`,
//! `compare` and `gate` read back. `schema/results.schema.json` documents the same shape.
//!
//! Invariant: a results file is written whole or not at all ([`write_atomic`]), and a file
//! whose `schema_version` differs from [`SCHEMA_VERSION`] is refused with one clear error.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::info::RuntimeInfo;

/// Version of the results format; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One results file: any mix of conformance cells, echo runs and micro-benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// Where and how the results were taken.
    pub environment: Environment,
    /// Conformance cells, one per scenario × runtime.
    #[serde(default)]
    pub results: Vec<ConformanceCell>,
    /// Echo benchmark points, one per runtime × connection count × mode × repeat.
    #[serde(default)]
    pub runs: Vec<EchoRun>,
    /// Micro-benchmark figures, one per runtime × workload.
    #[serde(default)]
    pub micro: Vec<MicroResult>,
    /// Capacity searches (`bench capacity`), one per server × connection count.
    #[serde(default)]
    pub capacity: Vec<CapacityResult>,
    /// Servers' user-space instructions per message under callgrind (`bench instructions`),
    /// one per server × connection count × repeat. Absent in files written without it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_instructions: Vec<ServerInstructions>,
    /// How each equal-load rate was chosen (`bench equal`), one per connection count.
    #[serde(default)]
    pub equal_load: Vec<EqualLoadBasis>,
    /// The kill matrix of `loopbench conformance --mutants`: which scenario turns which
    /// deliberately broken evloop into `fail`. Absent in files written without it (older
    /// files too: the field is optional within `schema_version` 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_matrix: Option<KillMatrix>,
}

/// Which scenarios kill which mutants (deliberately broken evloops): the proof that each
/// scenario's verdict can fail.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KillMatrix {
    /// Which pairs ran: `declared` (each scenario on the mutants it declares it kills) or
    /// `all` (every scenario on every mutant).
    pub pairs: String,
    /// Every mutant that took part, in display order.
    pub mutants: Vec<MutantInfo>,
    /// One cell per scenario × mutant that ran.
    pub cells: Vec<KillCell>,
}

/// A deliberately broken evloop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutantInfo {
    /// Its name, the value of `EVLOOP_MUTANT` (`lifo_ready_queue`).
    pub name: String,
    /// The reference rule its fault breaks first of all.
    pub rule: String,
    /// What is broken, in one line.
    pub description: String,
}

/// One scenario run on one mutant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KillCell {
    /// Scenario id.
    pub scenario: String,
    /// Rule id the scenario checks.
    pub rule: String,
    /// Mutant name.
    pub mutant: String,
    /// The cell's status, classified as an evloop cell.
    pub status: CellStatus,
    /// Whether the mutant was killed: the status is `fail`, `timeout` or `crash`.
    pub killed: bool,
    /// Whether the scenario declares that it kills this mutant.
    pub declared: bool,
    /// The classification's detail (observed vs expected, or what killed the child).
    #[serde(default)]
    pub detail: String,
    /// Wall time of the cell, child process included, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
}

impl KillMatrix {
    /// Scenarios (in first-seen order) and, for each, how many mutants it killed.
    pub fn kills_per_scenario(&self) -> Vec<(&str, usize)> {
        let mut out: Vec<(&str, usize)> = Vec::new();
        for c in &self.cells {
            match out.iter_mut().find(|(s, _)| *s == c.scenario) {
                Some((_, n)) => *n += usize::from(c.killed),
                None => out.push((&c.scenario, usize::from(c.killed))),
            }
        }
        out
    }

    /// Mutants (in the order of [`KillMatrix::mutants`]) and how many scenarios killed each.
    pub fn kills_per_mutant(&self) -> Vec<(&str, usize)> {
        self.mutants
            .iter()
            .map(|m| {
                let n = self
                    .cells
                    .iter()
                    .filter(|c| c.mutant == m.name && c.killed)
                    .count();
                (m.name.as_str(), n)
            })
            .collect()
    }

    /// Declared pairs the mutant survived: claims of the catalogue that did not hold.
    pub fn surviving_declared(&self) -> impl Iterator<Item = &KillCell> {
        self.cells.iter().filter(|c| c.declared && !c.killed)
    }
}

/// The machine, toolchain and command a results file came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// `loopbench` version that wrote the file.
    pub loopbench_version: String,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Cores this process could run on.
    pub cores: usize,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// `rustc --version` of the compiler that built loopbench.
    pub rustc: String,
    /// Build profile (`release` or `debug`).
    pub profile: String,
    /// UTC time the run started, RFC 3339.
    pub date: String,
    /// The command line, argument by argument.
    pub command_line: Vec<String>,
    /// How processes were pinned to CPUs, if they were ("server cpu 0, client cpu 1").
    #[serde(default)]
    pub pinning: Option<String>,
    /// Open-file limit (soft, hard) of the process that wrote the file.
    #[serde(default)]
    pub nofile_limit: Option<(u64, u64)>,
    /// Every runtime that took part, with its crate version.
    #[serde(default)]
    pub runtimes: Vec<RuntimeInfo>,
}

/// Status of one conformance cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellStatus {
    /// Matches the reference semantics.
    Pass,
    /// A known, documented behaviour of that runtime; the detail names the source.
    Differs,
    /// Neither matches nor is documented; the detail says observed vs expected.
    Fail,
    /// The runtime lacks the capability; the detail says which.
    Unsupported,
    /// The scenario did not finish within its time limit.
    Timeout,
    /// The child process running the scenario died (abort, signal, bad exit).
    Crash,
}

impl CellStatus {
    /// All statuses, in display order.
    pub const ALL: [CellStatus; 6] = [
        CellStatus::Pass,
        CellStatus::Differs,
        CellStatus::Fail,
        CellStatus::Unsupported,
        CellStatus::Timeout,
        CellStatus::Crash,
    ];

    /// The lowercase name used in JSON and the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            CellStatus::Pass => "pass",
            CellStatus::Differs => "differs",
            CellStatus::Fail => "fail",
            CellStatus::Unsupported => "unsupported",
            CellStatus::Timeout => "timeout",
            CellStatus::Crash => "crash",
        }
    }

    /// Whether this status means something is broken (`fail`, `timeout`, `crash`).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            CellStatus::Fail | CellStatus::Timeout | CellStatus::Crash
        )
    }
}

impl fmt::Display for CellStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A figure a scenario measured (sleep resolution, wake-up latency, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// What was measured, e.g. `sleep_1ms_p50`.
    pub name: String,
    /// The value, in `unit`.
    pub value: f64,
    /// Unit: `us`, `ms`, `count`, `ratio`, ...
    pub unit: String,
}

/// One scenario on one runtime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConformanceCell {
    /// Scenario id, e.g. `loop.call_soon_fifo`.
    pub scenario: String,
    /// Reference rule id it checks (`L3`, `C2`, ...).
    pub rule: String,
    /// Group of the scenario (`loop`, `timers`, `tasks`, ...).
    #[serde(default)]
    pub group: String,
    /// Runtime id.
    pub runtime: String,
    /// Outcome.
    pub status: CellStatus,
    /// Empty on `pass`; otherwise why (observed vs expected, the documented reason and its
    /// source, or what killed the child).
    #[serde(default)]
    pub detail: String,
    /// Figures measured along the way.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    /// Wall time of the cell, child process included, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub p9999: f64,
    pub max: f64,
}

/// What the load generator could not do or found wrong, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoErrors {
    /// Connections that could not be opened.
    pub connect_failures: u64,
    /// Echoed bytes that differed from what was sent (sequence or content).
    pub mismatches: u64,
    /// Connections reset or closed by the server mid-run.
    pub resets: u64,
    /// Echoes that did not come back within the per-message timeout.
    pub timeouts: u64,
    /// Any other I/O error.
    pub other: u64,
}

impl EchoErrors {
    /// Sum of all counters.
    pub fn total(&self) -> u64 {
        self.connect_failures + self.mismatches + self.resets + self.timeouts + self.other
    }

    /// The non-zero counters in words: `3 mismatched, 10 reset`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.connect_failures, "connect failures"),
            (self.mismatches, "mismatched"),
            (self.resets, "reset"),
            (self.timeouts, "timed out"),
            (self.other, "other"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            "no errors".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Whether a point was measured whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// The whole planned window was measured with every connection asked for (errors, if
    /// any, are counted in `errors`).
    #[default]
    Complete,
    /// Something was measured, but not all of what was planned: the window was cut short
    /// (server died, every connection lost), connections were short or lost, or the offered
    /// rate was not reached. `status_reason` says which.
    Partial,
    /// Nothing was measured; `status_reason` says why.
    Failed,
}

impl RunStatus {
    /// `complete`, `partial` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a point was run for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunPurpose {
    /// A point of a closed- or open-loop curve (`bench echo`).
    #[default]
    Curve,
    /// A short run before an equal-load comparison: a server's capacity (closed loop), or
    /// the first point at a probed rate the load generator could not carry under its
    /// client-bound threshold (open loop; the rate was then lowered).
    Probe,
    /// The equal-load comparison: every server at one offered rate (`bench equal`).
    EqualLoad,
}

/// One echo benchmark point: one runtime (or baseline, or external server) at one
/// connection count in one mode, one repeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EchoRun {
    /// Runtime id, baseline id (`blocking`, `threads`, `threadpool`, `epoll-floor`) or a
    /// name for an external server.
    pub runtime: String,
    /// Connections asked for.
    pub connections: u64,
    /// Connections actually established.
    pub established: u64,
    /// `closed` or `open`.
    pub mode: String,
    /// What the point was run for.
    #[serde(default)]
    pub purpose: RunPurpose,
    /// Whether it was measured whole.
    #[serde(default)]
    pub status: RunStatus,
    /// Why it is partial or failed (absent when complete).
    #[serde(default)]
    pub status_reason: Option<String>,
    /// Offered total rate in messages per second (open loop only).
    #[serde(default)]
    pub offered_rate: Option<f64>,
    /// Messages in flight per connection (closed loop).
    #[serde(default)]
    pub pipeline: u64,
    /// Message size in bytes.
    pub message_size: u64,
    /// The server's read buffer per connection, bytes (`--buffer`), when loopbench started
    /// the server with that policy.
    #[serde(default)]
    pub buffer_bytes: Option<u64>,
    /// Which repeat (0-based) this point is.
    #[serde(default)]
    pub repeat: u32,
    /// Measured duration in seconds (warm-up excluded): where the measurement stopped,
    /// which is before the planned end when the window was cut short.
    pub duration_s: f64,
    /// The planned measured duration in seconds.
    #[serde(default)]
    pub planned_duration_s: Option<f64>,
    /// Echoed messages per second over the measured duration.
    pub throughput_msgs_per_s: f64,
    /// Latency percentiles; in open loop corrected for coordinated omission (from the
    /// intended send time).
    pub latency_us: Percentiles,
    /// Latency from the actual send time.
    pub latency_raw_us: Percentiles,
    /// HdrHistogram V2 (base64) of `latency_us`, in microseconds.
    #[serde(default)]
    pub histogram: Option<String>,
    /// HdrHistogram V2 (base64) of `latency_raw_us`, in microseconds.
    #[serde(default)]
    pub histogram_raw: Option<String>,
    /// Connect-time percentiles in milliseconds (a run merged from shards keeps no connect
    /// histogram: each percentile is the highest shard's, an upper bound).
    pub connect_ms: Percentiles,
    /// Error counters.
    pub errors: EchoErrors,
    /// Established connections that never received a complete echo (a starved server).
    #[serde(default)]
    pub unserved_connections: u64,
    /// Established connections lost during the run (reset, closed, timed out).
    #[serde(default)]
    pub lost_connections: u64,
    /// Server CPU time (user + system) per echoed message, microseconds; absent for external
    /// servers whose process loopbench cannot see.
    #[serde(default)]
    pub server_cpu_us_per_msg: Option<f64>,
    /// Server resident set size at the end of the measured interval, bytes.
    #[serde(default)]
    pub server_rss_bytes: Option<u64>,
    /// (RSS with connections open − RSS before connecting) / established.
    #[serde(default)]
    pub rss_per_connection_bytes: Option<f64>,
    /// The runtime's own share of `rss_per_connection_bytes`: minus the epoll floor's RSS
    /// per connection at the same connection count in the same run (the floor holds the same
    /// buffer per connection and nothing else), so the buffer policy cancels out.
    #[serde(default)]
    pub runtime_rss_per_connection_bytes: Option<f64>,
    /// Load generator CPU use in percent of one core over the measured interval.
    pub client_cpu_pct: f64,
    /// Load-generator threads (each can use one core; 0 in older files: unknown).
    #[serde(default)]
    pub client_threads: u32,
    /// Load generator CPU time per echoed message, microseconds.
    #[serde(default)]
    pub client_cpu_us_per_msg: Option<f64>,
    /// The load generator's I/O path, `uring` or `epoll` (absent in older files: epoll).
    #[serde(default)]
    pub client_io: Option<String>,
    /// The load generator used at least [`CLIENT_BOUND_PCT`] % of its cores: the figure
    /// measures the client as much as the server, and is never ranked.
    #[serde(default)]
    pub client_bound: bool,
    /// Things a reader must know: rate not reached, connections short, client saturated.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Echoes completed in the measured window, exactly (absent in older files).
    #[serde(default)]
    pub measured_messages: Option<u64>,
    /// `I/N` when this run is shard I of a run split over N load generators.
    #[serde(default)]
    pub shard: Option<String>,
    /// The agreed start of the measured window, Unix time in seconds (`--start-at`).
    #[serde(default)]
    pub start_at: Option<f64>,
    /// A run over several hosts (`bench echo --hosts`): every host with its role, its clock
    /// offset as measured at start and, for a load agent, its shard's own figures. The
    /// figures above are the merged ones: counts summed, percentiles from the sum of the
    /// shards' histograms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostRun>,
}

/// One host of a run over several hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostRun {
    /// The SSH destination (`user@host`).
    pub host: String,
    /// `agent` (runs a shard of the load) or `server` (runs the echo server).
    pub role: String,
    /// The agent's shard, `I/N`.
    #[serde(default)]
    pub shard: Option<String>,
    /// Its clock minus this host's, milliseconds, measured at the point's start (the
    /// exchange with the smallest round trip of a few over one SSH session).
    #[serde(default)]
    pub clock_offset_ms: Option<f64>,
    /// Round trip of that exchange, milliseconds: the offset's uncertainty is half of it.
    #[serde(default)]
    pub clock_rtt_ms: Option<f64>,
    /// The agent's own run (its shard), as its load generator wrote it.
    #[serde(default)]
    pub run: Option<Box<EchoRun>>,
    /// What went wrong on this host, if anything did.
    #[serde(default)]
    pub error: Option<String>,
}

/// Share of its cores (percent) at or above which the load generator is the bottleneck of
/// a point (`client_bound`).
pub const CLIENT_BOUND_PCT: f64 = 85.0;

impl EchoRun {
    /// Messages measured (throughput × measured duration).
    pub fn messages(&self) -> f64 {
        self.throughput_msgs_per_s * self.duration_s
    }

    /// Whether this point may be ranked against others, and if not, why: not every
    /// connection established, any error, partial or failed, client-bound, starved
    /// connections.
    pub fn rank_exclusion(&self) -> Option<String> {
        if self.status != RunStatus::Complete {
            let why = self
                .status_reason
                .as_deref()
                .unwrap_or("no reason recorded");
            return Some(format!("{}: {why}", self.status));
        }
        if self.established < self.connections {
            return Some(format!(
                "only {} of {} connections established",
                self.established, self.connections
            ));
        }
        if self.errors.total() > 0 {
            return Some(format!("{} errors", self.errors.total()));
        }
        if self.unserved_connections > 0 {
            return Some(format!(
                "starved: {} of {} connections never got an echo",
                self.unserved_connections, self.established
            ));
        }
        if self.client_bound {
            return Some(format!(
                "client-bound: the load generator used {:.0}% of {} core(s)",
                self.client_cpu_pct,
                self.client_threads.max(1)
            ));
        }
        None
    }
}

/// The exit status of a set of echo points (`load`, `bench echo`, `bench equal`, `bench
/// capacity`): 0 every point complete without errors, 1 something measured but with errors
/// or partial, 3 nothing measured at all; with a one-line summary for the non-zero cases.
pub fn echo_exit_status(runs: &[EchoRun]) -> (u8, Option<String>) {
    let bad: Vec<&EchoRun> = runs
        .iter()
        .filter(|r| r.status != RunStatus::Complete || r.errors.total() > 0)
        .collect();
    if bad.is_empty() && !runs.is_empty() {
        return (0, None);
    }
    let describe = |r: &EchoRun| {
        let what = match (r.status, &r.status_reason) {
            (RunStatus::Complete, _) => format!("measured with errors: {}", r.errors.describe()),
            (s, Some(why)) => format!("{s}: {why}"),
            (s, None) => s.to_string(),
        };
        format!("{} x {} ({}): {what}", r.runtime, r.connections, r.mode)
    };
    if runs.iter().all(|r| r.status == RunStatus::Failed) {
        let first = runs
            .first()
            .map(describe)
            .unwrap_or_else(|| "no point ran".into());
        return (3, Some(format!("nothing measured: {first}")));
    }
    let first = describe(bad[0]);
    let line = if runs.len() == 1 {
        first
    } else {
        format!(
            "{} of {} points partial, failed or with errors (first: {first})",
            bad.len(),
            runs.len()
        )
    };
    (1, Some(line))
}

/// How an equal-load rate was chosen: the capacity probes and the fraction taken.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EqualLoadBasis {
    /// Connections of the comparison.
    pub connections: u64,
    /// The offered rate every server got, messages per second.
    pub rate: f64,
    /// Fraction of the slowest server's probe throughput (absent when `--rate` was given).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// The probes: (server, closed-loop throughput, whether the client limited it).
    #[serde(default)]
    pub probes: Vec<CapacityProbe>,
    /// One sentence: where the rate came from.
    pub basis: String,
    /// The rate first chosen (`fraction` of the slowest probe), when the load generator
    /// could not carry it under [`CLIENT_BOUND_PCT`] % of its cores: `rate` is then that
    /// rate lowered once, in proportion (absent otherwise, and in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowered_from: Option<f64>,
}

/// One server's capacity probe.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityProbe {
    /// The server.
    pub runtime: String,
    /// Messages per second it carried in the probe (closed loop).
    pub msgs_per_s: f64,
    /// The load generator, not the server, was the limit of the probe (then the server's
    /// capacity is at least this).
    pub client_bound: bool,
}

/// One server's user-space instructions per echoed message, counted by callgrind over two
/// closed-loop loads of different lengths (`bench instructions`): the difference of their
/// counts over the difference of their messages, so what starting, connecting and closing
/// cost (the same in both) cancels. Deterministic to a fraction of a percent, where CPU time
/// per message varies by tens of percent; it counts user space only (the kernel's TCP path,
/// most of the CPU time, is not in it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerInstructions {
    /// The server.
    pub runtime: String,
    /// Connections.
    pub connections: u64,
    /// Message size, bytes.
    pub message_size: u64,
    /// Which repeat (0-based).
    pub repeat: u32,
    /// Instructions per message; absent when not measured (see `note`).
    #[serde(default)]
    pub instructions_per_msg: Option<f64>,
    /// The two measured loads, shorter first (empty when not measured).
    #[serde(default)]
    pub loads: Vec<InstructionLoad>,
    /// Why there is no figure; absent when there is one.
    #[serde(default)]
    pub note: Option<String>,
}

/// One load of a [`ServerInstructions`] measurement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstructionLoad {
    /// Its measured window, seconds.
    pub duration_s: f64,
    /// Messages echoed in the window.
    pub messages: u64,
    /// The server's instructions over the whole load (connecting and closing included).
    pub instructions: u64,
}

/// One step of a capacity search: an open-loop run at one offered rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Offered rate, messages per second.
    pub rate: f64,
    /// Measured rate, messages per second.
    pub achieved: f64,
    /// Corrected p99 latency, µs (0 when nothing was measured).
    pub p99_us: f64,
    /// Errors of the run.
    pub errors: u64,
    /// Status of the run.
    pub status: RunStatus,
    /// Load generator CPU, percent of one core.
    pub client_cpu_pct: f64,
    /// The load generator was near saturation (the step says nothing about the server).
    pub client_bound: bool,
    /// The step met the bound: p99 under it, no error, the rate reached, complete.
    pub passed: bool,
}

/// The capacity of one server at one connection count (`bench capacity`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityResult {
    /// The server.
    pub runtime: String,
    /// Connections.
    pub connections: u64,
    /// Message size, bytes.
    pub message_size: u64,
    /// The bound on corrected p99 latency, µs.
    pub p99_bound_us: f64,
    /// The highest offered rate that met the bound (twice, at the edge); absent when none
    /// did.
    #[serde(default)]
    pub capacity_msgs_per_s: Option<f64>,
    /// Corrected p99 at that rate, µs.
    #[serde(default)]
    pub p99_us: Option<f64>,
    /// Server CPU per message at that rate, µs.
    #[serde(default)]
    pub server_cpu_us_per_msg: Option<f64>,
    /// The load generator ran out before the server: the capacity is a lower bound.
    pub client_limited: bool,
    /// One sentence on how the search ended.
    pub note: String,
    /// Every step, in the order run.
    #[serde(default)]
    pub steps: Vec<CapacityStep>,
}

/// One micro-benchmark workload on one runtime.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MicroResult {
    /// Runtime id.
    pub runtime: String,
    /// Workload name (`spawn_many`, `ping_pong`, ...).
    pub bench: String,
    /// Iterations per sample.
    pub iters: u64,
    /// Median time per iteration, nanoseconds.
    pub ns_per_iter: f64,
    /// Fastest sample, nanoseconds per iteration.
    pub ns_per_iter_min: f64,
    /// Slowest sample, nanoseconds per iteration.
    pub ns_per_iter_max: f64,
    /// Number of samples taken.
    pub samples: u32,
}

/// Why a results file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read results file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("results file {path} is empty")]
    Empty { path: PathBuf },
    #[error("results file {path} ends early (truncated?): {source}")]
    Truncated {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("results file {path} is not valid loopbench JSON: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} is not a loopbench results file: it is a JSON {what}, not an object")]
    NotResults { path: PathBuf, what: &'static str },
    #[error("results file {path} has no schema_version (not a loopbench results file?); this loopbench reads version {expected}")]
    MissingVersion { path: PathBuf, expected: u32 },
    #[error(
        "results file {path} has schema_version {found}, this loopbench reads version {expected}"
    )]
    Version {
        path: PathBuf,
        /// The version as written (JSON: `2`, `"1"`, `null`).
        found: String,
        expected: u32,
    },
}

impl ResultsFile {
    /// An empty results file for `environment`.
    pub fn new(environment: Environment) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            environment,
            ..Self::default()
        }
    }

    /// Reads and checks a results file: unreadable (a FIFO or a device included), empty,
    /// truncated, corrupt, foreign, version-less or other-version files are errors.
    pub fn load(path: &Path) -> Result<Self, ResultsError> {
        let text = crate::paths::read_regular_file(path).map_err(|source| ResultsError::Io {
            path: path.to_owned(),
            source,
        })?;
        if text.trim().is_empty() {
            return Err(ResultsError::Empty {
                path: path.to_owned(),
            });
        }
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|source| {
            if source.is_eof() {
                ResultsError::Truncated {
                    path: path.to_owned(),
                    source,
                }
            } else {
                ResultsError::Corrupt {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let Some(object) = value.as_object() else {
            return Err(ResultsError::NotResults {
                path: path.to_owned(),
                what: json_kind(&value),
            });
        };
        match object.get("schema_version") {
            None => {
                return Err(ResultsError::MissingVersion {
                    path: path.to_owned(),
                    expected: SCHEMA_VERSION,
                })
            }
            Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
            Some(other) => {
                return Err(ResultsError::Version {
                    path: path.to_owned(),
                    found: other.to_string(),
                    expected: SCHEMA_VERSION,
                })
            }
        }
        serde_json::from_value(value).map_err(|source| ResultsError::Corrupt {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the file atomically (temporary file, then rename), pretty-printed.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)
    }
}

/// What kind of JSON value `v` is, for an error message.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Writes `bytes` to `path` so that readers see the old file or the whole new one, never a
/// part: a temporary file in the same directory, fsync, then rename. A missing directory is
/// created (the error names it when it cannot be).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = crate::paths::parent_dir(path);
    crate::paths::create_dir(&dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

impl Environment {
    /// Reads the machine's description: CPU, cores, kernel, compiler, date, command line.
    pub fn capture(runtimes: Vec<RuntimeInfo>) -> Self {
        Self {
            loopbench_version: env!("CARGO_PKG_VERSION").to_string(),
            cpu_model: cpu_model(),
            cores: crate::info::available_cores(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            rustc: env!("LOOPBENCH_RUSTC_VERSION").to_string(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_string(),
            date: rfc3339_now(),
            command_line: std::env::args().collect(),
            pinning: None,
            nofile_limit: nofile_limit(),
            runtimes,
        }
    }
}

/// The (soft, hard) open-file limit of this process, from `/proc/self/limits`.
fn nofile_limit() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    Some((numbers.next()?, numbers.next()?))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The current UTC time as RFC 3339 (`2026-11-21T12:34:56Z`).
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC.
pub fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A figure written to a results file reads back as the same `f64`, to the last bit
    /// (serde_json's `float_roundtrip`): a capacity search once lost its answer to a rate
    /// that came back one unit in the last place off from the child process's plan.
    #[test]
    fn figures_read_back_exactly() {
        for rate in [
            194_158.717_590_452_14,
            215_731.908_433_835_72,
            0.1 + 0.2,
            1e-300,
        ] {
            let run = EchoRun {
                offered_rate: Some(rate),
                throughput_msgs_per_s: rate,
                ..EchoRun::default()
            };
            let back: EchoRun =
                serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
            assert_eq!(
                back.offered_rate.map(f64::to_bits),
                Some(rate.to_bits()),
                "{rate:?}"
            );
            assert_eq!(
                back.throughput_msgs_per_s.to_bits(),
                rate.to_bits(),
                "{rate:?}"
            );
        }
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_264_496), "2026-11-21T12:34:56Z");
    }

    #[test]
    fn environment_records_the_open_file_limit() {
        let (soft, hard) = Environment::capture(vec![])
            .nofile_limit
            .expect("Linux /proc");
        assert!(soft > 0 && soft <= hard, "{soft} {hard}");
    }

    #[test]
    fn roundtrip_and_version_check() {
        let dir = std::env::temp_dir().join(format!("lb-results-{}", std::process::id()));
        let path = dir.join("r.json");
        let mut file = ResultsFile::new(Environment::capture(vec![]));
        file.results.push(ConformanceCell {
            scenario: "s".into(),
            rule: "L1".into(),
            group: "loop".into(),
            runtime: "x".into(),
            status: CellStatus::Differs,
            detail: "why".into(),
            measurements: vec![],
            elapsed_ms: 1.0,
        });
        file.save(&path).unwrap();
        assert_eq!(ResultsFile::load(&path).unwrap(), file);

        std::fs::write(&path, "{\"schema_version\": 99}").unwrap();
        let err = ResultsFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("schema_version 99"), "{err}");

        std::fs::write(&path, "{not json").unwrap();
        let err = ResultsFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("not valid loopbench JSON"), "{err}");

        for (text, expect) in [
            ("", "is empty"),
            ("  \n", "is empty"),
            (
                "{\"schema_version\": 1, \"environment\": {",
                "ends early (truncated?)",
            ),
            ("[1, 2]", "is a JSON array, not an object"),
            ("{}", "has no schema_version"),
            ("{\"schema_version\": \"1\"}", "has schema_version \"1\""),
            ("{\"schema_version\": null}", "has schema_version null"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = ResultsFile::load(&path).unwrap_err().to_string();
            assert!(err.contains(expect), "{text:?}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
