//! Threads and blocking work (rules T1–T3, F2): `spawn_blocking` as asyncio's
//! `run_in_executor`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeConfig, RuntimeHandle, TaskHandle};
use serde_json::json;

use crate::support::{
    eventually, join_outcome, ms, on_runtime, on_runtime_with, outcome, spin_until,
};
use crate::Observation;

scenario! {
    /// T2: a pool of N threads runs at most N blocking calls at once.
    PoolLimit = "blocking.pool_limit", "blocking", "T2",
    "blocking_threads = 2: 6 blocking jobs of 30 ms run at most 2 at a time (and 2 do overlap)",
    timing: false, kills: ["blocking_unbounded", "blocking_inline"], run: pool_limit
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
        Observation::check(
            json!({ "completed": ok, "peak_concurrency": peak }),
            json!({ "completed": 6, "peak_concurrency": 2 }),
        )
        .measure("peak_concurrency", peak as f64, "count")
    })
}

scenario! {
    /// T1: blocking work runs on another thread and does not stall the loop.
    LoopNotStalled = "blocking.loop_not_stalled", "blocking", "T1",
    "during a 100 ms blocking job on the pool, a 5 ms ticker keeps ticking (>= 5 ticks)",
    timing: false, kills: ["blocking_inline"], run: loop_not_stalled
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
        Observation::check(
            json!({ "at_least_5_ticks": ticks >= 5, "job": outcome(&other_thread) }),
            json!({ "at_least_5_ticks": true, "job": { "value": true } }),
        )
        .measure("ticks_during_job", f64::from(ticks), "count")
    })
}

scenario! {
    /// F2 (blocking): a panic in blocking work comes back to the awaiter as an error.
    BlockingPanic = "blocking.panic_is_error", "blocking", "F2",
    "a panic in spawn_blocking yields JoinError::Panicked carrying the message; the pool goes on",
    timing: false, kills: ["panic_payload_lost"], run: blocking_panic
}

fn blocking_panic<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::BlockingPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let j = h.spawn_blocking(|| -> u8 { panic!("boom in pool") });
        let failed = join_outcome(j).await;
        let after = join_outcome(h.spawn_blocking(|| 3u8)).await;
        Observation::check(
            json!({ "joined": failed, "next_job": after }),
            json!({ "joined": { "panicked": "boom in pool" }, "next_job": { "value": 3 } }),
        )
    })
}

scenario! {
    /// T2: a saturated pool queues the excess and finishes everything.
    PoolSaturation = "blocking.pool_saturation", "blocking", "T2",
    "blocking_threads = 50: 1,000 jobs of 10 ms all complete, at most 50 at once; peak threads and total time",
    timing: true, kills: ["blocking_unbounded"], run: pool_saturation
}

fn pool_saturation<R: Runtime>() -> Observation {
    let config = RuntimeConfig {
        blocking_threads: Some(50),
        ..RuntimeConfig::default()
    };
    on_runtime_with::<R, _, _>(&config, |h| async move {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let start = Instant::now();
        let jobs: Vec<_> = (0..1000)
            .map(|_| {
                let (r, p, t) = (running.clone(), peak.clone(), threads.clone());
                h.spawn_blocking(move || {
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    t.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(std::thread::current().id());
                    std::thread::sleep(Duration::from_millis(10));
                    r.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        let mut completed = 0;
        for j in jobs {
            completed += usize::from(j.await.is_ok());
        }
        let total = start.elapsed();
        let peak = peak.load(Ordering::SeqCst);
        let distinct = threads.lock().unwrap_or_else(|e| e.into_inner()).len();
        Observation::check(
            json!({ "completed": completed, "peak_within_the_bound": peak <= 50 }),
            json!({ "completed": 1000, "peak_within_the_bound": true }),
        )
        .measure("peak_concurrency", peak as f64, "count")
        .measure("threads_used", distinct as f64, "count")
        .measure("total", ms(total), "ms")
    })
}

scenario! {
    /// T3: dropping the runtime waits for a blocking job in flight (asyncio.run).
    DropWaitsForJob = "blocking.drop_waits_for_job", "blocking", "T3",
    "dropping the runtime while a 300 ms blocking job runs: does drop wait for it, does it finish; drop time",
    timing: false, kills: ["shutdown_abandons_jobs"], run: drop_waits_for_job
}

fn drop_waits_for_job<R: Runtime>() -> Observation {
    let rt = match crate::build::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (s, f, h2) = (started.clone(), finished.clone(), h.clone());
    rt.block_on(async move {
        h2.spawn_blocking(move || {
            s.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            f.store(true, Ordering::SeqCst);
        })
        .detach();
        let s = started.clone();
        eventually(&h2, Duration::from_secs(2), || s.load(Ordering::SeqCst)).await;
    });
    drop(h);
    let dropping = Instant::now();
    drop(rt);
    let drop_took = dropping.elapsed();
    let finished_at_drop = finished.load(Ordering::SeqCst);
    let finished_later = spin_until(Duration::from_secs(1), || finished.load(Ordering::SeqCst));
    Observation::check(
        json!({ "job_finished_when_drop_returned": finished_at_drop, "job_finished_within_1s": finished_later }),
        json!({ "job_finished_when_drop_returned": true, "job_finished_within_1s": true }),
    )
    .measure("drop_took", ms(drop_took), "ms")
}

scenario! {
    /// T1: blocking work handed in from a plain thread through the handle.
    FromPlainThread = "blocking.from_plain_thread", "blocking", "T1",
    "a plain thread calls spawn_blocking through the handle; a task awaits the 20 ms job's result: 42, resumed within 500 ms",
    timing: false, kills: ["lost_wakeup"], run: from_plain_thread
}

fn from_plain_thread<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let h2 = h.clone();
        let job = std::thread::spawn(move || {
            h2.spawn_blocking(|| {
                // Long enough that the task is waiting when the job completes.
                std::thread::sleep(Duration::from_millis(20));
                42u32
            })
        })
        .join()
        .map_err(|_| ());
        let Ok(job) = job else {
            return Observation::deviates("the plain thread panicked", "a job handle");
        };
        let waiting = std::time::Instant::now();
        let got = match crate::support::within(&h, Duration::from_secs(1), join_outcome(job)).await
        {
            Some(v) => v,
            None => json!("no result within 1 s"),
        };
        let waited = waiting.elapsed();
        Observation::check(
            json!({ "joined": got, "resumed_later_than_500ms": waited > Duration::from_millis(500) }),
            json!({ "joined": { "value": 42 }, "resumed_later_than_500ms": false }),
        )
        .measure("waited", crate::support::ms(waited), "ms")
    })
}
