//! Known, documented behaviours of runtimes that differ from the reference semantics.
//!
//! Invariant: every entry names its source (upstream documentation, an upstream issue, or
//! this suite's own measurement). A deviation not listed here is a `fail`. An entry whose
//! source is "this suite's measurement" is a *finding*: no upstream documents it.

/// One documented difference.
#[derive(Debug)]
pub struct KnownDifference {
    /// Scenario id.
    pub scenario: &'static str,
    /// Runtime id.
    pub runtime: &'static str,
    /// Why the runtime behaves this way.
    pub reason: &'static str,
    /// Where that is documented.
    pub source: &'static str,
}

/// The table.
pub static KNOWN: &[KnownDifference] = &[];

/// The documented difference for this scenario on this runtime, if any.
pub fn lookup(scenario: &str, runtime: &str) -> Option<&'static KnownDifference> {
    KNOWN
        .iter()
        .find(|k| k.scenario == scenario && k.runtime == runtime)
}
