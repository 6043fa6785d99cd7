//! The report's headline echo sections: the equal-load comparison (every server at one
//! offered rate: server CPU per message against the floor, the client's own cost, corrected
//! latency, errors, whether the point may be ranked), capacities per server, and memory per
//! connection split into the buffer every server holds and the runtime's own share.

use std::fmt::Write as _;

use harness::results::{CapacityResult, EchoRun, EqualLoadBasis, RunPurpose, ServerInstructions};

use super::{empty_section, esc};
use crate::charts::si;
use crate::merge::LabelledRun;
use crate::stats::{server_kind, Spread};

/// Runs grouped by (connections, series), in kind then name order.
fn groups<'a>(runs: &[&'a LabelledRun<'a>]) -> Vec<((u64, String), Vec<&'a EchoRun>)> {
    let mut out: Vec<((u64, String), Vec<&EchoRun>)> = Vec::new();
    for r in runs {
        let key = (r.run.connections, r.series.to_string());
        match out.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r.run),
            None => out.push((key, vec![r.run])),
        }
    }
    out.sort_by(|a, b| {
        (a.0 .0, server_kind(&a.0 .1), &a.0 .1).cmp(&(b.0 .0, server_kind(&b.0 .1), &b.0 .1))
    });
    out
}

fn spread(v: impl IntoIterator<Item = f64>) -> Option<Spread> {
    Spread::of(v)
}

fn cell(s: Option<Spread>, f: fn(f64) -> String) -> String {
    match s {
        None => "—".into(),
        Some(s) if s.min == s.max => f(s.median),
        Some(s) => format!(
            "{}<div class=\"m\">{}–{}</div>",
            f(s.median),
            f(s.min),
            f(s.max)
        ),
    }
}

fn us2(v: f64) -> String {
    format!("{v:.2}")
}

/// Why a group may not be ranked (the first repeat's reason), or empty.
fn exclusion(runs: &[&EchoRun]) -> String {
    runs.iter()
        .find_map(|r| r.rank_exclusion())
        .unwrap_or_default()
}

