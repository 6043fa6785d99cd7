//! Conformance scenarios, each written once, generic over [`harness::Runtime`], and run on
//! every runtime. Each checks one rule of the reference semantics
//! (`shared/reference/asyncio-semantics.md`, plus the project's additions in `harness::rules`) and is
//! tagged with its rule id.
//!
//! A scenario reports an [`Observation`]: what it saw, never a status. The status of a cell
//! is decided by [`classify`]: `pass` when the observation matches the reference, `differs`
//! when a [`differences::KNOWN`] entry for that scenario and runtime *explains the observed
//! value* (a documented behaviour of that runtime, with its source), `fail` otherwise.
//!
//! # The cell protocol
//!
//! One cell (a scenario on a runtime, in its own process) prints exactly one observation, as
//! JSON, on one line after the marker `LOOPBENCH-CELL ` (the Python twins of issue 17 print
//! the same line). The shape, owned by [`Observation`] and [`Verdict`]:
//!
//! ```json
//! {"verdict": {"kind": "pass"}, "measurements": []}
//! {"verdict": {"kind": "deviates", "observed": <json>, "expected": <json>},
//!  "measurements": [{"name": "max_lateness", "value": 1.25, "unit": "ms"}]}
//! {"verdict": {"kind": "unsupported", "reason": "..."}, "measurements": []}
//! ```
//!
//! `observed` and `expected` are JSON values of the same shape, chosen by each scenario and
//! written in its body with `json!`: an order is an array (`{"order": [0, 1, 2]}`), a count a
//! number, several facts an object of named fields (`{"joined": "cancelled",
//! "steps_after_cancel": 0}`), a task's outcome `{"value": v}`, `"cancelled"`,
//! `{"panicked": "message"}` or, when the runtime re-raises the panic in the awaiter,
//! `{"reraised_in_awaiter": "message"}`. A difference entry matches these values exactly, so a
//! twin must produce the same shape. A plain string is still a valid value for a one-off
//! message (a setup error). `measurements` are figures with a unit; they never decide a
//! verdict except where the rule is about time.
//!
//! Invariant: a scenario decides pass/deviate on orders, counts and values it observed; a
//! timing figure goes into `measurements` and only decides the verdict where the rule is
//! about time (never early; late only beyond generous slack).
//!
//! Invariant: every scenario declares the evloop mutants it kills (`kills`); the kill matrix
//! (`loopbench conformance --mutants`, and `cargo test`) proves each declaration, so every
//! verdict is shown able to fail.

use harness::results::{CellStatus, Measurement};
use harness::Runtime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Declares a scenario type: its [`ScenarioDef`] and the generic function that runs it.
macro_rules! scenario {
    ($(#[$doc:meta])* $name:ident = $id:literal, $group:literal, $rule:literal, $title:literal,
     timing: $timing:literal, kills: [$($kill:literal),* $(,)?], run: $body:ident) => {
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
                kills: &[$($kill),*],
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
pub mod kill;
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
pub use serde_json::json;

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
    /// The evloop mutants (`runtimes::mutants()` names) this scenario turns into `fail`: the
    /// proof that its verdict can fail. Checked by the kill matrix.
    pub kills: &'static [&'static str],
}

/// One scenario: its description and its body, generic over the runtime.
pub trait Scenario {
    /// What this scenario is.
    const DEF: ScenarioDef;
    /// Runs the scenario on runtime `R` (building and dropping the runtime itself) and
    /// reports what it observed.
    fn run<R: Runtime>() -> Observation;
}

/// The verdict a scenario reached about its runtime (see the cell protocol above).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Verdict {
    /// Behaved as the reference says.
    Pass,
    /// Behaved otherwise: what was observed and what the reference expects, as JSON values
    /// of the same shape.
    Deviates { observed: Value, expected: Value },
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
    pub fn deviates(observed: impl Into<Value>, expected: impl Into<Value>) -> Self {
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

    /// Pass when `observed == expected`, else a deviation carrying both.
    pub fn check(observed: Value, expected: Value) -> Self {
        if observed == expected {
            Self::pass()
        } else {
            Self::deviates(observed, expected)
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

    /// Keeps this verdict and adds `other`'s measurements.
    pub fn with_measurements(mut self, other: Vec<Measurement>) -> Self {
        self.measurements.extend(other);
        self
    }
}

/// Finds a scenario by id (including self-tests).
pub fn find(id: &str) -> Option<&'static ScenarioDef> {
    ALL.iter().copied().find(|d| d.id == id)
}

/// Turns an observation into a cell status and detail. `differs` only when a known
/// difference for this scenario and runtime explains the observed value; any other
/// deviation is `fail`, showing observed vs expected (and, when the pair has a documented
/// difference that does not explain this observation, saying so).
pub fn classify(def: &ScenarioDef, runtime: &str, obs: &Observation) -> (CellStatus, String) {
    match &obs.verdict {
        Verdict::Pass => (CellStatus::Pass, String::new()),
        Verdict::Unsupported { reason } => (CellStatus::Unsupported, reason.clone()),
        Verdict::Deviates { observed, expected } => {
            if let Some(known) = differences::explaining(def.id, runtime, observed) {
                return (
                    CellStatus::Differs,
                    format!(
                        "observed {}: {} (source: {}); reference ({}) expects {}",
                        show(observed),
                        known.reason,
                        known.source,
                        def.rule,
                        show(expected)
                    ),
                );
            }
            let mut detail = format!(
                "observed {}; reference ({}) expects {}",
                show(observed),
                def.rule,
                show(expected)
            );
            for known in differences::listed(def.id, runtime) {
                detail.push_str(&format!(
                    "; the documented difference of {runtime} ({}) does not explain this",
                    known.observation
                ));
            }
            (CellStatus::Fail, detail)
        }
    }
}

/// A JSON value on one line; a plain string without its quotes.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds runtime `R` with the default configuration, or reports why it could not.
pub fn build<R: Runtime>() -> Result<R, Observation> {
    build_with::<R>(&harness::RuntimeConfig::default())
}

/// Builds runtime `R` with `config`, or reports why it could not.
pub fn build_with<R: Runtime>(config: &harness::RuntimeConfig) -> Result<R, Observation> {
    R::build(config).map_err(|e| {
        Observation::deviates(
            format!("runtime failed to build: {e}"),
            "a runtime that builds",
        )
    })
}
