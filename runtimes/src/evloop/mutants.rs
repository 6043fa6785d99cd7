//! Deliberately broken evloops ("mutants"): each [`Fault`] is one bug, switched on at the
//! place in the loop it breaks, so the conformance suite can prove that each scenario is able
//! to fail (`loopbench conformance --mutants`).
//!
//! Protocol: the hooks call [`active`] with the fault they implement. Without the cargo
//! feature `mutants` (the default build) `active` is a `const fn` returning `false`, so every
//! hook folds away at compile time: the default build contains no fault check and no mutant
//! code. With the feature, the fault is chosen once per process, when an
//! [`EvloopMutant`](super::EvloopMutant) is built, from the environment variable
//! [`FAULT_ENV`] (the conformance runner sets it for the child process of a mutant cell);
//! a plain [`Evloop`](super::Evloop) never sets it, so it keeps behaving correctly even in a
//! build with the feature.
//!
//! Invariant: a hook changes behaviour only when its fault is active; adding a fault means a
//! variant here, one entry in [`FAULTS`], and one hook named after it.

use std::time::Instant;

/// One deliberate bug of the loop. The doc line of each variant is what it breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // in the default build no fault is ever constructed
pub enum Fault {
    /// The ready queue is LIFO: the most recently queued item runs first.
    LifoReadyQueue,
    /// Sleeps end a quarter of their duration early (at least 2 ms early).
    TimersEarly,
    /// The first cross-thread notification does not wake the loop: its message waits for
    /// the next notification.
    LostWakeup,
    /// `call_soon_threadsafe` on the loop thread runs the callback at once, inside the caller.
    CallSoonInline,
    /// Waking a task on the loop thread polls it at once, inside the waker.
    WakePollsInline,
    /// `spawn` on the loop thread polls the new task at once, inside `spawn`.
    SpawnRunsInline,
    /// Cancelling a task reports it cancelled but leaves it running.
    CancelIgnored,
    /// A sleep whose deadline has passed is ready on its first poll (no yield).
    SleepZeroReady,
    /// When a run ends, the callbacks still queued are dropped.
    StopDropsQueued,
    /// A loop may run inside a task of another running loop (no refusal).
    NestedRunAllowed,
    /// `spawn_blocking` runs the job on the calling thread.
    BlockingInline,
    /// The blocking pool starts a thread for every job, ignoring its bound.
    BlockingUnbounded,
    /// Closing a stream's write side does nothing.
    HalfCloseIgnored,
    /// Writes that would block are buffered in memory without limit.
    NoBackpressure,
    /// `call_soon_threadsafe` callbacks run on a helper thread, in parallel with the loop.
    CallbacksInParallel,
    /// Timers that come due run before the items already queued.
    TimersBeforeReady,
    /// Timers fire in the order they were created, not in deadline order.
    TimersInsertionOrder,
    /// Dropping a join handle cancels its task.
    DropHandleCancels,
    /// A task's panic reaches its join handle as a cancellation.
    PanicPayloadLost,
    /// A task's panic is not caught: it unwinds out of the loop.
    PanicEscapes,
    /// Dropping the loop leaks its pending tasks: their destructors never run.
    ShutdownLeaksTasks,
    /// A task's outcome can be set twice; the later one (its slot's cancellation) wins.
    OutcomeOverwritten,
    /// `block_on` returns only once every task of the loop has finished too.
    BlockOnWaitsForAll,
    /// Debug mode reports nothing.
    DebugSilent,
    /// `now()` steps back 1 ms on every other call.
    ClockStepsBack,
    /// Sleeps of 20 ms or less block the loop's thread instead of suspending the task.
    ShortSleepsBlock,
    /// Only the first socket event of each epoll wait is handled; the others' edges are lost.
    EventsTruncated,
    /// A partial write is reported as complete: the rest of the buffer is lost.
    PartialWriteLost,
    /// End-of-stream is reported once; a later read waits for an edge that never comes.
    EofNotSticky,
    /// A failed connect is reported as connected.
    ConnectErrorIgnored,
    /// While I/O keeps the loop busy (tasks ready, sockets reporting readiness), due timers
    /// are not expired: they run only once the loop goes idle.
    IoStarvesTimers,
    /// Every 16th read returns `Pending` once, waking itself (a cooperative budget).
    ForcedYield,
    /// Dropping the loop does not wait for the blocking jobs in flight.
    ShutdownAbandonsJobs,
    /// A listener's readiness is cleared after each accepted connection, so connections
    /// already queued wait for an edge that never comes.
    AcceptOncePerEdge,
    /// Dropping a listener leaks its socket: it keeps accepting into its backlog.
    ListenerLeaked,
}

#[cfg(feature = "mutants")]
/// The environment variable that names the fault of an `evloop-mutant` (e.g.
/// `EVLOOP_MUTANT=lifo_ready_queue`).
pub const FAULT_ENV: &str = "EVLOOP_MUTANT";

