//! `loopbench conformance`: scenarios × runtimes as a matrix, each cell isolated in a child
//! process with a time limit; a terminal matrix and, with `--json`, a results file. With
//! `--mutants`, the kill matrix instead (see [`crate::cmd::kill`]): every scenario on the
//! deliberately broken evloops it declares it kills (or, with `--all-pairs`, on every one),
//! after an unmutated evloop column (the control).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use harness::journal::{CellJournal, Selection};
use harness::results::{ConformanceCell, Environment, ResultsFile};
use scenarios::ScenarioDef;

use crate::twins::{Twins, PYTHON_RUNTIMES};
use crate::util::usage;

/// Arguments of `loopbench conformance`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench conformance --runtime all --json /tmp/c.json\n  loopbench conformance --runtime evloop --scenario 'timers.*'\n  loopbench conformance --only-differences\n  loopbench conformance --runtime all --json /tmp/c.json --resume   # after an interrupt\n\nWith --json, each completed cell is also appended to PATH.journal as it completes; an\ninterrupted run (Ctrl-C, SIGTERM) prints how many cells are saved, and --resume runs only\nthe missing ones. The journal is removed once PATH is written.\n\nThe kill matrix (a build with `cargo build --release --features mutants`):\n  loopbench conformance --mutants\n  loopbench conformance --mutants --all-pairs --mutant lifo_ready_queue,timers_early\n\nExit status: 0 when no cell is fail, timeout or crash (with --mutants: every declared kill\nhappened and the control is clean); 1 otherwise; 2 for bad arguments, an unusable --json path\nor journal, or --mutants in a build without them; 130/143 when interrupted by SIGINT/SIGTERM."
)]
pub struct Args {
    /// Runtimes: comma-separated ids, or `all`: every compiled-in runtime plus the Python
    /// columns `asyncio` and `uvloop` (each scenario's Python twin). Not with `--mutants`
    /// (which runs evloop).
    #[arg(long, default_value = "all")]
    pub runtime: String,
    /// Scenarios: comma-separated ids or globs (`timers.*`), or `all`. Self-tests
    /// (`selftest.*`) run only when named.
    #[arg(long, default_value = "all")]
    pub scenario: String,
    /// Time limit per cell: seconds, or with a unit (`500ms`, `2m`); from 100ms to 86400s
    /// [default: 10; 5 for mutant cells].
    #[arg(long, value_parser = crate::checked::cell_timeout, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
    /// Write the results (schema: schema/results.schema.json) to this file; its directory is
    /// created if missing, and checked before any cell runs.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Continue an interrupted run: keep the cells in the journal beside --json
    /// (PATH.journal) and run only the others. The journal must be of the same runtimes and
    /// scenarios.
    #[arg(long, requires = "json")]
    pub resume: bool,
    /// Show only scenarios where some runtime is not `pass`.
    #[arg(long)]
    pub only_differences: bool,
    /// Do not show a progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Cells at once (1 to 64) [default: twice the machine's cores]. A timing-sensitive
    /// scenario's cell always runs alone; so does, with --mutants and
    /// --twin-mutants, a cell whose mutant makes timers end early (another cell's load
    /// would hide that kill).
    #[arg(long, value_parser = harness::units::count_arg::<usize>(1..=64))]
    pub jobs: Option<usize>,
    /// The kill matrix: run the scenarios on deliberately broken evloops (needs a build with
    /// `--features mutants`).
    #[arg(long, conflicts_with_all = ["runtime", "only_differences", "resume"])]
    pub mutants: bool,
    /// With `--mutants`: only these mutants (comma-separated names).
    #[arg(long, requires = "mutants")]
    pub mutant: Option<String>,
    /// With `--mutants`: every scenario on every mutant, not only the pairs each scenario
    /// declares it kills.
    #[arg(long, requires = "mutants")]
    pub all_pairs: bool,
    /// With `--mutants`: skip the unmutated evloop column (the control), e.g. when it was
    /// just checked.
    #[arg(long, requires = "mutants")]
    pub no_control: bool,
    /// The twins' kill matrix: every Python twin (of the selected scenarios) on each
    /// mutant of asyncio's loop it declares it kills; exit status 1 when a declared kill
    /// did not happen.
    #[arg(long, conflicts_with_all = ["mutants", "runtime", "resume", "json", "only_differences"])]
    pub twin_mutants: bool,
}

