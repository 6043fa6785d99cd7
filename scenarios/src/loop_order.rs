//! The loop itself (rules L1–L7, L9): run until complete, run forever and stop, `call_soon`
//! order, `call_later`/`call_at`, the clock, `call_soon_threadsafe`, debug mode, and what runs
//! outside a run.
//!
//! `call_soon(cb)` is `call_soon_threadsafe` (a short detached task); `call_later(d, cb)` is
//! a task that sleeps `d` then runs `cb`; `run_forever` + `stop` is a `block_on` of a future
//! that finishes when a "stop" callback queued after the others runs, followed by another
//! `block_on`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeConfig, RuntimeHandle, TaskHandle};
use serde_json::json;

use crate::support::{
    events, eventually, late_slack, ms, ms1, new_log, on_one_worker, on_runtime, outcome, push,
    spin_until, within, yields,
};
use crate::Observation;

scenario! {
    /// L1: `block_on` returns the future's output once it completes, and no later.
    RunUntilComplete = "loop.run_until_complete", "loop", "L1",
    "block_on returns 42 from a future awaiting a sleep and a task, without waiting for a 300 ms task it spawned",
    timing: false, kills: ["block_on_waits_for_all"], run: run_until_complete
}

fn run_until_complete<R: Runtime>() -> Observation {
    let rt = match crate::build::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let other_done = Arc::new(AtomicBool::new(false));
    let (d, h2) = (other_done.clone(), h.clone());
    let started = Instant::now();
    let value = rt.block_on(async move {
        h2.sleep(Duration::from_millis(2)).await;
        let part = h2.spawn(async { 41 }).await;
        // The future's last act: a task that outlives it.
        let h3 = h2.clone();
        h2.spawn(async move {
            h3.sleep(Duration::from_millis(300)).await;
            d.store(true, Ordering::SeqCst);
        })
        .detach();
        part.map(|v| v + 1)
    });
    let returned_after = started.elapsed();
    let waited = other_done.load(Ordering::SeqCst);
    Observation::check(
        json!({ "returned": outcome(&value), "waited_for_the_other_task": waited }),
        json!({ "returned": { "value": 42 }, "waited_for_the_other_task": false }),
    )
    .measure("block_on_returned_after", ms(returned_after), "ms")
}

scenario! {
    /// L2: callbacks queued before a stop run before the run returns; callbacks queued after
    /// the stop are kept for the next run; each runs exactly once.
    RunForeverStop = "loop.run_forever_stop", "loop", "L2",
    "5 callbacks queued before a 'stop' callback run before the run returns; 3 queued in the stop's iteration run on the next run; each once",
    timing: false, kills: ["stop_drops_queued"], run: run_forever_stop
}

fn run_forever_stop<R: Runtime>() -> Observation {
    // One worker: "queued before the stop" is an order only a single thread keeps.
    let config = RuntimeConfig {
        worker_threads: Some(1),
        ..RuntimeConfig::default()
    };
    let rt = match crate::build_with::<R>(&config) {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..8).map(|_| AtomicUsize::new(0)).collect());
    let (r, h1) = (runs.clone(), h.clone());
    rt.block_on(async move {
        for i in 0..5 {
            let r = r.clone();
            h1.call_soon_threadsafe(move || {
                r[i].fetch_add(1, Ordering::SeqCst);
            });
        }
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
        let (r2, h2) = (r.clone(), h1.clone());
        h1.call_soon_threadsafe(move || {
            // stop(), then a callback of the same (last) iteration that queues three more:
            // those are queued after the stop and belong to the next run.
            let _ = stop_tx.send(());
            let h3 = h2.clone();
            h2.call_soon_threadsafe(move || {
                for i in 5..8 {
                    let r = r2.clone();
                    h3.call_soon_threadsafe(move || {
                        r[i].fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
        });
        let _ = within(&h1, Duration::from_secs(2), stop_rx).await;
    });
    let before_stop: usize = runs[..5].iter().map(|c| c.load(Ordering::SeqCst)).sum();
    let (r, h2) = (runs.clone(), h.clone());
    let counts = rt.block_on(async move {
        eventually(&h2, Duration::from_secs(1), || {
            r.iter().all(|x| x.load(Ordering::SeqCst) > 0)
        })
        .await;
        // Give a duplicate run the chance to show up.
        yields(&h2, 20).await;
        r.iter()
            .map(|x| x.load(Ordering::SeqCst))
            .collect::<Vec<_>>()
    });
    Observation::check(
        json!({ "queued_before_stop_ran_by_return": before_stop, "runs_of_each": counts }),
        json!({ "queued_before_stop_ran_by_return": 5, "runs_of_each": vec![1; 8] }),
    )
}

scenario! {
    /// L3: call_soon callbacks run in scheduling order (one worker thread, main as a task).
    CallSoonFifo = "loop.call_soon_fifo", "loop", "L3",
    "20 call_soon callbacks scheduled from a task run in FIFO order (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: call_soon_fifo
}

fn call_soon_fifo<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        for i in 0..20 {
            let log = log.clone();
            h.call_soon_threadsafe(move || push(&log, i));
        }
        let l = log.clone();
        eventually(&h, Duration::from_secs(2), || events(&l).len() >= 20).await;
        yields(&h, 5).await;
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": (0..20).collect::<Vec<_>>() }),
        )
    })
}

