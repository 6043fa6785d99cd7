//! The seed programs (`shared/seeds/`) that print their output, each replayed on the runtime
//! and checked against the lines the seed prints, quoted in each scenario. Durations are
//! scaled down (1 s becomes 10–40 ms); orders are unchanged.
//!
//! Every seed runs with one worker thread and its `main` as a task (see
//! [`crate::support::on_one_worker`]), so the printed order is the scheduler's, as in asyncio.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeConfig, RuntimeHandle, TaskHandle};
use serde_json::json;

use crate::asyncio::combinators::{gather, wait};
use crate::asyncio::future::AioFuture;
use crate::asyncio::sync::{Condition, Event, Lock};
use crate::support::{
    events, join_outcome, ms1, new_log, on_one_worker, on_runtime_with, say, Transcript,
};
use crate::Observation;

/// Compares a transcript with the seed's printed lines: `{"printed": [...]}`.
fn transcript_is(t: &Transcript, expected: &[&str]) -> Observation {
    Observation::check(
        json!({ "printed": events(t) }),
        json!({ "printed": expected }),
    )
}

/// `loop.call_later(d, cb)`: a detached task that sleeps `d` then calls `cb`.
fn call_later<H: RuntimeHandle>(h: &H, d: Duration, cb: impl FnOnce() + Send + 'static) {
    let h2 = h.clone();
    h.spawn(async move {
        h2.sleep(d).await;
        cb();
    })
    .detach();
}

scenario! {
    /// Seed 000 "Tasks".
    SeedTasks = "seed.tasks", "seed", "F4",
    "seed 000 Tasks: creating task / waiting for task / in task_func / task completed / return value",
    timing: false, kills: ["spawn_runs_inline"], run: seed_tasks
}

/// ```text
/// creating task
/// waiting for <Task pending coro=<task_func() running at tasks.py:4>>
/// in task_func
/// task completed <Task finished coro=<task_func() done, defined at tasks.py:4> result='the result'>
/// return value: 'the result'
/// ```
fn seed_tasks<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        say(&t, "creating task");
        let t2 = t.clone();
        let task = h.spawn(async move {
            say(&t2, "in task_func");
            "the result"
        });
        say(&t, "waiting for task");
        let v = task.await;
        say(&t, "task completed");
        say(&t, format!("return value: {:?}", v.unwrap_or("")));
        transcript_is(
            &t,
            &[
                "creating task",
                "waiting for task",
                "in task_func",
                "task completed",
                "return value: \"the result\"",
            ],
        )
    })
}

scenario! {
    /// Seed 000 "Callbacks": call_soon, call_later, call_at.
    SeedCallbacks = "seed.callbacks", "seed", "L4",
    "seed 000 Callbacks: registering / Call soon / Call later 2 sec / Call later 3 sec (call_at far off never); none before its delay",
    timing: false, kills: ["timers_early"], run: seed_callbacks
}

/// ```text
/// registering callbacks
/// Success - Call soon
/// Success - Call later 2 sec
/// Success - Call later 3 sec
/// ```
/// (and, as the seed's delays promise, no call_later line before its delay.)
fn seed_callbacks<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        let start = Instant::now();
        let early = Arc::new(Mutex::new(Vec::new()));
        say(&t, "registering callbacks");
        let success = |t: &Transcript, msg: &'static str| {
            let (t, early) = (t.clone(), early.clone());
            let due = match msg {
                "Call later 2 sec" => Duration::from_millis(20),
                "Call later 3 sec" => Duration::from_millis(40),
                _ => Duration::ZERO,
            };
            move || {
                if start.elapsed() < due {
                    early
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(json!({ "line": msg, "at_ms": ms1(start.elapsed()) }));
                }
                say(&t, format!("Success - {msg}"))
            }
        };
        h.call_soon_threadsafe(success(&t, "Call soon"));
        call_later(
            &h,
            Duration::from_millis(20),
            success(&t, "Call later 2 sec"),
        );
        call_later(
            &h,
            Duration::from_millis(40),
            success(&t, "Call later 3 sec"),
        );
        // call_at(1506541660, ...): loop time far in the future; never fires.
        let (h2, t2) = (h.clone(), t.clone());
        let far = h.now() + Duration::from_secs(3600);
        h.spawn(async move {
            h2.sleep_until(far).await;
            say(&t2, "Success - Network connect");
        })
        .detach();
        h.sleep(Duration::from_millis(60)).await;
        let early = early.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Observation::check(
            json!({ "printed": events(&t), "before_their_delay": early }),
            json!({
                "printed": [
                    "registering callbacks",
                    "Success - Call soon",
                    "Success - Call later 2 sec",
                    "Success - Call later 3 sec",
                ],
                "before_their_delay": [],
            }),
        )
    })
}

