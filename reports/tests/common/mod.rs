//! Builds the realistic results files the tests and `tests/fixtures/` use: conformance cells
//! with every status, echo runs of three runtimes and two baselines at 1/100/1000
//! connections × 2 repeats (closed and open loop) with real HdrHistograms, and micro results.

#![allow(dead_code)]

use std::path::PathBuf;

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;

use harness::info::RuntimeInfo;
use harness::results::{
    CellStatus, ConformanceCell, EchoErrors, EchoRun, Environment, Measurement, MicroResult,
    Percentiles, ResultsFile, SCHEMA_VERSION,
};

/// The directory of the fixture files.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A small deterministic generator (xorshift64*), so fixtures are reproducible.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.next_f64().max(1e-12);
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A latency histogram (µs): log-normal around `median_us` with a heavier tail of `tail`.
fn latency_histogram(rng: &mut Rng, median_us: f64, sigma: f64, tail: f64) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    for i in 0..20_000 {
        let mut v = median_us * (sigma * rng.normal()).exp();
        if i % 500 == 0 {
            v *= tail;
        }
        h.saturating_record(v.max(1.0) as u64);
    }
    h
}

fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .expect("serialize");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let q = |q: f64| h.value_at_quantile(q) as f64;
    Percentiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        p9999: q(0.9999),
        max: h.max() as f64,
    }
}

/// Server model: (id, throughput at 1 connection, at 100, at 1000, CPU µs/msg, RSS B/conn).
const SERVERS: [(&str, f64, f64, f64, f64, f64); 5] = [
    ("tokio-ct", 38_000.0, 160_000.0, 150_000.0, 5.8, 9_400.0),
    ("async-std", 30_000.0, 140_000.0, 120_000.0, 7.1, 11_800.0),
    ("smol", 36_000.0, 150_000.0, 138_000.0, 6.2, 8_900.0),
    ("epoll-floor", 45_000.0, 190_000.0, 185_000.0, 4.1, 4_300.0),
    ("threads", 33_000.0, 90_000.0, 42_000.0, 14.5, 70_000.0),
];

fn run(
    rng: &mut Rng,
    server: &(&str, f64, f64, f64, f64, f64),
    conns: u64,
    repeat: u32,
    speed: f64,
) -> EchoRun {
    let (id, t1, t100, t1000, cpu, rss) = *server;
    let base = match conns {
        1 => t1,
        100 => t100,
        _ => t1000,
    } * speed;
    let jitter = 1.0 + 0.03 * rng.normal();
    let throughput = base * jitter;
    // Little's law: latency ≈ connections / throughput.
    let median_us = (conns as f64 / throughput * 1e6).max(8.0);
    let tail = if id == "threads" { 40.0 } else { 6.0 };
    let hist = latency_histogram(rng, median_us, 0.25, tail);
    let established = if id == "threads" && conns == 1000 {
        998
    } else {
        conns
    };
    EchoRun {
        runtime: id.into(),
        connections: conns,
        established,
        mode: "closed".into(),
        offered_rate: None,
        pipeline: 1,
        message_size: 64,
        repeat,
        duration_s: 5.0,
        throughput_msgs_per_s: throughput,
        latency_us: percentiles(&hist),
        latency_raw_us: percentiles(&hist),
        histogram: Some(encode(&hist)),
        histogram_raw: Some(encode(&hist)),
        connect_ms: Percentiles {
            p50: 0.08,
            p90: 0.12,
            p99: 0.4,
            p999: 1.1,
            p9999: 1.1,
            max: 1.2,
        },
        errors: EchoErrors {
            connect_failures: conns - established,
            ..EchoErrors::default()
        },
        server_cpu_us_per_msg: Some(
            cpu * (1.0 + 0.02 * rng.normal()) * if conns == 1 { 1.6 } else { 1.0 },
        ),
        server_rss_bytes: Some(3_000_000 + (rss * conns as f64) as u64),
        rss_per_connection_bytes: Some(rss * (1.0 + 0.01 * rng.normal())),
        client_cpu_pct: 62.0,
        warnings: if established < conns {
            vec![format!(
                "only {established} of {conns} connections established"
            )]
        } else {
            vec![]
        },
    }
}

