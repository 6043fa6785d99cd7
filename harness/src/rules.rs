//! The rules the conformance scenarios check (ids and one-line texts): the project's copy of
//! the asyncio reference semantics (`shared/reference/asyncio-semantics.md`, read-only to the
//! project), so a report can show what each row means, plus the project's own additions,
//! marked [`Rule::addition`], for behaviour the reference does not cover (each says where it
//! comes from). Scenarios, reports and the gate read them from here, the one owner.
//!
//! Where asyncio itself (the `asyncio` column: each scenario's Python twin on CPython's loop)
//! shows the shared text wrong or vague, the project's copy carries amended wording, marked
//! [`Rule::amended`] and starting with `(amended)`, with the CPython documentation or source
//! line that settles it.

/// One reference rule: id (`L3`) and its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Rule id, e.g. `L3`.
    pub id: &'static str,
    /// The rule's text, on one line.
    pub text: &'static str,
    /// Whether this rule is the project's addition, not in the shared reference.
    pub addition: bool,
    /// Whether this text departs from the shared reference's wording (asyncio shows the
    /// shared text wrong or vague); the text then says where and cites CPython.
    pub amended: bool,
}

/// Every rule of the reference, in document order.
pub const RULES: &[Rule] = &[
    r("L1", "run_until_complete(fut) runs the loop until fut is done and returns its result."),
    r("L2", "run_forever() runs until stop(); stop() lets the callbacks already queued run, then returns; the loop can be run again and loses no queued callback."),
    r("L3", "call_soon(cb) callbacks run in the order they were scheduled (FIFO), one at a time, never nested inside one another."),
    amend("L4", "(amended) call_later(d, cb) runs cb no earlier than d after the call; call_at(t, cb) no earlier than loop time t. Two timers due at the same instant: order undefined. A call_soon callback runs before any timer scheduled at the same time with a positive delay. Amended: how late is not bounded by asyncio — a due timer's callback runs when the loop reaches it, after every callback ahead of it, so a burst of many due timers ends as late as the loop's dispatch rate makes it (the suite bounds single timers by a generous slack, bursts only by their time limit). Source: CPython Lib/asyncio/base_events.py BaseEventLoop._run_once — due TimerHandles are popped from the heap into the ready queue and 'This is the only place where callbacks are actually *called*', one at a time; BaseEventLoop.call_later's docstring — 'Arrange for a callback to be called at a given time ... Each callback will be called exactly once' (no bound on lateness)."),
    r("L5", "time() is a monotonic clock."),
    r("L6", "call_soon_threadsafe(cb) is the one way in from another thread; it wakes a loop that is blocked waiting for I/O or a timer."),
    amend("L7", "(amended) Debug mode reports a callback or task step that holds the loop longer than a threshold (asyncio: 100 ms), and a coroutine that was created but never awaited, with where it was created (a Rust future never polled). Amended: the shared text says 'a task that was created but never awaited or polled'; asyncio schedules every task's first step, and a task cancelled before that step is reported by nothing. Source: CPython docs, 'Developing with asyncio' — 'Detect never-awaited coroutines: When a coroutine function is called, but not awaited (e.g. coro() instead of await coro()) or the coroutine is not scheduled with asyncio.create_task(), asyncio will emit a RuntimeWarning', and in debug mode the warning shows where the coroutine was created (sys.set_coroutine_origin_tracking_depth, set by loop.set_debug); Lib/asyncio/tasks.py Task.__init__ schedules __step with loop.call_soon."),
    r("F1", "A future is pending until a result or an error is set; setting either twice is an error; done() is true after either."),
    r("F2", "Awaiting a future that failed raises its error in the awaiter (Rust: the join yields an error value carrying the panic or error; the loop survives)."),
    r("F3", "Done-callbacks run through the loop, never synchronously inside set_result."),
    r("F4", "A task wraps a coroutine and starts on a later loop iteration, not inside create_task."),
    r("F5", "A task's result is available to every awaiter after it completes."),
    r("F6", "Coroutines compose: awaiting a coroutine runs it to completion inside the caller."),
    r("C1", "task.cancel() stops the task at its next suspension point; awaiting it then reports cancellation; cancelling a finished task changes nothing."),
    r("C2", "wait_for(aw, timeout) returns the result, or on timeout cancels aw and reports a time-out."),
    r("C3", "wait(aws, timeout) returns (done, pending) and does not cancel pending; the caller may."),
    r("C4", "gather(*aws) returns results in argument order, whatever order they finish in."),
    r("C5", "as_completed(aws) yields results in completion order."),
    r("C6", "Cleanup code of a cancelled task runs (Rust: destructors of its future run)."),
    r("T1", "run_in_executor(pool, f) runs f on another thread and does not stall the loop: timers and I/O keep being served meanwhile."),
    r("T2", "A pool of N threads runs at most N blocking calls at once."),
    r("S1", "Lock: one holder at a time; waiters acquire in FIFO order."),
    r("S2", "Event: set() wakes every waiter; waiting on a set event returns at once."),
    r("S3", "Condition: notify(n) wakes n waiters, notify_all() wakes all; a woken waiter holds the lock when it resumes."),
    r("S4", "Semaphore(k): at most k holders at once."),
    r("S5", "Queue: FIFO; get waits on empty, put waits on full (bounded)."),
    r("N1", "A TCP echo server returns every byte it received, in order, on every connection."),
    r("N2", "Many connections are served concurrently by one loop."),
    r("N3", "A read after the peer closed its write side returns end-of-stream; the server can still write until it closes."),
    r("N4", "Writes apply back-pressure: a writer whose peer does not read is suspended (drain()), and memory stays bounded."),
    r("N5", "Closing the server stops accepting; open connections can finish (graceful shutdown)."),
    r("N6", "Connecting to a port with no listener fails with a clear error, not a hang."),
    // The project's additions (not in the shared reference).
    add("L8", "(addition) A periodic timer in asyncio is a loop of sleep(period) (or call_later re-arming itself): after the consumer was held up, at most one tick is ready at once (a tick armed before the stall), then ticks come a period apart; it never fires a burst of catch-up ticks, and never a tick before its period. Source: the asyncio docs offer no interval, only sleep and call_later."),
    add("L9", "(addition) Tasks and callbacks run only while the loop runs (inside run_until_complete or run_forever); creating a task or queueing a callback outside a run queues it for the next run. Source: asyncio docs, 'Event Loop' — 'The event loop runs asynchronous tasks and callbacks' in run_forever/run_until_complete."),
    add("T3", "(addition) Closing the loop waits for the blocking jobs in flight: asyncio.run() ends with loop.shutdown_default_executor(), which waits for the executor's threads to finish. Source: asyncio docs, asyncio.run and loop.shutdown_default_executor (Python 3.9+)."),
    add("X1", "(addition) An awaitable of another async library works inside the loop: asyncio runs any library's awaitables that are bound to no loop (coroutines, and futures of the running loop), while a future bound to another loop is refused with RuntimeError. A Rust library future tied to its own runtime (tokio's timers and sockets) may not work; the cell records what happens (completes, or a panic the loop survives), never a hang or a crashed harness. Source: CPython Lib/asyncio/tasks.py Task.__step — 'Task {self!r} got Future {result!r} attached to a different loop' (RuntimeError)."),
];

