//! `loopbench run` (also what `loopbench` with no arguments does): the quick default suite —
//! conformance on every runtime; the echo stage (the equal-load comparison of every runtime,
//! the epoll and io_uring floors and, when Python is there, the seeds' asyncio and uvloop servers, then a
//! short closed-loop curve); a quick pass of the micro-benchmarks — then the HTML report,
//! which leads with the equal-load table.
//!
//! Each stage is a child `loopbench` process, so a stage that crashes costs that stage only:
//! the report is still written from what the others produced, and the failure is named.
//! Every stage shows a progress bar with its elapsed and remaining time on stderr (the
//! children draw their own), hidden when stderr is not a terminal or with `--quiet`; the end
//! prints the summary's lines (`reports::summary`) and the report's path.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use harness::results::{Environment, MicroResult, ResultsFile};
use indicatif::{ProgressBar, ProgressStyle};

use crate::checked::{self, format_duration, Counts};
use crate::util::{usage, yield_if_interrupted};

/// Arguments of `loopbench run`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cargo run --release                       # the default suite, ends with the report path\n  loopbench run --out /tmp/lb --skip-echo\n  loopbench run --connections 1,100 --duration 2s --no-python\n\nEvery value is checked before the first stage starts, by the rules of the stage it is for.\nExit status: 0 every stage succeeded; 1 a stage failed or reported failures (the report is\nstill written from the others); 2 bad arguments or an unusable --out directory;\n130/143 when interrupted by SIGINT/SIGTERM (stage children are stopped; results files are\nwhole or absent; an interrupted conformance stage leaves its journal, see `conformance\n--resume`)."
)]
pub struct Args {
    /// Directory for the results files and the report (created if missing; checked before
    /// the first stage).
    #[arg(long, default_value = "loopbench-out")]
    pub out: PathBuf,
    /// Connection counts of the closed-loop curve, comma-separated, each 1 to 1,000,000.
    #[arg(long, default_value = "100,10000", value_parser = checked::connections, allow_negative_numbers = true)]
    pub connections: Counts,
    /// Connections of the equal-load comparison, comma-separated, each 1 to 1,000,000.
    #[arg(long, default_value = "100", value_parser = checked::connections, allow_negative_numbers = true)]
    pub equal_connections: Counts,
    /// Measured duration per point, 1ms to 86400s (the equal-load points get 1.5 times as
    /// long).
    #[arg(long, default_value = "700ms", value_parser = checked::echo_duration, allow_hyphen_values = true)]
    pub duration: Duration,
    /// Warm-up per point, 0 to 86400s.
    #[arg(long, default_value = "300ms", value_parser = checked::echo_warmup, allow_hyphen_values = true)]
    pub warmup: Duration,
    /// Leave out the Python servers (asyncio, uvloop); by default they run when Python is
    /// there, uvloop installed from PyPI into target/loopbench-python the first time.
    #[arg(long)]
    pub no_python: bool,
    /// Echo benchmark connections opened per second, 1 to 1,000,000 (10,000 connections open
    /// in 1 s; the `blocking` baseline's backlog overflows either way, which it reports).
    #[arg(long, default_value = "10000", value_parser = checked::connect_rate, allow_negative_numbers = true)]
    pub connect_rate: f64,
    /// Skip the echo benchmark.
    #[arg(long)]
    pub skip_echo: bool,
    /// Skip the micro-benchmarks.
    #[arg(long)]
    pub skip_micro: bool,
    /// Skip the conformance matrix.
    #[arg(long)]
    pub skip_conformance: bool,
    /// No progress bars (they are hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
}

/// The progress bar template of every stage: done/total, elapsed and remaining time.
pub const PROGRESS_TEMPLATE: &str =
    "{prefix} [{bar:30}] {pos}/{len} · {elapsed} elapsed · ~{eta} left · {wide_msg}";

/// Iterations and executions per micro workload in the quick pass.
const MICRO_ITERS: u64 = 200;
const MICRO_SAMPLES: u32 = 3;

