//! No child outlives its parent: `kill -9` or SIGINT of a `loopbench` that has children (a
//! conformance cell, an echo server and load generator, an outside program behind the
//! guard) leaves no process of that run behind within 2 s.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{kill_and_expect_no_survivor, loopbench, wait_for_descendants};

fn hung_conformance() -> Child {
    loopbench()
        .args([
            "conformance",
            "--runtime",
            "evloop",
            "--scenario",
            "selftest.hang",
        ])
        .args(["--timeout", "60", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_of_conformance_mid_cell_leaves_no_cell_behind() {
    let parent = hung_conformance();
    let children = wait_for_descendants(parent.id(), &["__cell"], Duration::from_secs(20));
    kill_and_expect_no_survivor(parent, 9, &children);
}

#[test]
fn sigint_of_conformance_mid_cell_leaves_no_cell_behind() {
    let parent = hung_conformance();
    let children = wait_for_descendants(parent.id(), &["__cell"], Duration::from_secs(20));
    kill_and_expect_no_survivor(parent, 2, &children);
}

fn echo_bench(extra: &[&str]) -> Child {
    loopbench()
        .args(["bench", "echo", "--connections", "10", "--duration", "60s"])
        .args(["--warmup", "100ms", "--quiet"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_of_bench_echo_mid_run_leaves_no_server_or_load_generator() {
    let parent = echo_bench(&["--runtime", "evloop"]);
    let children = wait_for_descendants(parent.id(), &["serve", "load"], Duration::from_secs(20));
    kill_and_expect_no_survivor(parent, 9, &children);
}

#[test]
fn sigterm_of_bench_echo_mid_run_leaves_no_server_or_load_generator() {
    let parent = echo_bench(&["--runtime", "evloop"]);
    let children = wait_for_descendants(parent.id(), &["serve", "load"], Duration::from_secs(20));
    kill_and_expect_no_survivor(parent, 15, &children);
}

#[test]
fn kill_9_of_bench_echo_kills_an_outside_server_command_too() {
    // The outside server is a real echo server (`loopbench serve`) behind `sh -c`, which the
    // guard starts: it must die with the bench although it is not a direct loopbench child
    // of the launcher's own making.
    let exe = env!("CARGO_BIN_EXE_loopbench");
    let cmd = format!("{exe} serve --runtime evloop --addr 127.0.0.1:{{port}}");
    let parent = echo_bench(&["--server-cmd", &cmd, "--server-name", "outside"]);
    let children = wait_for_descendants(
        parent.id(),
        &["serve --runtime evloop --addr 127.0.0.1:", "load"],
        Duration::from_secs(20),
    );
    kill_and_expect_no_survivor(parent, 9, &children);
}

#[test]
fn the_guard_runs_a_program_and_reports_one_it_cannot_run() {
    let out = loopbench()
        .args(["__exec", "--", "sh", "-c", "echo guarded"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "guarded\n");
    let out = loopbench()
        .args(["__exec", "--", "/nonexistent/program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run /nonexistent/program"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
