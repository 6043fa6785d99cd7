//! The conformance matrix of the report, as a compact grid: one row per scenario (its id,
//! wrapped at `.` and `_`, never cut, and its rule id), one small coloured cell per runtime.
//! Clicking a cell that has something to say opens its detail (observed, expected, reason,
//! source, measurements) beside the grid. Rows every runtime passes are folded under one
//! line; filters by group and by status. All of it is HTML and CSS (`<details>`, radio
//! buttons and `:checked` selectors): no script, nothing from the network.
//!
//! Layout: the grid's columns have fixed widths ([`SCENARIO_COL`], [`RULE_COL`],
//! [`CELL_COL`]), so the grid is as wide as its runtime count makes it (12 runtimes:
//! 724 px) and the detail panel takes the room to its right. Renders from the
//! [`ConformanceCell`] fields only.

use std::fmt::Write as _;

use harness::results::{CellStatus, ConformanceCell};

use super::{empty_section, esc};
use crate::matrix::{Matrix, Row};
use crate::rules::rule_text;
use crate::terminal::format_measurement;

/// Width of the scenario column, pixels: the longest id today (36 characters) on one line
/// of 12.5 px monospace; longer ids wrap.
pub const SCENARIO_COL: u32 = 300;
/// Width of the rule column, pixels.
pub const RULE_COL: u32 = 44;
/// Width of one runtime column, pixels.
pub const CELL_COL: u32 = 30;

/// Width of the grid of `runtimes` columns, pixels.
pub fn grid_width(runtimes: usize) -> u32 {
    SCENARIO_COL + RULE_COL + CELL_COL * runtimes as u32
}

/// The letter a cell of `status` shows (its colour says the same).
fn glyph(status: CellStatus) -> &'static str {
    match status {
        CellStatus::Pass => "",
        CellStatus::Differs => "D",
        CellStatus::Fail => "F",
        CellStatus::Unsupported => "U",
        CellStatus::Timeout => "T",
        CellStatus::Crash => "C",
    }
}

