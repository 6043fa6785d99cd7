//! The Python columns of the conformance matrix: `asyncio` (CPython's default loop) and
//! `uvloop`, each scenario run by its Python twin (`scenarios/python/`, one file per scenario
//! group, one runner `twin.py`) in a child process through the same runner as every Rust
//! cell ([`crate::runner::run_child`]: time limit, `timeout`/`crash` cells) and classified by
//! the same [`scenarios::classify`].
//!
//! Python comes from [`harness::python`]: the virtual environment under the build directory
//! (`target/loopbench-python`) that the echo benchmark's Python servers use too, with uvloop
//! from PyPI; where no Python or no uvloop can be had, the column is skipped with one line.
//!
//! Invariant: a scenario with neither a twin nor a stated reason why asyncio has no
//! counterpart gets no Python cell at all, and is named on a "no twin yet" line: it is never
//! shown as `unsupported` nor counted as applicable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use harness::results::{CellStatus, ConformanceCell};
use launch::Launch;
use scenarios::ScenarioDef;
use serde::Deserialize;

/// The Python columns, in display order.
pub const PYTHON_RUNTIMES: [&str; 2] = ["asyncio", "uvloop"];

/// Overrides where `twin.py` is.
pub const TWINS_ENV: &str = "LOOPBENCH_TWINS";

/// Time limit of `twin.py --list`.
const LIST_LIMIT: Duration = Duration::from_secs(30);

/// Whether `runtime` is a Python column.
pub fn is_python(runtime: &str) -> bool {
    PYTHON_RUNTIMES.contains(&runtime)
}

/// The twin runner: `$LOOPBENCH_TWINS`, else `scenarios/python/twin.py` in the source tree
/// this program was built from.
pub fn script() -> PathBuf {
    match std::env::var_os(TWINS_ENV) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/python/twin.py"
        )),
    }
}

/// What `twin.py --list` reports.
#[derive(Clone, Debug, Deserialize)]
pub struct Catalogue {
    /// Scenario id → the mutants its twin declares it kills.
    pub twins: BTreeMap<String, Vec<String>>,
    /// Scenario id → why asyncio has no counterpart.
    pub unsupported: BTreeMap<String, String>,
    /// Mutant name → what it breaks.
    pub mutants: BTreeMap<String, String>,
    /// Mutants whose kill is seen in time (timers early), which another cell's load can
    /// hide: their cells run alone.
    pub timing_mutants: std::collections::BTreeSet<String>,
}

/// Python ready to run twins.
pub struct Twins {
    /// The interpreter.
    pub python: PathBuf,
    /// `twin.py`.
    pub script: PathBuf,
    /// The twins it has.
    pub catalogue: Catalogue,
}

/// The outcome of [`prepare`]: the twins (if any column can run), the columns that can,
/// and one line for each column skipped.
pub struct Prepared {
    /// The twins, when at least one column can run.
    pub twins: Option<Twins>,
    /// The Python columns that will run, in the order asked.
    pub columns: Vec<&'static str>,
    /// One line per skipped column (or pair of columns), saying why.
    pub skipped: Vec<String>,
}

/// Finds Python for the `wanted` Python columns (making the venv with uvloop when `uvloop`
/// is wanted; `progress` hears each slow step) and loads the twins' catalogue.
pub fn prepare(wanted: &[&'static str], progress: &mut dyn FnMut(&str)) -> Prepared {
    let mut skipped = Vec::new();
    let none = |skipped| Prepared {
        twins: None,
        columns: Vec::new(),
        skipped,
    };
    if wanted.is_empty() {
        return none(skipped);
    }
    let names = wanted.join(", ");
    let script = script();
    if !script.is_file() {
        skipped.push(format!(
            "{names} skipped: no twin runner at {} (set {TWINS_ENV})",
            script.display()
        ));
        return none(skipped);
    }
    let mut columns: Vec<&'static str> = wanted.to_vec();
    let python = if wanted.contains(&"uvloop") {
        match harness::python::ensure_venv(true, progress) {
            Ok(v) => Ok(v.python),
            Err(e) => {
                skipped.push(format!("uvloop skipped: {e}"));
                columns.retain(|c| *c != "uvloop");
                fallback_python()
            }
        }
    } else {
        fallback_python()
    };
    if columns.is_empty() {
        return none(skipped);
    }
    let python = match python {
        Ok(p) => p,
        Err(e) => {
            skipped.push(format!("{} skipped: {e}", columns.join(", ")));
            return none(skipped);
        }
    };
    match load_catalogue(&python, &script) {
        Ok(catalogue) => Prepared {
            twins: Some(Twins {
                python,
                script,
                catalogue,
            }),
            columns,
            skipped,
        },
        Err(e) => {
            skipped.push(format!("{} skipped: {e}", columns.join(", ")));
            none(skipped)
        }
    }
}

/// The venv's interpreter when the venv exists, else a Python 3 on `PATH` (asyncio is in
/// the standard library).
fn fallback_python() -> Result<PathBuf, String> {
    if let Some(v) = harness::python::existing_venv() {
        return Ok(v.python);
    }
    harness::python::find_python().map(|p| p.interpreter)
}

fn load_catalogue(python: &std::path::Path, script: &std::path::Path) -> Result<Catalogue, String> {
    let out = Launch::program(python)
        .arg(script)
        .arg("--list")
        .time_limit(LIST_LIMIT)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.ended.success() {
        let err = out.stderr_text();
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("`twin.py --list` {}: {last}", out.ended));
    }
    serde_json::from_str(out.stdout_text().trim())
        .map_err(|e| format!("`twin.py --list` printed an unreadable catalogue: {e}"))
}

