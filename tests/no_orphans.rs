//! No child outlives its parent: `kill -9` or SIGINT of a `loopbench` that has children (a
//! conformance cell, an echo server and load generator, an outside program behind the
//! guard) leaves no process of that run behind within 2 s.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{alive, loopbench, wait_for_descendants};

/// Sends `sig` to `parent`, reaps it, and asserts every process in `children` is gone
/// within 2 s.
fn kill_and_expect_no_survivor(mut parent: Child, sig: i32, children: &[(u32, String)]) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(parent.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let _ = parent.wait();
    let start = Instant::now();
    loop {
        let left: Vec<_> = children.iter().filter(|(p, _)| alive(*p)).collect();
        if left.is_empty() {
            return;
        }
        if start.elapsed() > Duration::from_secs(2) {
            for (p, _) in &left {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!("survived the parent by 2 s: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
