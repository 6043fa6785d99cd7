//! Conformance scenarios, each written once, generic over [`harness::Runtime`], and run on
//! every runtime. Each checks one rule of the reference semantics
//! (`shared/reference/asyncio-semantics.md`) and is tagged with its rule id.
//!
//! A scenario reports an [`Observation`]: what it saw, never a status. The status of a cell
//! is decided by [`classify`]: `pass` when the observation matches the reference, `differs`
//! when it deviates in a way listed in [`differences::KNOWN`] (a documented behaviour of that
//! runtime, with its source), `fail` otherwise.
//!
//! Invariant: a scenario decides pass/deviate on orders, counts and values it observed; a
//! timing figure goes into `measurements` and only decides the verdict where the rule is
//! about time (never early; late only beyond generous slack).

use harness::results::{CellStatus, Measurement};
use harness::Runtime;
use serde::{Deserialize, Serialize};

/// Declares a scenario type: its [`ScenarioDef`] and the generic function that runs it.
macro_rules! scenario {
    ($(#[$doc:meta])* $name:ident = $id:literal, $group:literal, $rule:literal, $title:literal,
     timing: $timing:literal, run: $body:ident) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::Scenario for $name {
            const DEF: $crate::ScenarioDef = $crate::ScenarioDef {
                id: $id,
                group: $group,
                rule: $rule,
                title: $title,
                timing_sensitive: $timing,
                selftest: false,
            };

            fn run<R: harness::Runtime>() -> $crate::Observation {
                $body::<R>()
            }
        }
    };
}

pub mod asyncio;
pub mod blocking;
pub mod cancel;
mod catalogue;
pub mod differences;
pub mod loop_order;
pub mod net;
pub mod probes;
pub mod seeds;
pub mod selftest;
mod support;
pub mod sync;
pub mod tasks;
pub mod timers;

pub use catalogue::{run_by_id, ALL};

/// Runs the scenario `id` on the compiled-in runtime `runtime`, as one conformance cell does;
/// `None` when either id is unknown. (Every scenario's code for every runtime is generated
/// here, in this crate, so the command-line program stays small to compile.)
pub fn run_on(runtime: &str, id: &str) -> Option<Observation> {
    struct RunScenario<'a>(&'a str);
    impl runtimes::RuntimeVisitor for RunScenario<'_> {
        type Output = Option<Observation>;
        fn visit<R: Runtime>(self) -> Self::Output {
            run_by_id::<R>(self.0)
        }
    }
    runtimes::with_runtime(runtime, RunScenario(id)).flatten()
}

/// Static description of a scenario.
#[derive(Debug)]
pub struct ScenarioDef {
    /// Unique id, `group.name` (e.g. `loop.call_soon_fifo`).
    pub id: &'static str,
    /// Group: `loop`, `timers`, `futures`, `tasks`, `cancel`, `blocking`, `sync`, `net`,
    /// `probe`, `seed`, `selftest`.
    pub group: &'static str,
    /// Reference rule id it checks (`L3`, `C2`, ...).
    pub rule: &'static str,
    /// One line: what the scenario does and expects.
    pub title: &'static str,
    /// Whether it measures time and so must never share the CPU with another scenario.
    pub timing_sensitive: bool,
    /// Harness self-tests (a scenario that hangs, one that aborts): never part of `all`,
    /// run only when named explicitly.
    pub selftest: bool,
}

/// One scenario: its description and its body, generic over the runtime.
pub trait Scenario {
    /// What this scenario is.
    const DEF: ScenarioDef;
    /// Runs the scenario on runtime `R` (building and dropping the runtime itself) and
    /// reports what it observed.
    fn run<R: Runtime>() -> Observation;
}

/// The verdict a scenario reached about its runtime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Verdict {
    /// Behaved as the reference says.
    Pass,
    /// Behaved otherwise: what was observed and what the reference expects.
    Deviates { observed: String, expected: String },
    /// The runtime lacks the capability (the reason says which).
    Unsupported { reason: String },
}

/// What a scenario saw: a verdict and any figures it measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The verdict.
    pub verdict: Verdict,
    /// Figures (sleep resolution, wake-up latency, ...), shown in the matrix.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
}

impl Observation {
    /// A passing observation.
    pub fn pass() -> Self {
        Self {
            verdict: Verdict::Pass,
            measurements: Vec::new(),
        }
    }

    /// A deviation: `observed` vs `expected`.
    pub fn deviates(observed: impl Into<String>, expected: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Deviates {
                observed: observed.into(),
                expected: expected.into(),
            },
            measurements: Vec::new(),
        }
    }

    /// The capability is missing.
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Unsupported {
                reason: reason.into(),
            },
            measurements: Vec::new(),
        }
    }

    /// Pass when `observed == expected`, else a deviation showing both (`Debug`-formatted).
    pub fn expect_eq<T: PartialEq + std::fmt::Debug>(observed: T, expected: T) -> Self {
        if observed == expected {
            Self::pass()
        } else {
            Self::deviates(format!("{observed:?}"), format!("{expected:?}"))
        }
    }

    /// Adds a measured figure.
    pub fn measure(mut self, name: &str, value: f64, unit: &str) -> Self {
        self.measurements.push(Measurement {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
        });
        self
    }
}

/// Finds a scenario by id (including self-tests).
pub fn find(id: &str) -> Option<&'static ScenarioDef> {
    ALL.iter().copied().find(|d| d.id == id)
}

/// Turns an observation into a cell status and detail, using the known-differences table.
pub fn classify(def: &ScenarioDef, runtime: &str, obs: &Observation) -> (CellStatus, String) {
    match &obs.verdict {
        Verdict::Pass => (CellStatus::Pass, String::new()),
        Verdict::Unsupported { reason } => (CellStatus::Unsupported, reason.clone()),
        Verdict::Deviates { observed, expected } => match differences::lookup(def.id, runtime) {
            Some(known) => (
                CellStatus::Differs,
                format!(
                    "{} (source: {}); observed {observed}, reference expects {expected}",
                    known.reason, known.source
                ),
            ),
            None => (
                CellStatus::Fail,
                format!(
                    "observed {observed}; reference ({}) expects {expected}",
                    def.rule
                ),
            ),
        },
    }
}

/// Builds runtime `R` with the default configuration, or reports why it could not.
pub fn build<R: Runtime>() -> Result<R, Observation> {
    build_with::<R>(&harness::RuntimeConfig::default())
}

/// Builds runtime `R` with `config`, or reports why it could not: `unsupported` when the
/// runtime says it cannot run here at all (`ErrorKind::Unsupported`, such as io_uring being
/// disabled), a deviation for any other failure.
pub fn build_with<R: Runtime>(config: &harness::RuntimeConfig) -> Result<R, Observation> {
    R::build(config).map_err(|e| match e.kind() {
        std::io::ErrorKind::Unsupported => Observation::unsupported(e.to_string()),
        _ => Observation::deviates(format!("runtime failed to build: {e}"), "a runtime"),
    })
}
