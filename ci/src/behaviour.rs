//! Tier 3: behaviour. Every conformance cell whose status changed against the baseline is
//! listed; a change to `fail`, `timeout` or `crash` regresses, a change away from one
//! improves, any other change is reported without failing the gate.

use harness::results::ConformanceCell;

use crate::baseline::CellRecord;
use crate::verdict::{Outcome, Verdict};

/// The records a baseline keeps of a conformance run.
pub fn to_baseline(cells: &[ConformanceCell]) -> Vec<CellRecord> {
    cells
        .iter()
        .map(|c| CellRecord {
            scenario: c.scenario.clone(),
            runtime: c.runtime.clone(),
            status: c.status,
        })
        .collect()
}

/// One verdict per changed, new or failing cell, and one summary verdict for the rest.
pub fn compare(baseline: &[CellRecord], current: &[ConformanceCell]) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    let mut unchanged = 0usize;
    for cell in current {
        let item = format!("{} × {}", cell.scenario, cell.runtime);
        let base = baseline
            .iter()
            .find(|b| b.scenario == cell.scenario && b.runtime == cell.runtime);
        match base {
            Some(b) if b.status == cell.status => unchanged += 1,
            Some(b) => {
                let outcome = if cell.status.is_failure() {
                    Outcome::Regressed
                } else if b.status.is_failure() {
                    Outcome::Improved
                } else {
                    Outcome::Changed
                };
                verdicts.push(Verdict {
                    tier: 3,
                    item,
                    outcome,
                    detail: format!("{} → {}: {}", b.status, cell.status, cell.detail),
                });
            }
            None => verdicts.push(Verdict {
                tier: 3,
                item,
                outcome: if cell.status.is_failure() {
                    Outcome::Regressed
                } else {
                    Outcome::New
                },
                detail: format!("{} (not in the baseline) {}", cell.status, cell.detail),
            }),
        }
    }
    for b in baseline {
        if !current
            .iter()
            .any(|c| c.scenario == b.scenario && c.runtime == b.runtime)
        {
            verdicts.push(Verdict {
                tier: 3,
                item: format!("{} × {}", b.scenario, b.runtime),
                outcome: Outcome::Changed,
                detail: format!("was {} in the baseline, not run now", b.status),
            });
        }
    }
    verdicts.push(Verdict {
        tier: 3,
        item: "conformance cells".into(),
        outcome: Outcome::Unchanged,
        detail: format!("{unchanged} of {} cells unchanged", current.len()),
    });
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::results::CellStatus;

    fn cell(s: &str, status: CellStatus) -> ConformanceCell {
        ConformanceCell {
            scenario: s.into(),
            rule: "L1".into(),
            group: "loop".into(),
            runtime: "evloop".into(),
            status,
            detail: String::new(),
            measurements: vec![],
            elapsed_ms: 0.0,
        }
    }

    #[test]
    fn a_change_to_failure_regresses_and_others_are_listed() {
        let base = to_baseline(&[
            cell("a", CellStatus::Pass),
            cell("b", CellStatus::Pass),
            cell("c", CellStatus::Fail),
            cell("d", CellStatus::Pass),
        ]);
        let now = [
            cell("a", CellStatus::Pass),
            cell("b", CellStatus::Timeout),
            cell("c", CellStatus::Pass),
            cell("d", CellStatus::Differs),
        ];
        let v = compare(&base, &now);
        let find = |item: &str| v.iter().find(|x| x.item.starts_with(item)).unwrap().outcome;
        assert_eq!(find("b "), Outcome::Regressed);
        assert_eq!(find("c "), Outcome::Improved);
        assert_eq!(find("d "), Outcome::Changed);
        assert!(!v.iter().any(|x| x.item.starts_with("a ")));
        assert!(v.last().unwrap().detail.starts_with("1 of 4"));
    }
}