scenario! {
    /// L3: callbacks run one at a time, never overlapping (default configuration).
    CallSoonOneAtATime = "loop.call_soon_one_at_a_time", "loop", "L3",
    "while the first call_soon callback holds the thread (<=100 ms), no other callback starts",
    timing: false, kills: ["callbacks_in_parallel"], run: call_soon_one_at_a_time
}

fn call_soon_one_at_a_time<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let overlapped = Arc::new(AtomicBool::new(false));
        for i in 0..4 {
            let (s, f, o) = (started.clone(), finished.clone(), overlapped.clone());
            h.call_soon_threadsafe(move || {
                s.fetch_add(1, Ordering::SeqCst);
                if i == 0 {
                    // Hold the thread; a later callback starting now runs alongside.
                    if spin_until(Duration::from_millis(100), || s.load(Ordering::SeqCst) > 1) {
                        o.store(true, Ordering::SeqCst);
                    }
                }
                f.fetch_add(1, Ordering::SeqCst);
            });
        }
        let f = finished.clone();
        let all = eventually(&h, Duration::from_secs(2), || f.load(Ordering::SeqCst) == 4).await;
        Observation::check(
            json!({ "all_ran": all, "one_started_while_another_ran": overlapped.load(Ordering::SeqCst) }),
            json!({ "all_ran": true, "one_started_while_another_ran": false }),
        )
    })
}

scenario! {
    /// L3: a callback queued by a callback runs after it returns, never nested inside it.
    CallSoonNotNested = "loop.call_soon_not_nested", "loop", "L3",
    "a callback that queues another with call_soon finishes before the other starts (one worker)",
    timing: false, kills: ["call_soon_inline"], run: call_soon_not_nested
}

fn call_soon_not_nested<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let (l, h2) = (log.clone(), h.clone());
        h.call_soon_threadsafe(move || {
            push(&l, "outer starts");
            let l2 = l.clone();
            h2.call_soon_threadsafe(move || push(&l2, "inner runs"));
            push(&l, "outer ends");
        });
        let l = log.clone();
        eventually(&h, Duration::from_secs(1), || events(&l).len() >= 3).await;
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": ["outer starts", "outer ends", "inner runs"] }),
        )
    })
}

scenario! {
    /// L4: a call_soon callback runs before a timer that came due while it was queued.
    CallSoonBeforeTimer = "loop.call_soon_before_timer", "loop", "L4",
    "a 1 ms timer comes due while a call_soon callback waits its turn: the callback runs first (one worker)",
    timing: false, kills: ["timers_before_ready"], run: call_soon_before_timer
}

fn call_soon_before_timer<R: Runtime>() -> Observation {
    // The timer is due 50 ms after it is armed: the callback is queued well before that
    // (even on a loaded machine), then the loop is held past the deadline, so both are ready
    // at the next turn. (With a 1 ms timer a stalled test thread let the timer come due before
    // the callback was queued, and then the timer first was the right order.)
    const DUE: Duration = Duration::from_millis(50);
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let deadline = Instant::now() + DUE;
        let armed = Arc::new(AtomicBool::new(false));
        let (l, a, h2) = (log.clone(), armed.clone(), h.clone());
        h.spawn(async move {
            let sleep = h2.sleep_until(deadline);
            a.store(true, Ordering::SeqCst);
            sleep.await;
            push(&l, "call_later");
        })
        .detach();
        // Let the timer task start and register its timer.
        let mut turns = 0;
        while !armed.load(Ordering::SeqCst) && turns < 1000 {
            h.yield_now().await;
            turns += 1;
        }
        h.yield_now().await;
        let l = log.clone();
        h.call_soon_threadsafe(move || push(&l, "call_soon"));
        let queued_before_due = Instant::now() < deadline;
        // Hold the loop until the timer is overdue: both are ready at the next turn.
        std::thread::sleep(
            deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(3),
        );
        let l = log.clone();
        eventually(&h, Duration::from_secs(2), || events(&l).len() >= 2).await;
        Observation::check(
            json!({ "order": events(&log), "queued_before_due": queued_before_due }),
            json!({ "order": ["call_soon", "call_later"], "queued_before_due": true }),
        )
    })
}

