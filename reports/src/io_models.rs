//! The "epoll vs io_uring" comparison: for each pair of servers that differ in their I/O
//! model (evloop vs evloop-uring, epoll-floor vs uring-floor, tokio-ct vs compio and
//! monoio), four metrics at every (connections, message size) present: server CPU per
//! message on the closed-loop curve, corrected p99 at equal load, capacity, and RSS per
//! connection. Each cell is the median (min–max) over the repeats of each member and their
//! ratio; points [`EchoRun::rank_exclusion`] excludes (and capacity searches without a
//! capacity or only a lower bound) are left out and counted in the cell.
//!
//! Verdicts come from the ranges, never from a threshold: two members differ only when
//! their min–max ranges are disjoint and both have at least two repeats.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use harness::results::{CapacityResult, EchoRun, RunPurpose};

use crate::charts::si;
use crate::stats::Spread;

/// The pairs compared: (epoll member, io_uring member).
pub const PAIRS: [(&str, &str); 4] = [
    ("evloop", "evloop-uring"),
    ("epoll-floor", "uring-floor"),
    ("tokio-ct", "compio"),
    ("tokio-ct", "monoio"),
];

/// What is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Server CPU time per message, closed-loop curve points, µs.
    CpuPerMsg,
    /// Corrected p99 latency of the equal-load points, µs.
    EqualP99,
    /// Capacity (highest rate meeting the p99 bound), messages per second.
    Capacity,
    /// RSS per connection, bytes: the runtime's share (minus the epoll floor's), or the
    /// whole figure for the floors themselves.
    RssPerConn,
}

impl Metric {
    /// Every metric, in display order.
    pub const ALL: [Metric; 4] = [
        Metric::CpuPerMsg,
        Metric::EqualP99,
        Metric::Capacity,
        Metric::RssPerConn,
    ];

    /// Its name, with the direction that is better.
    pub fn title(self) -> &'static str {
        match self {
            Metric::CpuPerMsg => "server CPU per message (closed loop; lower is better)",
            Metric::EqualP99 => "corrected p99 at equal load (lower is better)",
            Metric::Capacity => "capacity, msg/s (higher is better)",
            Metric::RssPerConn => "RSS per connection (lower is better)",
        }
    }

    /// A short name for the terminal.
    pub fn short(self) -> &'static str {
        match self {
            Metric::CpuPerMsg => "CPU/msg",
            Metric::EqualP99 => "p99 at equal load",
            Metric::Capacity => "capacity",
            Metric::RssPerConn => "RSS/conn",
        }
    }

    /// A value of this metric for display.
    pub fn format(self, v: f64) -> String {
        match self {
            Metric::CpuPerMsg => format!("{v:.2} µs"),
            Metric::EqualP99 => format!("{} µs", si(v)),
            Metric::Capacity => si(v),
            Metric::RssPerConn => format!("{:.1} KiB", v / 1024.0),
        }
    }
}

/// One member's figures in one cell.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Side {
    /// Median (min–max) over the repeats kept; `None` when none was kept.
    pub spread: Option<Spread>,
    /// Repeats kept.
    pub kept: usize,
    /// Why each left-out repeat was left out.
    pub excluded: Vec<String>,
}

impl Side {
    fn of(values: Vec<Result<f64, String>>) -> Side {
        let mut kept = Vec::new();
        let mut excluded = Vec::new();
        for v in values {
            match v {
                Ok(x) => kept.push(x),
                Err(why) => excluded.push(why),
            }
        }
        Side {
            spread: Spread::of(kept.iter().copied()),
            kept: kept.len(),
            excluded,
        }
    }

    /// `median (min–max)`, and what was left out.
    pub fn describe(&self, metric: Metric) -> String {
        let mut out = match self.spread {
            None => "—".to_string(),
            Some(s) => format!(
                "{} ({}–{}, n={})",
                metric.format(s.median),
                metric.format(s.min),
                metric.format(s.max),
                self.kept
            ),
        };
        if let Some(first) = self.excluded.first() {
            let _ = write!(out, "; {} excluded ({first})", self.excluded.len());
        }
        out
    }
}

