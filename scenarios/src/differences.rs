//! Known, documented behaviours of runtimes that differ from the reference semantics.
//!
//! Invariant: every entry states the exact observation it accounts for ([`KnownDifference::
//! observation`], checked by [`KnownDifference::explains`] against the value the scenario
//! recorded) and names its source (upstream documentation, an upstream issue, or this suite's
//! own measurement). A deviation no entry explains is a `fail`, also on a listed runtime: a
//! lost or duplicated item in a LIFO order, a broken lock, a runtime that failed to build are
//! failures, not "the documented difference". An entry whose source is "this suite's
//! measurement" is a *finding*: no upstream documents it.
//!
//! Runtime ids are plain strings: the Python columns (`asyncio`, `uvloop`) get entries here
//! like any Rust runtime.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

/// One documented difference.
#[derive(Debug)]
pub struct KnownDifference {
    /// Scenario id.
    pub scenario: &'static str,
    /// Runtime ids it applies to.
    pub runtimes: &'static [&'static str],
    /// The observation this entry accounts for, in words, exactly (shown when it does not
    /// match).
    pub observation: &'static str,
    /// Whether an observed value is that observation.
    pub explains: fn(&Value) -> bool,
    /// Why the runtime behaves this way.
    pub reason: &'static str,
    /// Where that is documented.
    pub source: &'static str,
}

/// tokio docs, `tokio::runtime::Builder::disable_lifo_slot`.
const TOKIO_LIFO: &str = "tokio docs: tokio::runtime::Builder::disable_lifo_slot — 'The \
    multi-threaded scheduler includes a heuristic for optimizing message-passing patterns. \
    This heuristic results in the **last** scheduled task being polled first.'";
/// Why: the LIFO slot.
const LIFO_REASON: &str = "tokio's multi-thread scheduler polls the most recently spawned or \
    woken task first (its LIFO slot), then the others in FIFO order, even with one worker";

/// tokio docs on the multi-thread scheduler.
const TOKIO_MT: &str = "tokio docs: tokio::runtime (module) — 'The multi-thread scheduler \
    executes futures on a thread pool, using a work-stealing strategy'";
/// async-std docs on its thread pool.
const ASYNC_STD_MT: &str = "async-std docs: crate root, 'Runtime configuration' — \
    'ASYNC_STD_THREAD_COUNT: The number of threads that the async-std runtime will start. By \
    default, this is one per logical cpu'";
/// async-executor docs on running one executor on several threads.
const SMOL_MT: &str = "async-executor docs: Executor::run — one executor may be run by \
    several threads at once; smol-mt runs it on one thread per core";
/// Why: parallel workers.
const PARALLEL: &str = "tasks run in parallel on several worker threads, so a task that \
    holds its thread does not stop the others";
/// Why: worker threads run without `block_on`.
const OWN_THREADS: &str = "the runtime's worker threads run tasks and callbacks whether or \
    not anyone is inside block_on";

/// async-task docs on panics.
const ASYNC_TASK_PANIC: &str = "async-task docs: Builder::propagate_panic — 'If this is set to \
    true, panics in the future will be propagated to the Task that the future is awaited \
    through'; async-executor's spawn and the blocking crate's unblock set it";
/// Why: the panic is re-raised.
const RERAISE: &str = "the task's panic is re-raised in whoever awaits its handle (as asyncio \
    raises a task's exception in its awaiter), instead of being returned as an error value";

/// tokio docs on its context.
const TOKIO_CONTEXT: &str = "tokio docs: tokio::time::sleep, 'Panics' — 'It can also panic \
    whenever a timer is created outside of a Tokio runtime'; tokio's I/O types panic the same \
    way ('there is no reactor running, must be called from the context of a Tokio 1.x \
    runtime')";
/// Why: tokio types need tokio.
const FOREIGN: &str = "tokio's timers and sockets need a tokio runtime's context: outside one \
    they panic (there is no reactor running), the panic ends the task, and the loop goes on";

/// async-io timers.
const ASYNC_IO_TIMER: &str = "this suite's measurement (async-io Timer::after docs say only \
    'emits an event once after the given duration'; its poll returns Ready once the deadline \
    has passed)";

/// compio's timers.
const COMPIO_TIMER: &str = "compio-runtime source: src/time/mod.rs — `pub async fn \
    sleep_until(deadline: Instant) { if let Some(timer) = TimerFuture::try_new(deadline) { \
    timer.await; } }`; src/time/future.rs, TimerFuture::try_new — 'Try to create a new \
    TimerFuture if the instant is in the future; otherwise, a None will be returned'";
/// Why: compio's sleep does not register a timer for a deadline not in the future.
const COMPIO_TIMER_REASON: &str = "compio's sleep_until creates no timer for a deadline that is \
    not in the future (sleep(0) included) and completes on its first poll: it never suspends, \
    so it cannot be used to yield";

/// monoio's scheduler on a task that wakes itself.
const MONOIO_YIELD: &str = "monoio source: src/task/harness.rs, Harness::poll — a task woken \
    while it runs (`PollFuture::Notified`) is re-scheduled with `scheduler.yield_now(..)`, and \
    src/scheduler.rs, LocalScheduler::yield_now — `cx.tasks.push_front(task)`: to the front of \
    the run queue (monoio has no yield_now of its own; the adapter's is futures-lite's, a \
    self-wake then Pending)";
/// Why: monoio runs a self-woken task again at once.
const MONOIO_YIELD_REASON: &str = "monoio puts a task that woke itself during its poll at the \
    front of its run queue, so a task that yields is polled again at once, before every other \
    ready task: yielding gives no other task a turn";

/// Shorthand for an entry.
/// Why uvloop runs a due timer before a queued callback.
const UVLOOP_ORDER: &str = "uvloop runs its ready queue (call_soon callbacks) from a libuv idle \
    handle, and libuv runs due timers before idle handles in each loop iteration, so a timer \
    that came due while a callback waited in the queue runs first (asyncio moves due timers \
    behind the callbacks already queued)";