/// Runs the suite and prints where the report is.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let exe = std::env::current_exe().context("cannot find the loopbench executable")?;
    harness::paths::check_output_dir(&args.out).map_err(|e| usage(format!("--out: {e}")))?;
    let current = Arc::new(Mutex::new(String::from("start-up")));
    {
        let (current, out) = (Arc::clone(&current), args.out.clone());
        launch::on_interrupt(move || {
            let stage = current.lock().map(|s| s.clone()).unwrap_or_default();
            eprintln!(
                "run: interrupted during the {stage} stage; stages that completed have their results in {}",
                out.display()
            );
        });
    }
    let stages = 1 + [args.skip_conformance, args.skip_echo, args.skip_micro]
        .iter()
        .filter(|skip| !**skip)
        .count();
    let mut stage = 0;
    let mut next = |name: &str| {
        stage += 1;
        if let Ok(mut c) = current.lock() {
            *c = name.split(':').next().unwrap_or(name).to_string();
        }
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
            .args(args.quiet.then_some("--quiet"))
            .status()?;
        yield_if_interrupted();
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
        let equal_duration = args.duration.mul_f64(1.5);
        let mut servers: Vec<&str> = runtimes::runtime_ids();
        servers.push(benches::echo::baselines::epoll_floor::ID);
        servers.push(benches::echo::baselines::uring_floor::ID);
        let equal_path = args.out.join("equal.json");
        let status = launch::Launch::loopbench(&exe)
            .args(["bench", "equal", "--runtime", &servers.join(",")])
            .args(python)
            .args(["--connections", &args.equal_connections.to_string()])
            .args(["--probe-duration", &format_duration(args.duration)])
            .args(["--warmup", &format_duration(args.warmup)])
            .args(["--duration", &format_duration(equal_duration)])
            .args(["--connect-rate", &args.connect_rate.to_string()])
            .arg("--json")
            .arg(&equal_path)
            .args(args.quiet.then_some("--quiet"))
            .status()?;
        yield_if_interrupted();
        collect(
            &equal_path,
            status.code(),
            "equal load",
            &mut inputs,
            &mut problems,
        );
        // The curve: runtimes and the floors. The seed baselines starve at 10,000
        // connections within a short window — blocking beyond 1 connection, threadpool beyond
        // 5, and threads (10,000 threads on 2 cores left 1,809 connections without an echo in
        // 0.7 s) — and so do the Python servers: a starved point is partial, which would make
        // the default run exit 1 for a limit that is the baseline's design. `bench echo
        // --runtime blocking,threads,threadpool --with-python` shows them, marked partial.
        // Python is in the equal-load comparison above.
        let path = args.out.join("echo.json");
        let status = launch::Launch::loopbench(&exe)
            .args(["bench", "echo", "--runtime", &servers.join(",")])
            .args(["--connections", &args.connections.to_string()])
            .args(["--duration", &format_duration(args.duration)])
            .args(["--warmup", &format_duration(args.warmup)])
            .args(["--connect-rate", &args.connect_rate.to_string()])
            .arg("--json")
            .arg(&path)
            .args(args.quiet.then_some("--quiet"))
            .status()?;
        yield_if_interrupted();
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
        let result = micro_quick(&exe, &path, args.quiet);
        yield_if_interrupted();
        match result {
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
    let index = reports::html::write_report(std::slice::from_ref(&merged), &report_dir)?;
    for p in &problems {
        eprintln!("loopbench: warning: {p}");
    }
    let index = std::fs::canonicalize(&index).unwrap_or(index);
    eprintln!("\ndone in {:.0} s", start.elapsed().as_secs_f64());
    println!(
        "\nsummary (ranked from rankable echo points only; the report says why others are not):"
    );
    for line in reports::summary::Summary::of(&merged).lines {
        println!("  {line}");
    }
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
        if merged.kill_matrix.is_none() {
            merged.kill_matrix = file.kill_matrix;
        }
    }
    merged.environment.command_line = std::env::args().collect();
    merged
}

/// A progress bar of `len` steps named `prefix`, drawn on stderr unless `quiet` (indicatif
/// hides it by itself when stderr is not a terminal).
pub fn stage_bar(prefix: &'static str, len: u64, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(
        ProgressStyle::with_template(PROGRESS_TEMPLATE)
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}

/// Every micro workload on every runtime, `MICRO_SAMPLES` executions each, interleaved.
fn micro_quick(exe: &Path, path: &Path, quiet: bool) -> anyhow::Result<ResultsFile> {
    let ids = runtimes::runtime_ids();
    let infos = ids
        .iter()
        .map(|id| runtimes::runtime_info(id))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut file = ResultsFile::new(Environment::capture(infos));
    let total = benches::micro::WORKLOADS.len() * MICRO_SAMPLES as usize * ids.len();
    let bar = stage_bar("micro", total as u64, quiet);
    for def in benches::micro::WORKLOADS {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); ids.len()];
        for sample in 0..MICRO_SAMPLES {
            for (i, rt) in ids.iter().enumerate() {
                bar.set_message(format!(
                    "{} on {rt} (execution {}/{MICRO_SAMPLES})",
                    def.name,
                    sample + 1
                ));
                let ns = crate::util::micro_ns_per_iter(exe, rt, def.name, MICRO_ITERS);
                yield_if_interrupted();
                match ns {
                    Ok(ns) => samples[i].push(ns),
                    Err(e) => bar.suspend(|| eprintln!("  {rt}/{}: {e:#}", def.name)),
                }
                bar.inc(1);
            }
        }
        for (rt, s) in ids.iter().zip(samples) {
            if s.is_empty() {
                continue;
            }
            bar.suspend(|| {
                eprintln!(
                    "  {:<16} {:<10} {:>12.0} ns/iter",
                    def.name,
                    rt,
                    gate::stats::median(&s)
                )
            });
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
    bar.finish_and_clear();
    file.save(path)?;
    Ok(file)
}