scenario! {
    /// L4: call_later(d) never fires before d, nor absurdly late.
    CallLaterNotEarly = "loop.call_later_not_early", "loop", "L4",
    "call_later(5/15/25 ms) each fire no earlier than their delay (late only within slack)",
    timing: true, kills: ["timers_early"], run: call_later_not_early
}

fn call_later_not_early<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let log = new_log();
        for d in [25u64, 5, 15] {
            let (l, h2) = (log.clone(), h.clone());
            h.spawn(async move {
                // call_later(d) is called now.
                let start = Instant::now();
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
    let mut early = Vec::new();
    let mut late = Vec::new();
    let mut worst: f64 = 0.0;
    for (d, elapsed) in &fired {
        let due = Duration::from_millis(*d);
        if *elapsed < due {
            early.push(json!({ "delay_ms": d, "fired_at_ms": ms1(*elapsed) }));
        } else if *elapsed > due + late_slack(due) {
            late.push(json!({ "delay_ms": d, "fired_at_ms": ms1(*elapsed) }));
        } else {
            worst = worst.max(ms(*elapsed - due));
        }
    }
    Observation::check(
        json!({ "fired": fired.len(), "early": early, "late": late }),
        json!({ "fired": 3, "early": [], "late": [] }),
    )
    .measure("max_lateness", worst, "ms")
}

scenario! {
    /// L4: call_at(t) never fires before loop time t.
    CallAtNotEarly = "loop.call_at_not_early", "loop", "L4",
    "call_at(now + 5/15/25 ms) via sleep_until each fire no earlier than their deadline",
    timing: true, kills: ["timers_early"], run: call_at_not_early
}

fn call_at_not_early<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let log = new_log();
        let start = Instant::now();
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
    /// L5: the loop clock is monotonic and agrees with its timers.
    TimeMonotonic = "loop.time_monotonic", "loop", "L5",
    "now() never goes backwards over 200 yields, and advances by at least d across sleep(d) for d = 1, 5, 10 ms",
    timing: false, kills: ["clock_steps_back", "timers_early"], run: time_monotonic
}

fn time_monotonic<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let mut backwards = 0;
        let mut last = h.now();
        for _ in 0..200 {
            h.yield_now().await;
            let t = h.now();
            if t < last {
                backwards += 1;
            }
            last = t;
        }
        let mut short = Vec::new();
        for d in [1u64, 5, 10] {
            let before = h.now();
            h.sleep(Duration::from_millis(d)).await;
            let advanced = h.now().saturating_duration_since(before);
            if advanced < Duration::from_millis(d) {
                short.push(json!({ "sleep_ms": d, "advanced_ms": ms1(advanced) }));
            }
        }
        Observation::check(
            json!({ "steps_backwards": backwards, "sleeps_the_clock_did_not_cover": short }),
            json!({ "steps_backwards": 0, "sleeps_the_clock_did_not_cover": [] }),
        )
    })
}

scenario! {
    /// L6: call_soon_threadsafe from another thread wakes a loop idle on a long timer.
    CallSoonThreadsafeWakes = "loop.call_soon_threadsafe_wakes", "loop", "L6",
    "a loop idle on a 1 s timer is woken by call_soon_threadsafe from a plain thread",
    timing: false, kills: ["lost_wakeup"], run: call_soon_threadsafe_wakes
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
        let got = within(&h, Duration::from_secs(1), rx).await;
        let _ = thread.join();
        let obs = Observation::check(
            json!({ "callback_ran_before_the_1s_timer": matches!(got, Some(Ok(_))) }),
            json!({ "callback_ran_before_the_1s_timer": true }),
        );
        match got {
            Some(Ok(sent)) => obs.measure("wakeup_latency", ms(sent.elapsed()), "ms"),
            _ => obs,
        }
    })
}

