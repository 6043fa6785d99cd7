//! The conformance matrix, once: one generated test per scenario × runtime (the idea of
//! tokio's `rt_test!`), each running its cell the way `loopbench conformance` does — the real
//! binary, the cell in its own child process with a time limit — and asserting the cell is
//! not `fail`, `timeout` or `crash`. A failing cell names itself in the test name
//! (`cells::tokio_mt::CallSoonFifo`) and shows what was observed and what was expected.
//!
//! Self-test scenarios are checked for what they prove on every runtime: a hang becomes
//! `timeout` within its limit, an abort becomes `crash`.
//!
//! Timing-sensitive scenarios never share the CPU with another cell: they take the write side
//! of [`CPU`], every other cell the read side.

use std::process::Command;
use std::sync::RwLock;

use harness::results::{CellStatus, ResultsFile};

/// Cells run in parallel test threads; a timing-sensitive cell runs alone.
static CPU: RwLock<()> = RwLock::new(());

/// Runs `scenario` on `runtime` through `loopbench conformance` and checks its cell.
fn cell(scenario: &str, runtime: &str) {
    let def = scenarios::find(scenario).unwrap_or_else(|| panic!("no scenario {scenario}"));
    let _shared;
    let _alone;
    if def.timing_sensitive || def.selftest {
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

/// One module per runtime, one test per scenario in each.
macro_rules! cells_on {
    ($module:ident = $runtime:literal if $feature:literal; $($name:ident => $id:expr),*) => {
        #[cfg(feature = $feature)]
        #[allow(non_snake_case)]
        mod $module {
            $(
                #[test]
                fn $name() {
                    super::cell($id, $runtime);
                }
            )*
        }
    };
}

macro_rules! cells {
    ($($name:ident => $id:expr),* $(,)?) => {
        cells_on!(evloop = "evloop" if "evloop"; $($name => $id),*);
        cells_on!(evloop_uring = "evloop-uring" if "evloop-uring"; $($name => $id),*);
        cells_on!(tokio_ct = "tokio-ct" if "tokio"; $($name => $id),*);
        cells_on!(tokio_mt = "tokio-mt" if "tokio"; $($name => $id),*);
        cells_on!(async_std = "async-std" if "async-std"; $($name => $id),*);
        cells_on!(smol = "smol" if "smol"; $($name => $id),*);
        cells_on!(smol_mt = "smol-mt" if "smol"; $($name => $id),*);
        cells_on!(compio = "compio" if "compio"; $($name => $id),*);
        cells_on!(monoio = "monoio" if "monoio"; $($name => $id),*);
    };
}

scenarios::for_each_scenario!(cells);

/// The generated modules cover exactly the compiled-in runtimes (a new runtime needs a line
/// in `cells!`).
#[test]
fn every_compiled_in_runtime_has_its_cells() {
    let generated = [
        #[cfg(feature = "evloop")]
        "evloop",
        #[cfg(feature = "evloop-uring")]
        "evloop-uring",
        #[cfg(feature = "tokio")]
        "tokio-ct",
        #[cfg(feature = "tokio")]
        "tokio-mt",
        #[cfg(feature = "async-std")]
        "async-std",
        #[cfg(feature = "smol")]
        "smol",
        #[cfg(feature = "smol")]
        "smol-mt",
        #[cfg(feature = "compio")]
        "compio",
        #[cfg(feature = "monoio")]
        "monoio",
    ];
    assert_eq!(generated.to_vec(), runtimes::runtime_ids());
}
