//! The kill-matrix section of the report: which scenario turns which deliberately broken
//! evloop (a mutant) into `fail` — the proof that each verdict of the conformance matrix can
//! fail. Scenarios as rows, mutants as numbered columns, the mutants' legend with how many
//! scenarios kill each, and every declared kill that did not happen.

use std::fmt::Write as _;

use harness::results::{KillCell, KillMatrix};

use super::{empty_section, esc};
use crate::killmatrix::{mark, totals};

/// Writes the kill-matrix section (or says there is none).
pub(super) fn section(out: &mut String, matrix: Option<&KillMatrix>) {
    let (id, title) = ("kill-matrix", "Kill matrix");
    let Some(matrix) = matrix.filter(|m| !m.cells.is_empty()) else {
        empty_section(
            out,
            id,
            title,
            "No kill matrix in these results: run `loopbench conformance --mutants --json FILE` \
             with a build that has the mutants (`--features mutants`) and add FILE to the report.",
        );
        return;
    };
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>A verdict counts only if it can fail. Each \
         column is evloop with one deliberate fault; a mark says the scenario turned that \
         mutant into <code>fail</code>, <code>timeout</code> or <code>crash</code>. \
         <b>K</b> killed (declared by the scenario), <b>k</b> killed (not declared), \
         <b>S</b> survived although declared, <b>·</b> survived; blank: not run ({}).</p>\n\
         <p class=\"totals\">{}</p>\n",
        if matrix.pairs == "all" {
            "every scenario ran on every mutant"
        } else {
            "each scenario ran on the mutants it declares it kills"
        },
        esc(&totals(matrix).line())
    );
    out.push_str("<div class=\"scroll\"><table class=\"matrix kill\"><thead><tr><th>scenario</th><th>rule</th>");
    for (i, m) in matrix.mutants.iter().enumerate() {
        let _ = write!(
            out,
            "<th title=\"{}: {}\">M{}</th>",
            esc(&m.name),
            esc(&m.description),
            i + 1
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for (scenario, _) in matrix.kills_per_scenario() {
        let cells: Vec<&KillCell> = matrix
            .cells
            .iter()
            .filter(|c| c.scenario == scenario)
            .collect();
        let rule = cells.first().map_or("", |c| c.rule.as_str());
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"rule\"><b>{}</b></td>",
            esc(scenario),
            esc(rule)
        );
        for m in &matrix.mutants {
            match cells.iter().find(|c| c.mutant == m.name) {
                Some(c) => {
                    let (class, text) = match mark(c) {
                        'K' => ("st pass", "K"),
                        'k' => ("st pass", "k"),
                        'S' => ("st fail", "S"),
                        _ => ("st unsupported", "·"),
                    };
                    let _ = write!(
                        out,
                        "<td class=\"{class}\" title=\"{} on {}: {}\">{text}</td>",
                        esc(&c.scenario),
                        esc(&c.mutant),
                        esc(&format!("{} {}", c.status, c.detail))
                    );
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n<h3>Mutants</h3>\n<table><thead><tr><th></th><th>mutant</th><th>rule</th><th>fault</th><th>killed by</th></tr></thead><tbody>\n");
    for (i, (m, (_, n))) in matrix
        .mutants
        .iter()
        .zip(matrix.kills_per_mutant())
        .enumerate()
    {
        let _ = writeln!(
            out,
            "<tr><td>M{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"{}\">{n} scenario{}</td></tr>",
            i + 1,
            esc(&m.name),
            esc(&m.rule),
            esc(&m.description),
            if n == 0 { "st fail" } else { "" },
            if n == 1 { "" } else { "s" }
        );
    }
    out.push_str("</tbody></table>\n");
    let survivors: Vec<&KillCell> = matrix.surviving_declared().collect();
    if !survivors.is_empty() {
        out.push_str("<h3>Declared kills that did not happen</h3>\n<ol class=\"notes\">\n");
        for c in survivors {
            let _ = writeln!(
                out,
                "<li><code>{}</code> on <code>{}</code>: <span class=\"st {}\">{}</span> {}</li>",
                esc(&c.scenario),
                esc(&c.mutant),
                c.status,
                c.status,
                esc(&c.detail)
            );
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
}
