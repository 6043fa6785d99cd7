//! The echo tables of the terminal, in the order a reader needs them: the equal-load
//! comparison first (every server at one offered rate: server CPU per message, client CPU
//! per message, corrected latency, errors), then capacities, then the curves (medians over
//! repeats with min–max, client-bound points marked `*` and never the best), the epoll vs
//! io_uring verdicts when a pair of [`crate::io_models::PAIRS`] is present, then the
//! distinct warnings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use harness::results::{
    CapacityResult, EchoRun, EqualLoadBasis, RunPurpose, RunStatus, ServerInstructions,
};

use crate::charts::si;
use crate::stats::{server_kind, ServerKind, Spread};

/// Every echo table of a results file's parts, the equal-load one first.
pub fn render(runs: &[EchoRun], bases: &[EqualLoadBasis], capacity: &[CapacityResult]) -> String {
    let mut out = String::new();
    let equal = equal_load_table(runs, bases);
    if !equal.is_empty() {
        out += &equal;
        out.push('\n');
    }
    if !capacity.is_empty() {
        out += &capacity_table(capacity);
        out.push('\n');
    }
    let curve: Vec<&EchoRun> = runs
        .iter()
        .filter(|r| r.purpose == RunPurpose::Curve)
        .collect();
    if !curve.is_empty() {
        out += &curve_table(&curve);
    }
    let multi: Vec<&EchoRun> = runs.iter().filter(|r| !r.hosts.is_empty()).collect();
    if !multi.is_empty() {
        out += &hosts_table(&multi);
    }
    let refs: Vec<&EchoRun> = runs.iter().collect();
    let pairs = crate::io_models::text(&refs, capacity);
    if !pairs.is_empty() {
        out.push('\n');
        out += &pairs;
    }
    out += &notes(runs);
    out
}

/// Points run over several hosts: each host beside the merged figures (counts summed,
/// percentiles from the added histograms), with its clock offset at the point's start.
fn hosts_table(runs: &[&EchoRun]) -> String {
    let mut rows = Vec::new();
    let figures = |r: &EchoRun| {
        vec![
            r.established.to_string(),
            r.measured_messages
                .map_or("-".to_string(), |m| m.to_string()),
            format!("{:.0}", r.throughput_msgs_per_s),
            format!("{:.0}", r.latency_us.p50),
            format!("{:.0}", r.latency_us.p99),
            r.errors.total().to_string(),
            r.status.to_string(),
        ]
    };
    for r in runs {
        let point = format!("{} x {} r{}", r.runtime, r.connections, r.repeat);
        for h in &r.hosts {
            let clock = match (h.clock_offset_ms, h.clock_rtt_ms) {
                (Some(o), Some(rtt)) => format!("{o:+.2} ±{:.2}", rtt / 2.0),
                _ => "-".into(),
            };
            let mut row = vec![
                point.clone(),
                h.host.clone(),
                h.shard.clone().unwrap_or_else(|| h.role.clone()),
                clock,
            ];
            match (&h.run, &h.error) {
                (Some(run), _) => row.extend(figures(run)),
                (None, Some(e)) if h.role == "agent" => {
                    row.extend(["-", "-", "-", "-", "-", "-"].map(String::from));
                    row.push(format!("no result: {e}"));
                }
                _ => row.extend(["", "", "", "", "", "", ""].map(String::from)),
            }
            rows.push(row);
        }
        let mut row = vec![point.clone(), "merged".into(), String::new(), String::new()];
        row.extend(figures(r));
        rows.push(row);
    }
    let header = [
        "point", "host", "shard", "clock ms", "conns", "messages", "msg/s", "p50 us", "p99 us",
        "errors", "status",
    ];
    format!(
        "\nHosts (merged: counts summed, percentiles from the added histograms; clock: the \
         host's minus this one's at the point's start)\n{}",
        table(&header, &rows, &[0, 1, 2, 10])
    )
}

