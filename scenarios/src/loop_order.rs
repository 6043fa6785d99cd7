//! The loop itself (rules L1–L7): run until complete, run forever and stop, `call_soon`
//! order, `call_later`/`call_at`, the clock, `call_soon_threadsafe`, debug mode.
//!
//! `call_soon(cb)` is `call_soon_threadsafe` (a short detached task); `call_later(d, cb)` is
//! a task that sleeps `d` then runs `cb`; `run_forever` + `stop` is a `block_on` of a future
//! that finishes at the stop, followed by another `block_on`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeConfig, RuntimeHandle, TaskHandle};

use crate::support::{
    events, eventually, late_slack, ms, new_log, on_one_worker, on_runtime, push, spin_until,
};
use crate::Observation;

scenario! {
    /// L1: `block_on` returns the future's output once it completes.
    RunUntilComplete = "loop.run_until_complete", "loop", "L1",
    "block_on returns the output of a future that awaits a sleep and a task",
    timing: false, run: run_until_complete
}

fn run_until_complete<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        h.sleep(Duration::from_millis(2)).await;
        let part = h.spawn(async { 41 }).await;
        Observation::expect_eq(part.map(|v| v + 1), Ok(42))
    })
}

scenario! {
    /// L2: callbacks queued before a stop are not lost; the next run executes each once.
    RunForeverStop = "loop.run_forever_stop", "loop", "L2",
    "callbacks queued before stop run exactly once, at the latest on the next run",
    timing: false, run: run_forever_stop
}

fn run_forever_stop<R: Runtime>() -> Observation {
    let rt = match crate::build::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..5).map(|_| AtomicUsize::new(0)).collect());
    let c = counts.clone();
    let h1 = h.clone();
    // First run: queue five callbacks, then stop (the future completes).
    rt.block_on(async move {
        for i in 0..5 {
            let c = c.clone();
            h1.call_soon_threadsafe(move || {
                c[i].fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    let ran_before_return: usize = counts.iter().map(|c| c.load(Ordering::SeqCst)).sum();
    let c = counts.clone();
    let h2 = h.clone();
    let all_ran = rt.block_on(async move {
        eventually(&h2, Duration::from_secs(2), || {
            c.iter().all(|x| x.load(Ordering::SeqCst) > 0)
        })
        .await;
        // Let any duplicate run show up.
        h2.sleep(Duration::from_millis(5)).await;
        c.iter()
            .map(|x| x.load(Ordering::SeqCst))
            .collect::<Vec<_>>()
    });
    Observation::expect_eq(all_ran, vec![1; 5]).measure(
        "callbacks_run_before_first_block_on_returned",
        ran_before_return as f64,
        "count",
    )
}

scenario! {
    /// L3: call_soon callbacks run in scheduling order (one worker thread, main as a task).
    CallSoonFifo = "loop.call_soon_fifo", "loop", "L3",
    "20 call_soon callbacks scheduled from a task run in FIFO order (one worker)",
    timing: false, run: call_soon_fifo
}

fn call_soon_fifo<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        for i in 0..20 {
            let log = log.clone();
            h.call_soon_threadsafe(move || push(&log, i));
        }
        let l = log.clone();
        eventually(&h, Duration::from_secs(2), || events(&l).len() == 20).await;
        Observation::expect_eq(events(&log), (0..20).collect())
    })
}

scenario! {
    /// L3: callbacks run one at a time, never overlapping (default configuration).
    CallSoonOneAtATime = "loop.call_soon_one_at_a_time", "loop", "L3",
    "while the first call_soon callback holds the thread (<=100 ms), no other callback starts",
    timing: false, run: call_soon_one_at_a_time
}

fn call_soon_one_at_a_time<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let overlapped = Arc::new(AtomicUsize::new(0));
        for i in 0..4 {
            let (s, f, o) = (started.clone(), finished.clone(), overlapped.clone());
            h.call_soon_threadsafe(move || {
                s.fetch_add(1, Ordering::SeqCst);
                if i == 0 {
                    // Hold the thread; a later callback starting now runs alongside.
                    if spin_until(Duration::from_millis(100), || s.load(Ordering::SeqCst) > 1) {
                        o.fetch_add(1, Ordering::SeqCst);
                    }
                }
                f.fetch_add(1, Ordering::SeqCst);
            });
        }
        let f = finished.clone();
        eventually(&h, Duration::from_secs(2), || f.load(Ordering::SeqCst) == 4).await;
        if overlapped.load(Ordering::SeqCst) > 0 {
            Observation::deviates(
                "a second callback started while the first was still running (in parallel)",
                "callbacks run one at a time",
            )
        } else {
            Observation::pass()
        }
    })
}

