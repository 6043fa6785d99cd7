//! Yielding: a few tasks that each give the scheduler many turns (tokio's `yield_many`).

use std::io;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeHandle};

use super::{on_runtime, task_failed, Workload, WorkloadDef};

/// Tasks that share the yields.
const TASKS: u64 = 16;

/// [`TASKS`] tasks yield `iters` times between them.
pub struct YieldMany;

impl Workload for YieldMany {
    const DEF: WorkloadDef = WorkloadDef {
        name: "yield_many",
        description: "16 tasks each yielding to the scheduler many times",
        iteration: "one yield_now",
        deterministic: true,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let start = Instant::now();
            let joins: Vec<_> = (0..TASKS)
                .map(|t| {
                    // The first `iters % TASKS` tasks take one yield more.
                    let share = iters / TASKS + u64::from(t < iters % TASKS);
                    let h = handle.clone();
                    handle.spawn(async move {
                        for _ in 0..share {
                            h.yield_now().await;
                        }
                        share
                    })
                })
                .collect();
            let mut yielded = 0;
            for join in joins {
                yielded += join.await.map_err(task_failed)?;
            }
            assert_eq!(yielded, iters, "yields lost");
            Ok(start.elapsed())
        })
    }
}