#[cfg(feature = "mutants")]
/// A fault with its name (the value of [`FAULT_ENV`]) and the rule it breaks.
#[derive(Clone, Copy, Debug)]
pub struct MutantInfo {
    /// The fault.
    pub fault: Fault,
    /// Its `snake_case` name.
    pub name: &'static str,
    /// The reference rule the fault breaks first of all.
    pub rule: &'static str,
    /// What is broken, in one line.
    pub description: &'static str,
    /// Its kill is seen in time, as something happening too early: another cell's load
    /// delays everything and can hide it, so its kill cells run alone (measured: with 8
    /// cells at once on 2 cores, `seed.future` no longer saw `timers_early`).
    pub timing: bool,
}

#[cfg(feature = "mutants")]
const fn m(
    fault: Fault,
    name: &'static str,
    rule: &'static str,
    description: &'static str,
) -> MutantInfo {
    MutantInfo {
        fault,
        name,
        rule,
        description,
        timing: false,
    }
}

#[cfg(feature = "mutants")]
/// A fault whose kill is seen in time ([`MutantInfo::timing`]).
const fn timed(info: MutantInfo) -> MutantInfo {
    MutantInfo {
        timing: true,
        ..info
    }
}

#[cfg(feature = "mutants")]
/// Every fault, in display order.
pub const FAULTS: &[MutantInfo] = &[
    m(
        Fault::LifoReadyQueue,
        "lifo_ready_queue",
        "L3",
        "the ready queue is LIFO: the most recently queued item runs first",
    ),
    timed(m(
        Fault::TimersEarly,
        "timers_early",
        "L4",
        "sleeps end a quarter of their duration early (at least 2 ms early)",
    )),
    m(
        Fault::LostWakeup,
        "lost_wakeup",
        "L6",
        "the first cross-thread notification does not wake the loop",
    ),
    m(
        Fault::CallSoonInline,
        "call_soon_inline",
        "F3",
        "call_soon_threadsafe on the loop thread runs the callback inside the caller",
    ),
    m(
        Fault::WakePollsInline,
        "wake_polls_inline",
        "F3",
        "waking a task polls it at once, inside the waker",
    ),
    m(
        Fault::SpawnRunsInline,
        "spawn_runs_inline",
        "F4",
        "spawn polls the new task at once, inside spawn",
    ),
    m(
        Fault::CancelIgnored,
        "cancel_ignored",
        "C1",
        "cancel reports the task cancelled but leaves it running",
    ),
    m(
        Fault::SleepZeroReady,
        "sleep_zero_ready",
        "L4",
        "a sleep already due is ready on its first poll (sleep(0) does not yield)",
    ),
    m(
        Fault::StopDropsQueued,
        "stop_drops_queued",
        "L2",
        "when a run ends, the callbacks still queued are dropped",
    ),
    m(
        Fault::NestedRunAllowed,
        "nested_run_allowed",
        "L1",
        "a loop may run inside a task of another running loop",
    ),
    m(
        Fault::BlockingInline,
        "blocking_inline",
        "T1",
        "spawn_blocking runs the job on the calling thread",
    ),
    m(
        Fault::BlockingUnbounded,
        "blocking_unbounded",
        "T2",
        "the blocking pool starts a thread per job, ignoring its bound",
    ),
    m(
        Fault::HalfCloseIgnored,
        "half_close_ignored",
        "N3",
        "closing a stream's write side does nothing",
    ),
    m(
        Fault::NoBackpressure,
        "no_backpressure",
        "N4",
        "writes that would block are buffered in memory without limit",
    ),
    m(
        Fault::CallbacksInParallel,
        "callbacks_in_parallel",
        "L3",
        "call_soon_threadsafe callbacks run on a helper thread, in parallel",
    ),
    m(
        Fault::TimersBeforeReady,
        "timers_before_ready",
        "L4",
        "timers that come due run before the items already queued",
    ),
    m(
        Fault::TimersInsertionOrder,
        "timers_insertion_order",
        "L4",
        "timers fire in creation order, not deadline order",
    ),
    m(
        Fault::DropHandleCancels,
        "drop_handle_cancels",
        "C1",
        "dropping a join handle cancels its task",
    ),
    m(
        Fault::PanicPayloadLost,
        "panic_payload_lost",
        "F2",
        "a task's panic reaches its join handle as a cancellation",
    ),
    m(
        Fault::PanicEscapes,
        "panic_escapes",
        "F2",
        "a task's panic is not caught and unwinds out of the loop",
    ),
    m(
        Fault::ShutdownLeaksTasks,
        "shutdown_leaks_tasks",
        "C6",
        "dropping the loop leaks its pending tasks (no destructors)",
    ),
    m(
        Fault::OutcomeOverwritten,
        "outcome_overwritten",
        "F1",
        "a task's outcome is set twice and the later cancellation wins",
    ),
    m(
        Fault::BlockOnWaitsForAll,
        "block_on_waits_for_all",
        "L1",
        "block_on returns only once every task has finished",
    ),
    m(
        Fault::DebugSilent,
        "debug_silent",
        "L7",
        "debug mode reports nothing",
    ),
    m(
        Fault::ClockStepsBack,
        "clock_steps_back",
        "L5",
        "now() steps back 1 ms on every other call",
    ),
    m(
        Fault::ShortSleepsBlock,
        "short_sleeps_block",
        "T1",
        "sleeps of 20 ms or less block the loop's thread",
    ),
    m(
        Fault::EventsTruncated,
        "events_truncated",
        "N2",
        "only the first socket event of each epoll wait is handled",
    ),
    m(
        Fault::PartialWriteLost,
        "partial_write_lost",
        "N1",
        "a partial write is reported as complete; the rest is lost",
    ),
    m(
        Fault::EofNotSticky,
        "eof_not_sticky",
        "N3",
        "end-of-stream is reported once; a later read waits forever",
    ),
    m(
        Fault::ConnectErrorIgnored,
        "connect_error_ignored",
        "N6",
        "a failed connect is reported as connected",
    ),
    m(
        Fault::IoStarvesTimers,
        "io_starves_timers",
        "L4",
        "while I/O keeps the loop busy, due timers are not expired (only when idle)",
    ),
    m(
        Fault::ForcedYield,
        "forced_yield",
        "L3",
        "every 16th read returns Pending once, waking itself (a cooperative budget)",
    ),
    m(
        Fault::ShutdownAbandonsJobs,
        "shutdown_abandons_jobs",
        "T3",
        "dropping the loop does not wait for blocking jobs in flight",
    ),
    m(
        Fault::AcceptOncePerEdge,
        "accept_once_per_edge",
        "N2",
        "a listener's readiness is cleared after each accept; queued connections wait",
    ),
    m(
        Fault::ListenerLeaked,
        "listener_leaked",
        "N5",
        "dropping a listener leaks its socket, which keeps accepting",
    ),
];

