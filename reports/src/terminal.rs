//! Terminal renderings: the conformance matrix with numbered notes and totals, and the
//! echo table. Colours are ANSI escapes, only when asked for.

use std::fmt::Write as _;

use harness::results::{CellStatus, ConformanceCell, EchoRun, Measurement};

use crate::charts::si;
use crate::matrix::Matrix;
use crate::stats::echo_rows;

/// ANSI colour of a status.
pub(crate) fn ansi(status: CellStatus) -> &'static str {
    match status {
        CellStatus::Pass => "\x1b[32m",
        CellStatus::Differs => "\x1b[33m",
        CellStatus::Fail => "\x1b[31m",
        CellStatus::Unsupported => "\x1b[90m",
        CellStatus::Timeout => "\x1b[35m",
        CellStatus::Crash => "\x1b[1;31m",
    }
}

pub(crate) const RESET: &str = "\x1b[0m";

/// Short word of a status for narrow columns.
fn short(status: CellStatus) -> &'static str {
    match status {
        CellStatus::Unsupported => "unsup",
        s => s.as_str(),
    }
}

/// A measurement as `name = value unit`.
pub fn format_measurement(m: &Measurement) -> String {
    let v = if m.value.abs() >= 100.0 || m.value == m.value.trunc() {
        format!("{:.0}", m.value)
    } else {
        format!("{:.3}", m.value)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    format!("{} = {v} {}", m.name, m.unit)
}

/// A table of cells; `colors[row][col]` wraps a cell in an ANSI colour.
struct TextTable {
    header: Vec<String>,
    rows: Vec<Vec<(String, Option<&'static str>)>>,
    right: Vec<bool>,
}

impl TextTable {
    fn render(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, (text, _)) in widths.iter_mut().zip(row) {
                *w = (*w).max(text.chars().count());
            }
        }
        let line = |out: &mut String, cells: Vec<(&str, Option<&str>)>| {
            let mut s = String::new();
            for (i, (text, color)) in cells.into_iter().enumerate() {
                let pad = widths[i].saturating_sub(text.chars().count());
                let right = self.right.get(i).copied().unwrap_or(false);
                if i > 0 {
                    s.push_str("  ");
                }
                if right {
                    s.push_str(&" ".repeat(pad));
                }
                match color {
                    Some(c) => {
                        let _ = write!(s, "{c}{text}{RESET}");
                    }
                    None => s.push_str(text),
                }
                if !right {
                    s.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(
            out,
            self.header.iter().map(|h| (h.as_str(), None)).collect(),
        );
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(out, rule.iter().map(|r| (r.as_str(), None)).collect());
        for row in &self.rows {
            line(out, row.iter().map(|(t, c)| (t.as_str(), *c)).collect());
        }
    }
}

/// The conformance matrix: scenarios (with rule id) as rows, runtimes as columns, then a
/// numbered list of the detail of every non-pass cell shown, then one line of totals per
/// status over all cells. `only_differences` keeps rows where some runtime is not `pass`
/// or runtimes disagree.
pub fn conformance_matrix(
    cells: &[ConformanceCell],
    color: bool,
    only_differences: bool,
) -> String {
    let mut out = String::new();
    if cells.is_empty() {
        out.push_str("no conformance results\n");
        return out;
    }
    let matrix = Matrix::new(cells);
    let mut header = vec!["scenario".to_string(), "rule".to_string()];
    header.extend(matrix.runtimes.iter().map(|r| r.to_string()));
    let mut table = TextTable {
        header,
        rows: Vec::new(),
        right: Vec::new(),
    };
    let mut notes: Vec<&ConformanceCell> = Vec::new();
    let mut hidden = 0;
    for row in &matrix.rows {
        if only_differences && !row.has_difference() {
            hidden += 1;
            continue;
        }
        let mut line = vec![
            (row.scenario.to_string(), None),
            (row.rule.to_string(), None),
        ];
        for cell in &row.cells {
            line.push(match cell {
                None => ("-".to_string(), None),
                Some(c) => {
                    let mut text = short(c.status).to_string();
                    if c.status != CellStatus::Pass {
                        notes.push(c);
                        let _ = write!(text, " [{}]", notes.len());
                    }
                    (text, color.then(|| ansi(c.status)))
                }
            });
        }
        table.rows.push(line);
    }
    if table.rows.is_empty() {
        out.push_str("every scenario passes on every runtime\n");
    } else {
        table.render(&mut out);
    }
    if hidden > 0 {
        let _ = writeln!(out, "({hidden} rows where every runtime passes are hidden)");
    }
    if !notes.is_empty() {
        out.push('\n');
    }
    for (i, c) in notes.iter().enumerate() {
        let status = if color {
            format!("{}{}{RESET}", ansi(c.status), c.status)
        } else {
            c.status.to_string()
        };
        let detail = if c.detail.is_empty() {
            "(no detail recorded)"
        } else {
            &c.detail
        };
        let _ = writeln!(
            out,
            "[{}] {} on {}: {status}: {detail}",
            i + 1,
            c.scenario,
            c.runtime
        );
        for m in &c.measurements {
            let _ = writeln!(out, "     {}", format_measurement(m));
        }
    }
    let totals: Vec<String> = CellStatus::ALL
        .iter()
        .map(|s| {
            let n = cells.iter().filter(|c| c.status == *s).count();
            if color && n > 0 && *s != CellStatus::Pass {
                format!("{}{n} {s}{RESET}", ansi(*s))
            } else {
                format!("{n} {s}")
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "\ntotal: {} ({} cells)",
        totals.join(", "),
        cells.len()
    );
    for rt in ["asyncio", "uvloop"] {
        let mine: Vec<&ConformanceCell> = cells.iter().filter(|c| c.runtime == rt).collect();
        if mine.is_empty() {
            continue;
        }
        let counts: Vec<String> = CellStatus::ALL
            .iter()
            .map(|s| format!("{} {s}", mine.iter().filter(|c| c.status == *s).count()))
            .collect();
        let _ = writeln!(out, "{rt}: {}", counts.join(", "));
    }
    if let Some(line) = crate::summary::asyncio_line(cells) {
        let _ = writeln!(out, "{}: {}", line.topic, line.text);
    }
    out
}

/// The echo table: one row per runtime × connections × mode (× offered rate), medians over
/// repeats: throughput with min–max, p50/p99 latency, CPU µs/msg, RSS/conn, errors, warnings.
pub fn echo_table(runs: &[EchoRun]) -> String {
    let rows = echo_rows(runs.iter().map(|r| (r.runtime.as_str(), r)));
    if rows.is_empty() {
        return "no echo runs\n".to_string();
    }
    let header = [
        "runtime",
        "conns",
        "mode",
        "rate",
        "n",
        "msg/s",
        "min-max",
        "p50 us",
        "p99 us",
        "cpu us/msg",
        "rss/conn",
        "errors",
        "warnings",
    ];
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
    let table = TextTable {
        header: header.iter().map(|h| h.to_string()).collect(),
        right: vec![
            false, true, false, true, true, true, true, true, true, true, true, true, false,
        ],
        rows: rows
            .iter()
            .map(|r| {
                [
                    r.series.clone(),
                    r.connections.to_string(),
                    r.mode.clone(),
                    opt(r.offered_rate, &si),
                    r.repeats.to_string(),
                    si(r.throughput.median),
                    format!("{}-{}", si(r.throughput.min), si(r.throughput.max)),
                    si(r.p50_us),
                    si(r.p99_us),
                    opt(r.cpu_us_per_msg, &|v| format!("{v:.2}")),
                    opt(r.rss_per_conn, &|v| format!("{}B", si(v))),
                    r.errors.to_string(),
                    r.warnings.join("; "),
                ]
                .into_iter()
                .map(|t| (t, None))
                .collect()
            })
            .collect(),
    };
    let mut out = String::new();
    table.render(&mut out);
    out
}
