//! One point: a fresh server, a fresh `loopbench load` given its [`LoadPlan`] as a file in a
//! private directory, the server's CPU time sampled when the load generator announces the
//! window's start and end, its RSS at the end, and the run marked with what went wrong.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::proc;
use harness::results::{EchoRun, ResultsFile, RunStatus};
use launch::{Launch, PrivateDir, Running};
use loadgen::plan::FD_MARGIN;
use loadgen::{child, LoadEvent, LoadMode, LoadPlan};

use super::server::{self, keep_tail, ServerSpec};
use super::{Bench, Point};

/// Extra time a load process gets beyond its plan before it is killed as hung.
const LOAD_SLACK: Duration = Duration::from_secs(30);

/// A point that measured nothing, with the reason.
pub(super) fn failed(bench: &Bench, spec: &ServerSpec, p: &Point, why: String) -> EchoRun {
    EchoRun {
        runtime: spec.name().to_string(),
        connections: p.connections,
        mode: p.mode.as_str().to_string(),
        purpose: p.purpose,
        status: RunStatus::Failed,
        status_reason: Some(why.clone()),
        offered_rate: p.rate.filter(|_| p.mode == LoadMode::Open),
        pipeline: u64::from(bench.settings.pipeline),
        message_size: bench.settings.size as u64,
        buffer_bytes: spec.buffer_bytes(&bench.settings),
        planned_duration_s: Some(p.duration.as_secs_f64()),
        warnings: vec![format!("failed: {why}")],
        ..EchoRun::default()
    }
}

/// Server readings taken around the measured window.
#[derive(Default)]
struct ServerSamples {
    cpu_start: Option<Duration>,
    cpu_end: Option<Duration>,
    rss_end: Option<u64>,
}

/// Runs `p` on `spec`.
pub(super) fn run(bench: &Bench, spec: &ServerSpec, p: &Point) -> EchoRun {
    let settings = &bench.settings;
    let mut run = match &settings.hosts {
        Some(hosts) => super::hosts::run(bench, hosts, spec, p),
        None => run_inner(bench, spec, p),
    };
    run.runtime = spec.name().to_string();
    run.purpose = p.purpose;
    run.buffer_bytes = spec.buffer_bytes(settings);
    run
}

fn run_inner(bench: &Bench, spec: &ServerSpec, p: &Point) -> EchoRun {
    let settings = &bench.settings;
    let pins = bench.pins.as_ref();
    let mut server = match server::start(settings, spec, pins.map(|p| p.server)) {
        Ok(s) => s,
        Err(why) => return failed(bench, spec, p, why),
    };
    let pid = server.pid();
    if let Ok((soft, hard)) = proc::nofile_limit_of(pid) {
        if soft < p.connections + FD_MARGIN {
            server.stop();
            let why = proc::nofile_too_low(
                "the server",
                soft,
                hard,
                p.connections,
                p.connections + FD_MARGIN,
            );
            return failed(bench, spec, p, why);
        }
    }
    let rss_before = proc::rss_bytes(pid).ok();
    let plan = LoadPlan {
        threads: bench.client_threads(),
        cpus: pins.map(|p| p.client.clone()).unwrap_or_default(),
        ..load_plan(server.addr, spec, p, &bench.settings)
    };
    if let Err(e) = plan.validate() {
        server.stop();
        return failed(bench, spec, p, format!("unusable load plan: {e}"));
    }
    let limit = load_limit(&plan);
    let (mut load, json, _dir) = match spawn_load(bench, &plan) {
        Ok(started) => started,
        Err(why) => {
            server.stop();
            return failed(bench, spec, p, why);
        }
    };
    let load_err = Arc::new(Mutex::new(Vec::new()));
    keep_tail(load.stderr(), Arc::clone(&load_err));
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = load.stdout();
    std::thread::spawn(move || {
        let Some(out) = stdout else { return };
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });

    let deadline = Instant::now() + limit;
    let mut samples = ServerSamples::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => match child::parse_event(&line) {
                Some(LoadEvent::MeasureStart) => samples.cpu_start = proc::process_cpu(pid).ok(),
                Some(LoadEvent::MeasureEnd) => {
                    samples.cpu_end = proc::process_cpu(pid).ok();
                    samples.rss_end = proc::rss_bytes(pid).ok();
                }
                _ => {}
            },
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = load.kill();
                break;
            }
        }
    }
    let load_status = load.wait().ok();
    let hung = load.timed_out() || Instant::now() >= deadline;
    let server_died = server.child.try_wait().ok().flatten();
    std::thread::sleep(Duration::from_millis(if server_died.is_some() {
        20
    } else {
        0
    }));
    let server_note =
        server_died.map(|st| format!("server {st} during the run{}", server.stderr_tail()));
    server.stop();

    let loaded = ResultsFile::load(&json)
        .ok()
        .and_then(|f| f.runs.into_iter().next());
    let Some(mut run) = loaded else {
        let tail = load_err.lock().map(|l| l.join(" | ")).unwrap_or_default();
        let mut why = if hung {
            format!(
                "load generator hung (killed after {})",
                harness::units::format_duration(limit)
            )
        } else {
            format!(
                "load generator {}{}",
                load_status.map_or_else(|| "failed".to_string(), |s| s.to_string()),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            )
        };
        if let Some(note) = server_note {
            why = format!("{note}; {why}");
        }
        return failed(bench, spec, p, why);
    };
    if let Some(note) = server_note {
        // The server died: whatever the load generator measured stops being complete.
        let reason = match &run.status_reason {
            Some(r) => format!("{note}; {r}"),
            None => note.clone(),
        };
        if run.status != RunStatus::Failed {
            run.status = RunStatus::Partial;
        }
        run.status_reason = Some(reason);
        run.warnings.insert(0, note);
    }
    let messages = run.messages();
    if let (Some(c0), Some(c1)) = (samples.cpu_start, samples.cpu_end) {
        if messages >= 1.0 && server_died.is_none() {
            run.server_cpu_us_per_msg = Some(c1.saturating_sub(c0).as_secs_f64() * 1e6 / messages);
        }
    }
    if server_died.is_none() {
        run.server_rss_bytes = samples.rss_end;
        if let (Some(before), Some(after)) = (rss_before, samples.rss_end) {
            if run.established > 0 {
                run.rss_per_connection_bytes =
                    Some((after as f64 - before as f64) / run.established as f64);
            }
        }
    }
    run
}

