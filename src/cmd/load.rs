//! `loopbench load`: the echo load generator as its own process, usable against any echo
//! server; prints its progress (`loopbench-load: ...` lines, which `bench echo` reads to
//! sample the server) and a summary, and with `--json` writes one `EchoRun`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use benches::echo::loadgen::{self, LoadError, LoadEvent};
use benches::echo::orchestrate::EVENT_PREFIX;
use benches::echo::plan::{parse_duration, LoadMode, LoadPlan};
use harness::results::{Environment, ResultsFile};

use crate::util::usage;

/// Arguments of `loopbench load`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench load --target 127.0.0.1:7878 --connections 100 --duration 5s\n  loopbench load --target 127.0.0.1:7878 --mode open --rate 20000 --connections 1000\n  python3 benches/servers/asyncio_echo.py 9000 &  loopbench load --target 127.0.0.1:9000 --label asyncio\n\nEvery echoed byte is verified; mismatches, resets, time-outs and connect failures are counted\nas errors. Exit status: 0 when connections were established and measured, 1 otherwise, 2 for\nbad arguments."
)]
pub struct Args {
    /// The echo server, HOST:PORT.
    #[arg(long)]
    pub target: String,
    /// Connections to open.
    #[arg(long, default_value_t = 100)]
    pub connections: u64,
    /// `closed` (send, await the echo, repeat) or `open` (fixed rate, needs --rate).
    #[arg(long, default_value = "closed")]
    pub mode: LoadMode,
    /// Open loop: total offered rate in messages per second, spread over connections.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed loop: messages in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: u32,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Traffic before measuring (excluded from every figure): `1s`, `500ms`.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Measured duration.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Connections opened per second.
    #[arg(long, default_value_t = 2000.0)]
    pub connect_rate: f64,
    /// A connect not done within this is a connect failure.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// An echo not complete within this is a time-out (the connection is then closed).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Load-generator threads (each with its own epoll set).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Name recorded as the run's `runtime` (the server being measured).
    #[arg(long, default_value = "external")]
    pub label: String,
    /// Write the run (one `EchoRun` in a results file) to this path.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn event_line(ev: LoadEvent) {
    let text = match ev {
        LoadEvent::Connected { established, asked } => format!("connected {established}/{asked}"),
        LoadEvent::MeasureStart => "measure-start".into(),
        LoadEvent::MeasureEnd => "measure-end".into(),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{EVENT_PREFIX}{text}");
    let _ = out.flush();
}

/// Runs `loopbench load`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let target = crate::cmd::serve::parse_addr(&args.target)?;
    let plan = LoadPlan {
        target,
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
        threads: args.threads,
    };
    plan.validate().map_err(usage)?;
    let report = match loadgen::run(&plan, &args.label, &mut event_line) {
        Ok(r) => r,
        Err(LoadError::Plan(msg)) => return Err(usage(msg)),
        Err(e) => return Err(e.into()),
    };
    let run = &report.run;
    println!(
        "{} x {} ({}): {} established, {:.0} msg/s over {:.1} s, latency p50 {:.0} us p99 {:.0} \
         us (raw p99 {:.0} us), connect p99 {:.2} ms, client cpu {:.0}%",
        run.runtime,
        run.connections,
        run.mode,
        run.established,
        run.throughput_msgs_per_s,
        run.duration_s,
        run.latency_us.p50,
        run.latency_us.p99,
        run.latency_raw_us.p99,
        run.connect_ms.p99,
        run.client_cpu_pct
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
    if let Some(path) = &args.json {
        let mut env = Environment::capture(Vec::new());
        env.nofile_limit = Some(benches::echo::proc::nofile_limit());
        let mut file = ResultsFile::new(env);
        file.runs.push(run.clone());
        file.save(path)?;
        println!("results written to {}", path.display());
    }
    Ok(if run.duration_s > 0.0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
