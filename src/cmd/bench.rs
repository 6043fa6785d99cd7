//! `loopbench bench echo|equal|capacity|io-models|instructions`: the C10k echo benchmarks over runtimes,
//! baselines and outside servers; a fresh server and load-generator process per point,
//! results saved after every point, the terminal tables at the end (printed even when saving
//! failed). `io-models` runs the other three for the epoll/io_uring pairs at several message
//! sizes and writes the report with its "epoll vs io_uring" section.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use benches::echo::orchestrate::capacity::{self, CapacityPlan};
use benches::echo::orchestrate::curve::{self, CurvePlan};
use benches::echo::orchestrate::equal::{self, EqualPlan, DEFAULT_FRACTION};
use benches::echo::orchestrate::hosts::{self, Hosts};
use benches::echo::orchestrate::instructions::{self, InstructionPlan};
use benches::echo::orchestrate::{Bench, BenchError, ServerSpec, Settings};
use benches::echo::{baselines, python, server};
use harness::results::{
    echo_exit_status, CapacityResult, EchoRun, Environment, EqualLoadBasis, ResultsFile, RunStatus,
};
use harness::units::{count_arg, counts_arg, duration_arg, parse_size, real_arg, size_arg};
use harness::RuntimeInfo;
use loadgen::plan::limits;
use loadgen::{ClientIo, LoadMode};

use crate::cmd::serve::server_ids;
use crate::util::usage;

/// Comma-separated connection counts.
#[derive(Clone, Debug)]
pub struct Counts(pub Vec<u64>);

fn counts(text: &str) -> Result<Counts, String> {
    counts_arg(limits::CONNECTIONS)(text).map(Counts)
}

/// Arguments of `loopbench bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

/// Benchmarks.
#[derive(clap::Subcommand)]
pub enum What {
    /// C10k echo curves: throughput, latency distribution, server and client CPU per
    /// message and memory per connection, from 1 to 10,000 connections.
    Echo(EchoArgs),
    /// Equal load: every server at one offered rate (probed, or --rate): server CPU per
    /// message, corrected latency and errors, the client doing identical work for each.
    Equal(EqualArgs),
    /// Capacity: per server, the highest offered rate whose corrected p99 stays under a
    /// bound with no error (bisection over short open-loop runs).
    Capacity(CapacityArgs),
    /// epoll vs io_uring: the closed-loop curve, the equal-load comparison and the capacity
    /// search for server pairs that differ in their I/O model, at several message sizes,
    /// into one results file and a report with the "epoll vs io_uring" verdicts.
    IoModels(IoModelsArgs),
    /// Instructions: each server's user-space instructions per message, counted by callgrind
    /// (a figure that repeats to a fraction of a percent, where CPU time varies by tens).
    Instructions(InstructionsArgs),
}