/// The equal-load section.
pub(super) fn section(out: &mut String, runs: &[LabelledRun<'_>], bases: &[EqualLoadBasis]) {
    let (id, title) = ("equal-load", "Equal load");
    let equal: Vec<&LabelledRun<'_>> = runs
        .iter()
        .filter(|r| r.run.purpose == RunPurpose::EqualLoad)
        .collect();
    if equal.is_empty() {
        empty_section(
            out,
            id,
            title,
            "No equal-load runs in these results (`loopbench bench equal`, or the default `loopbench run`).",
        );
        return;
    }
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>Every server gets the same offered rate (open \
         loop), so the load generator does identical work for each, and what differs is the \
         server: its CPU time per message (lower is better; “× floor” is the ratio to the \
         hand-written epoll server), its corrected latency (from the intended send time) and \
         its errors. Medians over repeats, min–max below.</p>\n<ul>"
    );
    for b in bases {
        let _ = write!(
            out,
            "<li><b>{} connections: {} msg/s</b> — {}</li>",
            b.connections,
            si(b.rate),
            esc(&b.basis)
        );
    }
    out.push_str("</ul>\n<div class=\"scroll\"><table class=\"num\"><thead><tr><th>server</th><th>conns</th>\
        <th>rate</th><th>msg/s</th><th>server µs/msg</th><th>× floor</th><th>client µs/msg</th>\
        <th>p50 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>errors</th><th>ranked</th></tr></thead><tbody>\n");
    let gs = groups(&equal);
    let floor = |conns: u64| {
        gs.iter()
            .find(|g| g.0 .0 == conns && g.0 .1 == "epoll-floor")
            .and_then(|g| spread(g.1.iter().filter_map(|r| r.server_cpu_us_per_msg)))
            .map(|s| s.median)
    };
    for ((conns, name), rs) in &gs {
        let measured: Vec<&&EchoRun> = rs.iter().filter(|r| r.messages() > 0.0).collect();
        let cpu = spread(rs.iter().filter_map(|r| r.server_cpu_us_per_msg));
        let ratio = match (cpu, floor(*conns)) {
            (Some(c), Some(f)) if f > 0.0 => format!("{:.2}", c.median / f),
            _ => "—".into(),
        };
        let why = exclusion(rs);
        let errors: u64 = rs.iter().map(|r| r.errors.total()).sum();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{conns}</td><td>{}</td><td>{}</td><td>{}</td><td>{ratio}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{errors}</td><td class=\"w\">{}</td></tr>",
            esc(name),
            rs[0].offered_rate.map_or("—".into(), si),
            cell(spread(measured.iter().map(|r| r.throughput_msgs_per_s)), si),
            cell(cpu, us2),
            cell(spread(rs.iter().filter_map(|r| r.client_cpu_us_per_msg)), us2),
            cell(spread(measured.iter().map(|r| r.latency_us.p50)), si),
            cell(spread(measured.iter().map(|r| r.latency_us.p99)), si),
            cell(spread(measured.iter().map(|r| r.latency_us.p999)), si),
            if errors > 0 { "bad" } else { "" },
            if why.is_empty() { "yes".to_string() } else { format!("no: {}", esc(&why)) }
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// The capacity section.
pub(super) fn capacity(out: &mut String, results: &[CapacityResult]) {
    let (id, title) = ("capacity", "Capacity");
    if results.is_empty() {
        empty_section(
            out,
            id,
            title,
            "No capacity searches in these results (`loopbench bench capacity`).",
        );
        return;
    }
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>The highest offered rate whose corrected p99 \
         stays under the bound with no error, by bisection over short open-loop runs (the best \
         rate passed twice). “≥” marks a lower bound: the load generator ran out first.</p>\n\
         <div class=\"scroll\"><table class=\"num\"><thead><tr><th>server</th><th>conns</th>\
         <th>p99 bound</th><th>capacity msg/s</th><th>p99 µs</th><th>server µs/msg</th><th>steps</th>\
         <th>how it ended</th></tr></thead><tbody>\n"
    );
    for c in results {
        let cap = match (c.capacity_msgs_per_s, c.client_limited) {
            (Some(v), true) => format!("≥ {}", si(v)),
            (Some(v), false) => si(v),
            (None, _) => "—".into(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{} µs</td><td>{cap}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"w\">{}</td></tr>",
            esc(&c.runtime),
            c.connections,
            si(c.p99_bound_us),
            c.p99_us.map_or("—".into(), si),
            c.server_cpu_us_per_msg.map_or("—".into(), us2),
            c.steps.len(),
            esc(&c.note)
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// The `bench instructions` section, when the results hold its figures.
pub(super) const INSTRUCTIONS: (&str, &str) = ("instructions", "Instructions per message");

pub(super) fn instructions(out: &mut String, results: &[ServerInstructions]) {
    if results.is_empty() {
        return;
    }
    let (id, title) = INSTRUCTIONS;
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>Each server's user-space instructions per \
         echoed message, counted by callgrind over two closed-loop loads (the difference of their \
         counts over the difference of their messages), median (min–max) of the repeats; \
         “above its floor” is the difference from epoll-floor (uring-floor for the io_uring \
         runtimes) in the same repeat. The kernel's share, most of an echo's CPU time, is not \
         counted.</p>\n<div class=\"scroll\"><table class=\"num\"><thead><tr><th>server</th>\
         <th>conns</th><th>instr/msg</th><th>above its floor</th><th>floor</th><th>repeats</th>\
         </tr></thead><tbody>\n"
    );
    for r in crate::echo_text::instruction_rows(results) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td></tr>",
            esc(&r.server),
            r.connections,
            crate::echo_text::spread_cell(r.figure, 0),
            crate::echo_text::spread_cell(r.above, 0),
            r.floor.unwrap_or("(a floor)"),
            r.measured,
            r.repeats
        );
    }
    out.push_str("</tbody></table></div>\n");
    for r in results.iter().filter(|r| r.instructions_per_msg.is_none()) {
        let _ = writeln!(
            out,
            "<p class=\"w\">Not measured: {} × {} (repeat {}): {}</p>",
            esc(&r.runtime),
            r.connections,
            r.repeat + 1,
            esc(r.note.as_deref().unwrap_or("no reason recorded"))
        );
    }
    out.push_str("</section>\n");
}

/// Memory per connection split into the buffer and the runtime (closed-loop curve runs).
pub(super) fn memory(out: &mut String, runs: &[LabelledRun<'_>]) {
    let curve: Vec<&LabelledRun<'_>> = runs
        .iter()
        .filter(|r| r.run.purpose == RunPurpose::Curve && r.run.rss_per_connection_bytes.is_some())
        .collect();
    if curve.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"memory\"><h2>Memory per connection: buffer and runtime</h2>\n<p>Every server \
         reads into the same buffer per connection (<code>--buffer</code>); the epoll floor holds \
         that buffer and nothing else, so a server's RSS per connection minus the floor's, at the \
         same point of the same run, is what the runtime itself costs per connection.</p>\n\
         <div class=\"scroll\"><table class=\"num\"><thead><tr><th>server</th><th>conns</th>\
         <th>RSS/conn</th><th>buffer</th><th>runtime's own</th></tr></thead><tbody>\n",
    );
    let bytes = |v: f64| crate::echo_text::bytes(v);
    for ((conns, name), rs) in groups(&curve) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{conns}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            cell(
                spread(rs.iter().filter_map(|r| r.rss_per_connection_bytes)),
                bytes
            ),
            rs[0].buffer_bytes.map_or("—".into(), |b| bytes(b as f64)),
            cell(
                spread(rs.iter().filter_map(|r| r.runtime_rss_per_connection_bytes)),
                bytes
            ),
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}