scenario! {
    /// Seed 000 "Future".
    SeedFuture = "seed.future", "seed", "F1",
    "seed 000 Future: slow_operation sets the result after a 10 ms sleep; main, suspended until then, prints 'Future is done!'",
    timing: false, kills: ["timers_early"], run: seed_future
}

/// ```text
/// Future is done!
/// ```
fn seed_future<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        let future = AioFuture::<&'static str>::new();
        let (f, h2) = (future.clone(), h.clone());
        let start = Instant::now();
        h.spawn(async move {
            h2.sleep(Duration::from_millis(10)).await;
            let _ = f.set_result("Future is done!");
        })
        .detach();
        let _ = future.wait().await;
        let waited = start.elapsed();
        say(&t, future.result().unwrap_or("<no result>"));
        Observation::check(
            json!({ "printed": events(&t), "main_resumed_before_the_10ms_sleep": waited < Duration::from_millis(10) }),
            json!({ "printed": ["Future is done!"], "main_resumed_before_the_10ms_sleep": false }),
        )
    })
}

scenario! {
    /// Seed 001 "Future (now with exception!)".
    SeedFutureException = "seed.future_exception", "seed", "F2",
    "seed 001 Future with exception: done() False, then True; exception() prints ':('; result() raises; a task awaiting it gets the error",
    timing: false, kills: ["outcome_overwritten"], run: seed_future_exception
}

/// ```text
/// :(
/// ```
/// (`future.result()` then raises `Exception(':(')`).
fn seed_future_exception<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        let future = AioFuture::<String>::new();
        let before = future.done();
        let _ = future.set_exception(":(");
        let after = future.done();
        say(&t, future.exception().unwrap_or_default());
        let raised = future.result().is_err();
        let awaited = join_outcome(h.spawn(future.wait())).await;
        Observation::check(
            json!({
                "done_before": before,
                "done_after": after,
                "printed": events(&t),
                "result_raised": raised,
                "awaiting_task_got": awaited,
            }),
            json!({
                "done_before": false,
                "done_after": true,
                "printed": [":("],
                "result_raised": true,
                "awaiting_task_got": { "value": { "Err": ":(" } },
            }),
        )
    })
}

/// `get_item(i)`: sleeps `i` units, returns `'item i'`.
async fn get_item<H: RuntimeHandle>(h: H, i: u64, unit: Duration) -> String {
    h.sleep(unit * i as u32).await;
    format!("item {i}")
}

scenario! {
    /// Seed 003 gather.
    SeedGather = "seed.gather", "seed", "C4",
    "seed 003 gather: getting items / waiting for tasks to complete / results: ['item 0', ..., 'item 3']",
    timing: false, kills: ["outcome_overwritten"], run: seed_gather
}

/// ```text
/// getting items
/// waiting for tasks to complete
/// results: ['item 0', 'item 1', 'item 2', 'item 3']
/// ```
fn seed_gather<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        say(&t, "getting items");
        let coros: Vec<_> = (0..4)
            .map(|i| get_item(h.clone(), i, Duration::from_millis(10)))
            .collect();
        say(&t, "waiting for tasks to complete");
        let results: Vec<String> = gather(&h, coros)
            .await
            .into_iter()
            .map(|r| r.unwrap_or_default())
            .collect();
        say(&t, format!("results: {results:?}"));
        transcript_is(
            &t,
            &[
                "getting items",
                "waiting for tasks to complete",
                "results: [\"item 0\", \"item 1\", \"item 2\", \"item 3\"]",
            ],
        )
    })
}

scenario! {
    /// Seed 003 wait with a timeout, then cancel.
    SeedWaitTimeout = "seed.wait_timeout_cancel", "seed", "C3",
    "seed 003 wait(timeout): results for items 0 and 1, then 'canceling remaining tasks'",
    timing: false, kills: ["timers_insertion_order"], run: seed_wait_timeout
}

