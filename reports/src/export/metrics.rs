//! The figures an export carries, independent of the format: one [`Metric`] per benchmark ×
//! measure, with the spread the results hold, and the echo points they come from.
//!
//! Invariant: every value, lower and upper bound is a figure of the results file (a median,
//! a minimum, a maximum over repeats or samples, a count), scaled to the measure's unit;
//! nothing is estimated. A bound is present only when there were two or more repeats or
//! samples to take it from.
//!
//! Invariant: a repeat that measured nothing (no echo completed) or whose echoed bytes were
//! wrong is never exported; it is named in [`Figures::left_out`] instead, which makes the
//! export partial.

use std::collections::BTreeMap;

use harness::results::{CellStatus, ConformanceCell, EchoRun, MicroResult, ResultsFile};

use crate::stats::Spread;

/// Which way is better for a measure (the two files github-action-benchmark reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Lower values are better: latencies, CPU, memory, instructions, failing cells.
    SmallerIsBetter,
    /// Higher values are better: throughput, passing cells.
    BiggerIsBetter,
}

/// What a figure measures: its slug in Bencher Metric Format and which way is better.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Echoed messages per second (Bencher's built-in `throughput`, ops/s).
    Throughput,
    /// Nanoseconds: the echo p50 latency, or a micro-benchmark's time per iteration
    /// (Bencher's built-in `latency`).
    Latency,
    /// Echo p99 latency, nanoseconds.
    LatencyP99,
    /// Server CPU time per echoed message, nanoseconds.
    CpuPerMessage,
    /// Server resident memory per established connection, bytes.
    RssPerConnection,
    /// Instructions per iteration under callgrind (the gate's tier 1).
    Instructions,
    /// Time per iteration divided by the named reference runtime's, measured side by side
    /// (the gate's tier 2).
    TimeRatio(String),
    /// Conformance cells that are `fail`, `timeout` or `crash`.
    FailingCells,
    /// Conformance cells that are `pass`.
    PassingCells,
}

impl Measure {
    /// The Bencher Metric Format key (a measure slug: lowercase, digits and dashes).
    pub fn slug(&self) -> String {
        match self {
            Measure::Throughput => "throughput".into(),
            Measure::Latency => "latency".into(),
            Measure::LatencyP99 => "latency-p99".into(),
            Measure::CpuPerMessage => "cpu-per-message".into(),
            Measure::RssPerConnection => "rss-per-connection".into(),
            Measure::Instructions => "instructions".into(),
            Measure::TimeRatio(reference) => format!("time-ratio-to-{}", slugify(reference)),
            Measure::FailingCells => "failing-cells".into(),
            Measure::PassingCells => "passing-cells".into(),
        }
    }

    /// Which way is better.
    pub fn direction(&self) -> Direction {
        match self {
            Measure::Throughput | Measure::PassingCells => Direction::BiggerIsBetter,
            _ => Direction::SmallerIsBetter,
        }
    }
}

/// Lowercase, with every character other than a letter or digit turned into `-`.
fn slugify(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// One exported figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Stable, readable benchmark name: `echo/evloop/closed/100conns/64B`,
    /// `micro/evloop/spawn_many`, `conformance/evloop`.
    pub benchmark: String,
    /// What is measured.
    pub measure: Measure,
    /// Unit of `value` for formats that name it (`ns`, `ns/iter`, `ops/s`, `bytes`, ...).
    pub unit: &'static str,
    /// The figure (a median over repeats or samples, or a count).
    pub value: f64,
    /// Smallest of the repeats or samples, when there were two or more.
    pub lower: Option<f64>,
    /// Largest of the repeats or samples, when there were two or more.
    pub upper: Option<f64>,
    /// What the value is (`median of 5 repeats`), then the results' warnings, one per line.
    pub notes: Vec<String>,
}

impl Metric {
    /// A figure without spread.
    pub fn new(
        benchmark: impl Into<String>,
        measure: Measure,
        unit: &'static str,
        value: f64,
    ) -> Self {
        Self {
            benchmark: benchmark.into(),
            measure,
            unit,
            value,
            lower: None,
            upper: None,
            notes: Vec::new(),
        }
    }

    /// The median of `spread` as the value, its minimum and maximum as bounds when `n` ≥ 2,
    /// all multiplied by `scale`.
    fn from_spread(
        benchmark: &str,
        measure: Measure,
        unit: &'static str,
        spread: Spread,
        n: usize,
        scale: f64,
    ) -> Self {
        let mut m = Metric::new(benchmark, measure, unit, spread.median * scale);
        if n >= 2 {
            m.lower = Some(spread.min * scale);
            m.upper = Some(spread.max * scale);
        }
        m
    }
}

