//! The kill matrix: which scenario turns which deliberately broken evloop (a mutant, see
//! `runtimes::mutants`) into `fail`. A scenario that no mutant can kill proves nothing; a
//! mutant that no scenario kills is a fault the suite cannot see.
//!
//! Protocol: each scenario declares the mutants it kills ([`ScenarioDef::kills`]). The
//! default plan runs exactly those pairs ([`Pairs::Declared`]); [`Pairs::All`] runs every
//! scenario on every mutant. A mutant cell is an evloop cell: it is classified with evloop's
//! known differences, and the mutant is *killed* when the cell is `fail`, `timeout` or
//! `crash` (never by `unsupported` or `differs`).

use harness::results::{ConformanceCell, KillCell, KillMatrix, MutantInfo};

use crate::ScenarioDef;

/// The runtime id a mutant cell is judged as.
pub const JUDGED_AS: &str = "evloop";

/// Which scenario × mutant pairs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pairs {
    /// Each scenario on the mutants it declares it kills.
    Declared,
    /// Every scenario on every mutant.
    All,
}

impl Pairs {
    /// `declared` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Pairs::Declared => "declared",
            Pairs::All => "all",
        }
    }
}

/// One pair to run.
#[derive(Clone, Copy, Debug)]
pub struct KillPair {
    /// The scenario.
    pub def: &'static ScenarioDef,
    /// The mutant's name.
    pub mutant: &'static str,
    /// Whether the scenario declares it kills this mutant.
    pub declared: bool,
}

/// The pairs to run for `defs` and `mutants`, scenario by scenario.
pub fn plan(
    defs: &[&'static ScenarioDef],
    mutants: &[&'static str],
    pairs: Pairs,
) -> Vec<KillPair> {
    let mut out = Vec::new();
    for def in defs {
        for mutant in mutants {
            let declared = def.kills.contains(mutant);
            if declared || pairs == Pairs::All {
                out.push(KillPair {
                    def,
                    mutant,
                    declared,
                });
            }
        }
    }
    out
}

/// The kill-matrix cell of `pair`, from the conformance cell its run produced.
pub fn cell(pair: &KillPair, run: ConformanceCell) -> KillCell {
    KillCell {
        scenario: run.scenario,
        rule: run.rule,
        mutant: pair.mutant.to_string(),
        killed: run.status.is_failure(),
        status: run.status,
        declared: pair.declared,
        detail: run.detail,
        elapsed_ms: run.elapsed_ms,
    }
}

/// The matrix of `cells`, for `mutants` (name, rule, description).
pub fn matrix(pairs: Pairs, mutants: &[(&str, &str, &str)], cells: Vec<KillCell>) -> KillMatrix {
    KillMatrix {
        pairs: pairs.as_str().to_string(),
        mutants: mutants
            .iter()
            .map(|(name, rule, description)| MutantInfo {
                name: name.to_string(),
                rule: rule.to_string(),
                description: description.to_string(),
            })
            .collect(),
        cells,
    }
}

/// Mutant names no non-selftest scenario declares it kills (should be none).
pub fn undeclared<'a>(mutants: &[&'a str]) -> Vec<&'a str> {
    mutants
        .iter()
        .copied()
        .filter(|m| {
            !crate::ALL
                .iter()
                .any(|d| !d.selftest && d.kills.contains(m))
        })
        .collect()
}