/// What every echo benchmark takes.
#[derive(clap::Args)]
pub struct Common {
    /// Runtimes and baselines: comma-separated ids, or `all` (`bench echo` default: every
    /// runtime and baseline; `equal`/`capacity`: every runtime, epoll-floor and uring-floor; none when
    /// --server is given).
    #[arg(long)]
    pub runtime: Option<String>,
    /// An outside echo server, NAME=COMMAND (repeatable); `{port}` is replaced by a free
    /// port, `{buffer}` by --buffer.
    #[arg(long = "server", value_name = "NAME=CMD", value_parser = ServerSpec::parse_named)]
    pub servers: Vec<ServerSpec>,
    /// Shorthand for --server NAME=CMD with the name of --server-name.
    #[arg(long)]
    pub server_cmd: Option<String>,
    /// Name recorded for --server-cmd.
    #[arg(long, default_value = "external")]
    pub server_name: String,
    /// Add the seeds' asyncio and uvloop servers: makes a virtual environment under
    /// target/loopbench-python and installs uvloop from PyPI into it (once), or says why not.
    #[arg(long)]
    pub with_python: bool,
    /// Closed loop: messages in flight per connection (1-1024).
    #[arg(long, default_value = "1", value_parser = count_arg::<u32>(limits::PIPELINE))]
    pub pipeline: u32,
    /// Every server's read buffer per connection, bytes (16 B to 1 MiB; seed 000's 2048).
    #[arg(long, default_value = "2048", value_parser = size_arg(server::BUFFER_RANGE))]
    pub buffer: usize,
    /// Connections opened per second (1 to 1M).
    #[arg(long, default_value = "2000", value_parser = real_arg(limits::CONNECT_RATE, "connections per second"))]
    pub connect_rate: f64,
    /// Load-generator threads (1-256; default: the cores the server is not pinned to).
    #[arg(long, value_parser = count_arg::<usize>(limits::THREADS))]
    pub threads: Option<usize>,
    /// The load generator's I/O: `uring` or `epoll` (default: io_uring where it can be set
    /// up, else epoll with a notice).
    #[arg(long, value_name = "uring|epoll")]
    pub client_io: Option<ClientIo>,
    /// Pin the server and the load generator to separate CPUs.
    #[arg(long)]
    pub pin: bool,
    /// How long a server may take to start accepting (10ms to 10 min).
    #[arg(long, default_value = "10s", value_parser = duration_arg(Duration::from_millis(10)..=Duration::from_secs(600)))]
    pub start_timeout: Duration,
    /// An echo not complete within this is a time-out (1ms to 1h).
    #[arg(long, default_value = "2s", value_parser = duration_arg(limits::TIMEOUT))]
    pub timeout: Duration,
    /// Write the results (schema: schema/results.schema.json) to this file, after every
    /// point; checked writable before anything runs.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `--size`: one message size (`bench io-models` takes a list, `--sizes`).
#[derive(clap::Args)]
pub struct OneSize {
    /// Message size in bytes (1 B to 1 MiB).
    #[arg(long, default_value = "64", value_parser = size_arg(limits::MESSAGE_SIZE))]
    pub size: usize,
}

/// Arguments of `loopbench bench echo`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  loopbench bench echo --runtime all --connections 1,100,1000,10000 --duration 3s --json /tmp/echo.json
  loopbench bench echo --runtime evloop,tokio-ct,epoll-floor --connections 100,10000 --repeat 5 --pin
  loopbench bench echo --runtime tokio-ct --with-python
  loopbench bench echo --server asyncio='python3 benches/servers/asyncio_echo.py {port}'
  loopbench bench echo --runtime tokio-ct --connections 2000 --hosts user@agent1,user@agent2 \
      --server-host user@server --remote-loopbench /opt/loopbench/loopbench

`all` is every compiled-in runtime plus the baselines blocking, threads, threadpool
(5 threads: starves beyond 5 connections, reported as data), epoll-floor and uring-floor
(io_uring; where it is unavailable its points fail with the reason, as not measured).
Points where the load generator used >= 85% of its cores are marked client-bound (`*`).

Exit status: 0 every point measured whole without errors; 1 some point measured with errors or
partial (or the results could not be saved); 2 bad input; 3 nothing measured.")]
pub struct EchoArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub size: OneSize,
    /// Connection counts, comma-separated (each 1 to 1,000,000).
    #[arg(long, default_value = "1,100,1000", value_parser = counts)]
    pub connections: Counts,
    /// `closed` or `open` (open needs --rate).
    #[arg(long, default_value = "closed")]
    pub mode: LoadMode,
    /// Open loop: total offered rate, messages per second (1 to 100M).
    #[arg(long, value_parser = real_arg(limits::RATE, "messages per second"))]
    pub rate: Option<f64>,
    /// Measured duration per point (10ms to 1h): `3s`, `500ms`.
    #[arg(long, default_value = "5s", value_parser = duration_arg(limits::DURATION))]
    pub duration: Duration,
    /// Warm-up per point, excluded from every figure (0 to 1h).
    #[arg(long, default_value = "1s", value_parser = duration_arg(limits::WARMUP))]
    pub warmup: Duration,
    /// Repeats of the whole matrix, servers interleaved within each (1-1000).
    #[arg(long, default_value = "1", value_parser = count_arg::<u32>(1..=1000))]
    pub repeat: u32,
    /// Load agents on other hosts, SSH destinations (`user@host`, comma-separated): each
    /// runs one shard of every point (`loopbench load --shard I/N`), all measuring the same
    /// window; their histograms are added.
    #[arg(long, value_name = "HOSTS", value_parser = host_list)]
    pub hosts: Option<HostList>,
    /// Run the server on this host over SSH (`user@host`; it listens on the host part's
    /// address). Default: here, on --listen.
    #[arg(long, value_name = "HOST", requires = "hosts", value_parser = server_host)]
    pub server_host: Option<String>,
    /// The `loopbench` executable on the remote hosts.
    #[arg(long, default_value = "loopbench", value_name = "PATH")]
    pub remote_loopbench: String,
    /// An OpenSSH client configuration file for every SSH connection (`ssh -F FILE`).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// The address a server started here listens on: one the agents reach when load comes
    /// from --hosts.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: IpAddr,
}

/// Comma-separated SSH destinations.
#[derive(Clone, Debug)]
pub struct HostList(pub Vec<String>);

fn host_list(text: &str) -> Result<HostList, String> {
    Hosts::parse_list(text).map(HostList)
}

fn server_host(text: &str) -> Result<String, String> {
    hosts::check_destination(text.trim())?;
    Ok(text.trim().to_string())
}

/// Arguments of `loopbench bench equal`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  loopbench bench equal --runtime evloop,tokio-ct,epoll-floor --repeat 3 --pin
  loopbench bench equal --with-python --connections 100,1000
  loopbench bench equal --runtime all --rate 20k

The rate is --rate, or --fraction (default 0.6) of the slowest server's throughput in a short
closed-loop probe with the same connections. Every server then gets that rate, open loop.

