//! `bench instructions`: each server's user-space instructions per echoed message, counted
//! by callgrind, so servers can be compared on a figure that repeats to a fraction of a
//! percent where CPU time per message varies by tens.
//!
//! One measurement: the server (built-in only) runs under `valgrind --tool=callgrind`, and
//! three closed-loop loads run against it one after another, each from a fresh
//! `loopbench load` with no warm-up: a first one that only warms the server up (its slabs,
//! buffer pools and caches grown), then one of `duration` and one of twice that. Between
//! loads, while the server is idle, `callgrind_control --dump` writes the counts so far and
//! zeroes them (it is answered at once, through valgrind's gdbserver), so each dump holds
//! exactly one load. The figure is (the long load's instructions − the short one's) / (its
//! messages − the short one's): starting, connecting and closing cost the same in both and
//! cancel, as in the gate's tier 1 (`gate::callgrind::measure`).
//!
//! The server runs some 50 times slower under callgrind, so the load generator is never the
//! bottleneck here, and the figures say nothing of time. They count user space only: the
//! kernel's TCP path, most of an echo's CPU time, is not in them.

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::results::{InstructionLoad, ResultsFile, RunPurpose, RunStatus, ServerInstructions};
use launch::{Launch, PrivateDir};
use loadgen::LoadMode;

use super::server::{self, ServerSpec};
use super::{point, Bench, Point};

/// How long one `callgrind_control` may take (it answers in about 0.2 s).
const CONTROL_LIMIT: Duration = Duration::from_secs(20);

/// Connect and echo time-outs of the loads: a server under callgrind is slow to accept.
const PATIENCE: Duration = Duration::from_secs(30);

/// What `bench instructions` measures.
#[derive(Clone, Debug)]
pub struct InstructionPlan {
    /// The servers, interleaved within each repeat.
    pub servers: Vec<ServerSpec>,
    /// Connection counts.
    pub connections: Vec<u64>,
    /// The shorter measured load (the longer one is twice as long).
    pub duration: Duration,
    /// Repeats of the whole matrix.
    pub repeat: u32,
}

