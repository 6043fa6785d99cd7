//! Comparing two results files, in the spirit of critcmp: per echo point (runtime,
//! connections, mode, offered rate) the median throughput, p99 latency, CPU per message and
//! RSS per connection; per micro-benchmark the ns per iteration; per conformance cell the
//! status. Changes smaller than a threshold are counted but not listed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use harness::results::{CellStatus, EchoRun, ResultsFile};

use crate::charts::si;
use crate::stats::Spread;
use crate::terminal::{ansi, RESET};

/// What a changed figure measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Echo throughput, messages per second (higher is better).
    Throughput,
    /// Echo p99 latency (corrected), µs (lower is better).
    P99Latency,
    /// Server CPU per message, µs (lower is better).
    CpuPerMessage,
    /// Server RSS per connection, bytes (lower is better).
    RssPerConnection,
    /// Micro-benchmark ns per iteration (lower is better).
    NsPerIter,
}

impl Metric {
    /// Short name with unit, for the table.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Throughput => "msg/s",
            Metric::P99Latency => "p99 us",
            Metric::CpuPerMessage => "cpu us/msg",
            Metric::RssPerConnection => "rss B/conn",
            Metric::NsPerIter => "ns/iter",
        }
    }

    /// Whether a larger value is an improvement.
    pub fn higher_is_better(self) -> bool {
        self == Metric::Throughput
    }
}

/// One figure that changed by at least the threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricChange {
    /// What it belongs to: `tokio-ct closed 100 conns` or `tokio-ct spawn_many`.
    pub subject: String,
    /// What it measures.
    pub metric: Metric,
    /// Old value (median over repeats).
    pub old: f64,
    /// New value (median over repeats).
    pub new: f64,
    /// `new / old`.
    pub ratio: f64,
}

impl MetricChange {
    /// Whether the change is an improvement.
    pub fn is_improvement(&self) -> bool {
        (self.ratio > 1.0) == self.metric.higher_is_better()
    }
}

/// A conformance cell whose status changed, appeared or disappeared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    /// Scenario id.
    pub scenario: String,
    /// Runtime id.
    pub runtime: String,
    /// Status in the old file (`None`: no such cell).
    pub old: Option<CellStatus>,
    /// Status in the new file (`None`: no such cell).
    pub new: Option<CellStatus>,
    /// Detail of the new cell (or the old one when it disappeared).
    pub detail: String,
}

/// What changed between two results files.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Changes smaller than this, in percent, are hidden.
    pub threshold_pct: f64,
    /// Figures that changed by at least the threshold, by subject then metric.
    pub changes: Vec<MetricChange>,
    /// Figures present in both files whose change was below the threshold.
    pub hidden: usize,
    /// Figures present in only one of the files.
    pub unmatched: usize,
    /// Figures and conformance cells present in both files (0: nothing to compare).
    pub in_both: usize,
    /// Conformance status changes, by scenario then runtime.
    pub status_changes: Vec<StatusChange>,
}

type Figures = BTreeMap<(String, Metric), f64>;

fn echo_key(r: &EchoRun) -> String {
    match r.offered_rate {
        Some(rate) => format!(
            "{} {} {} conns @{}/s",
            r.runtime,
            r.mode,
            r.connections,
            si(rate)
        ),
        None => format!("{} {} {} conns", r.runtime, r.mode, r.connections),
    }
}

fn figures(file: &ResultsFile) -> Figures {
    let mut samples: BTreeMap<(String, Metric), Vec<f64>> = BTreeMap::new();
    for r in &file.runs {
        let key = echo_key(r);
        let mut push = |m: Metric, v: Option<f64>| {
            if let Some(v) = v {
                samples.entry((key.clone(), m)).or_default().push(v);
            }
        };
        push(Metric::Throughput, Some(r.throughput_msgs_per_s));
        push(
            Metric::P99Latency,
            Some(r.latency_us.p99).filter(|v| *v > 0.0),
        );
        push(Metric::CpuPerMessage, r.server_cpu_us_per_msg);
        push(Metric::RssPerConnection, r.rss_per_connection_bytes);
    }
    for m in &file.micro {
        samples
            .entry((format!("{} {}", m.runtime, m.bench), Metric::NsPerIter))
            .or_default()
            .push(m.ns_per_iter);
    }
    samples
        .into_iter()
        .filter_map(|(k, v)| Some((k, Spread::of(v)?.median)))
        .collect()
}

