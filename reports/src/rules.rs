//! The rule texts shown beside each conformance row; owned by `harness::rules` (the
//! project's copy of the reference, with its additions), re-exported here for the report.

pub use harness::rules::{rule_text, Rule, RULES};
