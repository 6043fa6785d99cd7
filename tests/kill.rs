//! The kill matrix, asserted both ways: every scenario turns at least one deliberately broken
//! evloop into a failure (so no verdict is unconditional), and every mutant is turned into a
//! failure by at least one scenario (so no fault is invisible to the suite). Runs
//! `loopbench conformance --mutants` (the test build's loopbench has the mutants: see the
//! dev-dependency in Cargo.toml) on the declared pairs, with the unmutated evloop as control.

use std::collections::BTreeSet;
use std::process::Command;

use harness::results::{CellStatus, ResultsFile};

#[test]
fn every_scenario_kills_a_mutant_and_every_mutant_is_killed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kill.json");
    let out = Command::new(env!("CARGO_BIN_EXE_loopbench"))
        // Eight cells at once on any machine: they mostly wait (a mutant's 5 s time-out, a
        // scenario's watchdog), 11 s of CPU in 49 s one at a time; on 2 cores 15.6 s at
        // --jobs 4, 10.6 s at 8 (98 of 98 killed each time); a cell whose kill hinges on
        // timing still runs alone.
        .args([
            "conformance",
            "--mutants",
            "--jobs",
            "8",
            "--quiet",
            "--json",
        ])
        .arg(&path)
        .output()
        .expect("loopbench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = ResultsFile::load(&path)
        .unwrap_or_else(|e| panic!("no results file ({e}): {stdout}{stderr}"));
    let matrix = file.kill_matrix.as_ref().expect("a kill matrix");

    // The control: on the unmutated evloop no scenario fails, so a kill is the mutant's doing.
    let scenarios: Vec<_> = scenarios::ALL.iter().filter(|d| !d.selftest).collect();
    assert_eq!(file.results.len(), scenarios.len(), "{stdout}");
    let broken: Vec<_> = file
        .results
        .iter()
        .filter(|c| c.status.is_failure())
        .map(|c| format!("{}: {} {}", c.scenario, c.status, c.detail))
        .collect();
    assert!(
        broken.is_empty(),
        "control column fails:\n{}",
        broken.join("\n")
    );

    // Every declared kill happened.
    let survived: Vec<_> = matrix
        .surviving_declared()
        .map(|c| format!("{} × {}: {} {}", c.scenario, c.mutant, c.status, c.detail))
        .collect();
    assert!(
        survived.is_empty(),
        "declared kills that did not happen:\n{}",
        survived.join("\n")
    );
    for c in &matrix.cells {
        assert_eq!(
            c.killed,
            matches!(
                c.status,
                CellStatus::Fail | CellStatus::Timeout | CellStatus::Crash
            ),
            "{c:?}"
        );
    }

    // Both ways.
    let killers: BTreeSet<&str> = matrix
        .cells
        .iter()
        .filter(|c| c.killed)
        .map(|c| c.scenario.as_str())
        .collect();
    for def in &scenarios {
        assert!(killers.contains(def.id), "{} kills no mutant", def.id);
    }
    let killed: BTreeSet<&str> = matrix
        .cells
        .iter()
        .filter(|c| c.killed)
        .map(|c| c.mutant.as_str())
        .collect();
    let mutants = runtimes::mutants();
    assert!(mutants.len() >= 12, "{} mutants", mutants.len());
    assert_eq!(matrix.mutants.len(), mutants.len());
    for m in &mutants {
        assert!(
            killed.contains(m.name),
            "mutant {} is killed by no scenario",
            m.name
        );
    }
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("kill matrix"), "{stdout}");
}
