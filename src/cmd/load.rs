//! `loopbench load`: the echo load generator as its own process, usable against any echo
//! server. Its flags build a `loadgen::LoadPlan` (or `--plan FILE` gives one whole, as
//! `bench` does: see `loadgen::child`); it prints its progress (`loopbench-load: ...`
//! lines) and a summary, and with `--json` writes one `EchoRun`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use harness::results::{echo_exit_status, Environment, ResultsFile};
use harness::units::{count_arg, duration_arg, real_arg, size_arg};
use loadgen::plan::limits;
use loadgen::{child, ClientIo, LoadError, LoadEvent, LoadMode, LoadPlan, Shard};

use crate::util::usage;

/// Arguments of `loopbench load`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  loopbench load --target 127.0.0.1:7878 --connections 100 --duration 5s
  loopbench load --target 127.0.0.1:7878 --mode open --rate 20k --connections 1000
  python3 benches/servers/asyncio_echo.py 9000 &  loopbench load --target 127.0.0.1:9000 --label asyncio
  loopbench load --target 198.18.0.2:7878 --connections 2000 --shard 0/2 --start-at $(( $(date +%s) + 10 ))

Every echoed byte is verified; mismatches, resets, time-outs and connect failures are counted
as errors. A run that measured less than planned (every connection lost, connections short,
the rate not reached) is `partial`, one that measured nothing `failed`, with the reason.

Ranges: --connections 1-1000000, --rate 1-100M msg/s, --connect-rate 1-1M/s, --size 1 B-1 MiB
(connections x pipeline x size at most 2 GiB), --pipeline 1-1024, --threads 1-256,
--duration 10ms-1h, --warmup 0-1h, --timeout and --connect-timeout 1ms-1h.

I/O: io_uring by default (one system call per loop iteration: multishot receives into
provided buffers, sends as submissions, deadlines as the wait's time-out); where io_uring
cannot be set up, epoll, with one notice line on stderr saying why. --io picks one.

Exit status: 0 all measured without errors; 1 measured with errors or partial; 2 bad input
(arguments, a path that cannot be written, too few open files, --io uring where io_uring
cannot be used); 3 nothing measured.")]
pub struct Args {
    /// The echo server, HOST:PORT.
    #[arg(long, required_unless_present = "plan")]
    pub target: Option<String>,
    /// Connections to open.
    #[arg(long, default_value = "100", value_parser = count_arg::<u64>(limits::CONNECTIONS))]
    pub connections: u64,
    /// `closed` (send, await the echo, repeat) or `open` (fixed rate, needs --rate).
    #[arg(long, default_value = "closed")]
    pub mode: LoadMode,
    /// Open loop: total offered rate in messages per second, spread over connections.
    #[arg(long, value_parser = real_arg(limits::RATE, "messages per second"))]
    pub rate: Option<f64>,
    /// Closed loop: messages in flight per connection.
    #[arg(long, default_value = "1", value_parser = count_arg::<u32>(limits::PIPELINE))]
    pub pipeline: u32,
    /// Message size in bytes.
    #[arg(long, default_value = "64", value_parser = size_arg(limits::MESSAGE_SIZE))]
    pub size: usize,
    /// Traffic before measuring (excluded from every figure): `1s`, `500ms`.
    #[arg(long, default_value = "1s", value_parser = duration_arg(limits::WARMUP))]
    pub warmup: Duration,
    /// Measured duration.
    #[arg(long, default_value = "5s", value_parser = duration_arg(limits::DURATION))]
    pub duration: Duration,
    /// Connections opened per second.
    #[arg(long, default_value = "2000", value_parser = real_arg(limits::CONNECT_RATE, "connections per second"))]
    pub connect_rate: f64,
    /// A connect not done within this is a connect failure.
    #[arg(long, default_value = "3s", value_parser = duration_arg(limits::TIMEOUT))]
    pub connect_timeout: Duration,
    /// An echo not complete within this is a time-out (the connection is then closed).
    #[arg(long, default_value = "2s", value_parser = duration_arg(limits::TIMEOUT))]
    pub timeout: Duration,
    /// Load-generator threads, each with its own ring or epoll set (default: the cores but
    /// one, at least 1).
    #[arg(long, value_parser = count_arg::<usize>(limits::THREADS))]
    pub threads: Option<usize>,
    /// I/O path: `uring` (one system call per loop iteration) or `epoll` (default: io_uring
    /// where it can be set up, else epoll with a notice).
    #[arg(long, value_name = "uring|epoll")]
    pub io: Option<ClientIo>,
    /// Name recorded as the run's `runtime` (the server being measured).
    #[arg(long, default_value = "external")]
    pub label: String,
    /// Write the run (one `EchoRun` in a results file) to this path.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Run shard I of N (I from 0 to N-1): this generator's share of --connections and of
    /// --rate, for one of several generators measuring together (with --start-at).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Start the measured window at this wall-clock moment, Unix time in seconds (this
    /// host's clock), so several generators measure the same window; the warm-up runs
    /// before it.
    #[arg(long, value_name = "UNIX_TIME", value_parser = start_at_arg)]
    pub start_at: Option<f64>,
    /// Read the whole plan from this file (what `bench` gives its load generator).
    #[arg(long, hide = true)]
    pub plan: Option<PathBuf>,
}

fn start_at_arg(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 => Ok(t),
        _ => Err(format!(
            "invalid time '{text}': expected Unix time in seconds, e.g. $(( $(date +%s) + 10 ))"
        )),
    }
}

