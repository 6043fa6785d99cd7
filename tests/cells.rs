//! The conformance matrix, once: one test per scenario × runtime (the idea of tokio's
//! `rt_test!`), each running its cell the way `loopbench conformance` does — the real binary,
//! the cell in its own child process with a time limit — and asserting the cell is not
//! `fail`, `timeout` or `crash`. A failing cell names itself in the test name
//! (`tokio-mt::loop.call_soon_fifo`) and shows what was observed and what was expected.
//!
//! Self-test scenarios are checked for what they prove on every runtime: a hang becomes
//! `timeout` within its limit, an abort becomes `crash`.
//!
//! The tests are generated at run time from `scenarios::ALL` and `runtimes::runtime_ids()`,
//! through libtest-mimic (this target has `harness = false`), so that they run in an order
//! and on a number of threads of this file's choosing: the cells mostly wait (a scenario's
//! watchdog, a peer's time-out), so they run on 8 threads unless `--test-threads` says
//! otherwise, and the timing-sensitive ones come last. Those never share the CPU with another
//! cell: they take the write side of [`CPU`], every other cell the read side; coming last,
//! they drain the running cells once rather than 81 times.

use std::process::{Command, ExitCode};
use std::sync::RwLock;

use harness::results::{CellStatus, ResultsFile};
use libtest_mimic::{Arguments, Trial};

/// Cells run in parallel test threads; a timing-sensitive cell runs alone.
static CPU: RwLock<()> = RwLock::new(());

/// Runs `scenario` on `runtime` through `loopbench conformance` and checks its cell.
fn cell(scenario: &str, runtime: &str) {
    let def = scenarios::find(scenario).unwrap_or_else(|| panic!("no scenario {scenario}"));
    let _shared;
    let _alone;
    if def.runs_alone() {
        _alone = CPU.write().unwrap_or_else(|e| e.into_inner());
    } else {
        _shared = CPU.read().unwrap_or_else(|e| e.into_inner());
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cell.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loopbench"));
    cmd.args(["conformance", "--quiet", "--runtime", runtime])
        .args(["--scenario", scenario, "--json"])
        .arg(&path);
    if def.selftest {
        cmd.args(["--timeout", "1"]);
    }
    let out = cmd.output().expect("loopbench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = ResultsFile::load(&path)
        .unwrap_or_else(|e| panic!("no results file ({e}): {stdout}{stderr}"));
    assert_eq!(file.results.len(), 1, "{stdout}");
    let c = &file.results[0];
    assert_eq!(
        (c.scenario.as_str(), c.runtime.as_str()),
        (scenario, runtime)
    );
    match scenario {
        "selftest.hang" => {
            assert_eq!(c.status, CellStatus::Timeout, "{}", c.detail);
            assert_eq!(out.status.code(), Some(1), "{stdout}");
        }
        "selftest.abort" => {
            assert_eq!(c.status, CellStatus::Crash, "{}", c.detail);
            assert!(c.detail.contains("SIGABRT"), "{}", c.detail);
            assert_eq!(out.status.code(), Some(1), "{stdout}");
        }
        _ => {
            assert!(
                !c.status.is_failure(),
                "{scenario} on {runtime}: {} — {}",
                c.status,
                c.detail
            );
            if c.status != CellStatus::Pass {
                assert!(!c.detail.is_empty(), "{} cell without detail", c.status);
            }
            assert!(out.status.success(), "{stdout}{stderr}");
        }
    }
}

/// Test threads when `--test-threads` (or `RUST_TEST_THREADS`) does not say: the cells mostly
/// wait (25 s of CPU in 34 s on 2 cores), so more of them than cores run at once. Measured on
/// 2 cores, the whole binary: 38.3 s on 4 threads, 33.6 s on 8.
const THREADS: usize = 8;

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        let from_env = std::env::var("RUST_TEST_THREADS").ok();
        args.test_threads = Some(from_env.and_then(|v| v.parse().ok()).unwrap_or(THREADS));
    }
    let mut shared = Vec::new();
    let mut alone = Vec::new();
    for runtime in runtimes::runtime_ids() {
        for def in scenarios::ALL {
            let id = def.id;
            // A failed check panics: libtest-mimic reports the panic as the test's failure.
            let test = Trial::test(format!("{runtime}::{id}"), move || {
                cell(id, runtime);
                Ok(())
            });
            if def.runs_alone() {
                alone.push(test);
            } else {
                shared.push(test);
            }
        }
    }
    shared.append(&mut alone);
    libtest_mimic::run(&args, shared).exit_code()
}