/// Compares `old` with `new`; changes smaller than `threshold_pct` percent are hidden
/// (pass 0 to see every figure).
pub fn compare(old: &ResultsFile, new: &ResultsFile, threshold_pct: f64) -> Comparison {
    let (a, b) = (figures(old), figures(new));
    let mut changes = Vec::new();
    let mut hidden = 0;
    for (key, &o) in &a {
        let Some(&n) = b.get(key) else { continue };
        let ratio = if o == 0.0 {
            if n == 0.0 {
                1.0
            } else {
                f64::INFINITY
            }
        } else {
            n / o
        };
        if (ratio - 1.0).abs() * 100.0 + 1e-9 < threshold_pct {
            hidden += 1;
            continue;
        }
        changes.push(MetricChange {
            subject: key.0.clone(),
            metric: key.1,
            old: o,
            new: n,
            ratio,
        });
    }
    let unmatched = a.keys().filter(|k| !b.contains_key(*k)).count()
        + b.keys().filter(|k| !a.contains_key(*k)).count();

    let cells = |f: &ResultsFile| -> BTreeMap<(String, String), (CellStatus, String)> {
        f.results
            .iter()
            .map(|c| {
                (
                    (c.scenario.clone(), c.runtime.clone()),
                    (c.status, c.detail.clone()),
                )
            })
            .collect()
    };
    let (ca, cb) = (cells(old), cells(new));
    let in_both = a.keys().filter(|k| b.contains_key(*k)).count()
        + ca.keys().filter(|k| cb.contains_key(*k)).count();
    let mut keys: Vec<&(String, String)> = ca.keys().chain(cb.keys()).collect();
    keys.sort();
    keys.dedup();
    let status_changes = keys
        .into_iter()
        .filter_map(|k| {
            let (o, n) = (ca.get(k), cb.get(k));
            if o.map(|c| c.0) == n.map(|c| c.0) {
                return None;
            }
            Some(StatusChange {
                scenario: k.0.clone(),
                runtime: k.1.clone(),
                old: o.map(|c| c.0),
                new: n.map(|c| c.0),
                detail: n.or(o).map(|c| c.1.clone()).unwrap_or_default(),
            })
        })
        .collect();
    Comparison {
        threshold_pct,
        changes,
        hidden,
        unmatched,
        in_both,
        status_changes,
    }
}

fn value(metric: Metric, v: f64) -> String {
    match metric {
        Metric::CpuPerMessage => format!("{v:.2}"),
        _ => si(v),
    }
}

impl Comparison {
    /// The comparison as a terminal table: subject, metric, old, new, ratio (green when
    /// better, red when worse, with `color`), then status changes and a closing count.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        if self.changes.is_empty() {
            let _ = writeln!(out, "no figure changed by {}% or more", self.threshold_pct);
        } else {
            let w0 = self
                .changes
                .iter()
                .map(|c| c.subject.chars().count())
                .max()
                .unwrap_or(0)
                .max(7);
            let _ = writeln!(
                out,
                "{:<w0$}  {:<10}  {:>10}  {:>10}  {:>6}",
                "subject", "metric", "old", "new", "ratio"
            );
            let _ = writeln!(out, "{}", "-".repeat(w0 + 46));
            for c in &self.changes {
                let ratio = format!("{:>6.2}", c.ratio);
                let ratio = match (color, c.is_improvement()) {
                    (false, _) => ratio,
                    (true, true) => format!("\x1b[32m{ratio}{RESET}"),
                    (true, false) => format!("\x1b[31m{ratio}{RESET}"),
                };
                let verdict = if c.is_improvement() {
                    "better"
                } else {
                    "worse"
                };
                let _ = writeln!(
                    out,
                    "{:<w0$}  {:<10}  {:>10}  {:>10}  {ratio}  {verdict}",
                    c.subject,
                    c.metric.label(),
                    value(c.metric, c.old),
                    value(c.metric, c.new)
                );
            }
        }
        if !self.status_changes.is_empty() {
            out.push_str("\nconformance status changes:\n");
            let name = |s: Option<CellStatus>| match (s, color) {
                (None, _) => "(absent)".to_string(),
                (Some(s), true) => format!("{}{s}{RESET}", ansi(s)),
                (Some(s), false) => s.to_string(),
            };
            for s in &self.status_changes {
                let _ = write!(
                    out,
                    "  {} on {}: {} -> {}",
                    s.scenario,
                    s.runtime,
                    name(s.old),
                    name(s.new)
                );
                if !s.detail.is_empty() {
                    let _ = write!(out, " ({})", s.detail);
                }
                out.push('\n');
            }
        }
        let _ = writeln!(
            out,
            "\n{} changed by {}% or more, {} below that hidden, {} only in one file, {} status changes",
            self.changes.len(),
            self.threshold_pct,
            self.hidden,
            self.unmatched,
            self.status_changes.len()
        );
        out
    }
}
