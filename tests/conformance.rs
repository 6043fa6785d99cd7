//! End-to-end tests of `loopbench conformance` and `list`: the real binary, real child
//! processes. The matrix's shape on every compiled-in runtime (every cell runs once, in
//! `tests/cells.rs`); self-test scenarios prove a hang becomes `timeout` within its limit and
//! an abort becomes `crash`, while the rest of the matrix still completes.

use std::process::Command;
use std::time::{Duration, Instant};

use harness::results::{CellStatus, ResultsFile};

/// The matrix has timing-sensitive scenarios: tests that run cells take turns.
static ONE_MATRIX_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_MATRIX_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn loopbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loopbench"))
}

fn temp_json(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("loopbench-test-{}-{name}.json", std::process::id()))
}

/// The matrix's shape on every runtime (a few scenarios: `tests/cells.rs` runs every cell once,
/// `tests/kill.rs` proves each verdict can fail).
#[test]
fn matrix_has_one_cell_per_scenario_and_runtime() {
    let _turn = serial();
    let path = temp_json("all");
    let picked = [
        "tasks.starts_later",
        "loop.call_soon_fifo",
        "sync.lock_fifo",
    ];
    // Every compiled-in runtime (`all` adds the Python columns, tested in tests/twins.rs).
    let rust = runtimes::runtime_ids().join(",");
    let out = loopbench()
        .args(["conformance", "--runtime", &rust, "--quiet", "--json"])
        .arg(&path)
        .args(["--scenario", &picked.join(",")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let file = ResultsFile::load(&path).expect("results file written");
    std::fs::remove_file(&path).ok();

    let runtimes = runtimes::runtime_ids();
    assert_eq!(
        file.results.len(),
        runtimes.len() * picked.len(),
        "{stdout}"
    );
    for id in picked {
        for rt in &runtimes {
            let n = file
                .results
                .iter()
                .filter(|c| c.scenario == id && c.runtime == *rt)
                .count();
            assert_eq!(n, 1, "cell {id} × {rt}");
        }
    }
    for cell in &file.results {
        assert!(!cell.status.is_failure(), "{cell:?}");
        if cell.status != CellStatus::Pass {
            assert!(
                !cell.detail.is_empty(),
                "non-pass cell without detail: {cell:?}"
            );
        }
    }
    assert!(out.status.success(), "{stdout}");
    assert_eq!(file.environment.runtimes.len(), runtimes.len());
    // The terminal matrix has a column per runtime.
    let header = stdout
        .lines()
        .find(|l| l.starts_with("scenario"))
        .unwrap_or("");
    for rt in &runtimes {
        assert!(header.contains(rt), "{header}");
    }
}

#[test]
fn hang_is_a_timeout_and_abort_is_a_crash_and_the_matrix_completes() {
    let _turn = serial();
    let path = temp_json("selftest");
    let first = runtimes::runtime_ids()[0];
    let limit = 2.0;
    let start = Instant::now();
    let out = loopbench()
        .args(["conformance", "--quiet", "--runtime", first])
        .args([
            "--scenario",
            "selftest.hang,selftest.abort,tasks.starts_later",
        ])
        .args(["--timeout", &limit.to_string(), "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    let file = ResultsFile::load(&path).expect("results file written");
    std::fs::remove_file(&path).ok();

    let status_of = |id: &str| {
        file.results
            .iter()
            .find(|c| c.scenario == id)
            .map(|c| (c.status, c.detail.clone(), c.elapsed_ms))
            .unwrap_or_else(|| panic!("no cell for {id}"))
    };
    let (hang, detail, hang_ms) = status_of("selftest.hang");
    assert_eq!(hang, CellStatus::Timeout, "{detail}");
    // Killed at its limit: not before it, and not long after (generous slack).
    assert!(hang_ms >= limit * 1e3, "{hang_ms}");
    assert!(hang_ms < limit * 1e3 + 5_000.0, "{hang_ms}");
    let (abort, detail, _) = status_of("selftest.abort");
    assert_eq!(abort, CellStatus::Crash, "{detail}");
    assert!(detail.contains("SIGABRT"), "{detail}");
    // The rest of the matrix still ran.
    assert_eq!(status_of("tasks.starts_later").0, CellStatus::Pass);
    // Failures make the exit status 1, not a harness crash.
    assert_eq!(out.status.code(), Some(1));
    assert!(elapsed < Duration::from_secs(60));
}

#[test]
fn unknown_runtime_exits_2_naming_the_valid_ones() {
    let out = loopbench()
        .args(["conformance", "--runtime", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for id in runtimes::runtime_ids() {
        assert!(stderr.contains(id), "{stderr}");
    }
}

#[test]
fn unknown_scenario_exits_2() {
    let out = loopbench()
        .args(["conformance", "--scenario", "nosuch.scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tasks.starts_later"));
}

#[test]
fn list_shows_every_runtime_with_its_info() {
    let out = loopbench().arg("list").output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in runtimes::runtime_ids() {
        assert!(stdout.contains(id), "{stdout}");
    }
    assert!(
        stdout.contains("discontinued"),
        "async-std note missing: {stdout}"
    );
    for def in scenarios::ALL.iter().filter(|d| !d.selftest) {
        assert!(stdout.contains(def.id), "{}", def.id);
    }
}
