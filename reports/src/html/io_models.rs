//! The report's "epoll vs io_uring" section: present only when the results hold both
//! members of a pair of [`crate::io_models::PAIRS`]; per pair, a table per metric with each
//! (connections, message size), both members' median (min–max), the ratio and the verdict,
//! and the metric's one-line verdict under it.

use std::fmt::Write as _;

use harness::results::{CapacityResult, EchoRun};

use super::esc;
use crate::io_models::{compare, Metric, Side};

/// The id and title of the section (also in the table of contents when present).
pub(super) const SECTION: (&str, &str) = ("epoll-vs-io-uring", "epoll vs io_uring");

/// Whether the section has anything to show.
pub(super) fn present(runs: &[&EchoRun], capacity: &[CapacityResult]) -> bool {
    !compare(runs, capacity).is_empty()
}

fn side(out: &mut String, s: &Side, metric: Metric) {
    match s.spread {
        None => out.push_str("<td>—"),
        Some(sp) => {
            let _ = write!(
                out,
                "<td>{}<div class=\"m\">{}–{} · n={}</div>",
                esc(&metric.format(sp.median)),
                esc(&metric.format(sp.min)),
                esc(&metric.format(sp.max)),
                s.kept
            );
        }
    }
    if let Some(first) = s.excluded.first() {
        let _ = write!(
            out,
            "<div class=\"m\">{} excluded: {}</div>",
            s.excluded.len(),
            esc(first)
        );
    }
    out.push_str("</td>");
}

/// The section; nothing at all when no pair has both members.
pub(super) fn section(out: &mut String, runs: &[&EchoRun], capacity: &[CapacityResult]) {
    let pairs = compare(runs, capacity);
    if pairs.is_empty() {
        return;
    }
    let (id, title) = SECTION;
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>Pairs of servers that differ in their I/O \
         model: the same event loop over epoll and over io_uring, the two hand-written floors, \
         and tokio's current-thread runtime beside the io_uring runtimes. Each cell is the \
         median over the repeats with the range (min–max) under it; the ratio is io_uring's \
         median over epoll's. A difference is claimed only when the two ranges are disjoint; \
         points that may not be ranked (client-bound, partial, with errors, starved; \
         capacity searches without a capacity or with only a lower bound) are left out and \
         counted in the cell. RSS per connection is the runtime's share (minus the epoll \
         floor's at the same point); for the floors it is the whole figure.</p>\n"
    );
    for p in &pairs {
        let _ = writeln!(out, "<h3>{} vs {}</h3>", esc(&p.epoll), esc(&p.uring));
        for m in &p.metrics {
            let _ = writeln!(out, "<h4>{}</h4>", esc(m.metric.title()));
            if !m.cells.is_empty() {
                let _ = writeln!(
                    out,
                    "<div class=\"scroll\"><table class=\"num\"><thead><tr><th>conns</th>\
                     <th>size</th><th>{}</th><th>{}</th><th>ratio</th><th>verdict</th></tr>\
                     </thead><tbody>",
                    esc(&p.epoll),
                    esc(&p.uring)
                );
                for c in &m.cells {
                    let _ = write!(out, "<tr><td>{}</td><td>{} B</td>", c.connections, c.size);
                    side(out, &c.epoll, m.metric);
                    side(out, &c.uring, m.metric);
                    let ratio = c.ratio.map_or("—".to_string(), |r| format!("{r:.2}×"));
                    let _ = writeln!(
                        out,
                        "<td>{ratio}</td><td class=\"w\">{}</td></tr>",
                        esc(&c.verdict.text())
                    );
                }
                out.push_str("</tbody></table></div>\n");
            }
            let _ = writeln!(
                out,
                "<p class=\"verdict\"><b>Verdict ({}):</b> {}</p>",
                esc(m.metric.short()),
                esc(&m.verdict())
            );
        }
    }
    out.push_str("</section>\n");
}
