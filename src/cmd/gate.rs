//! `loopbench gate`: the regression gate (instruction counts, relative timing, behaviour)
//! against a committed baseline; `--update` rewrites the baseline atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gate::{callgrind, timing, Baseline, BaselineError, Outcome, Verdict};
use harness::results::{Environment, ResultsFile};

use crate::util::usage;

/// Arguments of `loopbench gate`.
#[derive(clap::Args)]
#[command(
    after_help = "Tiers:\n  1  instruction counts of single-threaded micro workloads under callgrind (deterministic)\n  2  timing ratios to a reference runtime, interleaved, bootstrap CI (needs quiet cores)\n  3  conformance status changes (a change to fail/timeout/crash fails)\n\nExamples:\n  loopbench gate --baseline ci/baseline.json                 # tiers 1 and 3, as CI runs it\n  loopbench gate --baseline ci/baseline.json --tiers 2 --repeats 10\n  loopbench gate --baseline ci/baseline.json --tiers 1,2,3 --update\n\nExit status: 0 no regression; 1 a regression; 2 unusable input (missing or corrupt baseline)."
)]
pub struct Args {
    /// The baseline file (JSON, committed under ci/).
    #[arg(long)]
    pub baseline: PathBuf,
    /// Measure and rewrite the baseline instead of comparing (tiers not run are kept).
    #[arg(long)]
    pub update: bool,
    /// Which tiers to run, comma-separated.
    #[arg(long, default_value = "1,3")]
    pub tiers: String,
    /// Tier 1 threshold, percent of instructions per iteration.
    #[arg(long, default_value_t = 2.0)]
    pub instr_threshold: f64,
    /// Tier 2 threshold, percent change of the time ratio.
    #[arg(long, default_value_t = 10.0)]
    pub time_threshold: f64,
    /// Tier 1 iterations (the baseline's own count is used when comparing).
    #[arg(long, default_value_t = 2000)]
    pub iters: u64,
    /// Tier 2 repeats (each runs every runtime once, interleaved).
    #[arg(long, default_value_t = 7)]
    pub repeats: u32,
    /// Tier 2 reference runtime (the denominator of every ratio).
    #[arg(long, default_value = "tokio-ct")]
    pub reference: String,
}

/// Tier 2 micro workloads: a spread of scheduler, timer and I/O paths.
const TIMING_WORKLOADS: &[&str] = &["spawn_many", "yield_many", "ping_pong", "tcp_echo"];

fn parse_tiers(arg: &str) -> anyhow::Result<[bool; 3]> {
    let mut tiers = [false; 3];
    for t in arg.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match t {
            "1" => tiers[0] = true,
            "2" => tiers[1] = true,
            "3" => tiers[2] = true,
            other => {
                return Err(usage(format!(
                    "unknown tier '{other}'; tiers are 1, 2 and 3"
                )))
            }
        }
    }
    if tiers == [false; 3] {
        return Err(usage("no tier selected; tiers are 1, 2 and 3"));
    }
    Ok(tiers)
}

