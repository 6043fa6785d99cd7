//! The fault suite, echo side: hostile arguments to `load`, `bench echo|equal|capacity` and
//! `serve`, and purpose-built misbehaving servers (`loopbench serve --fault KIND`: black
//! hole, half echo, one corrupt byte in 1,000, resets, death mid-run, slow reader). Every
//! case asserts the exit status (0 all measured, 1 measured with errors or partial, 2 bad
//! input, 3 nothing measured), the one line on stderr, that no process of the run survives
//! it, and that no results file is left half-written.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{assert_whole_or_absent, client_ios, fault_cmd, run_marked, Server};
use harness::results::{ResultsFile, RunStatus};

/// Limit of a hostile-argument case: it must stop at once.
const QUICK: Duration = Duration::from_secs(10);
/// Limit of a run against a fault server.
const RUN: Duration = Duration::from_secs(60);

/// Arguments every short load run takes.
const SHORT: [&str; 8] = [
    "--connections",
    "10",
    "--warmup",
    "200ms",
    "--duration",
    "1s",
    "--timeout",
    "300ms",
];

/// Arguments every short bench point takes.
const BENCH_SHORT: [&str; 9] = [
    "--connections",
    "5",
    "--warmup",
    "100ms",
    "--duration",
    "600ms",
    "--timeout",
    "300ms",
    "--quiet",
];

fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

fn bad_input(args: &[&str], needles: &[&str]) {
    let out = run_marked(args, QUICK);
    out.expect(2, needles);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "slow to refuse: {out:?}"
    );
}

// ---- hostile arguments: exit 2, one line, nothing started ----

#[test]
fn load_duration_too_large() {
    bad_input(
        &[
            "load",
            "--target",
            "127.0.0.1:9",
            "--duration",
            "99999999999999999999999",
        ],
        &["--duration", "out of range", "1 h"],
    );
}