Exit status: 0 every point measured whole without errors; 1 some point measured with errors or
partial (or the results could not be saved); 2 bad input; 3 nothing measured.")]
pub struct EqualArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub size: OneSize,
    /// Connection counts, one comparison each.
    #[arg(long, default_value = "100", value_parser = counts)]
    pub connections: Counts,
    /// The offered rate, messages per second (skips the probe).
    #[arg(long, value_parser = real_arg(limits::RATE, "messages per second"))]
    pub rate: Option<f64>,
    /// Share of the slowest server's probed throughput (0.01 to 1).
    #[arg(long, default_value = "0.6", value_parser = real_arg(0.01..=1.0, ""))]
    pub fraction: f64,
    /// Measured window of each probe.
    #[arg(long, default_value = "1s", value_parser = duration_arg(limits::DURATION))]
    pub probe_duration: Duration,
    /// Measured window of each equal-load point.
    #[arg(long, default_value = "3s", value_parser = duration_arg(limits::DURATION))]
    pub duration: Duration,
    /// Warm-up of each point (and probe).
    #[arg(long, default_value = "500ms", value_parser = duration_arg(limits::WARMUP))]
    pub warmup: Duration,
    /// Repeats, servers interleaved within each (1-1000).
    #[arg(long, default_value = "1", value_parser = count_arg::<u32>(1..=1000))]
    pub repeat: u32,
}

/// Arguments of `loopbench bench capacity`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  loopbench bench capacity --runtime evloop,tokio-ct,epoll-floor --connections 1000
  loopbench bench capacity --runtime evloop --p99 1ms --with-python

A step passes when the run is complete (the rate reached, every connection kept), without
errors, and its corrected p99 is at most --p99; the best rate must pass twice. When the load
generator used >= 85% of its cores at the first failing rate, the capacity is a lower bound
(shown as `>=`).

Exit status: 0 every server's search ended with a capacity; 1 some search found none or the
results could not be saved; 2 bad input; 3 nothing measured.")]
pub struct CapacityArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub size: OneSize,
    /// Connection counts, comma-separated.
    #[arg(long, default_value = "1000", value_parser = counts)]
    pub connections: Counts,
    /// The bound on corrected p99 latency (10us to 1 min).
    #[arg(long, default_value = "10ms", value_parser = duration_arg(Duration::from_micros(10)..=Duration::from_secs(60)))]
    pub p99: Duration,
    /// Measured window of each step.
    #[arg(long, default_value = "1s", value_parser = duration_arg(limits::DURATION))]
    pub duration: Duration,
    /// Warm-up of each step.
    #[arg(long, default_value = "300ms", value_parser = duration_arg(limits::WARMUP))]
    pub warmup: Duration,
    /// Bisection stops when the bracket is this tight, relative (0.01 to 0.5).
    #[arg(long, default_value = "0.05", value_parser = real_arg(0.01..=0.5, ""))]
    pub precision: f64,
}

/// Comma-separated message sizes.
#[derive(Clone, Debug)]
pub struct Sizes(pub Vec<usize>);

fn sizes(text: &str) -> Result<Sizes, String> {
    let mut out: Vec<usize> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n = parse_size(part, limits::MESSAGE_SIZE)?;
        let n = usize::try_from(n).map_err(|_| format!("'{part}' is too large"))?;
        if out.contains(&n) {
            return Err(format!("message size {n} B is given twice"));
        }
        out.push(n);
    }
    if out.is_empty() {
        return Err(format!("no message size in '{text}'"));
    }
    Ok(Sizes(out))
}

/// Both members of every pair `bench io-models` compares (see `reports::io_models::PAIRS`).
const IO_MODEL_SERVERS: [&str; 7] = [
    "evloop",
    "evloop-uring",
    "tokio-ct",
    "compio",
    "monoio",
    "epoll-floor",
    "uring-floor",
];

/// Arguments of `loopbench bench io-models`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  loopbench bench io-models
  loopbench bench io-models --connections 1000 --sizes 64,4k --repeat 5 --out /tmp/io

For each message size in turn: the closed-loop curve (--repeat repeats, servers interleaved),
the equal-load comparison (probes, then --repeat repeats at one rate), and --repeat capacity
searches, every server at every connection count. One results file (--json, default
OUT/results.json) holds everything; the report in --out has an \"epoll vs io_uring\" section:
per pair (evloop/evloop-uring, epoll-floor/uring-floor, tokio-ct/compio, tokio-ct/monoio) and
metric, median (min-max) of the repeats, the ratio, and a verdict that claims a difference
only when the ranges are disjoint. Servers not compiled in are left out of the default list.

