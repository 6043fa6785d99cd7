//! `loopbench run` (also what `loopbench` with no arguments does): the quick default suite —
//! conformance on every runtime; the echo stage (the equal-load comparison of every runtime,
//! the epoll floor and, when Python is there, the seeds' asyncio and uvloop servers, then a
//! short closed-loop curve); a quick pass of the micro-benchmarks — then the HTML report,
//! which leads with the equal-load table.
//!
//! Each stage is a child `loopbench` process, so a stage that crashes costs that stage only:
//! the report is still written from what the others produced, and the failure is named.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use harness::results::{Environment, MicroResult, ResultsFile};

/// Arguments of `loopbench run`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cargo run --release                       # the default suite, ends with the report path\n  loopbench run --out /tmp/lb --skip-echo\n  loopbench run --connections 1,100 --duration 2s --no-python"
)]
pub struct Args {
    /// Directory for the results files and the report.
    #[arg(long, default_value = "loopbench-out")]
    pub out: PathBuf,
    /// Connection counts of the closed-loop curve.
    #[arg(long, default_value = "100,10000")]
    pub connections: String,
    /// Connections of the equal-load comparison.
    #[arg(long, default_value = "100")]
    pub equal_connections: String,
    /// Measured duration per point (the equal-load points get 1.5 times as long).
    #[arg(long, default_value = "700ms")]
    pub duration: String,
    /// Warm-up per point.
    #[arg(long, default_value = "300ms")]
    pub warmup: String,
    /// Leave out the Python servers (asyncio, uvloop); by default they run when Python is
    /// there, uvloop installed from PyPI into target/loopbench-python the first time.
    #[arg(long)]
    pub no_python: bool,
    /// Echo benchmark connections opened per second (10,000 connections open in 1 s; the
    /// `blocking` baseline's backlog overflows either way, which it reports).
    #[arg(long, default_value_t = 10_000)]
    pub connect_rate: u32,
    /// Skip the echo benchmark.
    #[arg(long)]
    pub skip_echo: bool,
    /// Skip the micro-benchmarks.
    #[arg(long)]
    pub skip_micro: bool,
    /// Skip the conformance matrix.
    #[arg(long)]
    pub skip_conformance: bool,
}

/// Iterations and executions per micro workload in the quick pass.
const MICRO_ITERS: u64 = 200;
const MICRO_SAMPLES: u32 = 3;

/// Runs the suite and prints where the report is.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let exe = std::env::current_exe().context("cannot find the loopbench executable")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let stages = 1 + [args.skip_conformance, args.skip_echo, args.skip_micro]
        .iter()
        .filter(|skip| !**skip)
        .count();
    let mut stage = 0;
    let mut next = |name: &str| {
        stage += 1;
        eprintln!(
            "\n[{stage}/{stages}] {name} ({:.0} s elapsed)",
            start.elapsed().as_secs_f64()
        );
    };
    let mut inputs = Vec::new();
    let mut problems = Vec::new();

    if !args.skip_conformance {
        next("conformance: every scenario on every runtime, each cell in its own process");
        let path = args.out.join("conformance.json");
        let status = launch::Launch::loopbench(&exe)
            .args([
                "conformance",
                "--runtime",
                "all",
                "--only-differences",
                "--json",
            ])
            .arg(&path)
            .status()?;
        collect(
            &path,
            status.code(),
            "conformance",
            &mut inputs,
            &mut problems,
        );
    }
    if !args.skip_echo {
        next("echo: equal load (every server at one rate), then a short closed-loop curve");
        let echo_start = Instant::now();
        let python: &[&str] = if args.no_python {
            &[]
        } else {
            &["--with-python"]
        };
        let equal_duration = harness::units::parse_duration(
            &args.duration,
            Duration::from_millis(10)..=Duration::from_secs(3600),
        )
        .map_err(|e| crate::util::usage(format!("--duration: {e}")))?
        .mul_f64(1.5);
        let mut servers: Vec<&str> = runtimes::runtime_ids();
        servers.push(benches::echo::baselines::epoll_floor::ID);
        let equal_path = args.out.join("equal.json");
        let status = launch::Launch::loopbench(&exe)
            .args(["bench", "equal", "--runtime", &servers.join(",")])
            .args(python)
            .args(["--connections", &args.equal_connections])
            .args(["--probe-duration", &args.duration, "--warmup", &args.warmup])
            .args(["--duration", &format!("{}ms", equal_duration.as_millis())])
            .args(["--connect-rate", &args.connect_rate.to_string()])
            .arg("--json")
            .arg(&equal_path)
            .status()?;
        collect(
            &equal_path,
            status.code(),
            "equal load",
            &mut inputs,
            &mut problems,
        );
        // The curve: runtimes, the floor and the thread-per-connection baseline. The
        // blocking and threadpool baselines starve beyond 1 and 5 connections by design, and
        // the Python servers cannot serve 10,000 connections within a short window: `bench
        // echo --runtime blocking,threadpool --with-python` shows it, marked partial. Python
        // is in the equal-load comparison above.
        servers.push(benches::echo::baselines::threads::ID);
        let path = args.out.join("echo.json");
        let status = launch::Launch::loopbench(&exe)
            .args(["bench", "echo", "--runtime", &servers.join(",")])
            .args(["--connections", &args.connections])
            .args(["--duration", &args.duration, "--warmup", &args.warmup])
            .args(["--connect-rate", &args.connect_rate.to_string()])
            .arg("--json")
            .arg(&path)
            .status()?;
        collect(
            &path,
            status.code(),
            "echo curve",
            &mut inputs,
            &mut problems,
        );
        eprintln!("echo stage: {:.0} s", echo_start.elapsed().as_secs_f64());
    }
    if !args.skip_micro {
        next("micro-benchmarks (quick pass)");
        let path = args.out.join("micro.json");
        match micro_quick(&exe, &path) {
            Ok(file) => inputs.push(file),
            Err(e) => problems.push(format!("micro-benchmarks: {e:#}")),
        }
    }
    next("report");
    if inputs.is_empty() {
        anyhow::bail!("no stage produced results: {}", problems.join("; "));
    }
    let merged = merge(inputs);
    let report_dir = args.out.join("report");
    let index = reports::html::write_report(&[merged], &report_dir)?;
    for p in &problems {
        eprintln!("loopbench: warning: {p}");
    }
    let index = std::fs::canonicalize(&index).unwrap_or(index);
    eprintln!("\ndone in {:.0} s", start.elapsed().as_secs_f64());
    println!("report: {}", index.display());
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Loads a stage's results file, noting a stage that failed or wrote nothing.
fn collect(
    path: &Path,
    code: Option<i32>,
    stage: &str,
    inputs: &mut Vec<ResultsFile>,
    problems: &mut Vec<String>,
) {
    match ResultsFile::load(path) {
        Ok(file) => {
            if code != Some(0) {
                problems.push(format!(
                    "{stage} exited with status {}; its results are in the report",
                    code.map_or("signal".to_string(), |c| c.to_string())
                ));
            }
            inputs.push(file);
        }
        Err(e) => problems.push(format!("{stage} produced no results: {e}")),
    }
}