/// Runs the gate.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let tiers = parse_tiers(&args.tiers)?;
    for (name, v) in [
        ("--instr-threshold", args.instr_threshold),
        ("--time-threshold", args.time_threshold),
    ] {
        if !(v > 0.0 && v.is_finite()) {
            return Err(usage(format!(
                "{name} must be a positive percentage, not {v}"
            )));
        }
    }
    let old = match Baseline::load(&args.baseline) {
        Ok(b) => Some(b),
        Err(BaselineError::Missing { .. }) if args.update => None,
        Err(e) => return Err(usage(e.to_string())),
    };
    let exe = std::env::current_exe().context("cannot find the loopbench executable")?;
    let ids = runtimes::runtime_ids();
    let infos = ids
        .iter()
        .map(|id| runtimes::runtime_info(id))
        .collect::<std::io::Result<Vec<_>>>()?;
    let env = Environment::capture(infos);
    let mut new = old.clone().unwrap_or_else(|| Baseline::new(env.clone()));
    new.environment = env.clone();
    let mut verdicts: Vec<Verdict> = Vec::new();

    if let Some(old) = &old {
        if old.environment.rustc != env.rustc {
            eprintln!(
                "gate: warning: baseline taken with {}, this build with {}: tier 1 counts may shift",
                old.environment.rustc, env.rustc
            );
        }
    }

    if tiers[0] {
        if let Some(old) = old.as_ref().filter(|_| !args.update) {
            if !old.instructions.is_empty() && old.environment.profile != env.profile {
                return Err(usage(format!(
                    "baseline {} was taken with a {} build and this is a {} build; run the gate from `cargo run --release` (or target/release/loopbench)",
                    args.baseline.display(),
                    old.environment.profile,
                    env.profile
                )));
            }
        }
        let version = callgrind::valgrind_version().map_err(|e| usage(e.to_string()))?;
        if let Some(old) = &old {
            if !old.valgrind.is_empty() && old.valgrind != version {
                eprintln!(
                    "gate: warning: baseline counted with {}, now {version}",
                    old.valgrind
                );
            }
        }
        new.valgrind = version;
        let counts = tier1(&exe, &ids, &args, old.as_ref())?;
        if let Some(old) = &old {
            verdicts.extend(callgrind::compare(
                &old.instructions,
                &counts,
                args.instr_threshold / 100.0,
            ));
        }
        new.instructions = counts;
    }
    if tiers[1] {
        if !ids.contains(&args.reference.as_str()) {
            return Err(usage(format!(
                "reference runtime '{}' is not compiled in; valid runtimes: {}",
                args.reference,
                ids.join(", ")
            )));
        }
        let samples = tier2(&exe, &ids, &args)?;
        if let Some(old) = &old {
            verdicts.extend(timing::compare(
                &old.timing,
                &samples,
                args.time_threshold / 100.0,
            ));
        }
        new.timing = samples.to_baseline();
    }
    if tiers[2] {
        let cells = tier3(&exe)?;
        if let Some(old) = &old {
            verdicts.extend(gate::behaviour::compare(&old.conformance, &cells));
        }
        new.conformance = gate::behaviour::to_baseline(&cells);
    }

    for v in &verdicts {
        println!("{v}");
    }
    if args.update {
        new.save(&args.baseline)?;
        println!("gate: baseline written to {}", args.baseline.display());
        return Ok(ExitCode::SUCCESS);
    }
    let regressed: Vec<_> = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Regressed)
        .map(|v| v.item.as_str())
        .collect();
    if regressed.is_empty() {
        println!("gate: pass ({} items checked)", verdicts.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "gate: FAIL: {} regressed: {}",
            regressed.len(),
            regressed.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

fn tier1(
    exe: &Path,
    ids: &[&str],
    args: &Args,
    old: Option<&Baseline>,
) -> anyhow::Result<Vec<gate::baseline::InstructionCount>> {
    let mut counts = Vec::new();
    for runtime in callgrind::RUNTIMES.iter().filter(|r| ids.contains(r)) {
        // A runtime that cannot run on this machine at all (io_uring disabled, say) is
        // skipped with its reason (its baseline items are then not compared).
        if let Err(e) = runtimes::runtime_info(runtime) {
            if e.kind() == std::io::ErrorKind::Unsupported {
                eprintln!("gate: tier 1: {runtime} skipped: {e}");
                continue;
            }
        }
        for def in benches::micro::WORKLOADS.iter().filter(|w| w.deterministic) {
            let iters = old
                .filter(|_| !args.update)
                .and_then(|b| {
                    b.instructions
                        .iter()
                        .find(|c| c.runtime == *runtime && c.bench == def.name)
                })
                .map_or(args.iters, |c| c.iters);
            eprintln!(
                "gate: tier 1: callgrind {runtime}/{} ({iters} and {} iterations)",
                def.name,
                2 * iters
            );
            counts.push(callgrind::measure(exe, runtime, def.name, iters)?);
        }
    }
    Ok(counts)
}

fn tier2(exe: &Path, ids: &[&str], args: &Args) -> anyhow::Result<timing::RatioSamples> {
    let benches: Vec<&str> = TIMING_WORKLOADS
        .iter()
        .copied()
        .filter(|b| benches::micro::find(b).is_some())
        .collect();
    let mut times: BTreeMap<(String, String), Vec<Option<f64>>> = BTreeMap::new();
    for repeat in 0..args.repeats {
        eprintln!("gate: tier 2: repeat {} of {}", repeat + 1, args.repeats);
        for bench in &benches {
            // Rotate the order each repeat so no runtime always runs first or last.
            let n = ids.len();
            for k in 0..n {
                let runtime = ids[(k + repeat as usize) % n];
                let t = match crate::util::micro_ns_per_iter(exe, runtime, bench, args.iters) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        eprintln!("gate: tier 2: {e}");
                        None
                    }
                };
                times
                    .entry((runtime.to_string(), bench.to_string()))
                    .or_default()
                    .push(t);
            }
        }
    }
    Ok(timing::RatioSamples::from_times(&args.reference, &times))
}

fn tier3(exe: &Path) -> anyhow::Result<Vec<harness::results::ConformanceCell>> {
    let dir = launch::PrivateDir::new("gate")?;
    let path = dir.file("conformance.json");
    eprintln!("gate: tier 3: conformance on every runtime");
    let out = launch::Launch::loopbench(exe)
        .args(["conformance", "--runtime", "all", "--quiet", "--json"])
        .arg(&path)
        .output()?;
    let file = ResultsFile::load(&path).with_context(|| {
        format!(
            "conformance run ({}) wrote no results: {}",
            out.ended,
            out.stderr_text().trim()
        )
    })?;
    Ok(file.results)
}