scenario! {
    /// L4: a call_soon callback runs before a timer scheduled earlier with a positive delay.
    CallSoonBeforeTimer = "loop.call_soon_before_timer", "loop", "L4",
    "call_soon runs before a 30 ms call_later scheduled just before it (seed 000, Callbacks)",
    timing: false, run: call_soon_before_timer
}

fn call_soon_before_timer<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let log = new_log();
        let l = log.clone();
        let h2 = h.clone();
        h.spawn(async move {
            h2.sleep(Duration::from_millis(30)).await;
            push(&l, "call_later");
        })
        .detach();
        let l = log.clone();
        h.call_soon_threadsafe(move || push(&l, "call_soon"));
        let l = log.clone();
        eventually(&h, Duration::from_secs(2), || events(&l).len() == 2).await;
        Observation::expect_eq(events(&log), vec!["call_soon", "call_later"])
    })
}

scenario! {
    /// L4: call_later(d) never fires before d, nor absurdly late.
    CallLaterNotEarly = "loop.call_later_not_early", "loop", "L4",
    "call_later(5/15/25 ms) each fire no earlier than their delay (late only within slack)",
    timing: true, run: call_later_not_early
}

fn call_later_not_early<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let log = new_log();
        let start = Instant::now();
        for d in [25u64, 5, 15] {
            let (l, h2) = (log.clone(), h.clone());
            h.spawn(async move {
                h2.sleep(Duration::from_millis(d)).await;
                push(&l, (d, start.elapsed()));
            })
            .detach();
        }
        let l = log.clone();
        eventually(&h, Duration::from_secs(3), || events(&l).len() == 3).await;
        check_deadlines(events(&log))
    })
}

/// Checks `(delay_ms, elapsed)` pairs: never early, late only within [`late_slack`].
fn check_deadlines(fired: Vec<(u64, Duration)>) -> Observation {
    let mut problems = Vec::new();
    let mut worst: f64 = 0.0;
    for (d, elapsed) in &fired {
        let due = Duration::from_millis(*d);
        if *elapsed < due {
            problems.push(format!(
                "{d} ms timer fired early, at {:.3} ms",
                ms(*elapsed)
            ));
        } else if *elapsed > due + late_slack(due) {
            problems.push(format!(
                "{d} ms timer fired late, at {:.1} ms",
                ms(*elapsed)
            ));
        } else {
            worst = worst.max(ms(*elapsed - due));
        }
    }
    let obs = if fired.len() != 3 {
        Observation::deviates(format!("{} of 3 timers fired", fired.len()), "all 3 fire")
    } else if problems.is_empty() {
        Observation::pass()
    } else {
        Observation::deviates(problems.join("; "), "no timer before its deadline")
    };
    obs.measure("max_lateness", worst, "ms")
}

scenario! {
    /// L4: call_at(t) never fires before loop time t.
    CallAtNotEarly = "loop.call_at_not_early", "loop", "L4",
    "call_at(now + 5/15/25 ms) via sleep_until each fire no earlier than their deadline",
    timing: true, run: call_at_not_early
}

fn call_at_not_early<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let log = new_log();
        let start = h.now();
        for d in [15u64, 25, 5] {
            let (l, h2) = (log.clone(), h.clone());
            h.spawn(async move {
                h2.sleep_until(start + Duration::from_millis(d)).await;
                push(&l, (d, start.elapsed()));
            })
            .detach();
        }
        let l = log.clone();
        eventually(&h, Duration::from_secs(3), || events(&l).len() == 3).await;
        check_deadlines(events(&log))
    })
}

scenario! {
    /// L5: the loop clock is monotonic and agrees with sleeps.
    TimeMonotonic = "loop.time_monotonic", "loop", "L5",
    "now() never goes backwards across yields, and advances by at least a sleep's duration",
    timing: false, run: time_monotonic
}