impl Twins {
    /// Whether scenario `id` has a twin or a stated reason it has none.
    pub fn covers(&self, id: &str) -> bool {
        self.catalogue.twins.contains_key(id) || self.catalogue.unsupported.contains_key(id)
    }

    /// Runs the twin of `def` on Python column `runtime` (on a mutant of asyncio's loop when
    /// `mutant` is given, judged as `asyncio`); `None` when the scenario has no twin yet.
    pub fn run_cell(
        &self,
        def: &'static ScenarioDef,
        runtime: &str,
        mutant: Option<&str>,
        limit: Duration,
    ) -> std::io::Result<Option<ConformanceCell>> {
        if !self.covers(def.id) {
            return Ok(None);
        }
        let mut launch = Launch::program(&self.python).arg(&self.script).args([
            "--scenario",
            def.id,
            "--loop",
            runtime,
        ]);
        if let Some(m) = mutant {
            launch = launch.args(["--mutant", m]);
        }
        crate::runner::run_child(launch, def, runtime, limit).map(Some)
    }
}

/// One declared (twin, mutant) pair of the twins' kill matrix and the cell it gave.
pub struct KillCell {
    /// The mutant.
    pub mutant: String,
    /// The cell (scenario on the mutated asyncio loop).
    pub cell: ConformanceCell,
}

impl KillCell {
    /// A mutant is killed when its cell is anything but `pass` or `unsupported`.
    pub fn killed(&self) -> bool {
        !matches!(self.cell.status, CellStatus::Pass | CellStatus::Unsupported)
    }
}

/// The twins' kill matrix as text: one line per mutant with the twins that killed it, every
/// declared kill that did not happen, and the totals.
pub fn kill_report(twins: &Twins, cells: &[KillCell], defs: &[&'static ScenarioDef]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "twin kill matrix (asyncio's loop with one fault each):"
    );
    for (mutant, what) in &twins.catalogue.mutants {
        let killers: Vec<String> = cells
            .iter()
            .filter(|k| &k.mutant == mutant && k.killed())
            .map(|k| format!("{} ({})", k.cell.scenario, k.cell.status))
            .collect();
        let _ = writeln!(
            out,
            "  {mutant} — {what}: killed by {}",
            if killers.is_empty() {
                "none".to_string()
            } else {
                killers.join(", ")
            }
        );
    }
    for k in cells.iter().filter(|k| !k.killed()) {
        let _ = writeln!(
            out,
            "  MISSED: {} declares it kills {}, but the cell is {}",
            k.cell.scenario, k.mutant, k.cell.status
        );
    }
    let twins_run: Vec<&str> = defs
        .iter()
        .filter(|d| twins.catalogue.twins.contains_key(d.id))
        .map(|d| d.id)
        .collect();
    let silent: Vec<&str> = twins_run
        .iter()
        .copied()
        .filter(|id| !cells.iter().any(|k| k.cell.scenario == *id && k.killed()))
        .collect();
    let count = |s: CellStatus| cells.iter().filter(|k| k.cell.status == s).count();
    let _ = writeln!(
        out,
        "twin kill matrix: {} declared pairs over {} twins, {} killed ({} fail, {} timeout, {} crash), {} missed; twins that kill no mutant: {}",
        cells.len(),
        twins_run.len(),
        cells.iter().filter(|k| k.killed()).count(),
        count(CellStatus::Fail),
        count(CellStatus::Timeout),
        count(CellStatus::Crash),
        cells.iter().filter(|k| !k.killed()).count(),
        if silent.is_empty() {
            "none".to_string()
        } else {
            silent.join(", ")
        }
    );
    out
}
