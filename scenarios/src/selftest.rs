//! Harness self-tests: scenarios that hang or abort on purpose, to prove the conformance
//! runner turns them into `timeout` and `crash` cells without going down itself. They are
//! never part of `--scenario all`; name them explicitly (`--scenario 'selftest.*'`).

use harness::{Runtime, RuntimeHandle};

use crate::support::on_runtime;
use crate::{Observation, Scenario, ScenarioDef};

/// Never completes: awaits a sleep far longer than any time limit.
pub struct Hang;

impl Scenario for Hang {
    const DEF: ScenarioDef = ScenarioDef {
        id: "selftest.hang",
        group: "selftest",
        rule: "-",
        title: "hangs forever; the runner must report timeout",
        timing_sensitive: false,
        selftest: true,
        kills: &[],
    };

    fn run<R: Runtime>() -> Observation {
        on_runtime::<R, _, _>(|h| async move {
            h.sleep(std::time::Duration::from_secs(24 * 3600)).await;
            Observation::pass()
        })
    }
}

/// Aborts the process from inside a task.
pub struct Abort;

impl Scenario for Abort {
    const DEF: ScenarioDef = ScenarioDef {
        id: "selftest.abort",
        group: "selftest",
        rule: "-",
        title: "aborts the process; the runner must report crash",
        timing_sensitive: false,
        selftest: true,
        kills: &[],
    };

    fn run<R: Runtime>() -> Observation {
        on_runtime::<R, _, _>(|h| async move {
            let _ = h.spawn(async { std::process::abort() }).await;
            Observation::pass()
        })
    }
}