/// What one cell (or one metric of a pair) shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// One member or both have nothing kept at this point; `why` says what was left out.
    NotMeasured {
        /// `member: reason` of the first member without a kept repeat.
        why: String,
    },
    /// A member has fewer than two repeats kept: no range to judge noise by.
    NotEnoughRepeats,
    /// The min–max ranges overlap.
    NoDifference,
    /// The ranges are disjoint: `lower` has the lower median, by `pct` % of the other's.
    Lower {
        /// The member with the lower figure.
        lower: String,
        /// (higher − lower) / higher, percent.
        pct: f64,
    },
}

impl Verdict {
    /// The verdict in words.
    pub fn text(&self) -> String {
        match self {
            Verdict::NotMeasured { why } => format!("nothing to compare: {why}"),
            Verdict::NotEnoughRepeats => "not enough repeats (fewer than 2 kept)".into(),
            Verdict::NoDifference => "no difference beyond noise".into(),
            Verdict::Lower { lower, pct } => {
                format!("{lower} lower by {pct:.0} % (ranges disjoint)")
            }
        }
    }
}

/// One (connections, message size) of one metric of one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Connections.
    pub connections: u64,
    /// Message size, bytes.
    pub size: u64,
    /// The epoll member.
    pub epoll: Side,
    /// The io_uring member.
    pub uring: Side,
    /// io_uring median / epoll median (absent when either is missing or epoll's is not
    /// positive).
    pub ratio: Option<f64>,
    /// What the ranges say.
    pub verdict: Verdict,
}

/// One metric of one pair: its cells and the one-line verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    /// The metric.
    pub metric: Metric,
    /// Its cells, by connections then size.
    pub cells: Vec<Cell>,
}

