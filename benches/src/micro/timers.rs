//! Timers: rounds of 1,000 sleeps with distinct deadlines spread over 100 µs, all pending at
//! once in one task. The round's span is a floor of 0.1 µs per iteration, and a runtime whose
//! timers tick in whole milliseconds (tokio) waits up to the next tick: the figure is timer
//! overhead plus resolution, not overhead alone.

use std::io;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use harness::{Runtime, RuntimeHandle};

use super::{batches, on_runtime, Workload, WorkloadDef};

/// Timers pending at once.
const ROUND: u64 = 1000;
/// Distance between two consecutive deadlines of a round (1,000 of them span 100 µs).
const STEP: Duration = Duration::from_nanos(100);

/// Rounds of [`ROUND`] timers, each at its own deadline.
pub struct Timers;

impl Workload for Timers {
    const DEF: WorkloadDef = WorkloadDef {
        name: "timers",
        description:
            "rounds of 1000 timers at distinct deadlines spread over 100 us, awaited together",
        iteration: "one timer set and fired",
        deterministic: false,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let start = Instant::now();
            for round in batches(iters, ROUND) {
                let base = handle.now();
                let mut pending: FuturesUnordered<_> = (0..round)
                    .map(|i| {
                        let deadline = base + STEP * (i as u32 + 1);
                        let sleep = handle.sleep_until(deadline);
                        async move {
                            sleep.await;
                            deadline
                        }
                    })
                    .collect();
                let mut fired = 0;
                while let Some(deadline) = pending.next().await {
                    assert!(handle.now() >= deadline, "timer fired before its deadline");
                    fired += 1;
                }
                assert_eq!(fired, round, "timers lost");
            }
            Ok(start.elapsed())
        })
    }
}