fn print_event(ev: LoadEvent) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", child::event_line(ev));
    let _ = out.flush();
}

/// Threads by default: the cores but one, at least 1.
fn default_threads() -> usize {
    harness::info::available_cores().saturating_sub(1).max(1)
}

/// The plan the flags describe.
fn plan_from(args: &Args) -> anyhow::Result<LoadPlan> {
    if let Some(path) = &args.plan {
        let mut plan = child::read_plan(path).map_err(usage)?;
        if plan.threads == 0 {
            // A plan for another host (`bench echo --hosts`): that host's default.
            plan.threads = default_threads();
        }
        if args.io.is_some() {
            plan.io = args.io;
        }
        return Ok(plan);
    }
    let target = args.target.as_deref().unwrap_or_default();
    let whole = LoadPlan {
        target: crate::cmd::serve::parse_addr(target)?,
        label: args.label.clone(),
        connections: args.connections,
        mode: args.mode,
        rate: args.rate,
        pipeline: args.pipeline,
        message_size: args.size,
        warmup: args.warmup,
        duration: args.duration,
        connect_rate: args.connect_rate,
        connect_timeout: args.connect_timeout,
        message_timeout: args.timeout,
        threads: args.threads.unwrap_or_else(default_threads),
        cpus: Vec::new(),
        shard: None,
        start_at: args.start_at,
        io: args.io,
    };
    match args.shard {
        Some(shard) => whole.shard_of(shard).map_err(|e| usage(e.to_string())),
        None => Ok(whole),
    }
}

/// Runs `loopbench load`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut plan = plan_from(&args)?;
    plan.validate().map_err(|e| usage(e.to_string()))?;
    let (io, notice) = loadgen::choose_io(plan.io).map_err(|e| usage(e.to_string()))?;
    if let Some(n) = notice {
        eprintln!("loopbench: notice: {n}");
    }
    plan.io = Some(io);
    if let Some(path) = &args.json {
        harness::paths::check_output_file(path)
            .map_err(|e| usage(format!("cannot write results to {}: {e}", path.display())))?;
    }
    let report = match loadgen::run(&plan, &mut print_event) {
        Ok(r) => r,
        Err(e @ (LoadError::Plan(_) | LoadError::FdLimit(_) | LoadError::Io(_))) => {
            return Err(usage(e.to_string()))
        }
        Err(e) => {
            eprintln!("loopbench: nothing measured: {e}");
            return Ok(ExitCode::from(3));
        }
    };
    let run = &report.run;
    if let Some(shard) = &run.shard {
        println!("shard {shard}: {} connections", run.connections);
    }
    println!(
        "{} x {} ({}): {}, {} established, {:.0} msg/s over {:.2} s, latency p50 {:.0} us p99 \
         {:.0} us (raw p99 {:.0} us), connect p99 {:.2} ms, client cpu {:.0}% ({}, {}), {} \
         us/msg",
        run.runtime,
        run.connections,
        run.mode,
        run.status,
        run.established,
        run.throughput_msgs_per_s,
        run.duration_s,
        run.latency_us.p50,
        run.latency_us.p99,
        run.latency_raw_us.p99,
        run.connect_ms.p99,
        run.client_cpu_pct,
        match run.client_threads {
            1 => "1 thread".to_string(),
            n => format!("{n} threads"),
        },
        io,
        run.client_cpu_us_per_msg
            .map_or("-".to_string(), |v| format!("{v:.2}"))
    );
    let e = &run.errors;
    println!(
        "errors: {} connect, {} mismatch, {} reset, {} timeout, {} other",
        e.connect_failures, e.mismatches, e.resets, e.timeouts, e.other
    );
    if let Some(lag) = &report.schedule_lag_us {
        println!(
            "send schedule lag: p50 {:.0} us, p99 {:.0} us, max {:.0} us",
            lag.p50, lag.p99, lag.max
        );
    }
    if report.source_addresses > 1 {
        println!(
            "source addresses: spread over {} (127.0.0.x) as ports ran short",
            report.source_addresses
        );
    }
    for w in &run.warnings {
        println!("warning: {w}");
    }
    let (mut code, summary) = echo_exit_status(std::slice::from_ref(run));
    if let Some(path) = &args.json {
        let mut env = Environment::capture(Vec::new());
        env.nofile_limit = Some(harness::proc::nofile_limit());
        let mut file = ResultsFile::new(env);
        file.runs.push(run.clone());
        match file.save(path) {
            Ok(()) => println!("results written to {}", path.display()),
            Err(e) => {
                eprintln!("loopbench: error: the run is above, but {e}");
                return Ok(ExitCode::from(code.max(1)));
            }
        }
    }
    if let Some(line) = summary {
        eprintln!("loopbench: {line}");
    }
    if code == 0 && run.status != harness::results::RunStatus::Complete {
        code = 1;
    }
    Ok(ExitCode::from(code))
}