Exit status: 0 every point measured whole without errors and every search found a capacity;
1 some point partial, failed or with errors, some search without a capacity, or the results
or report could not be written; 2 bad input; 3 nothing measured.")]
pub struct IoModelsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Connection counts, comma-separated (each 1 to 1,000,000).
    #[arg(long, default_value = "100,10000", value_parser = counts)]
    pub connections: Counts,
    /// Message sizes, comma-separated (each 1 B to 1 MiB: `64,16k`); run one after another.
    #[arg(long, default_value = "64,16384", value_parser = sizes)]
    pub sizes: Sizes,
    /// Repeats of the curve, of the equal-load points and of the capacity search (1-1000).
    #[arg(long, default_value = "3", value_parser = count_arg::<u32>(1..=1000))]
    pub repeat: u32,
    /// Do not pin (by default the server and the load generator are pinned to separate CPUs
    /// when there are at least 2).
    #[arg(long, conflicts_with = "pin")]
    pub no_pin: bool,
    /// Measured window of each curve and equal-load point.
    #[arg(long, default_value = "3s", value_parser = duration_arg(limits::DURATION))]
    pub duration: Duration,
    /// Warm-up of each point, probe and capacity step.
    #[arg(long, default_value = "500ms", value_parser = duration_arg(limits::WARMUP))]
    pub warmup: Duration,
    /// Measured window of each equal-load probe and capacity step.
    #[arg(long, default_value = "1s", value_parser = duration_arg(limits::DURATION))]
    pub step_duration: Duration,
    /// Capacity: the bound on corrected p99 latency (10us to 1 min).
    #[arg(long, default_value = "10ms", value_parser = duration_arg(Duration::from_micros(10)..=Duration::from_secs(60)))]
    pub p99: Duration,
    /// Equal load: share of the slowest server's probed throughput (0.01 to 1).
    #[arg(long, default_value = "0.6", value_parser = real_arg(0.01..=1.0, ""))]
    pub fraction: f64,
    /// Directory of the report (`index.html`, charts, `results.json`; created if missing,
    /// checked before anything runs).
    #[arg(long, default_value = "loopbench-out/io-models")]
    pub out: PathBuf,
}

/// Arguments of `loopbench bench instructions`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  loopbench bench instructions
  loopbench bench instructions --runtime evloop,epoll-floor --connections 100,1000 --repeat 3

Each measurement runs the server under `valgrind --tool=callgrind` and three closed-loop
loads against it, one after another: one to warm it up, then --duration and twice that.
`callgrind_control --dump` between loads splits the counts per load, and the figure is
(instructions of the long load - the short one's) / (its messages - the short one's), so
starting, connecting and closing cancel out. `above its floor` is the difference, in the
same repeat, from epoll-floor (uring-floor for evloop-uring, compio and monoio). The counts
are user space only: the kernel's TCP path, most of an echo's CPU time, is not in them.
Multi-threaded runtimes run serialised under valgrind, so the default is the single-threaded
runtimes and the floors. Outside commands (--server) are not run under callgrind.

Exit status: 0 every figure measured; 1 some figure not measured (the reason is printed) or
the results could not be saved; 2 bad input, or valgrind not installed.")]
pub struct InstructionsArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub size: OneSize,
    /// Connection counts, comma-separated.
    #[arg(long, default_value = "100,1000", value_parser = counts)]
    pub connections: Counts,
    /// Measured window of the shorter load (the longer one is twice as long).
    #[arg(long, default_value = "1s", value_parser = duration_arg(limits::DURATION))]
    pub duration: Duration,
    /// Repeats of the whole matrix, servers interleaved within each (1-1000).
    #[arg(long, default_value = "1", value_parser = count_arg::<u32>(1..=1000))]
    pub repeat: u32,
}

/// Runs `loopbench bench`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Echo(a) => run_echo(a),
        What::Equal(a) => run_equal(a),
        What::Capacity(a) => run_capacity(a),
        What::IoModels(a) => run_io_models(a),
        What::Instructions(a) => run_instructions(a),
    }
}
/// `--server`s, `--server-cmd`, and the Python ones.
fn resolve_servers(common: &Common, default: &[&str]) -> anyhow::Result<Vec<ServerSpec>> {
    let valid = server_ids();
    let outside = !common.servers.is_empty() || common.server_cmd.is_some() || common.with_python;
    let list: Vec<String> = match &common.runtime {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None if outside => Vec::new(),
        None => default.iter().map(|s| s.to_string()).collect(),
    };
    let mut out: Vec<ServerSpec> = Vec::new();
    for name in list.iter().filter(|s| !s.is_empty()) {
        let ids: Vec<&str> = if name == "all" {
            valid.clone()
        } else if let Some(id) = valid.iter().find(|v| **v == name) {
            vec![*id]
        } else {
            return Err(usage(format!(
                "unknown runtime '{name}'; valid: {}, or 'all'",
                valid.join(", ")
            )));
        };
        for id in ids {
            if !out.iter().any(|s| s.name() == id) {
                out.push(ServerSpec::Builtin(id.to_string()));
            }
        }
    }
    let mut outside_specs = common.servers.clone();
    if let Some(cmd) = &common.server_cmd {
        outside_specs.push(ServerSpec::command(&common.server_name, cmd).map_err(usage)?);
    }
    if common.with_python {
        let servers = python::python_servers(true, &mut |line| eprintln!("{line}"));
        for line in &servers.skipped {
            eprintln!("loopbench: {line}");
        }
        outside_specs.extend(servers.specs);
    }
    for spec in outside_specs {
        if out.iter().any(|s| s.name() == spec.name()) {
            return Err(usage(format!("server name '{}' given twice", spec.name())));
        }
        out.push(spec);
    }
    if out.is_empty() {
        return Err(usage(
            "no server to benchmark: give --runtime, --server or --with-python",
        ));
    }
    Ok(out)
}

