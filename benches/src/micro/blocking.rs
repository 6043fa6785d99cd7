//! `spawn_blocking` round trips: hand a closure to the runtime's blocking pool and await
//! its value.

use std::io;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeHandle};

use super::{on_runtime, task_failed, Workload, WorkloadDef};

/// Awaits one `spawn_blocking` closure after another.
pub struct SpawnBlocking;

impl Workload for SpawnBlocking {
    const DEF: WorkloadDef = WorkloadDef {
        name: "spawn_blocking",
        description:
            "run a trivial closure on the blocking pool and await its value, one at a time",
        iteration: "one spawn_blocking round trip",
        deterministic: false,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let start = Instant::now();
            for i in 0..iters {
                let value = handle
                    .spawn_blocking(move || i)
                    .await
                    .map_err(task_failed)?;
                assert_eq!(value, i, "blocking closure returned another value");
            }
            Ok(start.elapsed())
        })
    }
}
