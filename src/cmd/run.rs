//! `loopbench run` (also what `loopbench` with no arguments does): the quick default suite —
//! conformance on every runtime, the echo benchmark at 1 to 10,000 connections with short
//! durations, a quick pass of the micro-benchmarks — then the HTML report.
//!
//! Each stage is a child `loopbench` process, so a stage that crashes costs that stage only:
//! the report is still written from what the others produced, and the failure is named.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context;
use harness::results::{Environment, MicroResult, ResultsFile};

/// Arguments of `loopbench run`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cargo run --release                       # the default suite, ends with the report path\n  loopbench run --out /tmp/lb --skip-echo\n  loopbench run --connections 1,100 --duration 2s"
)]
pub struct Args {
    /// Directory for the results files and the report.
    #[arg(long, default_value = "loopbench-out")]
    pub out: PathBuf,
    /// Echo benchmark connection counts.
    #[arg(long, default_value = "1,100,1000,10000")]
    pub connections: String,
    /// Echo benchmark measured duration per point.
    #[arg(long, default_value = "1s")]
    pub duration: String,
    /// Echo benchmark warm-up per point.
    #[arg(long, default_value = "500ms")]
    pub warmup: String,
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
        let status = Command::new(&exe)
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
        next("echo benchmark: every runtime and baseline, interleaved");
        let path = args.out.join("echo.json");
        let status = Command::new(&exe)
            .args(["bench", "echo", "--runtime", "all"])
            .args(["--connections", &args.connections])
            .args(["--duration", &args.duration, "--warmup", &args.warmup])
            .args(["--connect-rate", &args.connect_rate.to_string()])
            .arg("--json")
            .arg(&path)
            .status()?;
        collect(
            &path,
            status.code(),
            "echo benchmark",
            &mut inputs,
            &mut problems,
        );
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
        if merged.kill_matrix.is_none() {
            merged.kill_matrix = file.kill_matrix;
        }
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
