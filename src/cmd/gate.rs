//! `loopbench gate`: the regression gate (instruction counts, relative timing, behaviour)
//! against a committed baseline; `--update` rewrites the baseline atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gate::baseline::InstructionCount;
use gate::{callgrind, timing, Baseline, BaselineError, Outcome, Verdict};
use harness::results::{Environment, ResultsFile};
use reports::export::{Figures, Measure, Metric};

use crate::cmd::export::ExportArgs;
use crate::util::usage;

/// Arguments of `loopbench gate`.
#[derive(clap::Args)]
#[command(
    after_help = "Tiers:\n  1  instruction counts of single-threaded micro workloads under callgrind (deterministic)\n  2  timing ratios to a reference runtime, interleaved, bootstrap CI (needs quiet cores)\n  3  conformance status changes (a change to fail/timeout/crash fails)\n\nExamples:\n  loopbench gate --baseline ci/baseline.json                 # tiers 1 and 3, as CI runs it\n  loopbench gate --baseline ci/baseline.json --tiers 2 --repeats 10\n  loopbench gate --baseline ci/baseline.json --tiers 1,2,3 --update\n  loopbench gate --baseline ci/baseline.json --format github-action-benchmark --export-dir gate-export\n\nExit status: 0 no regression; 1 a regression; 2 unusable input (bad arguments, a missing or\ncorrupt baseline, an unwritable --update path, valgrind missing for tier 1); 3 --format\nasked for a format that cannot carry what was measured (hlog); 130/143 when\ninterrupted by SIGINT/SIGTERM (the baseline is then left as it was)."
)]
pub struct Args {
    /// The baseline file (JSON, committed under ci/). With --update, its directory is created
    /// if missing and checked before anything is measured.
    #[arg(long)]
    pub baseline: PathBuf,
    /// Measure and rewrite the baseline instead of comparing (tiers not run are kept).
    #[arg(long)]
    pub update: bool,
    /// Which tiers to run, comma-separated.
    #[arg(long, default_value = "1,3")]
    pub tiers: String,
    /// Tier 1 threshold, percent of instructions per iteration (above 0, at most 1000).
    #[arg(long, default_value = "2", value_parser = crate::checked::gate_threshold, allow_negative_numbers = true)]
    pub instr_threshold: f64,
    /// Tier 2 threshold, percent change of the time ratio (above 0, at most 1000).
    #[arg(long, default_value = "10", value_parser = crate::checked::gate_threshold, allow_negative_numbers = true)]
    pub time_threshold: f64,
    /// Tier 1 iterations, 1 to 500,000 (the baseline's own count is used when comparing).
    #[arg(long, default_value = "2000", value_parser = crate::checked::gate_iters, allow_negative_numbers = true)]
    pub iters: u64,
    /// Tier 2 repeats, 2 to 1000 (each runs every runtime once, interleaved).
    #[arg(long, default_value = "7", value_parser = crate::checked::gate_repeats, allow_negative_numbers = true)]
    pub repeats: u32,
    /// Tier 2 reference runtime (the denominator of every ratio).
    #[arg(long, default_value = "tokio-ct")]
    pub reference: String,
    /// `--format`: also export what this run measured (instructions per iteration, time
    /// ratios, conformance cells per runtime) for a CI service; needs `--export-dir`.
    #[command(flatten)]
    pub export: ExportArgs,
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
    args.export.check(None, false)?;
    let ids = runtimes::runtime_ids();
    if tiers[1] && !ids.contains(&args.reference.as_str()) {
        return Err(usage(format!(
            "reference runtime '{}' is not compiled in; valid runtimes: {}",
            args.reference,
            ids.join(", ")
        )));
    }
    if args.update {
        harness::paths::check_output_file(&args.baseline)
            .map_err(|e| usage(format!("--baseline: {e}")))?;
    }
    let old = match Baseline::load(&args.baseline) {
        Ok(b) => Some(b),
        Err(BaselineError::Missing { .. }) if args.update => None,
        Err(e) => return Err(usage(e.to_string())),
    };
    let exe = std::env::current_exe().context("cannot find the loopbench executable")?;
    let infos = ids
        .iter()
        .map(|id| runtimes::runtime_info(id))
        .collect::<std::io::Result<Vec<_>>>()?;
    let env = Environment::capture(infos);
    let mut new = old.clone().unwrap_or_else(|| Baseline::new(env.clone()));
    new.environment = env.clone();
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut measured = Figures::default();

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
        measured.metrics.extend(instruction_metrics(&counts));
        new.instructions = counts;
    }
    if tiers[1] {
        let samples = tier2(&exe, &ids, &args)?;
        if let Some(old) = &old {
            verdicts.extend(timing::compare(
                &old.timing,
                &samples,
                args.time_threshold / 100.0,
            ));
        }
        measured.metrics.extend(ratio_metrics(&samples));
        new.timing = samples.to_baseline();
    }
    if tiers[2] {
        let cells = tier3(&exe)?;
        if let Some(old) = &old {
            verdicts.extend(gate::behaviour::compare(&old.conformance, &cells));
        }
        measured
            .metrics
            .extend(reports::export::metrics::conformance_metrics(&cells));
        new.conformance = gate::behaviour::to_baseline(&cells);
    }

    for v in &verdicts {
        println!("{v}");
    }
    // Exported before the verdict, so a failing gate's figures reach the CI service too.
    args.export.write(&measured, None, None)?;
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