/// Measures every server at every connection count, `repeat` times; `on_result` sees the
/// results so far after each one.
pub fn run(
    bench: &Bench,
    plan: &InstructionPlan,
    on_result: &mut dyn FnMut(&[ServerInstructions]),
) -> Vec<ServerInstructions> {
    let total = u64::from(plan.repeat) * (plan.connections.len() * plan.servers.len()) as u64;
    let bar = super::progress(bench.settings.quiet, "instructions", total);
    let mut results = Vec::new();
    for repeat in 0..plan.repeat {
        for &connections in &plan.connections {
            for spec in &plan.servers {
                bar.set_message(format!("{} x {connections}", spec.name()));
                let mut result = ServerInstructions {
                    runtime: spec.name().to_string(),
                    connections,
                    message_size: bench.settings.size as u64,
                    repeat,
                    ..ServerInstructions::default()
                };
                match measure(bench, spec, connections, plan.duration) {
                    Ok(loads) => {
                        result.instructions_per_msg = per_message(&loads);
                        if result.instructions_per_msg.is_none() {
                            result.note = Some(unsteady(&loads));
                        }
                        result.loads = loads;
                    }
                    Err(why) => result.note = Some(why),
                }
                results.push(result);
                on_result(&results);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    results
}

/// The least ratio of the long load's messages to the short one's for a figure. The long
/// load is twice as long, so a server at a steady speed echoes about twice as many (1.75–2.32
/// in 30 measurements here, 100 and 10,000 connections). Far less means the server's speed
/// changed between the loads (another process took its CPU): the difference then also holds
/// that change, not only messages. Seen so: 6,897 and 7,244 messages gave epoll-floor 2,582
/// instructions a message, where its figure is 104.
pub const STEADY_RATIO: f64 = 1.5;

/// (long − short instructions) / (long − short messages), when the long load echoed at least
/// [`STEADY_RATIO`] times the short one's messages.
pub fn per_message(loads: &[InstructionLoad]) -> Option<f64> {
    let [short, long] = loads else { return None };
    let messages = long
        .messages
        .checked_sub(short.messages)
        .filter(|&m| m > 0)?;
    if (long.messages as f64) < STEADY_RATIO * short.messages as f64 {
        return None;
    }
    Some((long.instructions as f64 - short.instructions as f64) / messages as f64)
}

/// Why [`per_message`] gave no figure for these loads.
fn unsteady(loads: &[InstructionLoad]) -> String {
    match loads {
        [short, long] if short.messages > 0 => format!(
            "the longer load (twice as long) echoed {:.2} times the shorter one's messages \
             ({} against {}; at least {STEADY_RATIO} needed): the server's speed changed \
             between them, so their difference is not a count per message (a quieter \
             machine, or a longer --duration)",
            long.messages as f64 / short.messages as f64,
            long.messages,
            short.messages
        ),
        _ => "neither load echoed a message".to_string(),
    }
}

/// The short and the long load of one server at `connections`, or why not.
fn measure(
    bench: &Bench,
    spec: &ServerSpec,
    connections: u64,
    duration: Duration,
) -> Result<Vec<InstructionLoad>, String> {
    let ServerSpec::Builtin(_) = spec else {
        return Err(
            "an outside command is not run under callgrind here (run it under \
                    `valgrind --tool=callgrind` yourself)"
                .to_string(),
        );
    };
    let dir = PrivateDir::new("callgrind").map_err(|e| e.to_string())?;
    let out = dir.file("callgrind.out");
    let under: Vec<OsString> = vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", out.display()).into(),
    ];
    let pins = bench.pins.as_ref();
    let mut server = server::start_under(&bench.settings, spec, pins.map(|p| p.server), &under)?;
    let pid = server.pid();
    let result = (|| {
        let mut loads = Vec::new();
        for (i, length) in [duration, duration, 2 * duration].into_iter().enumerate() {
            let run = load(bench, spec, server.addr, connections, length)?;
            // Dump i+1 holds load i (dump 1 also holds the start and the warm-up load).
            control(&bench.settings.exe, pid, "--dump")?;
            if i == 0 {
                continue;
            }
            let messages = run
                .measured_messages
                .unwrap_or(run.messages().round() as u64);
            let instructions = total(&dump_file(&out, i + 1))?;
            loads.push(InstructionLoad {
                duration_s: run.duration_s,
                messages,
                instructions,
            });
        }
        Ok(loads)
    })();
    let died = server.child.try_wait().ok().flatten();
    server.stop();
    match died {
        Some(st) => Err(format!(
            "server {st} under callgrind{}",
            result.err().map(|e| format!(" ({e})")).unwrap_or_default()
        )),
        None => result,
    }
}

/// One closed-loop load with no warm-up; an error unless it measured whole and without
/// errors.
fn load(
    bench: &Bench,
    spec: &ServerSpec,
    target: std::net::SocketAddr,
    connections: u64,
    duration: Duration,
) -> Result<harness::results::EchoRun, String> {
    let p = Point {
        connections,
        mode: LoadMode::Closed,
        rate: None,
        warmup: Duration::ZERO,
        duration,
        purpose: RunPurpose::Curve,
    };
    let plan = loadgen::LoadPlan {
        threads: bench.client_threads(),
        cpus: bench
            .pins
            .as_ref()
            .map(|p| p.client.clone())
            .unwrap_or_default(),
        connect_timeout: PATIENCE,
        message_timeout: PATIENCE,
        ..point::load_plan(target, spec, &p, &bench.settings)
    };
    plan.validate()
        .map_err(|e| format!("unusable load plan: {e}"))?;
    let (mut child, json, _dir) = point::spawn_load(bench, &plan)?;
    // Its stdout (progress events) is only drained; the end of its stderr explains a failure.
    server::keep_tail(child.stdout(), Arc::new(Mutex::new(Vec::new())));
    let tail = Arc::new(Mutex::new(Vec::new()));
    server::keep_tail(child.stderr(), Arc::clone(&tail));
    let ended = child.wait().map_err(|e| e.to_string())?;
    let run = ResultsFile::load(&json)
        .ok()
        .and_then(|f| f.runs.into_iter().next())
        .ok_or_else(|| {
            let tail = tail.lock().map(|t| t.join(" | ")).unwrap_or_default();
            format!("the load generator {ended} without results: {tail}")
        })?;
    if run.status != RunStatus::Complete || run.errors.total() > 0 {
        return Err(format!(
            "a load was {} with {} errors{}",
            run.status,
            run.errors.total(),
            run.status_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    Ok(run)
}

/// `callgrind_control ARG PID` through the launcher; an error with its output when it fails.
fn control(exe: &Path, pid: u32, arg: &str) -> Result<(), String> {
    let out = Launch::program("callgrind_control")
        .guard(exe)
        .args([arg, &pid.to_string()])
        .time_limit(CONTROL_LIMIT)
        .output()
        .map_err(|e| format!("cannot run callgrind_control (it comes with valgrind): {e}"))?;
    if out.ended.success() {
        Ok(())
    } else {
        let text = out.stdout_text() + &out.stderr_text();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(format!("callgrind_control {arg} {}: {last}", out.ended))
    }
}

/// The file of callgrind's `n`th dump of `out`.
fn dump_file(out: &Path, n: usize) -> std::path::PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(format!(".{n}"));
    name.into()
}

/// The instruction count of one dump.
fn total(path: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("callgrind wrote no dump {}: {e}", path.display()))?;
    gate::callgrind::parse_total(&text)
        .ok_or_else(|| format!("callgrind dump {} has no totals line", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(messages: u64, instructions: u64) -> InstructionLoad {
        InstructionLoad {
            duration_s: 1.0,
            messages,
            instructions,
        }
    }

    #[test]
    fn the_figure_is_the_difference_of_the_two_loads() {
        let loads = [load(1_000, 600_000), load(3_000, 1_400_000)];
        assert_eq!(per_message(&loads), Some(400.0));
        assert_eq!(per_message(&[load(1_000, 1), load(1_000, 2)]), None);
        assert_eq!(per_message(&[load(2_000, 1), load(1_000, 2)]), None);
        assert_eq!(per_message(&loads[..1]), None);
    }

    #[test]
    fn loads_of_unsteady_speed_give_no_figure_and_say_why() {
        // The failing CI run's loads: a long load that echoed 1.05 times the short one's.
        let seen = [load(6_897, 8_902_381), load(7_244, 9_798_327)];
        assert_eq!(per_message(&seen), None);
        let why = unsteady(&seen);
        assert!(
            why.contains("1.05 times") && why.contains("7244 against 6897"),
            "{why}"
        );
        // Just at the ratio there is a figure; just below, none.
        assert_eq!(
            per_message(&[load(1_000, 100_000), load(1_500, 150_000)]),
            Some(100.0)
        );
        assert_eq!(
            per_message(&[load(1_000, 100_000), load(1_499, 150_000)]),
            None
        );
        assert_eq!(
            unsteady(&[load(0, 1), load(0, 2)]),
            "neither load echoed a message"
        );
    }

    #[test]
    fn dumps_are_numbered_after_the_output_file() {
        let f = dump_file(Path::new("/tmp/x/callgrind.out"), 3);
        assert_eq!(f, Path::new("/tmp/x/callgrind.out.3"));
    }
}
