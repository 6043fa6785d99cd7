//! Futures and tasks (rules F1–F6).

use std::sync::{Arc, Mutex};

use harness::{Runtime, RuntimeHandle};

use crate::{Observation, Scenario, ScenarioDef};

/// F4: a task starts on a later loop iteration, not inside `spawn`.
pub struct TaskStartsLater;

impl Scenario for TaskStartsLater {
    const DEF: ScenarioDef = ScenarioDef {
        id: "tasks.starts_later",
        group: "tasks",
        rule: "F4",
        title: "'creating task' is recorded before 'in task' (seed 000, Tasks)",
        timing_sensitive: false,
        selftest: false,
    };

    fn run<R: Runtime>() -> Observation {
        let rt = match crate::build::<R>() {
            Ok(rt) => rt,
            Err(o) => return o,
        };
        let h = rt.handle();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        rt.block_on(async move {
            let inner = log2.clone();
            let task = h.spawn(async move {
                inner.lock().unwrap().push("in task");
            });
            log2.lock().unwrap().push("creating task");
            let _ = task.await;
        });
        let seen = log.lock().unwrap().clone();
        Observation::expect_eq(seen, vec!["creating task", "in task"])
    }
}