/// Fixed-width rendering: first column left, others right.
fn table(header: &[&str], rows: &[Vec<String>], left: &[usize]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: Vec<String>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if left.contains(&c) {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    out += &line(header.iter().map(|h| h.to_string()).collect());
    out += &"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len().saturating_sub(1)));
    out.push('\n');
    for r in rows {
        out += &line(r.clone());
    }
    out
}

fn median(v: impl IntoIterator<Item = f64>) -> Option<f64> {
    Spread::of(v).map(|s| s.median)
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

pub(crate) fn spread_cell(s: Option<Spread>, digits: usize) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.min == s.max => format!("{:.digits$}", s.median),
        Some(s) => format!(
            "{:.digits$} ({:.digits$}-{:.digits$})",
            s.median, s.min, s.max
        ),
    }
}

/// Status of a group of repeats: `ok`, or how many were partial/failed/with errors.
fn status_cell(runs: &[&EchoRun]) -> String {
    let partial = runs
        .iter()
        .filter(|r| r.status == RunStatus::Partial)
        .count();
    let failed = runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count();
    let errors = runs
        .iter()
        .filter(|r| r.status == RunStatus::Complete && r.errors.total() > 0)
        .count();
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if partial > 0 {
        parts.push(format!("{partial} partial"));
    }
    if errors > 0 {
        parts.push(format!("{errors} with errors"));
    }
    if parts.is_empty() {
        "ok".into()
    } else {
        parts.join(", ")
    }
}