impl MetricRow {
    /// The one-line verdict: the same verdict everywhere is said once; otherwise each
    /// point's, `100 × 64 B: …; 10000 × 64 B: …`.
    pub fn verdict(&self) -> String {
        if self.cells.is_empty() {
            return "not measured (no such results)".into();
        }
        let first = &self.cells[0].verdict;
        if self
            .cells
            .iter()
            .all(|c| c.verdict == *first && !matches!(c.verdict, Verdict::Lower { .. }))
        {
            return first.text();
        }
        self.cells
            .iter()
            .map(|c| format!("{} × {} B: {}", c.connections, c.size, c.verdict.text()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One pair's comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct PairReport {
    /// The epoll member.
    pub epoll: String,
    /// The io_uring member.
    pub uring: String,
    /// Every metric, in [`Metric::ALL`] order.
    pub metrics: Vec<MetricRow>,
}

/// The value of `metric` in a run of `runtime`, or why the run is left out; `None` when
/// the run does not feed this metric.
fn run_value(metric: Metric, runtime: &str, r: &EchoRun) -> Option<Result<f64, String>> {
    let value = match metric {
        Metric::CpuPerMsg if r.purpose == RunPurpose::Curve && r.mode == "closed" => {
            r.server_cpu_us_per_msg
        }
        Metric::EqualP99 if r.purpose == RunPurpose::EqualLoad => Some(r.latency_us.p99),
        Metric::RssPerConn if r.purpose == RunPurpose::Curve && r.mode == "closed" => {
            if runtime.ends_with("-floor") {
                r.rss_per_connection_bytes
            } else {
                r.runtime_rss_per_connection_bytes
            }
        }
        _ => return None,
    };
    if let Some(why) = r.rank_exclusion() {
        return Some(Err(why));
    }
    Some(value.ok_or_else(|| match metric {
        Metric::RssPerConn => {
            "not recorded (the runtime's share needs epoll-floor in the same run)".to_string()
        }
        _ => "not recorded".to_string(),
    }))
}

fn capacity_value(c: &CapacityResult) -> Result<f64, String> {
    match c.capacity_msgs_per_s {
        None => Err(format!("no capacity: {}", c.note)),
        Some(_) if c.client_limited => Err("client-bound: only a lower bound".into()),
        Some(v) => Ok(v),
    }
}

/// The values of `metric` for `runtime` at (connections, size).
fn values(
    metric: Metric,
    runtime: &str,
    key: (u64, u64),
    runs: &[&EchoRun],
    capacity: &[CapacityResult],
) -> Vec<Result<f64, String>> {
    if metric == Metric::Capacity {
        return capacity
            .iter()
            .filter(|c| c.runtime == runtime && (c.connections, c.message_size) == key)
            .map(capacity_value)
            .collect();
    }
    runs.iter()
        .filter(|r| r.runtime == runtime && (r.connections, r.message_size) == key)
        .filter_map(|r| run_value(metric, runtime, r))
        .collect()
}

/// The (connections, size) points where either member has something for `metric`.
fn keys(
    metric: Metric,
    pair: (&str, &str),
    runs: &[&EchoRun],
    capacity: &[CapacityResult],
) -> BTreeSet<(u64, u64)> {
    let member = |rt: &str| rt == pair.0 || rt == pair.1;
    if metric == Metric::Capacity {
        return capacity
            .iter()
            .filter(|c| member(&c.runtime))
            .map(|c| (c.connections, c.message_size))
            .collect();
    }
    runs.iter()
        .filter(|r| member(&r.runtime) && run_value(metric, &r.runtime, r).is_some())
        .map(|r| (r.connections, r.message_size))
        .collect()
}

fn judge(pair: (&str, &str), epoll: &Side, uring: &Side) -> Verdict {
    let (Some(e), Some(u)) = (epoll.spread, uring.spread) else {
        let (member, side) = if epoll.spread.is_none() {
            (pair.0, epoll)
        } else {
            (pair.1, uring)
        };
        let why = match side.excluded.first() {
            Some(first) => format!("{member}: {} excluded ({first})", side.excluded.len()),
            None => format!("{member}: not measured"),
        };
        return Verdict::NotMeasured { why };
    };
    if epoll.kept < 2 || uring.kept < 2 {
        return Verdict::NotEnoughRepeats;
    }
    if e.min <= u.max && u.min <= e.max {
        return Verdict::NoDifference;
    }
    let (lower, low, high) = if e.median < u.median {
        (pair.0, e.median, u.median)
    } else {
        (pair.1, u.median, e.median)
    };
    let pct = if high != 0.0 {
        (high - low) / high.abs() * 100.0
    } else {
        0.0
    };
    Verdict::Lower {
        lower: lower.to_string(),
        pct,
    }
}

/// The comparison of every pair whose two members both appear in `runs` or `capacity`.
pub fn compare(runs: &[&EchoRun], capacity: &[CapacityResult]) -> Vec<PairReport> {
    let present =
        |rt: &str| runs.iter().any(|r| r.runtime == rt) || capacity.iter().any(|c| c.runtime == rt);
    PAIRS
        .iter()
        .filter(|(e, u)| present(e) && present(u))
        .map(|&pair| PairReport {
            epoll: pair.0.to_string(),
            uring: pair.1.to_string(),
            metrics: Metric::ALL
                .iter()
                .map(|&metric| MetricRow {
                    metric,
                    cells: keys(metric, pair, runs, capacity)
                        .into_iter()
                        .map(|key| {
                            let epoll = Side::of(values(metric, pair.0, key, runs, capacity));
                            let uring = Side::of(values(metric, pair.1, key, runs, capacity));
                            let ratio = match (epoll.spread, uring.spread) {
                                (Some(e), Some(u)) if e.median > 0.0 => Some(u.median / e.median),
                                _ => None,
                            };
                            let verdict = judge(pair, &epoll, &uring);
                            Cell {
                                connections: key.0,
                                size: key.1,
                                epoll,
                                uring,
                                ratio,
                                verdict,
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// The terminal block: one verdict line per metric and pair; empty when no pair has both
/// members.
pub fn text(runs: &[&EchoRun], capacity: &[CapacityResult]) -> String {
    let pairs = compare(runs, capacity);
    if pairs.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "epoll vs io_uring (median (min–max) over repeats; a difference only when the ranges are disjoint):\n",
    );
    for p in &pairs {
        let _ = writeln!(out, "  {} vs {}", p.epoll, p.uring);
        for m in &p.metrics {
            let _ = writeln!(
                out,
                "    {:<18} {}",
                format!("{}:", m.metric.short()),
                m.verdict()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::results::{Percentiles, RunStatus};

    fn run(rt: &str, conns: u64, cpu: f64, repeat: u32) -> EchoRun {
        EchoRun {
            runtime: rt.into(),
            connections: conns,
            established: conns,
            mode: "closed".into(),
            purpose: RunPurpose::Curve,
            status: RunStatus::Complete,
            message_size: 64,
            repeat,
            duration_s: 1.0,
            throughput_msgs_per_s: 1000.0,
            server_cpu_us_per_msg: Some(cpu),
            latency_us: Percentiles::default(),
            ..EchoRun::default()
        }
    }

    fn cpu_row<'a>(pairs: &'a [PairReport], epoll: &str, uring: &str) -> &'a MetricRow {
        let p = pairs
            .iter()
            .find(|p| p.epoll == epoll && p.uring == uring)
            .expect("pair present");
        p.metrics
            .iter()
            .find(|m| m.metric == Metric::CpuPerMsg)
            .unwrap()
    }

    #[test]
    fn overlapping_ranges_are_no_difference() {
        let runs = [
            run("evloop", 100, 10.0, 0),
            run("evloop", 100, 11.0, 1),
            run("evloop-uring", 100, 10.5, 0),
            run("evloop-uring", 100, 12.0, 1),
        ];
        let refs: Vec<&EchoRun> = runs.iter().collect();
        let pairs = compare(&refs, &[]);
        assert_eq!(pairs.len(), 1);
        let row = cpu_row(&pairs, "evloop", "evloop-uring");
        assert_eq!(row.cells.len(), 1);
        assert_eq!(row.cells[0].verdict, Verdict::NoDifference);
        assert_eq!(row.verdict(), "no difference beyond noise");
        let ratio = row.cells[0].ratio.unwrap();
        assert!((ratio - 11.25 / 10.5).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn disjoint_ranges_name_the_lower() {
        let runs = [
            run("epoll-floor", 100, 10.0, 0),
            run("epoll-floor", 100, 10.4, 1),
            run("uring-floor", 100, 8.0, 0),
            run("uring-floor", 100, 8.0, 1),
        ];
        let refs: Vec<&EchoRun> = runs.iter().collect();
        let pairs = compare(&refs, &[]);
        let row = cpu_row(&pairs, "epoll-floor", "uring-floor");
        match &row.cells[0].verdict {
            Verdict::Lower { lower, pct } => {
                assert_eq!(lower, "uring-floor");
                // (10.2 - 8) / 10.2
                assert!((pct - 2.2 / 10.2 * 100.0).abs() < 1e-9, "{pct}");
            }
            v => panic!("expected a difference, got {v:?}"),
        }
        assert_eq!(
            row.verdict(),
            "100 × 64 B: uring-floor lower by 22 % (ranges disjoint)"
        );
        // And the other way round names the other member.
        let swapped = [
            run("epoll-floor", 100, 8.0, 0),
            run("epoll-floor", 100, 8.1, 1),
            run("uring-floor", 100, 10.0, 0),
            run("uring-floor", 100, 10.4, 1),
        ];
        let refs: Vec<&EchoRun> = swapped.iter().collect();
        let pairs = compare(&refs, &[]);
        assert!(cpu_row(&pairs, "epoll-floor", "uring-floor")
            .verdict()
            .contains("epoll-floor lower by"));
    }

    #[test]
    fn client_bound_points_are_excluded_and_said() {
        let mut bound = run("evloop-uring", 100, 1.0, 2);
        bound.client_bound = true;
        bound.client_cpu_pct = 99.0;
        bound.client_threads = 1;
        let runs = [
            run("evloop", 100, 10.0, 0),
            run("evloop", 100, 10.2, 1),
            run("evloop", 100, 10.1, 2),
            run("evloop-uring", 100, 10.1, 0),
            run("evloop-uring", 100, 10.3, 1),
            bound,
        ];
        let refs: Vec<&EchoRun> = runs.iter().collect();
        let pairs = compare(&refs, &[]);
        let cell = &cpu_row(&pairs, "evloop", "evloop-uring").cells[0];
        assert_eq!(cell.uring.kept, 2);
        assert_eq!(cell.uring.excluded.len(), 1);
        assert!(cell.uring.excluded[0].starts_with("client-bound"));
        // The client-bound 1.0 is not in the range, so the ranges overlap.
        assert_eq!(cell.uring.spread.unwrap().min, 10.1);
        assert_eq!(cell.verdict, Verdict::NoDifference);
        assert!(cell
            .uring
            .describe(Metric::CpuPerMsg)
            .contains("1 excluded (client-bound"));
    }

    #[test]
    fn every_repeat_excluded_says_why() {
        let starved = |r: u32| {
            let mut run = run("monoio", 10_000, 9.0, r);
            run.unserved_connections = 5;
            run
        };
        let runs = [
            run("tokio-ct", 10_000, 10.0, 0),
            run("tokio-ct", 10_000, 10.0, 1),
            starved(0),
            starved(1),
        ];
        let refs: Vec<&EchoRun> = runs.iter().collect();
        let pairs = compare(&refs, &[]);
        let row = cpu_row(&pairs, "tokio-ct", "monoio");
        assert_eq!(row.cells[0].uring.kept, 0);
        assert_eq!(row.cells[0].ratio, None);
        assert_eq!(
            row.verdict(),
            "nothing to compare: monoio: 2 excluded (starved: 5 of 10000 connections never got an echo)"
        );
    }

    #[test]
    fn one_repeat_is_not_enough() {
        let runs = [run("tokio-ct", 100, 10.0, 0), run("compio", 100, 5.0, 0)];
        let refs: Vec<&EchoRun> = runs.iter().collect();
        let pairs = compare(&refs, &[]);
        let row = cpu_row(&pairs, "tokio-ct", "compio");
        assert_eq!(row.cells[0].verdict, Verdict::NotEnoughRepeats);
        assert!(row.verdict().starts_with("not enough repeats"));
    }

    #[test]
    fn one_member_only_makes_no_section() {
        let runs = [
            run("evloop", 100, 10.0, 0),
            run("evloop", 100, 10.0, 1),
            run("tokio-ct", 100, 12.0, 0),
            run("epoll-floor", 100, 9.0, 0),
        ];
        let refs: Vec<&EchoRun> = runs.iter().collect();
        assert!(compare(&refs, &[]).is_empty());
        assert!(text(&refs, &[]).is_empty());
    }

    #[test]
    fn capacity_and_equal_load_feed_their_metrics() {
        let cap = |rt: &str, v: Option<f64>, limited: bool| CapacityResult {
            runtime: rt.into(),
            connections: 100,
            message_size: 16384,
            capacity_msgs_per_s: v,
            client_limited: limited,
            note: "ended".into(),
            ..CapacityResult::default()
        };
        let capacity = [
            cap("tokio-ct", Some(50_000.0), false),
            cap("tokio-ct", Some(52_000.0), false),
            cap("monoio", Some(70_000.0), false),
            cap("monoio", Some(72_000.0), true),
            cap("monoio", None, false),
        ];
        let eq = |rt: &str, p99: f64| {
            let mut r = run(rt, 100, 1.0, 0);
            r.purpose = RunPurpose::EqualLoad;
            r.mode = "open".into();
            r.message_size = 16384;
            r.latency_us.p99 = p99;
            r
        };
        let runs = [
            eq("tokio-ct", 100.0),
            eq("tokio-ct", 120.0),
            eq("monoio", 300.0),
            eq("monoio", 310.0),
        ];
        let refs: Vec<&EchoRun> = runs.iter().collect();
        let pairs = compare(&refs, &capacity);
        assert_eq!(pairs.len(), 1);
        let row = |m: Metric| pairs[0].metrics.iter().find(|r| r.metric == m).unwrap();
        let c = &row(Metric::Capacity).cells[0];
        assert_eq!((c.connections, c.size), (100, 16384));
        assert_eq!(c.uring.kept, 1);
        assert_eq!(c.uring.excluded.len(), 2);
        assert_eq!(c.verdict, Verdict::NotEnoughRepeats);
        assert_eq!(
            row(Metric::EqualP99).verdict(),
            "100 × 16384 B: tokio-ct lower by 64 % (ranges disjoint)"
        );
        // The equal-load runs are not curve points: no CPU/msg cells from them.
        assert!(row(Metric::CpuPerMsg).cells.is_empty());
        let t = text(&refs, &capacity);
        assert!(t.contains("tokio-ct vs monoio"), "{t}");
        assert!(t.contains("capacity:"), "{t}");
    }
}