scenario! {
    /// L9: tasks and callbacks run only while the loop runs.
    ProgressWithoutRun = "loop.progress_without_run", "loop", "L9",
    "a task spawned and a callback queued before any block_on do not run for 50 ms; the next block_on runs both",
    timing: false, kills: ["callbacks_in_parallel"], run: progress_without_run
}

fn progress_without_run<R: Runtime>() -> Observation {
    let rt = match crate::build::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let task_ran = Arc::new(AtomicBool::new(false));
    let callback_ran = Arc::new(AtomicBool::new(false));
    let t = task_ran.clone();
    h.spawn(async move { t.store(true, Ordering::SeqCst) })
        .detach();
    let c = callback_ran.clone();
    h.call_soon_threadsafe(move || c.store(true, Ordering::SeqCst));
    let early = spin_until(Duration::from_millis(50), || {
        task_ran.load(Ordering::SeqCst) && callback_ran.load(Ordering::SeqCst)
    });
    let before = (
        task_ran.load(Ordering::SeqCst),
        callback_ran.load(Ordering::SeqCst),
    );
    let _ = early;
    let (t, c, h2) = (task_ran.clone(), callback_ran.clone(), h.clone());
    let in_run = rt.block_on(async move {
        eventually(&h2, Duration::from_secs(1), || {
            t.load(Ordering::SeqCst) && c.load(Ordering::SeqCst)
        })
        .await
    });
    Observation::check(
        json!({
            "task_ran_without_a_run": before.0,
            "callback_ran_without_a_run": before.1,
            "both_ran_in_the_next_run": in_run,
        }),
        json!({
            "task_ran_without_a_run": false,
            "callback_ran_without_a_run": false,
            "both_ran_in_the_next_run": true,
        }),
    )
}

scenario! {
    /// L6: callbacks sent from another thread run in the order they were sent.
    ThreadsafeOrder = "loop.call_soon_threadsafe_order", "loop", "L6",
    "10 callbacks sent from a plain thread while the loop is busy run in the order sent (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: threadsafe_order
}

fn threadsafe_order<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let sent = Arc::new(AtomicBool::new(false));
        let (l, s, h2) = (log.clone(), sent.clone(), h.clone());
        let thread = std::thread::spawn(move || {
            for i in 0..10 {
                let l = l.clone();
                h2.call_soon_threadsafe(move || push(&l, i));
            }
            s.store(true, Ordering::SeqCst);
        });
        // Keep the loop busy while the thread sends, so all ten wait together.
        spin_until(Duration::from_millis(200), || sent.load(Ordering::SeqCst));
        let _ = thread.join();
        let l = log.clone();
        eventually(&h, Duration::from_secs(2), || events(&l).len() >= 10).await;
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": (0..10).collect::<Vec<_>>() }),
        )
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
    /// L7: debug mode reports a task step that holds the loop longer than the threshold, and
    /// only that one.
    DebugSlowCallback = "loop.debug_slow_callback", "loop", "L7",
    "debug mode (threshold 20 ms) reports the one task step that blocks for 60 ms, not 3 quick tasks",
    timing: false, kills: ["debug_silent"], run: debug_slow_callback
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
        for _ in 0..3 {
            let _ = h.spawn(async { 1 }).await;
        }
        let _ = h
            .spawn(async { std::thread::sleep(Duration::from_millis(60)) })
            .await;
    });
    let reports = rt.debug_reports().unwrap_or_default();
    Observation::check(json!({ "reports": reports.len() }), json!({ "reports": 1 }))
}

scenario! {
    /// L7: debug mode reports a task that was created but never polled.
    DebugNeverPolled = "loop.debug_never_polled", "loop", "L7",
    "debug mode reports the one task cancelled before it was ever polled, not 3 that ran",
    timing: false, kills: ["debug_silent"], run: debug_never_polled
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
        for _ in 0..3 {
            let _ = h.spawn(async { 1 }).await;
        }
        let _ = h.spawn(async {}).cancel().await;
        h.sleep(Duration::from_millis(1)).await;
    });
    let reports = rt.debug_reports().unwrap_or_default();
    Observation::check(json!({ "reports": reports.len() }), json!({ "reports": 1 }))
}
