//! Tests of the launcher with ordinary programs (`sh`, `sleep`, `true`); the parent-death
//! signal through the guard is tested with the real `loopbench` binary (its `tests/`).

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use super::*;

/// Whether a process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.trim().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// Waits up to 5 s for `pid` to be gone.
fn gone_soon(pid: i32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Starts `sh -c SCRIPT` with stdout piped and returns it with the first line it printed.
fn start_with_line(script: &str) -> (Running, String) {
    let mut r = Launch::program("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(r.stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    (r, line.trim().to_string())
}

#[test]
fn output_captures_both_streams_and_the_exit_code() {
    let out = Launch::program("sh")
        .args(["-c", "echo out; echo err >&2; exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.ended.code(), Some(3));
    assert!(!out.ended.success());
    assert_eq!(out.ended.to_string(), "exited with status 3");
}

#[test]
fn the_time_limit_kills_the_child_and_says_so() {
    let start = Instant::now();
    let out = Launch::program("sleep")
        .arg("30")
        .time_limit(Duration::from_millis(200))
        .output()
        .unwrap();
    assert_eq!(out.ended, Ended::TimedOut(Duration::from_millis(200)));
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(out.ended.to_string().contains("time limit of 200 ms"));
}

#[test]
fn the_limit_holds_while_the_caller_is_blocked_reading_a_pipe() {
    // The grandchild keeps the pipe open: only killing the whole group ends the read.
    let mut r = Launch::program("sh")
        .args(["-c", "sleep 30 & sleep 30"])
        .stdout(Stdio::piped())
        .time_limit(Duration::from_millis(300))
        .spawn()
        .unwrap();
    let mut text = String::new();
    let start = Instant::now();
    let _ = std::io::Read::read_to_string(&mut r.stdout().unwrap(), &mut text);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(matches!(r.wait().unwrap(), Ended::TimedOut(_)));
    assert!(r.timed_out());
}

#[test]
fn dropping_a_running_child_kills_its_whole_group() {
    let (r, line) = start_with_line("sleep 300 & echo $!; wait");
    let grandchild: i32 = line.parse().unwrap();
    let child = r.id() as i32;
    assert!(alive(grandchild) && alive(child));
    drop(r);
    assert!(!alive(child), "the child is reaped by the drop");
    assert!(gone_soon(grandchild), "grandchild {grandchild} survived");
}

#[test]
fn a_leader_that_exits_takes_its_stragglers_with_it() {
    let (mut r, line) = start_with_line("sleep 300 & echo $!");
    let straggler: i32 = line.parse().unwrap();
    assert!(r.wait().unwrap().success());
    assert!(gone_soon(straggler), "straggler {straggler} survived");
}

#[test]
fn try_wait_and_wait_for_report_a_running_child_as_running() {
    let mut r = Launch::program("sleep").arg("30").spawn().unwrap();
    assert_eq!(r.try_wait().unwrap(), None);
    assert_eq!(r.wait_for(Duration::from_millis(50)).unwrap(), None);
    let ended = r.kill().unwrap();
    assert_eq!(ended.signal(), Some(9));
    assert_eq!(ended.to_string(), "was killed by SIGKILL (9)");
    // Asking again gives the same answer.
    assert_eq!(r.try_wait().unwrap(), Some(ended));
}

#[test]
fn the_child_runs_in_its_own_process_group() {
    let out = Launch::program("sh")
        .args(["-c", "ps -o pgid= -p $$"])
        .output();
    let Ok(out) = out else { return };
    if !out.ended.success() {
        return; // no `ps` here: the drop test above covers the group
    }
    let pgid: u32 = out.stdout_text().trim().parse().unwrap();
    assert_ne!(pgid, std::process::id());
}

#[test]
fn a_missing_program_is_an_error_naming_it() {
    let err = Launch::program("/nonexistent/loopbench-no-such-program")
        .arg("x")
        .spawn()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/loopbench-no-such-program x"),
        "{msg}"
    );
}

#[test]
fn pinning_runs_the_child_on_that_cpu_and_restores_the_caller() {
    let Ok(before) = rustix::thread::sched_getaffinity(None) else {
        return;
    };
    let Some(cpu) = (0..rustix::thread::CpuSet::MAX_CPU).find(|c| before.is_set(*c)) else {
        return;
    };
    let out = Launch::program("sh")
        .args(["-c", "grep Cpus_allowed_list /proc/self/status"])
        .pin_cpu(Some(cpu))
        .output()
        .unwrap();
    assert!(
        out.stdout_text().trim().ends_with(&format!("\t{cpu}")),
        "{}",
        out.stdout_text()
    );
    let after = rustix::thread::sched_getaffinity(None).unwrap();
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
}

#[test]
fn a_private_dir_is_private_and_removed_on_drop() {
    use std::os::unix::fs::PermissionsExt;
    let dir = PrivateDir::new("test").unwrap();
    let path = dir.path().to_owned();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    std::fs::write(dir.file("r.json"), "{}").unwrap();
    drop(dir);
    assert!(!path.exists());
}
