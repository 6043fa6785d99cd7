//! The conformance matrix as data: scenarios as rows, runtimes as columns, shared by the
//! HTML page and the terminal table.

use std::collections::BTreeMap;

use harness::results::{CellStatus, ConformanceCell};

/// A conformance matrix: one row per (group, scenario), one column per runtime.
pub struct Matrix<'a> {
    /// Runtime ids in first-seen order.
    pub runtimes: Vec<&'a str>,
    /// Rows sorted by group, then scenario.
    pub rows: Vec<Row<'a>>,
}

/// One scenario.
pub struct Row<'a> {
    /// Scenario group (`loop`, `tasks`...).
    pub group: &'a str,
    /// Scenario id.
    pub scenario: &'a str,
    /// Rule id the scenario checks.
    pub rule: &'a str,
    /// One entry per runtime of [`Matrix::runtimes`]; the last cell wins on duplicates.
    pub cells: Vec<Option<&'a ConformanceCell>>,
}

impl<'a> Matrix<'a> {
    /// The matrix of `cells`.
    pub fn new(cells: &'a [ConformanceCell]) -> Self {
        let mut runtimes: Vec<&str> = Vec::new();
        for c in cells {
            if !runtimes.contains(&c.runtime.as_str()) {
                runtimes.push(&c.runtime);
            }
        }
        let mut rows: BTreeMap<(&str, &str), Row<'a>> = BTreeMap::new();
        for c in cells {
            let row = rows.entry((&c.group, &c.scenario)).or_insert_with(|| Row {
                group: &c.group,
                scenario: &c.scenario,
                rule: &c.rule,
                cells: vec![None; runtimes.len()],
            });
            let col = runtimes.iter().position(|r| *r == c.runtime).unwrap_or(0);
            row.cells[col] = Some(c);
        }
        Self {
            runtimes,
            rows: rows.into_values().collect(),
        }
    }
}

impl Row<'_> {
    /// Whether some runtime is not `pass` or runtimes disagree (a missing cell counts as
    /// disagreement).
    pub fn has_difference(&self) -> bool {
        let first = self.cells.first().copied().flatten().map(|c| c.status);
        self.cells.iter().any(|c| match c {
            Some(c) => c.status != CellStatus::Pass || Some(c.status) != first,
            None => true,
        })
    }
}
