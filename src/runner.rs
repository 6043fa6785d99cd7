//! The conformance runner: each scenario × runtime runs in a child `loopbench __cell`
//! process with a time limit, so a hang becomes a `timeout` cell and an abort, a signal or
//! an unexpected exit becomes a `crash` cell, and the harness itself never goes down.
//!
//! A kill-matrix cell is the same: a child `loopbench __cell` on the `evloop-mutant` runtime,
//! with `EVLOOP_MUTANT` naming its fault in the child's environment, classified as an evloop
//! cell (see [`CellPlan`]).
//!
//! Invariant: cells run one at a time, so a timing-sensitive scenario never shares the CPU
//! with another scenario. This is the one place a cell's child process is started.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use harness::results::{CellStatus, ConformanceCell};
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
    let (def, runtime, limit) = (plan.def, plan.classify_as, plan.limit);
    let start = Instant::now();
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["__cell", "--runtime", plan.runtime, "--scenario", def.id])
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let exited = wait_with_limit(&mut child, limit)?;
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    let observation = out
        .lines()
        .find_map(|l| l.strip_prefix(MARKER))
        .map(serde_json::from_str::<Observation>);

    let (status, detail, measurements) = match (exited, observation) {
        (None, _) => (
            CellStatus::Timeout,
            format!(
                "no result within {:.0} s; child killed{}",
                limit.as_secs_f64(),
                tail_note(&err)
            ),
            Vec::new(),
        ),
        (Some(st), Some(Ok(obs))) if st.success() => {
            let (status, detail) = scenarios::classify(def, runtime, &obs);
            (status, detail, obs.measurements)
        }
        (Some(st), Some(Err(e))) if st.success() => (
            CellStatus::Crash,
            format!("child printed an unreadable result: {e}"),
            Vec::new(),
        ),
        (Some(st), _) => (
            CellStatus::Crash,
            describe_exit(st) + &tail_note(&err),
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

/// Waits for `child` up to `limit`; kills it and returns `None` on time-out.
fn wait_with_limit(
    child: &mut Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = pipe {
            let mut reader = BufReader::new(pipe);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                text.push_str(&line);
                line.clear();
            }
        }
        text
    })
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = match sig {
            6 => "SIGABRT",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            7 => "SIGBUS",
            4 => "SIGILL",
            8 => "SIGFPE",
            _ => "signal",
        };
        format!("child killed by {name} ({sig})")
    } else {
        format!(
            "child exited with status {} before reporting a result",
            status.code().unwrap_or(-1)
        )
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