fn open_run(rng: &mut Rng, id: &str, rate: f64, repeat: u32, capacity: f64) -> EchoRun {
    let load = rate / capacity;
    let queueing = if load < 1.0 {
        1.0 / (1.0 - load)
    } else {
        200.0
    };
    let raw = latency_histogram(rng, 40.0, 0.3, 5.0);
    let corrected = latency_histogram(
        rng,
        40.0 * queueing.min(50.0),
        0.35,
        6.0 * queueing.min(20.0),
    );
    let achieved = rate.min(capacity * 0.97);
    EchoRun {
        runtime: id.into(),
        connections: 100,
        established: 100,
        mode: "open".into(),
        offered_rate: Some(rate),
        pipeline: 0,
        message_size: 64,
        repeat,
        duration_s: 5.0,
        throughput_msgs_per_s: achieved * (1.0 + 0.005 * rng.normal()),
        latency_us: percentiles(&corrected),
        latency_raw_us: percentiles(&raw),
        histogram: Some(encode(&corrected)),
        histogram_raw: Some(encode(&raw)),
        connect_ms: Percentiles::default(),
        errors: EchoErrors::default(),
        server_cpu_us_per_msg: Some(6.0),
        server_rss_bytes: Some(4_000_000),
        rss_per_connection_bytes: Some(9_000.0),
        client_cpu_pct: 40.0,
        warnings: if achieved < rate {
            vec![format!("offered rate {rate} not reached")]
        } else {
            vec![]
        },
    }
}

fn cell(
    scenario: &str,
    rule: &str,
    runtime: &str,
    status: CellStatus,
    detail: &str,
    m: &[(&str, f64, &str)],
) -> ConformanceCell {
    ConformanceCell {
        scenario: scenario.into(),
        rule: rule.into(),
        group: scenario.split('.').next().unwrap_or("").into(),
        runtime: runtime.into(),
        status,
        detail: detail.into(),
        measurements: m
            .iter()
            .map(|(name, value, unit)| Measurement {
                name: (*name).into(),
                value: *value,
                unit: (*unit).into(),
            })
            .collect(),
        elapsed_ms: 12.5,
    }
}

fn conformance() -> Vec<ConformanceCell> {
    use CellStatus::*;
    let mut cells = Vec::new();
    for rt in ["tokio-ct", "async-std", "smol"] {
        cells.push(cell("loop.call_soon_fifo", "L3", rt, Pass, "", &[]));
        cells.push(cell("tasks.gather_order", "C4", rt, Pass, "", &[]));
    }
    cells.push(cell(
        "timers.not_early",
        "L4",
        "tokio-ct",
        Pass,
        "",
        &[("sleep_1ms_p50", 1.08, "ms")],
    ));
    cells.push(cell(
        "timers.not_early",
        "L4",
        "async-std",
        Pass,
        "",
        &[("sleep_1ms_p50", 1.06, "ms")],
    ));
    cells.push(cell("timers.not_early", "L4", "smol", Differs, "timer wheel granularity: a 1 ms sleep rounds up to the next tick (documented in async-io's Timer)", &[("sleep_1ms_p50", 2.01, "ms")]));
    cells.push(cell("tasks.start_later", "F4", "tokio-ct", Pass, "", &[]));
    cells.push(cell(
        "tasks.start_later",
        "F4",
        "async-std",
        Fail,
        "observed: task body ran before spawn returned; expected: on a later loop iteration",
        &[],
    ));
    cells.push(cell("tasks.start_later", "F4", "smol", Pass, "", &[]));
    cells.push(cell(
        "loop.debug_slow_callback",
        "L7",
        "tokio-ct",
        Unsupported,
        "no debug mode reporting slow task steps",
        &[],
    ));
    cells.push(cell(
        "loop.debug_slow_callback",
        "L7",
        "async-std",
        Unsupported,
        "no debug mode reporting slow task steps",
        &[],
    ));
    cells.push(cell(
        "loop.debug_slow_callback",
        "L7",
        "smol",
        Unsupported,
        "no debug mode reporting slow task steps",
        &[],
    ));
    cells.push(cell(
        "streams.backpressure",
        "N4",
        "tokio-ct",
        Pass,
        "",
        &[("peak_buffer", 262_144.0, "bytes")],
    ));
    cells.push(cell(
        "streams.backpressure",
        "N4",
        "async-std",
        Timeout,
        "did not finish within 10 s",
        &[],
    ));
    cells.push(cell(
        "streams.backpressure",
        "N4",
        "smol",
        Crash,
        "child killed by signal 6 (SIGABRT) after 'buffer overflow'",
        &[],
    ));
    cells
}

