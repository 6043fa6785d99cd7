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

impl ScenarioDef {
    /// Whether its cell runs alone, with no other cell running: it measures time. (A
    /// self-test shares: its hang sleeps and its abort ends the process at once, and what
    /// it proves, `timeout` and `crash`, does not depend on the load.)
    pub fn runs_alone(&self) -> bool {
        self.timing_sensitive
    }
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

    /// Adds a measured figure; a value that is not finite (NaN: nothing was measured) is
    /// left out, as JSON cannot carry it.
    pub fn measure(mut self, name: &str, value: f64, unit: &str) -> Self {
        if !value.is_finite() {
            return self;
        }
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

/// Builds runtime `R` with `config`, or reports why it could not: `unsupported` when the
/// runtime says it cannot run here at all (`ErrorKind::Unsupported`, such as io_uring being
/// disabled), a deviation for any other failure.
pub fn build_with<R: Runtime>(config: &harness::RuntimeConfig) -> Result<R, Observation> {
    R::build(config).map_err(|e| match e.kind() {
        // io_uring disabled, an old kernel: the runtime cannot run here at all.
        std::io::ErrorKind::Unsupported => Observation::unsupported(e.to_string()),
        _ => Observation::deviates(
            format!("runtime failed to build: {e}"),
            "a runtime that builds",
        ),
    })
}

#[cfg(test)]
mod tests {
    //! The classification of fabricated observations: a documented difference explains only
    //! the observation it states; anything else on a listed pair is `fail`.

    use super::*;
    use serde_json::json;

    fn status(id: &str, runtime: &str, observed: Value, expected: Value) -> (CellStatus, String) {
        let def = find(id).unwrap_or_else(|| panic!("no scenario {id}"));
        classify(def, runtime, &Observation::deviates(observed, expected))
    }

    fn order(items: &[i64]) -> Value {
        json!({ "order": items })
    }

    #[test]
    fn lifo_order_differs_but_a_lost_or_duplicated_callback_fails() {
        let fifo: Vec<i64> = (0..20).collect();
        let mut lifo = vec![19];
        lifo.extend(0..19);
        let (s, detail) = status(
            "loop.call_soon_fifo",
            "tokio-mt",
            order(&lifo),
            order(&fifo),
        );
        assert_eq!(s, CellStatus::Differs, "{detail}");
        assert!(detail.contains("source:"), "{detail}");

        let mut lost = lifo.clone();
        lost.remove(7);
        let (s, detail) = status(
            "loop.call_soon_fifo",
            "tokio-mt",
            order(&lost),
            order(&fifo),
        );
        assert_eq!(s, CellStatus::Fail, "{detail}");
        assert!(detail.contains("does not explain this"), "{detail}");

        let mut duplicated = lifo.clone();
        duplicated[7] = duplicated[6];
        let (s, _) = status(
            "loop.call_soon_fifo",
            "tokio-mt",
            order(&duplicated),
            order(&fifo),
        );
        assert_eq!(s, CellStatus::Fail);

        // The same reordering on a runtime the entry does not list is a failure.
        let (s, _) = status(
            "loop.call_soon_fifo",
            "tokio-ct",
            order(&lifo),
            order(&fifo),
        );
        assert_eq!(s, CellStatus::Fail);
    }

    #[test]
    fn sleep_zero_ready_at_once_differs_on_tokio_mt_only() {
        // The multi-thread runtime's race (another worker advanced the shared wheel) is
        // documented; the current-thread runtime has no other worker, so there it fails.
        let ready = json!({ "ready_on_first_poll": true });
        let expected = json!({ "ready_on_first_poll": false });
        let id = "timers.sleep_zero_suspends";
        assert_eq!(
            status(id, "tokio-mt", ready.clone(), expected.clone()).0,
            CellStatus::Differs
        );
        assert_eq!(status(id, "tokio-ct", ready, expected).0, CellStatus::Fail);
    }

    #[test]
    fn a_broken_lock_fails_on_a_pair_with_a_documented_reordering() {
        let expected =
            json!({ "queued": [0, 1, 2, 3, 4], "acquired": [0, 1, 2, 3, 4], "peak_holders": 1 });
        let lifo =
            json!({ "queued": [4, 0, 1, 2, 3], "acquired": [4, 0, 1, 2, 3], "peak_holders": 1 });
        assert_eq!(
            status("sync.lock_fifo", "tokio-mt", lifo, expected.clone()).0,
            CellStatus::Differs
        );
        let two_holders =
            json!({ "queued": [4, 0, 1, 2, 3], "acquired": [4, 0, 1, 2, 3], "peak_holders": 2 });
        assert_eq!(
            status("sync.lock_fifo", "tokio-mt", two_holders, expected.clone()).0,
            CellStatus::Fail
        );
        let lost =
            json!({ "queued": [4, 0, 1, 2, 3], "acquired": [4, 0, 1, 2], "peak_holders": 1 });
        assert_eq!(
            status("sync.lock_fifo", "tokio-mt", lost, expected).0,
            CellStatus::Fail
        );
    }

    #[test]
    fn a_seed_transcript_with_a_missing_or_doubled_line_fails() {
        let id = "seed.lock";
        let entry = differences::listed(id, "tokio-mt").next().expect("listed");
        let printed = |lines: Vec<&str>| json!({ "printed": lines });
        let lifo: Vec<&str> = [
            "acquiring the lock before starting coroutines",
            "lock acquired: True",
            "waiting for coroutines",
            "coro2 waiting for the lock",
            "coro1 waiting for the lock",
            "callback releasing lock",
            "coro2 acquired lock",
            "coro2 released lock",
            "coro1 acquired lock",
            "coro1 released lock",
        ]
        .to_vec();
        assert!((entry.explains)(&printed(lifo.clone())));
        let mut missing = lifo.clone();
        missing.remove(8);
        assert_eq!(
            status(id, "tokio-mt", printed(missing), json!(null)).0,
            CellStatus::Fail
        );
        // Mutual exclusion broken: coro1 acquires before coro2 released.
        let mut overlap = lifo.clone();
        overlap.swap(7, 8);
        assert_eq!(
            status(id, "tokio-mt", printed(overlap), json!(null)).0,
            CellStatus::Fail
        );
        let mut doubled = lifo;
        doubled.push("coro1 released lock");
        assert_eq!(
            status(id, "tokio-mt", printed(doubled), json!(null)).0,
            CellStatus::Fail
        );
    }

    #[test]
    fn a_runtime_that_failed_to_build_is_never_a_documented_difference() {
        let expected = json!({ "nested_block_on": "refused" });
        let ran = json!({ "nested_block_on": "ran to completion" });
        assert_eq!(
            status("probe.nested_block_on", "async-std", ran, expected.clone()).0,
            CellStatus::Differs
        );
        let build = json!("runtime failed to build: out of file descriptors");
        assert_eq!(
            status("probe.nested_block_on", "async-std", build, expected).0,
            CellStatus::Fail
        );
    }

    #[test]
    fn no_entry_explains_a_setup_error_an_empty_or_a_null_observation() {
        let junk = [
            json!(null),
            json!({}),
            json!([]),
            json!("runtime failed to build: no io_uring"),
            json!("connect: connection refused"),
        ];
        for entry in differences::KNOWN {
            for value in &junk {
                assert!(
                    !(entry.explains)(value),
                    "{} on {:?} explains {value}",
                    entry.scenario,
                    entry.runtimes
                );
            }
        }
    }

    #[test]
    fn every_entry_names_a_scenario_a_known_runtime_and_a_source() {
        let mut runtimes = runtimes::runtime_ids();
        runtimes.extend([
            "tokio-ct",
            "tokio-mt",
            "async-std",
            "smol",
            "smol-mt",
            "compio",
            "monoio",
        ]);
        runtimes.extend(["asyncio", "uvloop"]);
        for entry in differences::KNOWN {
            let def = find(entry.scenario).unwrap_or_else(|| panic!("{}", entry.scenario));
            assert!(!def.selftest, "{}", entry.scenario);
            assert!(!entry.runtimes.is_empty(), "{}", entry.scenario);
            for rt in entry.runtimes {
                assert!(
                    runtimes.contains(rt),
                    "{}: unknown runtime {rt}",
                    entry.scenario
                );
            }
            assert!(!entry.observation.is_empty() && !entry.reason.is_empty());
            assert!(!entry.source.is_empty(), "{}", entry.scenario);
        }
    }
}