/// How long a load process of `plan` may run before it is killed as hung.
fn load_limit(plan: &LoadPlan) -> Duration {
    plan.expected_length() + LOAD_SLACK
}

/// Writes `plan` into a private directory and starts `loopbench load` on it (pinned to the
/// load generator's first CPU when pinning, stdout and stderr piped, killed past
/// [`load_limit`]): the child, the file its results will be in, and the
/// directory, which must be kept until they are read.
pub(super) fn spawn_load(
    bench: &Bench,
    plan: &LoadPlan,
) -> Result<(Running, PathBuf, PrivateDir), String> {
    let dir = PrivateDir::new("echo").map_err(|e| e.to_string())?;
    let (plan_path, json) = (dir.file("plan.json"), dir.file("load.json"));
    child::write_plan(plan, &plan_path).map_err(|e| format!("cannot write the load plan: {e}"))?;
    let load = Launch::loopbench(&bench.settings.exe)
        .args(child::args(&plan_path, &json))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .pin_cpu(bench.pins.as_ref().and_then(|p| p.client.first().copied()))
        .time_limit(load_limit(plan))
        .spawn()
        .map_err(|e| format!("cannot start the load generator: {e}"))?;
    Ok((load, json, dir))
}

/// The load generator's plan for point `p` of `spec` against `target`: one place for what a
/// point asks of the load (a local `load` child, or a shard on another host); threads and
/// CPUs are left to the caller (0 threads: the load generator's default, no pinning).
pub(super) fn load_plan(
    target: std::net::SocketAddr,
    spec: &ServerSpec,
    p: &Point,
    settings: &super::Settings,
) -> LoadPlan {
    LoadPlan {
        target,
        label: spec.name().to_string(),
        connections: p.connections,
        mode: p.mode,
        rate: p.rate.filter(|_| p.mode == LoadMode::Open),
        pipeline: if p.mode == LoadMode::Open {
            1
        } else {
            settings.pipeline
        },
        message_size: settings.size,
        warmup: p.warmup,
        duration: p.duration,
        connect_rate: settings.connect_rate,
        connect_timeout: Duration::from_secs(3),
        message_timeout: settings.message_timeout,
        threads: 0,
        cpus: Vec::new(),
        shard: None,
        start_at: None,
        io: settings.client_io,
    }
}
