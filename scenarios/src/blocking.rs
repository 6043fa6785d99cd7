//! Threads and blocking work (rules T1–T2): `spawn_blocking` as asyncio's
//! `run_in_executor`.
//!
//! `blocking.pool_limit` comes first in the catalogue: runtimes built on the `blocking` crate
//! size its pool once per process, at first use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::{JoinError, Runtime, RuntimeConfig, RuntimeHandle};

use crate::support::{on_runtime, on_runtime_with};
use crate::Observation;

scenario! {
    /// T2: a pool of N threads runs at most N blocking calls at once.
    PoolLimit = "blocking.pool_limit", "blocking", "T2",
    "blocking_threads = 2: 6 blocking jobs of 30 ms run at most 2 at a time (and 2 do overlap)",
    timing: false, run: pool_limit
}

fn pool_limit<R: Runtime>() -> Observation {
    let config = RuntimeConfig {
        blocking_threads: Some(2),
        ..RuntimeConfig::default()
    };
    on_runtime_with::<R, _, _>(&config, |h| async move {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..6)
            .map(|_| {
                let (r, p) = (running.clone(), peak.clone());
                h.spawn_blocking(move || {
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    r.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        let mut ok = 0;
        for j in jobs {
            ok += usize::from(j.await.is_ok());
        }
        let peak = peak.load(Ordering::SeqCst);
        Observation::expect_eq((ok, peak), (6, 2)).measure("peak_concurrency", peak as f64, "count")
    })
}

scenario! {
    /// T1: blocking work runs on another thread and does not stall the loop.
    LoopNotStalled = "blocking.loop_not_stalled", "blocking", "T1",
    "during a 100 ms blocking job on the pool, a 5 ms ticker keeps ticking (>= 5 ticks)",
    timing: false, run: loop_not_stalled
}

fn loop_not_stalled<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let caller = std::thread::current().id();
        let job = h.spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::thread::current().id() != caller
        });
        let mut ticks = 0;
        let mut job = Box::pin(job);
        let other_thread = loop {
            let tick = Box::pin(h.sleep(Duration::from_millis(5)));
            match futures::future::select(job, tick).await {
                futures::future::Either::Left((r, _)) => break r,
                futures::future::Either::Right(((), j)) => {
                    ticks += 1;
                    job = j;
                }
            }
        };
        let obs = if ticks >= 5 && other_thread == Ok(true) {
            Observation::pass()
        } else {
            Observation::deviates(
                format!("{ticks} ticks; job on another thread: {other_thread:?}"),
                ">= 5 ticks, job on another thread",
            )
        };
        obs.measure("ticks_during_job", f64::from(ticks), "count")
    })
}

scenario! {
    /// F2 (blocking): a panic in blocking work comes back to the awaiter as an error.
    BlockingPanic = "blocking.panic_is_error", "blocking", "F2",
    "a panic in spawn_blocking yields JoinError::Panicked carrying the message",
    timing: false, run: blocking_panic
}

fn blocking_panic<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::BlockingPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let j = h.spawn_blocking(|| -> u8 { panic!("boom in pool") });
        let after = h.spawn_blocking(|| 3u8).await;
        Observation::expect_eq(
            (j.await, after),
            (Err(JoinError::Panicked("boom in pool".into())), Ok(3)),
        )
    })
}