/// Writes the conformance section.
pub(super) fn section(out: &mut String, cells: &[ConformanceCell]) {
    let (id, title) = ("conformance", "Conformance matrix");
    if cells.is_empty() {
        empty_section(out, id, title, "No conformance results in these results.");
        return;
    }
    let matrix = Matrix::new(cells);
    let groups = groups(&matrix);
    let group_of = |row: &Row<'_>| groups.iter().position(|g| g.0 == row.group).unwrap_or(0);
    let (differing, passing): (Vec<&Row<'_>>, Vec<&Row<'_>>) =
        matrix.rows.iter().partition(|r| r.has_difference());
    let statuses: Vec<(CellStatus, usize)> = CellStatus::ALL[1..]
        .iter()
        .map(|s| (*s, differing.iter().filter(|r| has_status(r, *s)).count()))
        .filter(|(_, n)| *n > 0)
        .collect();

    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2>\n<p>Each row is a scenario checking one rule of \
         the asyncio reference semantics (hover the rule id for its text); each column a \
         runtime. Click a coloured cell for its detail. {} of {} scenarios show a difference \
         on some runtime; the {} that every runtime passes are folded.</p>\n",
        differing.len(),
        matrix.rows.len(),
        passing.len()
    );

    // The filter state: radio buttons and a checkbox, before everything they control.
    let _ = write!(
        out,
        "<input class=\"flt\" type=\"radio\" name=\"cg\" id=\"cg-all\" checked>"
    );
    for i in 0..groups.len() {
        let _ = write!(
            out,
            "<input class=\"flt\" type=\"radio\" name=\"cg\" id=\"cg-{i}\">"
        );
    }
    out.push_str("<input class=\"flt\" type=\"radio\" name=\"cs\" id=\"cs-any\" checked>");
    for (s, _) in &statuses {
        let _ = write!(
            out,
            "<input class=\"flt\" type=\"radio\" name=\"cs\" id=\"cs-{s}\">"
        );
    }
    out.push_str("<input class=\"flt\" type=\"radio\" name=\"cs\" id=\"cs-pass\">");
    out.push_str("<input class=\"flt\" type=\"checkbox\" id=\"cf\">\n");
    filter_css(out, groups.len(), &statuses);

    out.push_str("<div class=\"filters\"><div><b>Group</b> <label for=\"cg-all\">all</label>");
    for (i, (g, n)) in groups.iter().enumerate() {
        let _ = write!(out, " <label for=\"cg-{i}\">{} <i>{n}</i></label>", esc(g));
    }
    out.push_str("</div><div><b>Status</b> <label for=\"cs-any\">any</label>");
    for (s, n) in &statuses {
        let _ = write!(
            out,
            " <label for=\"cs-{s}\"><span class=\"st {s}\">{}</span> {s} <i>{n}</i></label>",
            glyph(*s)
        );
    }
    let _ = writeln!(
        out,
        " <label for=\"cs-pass\"><span class=\"st pass\">&nbsp;</span> pass on every runtime \
         <i>{}</i></label></div></div>",
        passing.len()
    );

    let n = matrix.runtimes.len();
    let _ = write!(
        out,
        "<div class=\"cgrid\" style=\"--grid-w:{}px\"><table class=\"grid\"><colgroup>\
         <col style=\"width:{SCENARIO_COL}px\"><col style=\"width:{RULE_COL}px\">",
        grid_width(n)
    );
    for _ in 0..n {
        let _ = write!(out, "<col style=\"width:{CELL_COL}px\">");
    }
    out.push_str("</colgroup><thead><tr><th class=\"sc\">scenario</th><th class=\"ru\">rule</th>");
    for r in &matrix.runtimes {
        let _ = write!(out, "<th class=\"rt\"><span>{}</span></th>", esc(r));
    }
    out.push_str("</tr></thead><tbody>\n");

    let mut notes: Vec<String> = Vec::new();
    for row in &differing {
        grid_row(out, row, &matrix.runtimes, group_of(row), false, &mut notes);
    }
    fold_row(out, "gall", passing.len(), n);
    for (i, _) in groups.iter().enumerate() {
        let k = passing.iter().filter(|r| group_of(r) == i).count();
        if k > 0 {
            fold_row(out, &format!("g-{i}"), k, n);
        }
    }
    for row in &passing {
        grid_row(out, row, &matrix.runtimes, group_of(row), true, &mut notes);
    }
    out.push_str("</tbody></table></div>\n<div class=\"legend\">");
    for s in CellStatus::ALL {
        let _ = write!(
            out,
            "<span><span class=\"st {s}\">{}</span> {s}</span>",
            match glyph(s) {
                "" => "&nbsp;",
                g => g,
            }
        );
    }
    out.push_str("<span><span class=\"st pass\">·</span> pass, with measurements</span></div>\n");
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "<details class=\"allnotes\"><summary>Every cell's detail as a list ({})</summary>\
             <ol class=\"notes\">",
            notes.len()
        );
        for (i, note) in notes.iter().enumerate() {
            let _ = writeln!(out, "<li id=\"note-{}\">{note}</li>", i + 1);
        }
        out.push_str("</ol></details>\n");
    }
    out.push_str("</section>\n");
}

/// The groups of the rows, in row order, with their row counts.
fn groups<'a>(matrix: &Matrix<'a>) -> Vec<(&'a str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for row in &matrix.rows {
        match out.iter_mut().find(|g| g.0 == row.group) {
            Some(g) => g.1 += 1,
            None => out.push((row.group, 1)),
        }
    }
    out
}

fn has_status(row: &Row<'_>, status: CellStatus) -> bool {
    row.cells.iter().flatten().any(|c| c.status == status)
}