/// libuv's loop order, and where uvloop runs call_soon callbacks.
const UVLOOP_ORDER_SOURCE: &str = "libuv docs: Design overview, 'The I/O loop' — 'Due timers \
    are run' (step 2) before 'Idle handle callbacks are called' (step 4); uvloop \
    uvloop/loop.pyx: Loop._on_idle runs the _ready queue (handler_idle, a UVIdle)";
/// Why uvloop's timers can end early on the monotonic clock, by less than its clock's step.
const UVLOOP_MS: &str = "uvloop's loop.time() is libuv's millisecond clock: the monotonic clock \
    truncated to whole milliseconds, read from the kernel's coarse clock when that ticks every \
    millisecond or faster, and cached at the start of each loop iteration; its timers are \
    whole milliseconds on that clock. Measured on the monotonic clock, a timer can end up to \
    1 ms before its delay (2 ms where libuv reads a 1 ms coarse clock)";
/// libuv's clock and timer resolution.
const UVLOOP_MS_SOURCE: &str = "libuv docs: uv_now — 'Return the current timestamp in \
    milliseconds. The timestamp is cached at the start of the event loop tick'; uv_timer_start \
    — timeout in milliseconds; libuv src/unix/linux.c uv__hrtime: UV_CLOCK_FAST prefers \
    CLOCK_MONOTONIC_COARSE when it has millisecond granularity or better; uvloop \
    uvloop/loop.pyx: Loop.time returns uv_now / 1000, call_later rounds the delay to \
    milliseconds";

/// How far before its delay, measured on the monotonic clock, a uvloop timer can end on this
/// machine (`UVLOOP_MS`), in ms: libuv's loop clock truncates to whole milliseconds (up to
/// 1 ms behind the monotonic clock), and where the kernel's coarse clock ticks every 1 ms or
/// faster libuv reads that, up to one tick further behind.
fn uvloop_early_bound_ms() -> f64 {
    static BOUND: OnceLock<f64> = OnceLock::new();
    *BOUND.get_or_init(|| early_bound_for(harness::proc::coarse_clock_resolution()))
}

/// `uvloop_early_bound_ms` for a coarse clock of resolution `coarse`.
fn early_bound_for(coarse: Duration) -> f64 {
    if coarse <= Duration::from_millis(1) {
        1.0 + coarse.as_secs_f64() * 1e3
    } else {
        1.0
    }
}

/// Whether something measured at `at` ms, due at `due` ms, ended no later than due and less
/// than uvloop's clock step (`uvloop_early_bound_ms`) before it: the one rule behind every
/// uvloop timer difference below. Measurements are rounded (to 0.1 ms or 0.001 ms): one truly
/// early by less than the bound can read as early by the bound itself, never by more, and one
/// early by less than the rounding reads as the due time.
fn within_a_clock_step(at: Option<f64>, due: Option<f64>) -> bool {
    let bound = uvloop_early_bound_ms();
    matches!((at, due), (Some(at), Some(due)) if at <= due && at >= due - bound - 1e-9)
}

/// `{"fired": n, "early": [...], "late": []}` where every early timer fired less than one
/// step of libuv's clock before its delay, and at least one did.
fn deadlines_within_a_ms(v: &Value, n: u64) -> bool {
    v.as_object().is_some_and(|o| o.len() == 3)
        && v["fired"] == json!(n)
        && v["late"] == json!([])
        && v["early"].as_array().is_some_and(|a| {
            !a.is_empty()
                && a.iter()
                    .all(|e| within_a_clock_step(e["fired_at_ms"].as_f64(), e["delay_ms"].as_f64()))
        })
}

const fn known(
    scenario: &'static str,
    runtimes: &'static [&'static str],
    observation: &'static str,
    explains: fn(&Value) -> bool,
    reason: &'static str,
    source: &'static str,
) -> KnownDifference {
    KnownDifference {
        scenario,
        runtimes,
        observation,
        explains,
        reason,
        source,
    }
}

/// `[n-1, 0, 1, ..., n-2]`: the last-queued item first (tokio's LIFO slot), the rest in FIFO
/// order.
fn lifo_slot(n: i64) -> Value {
    let mut order = vec![n - 1];
    order.extend(0..n - 1);
    json!(order)
}

/// `items` with its last element moved to the front.
fn last_first(items: &Value) -> Option<Value> {
    let mut v = items.as_array()?.clone();
    let last = v.pop()?;
    v.insert(0, last);
    Some(Value::Array(v))
}

/// Whether `v[key]` is a number `>= min`.
fn at_least(v: &Value, key: &str, min: u64) -> bool {
    v.get(key).and_then(Value::as_u64).is_some_and(|n| n >= min)
}

/// Whether `outcome` is the panic tokio raises outside its context (as an error value, or
/// re-raised in the awaiter).
fn tokio_context_panic(outcome: &Value) -> bool {
    ["panicked", "reraised_in_awaiter"].iter().any(|k| {
        outcome
            .get(k)
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("no reactor running") || m.contains("context of a Tokio"))
    })
}

/// seed.lock on tokio's LIFO slot: the seed's transcript with coro1 and coro2 swapped.
const SEED_LOCK_LIFO: &[&str] = &[
    "acquiring the lock before starting coroutines",
    "lock acquired: True",
    "waiting for coroutines",
    "coro2 waiting for the lock",
    "coro1 waiting for the lock",
    "callback releasing lock",
    "coro2 acquired lock",
    "coro2 released lock",
    "coro1 acquired lock",
    "coro1 released lock",
];

/// seed.event on tokio's LIFO slot.
const SEED_EVENT_LIFO: &[&str] = &[
    "event start state: False",
    "coro2 waiting for event",
    "coro1 waiting for event",
    "setting event in callback",
    "coro1 triggered",
    "coro2 triggered",
    "event end state: True",
];