/// The figures of a results file, and what had to be left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Figures in a stable order: echo points as they first appear, then micro-benchmarks,
    /// then conformance per runtime.
    pub metrics: Vec<Metric>,
    /// One line per repeat or entry not exported, saying why.
    pub left_out: Vec<String>,
}

/// The repeats of one echo point (one runtime × mode × connections × offered rate ×
/// message size × pipeline depth) that measured something.
#[derive(Clone, Debug)]
pub struct EchoPoint<'a> {
    /// The benchmark name, e.g. `echo/evloop/closed/100conns/64B`.
    pub name: String,
    /// The runtime (or baseline, or outside server) id.
    pub runtime: &'a str,
    /// The exportable repeats, in the order of the file.
    pub runs: Vec<&'a EchoRun>,
}

/// The benchmark name of the point `run` belongs to.
pub fn echo_name(run: &EchoRun) -> String {
    let mut name = format!(
        "echo/{}/{}/{}conns/{}B",
        run.runtime, run.mode, run.connections, run.message_size
    );
    if let Some(rate) = run.offered_rate.filter(|_| run.mode == "open") {
        name += &format!("/{}rps", trim_float(rate));
    }
    if run.mode == "closed" && run.pipeline > 1 {
        name += &format!("/pipeline{}", run.pipeline);
    }
    name
}

/// `20000` for 20000.0, `12.5` for 12.5.
fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Why a repeat cannot be exported, if it cannot.
fn unexportable(run: &EchoRun) -> Option<String> {
    if run.duration_s <= 0.0 || run.throughput_msgs_per_s <= 0.0 {
        let why = run
            .warnings
            .first()
            .cloned()
            .unwrap_or_else(|| "no echo completed".into());
        return Some(format!("nothing measured ({why})"));
    }
    if run.errors.mismatches > 0 {
        return Some(format!(
            "{} echoed messages were wrong",
            run.errors.mismatches
        ));
    }
    None
}

/// Groups the echo runs of `file` into points, in the order each point first appears;
/// repeats that cannot be exported are named in `left_out`.
pub fn echo_points<'a>(file: &'a ResultsFile, left_out: &mut Vec<String>) -> Vec<EchoPoint<'a>> {
    let mut order: Vec<String> = Vec::new();
    let mut points: BTreeMap<String, EchoPoint<'a>> = BTreeMap::new();
    for run in &file.runs {
        let name = echo_name(run);
        if let Some(why) = unexportable(run) {
            left_out.push(format!("{name} repeat {}: {why}", run.repeat));
            continue;
        }
        let point = points.entry(name.clone()).or_insert_with(|| {
            order.push(name.clone());
            EchoPoint {
                name,
                runtime: &run.runtime,
                runs: Vec::new(),
            }
        });
        point.runs.push(run);
    }
    order
        .into_iter()
        .filter_map(|name| points.remove(&name))
        .collect()
}

/// `median of 5 repeats`, `1 repeat`.
fn repeats_note(n: usize) -> String {
    if n == 1 {
        "1 repeat".into()
    } else {
        format!("median of {n} repeats, bounds min-max")
    }
}

/// The figures of one echo point: throughput, p50 and p99 latency, server CPU per message
/// and RSS per connection (the last two when the server's process was visible).
pub fn echo_metrics(point: &EchoPoint<'_>) -> Vec<Metric> {
    let runs = &point.runs;
    let n = runs.len();
    let mut notes = vec![repeats_note(n)];
    for r in runs {
        for w in &r.warnings {
            let line = format!("warning: {w}");
            if !notes.contains(&line) {
                notes.push(line);
            }
        }
    }
    let spread = |f: &dyn Fn(&EchoRun) -> Option<f64>| -> Option<(Spread, usize)> {
        let values: Vec<f64> = runs
            .iter()
            .filter_map(|r| f(r))
            .filter(|v| v.is_finite())
            .collect();
        let k = values.len();
        Spread::of(values).map(|s| (s, k))
    };
    let mut out = Vec::new();
    let mut push =
        |measure: Measure, unit: &'static str, scale: f64, f: &dyn Fn(&EchoRun) -> Option<f64>| {
            if let Some((s, k)) = spread(f) {
                let mut m = Metric::from_spread(&point.name, measure, unit, s, k, scale);
                m.notes = notes.clone();
                if k < n {
                    m.notes[0] = format!("{} ({} of {n} repeats had it)", repeats_note(k), k);
                }
                out.push(m);
            }
        };
    push(Measure::Throughput, "ops/s", 1.0, &|r| {
        Some(r.throughput_msgs_per_s)
    });
    push(Measure::Latency, "ns", 1000.0, &|r| {
        Some(r.latency_us.p50).filter(|v| *v > 0.0)
    });
    push(Measure::LatencyP99, "ns", 1000.0, &|r| {
        Some(r.latency_us.p99).filter(|v| *v > 0.0)
    });
    push(Measure::CpuPerMessage, "ns", 1000.0, &|r| {
        r.server_cpu_us_per_msg
    });
    push(Measure::RssPerConnection, "bytes", 1.0, &|r| {
        r.rss_per_connection_bytes
    });
    out
}

