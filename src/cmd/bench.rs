//! `loopbench bench echo`: the C10k echo benchmark over runtimes, baselines and outside
//! servers; a fresh server and load-generator process per point, a terminal table at the
//! end and, with `--json`, a results file (saved after every point).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use benches::echo::orchestrate::{self, BenchError, BenchPlan, ServerSpec};
use benches::echo::plan::{parse_counts, parse_duration, LoadMode};
use benches::echo::{baselines, table};
use harness::results::{Environment, ResultsFile};
use harness::RuntimeInfo;

use crate::cmd::serve::server_ids;
use crate::util::usage;

/// Arguments of `loopbench bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

/// Benchmarks.
#[derive(clap::Subcommand)]
pub enum What {
    /// C10k echo: throughput, latency distribution, server CPU per message and memory per
    /// connection, from 1 to 10,000 connections.
    Echo(EchoArgs),
}

/// Arguments of `loopbench bench echo`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench bench echo --runtime all --connections 1,100,1000,10000 --duration 3s --json /tmp/echo.json\n  loopbench bench echo --runtime evloop,tokio-ct,epoll-floor --mode open --rate 20000 --repeat 3 --pin\n  loopbench bench echo --server-cmd \"python3 benches/servers/asyncio_echo.py {port}\" --server-name asyncio\n  loopbench bench echo --runtime tokio-ct --server-cmd \"python3 -c 'import uvloop' && ...\"\n\n`all` is every compiled-in runtime plus the baselines blocking, threads, threadpool\n(5 threads: starves beyond 5 connections, reported as data), epoll-floor and uring-floor\n(io_uring; where it is unavailable its points fail with the reason, as not measured).\nExit status: 0 when every echoed byte matched; 1 when a server echoed wrong bytes; 2 for bad\narguments."
)]
pub struct EchoArgs {
    /// Runtimes and baselines: comma-separated ids, or `all` (default `all`, or none when
    /// --server-cmd is given).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Connection counts, comma-separated.
    #[arg(long, default_value = "1,100,1000")]
    pub connections: String,
    /// `closed` or `open` (open needs --rate).
    #[arg(long, default_value = "closed")]
    pub mode: LoadMode,
    /// Open loop: total offered rate, messages per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed loop: messages in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: u32,
    /// Measured duration per point: `3s`, `500ms`.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Warm-up per point (excluded from every figure).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Repeats of the whole matrix (servers interleaved within each).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Connections opened per second.
    #[arg(long, default_value_t = 2000.0)]
    pub connect_rate: f64,
    /// Pin the server and the load generator to separate CPUs.
    #[arg(long)]
    pub pin: bool,
    /// An outside echo server to measure too; `{port}` is replaced by a free port.
    #[arg(long)]
    pub server_cmd: Option<String>,
    /// Name recorded for --server-cmd.
    #[arg(long, default_value = "external")]
    pub server_name: String,
    /// Write the results (schema: schema/results.schema.json) to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `loopbench bench`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Echo(a) => run_echo(a),
    }
}

fn resolve_servers(args: &EchoArgs) -> anyhow::Result<Vec<ServerSpec>> {
    let valid = server_ids();
    let list = match (&args.runtime, &args.server_cmd) {
        (Some(list), _) => list.clone(),
        (None, Some(_)) => String::new(),
        (None, None) => "all".into(),
    };
    let mut out: Vec<ServerSpec> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
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
    if let Some(cmd) = &args.server_cmd {
        if !cmd.contains("{port}") {
            return Err(usage(
                "--server-cmd must contain {port} (replaced by the port to listen on)",
            ));
        }
        out.push(ServerSpec::Command {
            name: args.server_name.clone(),
            cmd: cmd.clone(),
        });
    }
    if out.is_empty() {
        return Err(usage(
            "no server to benchmark: give --runtime or --server-cmd",
        ));
    }
    Ok(out)
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

fn run_echo(args: EchoArgs) -> anyhow::Result<ExitCode> {
    let servers = resolve_servers(&args)?;
    let connections = parse_counts(&args.connections).map_err(usage)?;
    match (args.mode, args.rate) {
        (LoadMode::Open, None) => return Err(usage("--mode open needs --rate R (messages/s)")),
        (LoadMode::Closed, Some(_)) => {
            return Err(usage(
                "--rate applies to the open loop only (add --mode open)",
            ))
        }
        _ => {}
    }
    if args.repeat == 0 || args.duration.is_zero() || args.size == 0 || args.pipeline == 0 {
        return Err(usage(
            "--repeat, --duration, --size and --pipeline must be positive",
        ));
    }
    let plan = BenchPlan {
        exe: std::env::current_exe()?,
        servers,
        connections,
        mode: args.mode,
        rate: args.rate,
        pipeline: args.pipeline,
        size: args.size,
        warmup: args.warmup,
        duration: args.duration,
        connect_rate: args.connect_rate,
        repeat: args.repeat,
        pin: args.pin,
        quiet: args.quiet,
    };
    let mut env = Environment::capture(plan.servers.iter().filter_map(server_info).collect());
    env.nofile_limit = Some(benches::echo::proc::raise_nofile());
    if plan.pin {
        env.pinning = Some("requested".into());
    }
    let started = Instant::now();
    let save = |runs: &[harness::results::EchoRun], env: &Environment| -> anyhow::Result<()> {
        if let Some(path) = &args.json {
            let mut file = ResultsFile::new(env.clone());
            file.runs = runs.to_vec();
            file.save(path)?;
        }
        Ok(())
    };
    let mut save_error = None;
    let outcome = orchestrate::run(&plan, &mut |runs| {
        if let Err(e) = save(runs, &env) {
            save_error.get_or_insert(e);
        }
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(BenchError::FdLimit(msg)) => return Err(anyhow::anyhow!(msg)),
    };
    if let Some(e) = save_error {
        return Err(e);
    }
    env.pinning = outcome.pinning.clone();
    save(&outcome.runs, &env)?;
    print!("{}", table::render(&outcome.runs));
    println!(
        "{} points in {:.1} s",
        outcome.runs.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.json {
        println!("results written to {}", path.display());
    }
    let mismatched: Vec<&str> = outcome
        .runs
        .iter()
        .filter(|r| r.errors.mismatches > 0)
        .map(|r| r.runtime.as_str())
        .collect();
    if !mismatched.is_empty() {
        eprintln!(
            "loopbench: echoed bytes did not match on: {}",
            mismatched.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