/// Tier 1 counts as export figures: `micro/RUNTIME/WORKLOAD`, instructions per iteration.
fn instruction_metrics(counts: &[InstructionCount]) -> Vec<Metric> {
    counts
        .iter()
        .map(|c| {
            let mut m = Metric::new(
                format!("micro/{}/{}", c.runtime, c.bench),
                Measure::Instructions,
                "instructions/iter",
                c.instructions_per_iter,
            );
            m.notes.push(format!(
                "callgrind: (instructions at {} - at {} iterations) / {}",
                2 * c.iters,
                c.iters,
                c.iters
            ));
            m
        })
        .collect()
}

/// Tier 2 ratios as export figures: the median ratio, with the repeats' min and max.
fn ratio_metrics(samples: &timing::RatioSamples) -> Vec<Metric> {
    samples
        .ratios
        .iter()
        .filter_map(|((runtime, bench), ratios)| {
            let s = reports::stats::Spread::of(ratios.iter().copied())?;
            let mut m = Metric::new(
                format!("micro/{runtime}/{bench}"),
                Measure::TimeRatio(samples.reference.clone()),
                "ratio",
                s.median,
            );
            if ratios.len() >= 2 {
                m.lower = Some(s.min);
                m.upper = Some(s.max);
            }
            m.notes.push(format!(
                "time / time of {}, median of {} interleaved repeats",
                samples.reference,
                ratios.len()
            ));
            Some(m)
        })
        .collect()
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
            let base = old.filter(|_| !args.update).and_then(|b| {
                b.instructions
                    .iter()
                    .find(|c| c.runtime == *runtime && c.bench == def.name)
            });
            let iters = base.map_or(args.iters, |c| c.iters);
            eprintln!(
                "gate: tier 1: callgrind {runtime}/{} ({iters} and {} iterations)",
                def.name,
                2 * iters
            );
            let mut count = callgrind::measure(exe, runtime, def.name, iters)?;
            let (per_iter, runs) = callgrind::confirmed(
                count.instructions_per_iter,
                base.map(|b| b.instructions_per_iter),
                args.instr_threshold / 100.0,
                || {
                    eprintln!("gate: tier 1: {runtime}/{} again, to confirm", def.name);
                    callgrind::measure(exe, runtime, def.name, iters)
                        .map(|c| c.instructions_per_iter)
                },
            )?;
            if runs.len() > 1 {
                let list: Vec<String> = runs.iter().map(|r| format!("{r:.1}")).collect();
                eprintln!(
                    "gate: tier 1: {runtime}/{}: runs {} instr/iter, the median {per_iter:.1} counts",
                    def.name,
                    list.join(", ")
                );
            }
            count.instructions_per_iter = per_iter;
            counts.push(count);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_figures_name_the_workload_and_keep_the_repeats_spread() {
        let counts = [InstructionCount {
            runtime: "evloop".into(),
            bench: "spawn_many".into(),
            iters: 2000,
            instructions_per_iter: 1230.5,
        }];
        let m = instruction_metrics(&counts);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].benchmark, "micro/evloop/spawn_many");
        assert_eq!(m[0].measure.slug(), "instructions");
        assert_eq!((m[0].value, m[0].lower, m[0].upper), (1230.5, None, None));

        let mut samples = timing::RatioSamples {
            reference: "tokio-ct".into(),
            ..Default::default()
        };
        samples
            .ratios
            .insert(("smol".into(), "ping_pong".into()), vec![1.2, 0.9, 1.0]);
        samples
            .ratios
            .insert(("evloop".into(), "ping_pong".into()), vec![0.8]);
        let m = ratio_metrics(&samples);
        assert_eq!(m.len(), 2);
        let smol = m
            .iter()
            .find(|m| m.benchmark == "micro/smol/ping_pong")
            .unwrap();
        assert_eq!(smol.measure.slug(), "time-ratio-to-tokio-ct");
        assert_eq!(
            (smol.value, smol.lower, smol.upper),
            (1.0, Some(0.9), Some(1.2))
        );
        let evloop = m
            .iter()
            .find(|m| m.benchmark == "micro/evloop/ping_pong")
            .unwrap();
        assert_eq!(
            (evloop.value, evloop.lower, evloop.upper),
            (0.8, None, None)
        );
    }
}