fn environment(date: &str) -> Environment {
    let rt = |id: &str, flavour: &str, name: &str, version: &str| RuntimeInfo {
        id: id.into(),
        flavour: flavour.into(),
        worker_threads: 1,
        crate_name: name.into(),
        crate_version: version.into(),
        notes: vec![],
    };
    Environment {
        loopbench_version: "0.1.0".into(),
        cpu_model: "AMD EPYC 7B13 64-Core Processor".into(),
        cores: 2,
        kernel: "6.1.0-28-cloud-amd64".into(),
        rustc: "rustc 1.95.0 (59807616e 2026-04-14)".into(),
        profile: "release".into(),
        date: date.into(),
        command_line: vec![
            "loopbench".into(),
            "echo".into(),
            "--connections".into(),
            "1,100,1000".into(),
            "--repeats".into(),
            "2".into(),
        ],
        pinning: Some("server cpu 0, client cpu 1".into()),
        nofile_limit: Some((65_536, 1_048_576)),
        runtimes: vec![
            rt("tokio-ct", "current-thread", "tokio", "1.48.0"),
            rt("async-std", "global executor", "async-std", "1.13.2"),
            rt("smol", "single executor", "smol", "2.0.2"),
        ],
    }
}

/// A full results file; `speed` scales every throughput (to make a "new" file differ).
pub fn results(seed: u64, speed: f64, date: &str) -> ResultsFile {
    let mut rng = Rng(seed | 1);
    let mut file = ResultsFile::new(environment(date));
    file.schema_version = SCHEMA_VERSION;
    file.results = conformance();
    for server in &SERVERS {
        for conns in [1, 100, 1000] {
            for repeat in 0..2 {
                file.runs.push(run(&mut rng, server, conns, repeat, speed));
            }
        }
    }
    for (id, capacity) in [
        ("tokio-ct", 150_000.0),
        ("async-std", 125_000.0),
        ("smol", 140_000.0),
    ] {
        for rate in [20_000.0, 60_000.0, 100_000.0, 130_000.0] {
            for repeat in 0..2 {
                file.runs
                    .push(open_run(&mut rng, id, rate, repeat, capacity * speed));
            }
        }
    }
    for (rt, f) in [("tokio-ct", 1.0), ("async-std", 1.35), ("smol", 1.1)] {
        for (bench, ns) in [
            ("spawn_many", 310.0),
            ("ping_pong", 1_450.0),
            ("yield_many", 95.0),
        ] {
            let v = ns * f / speed;
            file.micro.push(MicroResult {
                runtime: rt.into(),
                bench: bench.into(),
                iters: 10_000,
                ns_per_iter: v,
                ns_per_iter_min: v * 0.94,
                ns_per_iter_max: v * 1.12,
                samples: 50,
            });
        }
    }
    file
}

/// Runtime ids of a wide matrix: today's six and the ones coming (io_uring, compio, monoio,
/// asyncio, uvloop), and one more with a long name.
pub const WIDE_RUNTIMES: [&str; 12] = [
    "evloop",
    "evloop-uring",
    "tokio-ct",
    "tokio-mt",
    "async-std",
    "smol",
    "smol-mt",
    "compio",
    "monoio",
    "asyncio",
    "uvloop",
    "glommio-thread-per-core",
];