fn time_monotonic<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let mut last = h.now();
        for _ in 0..200 {
            h.yield_now().await;
            let t = h.now();
            if t < last {
                return Observation::deviates("now() went backwards", "a monotonic clock");
            }
            last = t;
        }
        let before = h.now();
        h.sleep(Duration::from_millis(10)).await;
        let slept = h.now() - before;
        if slept < Duration::from_millis(10) {
            return Observation::deviates(
                format!("now() advanced {:.3} ms across a 10 ms sleep", ms(slept)),
                "at least 10 ms",
            );
        }
        Observation::pass()
    })
}

scenario! {
    /// L6: call_soon_threadsafe from another thread wakes a loop idle on a long timer.
    CallSoonThreadsafeWakes = "loop.call_soon_threadsafe_wakes", "loop", "L6",
    "a loop idle on a 5 s timer is woken by call_soon_threadsafe from a plain thread",
    timing: false, run: call_soon_threadsafe_wakes
}

fn call_soon_threadsafe_wakes<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (tx, rx) = futures::channel::oneshot::channel::<Instant>();
        let h2 = h.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let sent = Instant::now();
            h2.call_soon_threadsafe(move || {
                let _ = tx.send(sent);
            });
        });
        let timer = Box::pin(h.sleep(Duration::from_secs(5)));
        let out = futures::future::select(rx, timer).await;
        let _ = thread.join();
        match out {
            futures::future::Either::Left((Ok(sent), _)) => {
                Observation::pass().measure("wakeup_latency", ms(sent.elapsed()), "ms")
            }
            _ => Observation::deviates(
                "the callback did not run before the 5 s timer",
                "call_soon_threadsafe wakes the idle loop",
            ),
        }
    })
}

/// Builds `R` in debug mode with a 20 ms slow-callback threshold.
fn debug_runtime<R: Runtime>() -> Result<R, Observation> {
    crate::build_with::<R>(&RuntimeConfig {
        debug_slow_threshold: Some(Duration::from_millis(20)),
        ..RuntimeConfig::default()
    })
}

/// The `unsupported` observation for a runtime without debug mode, naming what it offers.
fn no_debug_mode<R: Runtime>() -> Observation {
    Observation::unsupported(format!(
        "{} has no asyncio-style debug mode; {}",
        R::ID,
        crate::differences::debug_alternative(R::ID)
    ))
}

scenario! {
    /// L7: debug mode reports a task step that holds the loop longer than the threshold.
    DebugSlowCallback = "loop.debug_slow_callback", "loop", "L7",
    "debug mode (threshold 20 ms) reports a task step that blocks the loop for 60 ms",
    timing: false, run: debug_slow_callback
}

fn debug_slow_callback<R: Runtime>() -> Observation {
    let rt = match debug_runtime::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    if rt.debug_reports().is_none() {
        return no_debug_mode::<R>();
    }
    let h = rt.handle();
    rt.block_on(async move {
        let _ = h
            .spawn(async { std::thread::sleep(Duration::from_millis(60)) })
            .await;
    });
    let reports = rt.debug_reports().unwrap_or_default();
    if reports.is_empty() {
        Observation::deviates("no debug report", "a report of the 60 ms step")
    } else {
        Observation::pass().measure("reports", reports.len() as f64, "count")
    }
}

scenario! {
    /// L7: debug mode reports a task that was created but never polled.
    DebugNeverPolled = "loop.debug_never_polled", "loop", "L7",
    "debug mode reports a task aborted before it was ever polled",
    timing: false, run: debug_never_polled
}

fn debug_never_polled<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    let rt = match debug_runtime::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    if rt.debug_reports().is_none() {
        return no_debug_mode::<R>();
    }
    let h = rt.handle();
    rt.block_on(async move {
        let mut t = h.spawn(async {});
        t.abort();
        let _ = t.await;
        h.sleep(Duration::from_millis(1)).await;
    });
    let reports = rt.debug_reports().unwrap_or_default();
    if reports.is_empty() {
        Observation::deviates("no debug report", "a report of the never-polled task")
    } else {
        Observation::pass()
    }
}