/// Groups runs by (connections, kind, server name) in first-seen server order.
fn by_server<'a>(
    runs: impl IntoIterator<Item = &'a EchoRun>,
) -> Vec<((u64, String), Vec<&'a EchoRun>)> {
    let mut groups: Vec<((u64, String), Vec<&EchoRun>)> = Vec::new();
    for r in runs {
        let key = (r.connections, r.runtime.clone());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups.sort_by_key(|g| (g.0 .0, server_kind(&g.0 .1)));
    groups
}

/// The equal-load comparison: one row per server and connection count.
pub fn equal_load_table(runs: &[EchoRun], bases: &[EqualLoadBasis]) -> String {
    let equal: Vec<&EchoRun> = runs
        .iter()
        .filter(|r| r.purpose == RunPurpose::EqualLoad)
        .collect();
    let mut out = String::new();
    if equal.is_empty() && bases.is_empty() {
        return out;
    }
    out += "Equal load: every server at the same offered rate (open loop); lower server CPU per \
            message and latency are better\n";
    for b in bases {
        let _ = writeln!(
            out,
            "  {} connections: {:.0} msg/s, {}",
            b.connections, b.rate, b.basis
        );
    }
    let groups = by_server(equal);
    let floor_cpu: BTreeMap<u64, f64> = groups
        .iter()
        .filter(|g| g.0 .1 == "epoll-floor")
        .filter_map(|g| {
            Some((
                g.0 .0,
                median(g.1.iter().filter_map(|r| r.server_cpu_us_per_msg))?,
            ))
        })
        .collect();
    let header = [
        "server",
        "conns",
        "rate",
        "msg/s",
        "server us/msg (min-max)",
        "x floor",
        "client us/msg",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "errors",
        "status",
    ];
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|((conns, name), rs)| {
            let cpu = Spread::of(rs.iter().filter_map(|r| r.server_cpu_us_per_msg));
            let measured: Vec<&&EchoRun> = rs.iter().filter(|r| r.messages() > 0.0).collect();
            vec![
                name.clone(),
                conns.to_string(),
                opt(rs[0].offered_rate, si),
                opt(median(measured.iter().map(|r| r.throughput_msgs_per_s)), si),
                spread_cell(cpu, 2),
                match (cpu, floor_cpu.get(conns)) {
                    (Some(c), Some(f)) if *f > 0.0 => format!("{:.2}", c.median / f),
                    _ => "-".into(),
                },
                opt(
                    median(rs.iter().filter_map(|r| r.client_cpu_us_per_msg)),
                    |v| format!("{v:.2}"),
                ),
                opt(median(measured.iter().map(|r| r.latency_us.p50)), si),
                opt(median(measured.iter().map(|r| r.latency_us.p99)), si),
                opt(median(measured.iter().map(|r| r.latency_us.p999)), si),
                rs.iter().map(|r| r.errors.total()).sum::<u64>().to_string(),
                status_cell(rs),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out += &table(&header, &rows, &[0, 11]);
    }
    out
}

/// Capacities: one row per server and connection count.
pub fn capacity_table(results: &[CapacityResult]) -> String {
    let mut out = String::from(
        "Capacity: the highest offered rate with corrected p99 under the bound and no error\n",
    );
    let header = [
        "server",
        "conns",
        "p99 bound",
        "capacity msg/s",
        "p99 us",
        "server us/msg",
        "steps",
        "note",
    ];
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|c| {
            vec![
                c.runtime.clone(),
                c.connections.to_string(),
                harness::units::format_duration(std::time::Duration::from_secs_f64(
                    c.p99_bound_us.max(0.0) / 1e6,
                )),
                match (c.capacity_msgs_per_s, c.client_limited) {
                    (Some(v), true) => format!(">= {}", si(v)),
                    (Some(v), false) => si(v),
                    (None, _) => "-".into(),
                },
                opt(c.p99_us, si),
                opt(c.server_cpu_us_per_msg, |v| format!("{v:.2}")),
                c.steps.len().to_string(),
                c.note.clone(),
            ]
        })
        .collect();
    out += &table(&header, &rows, &[0, 7]);
    out
}

/// Curve points: one row per server × connections × mode × rate, medians over repeats.
pub fn curve_table(runs: &[&EchoRun]) -> String {
    type Key = (String, u64, u64, String);
    let mut groups: Vec<(Key, Vec<&EchoRun>)> = Vec::new();
    for r in runs {
        let key = (
            r.mode.clone(),
            r.connections,
            r.offered_rate.map_or(0, f64::to_bits),
            r.runtime.clone(),
        );
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups.sort_by(|a, b| {
        (
            &a.0 .0,
            a.0 .1,
            f64::from_bits(a.0 .2),
            server_kind(&a.0 .3),
        )
            .partial_cmp(&(
                &b.0 .0,
                b.0 .1,
                f64::from_bits(b.0 .2),
                server_kind(&b.0 .3),
            ))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let header = [
        "server",
        "conns",
        "estab",
        "mode",
        "msg/s median (min-max)",
        "p50 us",
        "p99 us",
        "server us/msg",
        "client us/msg",
        "rss/conn",
        "runtime/conn",
        "errors",
        "status",
    ];
    let mut any_bound = false;
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|((mode, conns, _, name), rs)| {
            let measured: Vec<&&EchoRun> = rs.iter().filter(|r| r.messages() > 0.0).collect();
            let tput = Spread::of(measured.iter().map(|r| r.throughput_msgs_per_s));
            let bound = rs.iter().filter(|r| r.client_bound).count();
            any_bound |= bound > 0;
            let mark = if bound * 2 > rs.len() { "*" } else { "" };
            let mode = match rs[0].offered_rate {
                Some(r) if mode == "open" => format!("open {}/s", si(r)),
                _ => mode.clone(),
            };
            vec![
                name.clone(),
                conns.to_string(),
                opt(median(rs.iter().map(|r| r.established as f64)), |e| {
                    format!("{e:.0}")
                }),
                mode,
                match tput {
                    Some(s) => format!("{}{mark} ({}-{})", si(s.median), si(s.min), si(s.max)),
                    None => "-".into(),
                },
                opt(median(measured.iter().map(|r| r.latency_us.p50)), si),
                opt(median(measured.iter().map(|r| r.latency_us.p99)), si),
                opt(
                    median(rs.iter().filter_map(|r| r.server_cpu_us_per_msg)),
                    |v| format!("{v:.2}"),
                ),
                opt(
                    median(rs.iter().filter_map(|r| r.client_cpu_us_per_msg)),
                    |v| format!("{v:.2}"),
                ),
                opt(
                    median(rs.iter().filter_map(|r| r.rss_per_connection_bytes)),
                    bytes,
                ),
                opt(
                    median(rs.iter().filter_map(|r| r.runtime_rss_per_connection_bytes)),
                    bytes,
                ),
                rs.iter().map(|r| r.errors.total()).sum::<u64>().to_string(),
                status_cell(rs),
            ]
        })
        .collect();
    let mut out = table(&header, &rows, &[0, 3, 12]);
    if any_bound {
        out += "* client-bound: the load generator used >= 85% of its cores (most repeats); the \
                figure is the client's ceiling as much as the server's, and is never ranked\n";
    }
    out
}

/// The distinct warnings of every run, one line each.
pub fn notes(runs: &[EchoRun]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for r in runs {
        for w in &r.warnings {
            let note = format!("{} x {} ({}): {w}", r.runtime, r.connections, r.mode);
            if !seen.contains(&note) {
                seen.push(note);
            }
        }
    }
    if seen.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nwarnings:\n");
    for n in seen {
        let _ = writeln!(out, "  {n}");
    }
    out
}

/// Bytes for humans (may be negative: RSS can shrink).
pub fn bytes(v: f64) -> String {
    if v.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / 1024.0 / 1024.0)
    } else if v.abs() >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

/// The floor a server's instructions are compared with: uring-floor for the io_uring member
/// of an epoll-vs-io_uring pair, epoll-floor for the rest; none for a floor itself.
fn floor_of(server: &str) -> Option<&'static str> {
    match server {
        s if server_kind(s) == ServerKind::Floor => None,
        s if crate::io_models::PAIRS.iter().any(|(_, uring)| *uring == s) => Some("uring-floor"),
        _ => Some("epoll-floor"),
    }
}

/// One row of the instructions table: a server at one connection count, over its repeats.
#[derive(Clone, Debug, PartialEq)]
pub struct InstructionRow {
    /// The server.
    pub server: String,
    /// Connections.
    pub connections: u64,
    /// Instructions per message, over the measured repeats.
    pub figure: Option<Spread>,
    /// Minus its floor's figure in the same repeat, over the repeats where both exist.
    pub above: Option<Spread>,
    /// The floor it is compared with; `None` for a floor.
    pub floor: Option<&'static str>,
    /// Repeats with a figure, and repeats in all.
    pub measured: usize,
    pub repeats: usize,
}

/// `bench instructions`' rows, by connection count, servers in the order first seen.
pub fn instruction_rows(results: &[ServerInstructions]) -> Vec<InstructionRow> {
    let figure = |server: &str, conns: u64, repeat: u32| {
        results
            .iter()
            .find(|r| r.runtime == server && r.connections == conns && r.repeat == repeat)
            .and_then(|r| r.instructions_per_msg)
    };
    let mut keys: Vec<(u64, &str)> = Vec::new();
    for r in results {
        if !keys.contains(&(r.connections, r.runtime.as_str())) {
            keys.push((r.connections, r.runtime.as_str()));
        }
    }
    keys.sort_by_key(|&(conns, _)| conns);
    keys.iter()
        .map(|&(conns, server)| {
            let mine: Vec<&ServerInstructions> = results
                .iter()
                .filter(|r| r.runtime == server && r.connections == conns)
                .collect();
            let floor = floor_of(server);
            InstructionRow {
                server: server.to_string(),
                connections: conns,
                figure: Spread::of(mine.iter().filter_map(|r| r.instructions_per_msg)),
                above: floor.and_then(|f| {
                    Spread::of(mine.iter().filter_map(|r| {
                        Some(r.instructions_per_msg? - figure(f, conns, r.repeat)?)
                    }))
                }),
                floor,
                measured: mine
                    .iter()
                    .filter(|r| r.instructions_per_msg.is_some())
                    .count(),
                repeats: mine.len(),
            }
        })
        .collect()
}

/// `bench instructions`: per server × connections, the median (min-max) over repeats of
/// user-space instructions per message, and what the server adds above its floor (the
/// difference within each repeat), then a line per figure that was not measured.
pub fn instructions_table(results: &[ServerInstructions]) -> String {
    let mut out = String::from(
        "Server user-space instructions per message (callgrind; the kernel's share is not counted)\n",
    );
    let header = [
        "server",
        "conns",
        "instr/msg median (min-max)",
        "above its floor",
        "floor",
        "repeats",
    ];
    let rows: Vec<Vec<String>> = instruction_rows(results)
        .into_iter()
        .map(|r| {
            vec![
                r.server,
                r.connections.to_string(),
                spread_cell(r.figure, 0),
                spread_cell(r.above, 0),
                r.floor.unwrap_or("(a floor)").to_string(),
                format!("{} of {}", r.measured, r.repeats),
            ]
        })
        .collect();
    out += &table(&header, &rows, &[0, 4]);
    for r in results.iter().filter(|r| r.instructions_per_msg.is_none()) {
        out += &format!(
            "not measured: {} x {} (repeat {}): {}\n",
            r.runtime,
            r.connections,
            r.repeat + 1,
            r.note.as_deref().unwrap_or("no reason recorded")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, t: f64, purpose: RunPurpose) -> EchoRun {
        EchoRun {
            runtime: name.into(),
            connections: 10,
            established: 10,
            mode: if purpose == RunPurpose::EqualLoad {
                "open"
            } else {
                "closed"
            }
            .into(),
            purpose,
            offered_rate: (purpose == RunPurpose::EqualLoad).then_some(1000.0),
            duration_s: 1.0,
            throughput_msgs_per_s: t,
            server_cpu_us_per_msg: Some(t / 1000.0),
            warnings: vec!["w".into()],
            ..EchoRun::default()
        }
    }

    #[test]
    fn equal_load_comes_first_and_curves_show_spreads() {
        let mut runs = vec![
            run("x", 1000.0, RunPurpose::Curve),
            run("x", 3000.0, RunPurpose::Curve),
            run("x", 2000.0, RunPurpose::Curve),
            run("x", 1000.0, RunPurpose::EqualLoad),
            run("epoll-floor", 2000.0, RunPurpose::EqualLoad),
        ];
        runs[1].client_bound = true;
        runs[2].client_bound = true;
        let text = render(&runs, &[], &[]);
        let equal = text.find("Equal load").unwrap();
        let curve = text.find("msg/s median").unwrap();
        assert!(equal < curve, "{text}");
        assert!(text.contains("2k* (1k-3k)"), "{text}");
        assert!(text.contains("* client-bound"), "{text}");
        assert!(text.contains(" 0.50 "), "x floor ratio: {text}");
        assert_eq!(text.matches("x x 10 (closed): w").count(), 1, "{text}");
    }

    fn counted(server: &str, conns: u64, repeat: u32, v: Option<f64>) -> ServerInstructions {
        ServerInstructions {
            runtime: server.into(),
            connections: conns,
            repeat,
            instructions_per_msg: v,
            note: v.is_none().then(|| "an outside command".into()),
            ..ServerInstructions::default()
        }
    }

    #[test]
    fn instructions_are_compared_with_the_floor_of_the_same_repeat() {
        let results = [
            counted("evloop", 100, 0, Some(770.0)),
            counted("epoll-floor", 100, 0, Some(100.0)),
            counted("evloop-uring", 100, 0, Some(1300.0)),
            counted("uring-floor", 100, 0, Some(800.0)),
            counted("evloop", 100, 1, Some(780.0)),
            counted("epoll-floor", 100, 1, Some(120.0)),
            counted("outside", 100, 0, None),
        ];
        let text = instructions_table(&results);
        let row = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        // Medians over repeats, and the differences within each repeat: 670 and 660.
        assert_eq!(
            row("evloop")[2..6],
            ["775", "(770-780)", "665", "(660-670)"]
        );
        assert_eq!(row("evloop")[6], "epoll-floor");
        assert_eq!(row("evloop-uring")[3..5], ["500", "uring-floor"]);
        assert_eq!(row("epoll-floor")[4..7], ["-", "(a", "floor)"]);
        assert!(text.contains("not measured: outside x 100 (repeat 1): an outside command"));
    }
}