/// The rules that make the filters work: a row is hidden unless it belongs to the checked
/// group and has a cell of the checked status; folded rows show when the fold is open.
fn filter_css(out: &mut String, groups: usize, statuses: &[(CellStatus, usize)]) {
    out.push_str("<style>");
    let mut on = |input: &str| {
        let _ = write!(
            out,
            "#{input}:checked~.filters label[for={input}]{{background:#1d2327;color:#fff}}"
        );
    };
    on("cg-all");
    on("cs-any");
    on("cs-pass");
    for i in 0..groups {
        on(&format!("cg-{i}"));
    }
    for (s, _) in statuses {
        on(&format!("cs-{s}"));
    }
    for i in 0..groups {
        let _ = write!(
            out,
            "#cg-{i}:checked~.cgrid tr.r:not(.g-{i}),#cg-{i}:checked~.cgrid tr.fold:not(.g-{i})\
             {{display:none}}#cg-{i}:checked~.cgrid tr.fold.g-{i}{{display:table-row}}"
        );
    }
    for (s, _) in statuses {
        let _ = write!(
            out,
            "#cs-{s}:checked~.cgrid tr.r:not(.s-{s}),#cs-{s}:checked~.cgrid tr.fold.fold\
             {{display:none}}"
        );
    }
    out.push_str(
        "#cs-pass:checked~.cgrid tr.r:not(.allpass),#cs-pass:checked~.cgrid tr.fold.fold\
         {display:none}#cs-pass:checked~.cgrid tr.allpass,#cf:checked~.cgrid tr.allpass\
         {display:table-row}#cf:checked~.cgrid .fold .off,.fold .on{display:none}\
         #cf:checked~.cgrid .fold .on{display:inline}</style>\n",
    );
}

/// The line that stands for the folded rows of `class` (`gall`, or one group's `g-N`).
fn fold_row(out: &mut String, class: &str, count: usize, runtimes: usize) {
    if count == 0 {
        return;
    }
    let what = if count == 1 {
        "1 scenario passes".to_string()
    } else {
        format!("{count} scenarios pass")
    };
    let _ = writeln!(
        out,
        "<tr class=\"fold {class}\"><td colspan=\"{}\"><label for=\"cf\"><span class=\"off\">▸ \
         {what} on every runtime (show)</span><span class=\"on\">▾ {what} on every runtime \
         (hide)</span></label></td></tr>",
        runtimes + 2
    );
}

/// One scenario's row; every cell with a detail or measurements gets a note in `notes`.
fn grid_row(
    out: &mut String,
    row: &Row<'_>,
    runtimes: &[&str],
    group: usize,
    all_pass: bool,
    notes: &mut Vec<String>,
) {
    let mut classes = format!("r g-{group}");
    if all_pass {
        classes.push_str(" allpass");
    }
    for s in &CellStatus::ALL[1..] {
        if has_status(row, *s) {
            let _ = write!(classes, " s-{s}");
        }
    }
    let rule = rule_text(row.rule).unwrap_or("(rule not in the reference)");
    let _ = write!(
        out,
        "<tr class=\"{classes}\"><th class=\"sc\" scope=\"row\"><code>{}</code></th>\
         <td class=\"ru\"><abbr title=\"{}\">{}</abbr></td>",
        breakable(row.scenario),
        esc(rule),
        esc(row.rule)
    );
    for (cell, runtime) in row.cells.iter().zip(runtimes) {
        let Some(cell) = cell else {
            let _ = write!(
                out,
                "<td class=\"c missing\" title=\"{} on {}: not run\">–</td>",
                esc(row.scenario),
                esc(runtime)
            );
            continue;
        };
        let status = cell.status;
        let label = format!("{} on {}: {status}", cell.scenario, cell.runtime);
        if status == CellStatus::Pass && cell.measurements.is_empty() && cell.detail.is_empty() {
            let _ = write!(out, "<td class=\"c pass\" title=\"{}\"></td>", esc(&label));
            continue;
        }
        let note = note(cell, rule);
        let mark = match glyph(status) {
            "" => "·",
            g => g,
        };
        let _ = write!(
            out,
            "<td class=\"c {status}\"><details name=\"cell\"><summary title=\"{}\">{mark}</summary>\
             <div class=\"pop\">{note}</div></details></td>",
            esc(&label)
        );
        notes.push(note);
    }
    out.push_str("</tr>\n");
}

