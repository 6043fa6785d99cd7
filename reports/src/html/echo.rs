//! The echo sections of the report: throughput, latency spectrum, server CPU and memory per
//! connection, and open-loop latency against offered rate.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use harness::results::EchoRun;

use super::{empty_section, esc, Figures};
use crate::charts::{
    baseline_style, floor_style, percentile_ticks, runtime_style, si, Axis, Chart, LineStyle,
    Point, Scale, Series,
};
use crate::latency::{spectrum, LatencyKind, MAX_QUANTILE};
use crate::merge::LabelledRun;
use crate::stats::{echo_rows, group_series, server_kind, RunSeries, ServerKind};
use crate::ReportError;

/// Colours by runtime id, so a runtime keeps its colour in every chart, the micro-benchmark
/// dot plot included.
pub(super) struct Palette {
    styles: BTreeMap<String, (ServerKind, usize)>,
    last_input: usize,
}

impl Palette {
    /// Colours for the runtimes of `runs` and of `more` (ids seen only outside the echo
    /// runs, such as micro-benchmark ones). Echo runtimes are numbered first, so their
    /// colours do not depend on `more`.
    pub(super) fn new(runs: &[LabelledRun<'_>], more: &[&str]) -> Self {
        let mut styles = BTreeMap::new();
        let mut counts = BTreeMap::new();
        let mut echo: Vec<&str> = runs.iter().map(|r| r.runtime).collect();
        let mut others: Vec<&str> = more
            .iter()
            .copied()
            .filter(|id| !echo.contains(id))
            .collect();
        for ids in [&mut echo, &mut others] {
            ids.sort_by_key(|id| (server_kind(id), *id));
            ids.dedup();
        }
        for id in echo.into_iter().chain(others) {
            let kind = server_kind(id);
            let n = counts.entry(kind).or_insert(0usize);
            styles.insert(id.to_string(), (kind, *n));
            *n += 1;
        }
        let last_input = runs.iter().map(|r| r.input).max().unwrap_or(0);
        Self { styles, last_input }
    }

    fn style(&self, series: &RunSeries<'_>) -> LineStyle {
        let input = series
            .points
            .first()
            .and_then(|p| p.1.first())
            .map(|r| r.input);
        let faded = input.is_some_and(|i| i < self.last_input);
        self.runtime(&series.runtime, faded)
    }

    /// The style of runtime `id`; `faded` for an older input of an overlay.
    pub(super) fn runtime(&self, id: &str, faded: bool) -> LineStyle {
        match self.styles.get(id) {
            Some((ServerKind::Baseline, i)) => baseline_style(*i, faded),
            Some((ServerKind::Floor, _)) => floor_style(faded),
            Some((ServerKind::Runtime, i)) => runtime_style(*i, faded),
            None => runtime_style(0, faded),
        }
    }
}

/// Chart series of `metric` (median over repeats, min–max whisker) for every run series.
fn metric_series(
    groups: &[RunSeries<'_>],
    palette: &Palette,
    metric: impl Fn(&EchoRun) -> Option<f64> + Copy,
) -> Vec<Series> {
    groups
        .iter()
        .map(|g| Series {
            name: g.name.clone(),
            style: palette.style(g),
            points: g
                .spreads(metric)
                .into_iter()
                .map(|(x, s)| Point {
                    x,
                    y: s.median,
                    whisker: Some((s.min, s.max)),
                    hollow: g.client_bound_at(x),
                })
                .collect(),
            markers: true,
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

fn connections_axis(groups: &[RunSeries<'_>]) -> Axis {
    let mut xs: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.points.iter().map(|p| p.0))
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let ticks = xs.into_iter().map(|x| (x, si(x))).collect();
    Axis::with_ticks("connections (log scale)", Scale::Log10, ticks)
}

const WHISKERS: &str = "Each point is the median over the repeats; whiskers span their min–max.";
const STYLES: &str = "Dashed lines: the blocking/threads/threadpool baselines; thick black: epoll-floor, the hand-written epoll server. Hollow rings: client-bound points (the load generator used at least 85% of its cores), which measure the client as much as the server and are never ranked.";

/// Throughput against connections (closed loop).
pub(super) fn throughput(
    out: &mut String,
    figures: &mut Figures,
    runs: &[LabelledRun<'_>],
    palette: &Palette,
) -> Result<(), ReportError> {
    let (id, title) = ("throughput", "Echo throughput");
    let groups = group_series(runs, "closed", |r| Some(r.run.connections as f64));
    let series = metric_series(&groups, palette, |r| Some(r.throughput_msgs_per_s));
    if series.is_empty() {
        empty_section(out, id, title, "No closed-loop echo runs in these results.");
        return Ok(());
    }
    let _ = writeln!(out, "<section id=\"{id}\"><h2>{title}</h2>");
    let chart = Chart {
        title: "Closed-loop echo throughput".into(),
        x: connections_axis(&groups),
        y: Axis::new("throughput (messages per second)", Scale::Linear),
        series,
    };
    figures.add(
        out,
        "throughput",
        &chart,
        &format!("Echoed messages per second against open connections; higher is better. {WHISKERS} {STYLES}"),
    )?;
    out.push_str("</section>\n");
    Ok(())
}

/// Latency spectra (corrected and raw) at the largest connection count.
pub(super) fn latency(
    out: &mut String,
    figures: &mut Figures,
    runs: &[LabelledRun<'_>],
    palette: &Palette,
) -> Result<(), ReportError> {
    let (id, title) = ("latency", "Latency percentile spectrum");
    let mode = if runs.iter().any(|r| r.run.mode == "closed") {
        "closed"
    } else {
        "open"
    };
    let Some(max_conn) = runs
        .iter()
        .filter(|r| r.run.mode == mode)
        .map(|r| r.run.connections)
        .max()
    else {
        empty_section(out, id, title, "No echo runs in these results.");
        return Ok(());
    };
    let at_max: Vec<LabelledRun<'_>> = runs
        .iter()
        .filter(|r| r.run.mode == mode && r.run.connections == max_conn)
        .copied()
        .collect();
    let groups = group_series(&at_max, mode, |_| Some(0.0));
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>Shown at the largest connection count only: \
         <b>{max_conn} connections</b>, {mode} loop; the repeats of each runtime are merged.</p>\n"
    );
    for (kind, stem, name, what) in [
        (
            LatencyKind::Corrected,
            "latency-corrected",
            "Corrected latency",
            "from the intended send time (corrected for coordinated omission in open loop)",
        ),
        (
            LatencyKind::Raw,
            "latency-raw",
            "Raw latency",
            "from the actual send time",
        ),
    ] {
        let mut from_fields = false;
        let series: Vec<Series> = groups
            .iter()
            .filter_map(|g| {
                let runs: Vec<&EchoRun> = g
                    .points
                    .iter()
                    .flat_map(|p| p.1.iter().map(|r| r.run))
                    .collect();
                let s = spectrum(&runs, kind)?;
                from_fields |= !s.from_histogram;
                Some(Series {
                    name: g.name.clone(),
                    style: palette.style(g),
                    points: s
                        .points
                        .iter()
                        .map(|&(q, v)| Point {
                            x: 1.0 / (1.0 - q),
                            y: v.max(1.0),
                            whisker: None,
                            hollow: false,
                        })
                        .collect(),
                    markers: false,
                })
            })
            .collect();
        if series.is_empty() {
            let _ = writeln!(out, "<p class=\"empty\">{name}: no latency recorded.</p>");
            continue;
        }
        let chart = Chart {
            title: format!("{name} at {max_conn} connections"),
            x: Axis::with_ticks(
                "percentile (log scale of 1/(1-p))",
                Scale::Log10,
                percentile_ticks(1.0 / (1.0 - MAX_QUANTILE)),
            ),
            y: Axis::new("latency (µs, log scale)", Scale::Log10),
            series,
        };
        let source = if from_fields {
            " Some runtimes had no histogram: their lines join the p50–p99.99 fields only."
        } else {
            ""
        };
        figures.add(out, stem, &chart, &format!(
            "Latency {what}: at x = 99%, the y value is the latency 99% of messages beat; lower and flatter is better.{source}"
        ))?;
    }
    out.push_str("</section>\n");
    Ok(())
}

/// Server CPU per message and RSS per connection against connections.
pub(super) fn resources(
    out: &mut String,
    figures: &mut Figures,
    runs: &[LabelledRun<'_>],
    palette: &Palette,
) -> Result<(), ReportError> {
    let (id, title) = ("resources", "Server CPU and memory");
    let groups = group_series(runs, "closed", |r| Some(r.run.connections as f64));
    let cpu = metric_series(&groups, palette, |r| r.server_cpu_us_per_msg);
    let rss = metric_series(&groups, palette, |r| {
        r.rss_per_connection_bytes.map(|b| b / 1024.0)
    });
    if cpu.is_empty() && rss.is_empty() {
        empty_section(
            out,
            id,
            title,
            "No server CPU or memory figures in these results.",
        );
        return Ok(());
    }
    let _ = writeln!(out, "<section id=\"{id}\"><h2>{title}</h2>");
    if cpu.is_empty() {
        out.push_str("<p class=\"empty\">No server CPU figures in these results.</p>\n");
    } else {
        let chart = Chart {
            title: "Server CPU time per echoed message".into(),
            x: connections_axis(&groups),
            y: Axis::new("server CPU (µs per message)", Scale::Linear),
            series: cpu,
        };
        figures.add(out, "cpu-per-message", &chart, &format!(
            "User + system CPU time of the server process divided by messages echoed (closed loop); lower is better. {WHISKERS}"
        ))?;
    }
    if rss.is_empty() {
        out.push_str("<p class=\"empty\">No memory figures in these results.</p>\n");
    } else {
        let chart = Chart {
            title: "Server memory per connection".into(),
            x: connections_axis(&groups),
            y: Axis::new("RSS per connection (KiB)", Scale::Linear),
            series: rss,
        };
        figures.add(out, "rss-per-connection", &chart, &format!(
            "Growth of the server's resident memory with connections open, divided by connections established; lower is better. {WHISKERS}"
        ))?;
    }
    out.push_str("</section>\n");
    Ok(())
}

/// p99 latency against offered rate (open loop).
pub(super) fn open_loop(
    out: &mut String,
    figures: &mut Figures,
    runs: &[LabelledRun<'_>],
    palette: &Palette,
) -> Result<(), ReportError> {
    let (id, title) = ("open-loop", "Open-loop latency against offered rate");
    let open: Vec<&LabelledRun<'_>> = runs.iter().filter(|r| r.run.mode == "open").collect();
    let mut conns: Vec<u64> = open.iter().map(|r| r.run.connections).collect();
    conns.sort_unstable();
    conns.dedup();
    // Series names carry the connection count when open runs used several.
    let names: Vec<String> = open
        .iter()
        .map(|r| match conns.len() {
            1 => r.series.to_string(),
            _ => format!("{} @{} conn", r.series, r.run.connections),
        })
        .collect();
    let renamed: Vec<LabelledRun<'_>> = open
        .iter()
        .zip(&names)
        .map(|(r, n)| LabelledRun { series: n, ..**r })
        .collect();
    let groups = group_series(&renamed, "open", |r| r.run.offered_rate);
    let series = metric_series(&groups, palette, |r| {
        Some(r.latency_us.p99).filter(|v| *v > 0.0)
    });
    if series.is_empty() {
        empty_section(
            out,
            id,
            title,
            "No open-loop echo runs (with an offered rate) in these results.",
        );
        return Ok(());
    }
    let conn_note = match conns.as_slice() {
        [c] => format!(" at {c} connections"),
        _ => String::new(),
    };
    let _ = writeln!(out, "<section id=\"{id}\"><h2>{title}</h2>");
    let chart = Chart {
        title: format!("Open-loop p99 latency{conn_note}"),
        x: Axis::new(
            "offered rate (messages per second, log scale)",
            Scale::Log10,
        ),
        y: Axis::new("p99 latency, corrected (µs, log scale)", Scale::Log10),
        series,
    };
    figures.add(out, "open-loop-p99", &chart, &format!(
        "The load generator sends at a fixed rate; the line rises where a server stops keeping up. Lower and further right is better. {WHISKERS}"
    ))?;
    out.push_str("</section>\n");
    Ok(())
}

/// Every echo point as numbers: median over repeats per runtime, connections, mode, rate.
pub(super) fn figures_table(out: &mut String, runs: &[LabelledRun<'_>]) {
    let (id, title) = ("echo-table", "Echo figures");
    let rows = echo_rows(runs.iter().map(|r| (r.series, r.run)));
    if rows.is_empty() {
        empty_section(out, id, title, "No echo runs in these results.");
        return;
    }
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<details open><summary>{} points, medians over repeats \
         (throughput with min–max)</summary><div class=\"scroll\"><table class=\"num\"><thead><tr>\
         <th>runtime</th><th>mode</th><th>conns</th><th>rate</th><th>repeats</th><th>msg/s</th><th>min–max</th>\
         <th>p50 µs</th><th>p99 µs</th><th>CPU µs/msg</th><th>RSS/conn</th><th>errors</th><th>warnings</th>\
         </tr></thead><tbody>\n",
        rows.len()
    );
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("—".to_string(), f);
    for r in &rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}–{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"w\">{}</td></tr>",
            esc(&r.series),
            esc(&r.mode),
            r.connections,
            opt(r.offered_rate, si),
            r.repeats,
            si(r.throughput.median),
            si(r.throughput.min),
            si(r.throughput.max),
            si(r.p50_us),
            si(r.p99_us),
            opt(r.cpu_us_per_msg, |v| format!("{v:.2}")),
            opt(r.rss_per_conn, |v| format!("{} B", si(v))),
            if r.errors > 0 { "bad" } else { "" },
            r.errors,
            esc(&r.warnings.join("; "))
        );
    }
    out.push_str("</tbody></table></div></details></section>\n");
}

/// Points run over several hosts (`bench echo --hosts`): every host's figures beside the
/// merged ones, with its clock offset at the point's start. Absent when there are none.
pub(super) fn hosts_table(out: &mut String, runs: &[LabelledRun<'_>]) {
    let multi: Vec<&LabelledRun<'_>> = runs.iter().filter(|r| !r.run.hosts.is_empty()).collect();
    if multi.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"echo-hosts\"><h2>Load from several hosts</h2>\n<details open><summary>\
         Merged: counts summed, percentiles from the added histograms (never averaged); clock: \
         the host's minus the controller's at the point's start, ± half the round trip\
         </summary><div class=\"scroll\"><table class=\"num\"><thead><tr><th>point</th>\
         <th>host</th><th>shard</th><th>clock ms</th><th>conns</th><th>messages</th>\
         <th>msg/s</th><th>p50 µs</th><th>p99 µs</th><th>errors</th><th>status</th></tr>\
         </thead><tbody>\n",
    );
    let cells = |r: &EchoRun| {
        format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td>\
             <td>{}</td>",
            r.established,
            r.measured_messages
                .map_or("—".to_string(), |m| m.to_string()),
            si(r.throughput_msgs_per_s),
            si(r.latency_us.p50),
            si(r.latency_us.p99),
            if r.errors.total() > 0 { "bad" } else { "" },
            r.errors.total(),
            esc(&r.status.to_string())
        )
    };
    for r in multi {
        let point = format!(
            "{} × {} ({}, repeat {})",
            r.series, r.run.connections, r.run.mode, r.run.repeat
        );
        for h in &r.run.hosts {
            let clock = match (h.clock_offset_ms, h.clock_rtt_ms) {
                (Some(o), Some(rtt)) => format!("{o:+.2} ± {:.2}", rtt / 2.0),
                _ => "—".into(),
            };
            let figures = match (&h.run, &h.error) {
                (Some(run), _) => cells(run),
                (None, Some(e)) => format!("<td colspan=\"7\" class=\"w\">{}</td>", esc(e)),
                (None, None) => "<td colspan=\"7\"></td>".into(),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{clock}</td>{figures}</tr>",
                esc(&point),
                esc(&h.host),
                esc(h.shard.as_deref().unwrap_or(&h.role)),
            );
        }
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><b>merged</b></td><td></td><td></td>{}</tr>",
            esc(&point),
            cells(r.run)
        );
    }
    out.push_str("</tbody></table></div></details></section>\n");
}
