//! The conformance matrix of the report: scenarios as rows (group, rule id and text),
//! runtimes as columns, a colour per status, and a numbered list of every non-pass detail.

use std::fmt::Write as _;

use harness::results::{CellStatus, ConformanceCell};

use super::{empty_section, esc};
use crate::matrix::Matrix;
use crate::rules::rule_text;
use crate::terminal::format_measurement;

/// Writes the conformance section.
pub(super) fn section(out: &mut String, cells: &[ConformanceCell]) {
    let (id, title) = ("conformance", "Conformance matrix");
    if cells.is_empty() {
        empty_section(out, id, title, "No conformance results in these results.");
        return;
    }
    let matrix = Matrix::new(cells);
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>Each row is a scenario checking one rule of the \
         asyncio reference semantics; each column a runtime. Non-pass cells carry a note number; \
         the notes below give the reason.</p>\n<div class=\"legend\">"
    );
    for s in CellStatus::ALL {
        let _ = write!(out, "<span class=\"st {s}\">{s}</span>");
    }
    out.push_str("</div>\n<div class=\"scroll\"><table class=\"matrix\"><thead><tr><th>scenario</th><th>rule</th>");
    for r in &matrix.runtimes {
        let _ = write!(out, "<th>{}</th>", esc(r));
    }
    out.push_str("</tr></thead><tbody>\n");
    let mut notes: Vec<&ConformanceCell> = Vec::new();
    for row in &matrix.rows {
        let text = rule_text(row.rule).unwrap_or("(rule not in the reference)");
        let _ = write!(
            out,
            "<tr><td><code>{}</code><div class=\"group\">{}</div></td><td class=\"rule\"><b>{}</b> {}</td>",
            esc(row.scenario),
            esc(row.group),
            esc(row.rule),
            esc(text)
        );
        for cell in &row.cells {
            let Some(cell) = cell else {
                out.push_str("<td class=\"missing\">—</td>");
                continue;
            };
            let status = cell.status;
            let _ = write!(
                out,
                "<td class=\"st {status}\" title=\"{}\">{status}",
                esc(&cell.detail)
            );
            if status != CellStatus::Pass {
                notes.push(cell);
                let n = notes.len();
                let _ = write!(out, " <a class=\"note\" href=\"#note-{n}\">[{n}]</a>");
            }
            for m in &cell.measurements {
                let _ = write!(
                    out,
                    "<div class=\"m\">{}</div>",
                    esc(&format_measurement(m))
                );
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    if !notes.is_empty() {
        out.push_str("<h3>Notes on non-pass cells</h3>\n<ol class=\"notes\">\n");
        for (i, c) in notes.iter().enumerate() {
            let detail = if c.detail.is_empty() {
                "(no detail recorded)"
            } else {
                &c.detail
            };
            let _ = writeln!(
                out,
                "<li id=\"note-{}\"><span class=\"st {}\">{}</span> <code>{}</code> on <b>{}</b>: {}</li>",
                i + 1,
                c.status,
                c.status,
                esc(&c.scenario),
                esc(&c.runtime),
                esc(detail)
            );
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
}