#[test]
fn load_warmup_and_timeout_out_of_range() {
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--warmup", "1e300"],
        &["--warmup"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--timeout", "99999h"],
        &["--timeout", "out of range"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--duration=-1s"],
        &["--duration", "not a duration"],
    );
}

#[test]
fn load_connect_rate_tiny_or_zero() {
    bad_input(
        &[
            "load",
            "--target",
            "127.0.0.1:9",
            "--connect-rate",
            "1e-300",
        ],
        &["--connect-rate", "out of range"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--connect-rate", "0"],
        &["--connect-rate", "out of range"],
    );
}

#[test]
fn load_sizes_that_would_overflow_or_abort() {
    bad_input(
        &[
            "load",
            "--target",
            "127.0.0.1:9",
            "--size",
            "18446744073709551615",
        ],
        &["--size", "out of range", "1 MiB"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--size", "3000000000"],
        &["--size", "out of range"],
    );
    bad_input(
        &[
            "load",
            "--target",
            "127.0.0.1:9",
            "--connections",
            "100000",
            "--pipeline",
            "1024",
            "--size",
            "1MiB",
        ],
        &["--size", "GiB of send buffers"],
    );
}

#[test]
fn load_open_loop_rates() {
    bad_input(
        &[
            "load",
            "--target",
            "127.0.0.1:9",
            "--mode",
            "open",
            "--rate",
            "0",
        ],
        &["--rate", "out of range"],
    );
    bad_input(
        &[
            "load",
            "--target",
            "127.0.0.1:9",
            "--mode",
            "open",
            "--rate",
            "NaN",
        ],
        &["--rate", "not a number"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--mode", "open"],
        &["--rate", "needs --rate"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--rate", "100"],
        &["--rate", "open loop only"],
    );
}

#[test]
fn load_counts_out_of_range() {
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--pipeline", "0"],
        &["--pipeline", "out of range"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--threads", "100000"],
        &["--threads", "out of range"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--connections", "0"],
        &["--connections", "out of range"],
    );
    bad_input(
        &["load", "--target", "127.0.0.1:9", "--io", "kqueue"],
        &["--io", "unknown I/O 'kqueue'"],
    );
    bad_input(
        &[
            "bench",
            "echo",
            "--runtime",
            "epoll-floor",
            "--client-io",
            "poll",
        ],
        &["--client-io", "unknown I/O 'poll'"],
    );
}

#[test]
fn load_unresolvable_host_keeps_the_resolvers_error() {
    let out = run_marked(&["load", "--target", "no-such-host.invalid:80"], QUICK);
    out.expect(2, &["cannot resolve 'no-such-host.invalid'"]);
    // The resolver's own words follow (glibc: "Name or service not known", or a lookup
    // failure message), not a generic form.
    let line = out.stderr_lines()[0];
    let detail = line
        .split("no-such-host.invalid':")
        .nth(1)
        .unwrap_or_default();
    assert!(detail.trim().len() > 5, "{line}");
    bad_input(&["load", "--target", "127.0.0.1"], &["expected HOST:PORT"]);
}

#[test]
fn load_unwritable_json_is_refused_before_the_run() {
    let server = Server::start(&["--runtime", "epoll-floor"]);
    let target = server.addr.to_string();
    let out = run_marked(
        &[
            "load",
            "--target",
            &target,
            "--json",
            "/proc/loopbench-test.json",
        ],
        QUICK,
    );
    out.expect(2, &["cannot write results to /proc/loopbench-test.json"]);
    assert!(
        !out.stdout.contains("connected"),
        "the run started: {}",
        out.stdout
    );
}

#[test]
fn bench_echo_bad_numbers() {
    bad_input(
        &[
            "bench",
            "echo",
            "--runtime",
            "epoll-floor",
            "--connect-rate",
            "0",
        ],
        &["--connect-rate"],
    );
    bad_input(
        &[
            "bench",
            "echo",
            "--runtime",
            "epoll-floor",
            "--mode",
            "open",
            "--rate",
            "0",
        ],
        &["--rate"],
    );
    bad_input(
        &["bench", "echo", "--runtime", "epoll-floor", "--repeat", "0"],
        &["--repeat"],
    );
    bad_input(
        &[
            "bench",
            "echo",
            "--runtime",
            "epoll-floor",
            "--buffer",
            "3000000000",
        ],
        &["--buffer"],
    );
    bad_input(
        &[
            "bench",
            "echo",
            "--runtime",
            "epoll-floor",
            "--connections",
            "1,0",
        ],
        &["--connections"],
    );
    bad_input(
        &[
            "bench",
            "echo",
            "--runtime",
            "epoll-floor",
            "--mode",
            "open",
        ],
        &["needs --rate"],
    );
}

#[test]
fn bench_echo_bad_servers() {
    bad_input(
        &["bench", "echo", "--runtime", "nope"],
        &["unknown runtime 'nope'"],
    );
    bad_input(
        &["bench", "echo", "--server", "noequals"],
        &["expected NAME=COMMAND"],
    );
    bad_input(
        &["bench", "echo", "--server-cmd", "true"],
        &["must contain {port}"],
    );
    bad_input(
        &[
            "bench",
            "echo",
            "--server",
            "a=x {port}",
            "--server",
            "a=y {port}",
        ],
        &["given twice"],
    );
}

#[test]
fn bench_echo_unwritable_json_is_refused_before_any_point() {
    let out = run_marked(
        &[
            "bench",
            "echo",
            "--runtime",
            "epoll-floor",
            "--json",
            "/proc/loopbench-test.json",
        ],
        QUICK,
    );
    out.expect(2, &["cannot write results to /proc/loopbench-test.json"]);
    assert!(
        out.elapsed < Duration::from_secs(3),
        "a point ran first: {out:?}"
    );
}

#[test]
fn bench_capacity_and_equal_bad_numbers() {
    bad_input(
        &[
            "bench",
            "capacity",
            "--runtime",
            "epoll-floor",
            "--p99",
            "0",
        ],
        &["--p99", "out of range"],
    );
    bad_input(
        &[
            "bench",
            "equal",
            "--runtime",
            "epoll-floor",
            "--fraction",
            "2",
        ],
        &["--fraction", "out of range"],
    );
    bad_input(
        &["bench", "equal", "--runtime", "epoll-floor", "--rate", "-5"],
        &["unexpected argument"],
    );
    bad_input(
        &[
            "bench",
            "instructions",
            "--runtime",
            "evloop",
            "--repeat",
            "0",
        ],
        &["--repeat", "out of range"],
    );
}

#[test]
fn bench_io_models_bad_input() {
    bad_input(
        &["bench", "io-models", "--sizes", "64,0"],
        &["--sizes", "out of range"],
    );
    bad_input(
        &["bench", "io-models", "--sizes", "64,64"],
        &["--sizes", "given twice"],
    );
    bad_input(
        &["bench", "io-models", "--runtime", "nope"],
        &["unknown runtime 'nope'"],
    );
    bad_input(
        &["bench", "io-models", "--out", "/proc/loopbench-io-models"],
        &["--out"],
    );
    bad_input(&["bench", "io-models", "--repeat", "0"], &["--repeat"]);
}

#[test]
fn serve_bad_buffer_and_fault() {
    bad_input(
        &["serve", "--runtime", "evloop", "--buffer", "0"],
        &["--buffer", "out of range"],
    );
    bad_input(&["serve", "--fault", "melt"], &["unknown fault 'melt'"]);
    bad_input(
        &["serve", "--runtime", "evloop", "--addr", "nonsense"],
        &["HOST:PORT"],
    );
}

// ---- misbehaving servers under `load` ----

fn load_against(
    server: &Server,
    io: &str,
    extra: &[&str],
    json: &std::path::Path,
) -> common::Outcome {
    let target = server.addr.to_string();
    let mut args = vec!["load", "--target", &target, "--io", io];
    args.extend(SHORT);
    args.extend(extra);
    let json = json.to_str().unwrap();
    args.extend(["--json", json]);
    run_marked(&args, RUN)
}

fn loaded(path: &std::path::Path, io: &str) -> harness::results::EchoRun {
    assert_whole_or_absent(path);
    let run = ResultsFile::load(path).unwrap().runs.remove(0);
    assert_eq!(run.client_io.as_deref(), Some(io), "{run:?}");
    run
}

// Every case runs on each of the load generator's I/O paths (`--io epoll`, `--io uring`).

#[test]
fn load_black_hole_is_nothing_measured() {
    for io in client_ios() {
        let server = Server::fault("black-hole");
        let (_d, json) = tmp("run.json");
        let out = load_against(&server, io, &[], &json);
        out.expect(3, &["nothing measured", "timed out"]);
        let run = loaded(&json, io);
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.throughput_msgs_per_s, 0.0);
        assert_eq!(run.errors.timeouts, 10, "{io}");
    }
}

#[test]
fn load_half_echo_is_nothing_measured() {
    for io in client_ios() {
        let server = Server::fault("half-echo");
        let (_d, json) = tmp("run.json");
        let out = load_against(&server, io, &[], &json);
        out.expect(3, &["nothing measured", "timed out"]);
        assert_eq!(loaded(&json, io).status, RunStatus::Failed);
    }
}

#[test]
fn load_one_corrupt_byte_in_1000_is_measured_with_errors() {
    for io in client_ios() {
        let server = Server::fault("corrupt");
        let (_d, json) = tmp("run.json");
        let out = load_against(&server, io, &[], &json);
        out.expect(1, &["measured with errors", "mismatched"]);
        let run = loaded(&json, io);
        assert_eq!(run.status, RunStatus::Complete);
        assert!(
            run.errors.mismatches > 0 && run.throughput_msgs_per_s > 0.0,
            "{run:?}"
        );
    }
}

#[test]
fn load_resets_cut_the_window_where_the_connections_went() {
    for io in client_ios() {
        let server = Server::fault("reset:500ms");
        let (_d, json) = tmp("run.json");
        let out = load_against(&server, io, &[], &json);
        out.expect(1, &["partial", "every connection was lost", "reset"]);
        let run = loaded(&json, io);
        assert_eq!(run.status, RunStatus::Partial);
        assert!(
            run.duration_s > 0.0 && run.duration_s < 0.9,
            "window not cut ({io}): {}",
            run.duration_s
        );
        assert_eq!(run.lost_connections, 10, "{io}");
    }
}

#[test]
fn load_server_dying_mid_run_is_partial_over_the_measured_window() {
    for io in client_ios() {
        let server = Server::fault("die:600ms");
        let (_d, json) = tmp("run.json");
        let out = load_against(&server, io, &[], &json);
        out.expect(1, &["partial", "every connection was lost"]);
        let run = loaded(&json, io);
        assert_eq!(run.status, RunStatus::Partial);
        assert!(
            run.duration_s < 0.9,
            "window not cut ({io}): {}",
            run.duration_s
        );
        // Throughput is over the measured seconds, not the planned ones.
        let messages = run.throughput_msgs_per_s * run.duration_s;
        assert!(messages > 0.0);
        assert_eq!(run.measured_messages, Some(messages.round() as u64));
        assert_eq!(run.planned_duration_s, Some(1.0));
    }
}

#[test]
fn load_slow_reader_misses_the_open_loop_rate() {
    for io in client_ios() {
        let server = Server::fault("slow-reader:20ms");
        let (_d, json) = tmp("run.json");
        let out = load_against(&server, io, &["--mode", "open", "--rate", "2000"], &json);
        out.expect(1, &["partial", "not reached"]);
        assert_eq!(loaded(&json, io).status, RunStatus::Partial);
    }
}

#[test]
fn load_refused_everywhere_is_nothing_measured() {
    for io in client_ios() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (_d, json) = tmp("run.json");
        let target = format!("127.0.0.1:{port}");
        let mut args = vec![
            "load",
            "--target",
            &target,
            "--io",
            io,
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend(SHORT);
        let out = run_marked(&args, RUN);
        out.expect(3, &["nothing measured", "connection refused"]);
        assert_eq!(loaded(&json, io).errors.connect_failures, 10);
    }
}

#[test]
fn load_against_a_correct_server_exits_0() {
    for io in client_ios() {
        let server = Server::start(&["--runtime", "evloop"]);
        let (_d, json) = tmp("run.json");
        let out = load_against(&server, io, &[], &json);
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert!(out.stderr_lines().is_empty(), "{out:#?}");
        let run = loaded(&json, io);
        assert_eq!(run.status, RunStatus::Complete);
        assert_eq!(run.errors.total(), 0, "{run:?}");
        assert!(run.client_cpu_us_per_msg.is_some());
        assert!(
            run.rank_exclusion().is_none() || run.client_bound,
            "{:?}",
            run.rank_exclusion()
        );
    }
}

// ---- misbehaving servers under `bench` ----

fn bench_with(server_cmd: &str, extra: &[&str], json: &std::path::Path) -> common::Outcome {
    let mut args = vec![
        "bench",
        "echo",
        "--server-cmd",
        server_cmd,
        "--server-name",
        "faulty",
    ];
    args.extend(BENCH_SHORT);
    args.extend(extra);
    args.extend(["--json", json.to_str().unwrap()]);
    run_marked(&args, RUN)
}

#[test]
fn bench_server_command_that_cannot_start() {
    let (_d, json) = tmp("echo.json");
    let out = bench_with("/nonexistent/echo-server {port}", &[], &json);
    out.expect(3, &["nothing measured", "faulty", "status 127"]);
    assert!(
        out.stdout.contains("failed"),
        "table not printed: {}",
        out.stdout
    );
    assert_whole_or_absent(&json);
}

#[test]
fn bench_server_command_that_never_listens() {
    let (_d, json) = tmp("echo.json");
    let out = bench_with("sleep 60 # {port}", &["--start-timeout", "500ms"], &json);
    out.expect(3, &["nothing measured", "did not accept"]);
    assert_whole_or_absent(&json);
}

#[test]
fn bench_black_hole_server() {
    let (_d, json) = tmp("echo.json");
    let out = bench_with(&fault_cmd("black-hole"), &[], &json);
    out.expect(3, &["nothing measured", "timed out"]);
    let file = ResultsFile::load(&json).unwrap();
    assert_eq!(file.runs[0].status, RunStatus::Failed);
}

#[test]
fn bench_server_dying_mid_run() {
    let (_d, json) = tmp("echo.json");
    let out = bench_with(&fault_cmd("die:450ms"), &[], &json);
    out.expect(
        1,
        &["partial", "server", "exited with status 1 during the run"],
    );
    let run = &ResultsFile::load(&json).unwrap().runs[0];
    assert_eq!(run.status, RunStatus::Partial);
    assert!(
        run.server_cpu_us_per_msg.is_none(),
        "figure from a dead server: {run:?}"
    );
}

#[test]
fn bench_mismatched_bytes() {
    let (_d, json) = tmp("echo.json");
    let out = bench_with(&fault_cmd("corrupt"), &[], &json);
    out.expect(1, &["measured with errors", "mismatched"]);
    assert!(ResultsFile::load(&json).unwrap().runs[0].errors.mismatches > 0);
}

#[test]
fn bench_saving_that_fails_mid_run_still_prints_the_table() {
    // The directory is fine when the run starts (checked), then replaced by a file after
    // the first point is saved: later saves fail, the table is still printed.
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("out");
    std::fs::create_dir(&sub).unwrap();
    let json = sub.join("echo.json");
    let watcher = {
        let (sub, json) = (sub.clone(), json.clone());
        std::thread::spawn(move || {
            for _ in 0..3000 {
                if json.exists() {
                    std::fs::remove_dir_all(&sub).unwrap();
                    std::fs::write(&sub, "not a directory").unwrap();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        })
    };
    let mut args = vec!["bench", "echo", "--runtime", "epoll-floor,evloop"];
    args.extend(BENCH_SHORT);
    args.extend(["--json", json.to_str().unwrap()]);
    let out = run_marked(&args, RUN);
    assert!(watcher.join().unwrap(), "the first point was never saved");
    out.expect(1, &["the figures are above", "not saved"]);
    assert!(
        out.stdout.contains("epoll-floor") && out.stdout.contains("evloop"),
        "{}",
        out.stdout
    );
}

#[test]
fn bench_capacity_of_a_black_hole_is_nothing_measured() {
    let (_d, json) = tmp("cap.json");
    let cmd = fault_cmd("black-hole");
    let mut args = vec![
        "bench",
        "capacity",
        "--server-cmd",
        &cmd,
        "--server-name",
        "faulty",
    ];
    args.extend(BENCH_SHORT);
    args.extend(["--json", json.to_str().unwrap()]);
    let out = run_marked(&args, RUN);
    out.expect(3, &["nothing measured", "faulty"]);
    let file = ResultsFile::load(&json).unwrap();
    assert_eq!(file.capacity.len(), 1);
    assert!(file.capacity[0].capacity_msgs_per_s.is_none());
}

#[test]
fn bench_equal_with_a_dying_server_marks_only_its_points() {
    let (_d, json) = tmp("equal.json");
    let cmd = fault_cmd("die:1500ms");
    let mut args = vec![
        "bench",
        "equal",
        "--runtime",
        "epoll-floor",
        "--server-cmd",
        &cmd,
    ];
    args.extend([
        "--server-name",
        "faulty",
        "--rate",
        "2000",
        "--duration",
        "2s",
    ]);
    args.extend([
        "--connections",
        "5",
        "--warmup",
        "100ms",
        "--timeout",
        "300ms",
        "--quiet",
    ]);
    args.extend(["--json", json.to_str().unwrap()]);
    let out = run_marked(&args, RUN);
    out.expect(1, &["1 of 2 points", "faulty"]);
    let file = ResultsFile::load(&json).unwrap();
    let floor = file
        .runs
        .iter()
        .find(|r| r.runtime == "epoll-floor")
        .unwrap();
    assert_eq!(floor.status, RunStatus::Complete, "{floor:?}");
    let faulty = file.runs.iter().find(|r| r.runtime == "faulty").unwrap();
    assert_ne!(faulty.status, RunStatus::Complete);
    assert!(faulty.rank_exclusion().is_some());
}