/// seed.condition on tokio's LIFO slot.
const SEED_CONDITION_LIFO: &[&str] = &[
    "consumer 3 is waiting",
    "starting manipulate_condition",
    "consumer 4 is waiting",
    "consumer 1 is waiting",
    "consumer 0 is waiting",
    "consumer 2 is waiting",
    "notifying 1 consumers",
    "consumer 3 triggered",
    "ending consumer 3",
    "notifying 2 consumers",
    "consumer 1 triggered",
    "ending consumer 1",
    "consumer 4 triggered",
    "ending consumer 4",
    "notifying remaining consumers",
    "ending manipulate_condition",
    "consumer 2 triggered",
    "ending consumer 2",
    "consumer 0 triggered",
    "ending consumer 0",
];

/// The table.
pub static KNOWN: &[KnownDifference] = &[
    // The LIFO slot of tokio's multi-thread scheduler.
    known(
        "loop.call_soon_fifo",
        &["tokio-mt"],
        "order [19, 0, 1, ..., 18]: the last callback first, the rest in FIFO order",
        |v| v == &json!({ "order": lifo_slot(20) }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "probe.spawn_order_from_task",
        &["tokio-mt"],
        "order [4, 0, 1, 2, 3]: the last task first, the rest in FIFO order",
        |v| v == &json!({ "order": lifo_slot(5) }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "sync.lock_fifo",
        &["tokio-mt"],
        "queued and acquired both [4, 0, 1, 2, 3] (tasks start last-first), one holder at a time",
        |v| v == &json!({ "queued": lifo_slot(5), "acquired": lifo_slot(5), "peak_holders": 1 }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "sync.semaphore_fifo",
        &["tokio-mt"],
        "queued and admitted both [3, 0, 1, 2] (tasks start last-first)",
        |v| v == &json!({ "queued": lifo_slot(4), "admitted": lifo_slot(4) }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "sync.event_wakes_all",
        &["tokio-mt"],
        "waiters resume in their waiting order with the last one moved first; wait on a set \
         event immediate",
        |v| {
            let waited = &v["waited"];
            v.get("wait_on_set_is_immediate") == Some(&json!(true))
                && last_first(waited).as_ref() == v.get("resumed")
        },
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    // Parallel workers.
    known(
        "loop.call_soon_one_at_a_time",
        &["tokio-mt"],
        "all 4 callbacks ran, one started while the first was still running",
        |v| v == &json!({ "all_ran": true, "one_started_while_another_ran": true }),
        PARALLEL,
        TOKIO_MT,
    ),
    known(
        "loop.call_soon_one_at_a_time",
        &["async-std"],
        "all 4 callbacks ran, one started while the first was still running",
        |v| v == &json!({ "all_ran": true, "one_started_while_another_ran": true }),
        PARALLEL,
        ASYNC_STD_MT,
    ),
    known(
        "loop.call_soon_one_at_a_time",
        &["smol-mt"],
        "all 4 callbacks ran, one started while the first was still running",
        |v| v == &json!({ "all_ran": true, "one_started_while_another_ran": true }),
        PARALLEL,
        SMOL_MT,
    ),
    known(
        "probe.never_yield_vs_timer",
        &["tokio-mt"],
        "the timer fired while the busy task held its thread (not before it started)",
        |v| v == &json!({ "fired_before_the_busy_task": false, "fired_while_busy": true }),
        PARALLEL,
        TOKIO_MT,
    ),
    known(
        "probe.never_yield_vs_timer",
        &["async-std"],
        "the timer fired while the busy task held its thread (not before it started)",
        |v| v == &json!({ "fired_before_the_busy_task": false, "fired_while_busy": true }),
        PARALLEL,
        ASYNC_STD_MT,
    ),
    known(
        "probe.never_yield_vs_timer",
        &["smol-mt"],
        "the timer fired while the busy task held its thread (not before it started)",
        |v| v == &json!({ "fired_before_the_busy_task": false, "fired_while_busy": true }),
        PARALLEL,
        SMOL_MT,
    ),
    known(
        "probe.never_yield_vs_task",
        &["async-std"],
        "the busy task ran and the yielding task made steps meanwhile",
        |v| v["busy_task_ran"] == json!(true) && at_least(v, "yielding_task_steps_meanwhile", 1),
        PARALLEL,
        ASYNC_STD_MT,
    ),
    known(
        "probe.never_yield_vs_task",
        &["smol-mt"],
        "the busy task ran and the yielding task made steps meanwhile",
        |v| v["busy_task_ran"] == json!(true) && at_least(v, "yielding_task_steps_meanwhile", 1),
        PARALLEL,
        SMOL_MT,
    ),
    known(
        "loop.progress_without_run",
        &["tokio-mt"],
        "the task and the callback both ran before any block_on, and the next run saw them done",
        |v| {
            v == &json!({ "task_ran_without_a_run": true, "callback_ran_without_a_run": true, "both_ran_in_the_next_run": true })
        },
        OWN_THREADS,
        TOKIO_MT,
    ),
    known(
        "loop.progress_without_run",
        &["async-std"],
        "the task and the callback both ran before any block_on, and the next run saw them done",
        |v| {
            v == &json!({ "task_ran_without_a_run": true, "callback_ran_without_a_run": true, "both_ran_in_the_next_run": true })
        },
        OWN_THREADS,
        ASYNC_STD_MT,
    ),
    known(
        "loop.progress_without_run",
        &["smol-mt"],
        "the task and the callback both ran before any block_on, and the next run saw them done",
        |v| {
            v == &json!({ "task_ran_without_a_run": true, "callback_ran_without_a_run": true, "both_ran_in_the_next_run": true })
        },
        OWN_THREADS,
        SMOL_MT,
    ),
    // Cancellation on drop.
    known(
        "probe.drop_join_handle",
        &["smol", "smol-mt"],
        "the task never completed after its handle was dropped",
        |v| v == &json!({ "task_completed": false }),
        "smol's Task cancels the task when dropped (use detach() to keep it running)",
        "async-task docs: async_task::Task — 'Dropping a Task cancels it, which means its \
         future won't be polled again.'",
    ),
    // Panics re-raised in the awaiter.
    known(
        "probe.panic_awaited",
        &["async-std", "smol", "smol-mt"],
        "awaiting the task re-raised its panic \"boom\" in the awaiter; the next task ran",
        |v| {
            v == &json!({ "joined": { "reraised_in_awaiter": "boom" }, "next_task": { "value": 1 } })
        },
        RERAISE,
        ASYNC_TASK_PANIC,
    ),
    known(
        "blocking.panic_is_error",
        &["async-std", "smol", "smol-mt"],
        "awaiting the job re-raised its panic \"boom in pool\" in the awaiter; the next job ran",
        |v| {
            v == &json!({ "joined": { "reraised_in_awaiter": "boom in pool" }, "next_job": { "value": 3 } })
        },
        RERAISE,
        ASYNC_TASK_PANIC,
    ),
    // Cooperative budget.
    known(
        "probe.coop_budget",
        &["tokio-ct", "tokio-mt"],
        "some reads returned Pending although 8 bytes were buffered (the budget ran out)",
        |v| at_least(v, "pending_reads_while_data_was_ready", 1),
        "tokio's cooperative budget (128 operations per task poll) makes tokio resources \
         return Pending although ready, forcing a yield",
        "tokio docs: tokio::task::coop — 'Tokio has explicit yield points in a number of \
         library functions, which force tasks to return to the executor periodically.'",
    ),
    // sleep(0) on async-io timers.
    known(
        "timers.sleep_zero_suspends",
        &["async-std", "smol", "smol-mt"],
        "sleep(0) was ready on its first poll",
        |v| v == &json!({ "ready_on_first_poll": true }),
        "async-io's Timer is ready on its first poll once its deadline has passed, so \
         sleep(0) never yields; a loop of sleep(0) starves other tasks",
        ASYNC_IO_TIMER,
    ),
    known(
        "timers.sleep_zero_suspends",
        &["tokio-mt"],
        "sleep(0) was ready on its first poll",
        |v| v == &json!({ "ready_on_first_poll": true }),
        "tokio's multi-thread runtime shares one timer wheel that whichever worker parks on \
         the driver advances: when the task is descheduled across a millisecond boundary \
         between creating sleep(0) and its first poll, and another worker has meanwhile \
         advanced the wheel past the deadline's tick (rounded up to the next millisecond), the \
         wheel refuses the entry as elapsed and fires it at once. Rare (one cell in one CI run \
         of 1,023 cells on 2 busy cores); a separate tokio 1.54.1 program (not part of this suite) \
         with a 3 ms pause between creating the sleep and polling it, and another task's 1 ms \
         timer: ready on first poll 200 of 200 times on the multi-thread runtime, 0 of 200 on \
         the current-thread runtime",
        "that program's measurement, and tokio source: src/runtime/time/mod.rs, reregister — \
         an entry refused with InsertError::Elapsed is fired at once (entry.fire(Ok(()))); \
         src/runtime/time/source.rs, deadline_to_tick — 'Round up to the end of a ms'",
    ),
    known(
        "timers.sleep_until_past",
        &["async-std", "smol", "smol-mt"],
        "sleep_until(a past instant) was ready on its first poll, and completed",
        |v| v == &json!({ "ready_on_first_poll": true, "completed": true }),
        "async-io's Timer is ready on its first poll once its deadline has passed: a sleep \
         until a past instant does not yield",
        ASYNC_IO_TIMER,
    ),
    // Periodic timers.
    known(
        "timers.interval_catch_up",
        &["tokio-ct", "tokio-mt"],
        "the first tick came at once, and after the stall a burst of 2 or more ticks arrived",
        |v| v == &json!({ "first_tick_before_the_period": true, "burst_after_the_stall": true }),
        "tokio's Interval ticks at once first, and by default (MissedTickBehavior::Burst) \
         fires the missed ticks as fast as it can to catch up",
        "tokio docs: tokio::time::interval — 'The first tick completes immediately' and \
         MissedTickBehavior::Burst — 'This is the default behavior'",
    ),
    known(
        "timers.interval_catch_up",
        &["smol", "smol-mt"],
        "the first tick came after the period, and after the stall a burst of 2 or more ticks \
         arrived",
        |v| v == &json!({ "first_tick_before_the_period": false, "burst_after_the_stall": true }),
        "async-io's Timer::interval schedules each tick one period after the previous \
         deadline, not after the tick was taken, so missed ticks fire back to back",
        "this suite's measurement (async-io source, Timer::poll_next: `*when = when + \
         period`; its docs do not say what happens after a stall)",
    ),
    // tokio's timers.
    known(
        "cancel.wait_for",
        &["tokio-ct", "tokio-mt"],
        "everything as expected except the zero limit: the job that yields once completed \
         ({\"value\": 9}) instead of timing out",
        |v| {
            v == &json!({
                "fast": { "value": 7 },
                "slow": "timed_out",
                "slow_timed_out_before_the_limit": false,
                "slow_cleanup_ran": true,
                "zero_limit": { "value": 9 },
            })
        },
        "tokio's timers have millisecond granularity: a zero time limit is a deadline rounded \
         up to the next millisecond tick, so a future that only yields once completes first",
        "tokio docs: tokio::time::sleep — 'Sleep operates at millisecond granularity and \
         should not be used for tasks that require high-resolution timers'; tokio::time::timeout \
         polls the future before its deadline",
    ),
    known(
        "timers.sleep_until_past",
        &["tokio-ct", "tokio-mt"],
        "sleep_until(a past instant) was ready on its first poll, and completed",
        |v| v == &json!({ "ready_on_first_poll": true, "completed": true }),
        "tokio's Sleep is ready on its first poll when its deadline has already passed: it \
         does not yield (while sleep(0) does, its deadline being rounded up to the next tick)",
        "this suite's measurement (tokio docs: tokio::time::sleep_until — 'Waits until deadline \
         is reached'; they do not say whether a past deadline yields)",
    ),
    known(
        "probe.yield_alternates",
        &["tokio-ct", "tokio-mt"],
        "both tasks made all 5 steps, but not in strict turns",
        |v| {
            let order = v["order"].as_array().cloned().unwrap_or_default();
            let count = |name: &str| order.iter().filter(|x| *x == name).count();
            order.len() == 10 && count("a") == 5 && count("b") == 5
        },
        "tokio's yield_now re-queues the task, but the scheduler may poll the task that just \
         yielded again before others (deferred wake-ups, the LIFO slot)",
        "tokio docs: tokio::task::yield_now — 'It is generally not guaranteed that the runtime \
         behaves like you expect it to when deciding which task to schedule next after a call \
         to yield_now()'",
    ),
    // The seeds and asyncio primitives under tokio's LIFO slot (the tasks start last-first).
    known(
        "seed.lock",
        &["tokio-mt"],
        "the seed's lines with coro2 and coro1 swapped throughout (coro2 starts first)",
        |v| v == &json!({ "printed": SEED_LOCK_LIFO }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "seed.event",
        &["tokio-mt"],
        "coro2 waits before coro1 (it starts first); both are triggered, coro1 first",
        |v| v == &json!({ "printed": SEED_EVENT_LIFO }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "seed.condition",
        &["tokio-mt"],
        "consumer 3 (spawned last) starts first, before manipulate_condition; each notify \
         wakes consumers in their waiting order, the last woken of a batch resuming first",
        |v| v == &json!({ "printed": SEED_CONDITION_LIFO }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "sync.condition_notify",
        &["tokio-mt"],
        "waiters queued [4, 0, 1, 2, 3] (last-first start); woken [4, 1, 0, 3, 2]: each \
         notify batch resumes last-woken first; counts 1, 3, 5; each held the lock",
        |v| {
            v == &json!({
                "woken_after_each_notify": [1, 3, 5],
                "waited": [4, 0, 1, 2, 3],
                "woken": [4, 1, 0, 3, 2],
                "held_the_lock": 5,
            })
        },
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "sync.queue_getters_fifo",
        &["tokio-mt"],
        "getters waited [2, 0, 1]; the last one woken resumes first and takes the first item: \
         [[1, 100], [2, 101], [0, 102]]",
        |v| v == &json!({ "waited": [2, 0, 1], "resumed_with": [[1, 100], [2, 101], [0, 102]] }),
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    // async-io's close.
    known(
        "net.close_shuts_write",
        &["async-std", "smol", "smol-mt"],
        "the reply arrived, but no end-of-stream while the server kept its stream open after \
         close()",
        |v| v == &json!({ "client_got": "reply", "client_saw_eof": false }),
        "async-io's AsyncWrite::close on Async<TcpStream> (and so async-std's TcpStream) only \
         flushes: the write side is shut down when the stream is dropped, or by an explicit \
         shutdown(Shutdown::Write) (smol: `stream.get_ref().shutdown(Write)`, async-std: \
         `TcpStream::shutdown`, which net.half_close uses)",
        "async-io source: `impl<T: Write> AsyncWrite for Async<T>` — `fn poll_close(..) { \
         self.poll_flush(cx) }`",
    ),
    // Nested block_on.
    known(
        "probe.nested_block_on",
        &["async-std"],
        "the nested block_on ran to completion",
        |v| v == &json!({ "nested_block_on": "ran to completion" }),
        "a nested block_on is accepted and blocks the worker thread until it completes",
        "this suite's measurement (async_std::task::block_on documents no nesting check)",
    ),
    known(
        "probe.nested_block_on",
        &["smol"],
        "the nested block_on ran to completion",
        |v| v == &json!({ "nested_block_on": "ran to completion" }),
        "a nested block_on is accepted and blocks the outer executor's thread until it \
         completes",
        "this suite's measurement (async_io::block_on documents no nesting check)",
    ),
    known(
        "probe.nested_block_on",
        &["smol-mt"],
        "the nested block_on ran to completion",
        |v| v == &json!({ "nested_block_on": "ran to completion" }),
        "a nested block_on is accepted and blocks the worker thread until it completes",
        "this suite's measurement (async_io::block_on documents no nesting check)",
    ),
    // Runtimes that are never shut down, or whose pools are global.
    known(
        "probe.runtime_drop_cleanup",
        &["async-std"],
        "none of the 3 pending tasks' destructors ran",
        |v| v == &json!({ "destructors_run": 0 }),
        "async-std's runtime is global and lives until the process exits: 'dropping' it \
         leaves pending tasks alive, so their destructors never run",
        "this suite's measurement (async-std documents no shutdown of its global runtime)",
    ),
    known(
        "blocking.drop_waits_for_job",
        &["async-std", "smol", "smol-mt"],
        "drop returned before the job finished; the job finished within 1 s anyway",
        |v| {
            v == &json!({ "job_finished_when_drop_returned": false, "job_finished_within_1s": true })
        },
        "blocking work runs on the blocking crate's global thread pool, which no runtime \
         owns: dropping the runtime neither waits for it nor stops it",
        "blocking crate docs: 'a thread pool for isolating blocking I/O' whose threads are \
         global, spawned on demand and exit after idling (BLOCKING_MAX_THREADS)",
    ),
    // compio and monoio (thread-per-core, io_uring).
    known(
        "probe.drop_join_handle",
        &["compio"],
        "the task never completed after its handle was dropped",
        |v| v == &json!({ "task_completed": false }),
        "compio's JoinHandle cancels the task when dropped (detach() keeps it running)",
        "compio-executor source: src/join_handle.rs, JoinHandle — 'Dropping a JoinHandle will \
         cancel the task. To run the task in the background, use JoinHandle::detach.'",
    ),
    known(
        "timers.sleep_zero_suspends",
        &["compio"],
        "sleep(0) was ready on its first poll",
        |v| v == &json!({ "ready_on_first_poll": true }),
        COMPIO_TIMER_REASON,
        COMPIO_TIMER,
    ),
    known(
        "timers.sleep_until_past",
        &["compio"],
        "sleep_until(a past instant) was ready on its first poll, and completed",
        |v| v == &json!({ "ready_on_first_poll": true, "completed": true }),
        COMPIO_TIMER_REASON,
        COMPIO_TIMER,
    ),
    known(
        "timers.sleep_until_past",
        &["monoio"],
        "sleep_until(a past instant) was ready on its first poll, and completed",
        |v| v == &json!({ "ready_on_first_poll": true, "completed": true }),
        "monoio's timer wheel (tokio's, forked) refuses an entry whose tick has already \
         elapsed and fires it at once, so a sleep until a past instant is ready on its first \
         poll (while sleep(0) does yield: its deadline is rounded up to the next millisecond \
         tick)",
        "monoio source: src/time/driver/mod.rs, reregister — `match state.wheel.insert(entry) \
         { Ok(_) => None, Err((entry, InsertError::Elapsed)) => entry.fire(Ok(())) }`",
    ),
    known(
        "probe.nested_block_on",
        &["compio"],
        "the nested block_on ran to completion",
        |v| v == &json!({ "nested_block_on": "ran to completion" }),
        "compio's block_on makes its runtime the current one for its duration and restores the \
         previous one after (a scoped thread-local, which nests); nothing checks that another \
         runtime is already running on the thread, so the inner one runs and blocks the outer \
         runtime's thread until it completes",
        "compio-runtime source: src/lib.rs, Runtime::block_on_at — `self.enter(|| ..)`, and \
         Runtime::enter — `CURRENT_RUNTIME.set(self, f)` (scoped_tls); no nesting check",
    ),
    known(
        "blocking.drop_waits_for_job",
        &["compio"],
        "drop returned before the job finished; the job finished within 1 s anyway",
        |v| {
            v == &json!({ "job_finished_when_drop_returned": false, "job_finished_within_1s": true })
        },
        "compio's blocking pool starts its worker threads detached and keeps no handle to \
         them: dropping the runtime neither waits for a running job nor stops it (the worker \
         exits once idle)",
        "compio-driver source: src/asyncify.rs, AsyncifyPool::dispatch — \
         `std::thread::spawn(worker(..))`, its JoinHandle dropped; `worker` loops on \
         `receiver.recv_timeout(timeout)`",
    ),
    known(
        "blocking.drop_waits_for_job",
        &["monoio"],
        "drop returned before the job finished; the job finished within 1 s anyway",
        |v| {
            v == &json!({ "job_finished_when_drop_returned": false, "job_finished_within_1s": true })
        },
        "monoio's DefaultThreadPool is a threadpool::ThreadPool: dropping it (with the runtime) \
         closes its job channel, so the workers finish the job they run and then exit, but \
         nothing waits for them (waiting is ThreadPool::join, which monoio does not call)",
        "monoio source: src/blocking.rs, DefaultThreadPool — 'a simple wrapped \
         threadpool::ThreadPool'; threadpool 1.8 source: src/lib.rs, the worker loop — \
         `Err(..) => break, // The ThreadPool was dropped.`; ThreadPool::join — 'Block the \
         current thread until all jobs in the pool have been executed'",
    ),
    known(
        "blocking.pool_saturation",
        &["compio"],
        "all 1,000 jobs completed, but more than the 50 allowed ran at once",
        |v| v == &json!({ "completed": 1000, "peak_within_the_bound": false }),
        "compio's blocking pool checks its thread limit against a counter that each new worker \
         thread increments itself once it starts, and a dispatch can be taken by a worker \
         already idle while the thread spawned for it has not counted itself yet: under a \
         burst of spawn_blocking more threads than the limit are started (not on every run)",
        "this suite's measurement, a finding (compio-driver source: src/asyncify.rs, \
         AsyncifyPool::dispatch — `else if self.counter.load(..) >= self.thread_limit` before \
         `std::thread::spawn(worker(..))`; `worker` — `counter.fetch_add(1, ..)` as its first \
         statement; ProactorBuilder::thread_pool_limit documents \
         'Set the thread number limit of the inner thread pool')",
    ),
    known(
        "probe.yield_alternates",
        &["monoio"],
        "order [a, a, a, a, a, b, b, b, b, b]: each task ran all its steps before the other \
         got a turn",
        |v| v == &json!({ "order": ["a", "a", "a", "a", "a", "b", "b", "b", "b", "b"] }),
        MONOIO_YIELD_REASON,
        MONOIO_YIELD,
    ),
    known(
        "probe.never_yield_vs_task",
        &["monoio"],
        "the busy task never ran: the yielding task kept the thread until its own 2 s bound",
        |v| v == &json!({ "busy_task_ran": false, "yielding_task_steps_meanwhile": 0 }),
        MONOIO_YIELD_REASON,
        MONOIO_YIELD,
    ),
    known(
        "net.graceful_close",
        &["monoio"],
        "a connect right after the listener was dropped still succeeded; the open connection \
         still echoed",
        |v| v == &json!({ "new_connect_refused": false, "open_connection_echoed": true }),
        "monoio closes a dropped socket with an io_uring Close operation (queued at the drop, \
         submitted with the runtime's next batch), and an operation still in flight on it \
         (the abandoned accept, whose cancellation is asynchronous too) holds the socket open \
         until it completes: until then the socket still listens, and the kernel completes a \
         new connection's handshake",
        "monoio source: src/driver/shared_fd.rs — 'Tracks in-flight operations on a file \
         descriptor. Ensures all in-flight operations complete before submitting the close.', \
         and `impl Drop for Inner`: `Op::close(fd)` in io_uring mode; src/driver/uring/mod.rs, \
         drop_op: a dropped in-flight operation gets an `AsyncCancel` entry",
    ),
    // Another runtime's types.
    known(
        "probe.foreign_tokio_sleep",
        &["evloop", "evloop-uring", "async-std", "smol", "smol-mt", "compio"],
        "the task panicked (or re-raised in the awaiter) with tokio's 'no reactor running' \
         message; the next task ran",
        |v| tokio_context_panic(&v["joined"]) && v["next_task"] == json!({ "value": 1 }),
        FOREIGN,
        TOKIO_CONTEXT,
    ),
    known(
        "probe.foreign_tokio_tcp",
        &["evloop", "evloop-uring", "async-std", "smol", "smol-mt", "compio"],
        "the task panicked (or re-raised in the awaiter) with tokio's 'no reactor running' \
         message; the next task ran",
        |v| tokio_context_panic(&v["joined"]) && v["next_task"] == json!({ "value": 1 }),
        FOREIGN,
        TOKIO_CONTEXT,
    ),
    // uvloop: libuv's loop order and its millisecond clock.
    known(
        "loop.call_soon_before_timer",
        &["uvloop"],
        "order [call_later, call_soon]: the timer that came due while the callback was queued runs first",
        |v| v == &json!({ "order": ["call_later", "call_soon"], "queued_before_due": true }),
        UVLOOP_ORDER,
        UVLOOP_ORDER_SOURCE,
    ),
    known(
        "loop.call_later_not_early",
        &["uvloop"],
        "all 3 fired, none late; the early ones less than one step of libuv's clock before their delay",
        |v| deadlines_within_a_ms(v, 3),
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "loop.call_at_not_early",
        &["uvloop"],
        "all 3 fired, none late; the early ones less than one step of libuv's clock before their deadline",
        |v| deadlines_within_a_ms(v, 3),
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "loop.time_monotonic",
        &["uvloop"],
        "no step backwards; loop.time() advanced across a sleep(d) by less than d, but by more than d minus one step of libuv's clock",
        |v| {
            v["steps_backwards"] == json!(0)
                && v["sleeps_the_clock_did_not_cover"].as_array().is_some_and(|a| {
                    !a.is_empty()
                        && a.iter().all(|e| {
                            within_a_clock_step(e["advanced_ms"].as_f64(), e["sleep_ms"].as_f64())
                        })
                })
                && v.as_object().is_some_and(|o| o.len() == 2)
        },
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "timers.sleep_resolution",
        &["uvloop"],
        "sleep(100 us) and sleep(1 ms) end early (sub-millisecond delays round to whole milliseconds); sleep(0) never",
        |v| {
            v.as_object().is_some_and(|o| o.len() == 1)
                && v["early"].as_array().is_some_and(|a| {
                    !a.is_empty()
                        && a.iter().all(|e| {
                            matches!(e["sleep"].as_str(), Some("sleep_100us" | "sleep_1ms"))
                                && e["early"].as_u64().is_some_and(|n| (1..=100).contains(&n))
                        })
                })
        },
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "seed.callbacks",
        &["uvloop"],
        "the seed's transcript in order, the 20 ms and 40 ms callbacks less than one step of libuv's clock before their delay",
        |v| {
            v.as_object().is_some_and(|o| o.len() == 2)
                && v["printed"]
                    == json!([
                        "registering callbacks",
                        "Success - Call soon",
                        "Success - Call later 2 sec",
                        "Success - Call later 3 sec",
                    ])
                && v["before_their_delay"].as_array().is_some_and(|a| {
                    !a.is_empty()
                        && a.iter().all(|e| {
                            let due = match e["line"].as_str() {
                                Some("Call later 2 sec") => 20.0,
                                Some("Call later 3 sec") => 40.0,
                                _ => return false,
                            };
                            within_a_clock_step(e["at_ms"].as_f64(), Some(due))
                        })
                })
        },
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "net.read_with_time_limit",
        &["uvloop"],
        "the read's 30 ms time limit ends less than one step of libuv's clock early; the connection still echoes",
        |v| {
            v.as_object().is_some_and(|o| o.len() == 4)
                && v["timed_out"] == json!(true)
                && v["still_echoes"] == json!(true)
                && v["before_the_limit"] == json!(true)
                && v["early_by_ms"]
                    .as_f64()
                    .is_some_and(|e| within_a_clock_step(Some(30.0 - e), Some(30.0)) && e > 0.0)
        },
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "cancel.wait_for",
        &["uvloop"],
        "everything as expected except that the slow job's 20 ms time limit ended less than one \
         step of libuv's clock early",
        |v| {
            v.as_object().is_some_and(|o| o.len() == 6)
                && v["fast"] == json!({ "value": 7 })
                && v["slow"] == json!("timed_out")
                && v["slow_cleanup_ran"] == json!(true)
                && v["zero_limit"] == json!("timed_out")
                && v["slow_timed_out_before_the_limit"] == json!(true)
                && v["slow_early_by_ms"]
                    .as_f64()
                    .is_some_and(|e| within_a_clock_step(Some(20.0 - e), Some(20.0)) && e > 0.0)
        },
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "seed.future",
        &["uvloop"],
        "the future was done and printed, less than one step of libuv's clock before the 10 ms \
         sleep that sets it was due",
        |v| {
            v.as_object().is_some_and(|o| o.len() == 3)
                && v["printed"] == json!(["Future is done!"])
                && v["main_resumed_before_the_10ms_sleep"] == json!(true)
                && v["early_by_ms"]
                    .as_f64()
                    .is_some_and(|e| within_a_clock_step(Some(10.0 - e), Some(10.0)) && e > 0.0)
        },
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
    known(
        "timers.many_not_early",
        &["uvloop"],
        "all 200 fired, none beyond slack; some ended early (their delays are whole milliseconds on libuv's cached clock)",
        |v| {
            v.as_object().is_some_and(|o| o.len() == 3)
                && v["fired"] == json!(200)
                && v["beyond_slack"] == json!(0)
                && v["early"].as_u64().is_some_and(|n| (1..=200).contains(&n))
        },
        UVLOOP_MS,
        UVLOOP_MS_SOURCE,
    ),
];

/// The entries listed for this scenario on this runtime (whatever they explain).
pub fn listed<'a>(
    scenario: &'a str,
    runtime: &'a str,
) -> impl Iterator<Item = &'static KnownDifference> + 'a {
    KNOWN
        .iter()
        .filter(move |k| k.scenario == scenario && k.runtimes.contains(&runtime))
}

/// The entry for this scenario on this runtime that explains `observed`, if any.
pub fn explaining(
    scenario: &str,
    runtime: &str,
    observed: &Value,
) -> Option<&'static KnownDifference> {
    listed(scenario, runtime).find(|k| (k.explains)(observed))
}

/// What a runtime without asyncio's debug mode (rule L7) offers instead.
pub fn debug_alternative(runtime: &str) -> &'static str {
    match runtime {
        "tokio-ct" | "tokio-mt" => {
            "it offers tokio-console (console-subscriber, built with --cfg tokio_unstable) and \
             RuntimeMetrics instead"
        }
        "async-std" => "it offers only `log` trace events for task spawn and block_on instead",
        "smol" | "smol-mt" => {
            "async-executor offers no instrumentation; wrap futures with `tracing` instead"
        }
        "compio" => {
            "it offers tokio-console instrumentation instead (compio-executor's `console` \
             feature: a `runtime.spawn` span per task, waker events; compio-executor \
             src/console.rs)"
        }
        "monoio" => "it offers only `tracing` events of its internals (feature `debug`) instead",
        _ => "no alternative is known",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explains(scenario: &str, observed: Value) -> bool {
        explaining(scenario, "uvloop", &observed).is_some()
    }

    #[test]
    fn libuvs_clock_step_is_a_millisecond_or_two_with_a_fine_coarse_clock() {
        // HZ=250 (4 ms ticks): libuv reads CLOCK_MONOTONIC, truncated to ms.
        assert_eq!(early_bound_for(Duration::from_millis(4)), 1.0);
        assert_eq!(early_bound_for(Duration::from_micros(1001)), 1.0);
        // HZ=1000: libuv reads the coarse clock, a tick more behind.
        assert_eq!(early_bound_for(Duration::from_millis(1)), 2.0);
        assert_eq!(early_bound_for(Duration::from_micros(500)), 1.5);
        let here = uvloop_early_bound_ms();
        assert!((1.0..=2.0).contains(&here), "{here}");
    }

    #[test]
    fn uvloop_timers_may_end_less_than_a_clock_step_early_and_no_more() {
        // The bound is this machine's (1 ms, or 2 ms with a 1 ms coarse clock): the values
        // are relative to it.
        let b = uvloop_early_bound_ms();
        assert!(within_a_clock_step(Some(19.8), Some(20.0)));
        assert!(within_a_clock_step(Some(20.0), Some(20.0)));
        // Truly early by 0.95..1 ms reads, rounded to 0.1 ms, as a whole step early: seen on
        // loop.call_at_not_early (timers 0.5, 0.8 and 1.0 ms early).
        assert!(within_a_clock_step(Some(20.0 - b), Some(20.0)));
        assert!(!within_a_clock_step(Some(20.0 - b - 0.1), Some(20.0)));
        assert!(!within_a_clock_step(Some(20.1), Some(20.0)));
        assert!(!within_a_clock_step(None, Some(20.0)));
        let early = |at: f64| json!({ "fired": 3, "late": [], "early": [{ "delay_ms": 20.0, "fired_at_ms": at }] });
        assert!(explains("loop.call_later_not_early", early(19.6)));
        assert!(explains("loop.call_at_not_early", early(20.0 - b)));
        assert!(!explains("loop.call_later_not_early", early(19.9 - b)));
        assert!(!explains("loop.call_at_not_early", early(15.0)));
        let limit = |by: f64| {
            json!({ "timed_out": true, "still_echoes": true, "before_the_limit": true,
                    "early_by_ms": by })
        };
        assert!(explains("net.read_with_time_limit", limit(0.4)));
        assert!(!explains("net.read_with_time_limit", limit(b + 0.2)));
        assert!(!explains("net.read_with_time_limit", limit(0.0)));
        let wait_for = |by: f64| {
            json!({ "fast": { "value": 7 }, "slow": "timed_out", "slow_cleanup_ran": true,
                    "zero_limit": "timed_out", "slow_timed_out_before_the_limit": true,
                    "slow_early_by_ms": by })
        };
        let future = |by: f64| {
            json!({ "printed": ["Future is done!"], "main_resumed_before_the_10ms_sleep": true,
                    "early_by_ms": by })
        };
        assert!(explains("seed.future", future(0.3)));
        assert!(!explains("seed.future", future(b + 0.5)));
        assert!(explains("cancel.wait_for", wait_for(0.6)));
        assert!(!explains("cancel.wait_for", wait_for(b + 0.5)));
        assert!(!explains("cancel.wait_for", wait_for(0.0)));
        let mut lost_cleanup = wait_for(0.6);
        lost_cleanup["slow_cleanup_ran"] = json!(false);
        assert!(!explains("cancel.wait_for", lost_cleanup));
        let seed = |at: f64| {
            json!({ "printed": ["registering callbacks", "Success - Call soon",
                                "Success - Call later 2 sec", "Success - Call later 3 sec"],
                    "before_their_delay": [{ "line": "Call later 3 sec", "at_ms": at }] })
        };
        assert!(explains("seed.callbacks", seed(39.5)));
        assert!(!explains("seed.callbacks", seed(39.0 - b)));
    }
}