fn server_info(spec: &ServerSpec) -> Option<RuntimeInfo> {
    match spec {
        ServerSpec::Builtin(id) => baselines::info(id).or_else(|| runtimes::runtime_info(id).ok()),
        ServerSpec::Command { name, cmd, .. } => Some(RuntimeInfo {
            id: name.clone(),
            flavour: "outside server".into(),
            worker_threads: 0,
            crate_name: "external".into(),
            crate_version: String::new(),
            notes: vec![format!("command: {cmd}")],
        }),
    }
}

/// The runtimes and the floors (epoll and io_uring): what equal-load and capacity compare
/// by default.
fn runtimes_and_floor() -> Vec<&'static str> {
    let mut ids = runtimes::runtime_ids();
    ids.push(baselines::epoll_floor::ID);
    ids.push(baselines::uring_floor::ID);
    ids
}

/// Where a server started here listens when all load is local.
const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A benchmark ready to run: its servers, the bench, an empty results file with the
/// environment, the saver of --json, and when it started.
struct Setup<'a> {
    servers: Vec<ServerSpec>,
    bench: Bench,
    file: ResultsFile,
    saver: Saver<'a>,
    started: Instant,
}

/// What every `bench` subcommand does before its first point: resolves the servers
/// (`default` when none is named), decides the load hosts from them (`hosts`), checks the
/// output path and the open-file limit for `connections`, captures the environment.
fn setup<'a>(
    common: &'a Common,
    size: usize,
    default: &[&str],
    connections: &[u64],
    hosts: impl FnOnce(&[ServerSpec]) -> anyhow::Result<Option<Hosts>>,
    listen: IpAddr,
) -> anyhow::Result<Setup<'a>> {
    let servers = resolve_servers(common, default)?;
    let hosts = hosts(&servers)?;
    let max_conns = connections.iter().copied().max().unwrap_or(1);
    if let Some(path) = &common.json {
        harness::paths::check_output_file(path)
            .map_err(|e| usage(format!("cannot write results to {}: {e}", path.display())))?;
    }
    // Decided once here for every point's load generator (load on other hosts: each decides,
    // unless asked).
    let client_io = match hosts {
        Some(_) => common.client_io,
        None => {
            let (io, notice) =
                loadgen::choose_io(common.client_io).map_err(|e| usage(e.to_string()))?;
            if let Some(n) = notice {
                eprintln!("loopbench: notice: {n}");
            }
            Some(io)
        }
    };
    let settings = Settings {
        exe: std::env::current_exe()?,
        client_io,
        size,
        pipeline: common.pipeline,
        buffer: common.buffer,
        connect_rate: common.connect_rate,
        threads: common.threads,
        pin: common.pin,
        start_timeout: common.start_timeout,
        message_timeout: common.timeout,
        quiet: common.quiet,
        listen,
        hosts,
    };
    let bench = Bench::new(settings, max_conns).map_err(|e| match e {
        BenchError::FdLimit(msg) => usage(msg),
    })?;
    let mut env = Environment::capture(servers.iter().filter_map(server_info).collect());
    env.nofile_limit = Some(harness::proc::nofile_limit());
    env.pinning = bench.pinning();
    Ok(Setup {
        servers,
        bench,
        file: ResultsFile::new(env),
        saver: Saver {
            path: common.json.as_ref(),
            error: None,
        },
        started: Instant::now(),
    })
}

/// Saves `file` when asked; remembers the first failure (reported once at the end).
struct Saver<'a> {
    path: Option<&'a PathBuf>,
    error: Option<String>,
}