/// ```text
/// getting items
/// waiting 2 seconds for tasks to complete
/// results: ['item 0', 'item 1']
/// canceling remaining tasks
/// ```
/// (the seed prints `completed` from a set, so its order is arbitrary; sorted here.)
fn seed_wait_timeout<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        say(&t, "getting items");
        // 0.5 unit between the timeout and the first pending item's timer: time to cancel
        // it even when the machine is loaded (at 40 ms, a loaded run once let it finish).
        let unit = Duration::from_millis(100);
        let tasks: Vec<_> = (0..4)
            .map(|i| h.spawn(get_item(h.clone(), i, unit)))
            .collect();
        say(&t, "waiting 2 seconds for tasks to complete");
        let w = wait(&h, tasks, Some(unit * 3 / 2)).await;
        let mut results: Vec<String> = w.done.into_iter().filter_map(|(_, r)| r.ok()).collect();
        results.sort();
        say(&t, format!("results: {results:?}"));
        let mut cancelled = 0;
        if !w.pending.is_empty() {
            say(&t, "canceling remaining tasks");
            // Every cancel is issued at once (their first poll), as the seed's loop of
            // `task.cancel()` does, then each is awaited.
            let outcomes =
                futures::future::join_all(w.pending.into_iter().map(|(_, task)| task.cancel()))
                    .await;
            cancelled = outcomes.iter().filter(|r| r.is_err()).count();
        }
        say(&t, format!("{cancelled} cancelled"));
        transcript_is(
            &t,
            &[
                "getting items",
                "waiting 2 seconds for tasks to complete",
                "results: [\"item 0\", \"item 1\"]",
                "canceling remaining tasks",
                "2 cancelled",
            ],
        )
    })
}

scenario! {
    /// Seed 000 "Locks".
    SeedLock = "seed.lock", "seed", "S1",
    "seed 000 Locks: coro1 and coro2 wait; the callback releases; coro1 then coro2 acquire",
    timing: false, kills: ["lifo_ready_queue"], run: seed_lock
}

/// ```text
/// acquiring the lock before starting coroutines
/// lock acquired: True
/// waiting for coroutines
/// coro1 waiting for the lock
/// coro2 waiting for the lock
/// callback releasing lock
/// coro1 acquired lock
/// coro1 released lock
/// coro2 acquired lock
/// coro2 released lock
/// ```
fn seed_lock<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        let lock = Arc::new(Lock::new());
        say(&t, "acquiring the lock before starting coroutines");
        lock.acquire().await;
        say(
            &t,
            format!(
                "lock acquired: {}",
                if lock.locked() { "True" } else { "False" }
            ),
        );
        let (l, tt) = (lock.clone(), t.clone());
        call_later(&h, Duration::from_millis(20), move || {
            say(&tt, "callback releasing lock");
            l.release();
        });
        say(&t, "waiting for coroutines");
        let coro = |name: &'static str| {
            let (l, t) = (lock.clone(), t.clone());
            async move {
                say(&t, format!("{name} waiting for the lock"));
                l.acquire().await;
                say(&t, format!("{name} acquired lock"));
                l.release();
                say(&t, format!("{name} released lock"));
            }
        };
        let tasks = vec![h.spawn(coro("coro1")), h.spawn(coro("coro2"))];
        let _ = wait(&h, tasks, None).await;
        transcript_is(
            &t,
            &[
                "acquiring the lock before starting coroutines",
                "lock acquired: True",
                "waiting for coroutines",
                "coro1 waiting for the lock",
                "coro2 waiting for the lock",
                "callback releasing lock",
                "coro1 acquired lock",
                "coro1 released lock",
                "coro2 acquired lock",
                "coro2 released lock",
            ],
        )
    })
}

scenario! {
    /// Seed 000 "Events".
    SeedEvent = "seed.event", "seed", "S2",
    "seed 000 Events: coro1 and coro2 wait; the callback sets; coro1 then coro2 triggered",
    timing: false, kills: ["lifo_ready_queue"], run: seed_event
}

/// ```text
/// event start state: False
/// coro1 waiting for event
/// coro2 waiting for event
/// setting event in callback
/// coro1 triggered
/// coro2 triggered
/// event end state: True
/// ```
fn seed_event<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        let event = Arc::new(Event::new());
        let state = |e: &Event| if e.is_set() { "True" } else { "False" };
        say(&t, format!("event start state: {}", state(&event)));
        let (e, tt) = (event.clone(), t.clone());
        call_later(&h, Duration::from_millis(20), move || {
            say(&tt, "setting event in callback");
            e.set();
        });
        let coro = |name: &'static str| {
            let (e, t) = (event.clone(), t.clone());
            async move {
                say(&t, format!("{name} waiting for event"));
                e.wait().await;
                say(&t, format!("{name} triggered"));
            }
        };
        let tasks = vec![h.spawn(coro("coro1")), h.spawn(coro("coro2"))];
        let _ = wait(&h, tasks, None).await;
        say(&t, format!("event end state: {}", state(&event)));
        transcript_is(
            &t,
            &[
                "event start state: False",
                "coro1 waiting for event",
                "coro2 waiting for event",
                "setting event in callback",
                "coro1 triggered",
                "coro2 triggered",
                "event end state: True",
            ],
        )
    })
}

