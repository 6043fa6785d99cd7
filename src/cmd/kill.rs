//! `loopbench conformance --mutants`: the kill matrix. Every selected scenario runs on the
//! deliberately broken evloops it declares it kills (or, with `--all-pairs`, on all of them),
//! each cell a child process through the same runner as the conformance matrix, after an
//! unmutated evloop column (the control: a kill means something only where the unmutated loop
//! passes). Prints the kill matrix; `--json` writes it, with the control cells, into a
//! results file.

use std::process::ExitCode;

use anyhow::Context;
use harness::results::{Environment, KillCell, ResultsFile};
use scenarios::kill::{self, KillPair, Pairs};

use crate::cmd::conformance::{run_matrix, select_scenarios, Args, CELL_LIMIT, MUTANT_LIMIT};
use crate::runner::{run_plan, CellPlan};
use crate::util::usage;

/// How to get a binary with the mutants, for the one-line error without them.
const BUILD_HINT: &str = "this loopbench was built without the evloop mutants; build one with \
    `cargo build --release --features mutants` (or run `cargo test`, whose loopbench has them)";

/// Runs the kill matrix.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let all = runtimes::mutants();
    if all.is_empty() {
        return Err(usage(BUILD_HINT));
    }
    let selected: Vec<&runtimes::Mutant> = match &args.mutant {
        None => all.iter().collect(),
        Some(list) => {
            let mut out = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match all.iter().find(|m| m.name == name) {
                    Some(m) if !out.contains(&m) => out.push(m),
                    Some(_) => {}
                    None => {
                        let names: Vec<_> = all.iter().map(|m| m.name).collect();
                        return Err(usage(format!(
                            "unknown mutant '{name}'; mutants: {}",
                            names.join(", ")
                        )));
                    }
                }
            }
            if out.is_empty() {
                return Err(usage("--mutant names no mutant"));
            }
            out
        }
    };
    let defs = select_scenarios(&args.scenario)?;
    let limit = args.timeout.unwrap_or(MUTANT_LIMIT);
    let pairs = if args.all_pairs {
        Pairs::All
    } else {
        Pairs::Declared
    };
    let names: Vec<&'static str> = selected.iter().map(|m| m.name).collect();
    let plan = kill::plan(&defs, &names, pairs);
    // Cells mostly wait (for a mutant's time-out, or a scenario's watchdog), so they run
    // `jobs` at once; a cell whose kill hinges on timing (a timing-sensitive scenario, or a
    // mutant whose timers end early, which a second cell's load would hide) runs alone.
    let jobs = args.jobs.unwrap_or_else(crate::pool::default_jobs);
    let timing: Vec<&'static str> = selected
        .iter()
        .filter(|m| m.timing)
        .map(|m| m.name)
        .collect();

    let control = if args.no_control {
        Vec::new()
    } else {
        crate::resume::note_unsaved_on_interrupt();
        let control_limit = args.timeout.unwrap_or(CELL_LIMIT);
        run_matrix(
            &[kill::JUDGED_AS],
            &defs,
            control_limit,
            jobs,
            args.quiet,
            None,
        )?
    };
    let cells = run_pairs(&plan, &timing, limit, jobs, args.quiet)?;

    let described: Vec<(&str, &str, &str)> = selected
        .iter()
        .map(|m| (m.name, m.rule, m.description))
        .collect();
    let matrix = kill::matrix(pairs, &described, cells);
    print!(
        "{}",
        reports::killmatrix::terminal(&matrix, &control, crate::util::use_color())
    );
    if let Some(path) = &args.json {
        let info = runtimes::runtime_info(kill::JUDGED_AS)?;
        let mut file = ResultsFile::new(Environment::capture(vec![info]));
        file.results = control.clone();
        file.kill_matrix = Some(matrix.clone());
        file.save(path)?;
        println!("results written to {}", path.display());
    }
    let broken_control = control.iter().filter(|c| c.status.is_failure()).count();
    let surviving = matrix.surviving_declared().count();
    Ok(if broken_control == 0 && surviving == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs every pair of `plan` in child processes, up to `jobs` at once (a timing-sensitive
/// scenario's pair, and a pair with one of the `timing` mutants, alone: see
/// [`crate::pool`]), with a progress bar.
fn run_pairs(
    plan: &[KillPair],
    timing: &[&str],
    limit: std::time::Duration,
    jobs: usize,
    quiet: bool,
) -> anyhow::Result<Vec<KillCell>> {
    let bar = crate::cmd::run::stage_bar("kill matrix", plan.len() as u64, quiet);
    let cells = crate::pool::run_ordered(
        plan,
        jobs,
        |pair| pair.def.runs_alone() || timing.contains(&pair.mutant),
        |pair| {
            bar.set_message(format!("{} on {}", pair.def.id, pair.mutant));
            run_plan(&CellPlan {
                def: pair.def,
                runtime: runtimes::MUTANT_ID,
                classify_as: kill::JUDGED_AS,
                limit,
                env: vec![(runtimes::MUTANT_ENV, pair.mutant.to_string())],
            })
            .with_context(|| {
                format!(
                    "cannot start a child process for {} on mutant {}",
                    pair.def.id, pair.mutant
                )
            })
        },
        |_, _| {
            // A cell cut short by an interrupt is not a result.
            crate::util::yield_if_interrupted();
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    Ok(plan
        .iter()
        .zip(cells)
        .map(|(pair, run)| kill::cell(pair, run))
        .collect())
}