impl Saver<'_> {
    fn save(&mut self, file: &ResultsFile) {
        let Some(path) = self.path else { return };
        if let Err(e) = file.save(path) {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    /// Prints where the results are (or why they are not) and gives the exit status of
    /// `runs` together with the save.
    fn finish(&self, runs: &[EchoRun], started: Instant) -> ExitCode {
        println!(
            "{} points in {:.1} s",
            runs.len(),
            started.elapsed().as_secs_f64()
        );
        let (code, summary) = echo_exit_status(runs);
        if !self.report_save() {
            return ExitCode::from(code.max(1));
        }
        if let Some(line) = summary {
            eprintln!("loopbench: {line}");
        }
        ExitCode::from(code)
    }

    /// Prints where the results are, or why they are not; false when the save failed.
    fn report_save(&self) -> bool {
        match (&self.error, self.path) {
            (Some(e), _) => {
                eprintln!(
                    "loopbench: error: the figures are above, but the results were not saved: {e}"
                );
                return false;
            }
            (None, Some(path)) => println!("results written to {}", path.display()),
            (None, None) => {}
        }
        true
    }
}

fn run_echo(args: EchoArgs) -> anyhow::Result<ExitCode> {
    let connections = args.connections.0.clone();
    match (args.mode, args.rate) {
        (LoadMode::Open, None) => return Err(usage("--mode open needs --rate R (messages/s)")),
        (LoadMode::Closed, Some(_)) => {
            return Err(usage(
                "--rate applies to the open loop only (add --mode open)",
            ))
        }
        _ => {}
    }
    let all = server_ids();
    let hosts = |servers: &[ServerSpec]| -> anyhow::Result<Option<Hosts>> {
        let Some(HostList(agents)) = &args.hosts else {
            return Ok(None);
        };
        let fewest = connections.iter().copied().min().unwrap_or(1);
        if fewest < agents.len() as u64 {
            return Err(usage(format!(
                "--connections {fewest} cannot be split over {} hosts (each needs one)",
                agents.len()
            )));
        }
        if args.server_host.is_some() {
            if let Some(s) = servers
                .iter()
                .find(|s| !matches!(s, ServerSpec::Builtin(_)))
            {
                return Err(usage(format!(
                    "--server-host runs built-in servers only, not the outside server '{}'",
                    s.name()
                )));
            }
        }
        Ok(Some(Hosts {
            agents: agents.clone(),
            server: args.server_host.clone(),
            remote_exe: args.remote_loopbench.clone(),
            ssh_config: args.ssh_config.clone(),
        }))
    };
    let Setup {
        servers,
        bench,
        mut file,
        mut saver,
        started,
    } = setup(
        &args.common,
        args.size.size,
        &all,
        &connections,
        hosts,
        args.listen,
    )?;
    let plan = CurvePlan {
        servers,
        connections,
        mode: args.mode,
        rate: args.rate,
        warmup: args.warmup,
        duration: args.duration,
        repeat: args.repeat,
    };
    let runs = curve::run(&bench, &plan, &mut |runs| {
        file.runs = runs.to_vec();
        saver.save(&file);
    });
    file.runs = runs;
    saver.save(&file);
    print!("{}", reports::echo_text::render(&file.runs, &[], &[]));
    Ok(saver.finish(&file.runs, started))
}

fn equal_plan_for(
    servers: Vec<ServerSpec>,
    connections: Vec<u64>,
    rate: Option<f64>,
    fraction: f64,
) -> EqualPlan {
    EqualPlan {
        servers,
        connections,
        rate,
        fraction: if fraction > 0.0 {
            fraction
        } else {
            DEFAULT_FRACTION
        },
        probe_warmup: Duration::ZERO,
        probe_duration: Duration::ZERO,
        warmup: Duration::ZERO,
        duration: Duration::ZERO,
        repeat: 1,
    }
}

fn run_equal(args: EqualArgs) -> anyhow::Result<ExitCode> {
    let connections = args.connections.0.clone();
    let Setup {
        servers,
        bench,
        mut file,
        mut saver,
        started,
    } = setup(
        &args.common,
        args.size.size,
        &runtimes_and_floor(),
        &connections,
        |_| Ok(None),
        LOCAL,
    )?;
    let plan = EqualPlan {
        probe_warmup: args.warmup,
        probe_duration: args.probe_duration,
        warmup: args.warmup,
        duration: args.duration,
        repeat: args.repeat,
        ..equal_plan_for(servers, connections, args.rate, args.fraction)
    };
    let outcome = equal::run(&bench, &plan, &mut |runs, bases| {
        file.runs = runs.to_vec();
        file.equal_load = bases.to_vec();
        saver.save(&file);
    });
    file.runs = outcome.runs;
    file.equal_load = outcome.bases;
    saver.save(&file);
    print!(
        "{}",
        reports::echo_text::render(&file.runs, &file.equal_load, &[])
    );
    Ok(saver.finish(&file.runs, started))
}

/// The exit status of capacity searches (`probe_runs` every step they ran), with its line:
/// 3 when no probe measured anything, 1 when some search found no capacity.
fn capacity_status(probe_runs: &[EchoRun], results: &[CapacityResult]) -> (u8, Option<String>) {
    if probe_runs.iter().all(|r| r.status == RunStatus::Failed) {
        let why = results
            .first()
            .map(|c| format!("{} x {}: {}", c.runtime, c.connections, c.note));
        return (
            3,
            Some(format!("nothing measured: {}", why.unwrap_or_default())),
        );
    }
    let none: Vec<&CapacityResult> = results
        .iter()
        .filter(|c| c.capacity_msgs_per_s.is_none())
        .collect();
    match none.first() {
        None => (0, None),
        Some(c) => (
            1,
            Some(format!(
                "{} of {} searches found no capacity (first: {} x {}: {})",
                none.len(),
                results.len(),
                c.runtime,
                c.connections,
                c.note
            )),
        ),
    }
}

fn run_capacity(args: CapacityArgs) -> anyhow::Result<ExitCode> {
    let connections = args.connections.0.clone();
    let Setup {
        servers,
        bench,
        mut file,
        mut saver,
        started,
    } = setup(
        &args.common,
        args.size.size,
        &runtimes_and_floor(),
        &connections,
        |_| Ok(None),
        LOCAL,
    )?;
    let plan = CapacityPlan {
        servers,
        connections,
        p99_bound: args.p99,
        probe_warmup: args.warmup,
        probe_duration: args.duration,
        warmup: args.warmup,
        duration: args.duration,
        precision: args.precision,
        max_steps: 8,
    };
    let outcome = capacity::run(&bench, &plan, &mut |o| {
        file.runs = o.runs.clone();
        file.capacity = o.results.clone();
        saver.save(&file);
    });
    file.runs = outcome.runs;
    file.capacity = outcome.results;
    saver.save(&file);
    print!("{}", reports::echo_text::render(&[], &[], &file.capacity));
    println!("searched in {:.1} s", started.elapsed().as_secs_f64());
    // The exit status follows the searches: a search without a capacity is "with errors",
    // and nothing measured when no probe measured anything.
    if !saver.report_save() {
        return Ok(ExitCode::from(1));
    }
    let (code, line) = capacity_status(&file.runs, &file.capacity);
    if let Some(line) = line {
        eprintln!("loopbench: {line}");
    }
    Ok(ExitCode::from(code))
}

/// `bench instructions`' default servers: the single-threaded runtimes compiled in (those
/// the gate's tier 1 counts), then the floors.
fn instruction_servers() -> Vec<&'static str> {
    let compiled = runtimes::runtime_ids();
    let mut ids: Vec<&'static str> = gate::callgrind::RUNTIMES
        .iter()
        .copied()
        .filter(|id| compiled.contains(id))
        .collect();
    ids.extend([baselines::epoll_floor::ID, baselines::uring_floor::ID]);
    ids
}

