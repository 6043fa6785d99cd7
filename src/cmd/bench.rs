//! `loopbench bench echo|equal|capacity`: the C10k echo benchmarks over runtimes, baselines
//! and outside servers; a fresh server and load-generator process per point, results saved
//! after every point, the terminal tables at the end (printed even when saving failed).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use benches::echo::orchestrate::capacity::{self, CapacityPlan};
use benches::echo::orchestrate::curve::{self, CurvePlan};
use benches::echo::orchestrate::equal::{self, EqualPlan, DEFAULT_FRACTION};
use benches::echo::orchestrate::hosts::{self, Hosts};
use benches::echo::orchestrate::{Bench, BenchError, ServerSpec, Settings};
use benches::echo::{baselines, python, server};
use harness::results::{echo_exit_status, EchoRun, Environment, ResultsFile, RunStatus};
use harness::units::{count_arg, counts_arg, duration_arg, real_arg, size_arg};
use harness::RuntimeInfo;
use loadgen::plan::limits;
use loadgen::LoadMode;

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
    /// Message size in bytes (1 B to 1 MiB).
    #[arg(long, default_value = "64", value_parser = size_arg(limits::MESSAGE_SIZE))]
    pub size: usize,
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

/// Runs `loopbench bench`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Echo(a) => run_echo(a),
        What::Equal(a) => run_equal(a),
        What::Capacity(a) => run_capacity(a),
    }
}

/// The servers a benchmark compares: `--runtime` ids (or the default list), then
/// `--server`s, `--server-cmd`, and the Python ones.
fn resolve_servers(
    common: &Common,
    default: &[&str],
) -> anyhow::Result<(Vec<ServerSpec>, Option<python::PythonServers>)> {
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
    let mut py = None;
    if common.with_python {
        let servers = python::python_servers(true, &mut |line| eprintln!("{line}"));
        for line in &servers.skipped {
            eprintln!("loopbench: {line}");
        }
        outside_specs.extend(servers.specs.iter().cloned());
        py = Some(servers);
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
    Ok((out, py))
}

fn server_info(spec: &ServerSpec) -> Option<RuntimeInfo> {
    match spec {
        ServerSpec::Builtin(id) => baselines::info(id).or_else(|| runtimes::runtime_info(id).ok()),
        ServerSpec::Command { name, cmd } => Some(RuntimeInfo {
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

/// Settings, the bench, the environment, with the output path checked first.
fn prepare(
    common: &Common,
    servers: &[ServerSpec],
    max_conns: u64,
    hosts: Option<Hosts>,
    listen: IpAddr,
) -> anyhow::Result<(Bench, Environment)> {
    if let Some(path) = &common.json {
        harness::paths::check_output_file(path)
            .map_err(|e| usage(format!("cannot write results to {}: {e}", path.display())))?;
    }
    let settings = Settings {
        exe: std::env::current_exe()?,
        size: common.size,
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
    Ok((bench, env))
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
        match (&self.error, self.path) {
            (Some(e), _) => {
                eprintln!(
                    "loopbench: error: the figures are above, but the results were not saved: {e}"
                );
                return ExitCode::from(code.max(1));
            }
            (None, Some(path)) => println!("results written to {}", path.display()),
            (None, None) => {}
        }
        if let Some(line) = summary {
            eprintln!("loopbench: {line}");
        }
        ExitCode::from(code)
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
    let (servers, _python) = resolve_servers(&args.common, &all)?;
    let max = connections.iter().copied().max().unwrap_or(1);
    let hosts = match &args.hosts {
        None => None,
        Some(HostList(agents)) => {
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
            Some(Hosts {
                agents: agents.clone(),
                server: args.server_host.clone(),
                remote_exe: args.remote_loopbench.clone(),
                ssh_config: args.ssh_config.clone(),
            })
        }
    };
    let (bench, env) = prepare(&args.common, &servers, max, hosts, args.listen)?;
    let plan = CurvePlan {
        servers,
        connections,
        mode: args.mode,
        rate: args.rate,
        warmup: args.warmup,
        duration: args.duration,
        repeat: args.repeat,
    };
    let started = Instant::now();
    let mut saver = Saver {
        path: args.common.json.as_ref(),
        error: None,
    };
    let mut file = ResultsFile::new(env);
    let runs = curve::run(&bench, &plan, &mut |runs| {
        file.runs = runs.to_vec();
        saver.save(&file);
    });
    file.runs = runs;
    saver.save(&file);
    print!("{}", reports::echo_text::render(&file.runs, &[], &[]));
    Ok(saver.finish(&file.runs, started))
}

fn run_equal(args: EqualArgs) -> anyhow::Result<ExitCode> {
    let connections = args.connections.0.clone();
    let (servers, _python) = resolve_servers(&args.common, &runtimes_and_floor())?;
    let max = connections.iter().copied().max().unwrap_or(1);
    let (bench, env) = prepare(&args.common, &servers, max, None, LOCAL)?;
    let plan = EqualPlan {
        servers,
        connections,
        rate: args.rate,
        fraction: if args.fraction > 0.0 {
            args.fraction
        } else {
            DEFAULT_FRACTION
        },
        probe_warmup: args.warmup,
        probe_duration: args.probe_duration,
        warmup: args.warmup,
        duration: args.duration,
        repeat: args.repeat,
    };
    let started = Instant::now();
    let mut saver = Saver {
        path: args.common.json.as_ref(),
        error: None,
    };
    let mut file = ResultsFile::new(env);
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

fn run_capacity(args: CapacityArgs) -> anyhow::Result<ExitCode> {
    let connections = args.connections.0.clone();
    let (servers, _python) = resolve_servers(&args.common, &runtimes_and_floor())?;
    let max = connections.iter().copied().max().unwrap_or(1);
    let (bench, env) = prepare(&args.common, &servers, max, None, LOCAL)?;
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
    let started = Instant::now();
    let mut saver = Saver {
        path: args.common.json.as_ref(),
        error: None,
    };
    let mut file = ResultsFile::new(env);
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
    let probes_failed = file.runs.iter().all(|r| r.status == RunStatus::Failed);
    let none = file
        .capacity
        .iter()
        .filter(|c| c.capacity_msgs_per_s.is_none())
        .count();
    if let Some(e) = &saver.error {
        eprintln!("loopbench: error: the figures are above, but the results were not saved: {e}");
        return Ok(ExitCode::from(1));
    }
    if let Some(path) = &args.common.json {
        println!("results written to {}", path.display());
    }
    if probes_failed {
        let why = file
            .capacity
            .first()
            .map(|c| format!("{} x {}: {}", c.runtime, c.connections, c.note));
        eprintln!("loopbench: nothing measured: {}", why.unwrap_or_default());
        return Ok(ExitCode::from(3));
    }
    if none > 0 {
        let first = file
            .capacity
            .iter()
            .find(|c| c.capacity_msgs_per_s.is_none());
        eprintln!(
            "loopbench: {none} of {} searches found no capacity (first: {})",
            file.capacity.len(),
            first
                .map(|c| format!("{} x {}: {}", c.runtime, c.connections, c.note))
                .unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
