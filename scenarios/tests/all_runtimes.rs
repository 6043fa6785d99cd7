//! Runs every scenario (self-tests aside) on every compiled-in runtime, in-process, and
//! checks each lands on `pass`, `differs` or `unsupported` — the same classification the
//! `loopbench conformance` runner applies, without its process isolation.
//!
//! Timing-sensitive scenarios run one at a time (a global lock) so they never share the CPU
//! with another scenario from this test binary.

use std::sync::Mutex;

use harness::Runtime;
use runtimes::{runtime_ids, with_runtime, RuntimeVisitor};
use scenarios::{classify, run_by_id, ScenarioDef, ALL};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct RunOne(&'static ScenarioDef);

impl RuntimeVisitor for RunOne {
    type Output = scenarios::Observation;
    fn visit<R: Runtime>(self) -> Self::Output {
        run_by_id::<R>(self.0.id).expect("scenario in catalogue")
    }
}

#[test]
fn every_scenario_on_every_runtime() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut failures = Vec::new();
    for def in ALL.iter().filter(|d| !d.selftest) {
        for id in runtime_ids() {
            let obs = with_runtime(id, RunOne(def)).expect("compiled-in runtime");
            let (status, detail) = classify(def, id, &obs);
            if status.is_failure() {
                failures.push(format!("{} on {id}: {status}: {detail}", def.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