fn run_instructions(args: InstructionsArgs) -> anyhow::Result<ExitCode> {
    gate::callgrind::valgrind_version().map_err(|_| {
        usage(
            "bench instructions runs each server under valgrind, which could not be run; \
             install it (Debian: apt-get install valgrind)",
        )
    })?;
    let connections = args.connections.0.clone();
    let Setup {
        servers,
        bench,
        mut file,
        mut saver,
        started,
    } = setup(
        &args.common,
        args.size.size,
        &instruction_servers(),
        &connections,
        |_| Ok(None),
        LOCAL,
    )?;
    let plan = InstructionPlan {
        servers,
        connections,
        duration: args.duration,
        repeat: args.repeat,
    };
    file.server_instructions = instructions::run(&bench, &plan, &mut |results| {
        file.server_instructions = results.to_vec();
        saver.save(&file);
    });
    saver.save(&file);
    print!(
        "{}",
        reports::echo_text::instructions_table(&file.server_instructions)
    );
    println!(
        "{} measurements in {:.1} s",
        file.server_instructions.len(),
        started.elapsed().as_secs_f64()
    );
    if !saver.report_save() {
        return Ok(ExitCode::from(1));
    }
    let missing = file
        .server_instructions
        .iter()
        .filter(|r| r.instructions_per_msg.is_none())
        .count();
    if missing > 0 {
        eprintln!(
            "loopbench: {missing} of {} figures not measured",
            file.server_instructions.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_io_models(mut args: IoModelsArgs) -> anyhow::Result<ExitCode> {
    harness::paths::check_output_dir(&args.out).map_err(|e| usage(format!("--out: {e}")))?;
    if args.common.json.is_none() {
        args.common.json = Some(args.out.join("results.json"));
    }
    if !args.no_pin && harness::info::available_cores() >= 2 {
        args.common.pin = true;
    }
    let connections = args.connections.0.clone();
    let sizes = args.sizes.0.clone();
    let compiled = server_ids();
    let default: Vec<&str> = IO_MODEL_SERVERS
        .iter()
        .copied()
        .filter(|id| compiled.contains(id))
        .collect();
    if args.common.runtime.is_none() && default.len() < IO_MODEL_SERVERS.len() {
        let missing: Vec<&str> = IO_MODEL_SERVERS
            .iter()
            .copied()
            .filter(|id| !compiled.contains(id))
            .collect();
        eprintln!(
            "loopbench: not compiled in, left out: {}",
            missing.join(", ")
        );
    }
    let Setup {
        servers,
        mut bench,
        mut file,
        mut saver,
        started,
    } = setup(
        &args.common,
        sizes[0],
        &default,
        &connections,
        |_| Ok(None),
        LOCAL,
    )?;
    let curve_plan = CurvePlan {
        servers: servers.clone(),
        connections: connections.clone(),
        mode: LoadMode::Closed,
        rate: None,
        warmup: args.warmup,
        duration: args.duration,
        repeat: args.repeat,
    };
    let equal_plan = EqualPlan {
        probe_warmup: args.warmup,
        probe_duration: args.step_duration,
        warmup: args.warmup,
        duration: args.duration,
        repeat: args.repeat,
        ..equal_plan_for(servers.clone(), connections.clone(), None, args.fraction)
    };
    let capacity_plan = CapacityPlan {
        servers,
        connections,
        p99_bound: args.p99,
        probe_warmup: args.warmup,
        probe_duration: args.step_duration,
        warmup: args.warmup,
        duration: args.step_duration,
        precision: 0.05,
        max_steps: 8,
    };
    // Everything so far, saved after every point: measured (curve and equal-load) runs,
    // capacity steps, equal-load bases with their size.
    let mut measured: Vec<EchoRun> = Vec::new();
    let mut steps: Vec<EchoRun> = Vec::new();
    let mut bases: Vec<(usize, EqualLoadBasis)> = Vec::new();
    let mut searches: Vec<CapacityResult> = Vec::new();
    let snapshot = |file: &mut ResultsFile,
                    measured: &[EchoRun],
                    steps: &[EchoRun],
                    bases: &[(usize, EqualLoadBasis)],
                    searches: &[CapacityResult]| {
        file.runs = measured.iter().chain(steps).cloned().collect();
        file.equal_load = bases.iter().map(|(_, b)| b.clone()).collect();
        file.capacity = searches.to_vec();
    };
    let parts = sizes.len() as u32 * (2 + args.repeat);
    let mut part = 0;
    let mut announce = |what: String| {
        part += 1;
        if !args.common.quiet {
            eprintln!("io-models: part {part}/{parts}: {what}");
        }
    };
    for &size in &sizes {
        bench.settings.size = size;
        announce(format!("{size} B messages, closed-loop curve"));
        let runs = curve::run(&bench, &curve_plan, &mut |runs| {
            snapshot(&mut file, &measured, &steps, &bases, &searches);
            file.runs.extend(runs.iter().cloned());
            saver.save(&file);
        });
        measured.extend(runs);
        announce(format!("{size} B messages, equal load"));
        let outcome = equal::run(&bench, &equal_plan, &mut |runs, now| {
            snapshot(&mut file, &measured, &steps, &bases, &searches);
            file.runs.extend(runs.iter().cloned());
            file.equal_load.extend(now.iter().cloned());
            saver.save(&file);
        });
        measured.extend(outcome.runs);
        bases.extend(outcome.bases.into_iter().map(|mut b| {
            b.basis = format!("{} ({size} B messages)", b.basis);
            (size, b)
        }));
        for repeat in 0..args.repeat {
            announce(format!(
                "{size} B messages, capacity search (repeat {}/{})",
                repeat + 1,
                args.repeat
            ));
            let outcome = capacity::run(&bench, &capacity_plan, &mut |o| {
                snapshot(&mut file, &measured, &steps, &bases, &searches);
                file.runs.extend(o.runs.iter().cloned());
                file.capacity.extend(o.results.iter().cloned());
                saver.save(&file);
            });
            steps.extend(outcome.runs);
            searches.extend(outcome.results);
        }
    }
    snapshot(&mut file, &measured, &steps, &bases, &searches);
    saver.save(&file);
    for &size in &sizes {
        let runs: Vec<EchoRun> = measured
            .iter()
            .filter(|r| r.message_size == size as u64)
            .cloned()
            .collect();
        let size_bases: Vec<EqualLoadBasis> = bases
            .iter()
            .filter(|(s, _)| *s == size)
            .map(|(_, b)| b.clone())
            .collect();
        let size_searches: Vec<CapacityResult> = searches
            .iter()
            .filter(|c| c.message_size == size as u64)
            .cloned()
            .collect();
        println!("{size} B messages:");
        print!(
            "{}",
            reports::echo_text::render(&runs, &size_bases, &size_searches)
        );
        println!();
    }
    println!(
        "{} points and {} capacity searches in {:.1} s",
        measured.len(),
        searches.len(),
        started.elapsed().as_secs_f64()
    );
    let saved = saver.report_save();
    let report = match reports::write_report(std::slice::from_ref(&file), &args.out) {
        Ok(index) => {
            println!("report written to {}", index.display());
            true
        }
        Err(e) => {
            eprintln!("loopbench: error: {e}");
            false
        }
    };
    let (echo_code, echo_line) = echo_exit_status(&measured);
    let (cap_code, cap_line) = capacity_status(&steps, &searches);
    for line in [echo_line, cap_line].into_iter().flatten() {
        eprintln!("loopbench: {line}");
    }
    let code = if echo_code == 3 && cap_code == 3 {
        3
    } else {
        echo_code.max(cap_code).min(1)
    };
    Ok(ExitCode::from(if saved && report {
        code
    } else {
        code.max(1)
    }))
}