const fn r(id: &'static str, text: &'static str) -> Rule {
    Rule {
        id,
        text,
        addition: false,
        amended: false,
    }
}

const fn add(id: &'static str, text: &'static str) -> Rule {
    Rule {
        id,
        text,
        addition: true,
        amended: false,
    }
}

/// A rule of the shared reference whose wording the project amends (asyncio showed the
/// shared text wrong or vague).
const fn amend(id: &'static str, text: &'static str) -> Rule {
    Rule {
        id,
        text,
        addition: false,
        amended: true,
    }
}

/// The text of rule `id`, if the reference has such a rule.
pub fn rule_text(id: &str) -> Option<&'static str> {
    RULES
        .iter()
        .find(|rule| rule.id == id)
        .map(|rule| rule.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_is_complete() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        for (prefix, n) in [("L", 7), ("F", 6), ("C", 6), ("T", 2), ("S", 5), ("N", 6)] {
            for i in 1..=n {
                assert!(
                    ids.contains(&format!("{prefix}{i}").as_str()),
                    "{prefix}{i}"
                );
            }
        }
        assert_eq!(RULES.iter().filter(|r| !r.addition).count(), 32);
        for rule in RULES.iter().filter(|r| r.addition) {
            assert!(rule.text.starts_with("(addition)"), "{}", rule.id);
        }
        for rule in RULES.iter().filter(|r| r.amended) {
            assert!(rule.text.starts_with("(amended)"), "{}", rule.id);
            assert!(rule.text.contains("Source: CPython"), "{}", rule.id);
        }
        assert!(rule_text("L7").unwrap().contains("never awaited"));
        assert!(rule_text("L3").unwrap().contains("FIFO"));
        assert_eq!(rule_text("Z9"), None);
    }
}
