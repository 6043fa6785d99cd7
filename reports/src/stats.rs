//! Statistics over repeats: medians with min–max spreads, grouping of echo runs into
//! chart series, and what kind of server (runtime, baseline, floor) a series is.

use std::collections::BTreeMap;

use harness::results::EchoRun;

use crate::merge::LabelledRun;

/// Median of a set of values with their minimum and maximum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, ignoring NaN; `None` when nothing is left.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// What a series is, which decides how it is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServerKind {
    /// An async runtime (or an external server).
    Runtime,
    /// One of the C10k-story baselines: `blocking`, `threads`, `threadpool`.
    Baseline,
    /// The hand-written epoll server, the floor nothing should beat by much.
    Floor,
}

/// The kind of server a runtime id names.
pub fn server_kind(runtime: &str) -> ServerKind {
    match runtime {
        "blocking" | "threads" | "threadpool" => ServerKind::Baseline,
        "epoll-floor" | "uring-floor" => ServerKind::Floor,
        _ => ServerKind::Runtime,
    }
}

/// Runs of one series (one runtime of one input) in one mode, by x value.
#[derive(Clone, Debug)]
pub struct RunSeries<'a> {
    /// Series name (`tokio-ct`, `tokio-ct (old)`).
    pub name: String,
    /// The runtime id.
    pub runtime: String,
    /// The runs at each x value (connections or offered rate), repeats together.
    pub points: Vec<(f64, Vec<&'a LabelledRun<'a>>)>,
}

impl RunSeries<'_> {
    /// Median/min/max of `metric` over the repeats of each point; points where the metric
    /// is absent from every repeat are left out.
    pub fn spreads(&self, metric: impl Fn(&EchoRun) -> Option<f64>) -> Vec<(f64, Spread)> {
        self.points
            .iter()
            .filter_map(|(x, runs)| {
                Spread::of(runs.iter().filter_map(|r| metric(r.run))).map(|s| (*x, s))
            })
            .collect()
    }
}

/// Groups `runs` of `mode` into series by name, points keyed by `x` (runs for which `x`
/// returns `None` are skipped). Series come runtimes first, then baselines, then the floor,
/// each by name.
pub fn group_series<'a>(
    runs: &'a [LabelledRun<'a>],
    mode: &str,
    x: impl Fn(&LabelledRun<'a>) -> Option<f64>,
) -> Vec<RunSeries<'a>> {
    /// Runs of one series: runtime id and runs by x value (as bits).
    type SeriesRuns<'a> = (String, BTreeMap<u64, Vec<&'a LabelledRun<'a>>>);
    let mut by_series: BTreeMap<(ServerKind, &str), SeriesRuns<'a>> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.run.mode == mode) {
        let Some(xv) = x(run) else { continue };
        let entry = by_series
            .entry((server_kind(run.runtime), run.series))
            .or_insert_with(|| (run.runtime.to_string(), BTreeMap::new()));
        entry.1.entry(xv.to_bits()).or_default().push(run);
    }
    by_series
        .into_iter()
        .map(|((_, name), (runtime, points))| {
            let mut points: Vec<(f64, Vec<&LabelledRun<'a>>)> = points
                .into_iter()
                .map(|(bits, runs)| (f64::from_bits(bits), runs))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            RunSeries {
                name: name.to_string(),
                runtime,
                points,
            }
        })
        .collect()
}

/// The repeats of one echo point summarised: one row of an echo table.
#[derive(Clone, Debug, PartialEq)]
pub struct EchoRow {
    /// Series name (runtime id, with the input label when overlaid).
    pub series: String,
    /// Connections asked for.
    pub connections: u64,
    /// `closed` or `open`.
    pub mode: String,
    /// Offered rate (open loop).
    pub offered_rate: Option<f64>,
    /// Repeats summarised.
    pub repeats: usize,
    /// Throughput, messages per second.
    pub throughput: Spread,
    /// Median p50 latency over repeats, µs.
    pub p50_us: f64,
    /// Median p99 latency over repeats, µs.
    pub p99_us: f64,
    /// Median server CPU per message, µs.
    pub cpu_us_per_msg: Option<f64>,
    /// Median RSS per connection, bytes.
    pub rss_per_conn: Option<f64>,
    /// Errors summed over repeats.
    pub errors: u64,
    /// Warnings of every repeat, without duplicates.
    pub warnings: Vec<String>,
}

/// Summarises `runs` (series name, run) per (series, mode, connections, offered rate),
/// sorted by mode, series kind, series, connections and rate.
pub fn echo_rows<'a>(runs: impl IntoIterator<Item = (&'a str, &'a EchoRun)>) -> Vec<EchoRow> {
    type Key<'a> = (&'a str, ServerKind, &'a str, u64, u64);
    let mut groups: BTreeMap<Key<'a>, Vec<&'a EchoRun>> = BTreeMap::new();
    for (series, run) in runs {
        let rate = run.offered_rate.map_or(0, |r| r.to_bits());
        let key = (
            run.mode.as_str(),
            server_kind(&run.runtime),
            series,
            run.connections,
            rate,
        );
        groups.entry(key).or_default().push(run);
    }
    let median = |v: Vec<f64>| Spread::of(v).map(|s| s.median);
    groups
        .into_iter()
        .filter_map(|((mode, _, series, connections, _), runs)| {
            let mut warnings: Vec<String> = Vec::new();
            for w in runs.iter().flat_map(|r| &r.warnings) {
                if !warnings.contains(w) {
                    warnings.push(w.clone());
                }
            }
            Some(EchoRow {
                series: series.to_string(),
                connections,
                mode: mode.to_string(),
                offered_rate: runs[0].offered_rate,
                repeats: runs.len(),
                throughput: Spread::of(runs.iter().map(|r| r.throughput_msgs_per_s))?,
                p50_us: median(runs.iter().map(|r| r.latency_us.p50).collect())?,
                p99_us: median(runs.iter().map(|r| r.latency_us.p99).collect())?,
                cpu_us_per_msg: median(
                    runs.iter()
                        .filter_map(|r| r.server_cpu_us_per_msg)
                        .collect(),
                ),
                rss_per_conn: median(
                    runs.iter()
                        .filter_map(|r| r.rss_per_connection_bytes)
                        .collect(),
                ),
                errors: runs.iter().map(|r| r.errors.total()).sum(),
                warnings,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_nan() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of([4.0, 1.0, 2.0, f64::NAN, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(Spread::of([]), None);
    }

    #[test]
    fn kinds() {
        assert_eq!(server_kind("threads"), ServerKind::Baseline);
        assert_eq!(server_kind("epoll-floor"), ServerKind::Floor);
        assert_eq!(server_kind("tokio-ct"), ServerKind::Runtime);
    }
}