#[cfg(feature = "mutants")]
/// The fault named `name`.
pub fn by_name(name: &str) -> Option<&'static MutantInfo> {
    FAULTS.iter().find(|m| m.name == name)
}

/// Whether `fault` is the fault of this process's mutant. Always `false` in the default
/// build, where it folds away.
#[cfg(not(feature = "mutants"))]
#[inline(always)]
pub(crate) const fn active(_fault: Fault) -> bool {
    false
}

/// Whether `fault` is the fault of this process's mutant.
#[cfg(feature = "mutants")]
#[inline]
pub(crate) fn active(fault: Fault) -> bool {
    chosen::get() == Some(fault)
}

/// The deadline a sleep until `deadline` really gets: `deadline`, or, under
/// [`Fault::TimersEarly`], a quarter of the time left earlier (at least 2 ms).
#[inline(always)]
pub(crate) fn sleep_deadline(deadline: Instant) -> Instant {
    #[cfg(feature = "mutants")]
    if active(Fault::TimersEarly) {
        let left = deadline.saturating_duration_since(Instant::now());
        let early = (left / 4).max(std::time::Duration::from_millis(2));
        return deadline.checked_sub(early).unwrap_or(deadline);
    }
    deadline
}

/// Picks the fault of this process from [`FAULT_ENV`]; an error names the valid ones.
#[cfg(feature = "mutants")]
pub(crate) fn choose_from_env() -> std::io::Result<&'static MutantInfo> {
    let names = || FAULTS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ");
    let value = std::env::var(FAULT_ENV).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "evloop-mutant needs {FAULT_ENV}=<fault>; faults: {}",
                names()
            ),
        )
    })?;
    let info = by_name(value.trim()).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("unknown {FAULT_ENV} '{value}'; faults: {}", names()),
        )
    })?;
    chosen::set(info.fault);
    Ok(info)
}

/// Odd calls return true: "every other time" for the faults that strike now and then.
#[cfg(feature = "mutants")]
pub(crate) fn every_other() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    CALLS.fetch_add(1, Ordering::Relaxed) % 2 == 1
}

/// Whether this is the first call in the process (for [`Fault::LostWakeup`]).
#[cfg(feature = "mutants")]
pub(crate) fn first_time() -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DONE: AtomicBool = AtomicBool::new(false);
    !DONE.swap(true, Ordering::Relaxed)
}

/// The process-wide chosen fault (set once by `EvloopMutant::build`).
#[cfg(feature = "mutants")]
mod chosen {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Fault, FAULTS};

    /// Index into `FAULTS` plus one; 0 while no mutant was built.
    static CHOSEN: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn set(fault: Fault) {
        let index = FAULTS
            .iter()
            .position(|m| m.fault == fault)
            .map_or(0, |i| i + 1);
        CHOSEN.store(index, Ordering::Relaxed);
    }

    #[inline]
    pub(super) fn get() -> Option<Fault> {
        match CHOSEN.load(Ordering::Relaxed) {
            0 => None,
            i => Some(FAULTS[i - 1].fault),
        }
    }
}
