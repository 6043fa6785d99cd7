//! The conformance runner: each scenario × runtime runs in a child `loopbench __cell`
//! process started by the launcher (`launch`) with a time limit, so a hang becomes a `timeout` cell and an abort, a signal or
//! an unexpected exit becomes a `crash` cell, and the harness itself never goes down.
//!
//! A kill-matrix cell is the same: a child `loopbench __cell` on the `evloop-mutant` runtime,
//! with `EVLOOP_MUTANT` naming its fault in the child's environment, classified as an evloop
//! cell (see [`CellPlan`]).
//!
//! A Python cell (the `asyncio` and `uvloop` columns, see [`crate::twins`]) is the same
//! again with a different child: `python twin.py --scenario ID --loop RT`, which prints the
//! same marked observation; it is classified by the same [`scenarios::classify`].
//!
//! Invariant: a timing-sensitive scenario's cell never shares the CPU with another cell; the
//! callers run other cells a few at a time through [`crate::pool`], which keeps it.

use std::time::{Duration, Instant};

use harness::results::{CellStatus, ConformanceCell};
use launch::Ended;
use scenarios::{Observation, ScenarioDef};

use crate::cmd::cell::MARKER;

/// Lines of the child's stderr kept for a crash detail.
const STDERR_TAIL: usize = 6;

/// One cell to run: a scenario on a runtime, in a child process.
pub struct CellPlan<'a> {
    /// The scenario.
    pub def: &'static ScenarioDef,
    /// The runtime the child builds (`evloop-mutant` for a kill-matrix cell).
    pub runtime: &'a str,
    /// The runtime whose known differences classify the observation, and the cell's
    /// `runtime` field (`evloop` for a kill-matrix cell: a mutant is judged as evloop).
    pub classify_as: &'a str,
    /// The child's time limit.
    pub limit: Duration,
    /// Extra environment of the child (`EVLOOP_MUTANT=...`).
    pub env: Vec<(&'static str, String)>,
}

/// Runs one ordinary conformance cell (`def` on `runtime`) in a child process.
pub fn run_cell(
    def: &'static ScenarioDef,
    runtime: &str,
    limit: Duration,
) -> std::io::Result<ConformanceCell> {
    run_plan(&CellPlan {
        def,
        runtime,
        classify_as: runtime,
        limit,
        env: Vec::new(),
    })
}

/// Runs one cell as `plan` says, in a child process, and classifies what came back.
pub fn run_plan(plan: &CellPlan<'_>) -> std::io::Result<ConformanceCell> {
    let exe = std::env::current_exe()?;
    let mut launch = launch::Launch::loopbench(exe).args([
        "__cell",
        "--runtime",
        plan.runtime,
        "--scenario",
        plan.def.id,
    ]);
    for (key, value) in &plan.env {
        launch = launch.env(key, value);
    }
    run_child(launch, plan.def, plan.classify_as, plan.limit)
}

/// Runs `launch` (a child that prints one marked observation) with time limit `limit`, and
/// classifies what came back as a cell of `def` on `runtime`: the one place a child's exit,
/// time-out or observation becomes a status, for Rust and Python cells alike.
pub fn run_child(
    launch: launch::Launch,
    def: &'static ScenarioDef,
    runtime: &str,
    limit: Duration,
) -> std::io::Result<ConformanceCell> {
    let start = Instant::now();
    let out = launch.time_limit(limit).output()?;
    let (stdout, stderr) = (out.stdout_text(), out.stderr_text());
    let observation = stdout
        .lines()
        .find_map(|l| l.strip_prefix(MARKER))
        .map(serde_json::from_str::<Observation>);

    let (status, detail, measurements) = match (out.ended, observation) {
        (Ended::TimedOut(_), _) => (
            CellStatus::Timeout,
            format!(
                "no result within {:.0} s; child killed{}",
                limit.as_secs_f64(),
                tail_note(&stderr)
            ),
            Vec::new(),
        ),
        (ended, Some(Ok(obs))) if ended.success() => {
            let (status, detail) = scenarios::classify(def, runtime, &obs);
            (status, detail, obs.measurements)
        }
        (ended, Some(Err(e))) if ended.success() => (
            CellStatus::Crash,
            format!("child printed an unreadable result: {e}"),
            Vec::new(),
        ),
        (ended, _) => (
            CellStatus::Crash,
            describe_exit(ended) + &tail_note(&stderr),
            Vec::new(),
        ),
    };
    Ok(ConformanceCell {
        scenario: def.id.to_string(),
        rule: def.rule.to_string(),
        group: def.group.to_string(),
        runtime: runtime.to_string(),
        status,
        detail,
        measurements,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

fn describe_exit(ended: Ended) -> String {
    match ended.signal() {
        Some(_) => format!("child {ended}"),
        None => format!(
            "child exited with status {} before reporting a result",
            ended.code().unwrap_or(-1)
        ),
    }
}

fn tail_note(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    // A panic says where and why on the line with "panicked at" and the line after it; a
    // backtrace that follows is noise in a one-line detail.
    if let Some(pos) = lines.iter().position(|l| l.contains("panicked at")) {
        let end = (pos + 2).min(lines.len());
        return format!("; stderr: {}", lines[pos..end].join(" | "));
    }
    let tail = &lines[lines.len().saturating_sub(STDERR_TAIL)..];
    format!("; stderr: {}", tail.join(" | "))
}