/// One results file from several stages: the first environment, every section concatenated.
fn merge(inputs: Vec<ResultsFile>) -> ResultsFile {
    let mut iter = inputs.into_iter();
    let mut merged = iter.next().expect("at least one input");
    for file in iter {
        for info in file.environment.runtimes {
            if !merged.environment.runtimes.iter().any(|r| r.id == info.id) {
                merged.environment.runtimes.push(info);
            }
        }
        if merged.environment.pinning.is_none() {
            merged.environment.pinning = file.environment.pinning;
        }
        merged.results.extend(file.results);
        merged.runs.extend(file.runs);
        merged.micro.extend(file.micro);
        merged.capacity.extend(file.capacity);
        merged.equal_load.extend(file.equal_load);
    }
    merged.environment.command_line = std::env::args().collect();
    merged
}

/// Every micro workload on every runtime, `MICRO_SAMPLES` executions each, interleaved.
fn micro_quick(exe: &Path, path: &Path) -> anyhow::Result<ResultsFile> {
    let ids = runtimes::runtime_ids();
    let infos = ids
        .iter()
        .map(|id| runtimes::runtime_info(id))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut file = ResultsFile::new(Environment::capture(infos));
    for def in benches::micro::WORKLOADS {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); ids.len()];
        for _ in 0..MICRO_SAMPLES {
            for (i, rt) in ids.iter().enumerate() {
                match crate::util::micro_ns_per_iter(exe, rt, def.name, MICRO_ITERS) {
                    Ok(ns) => samples[i].push(ns),
                    Err(e) => eprintln!("  {rt}/{}: {e:#}", def.name),
                }
            }
        }
        for (rt, s) in ids.iter().zip(samples) {
            if s.is_empty() {
                continue;
            }
            eprintln!(
                "  {:<16} {:<10} {:>12.0} ns/iter",
                def.name,
                rt,
                gate::stats::median(&s)
            );
            file.micro.push(MicroResult {
                runtime: rt.to_string(),
                bench: def.name.to_string(),
                iters: MICRO_ITERS,
                ns_per_iter: gate::stats::median(&s),
                ns_per_iter_min: s.iter().copied().fold(f64::INFINITY, f64::min),
                ns_per_iter_max: s.iter().copied().fold(0.0, f64::max),
                samples: s.len() as u32,
            });
        }
    }
    file.save(path)?;
    Ok(file)
}