/// Splits `--runtime` into compiled-in runtimes and Python columns; `all` is both.
pub fn conformance_runtimes(arg: &str) -> anyhow::Result<(Vec<&'static str>, Vec<&'static str>)> {
    if arg.trim() == "all" {
        return Ok((runtimes::runtime_ids(), PYTHON_RUNTIMES.to_vec()));
    }
    let mut python = Vec::new();
    let mut rest = Vec::new();
    for name in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match PYTHON_RUNTIMES.iter().find(|p| **p == name) {
            Some(p) if !python.contains(p) => python.push(*p),
            Some(_) => {}
            None => rest.push(name),
        }
    }
    let rust = if rest.is_empty() && !python.is_empty() {
        Vec::new()
    } else {
        runtimes::parse_runtime_list(&rest.join(",")).map_err(|e| {
            usage(format!(
                "{e} (and the Python columns: {})",
                PYTHON_RUNTIMES.join(", ")
            ))
        })?
    };
    Ok((rust, python))
}

/// Time limit of an ordinary cell unless `--timeout` says otherwise.
pub const CELL_LIMIT: Duration = Duration::from_secs(10);

/// Time limit of a mutant cell unless `--timeout` says otherwise: every scenario bounds its
/// own waits by a few seconds, so a broken loop shows as `fail` well within it.
pub const MUTANT_LIMIT: Duration = Duration::from_secs(5);

