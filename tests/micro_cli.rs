//! End-to-end tests of `loopbench micro`: the real binary runs one workload once, prints one
//! line, writes a results file with one `micro` entry, and refuses unknown names with exit
//! status 2 and one line naming the valid ones.

use std::process::{Command, Output};

use harness::results::ResultsFile;

fn loopbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loopbench"))
        .args(args)
        .output()
        .expect("loopbench runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn runs_one_workload_and_writes_a_micro_entry() {
    let runtime = runtimes::runtime_ids()[0];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("micro.json");
    let out = loopbench(&[
        "micro",
        "--runtime",
        runtime,
        "--bench",
        "spawn_many",
        "--iters",
        "200",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let prefix = format!("{runtime} spawn_many 200 iters ");
    assert!(line.starts_with(&prefix), "{line}");
    assert!(line.trim_end().ends_with(" ns/iter)"), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");

    let file = ResultsFile::load(&path).expect("results file written");
    assert_eq!(file.micro.len(), 1);
    let entry = &file.micro[0];
    assert_eq!(
        (
            entry.runtime.as_str(),
            entry.bench.as_str(),
            entry.iters,
            entry.samples
        ),
        (runtime, "spawn_many", 200, 1)
    );
    assert!(entry.ns_per_iter > 0.0);
    assert_eq!(file.environment.runtimes.len(), 1);
    assert!(file.results.is_empty() && file.runs.is_empty());
}

#[test]
fn list_names_every_workload() {
    let out = loopbench(&["micro", "--list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for def in benches::micro::WORKLOADS {
        assert!(
            text.contains(def.name),
            "{} missing from:\n{text}",
            def.name
        );
    }
}

#[test]
fn unknown_runtime_is_a_usage_error_naming_the_valid_ones() {
    let out = loopbench(&["micro", "--runtime", "nosuch", "--bench", "spawn_many"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown runtime 'nosuch'"), "{err}");
    for id in runtimes::runtime_ids() {
        assert!(err.contains(id), "{id} missing from: {err}");
    }
    assert!(stdout(&out).is_empty());
}

#[test]
fn unknown_workload_is_a_usage_error_naming_the_valid_ones() {
    let runtime = runtimes::runtime_ids()[0];
    let out = loopbench(&["micro", "--runtime", runtime, "--bench", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown workload 'nosuch'"), "{err}");
    for def in benches::micro::WORKLOADS {
        assert!(err.contains(def.name), "{} missing from: {err}", def.name);
    }
}

#[test]
fn zero_iterations_are_refused() {
    let runtime = runtimes::runtime_ids()[0];
    let out = loopbench(&[
        "micro",
        "--runtime",
        runtime,
        "--bench",
        "spawn_many",
        "--iters",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