/// The figure of one micro-benchmark entry: time per iteration, with the fastest and
/// slowest sample as bounds.
pub fn micro_metric(m: &MicroResult) -> Option<Metric> {
    if !(m.ns_per_iter.is_finite() && m.ns_per_iter > 0.0) {
        return None;
    }
    let mut metric = Metric::new(
        format!("micro/{}/{}", m.runtime, m.bench),
        Measure::Latency,
        "ns/iter",
        m.ns_per_iter,
    );
    if m.samples >= 2 && m.ns_per_iter_min.is_finite() && m.ns_per_iter_max.is_finite() {
        metric.lower = Some(m.ns_per_iter_min);
        metric.upper = Some(m.ns_per_iter_max);
        metric.notes.push(format!(
            "median of {} samples of {} iterations, bounds fastest-slowest sample",
            m.samples, m.iters
        ));
    } else {
        metric.notes.push(format!(
            "{} sample of {} iterations",
            m.samples.max(1),
            m.iters
        ));
    }
    Some(metric)
}

/// Per runtime, in first-seen order: its failing cells (`fail`, `timeout`, `crash`) and its
/// passing cells, as `conformance/RUNTIME`.
pub fn conformance_metrics(cells: &[ConformanceCell]) -> Vec<Metric> {
    let mut order: Vec<&str> = Vec::new();
    let mut counts: BTreeMap<&str, BTreeMap<CellStatus, u64>> = BTreeMap::new();
    for c in cells {
        if !counts.contains_key(c.runtime.as_str()) {
            order.push(&c.runtime);
        }
        *counts
            .entry(&c.runtime)
            .or_default()
            .entry(c.status)
            .or_default() += 1;
    }
    let mut out = Vec::new();
    for runtime in order {
        let by_status = &counts[runtime];
        let total: u64 = by_status.values().sum();
        let summary = CellStatus::ALL
            .iter()
            .map(|s| format!("{} {s}", by_status.get(s).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ");
        let note = format!("{total} cells: {summary}");
        let failing: u64 = by_status
            .iter()
            .filter(|(s, _)| s.is_failure())
            .map(|(_, n)| n)
            .sum();
        let passing = by_status.get(&CellStatus::Pass).copied().unwrap_or(0);
        let benchmark = format!("conformance/{runtime}");
        for (measure, value) in [
            (Measure::FailingCells, failing),
            (Measure::PassingCells, passing),
        ] {
            let mut m = Metric::new(&benchmark, measure, "cells", value as f64);
            m.notes.push(note.clone());
            out.push(m);
        }
    }
    out
}

/// Every figure of `file`: echo points, micro-benchmarks, conformance.
pub fn figures(file: &ResultsFile) -> Figures {
    let mut left_out = Vec::new();
    let mut metrics: Vec<Metric> = echo_points(file, &mut left_out)
        .iter()
        .flat_map(echo_metrics)
        .collect();
    for m in &file.micro {
        match micro_metric(m) {
            Some(metric) => metrics.push(metric),
            None => left_out.push(format!(
                "micro/{}/{}: no time per iteration ({})",
                m.runtime, m.bench, m.ns_per_iter
            )),
        }
    }
    metrics.extend(conformance_metrics(&file.results));
    Figures { metrics, left_out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(runtime: &str, repeat: u32, throughput: f64, p50: f64) -> EchoRun {
        let mut r = EchoRun {
            runtime: runtime.into(),
            connections: 100,
            established: 100,
            mode: "closed".into(),
            pipeline: 1,
            message_size: 64,
            repeat,
            duration_s: 1.0,
            throughput_msgs_per_s: throughput,
            ..EchoRun::default()
        };
        r.latency_us.p50 = p50;
        r.latency_us.p99 = p50 * 2.0;
        r
    }

    #[test]
    fn names_are_stable_and_readable() {
        let mut r = run("evloop", 0, 1.0, 1.0);
        assert_eq!(echo_name(&r), "echo/evloop/closed/100conns/64B");
        r.pipeline = 4;
        assert_eq!(echo_name(&r), "echo/evloop/closed/100conns/64B/pipeline4");
        r.mode = "open".into();
        r.pipeline = 0;
        r.offered_rate = Some(20_000.0);
        assert_eq!(echo_name(&r), "echo/evloop/open/100conns/64B/20000rps");
        r.offered_rate = Some(12.5);
        assert_eq!(echo_name(&r), "echo/evloop/open/100conns/64B/12.5rps");
        assert_eq!(
            Measure::TimeRatio("tokio-ct".into()).slug(),
            "time-ratio-to-tokio-ct"
        );
    }

    #[test]
    fn repeats_give_median_and_min_max_in_the_measure_unit() {
        let file = ResultsFile {
            runs: vec![
                run("evloop", 0, 100.0, 10.0),
                run("evloop", 1, 300.0, 30.0),
                run("evloop", 2, 200.0, 20.0),
                run("tokio-ct", 0, 50.0, 5.0),
            ],
            ..ResultsFile::default()
        };
        let f = figures(&file);
        assert!(f.left_out.is_empty());
        let get = |b: &str, m: Measure| {
            f.metrics
                .iter()
                .find(|x| x.benchmark == b && x.measure == m)
                .cloned()
                .unwrap()
        };
        let t = get("echo/evloop/closed/100conns/64B", Measure::Throughput);
        assert_eq!(
            (t.value, t.lower, t.upper),
            (200.0, Some(100.0), Some(300.0))
        );
        assert_eq!(t.unit, "ops/s");
        let l = get("echo/evloop/closed/100conns/64B", Measure::Latency);
        assert_eq!(
            (l.value, l.lower, l.upper),
            (20_000.0, Some(10_000.0), Some(30_000.0))
        );
        // One repeat: no invented bounds.
        let single = get("echo/tokio-ct/closed/100conns/64B", Measure::LatencyP99);
        assert_eq!(
            (single.value, single.lower, single.upper),
            (10_000.0, None, None)
        );
        // No server figures in these runs: no such metrics.
        assert!(!f
            .metrics
            .iter()
            .any(|m| m.measure == Measure::CpuPerMessage));
    }

    #[test]
    fn unmeasured_and_wrong_repeats_are_left_out_and_named() {
        let mut empty = run("smol", 0, 0.0, 0.0);
        empty.warnings = vec!["nothing measured: no connection was established".into()];
        let mut wrong = run("smol", 1, 10.0, 1.0);
        wrong.errors.mismatches = 3;
        let good = run("smol", 2, 20.0, 2.0);
        let file = ResultsFile {
            runs: vec![empty, wrong, good],
            ..ResultsFile::default()
        };
        let f = figures(&file);
        assert_eq!(f.left_out.len(), 2, "{:?}", f.left_out);
        assert!(
            f.left_out[0].contains("repeat 0: nothing measured"),
            "{:?}",
            f.left_out
        );
        assert!(
            f.left_out[1].contains("3 echoed messages were wrong"),
            "{:?}",
            f.left_out
        );
        let t = f
            .metrics
            .iter()
            .find(|m| m.measure == Measure::Throughput)
            .unwrap();
        assert_eq!((t.value, t.lower), (20.0, None));
    }

    #[test]
    fn conformance_counts_per_runtime() {
        let cell = |runtime: &str, status| ConformanceCell {
            scenario: "s".into(),
            rule: "L1".into(),
            group: "loop".into(),
            runtime: runtime.into(),
            status,
            detail: String::new(),
            measurements: vec![],
            elapsed_ms: 1.0,
        };
        let cells = vec![
            cell("smol", CellStatus::Pass),
            cell("smol", CellStatus::Timeout),
            cell("smol", CellStatus::Differs),
            cell("evloop", CellStatus::Pass),
        ];
        let m = conformance_metrics(&cells);
        let values: Vec<(&str, String, f64)> = m
            .iter()
            .map(|m| (m.benchmark.as_str(), m.measure.slug(), m.value))
            .collect();
        assert_eq!(
            values,
            vec![
                ("conformance/smol", "failing-cells".to_string(), 1.0),
                ("conformance/smol", "passing-cells".to_string(), 1.0),
                ("conformance/evloop", "failing-cells".to_string(), 0.0),
                ("conformance/evloop", "passing-cells".to_string(), 1.0),
            ]
        );
        assert!(
            m[0].notes[0].starts_with("3 cells: 1 pass, 1 differs, 0 fail"),
            "{}",
            m[0].notes[0]
        );
    }
}