/// A scenario id with line-break opportunities after each `.` and `_`.
fn breakable(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        out.push_str(&esc(&c.to_string()));
        if c == '.' || c == '_' {
            out.push_str("<wbr>");
        }
    }
    out
}

/// The detail of a cell: status, scenario and runtime, the rule, then the parts of the
/// detail (reason, source, observed, expected) and the measurements.
fn note(cell: &ConformanceCell, rule: &str) -> String {
    let mut out = format!(
        "<p class=\"nh\"><span class=\"st {s}\">{s}</span> <code>{}</code> on <b>{}</b></p>\
         <p class=\"nr\"><b>{}</b> {}</p><dl>",
        esc(&cell.scenario),
        esc(&cell.runtime),
        esc(&cell.rule),
        esc(rule),
        s = cell.status
    );
    let parts = detail_parts(cell.status, &cell.detail);
    if cell.status != CellStatus::Pass && parts.is_empty() {
        out.push_str("<dt>detail</dt><dd>(no detail recorded)</dd>");
    }
    for (name, text) in parts {
        let _ = write!(out, "<dt>{name}</dt><dd>{}</dd>", esc(text));
    }
    if !cell.measurements.is_empty() {
        out.push_str("<dt>measured</dt><dd>");
        for m in &cell.measurements {
            let _ = write!(out, "<div>{}</div>", esc(&format_measurement(m)));
        }
        out.push_str("</dd>");
    }
    out.push_str("</dl>");
    out
}

/// A cell's detail string cut into labelled parts, as `scenarios::classify` and the cell
/// runner write them; a detail of another shape is one `detail` part.
fn detail_parts(status: CellStatus, detail: &str) -> Vec<(&'static str, &str)> {
    let detail = detail.trim();
    if detail.is_empty() {
        return Vec::new();
    }
    let parsed = match status {
        // "<reason> (source: <source>); observed <o>, reference expects <e>"
        CellStatus::Differs => (|| {
            let (reason, rest) = detail.split_once(" (source: ")?;
            let (source, rest) = rest.rsplit_once("); observed ")?;
            let (observed, expected) = rest.rsplit_once(", reference expects ")?;
            Some(vec![
                ("reason", reason),
                ("source", source),
                ("observed", observed),
                ("expected", expected),
            ])
        })(),
        // "observed <o>; reference (<rule>) expects <e>"
        CellStatus::Fail => (|| {
            let rest = detail.strip_prefix("observed ")?;
            let (observed, rest) = rest.split_once("; reference (")?;
            let (_, expected) = rest.split_once(") expects ")?;
            Some(vec![("observed", observed), ("expected", expected)])
        })(),
        CellStatus::Unsupported | CellStatus::Timeout | CellStatus::Crash => {
            Some(vec![("reason", detail)])
        }
        CellStatus::Pass => None,
    };
    parsed.unwrap_or_else(|| vec![("detail", detail)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_cut_into_parts() {
        let d = "smol's Task cancels when dropped (use detach()) (source: async-task docs: \
                 Task (drop)); observed [1, 2], reference expects [1]";
        assert_eq!(
            detail_parts(CellStatus::Differs, d),
            vec![
                ("reason", "smol's Task cancels when dropped (use detach())"),
                ("source", "async-task docs: Task (drop)"),
                ("observed", "[1, 2]"),
                ("expected", "[1]"),
            ]
        );
        assert_eq!(
            detail_parts(CellStatus::Fail, "observed 3; reference (L3) expects 4"),
            vec![("observed", "3"), ("expected", "4")]
        );
        assert_eq!(
            detail_parts(CellStatus::Fail, "something else"),
            vec![("detail", "something else")]
        );
        assert_eq!(
            detail_parts(CellStatus::Timeout, "did not finish within 10 s"),
            vec![("reason", "did not finish within 10 s")]
        );
        assert!(detail_parts(CellStatus::Crash, " ").is_empty());
    }

    #[test]
    fn ids_break_after_dots_and_underscores() {
        assert_eq!(breakable("a.b_c<"), "a.<wbr>b_<wbr>c&lt;");
    }
}