/// A results file as wide as the report must show: `runtimes` runtimes (of
/// [`WIDE_RUNTIMES`], cycled with a suffix beyond 12) × `scenarios` scenarios with every
/// status, long scenario ids and details, measurements on pass cells; echo runs of every
/// runtime and the four baselines at 1 to 10,000 connections (the `threadpool` baseline
/// starved at 10,000), and micro results of every runtime.
pub fn wide(runtimes: usize, scenarios: usize) -> ResultsFile {
    use CellStatus::*;
    let mut rng = Rng(0x5eed);
    let ids: Vec<String> = (0..runtimes)
        .map(|i| {
            let base = WIDE_RUNTIMES[i % WIDE_RUNTIMES.len()];
            match i / WIDE_RUNTIMES.len() {
                0 => base.to_string(),
                k => format!("{base}-{k}"),
            }
        })
        .collect();
    let groups = [
        "loop", "timers", "futures", "tasks", "cancel", "blocking", "sync", "net", "probe", "seed",
    ];
    let rules = ["L3", "L4", "F1", "F4", "C1", "B1", "S2", "N4", "C2", "L6"];
    let mut env = environment("2026-11-22T09:00:00Z");
    env.runtimes = ids
        .iter()
        .map(|id| RuntimeInfo {
            id: id.clone(),
            flavour: "current-thread".into(),
            worker_threads: 1,
            crate_name: id.split('-').next().unwrap_or(id).into(),
            crate_version: "1.0.0".into(),
            notes: vec![],
        })
        .collect();
    let mut file = ResultsFile::new(env);
    for s in 0..scenarios {
        let g = s % groups.len();
        let scenario = match s {
            0 => "probe.reacquire_async_lock_semaphore_after_the_waiter_was_cancelled_twice"
                .to_string(),
            1 => "loop.callsoonthreadsafewakesaloopblockedinepollwaitwithnotimers".to_string(),
            _ => format!("{}.scenario_number_{s:02}_checks_one_rule", groups[g]),
        };
        // One row in five differs somewhere; the rest pass everywhere.
        let differing = s % 5 == 0;
        for (r, rt) in ids.iter().enumerate() {
            let status = if !differing {
                Pass
            } else {
                match (s + r) % 9 {
                    0 => Differs,
                    1 => Fail,
                    2 => Unsupported,
                    3 if s % 10 == 0 => Timeout,
                    4 if s % 15 == 0 => Crash,
                    _ => Pass,
                }
            };
            let detail = match status {
                Pass => String::new(),
                Differs => format!(
                    "{rt}'s task handle cancels the task when dropped, unlike asyncio where a \
                     task runs to completion unless cancelled (source: {rt} docs: \
                     https://docs.rs/{rt}/latest/{rt}/struct.Task.html — 'Dropping a Task \
                     cancels it'); observed [\"started\", \"dropped\"], reference expects \
                     [\"started\", \"dropped\", \"finished\"]"
                ),
                Fail => format!(
                    "observed order [3, 1, 2] after {} callbacks; reference ({}) expects [1, 2, 3]",
                    s + r,
                    rules[g]
                ),
                Unsupported => "the runtime has no debug mode that reports slow callbacks".into(),
                Timeout => "did not finish within 10 s".into(),
                Crash => "child killed by signal 6 (SIGABRT): thread 'main' panicked at \
                          'a very long panic message that goes on and on about what went wrong'"
                    .into(),
            };
            let measurements: &[(&str, f64, &str)] = if s % 7 == 3 {
                &[
                    ("cross_thread_wake_latency_p99", 123.456, "us"),
                    ("sleep_1ms_p50", 1.0 + rng.next_f64(), "ms"),
                ]
            } else {
                &[]
            };
            file.results
                .push(cell(&scenario, rules[g], rt, status, &detail, measurements));
            file.results.last_mut().unwrap().group = groups[g].into();
        }
    }
    let baselines = ["blocking", "threads", "threadpool", "epoll-floor"];
    for (i, id) in ids.iter().map(String::as_str).chain(baselines).enumerate() {
        let t = 100_000.0 + 5_000.0 * i as f64;
        for conns in [1u64, 100, 1000, 10_000] {
            let server = (id, t / 4.0, t, t * 0.95, 5.0 + i as f64 / 10.0, 9_000.0);
            let mut r = run(&mut rng, &server, conns.min(1000), 0, 1.0);
            r.connections = conns;
            r.established = conns;
            r.errors = EchoErrors::default();
            r.warnings.clear();
            if id == "threadpool" && conns == 10_000 {
                r.throughput_msgs_per_s = 400_000.0;
                r.warnings.push(
                    "9995 of 10000 established connections never got an echo (server starved them?)"
                        .into(),
                );
            }
            file.runs.push(r);
        }
    }
    for (i, rt) in ids.iter().enumerate() {
        for (bench, ns) in [
            ("spawn_many", 310.0),
            ("spawn_many_remote", 900.0),
            ("ping_pong", 1_450.0),
            ("yield_many", 95.0),
            ("cross_thread_wake", 2_500.0),
            ("timer_wheel", 150.0),
            ("accept_rate", 20_000.0),
            ("tcp_echo", 9_000.0),
            ("blocking_pool", 4_000.0),
            ("channel_ping", 700.0),
        ] {
            let v = ns * (1.0 + i as f64 / 20.0);
            file.micro.push(MicroResult {
                runtime: rt.clone(),
                bench: bench.into(),
                iters: 1000,
                ns_per_iter: v,
                ns_per_iter_min: v * 0.9,
                ns_per_iter_max: v * 1.2,
                samples: 5,
            });
        }
    }
    file
}
