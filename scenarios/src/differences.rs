//! Known, documented behaviours of runtimes that differ from the reference semantics.
//!
//! Invariant: every entry names its source (upstream documentation, an upstream issue, or
//! this suite's own measurement). A deviation not listed here is a `fail`. An entry whose
//! source is "this suite's measurement" is a *finding*: no upstream documents it.

/// One documented difference.
#[derive(Debug)]
pub struct KnownDifference {
    /// Scenario id.
    pub scenario: &'static str,
    /// Runtime ids it applies to; `*` means every runtime (a library type's own behaviour).
    pub runtimes: &'static [&'static str],
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
    woken task first (LIFO slot), even with one worker";

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

/// async-lock docs on Mutex fairness.
const ASYNC_LOCK_MUTEX: &str = "async-lock docs: async_lock::Mutex — 'The locking mechanism \
    uses eventual fairness to ensure locking will be fair on average without sacrificing \
    performance. This is done by forcing a fair lock whenever a lock operation is starved for \
    longer than 0.5 milliseconds.'";

/// Shorthand for an entry.
const fn known(
    scenario: &'static str,
    runtimes: &'static [&'static str],
    reason: &'static str,
    source: &'static str,
) -> KnownDifference {
    KnownDifference {
        scenario,
        runtimes,
        reason,
        source,
    }
}

/// The table.
pub static KNOWN: &[KnownDifference] = &[
    // The LIFO slot of tokio's multi-thread scheduler.
    known(
        "loop.call_soon_fifo",
        &["tokio-mt"],
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known(
        "probe.spawn_order_from_task",
        &["tokio-mt"],
        LIFO_REASON,
        TOKIO_LIFO,
    ),
    known("seed.lock", &["tokio-mt"], LIFO_REASON, TOKIO_LIFO),
    known("seed.event", &["tokio-mt"], LIFO_REASON, TOKIO_LIFO),
    known("seed.condition", &["tokio-mt"], LIFO_REASON, TOKIO_LIFO),
    // Parallel workers.
    known(
        "loop.call_soon_one_at_a_time",
        &["tokio-mt"],
        PARALLEL,
        TOKIO_MT,
    ),
    known(
        "loop.call_soon_one_at_a_time",
        &["async-std"],
        PARALLEL,
        ASYNC_STD_MT,
    ),
    known(
        "loop.call_soon_one_at_a_time",
        &["smol-mt"],
        PARALLEL,
        SMOL_MT,
    ),
    known(
        "probe.never_yield_vs_timer",
        &["tokio-mt"],
        PARALLEL,
        TOKIO_MT,
    ),
    known(
        "probe.never_yield_vs_timer",
        &["async-std"],
        PARALLEL,
        ASYNC_STD_MT,
    ),
    known(
        "probe.never_yield_vs_timer",
        &["smol-mt"],
        PARALLEL,
        SMOL_MT,
    ),
    known(
        "probe.never_yield_vs_task",
        &["async-std"],
        PARALLEL,
        ASYNC_STD_MT,
    ),
    known("probe.never_yield_vs_task", &["smol-mt"], PARALLEL, SMOL_MT),
    // Cancellation on drop.
    known(
        "probe.drop_join_handle",
        &["smol", "smol-mt"],
        "smol's Task cancels the task when dropped (use detach() to keep it running)",
        "async-task docs: async_task::Task — 'Dropping a Task cancels it, which means its \
         future won't be polled again.'",
    ),
    // Cooperative budget.
    known(
        "probe.coop_budget",
        &["tokio-ct", "tokio-mt"],
        "tokio's cooperative budget (128 operations per poll) makes tokio resources return \
         Pending although ready, forcing a yield",
        "tokio docs: tokio::task::coop — 'Tokio has explicit yield points in a number of \
         library functions, which force tasks to return to the executor periodically.'",
    ),
    // sleep(0) on async-io timers.
    known(
        "timers.sleep_zero_suspends",
        &["async-std", "smol", "smol-mt"],
        "async-io's Timer is ready on its first poll once its deadline has passed, so \
         sleep(0) never yields; a loop of sleep(0) starves other tasks",
        "this suite's measurement (async-io Timer::after docs say only 'emits an event once \
         after the given duration')",
    ),
    // Nested block_on.
    known(
        "probe.nested_block_on",
        &["async-std"],
        "a nested block_on is accepted and blocks the worker thread until it completes",
        "this suite's measurement (async_std::task::block_on documents no nesting check)",
    ),
    known(
        "probe.nested_block_on",
        &["smol"],
        "a nested block_on is accepted and blocks the outer executor's thread until it \
         completes",
        "this suite's measurement (async_io::block_on documents no nesting check)",
    ),
    known(
        "probe.nested_block_on",
        &["smol-mt"],
        "a nested block_on is accepted and blocks the worker thread until it completes",
        "this suite's measurement (async_io::block_on documents no nesting check)",
    ),
    // The global async-std runtime is never shut down.
    known(
        "probe.runtime_drop_cleanup",
        &["async-std"],
        "async-std's runtime is global and lives until the process exits: 'dropping' it \
         leaves pending tasks alive, so their destructors never run",
        "this suite's measurement (async-std documents no shutdown of its global runtime)",
    ),
    // Library types, the same on every runtime.
    known(
        "sync.tokio_notify_as_event",
        &["*"],
        "Notify::notify_waiters wakes the registered waiters but stores no state, so it is \
         not an Event: a later wait blocks",
        "tokio docs: tokio::sync::Notify::notify_waiters — 'Unlike with notify_one(), no \
         permit is stored to be used by the next call to notified().await.'",
    ),
    known(
        "probe.reacquire_async_lock_mutex",
        &["*"],
        "async-lock's Mutex lets the releasing holder barge ahead of a waiter (fair only \
         after 0.5 ms of starvation); async_std::sync::Mutex is this type",
        ASYNC_LOCK_MUTEX,
    ),
    known(
        "probe.reacquire_async_lock_semaphore",
        &["*"],
        "async-lock's Semaphore lets the releasing holder take the permit back ahead of a \
         waiter",
        "this suite's measurement (async_lock::Semaphore documents no fairness)",
    ),
];

/// The documented difference for this scenario on this runtime, if any. An entry whose
/// runtime is `*` is a library type's own behaviour, the same on every runtime.
pub fn lookup(scenario: &str, runtime: &str) -> Option<&'static KnownDifference> {
    KNOWN
        .iter()
        .find(|k| k.scenario == scenario && k.runtimes.iter().any(|r| *r == runtime || *r == "*"))
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
        _ => "no alternative is known",
    }
}
