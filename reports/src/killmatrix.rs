//! The kill matrix as text: scenarios as rows, mutants (deliberately broken evloops) as
//! numbered columns, a mark where a scenario turned a mutant into `fail`, with the unmutated
//! evloop's status beside each row (the control), the mutants' legend, and totals both ways.

use std::fmt::Write as _;

use harness::results::{CellStatus, ConformanceCell, KillCell, KillMatrix};

use crate::terminal::{ansi, RESET};

/// The mark of one cell: `K` killed (declared), `k` killed (not declared), `S` survived
/// although declared, `.` survived (not declared).
pub fn mark(cell: &KillCell) -> char {
    match (cell.killed, cell.declared) {
        (true, true) => 'K',
        (true, false) => 'k',
        (false, true) => 'S',
        (false, false) => '.',
    }
}

/// Totals of a kill matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillTotals {
    /// Pairs run.
    pub pairs: usize,
    /// Pairs where the mutant was killed.
    pub killed: usize,
    /// Scenarios run, and how many of them killed at least one mutant.
    pub scenarios: (usize, usize),
    /// Mutants, and how many of them at least one scenario killed.
    pub mutants: (usize, usize),
    /// Declared pairs, and how many of them the mutant survived.
    pub declared: (usize, usize),
}

/// The totals of `matrix`.
pub fn totals(matrix: &KillMatrix) -> KillTotals {
    let per_scenario = matrix.kills_per_scenario();
    let per_mutant = matrix.kills_per_mutant();
    KillTotals {
        pairs: matrix.cells.len(),
        killed: matrix.cells.iter().filter(|c| c.killed).count(),
        scenarios: (
            per_scenario.len(),
            per_scenario.iter().filter(|(_, n)| *n > 0).count(),
        ),
        mutants: (
            per_mutant.len(),
            per_mutant.iter().filter(|(_, n)| *n > 0).count(),
        ),
        declared: (
            matrix.cells.iter().filter(|c| c.declared).count(),
            matrix.surviving_declared().count(),
        ),
    }
}

impl KillTotals {
    /// One line: `kills: 120 of 124 pairs; ...`.
    pub fn line(&self) -> String {
        format!(
            "kills: {} of {} pairs; scenarios that kill a mutant: {} of {}; mutants killed: {} of {}; declared pairs survived: {} of {}",
            self.killed,
            self.pairs,
            self.scenarios.1,
            self.scenarios.0,
            self.mutants.1,
            self.mutants.0,
            self.declared.1,
            self.declared.0
        )
    }
}

/// The kill matrix for a terminal; `control` are the unmutated evloop's cells (may be
/// empty).
pub fn terminal(matrix: &KillMatrix, control: &[ConformanceCell], color: bool) -> String {
    let mut out = String::new();
    let paint = |s: &str, status: CellStatus| {
        if color {
            format!("{}{s}{RESET}", ansi(status))
        } else {
            s.to_string()
        }
    };
    let _ = writeln!(
        out,
        "kill matrix: {} pairs ({}), {} mutants",
        matrix.cells.len(),
        if matrix.pairs == "all" {
            "every scenario on every mutant"
        } else {
            "each scenario on the mutants it declares it kills; --all-pairs runs every pair"
        },
        matrix.mutants.len()
    );
    for (i, m) in matrix.mutants.iter().enumerate() {
        let _ = writeln!(
            out,
            "  M{:<3} {:<24} {:<3} {}",
            i + 1,
            m.name,
            m.rule,
            m.description
        );
    }
    out.push('\n');
    let rows = matrix.kills_per_scenario();
    let width = rows.iter().map(|(s, _)| s.len()).max().unwrap_or(8).max(8);
    let _ = write!(out, "{:<width$}  rule  control  kills ", "scenario");
    for i in 0..matrix.mutants.len() {
        let _ = write!(out, "{:>3}", i + 1);
    }
    out.push('\n');
    for (scenario, kills) in &rows {
        let cells: Vec<&KillCell> = matrix
            .cells
            .iter()
            .filter(|c| c.scenario == *scenario)
            .collect();
        let rule = cells.first().map_or("", |c| c.rule.as_str());
        let ctl = control
            .iter()
            .find(|c| c.scenario == *scenario)
            .map(|c| c.status);
        let ctl_text = match ctl {
            Some(s) => paint(&format!("{:<7}", s.as_str()), s),
            None => format!("{:<7}", "-"),
        };
        let kills_text = format!("{:<5}", format!("{kills}/{}", cells.len()));
        let kills_text = if *kills == 0 {
            paint(&kills_text, CellStatus::Fail)
        } else {
            kills_text
        };
        let _ = write!(
            out,
            "{scenario:<width$}  {rule:<4}  {ctl_text}  {kills_text} "
        );
        for m in &matrix.mutants {
            let text = match cells.iter().find(|c| c.mutant == m.name) {
                Some(c) => {
                    let mk = mark(c);
                    let status = match mk {
                        'K' | 'k' => CellStatus::Pass,
                        'S' => CellStatus::Fail,
                        _ => CellStatus::Unsupported,
                    };
                    format!("  {}", paint(&mk.to_string(), status))
                }
                None => "   ".to_string(),
            };
            out.push_str(&text);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\nK killed (declared)  k killed (not declared)  S survived although declared  . survived  (blank) not run"
    );
    let _ = writeln!(out, "\nkilled by (scenarios per mutant):");
    for (i, (name, n)) in matrix.kills_per_mutant().iter().enumerate() {
        let text = format!("  M{:<3} {name:<24} {n}", i + 1);
        let _ = writeln!(
            out,
            "{}",
            if *n == 0 {
                paint(&text, CellStatus::Fail)
            } else {
                text
            }
        );
    }
    let survivors: Vec<&KillCell> = matrix.surviving_declared().collect();
    if !survivors.is_empty() {
        let _ = writeln!(out, "\ndeclared kills that did not happen:");
        for c in survivors {
            let _ = writeln!(
                out,
                "  {} on {}: {} {}",
                c.scenario, c.mutant, c.status, c.detail
            );
        }
    }
    let broken: Vec<&ConformanceCell> = control.iter().filter(|c| c.status.is_failure()).collect();
    if !broken.is_empty() {
        let _ = writeln!(
            out,
            "\ncontrol cells (unmutated evloop) that are not clean:"
        );
        for c in broken {
            let _ = writeln!(out, "  {}: {} {}", c.scenario, c.status, c.detail);
        }
    }
    let _ = writeln!(out, "\n{}", totals(matrix).line());
    out
}