scenario! {
    /// Seed 000 "Condition": notify(1), notify(2), notify_all.
    SeedCondition = "seed.condition", "seed", "S3",
    "seed 000 Condition: 5 consumers; notify(1), notify(2), notify_all wake them in waiting order",
    timing: false, kills: ["lifo_ready_queue"], run: seed_condition
}

/// The seed's printed lines. Its consumers start in the order `asyncio.wait` iterated its
/// set (4, 1, 0, 2, 3); the scenario passes them in that order.
const CONDITION_LINES: &[&str] = &[
    "starting manipulate_condition",
    "consumer 4 is waiting",
    "consumer 1 is waiting",
    "consumer 0 is waiting",
    "consumer 2 is waiting",
    "consumer 3 is waiting",
    "notifying 1 consumers",
    "consumer 4 triggered",
    "ending consumer 4",
    "notifying 2 consumers",
    "consumer 1 triggered",
    "ending consumer 1",
    "consumer 0 triggered",
    "ending consumer 0",
    "notifying remaining consumers",
    "ending manipulate_condition",
    "consumer 2 triggered",
    "ending consumer 2",
    "consumer 3 triggered",
    "ending consumer 3",
];

fn seed_condition<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        let cond = Arc::new(Condition::new());
        let (c, tt, h2) = (cond.clone(), t.clone(), h.clone());
        let manipulate = h.spawn(async move {
            say(&tt, "starting manipulate_condition");
            h2.sleep(Duration::from_millis(30)).await;
            for i in 1..3 {
                c.acquire().await;
                say(&tt, format!("notifying {i} consumers"));
                c.notify(i);
                c.release();
                h2.sleep(Duration::from_millis(30)).await;
            }
            c.acquire().await;
            say(&tt, "notifying remaining consumers");
            c.notify_all();
            c.release();
            say(&tt, "ending manipulate_condition");
        });
        let consumers: Vec<_> = [4, 1, 0, 2, 3]
            .into_iter()
            .map(|n| {
                let (c, t) = (cond.clone(), t.clone());
                h.spawn(async move {
                    c.acquire().await;
                    say(&t, format!("consumer {n} is waiting"));
                    c.wait().await;
                    say(&t, format!("consumer {n} triggered"));
                    c.release();
                    say(&t, format!("ending consumer {n}"));
                })
            })
            .collect();
        let _ = wait(&h, consumers, None).await;
        let _ = manipulate.await;
        transcript_is(&t, CONDITION_LINES)
    })
}

scenario! {
    /// Seed 003 run_in_executor + gather.
    SeedExecutorGather = "seed.executor_gather", "seed", "T1",
    "seed 003 executor: 6 blocking jobs on a pool of 3, gathered: results: [0, 1, 4, 9, 16, 25]; off the loop's thread, 3 at a time",
    timing: false, kills: ["blocking_inline", "blocking_unbounded"], run: seed_executor_gather
}

/// ```text
/// creating executor tasks
/// waiting for tasks to complete
/// results: [0, 1, 4, 9, 16, 25]
/// ```
fn seed_executor_gather<R: Runtime>() -> Observation {
    let config = RuntimeConfig {
        blocking_threads: Some(3),
        ..RuntimeConfig::default()
    };
    on_runtime_with::<R, _, _>(&config, |h| async move {
        let t = new_log();
        let loop_thread = std::thread::current().id();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(HashSet::new()));
        say(&t, "creating executor tasks");
        let jobs: Vec<_> = (0..6u64)
            .map(|n| {
                let (r, p, th) = (running.clone(), peak.clone(), threads.clone());
                h.spawn_blocking(move || {
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    th.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(std::thread::current().id());
                    std::thread::sleep(Duration::from_millis(20));
                    r.fetch_sub(1, Ordering::SeqCst);
                    n * n
                })
            })
            .collect();
        say(&t, "waiting for tasks to complete");
        let mut results = Vec::new();
        for j in jobs {
            results.push(j.await.unwrap_or(u64::MAX));
        }
        say(&t, format!("results: {results:?}"));
        let on_loop_thread = threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&loop_thread);
        Observation::check(
            json!({
                "printed": events(&t),
                "a_job_ran_on_the_loop_thread": on_loop_thread,
                "jobs_at_once": peak.load(Ordering::SeqCst),
            }),
            json!({
                "printed": [
                    "creating executor tasks",
                    "waiting for tasks to complete",
                    "results: [0, 1, 4, 9, 16, 25]",
                ],
                "a_job_ran_on_the_loop_thread": false,
                "jobs_at_once": 3,
            }),
        )
    })
}