/// Selects scenarios by a comma-separated list of ids or `*` globs.
pub fn select_scenarios(pattern: &str) -> anyhow::Result<Vec<&'static ScenarioDef>> {
    let all = scenarios::ALL;
    let mut out: Vec<&'static ScenarioDef> = Vec::new();
    for pat in pattern.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let matched: Vec<_> = if pat == "all" {
            all.iter().copied().filter(|d| !d.selftest).collect()
        } else {
            all.iter()
                .copied()
                .filter(|d| glob_match(pat, d.id))
                .collect()
        };
        if matched.is_empty() {
            let ids: Vec<_> = all.iter().map(|d| d.id).collect();
            return Err(usage(format!(
                "no scenario matches '{pat}'; valid scenarios: {}",
                ids.join(", ")
            )));
        }
        for d in matched {
            if !out.iter().any(|o| o.id == d.id) {
                out.push(d);
            }
        }
    }
    if out.is_empty() {
        return Err(usage("no scenario given; name ids or globs, or 'all'"));
    }
    Ok(out)
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Runs the selected matrix and returns its cells, with a progress bar unless `quiet`, up to
/// `jobs` cells at once (a timing-sensitive cell alone, see [`crate::pool`]).
/// With a journal, cells it holds are not run again, and each completed cell is recorded.
/// Python columns (`asyncio`, `uvloop`) run through `twins`; a scenario without a twin gets
/// no Python cell and is added to `no_twin`.
pub fn run_matrix(
    runtimes: &[&'static str],
    defs: &[&'static ScenarioDef],
    limit: Duration,
    jobs: usize,
    quiet: bool,
    journal: Option<&mut CellJournal>,
) -> anyhow::Result<Vec<ConformanceCell>> {
    let mut no_twin = Vec::new();
    run_columns(
        runtimes,
        defs,
        limit,
        jobs,
        quiet,
        journal,
        None,
        &mut no_twin,
    )
}

/// One cell of the matrix to run, or already saved in the journal.
struct Planned<'a> {
    def: &'static ScenarioDef,
    runtime: &'static str,
    saved: Option<&'a ConformanceCell>,
}

/// [`run_matrix`] with the Python columns' twins.
#[allow(clippy::too_many_arguments)]
pub fn run_columns(
    runtimes: &[&'static str],
    defs: &[&'static ScenarioDef],
    limit: Duration,
    jobs: usize,
    quiet: bool,
    mut journal: Option<&mut CellJournal>,
    twins: Option<&Twins>,
    no_twin: &mut Vec<&'static str>,
) -> anyhow::Result<Vec<ConformanceCell>> {
    let total = (runtimes.len() * defs.len()) as u64;
    let bar = crate::cmd::run::stage_bar("conformance", total, quiet);
    let saved: Vec<Option<ConformanceCell>> = defs
        .iter()
        .flat_map(|def| runtimes.iter().map(move |rt| (def, rt)))
        .map(|(def, rt)| {
            journal
                .as_deref()
                .and_then(|j| j.saved(def.id, rt))
                .cloned()
        })
        .collect();
    let planned: Vec<Planned<'_>> = defs
        .iter()
        .flat_map(|def| runtimes.iter().map(move |rt| (*def, *rt)))
        .zip(&saved)
        .map(|((def, runtime), saved)| Planned {
            def,
            runtime,
            saved: saved.as_ref(),
        })
        .collect();
    let cells = crate::pool::run_ordered(
        &planned,
        jobs,
        |p| p.saved.is_none() && p.def.runs_alone(),
        |p| -> anyhow::Result<Option<ConformanceCell>> {
            let (def, rt) = (p.def, p.runtime);
            if let Some(cell) = p.saved {
                return Ok(Some(cell.clone()));
            }
            bar.set_message(format!("{} on {rt}", def.id));
            if crate::twins::is_python(rt) {
                let ran = match twins {
                    Some(t) => t.run_cell(def, rt, None, limit),
                    None => Ok(None),
                };
                ran.with_context(|| format!("cannot start Python for {} on {rt}", def.id))
            } else {
                crate::runner::run_cell(def, rt, limit)
                    .map(Some)
                    .with_context(|| format!("cannot start a child process for {} on {rt}", def.id))
            }
        },
        |p, cell| {
            match cell {
                Some(cell) if p.saved.is_none() => {
                    // A cell cut short by an interrupt is not a result: record nothing.
                    crate::util::yield_if_interrupted();
                    if let Some(j) = journal.as_deref_mut() {
                        j.record(cell)?;
                    }
                }
                Some(_) => {}
                None => {
                    if !no_twin.contains(&p.def.id) {
                        no_twin.push(p.def.id);
                    }
                }
            }
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    Ok(cells.into_iter().flatten().collect())
}

/// Runs `loopbench conformance`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.mutants {
        return crate::cmd::kill::run(args);
    }
    if args.twin_mutants {
        return run_twin_mutants(&args);
    }
    let (rust, python) = conformance_runtimes(&args.runtime)?;
    let defs = select_scenarios(&args.scenario)?;
    let limit = args.timeout.unwrap_or(CELL_LIMIT);
    let infos = rust
        .iter()
        .map(|id| runtimes::runtime_info(id))
        .collect::<std::io::Result<Vec<_>>>()?;
    let prepared = crate::twins::prepare(&python, &mut |line| eprintln!("{line}"));
    for line in &prepared.skipped {
        eprintln!("{line}");
    }
    let mut runtimes = rust.clone();
    runtimes.extend(prepared.columns.iter().copied());
    if runtimes.is_empty() {
        return Err(usage(
            "no runtime left to run: the Python columns were skipped (see above)",
        ));
    }
    let ids: Vec<&str> = defs.iter().map(|d| d.id).collect();
    let mut journal = match &args.json {
        Some(json) => Some(crate::resume::open_journal(
            json,
            &Selection::new(&runtimes, &ids),
            args.resume,
        )?),
        None => {
            crate::resume::note_unsaved_on_interrupt();
            None
        }
    };
    let mut no_twin = Vec::new();
    let cells = run_columns(
        &runtimes,
        &defs,
        limit,
        args.jobs.unwrap_or_else(crate::pool::default_jobs),
        args.quiet,
        journal.as_mut(),
        prepared.twins.as_ref(),
        &mut no_twin,
    )?;

    // Saved before anything is printed: a closed stdout (`| head`) must not lose the cells.
    if let Some(path) = &args.json {
        let mut file = ResultsFile::new(Environment::capture(infos));
        file.results = cells.clone();
        if let Err(e) = file.save(path) {
            let kept = journal.as_ref().map_or(String::new(), |j| {
                format!("; every cell is kept in {} (--resume writes the results without running them again)", j.path().display())
            });
            anyhow::bail!("{e}{kept}");
        }
    }
    if let Some(j) = journal {
        let _ = j.remove();
    }
    print!(
        "{}",
        reports::terminal::conformance_matrix(
            &cells,
            crate::util::use_color(),
            args.only_differences
        )
    );
    if !no_twin.is_empty() {
        println!(
            "no twin yet ({} have no cell; not counted as applicable): {}",
            prepared.columns.join(", "),
            no_twin.join(", ")
        );
    }
    if let Some(path) = &args.json {
        println!("results written to {}", path.display());
    }
    let broken = cells.iter().filter(|c| c.status.is_failure()).count();
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `loopbench conformance --twin-mutants`: each selected twin on every mutant of asyncio's
/// loop it declares it kills, in child processes through the runner, and the kill report.
fn run_twin_mutants(args: &Args) -> anyhow::Result<ExitCode> {
    let defs = select_scenarios(&args.scenario)?;
    let limit = args.timeout.unwrap_or(MUTANT_LIMIT);
    let prepared = crate::twins::prepare(&["asyncio"], &mut |line| eprintln!("{line}"));
    let Some(twins) = prepared.twins else {
        for line in &prepared.skipped {
            eprintln!("{line}");
        }
        println!("twin kill matrix skipped: no Python for the asyncio twins");
        return Ok(ExitCode::SUCCESS);
    };
    let pairs: Vec<(&'static ScenarioDef, String)> = defs
        .iter()
        .filter_map(|d| twins.catalogue.twins.get(d.id).map(|k| (*d, k)))
        .flat_map(|(d, kills)| kills.iter().map(move |m| (d, m.clone())))
        .collect();
    let bar = crate::cmd::run::stage_bar("twin mutants", pairs.len() as u64, args.quiet);
    let ran = crate::pool::run_ordered(
        &pairs,
        // As for the kill matrix: `jobs` at once, and alone where a kill hinges on timing
        // (a timing-sensitive scenario, or a mutant whose timers end early).
        args.jobs.unwrap_or_else(crate::pool::default_jobs),
        |(def, mutant)| def.runs_alone() || twins.catalogue.timing_mutants.contains(mutant),
        |(def, mutant)| {
            bar.set_message(format!("{} on {mutant}", def.id));
            twins.run_cell(def, "asyncio", Some(mutant), limit)
        },
        |_, _| {
            crate::util::yield_if_interrupted();
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let cells: Vec<crate::twins::KillCell> = pairs
        .into_iter()
        .zip(ran)
        .filter_map(|((_, mutant), cell)| cell.map(|cell| crate::twins::KillCell { mutant, cell }))
        .collect();
    print!("{}", crate::twins::kill_report(&twins, &cells, &defs));
    Ok(if cells.iter().all(|k| k.killed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("timers.*", "timers.call_later"));
        assert!(!glob_match("timers.*", "loop.x"));
        assert!(glob_match("*later", "timers.call_later"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
