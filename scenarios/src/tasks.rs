//! Futures and tasks (rules F1, F3–F6). The runtime's own future is a task's join handle:
//! pending until the task returns, then its value, set once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use harness::{Runtime, RuntimeHandle, TaskHandle};
use serde_json::json;

use crate::asyncio::future::AioFuture;
use crate::support::{
    events, eventually, join_outcome, new_log, on_one_worker, on_runtime, outcome, push, say,
    yields, Transcript,
};
use crate::{Observation, Scenario, ScenarioDef};

/// F4: a task starts on a later loop iteration, not inside `spawn`.
pub struct TaskStartsLater;

impl Scenario for TaskStartsLater {
    const DEF: ScenarioDef = ScenarioDef {
        id: "tasks.starts_later",
        group: "tasks",
        rule: "F4",
        title: "'creating task' is recorded before 'in task' (seed 000, Tasks; one worker)",
        timing_sensitive: false,
        selftest: false,
        kills: &["spawn_runs_inline"],
    };

    fn run<R: Runtime>() -> Observation {
        // One worker, main as a task: with several workers the new task may start at once on
        // another thread, which says nothing about F4 ("not inside create_task").
        on_one_worker::<R, _, _>(|h| async move {
            let log = Arc::new(Mutex::new(Vec::new()));
            let inner = log.clone();
            let task = h.spawn(async move {
                inner.lock().unwrap().push("in task");
            });
            log.lock().unwrap().push("creating task");
            let _ = task.await;
            let seen = log.lock().unwrap().clone();
            Observation::check(
                json!({ "order": seen }),
                json!({ "order": ["creating task", "in task"] }),
            )
        })
    }
}

scenario! {
    /// F1: the runtime's future (a task's join handle) is pending until the result is set,
    /// then yields it; the result is set once, never replaced.
    JoinSetOnce = "futures.join_set_once", "futures", "F1",
    "a join handle is pending until its task returns after 5 ms, then yields the task's value (set once: not replaced by the task's cleanup)",
    timing: false, kills: ["outcome_overwritten"], run: join_set_once
}

fn join_set_once<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let h2 = h.clone();
        let mut join = h.spawn(async move {
            h2.sleep(Duration::from_millis(5)).await;
            "foo"
        });
        let pending_before = futures::poll!(&mut join).is_pending();
        let got = join_outcome(join).await;
        Observation::check(
            json!({ "pending_before_the_result": pending_before, "joined": got }),
            json!({ "pending_before_the_result": true, "joined": { "value": "foo" } }),
        )
    })
}

scenario! {
    /// F3: done-callbacks go through the loop, never run inside set_result.
    DoneCallbackViaLoop = "futures.done_callback_via_loop", "futures", "F3",
    "add_done_callback's callback runs after set_result returned, on a later turn (one worker)",
    timing: false, kills: ["call_soon_inline"], run: done_callback_via_loop
}

fn done_callback_via_loop<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let fut = AioFuture::<u32>::new();
        let l = log.clone();
        fut.add_done_callback(&h, move || push(&l, "callback"));
        let _ = fut.set_result(1);
        push(&log, "set_result returned");
        let l = log.clone();
        eventually(&h, Duration::from_secs(1), || events(&l).len() == 2).await;
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": ["set_result returned", "callback"] }),
        )
    })
}

scenario! {
    /// F3: waking a task does not poll it synchronously inside the waker.
    WakeIsScheduled = "futures.wake_is_scheduled", "futures", "F3",
    "a task awaiting a Future resumes after set_result returned, never inside it (one worker)",
    timing: false, kills: ["wake_polls_inline"], run: wake_is_scheduled
}

fn wake_is_scheduled<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let fut = AioFuture::<u32>::new();
        let (f, l) = (fut.clone(), log.clone());
        let waiter = h.spawn(async move {
            let _ = f.wait().await;
            push(&l, "awaiter resumed");
        });
        h.sleep(Duration::from_millis(2)).await;
        let _ = fut.set_result(7);
        push(&log, "set_result returned");
        let _ = waiter.await;
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": ["set_result returned", "awaiter resumed"] }),
        )
    })
}

scenario! {
    /// F5: a task's result is available to every awaiter, also after it completed.
    ResultToEveryAwaiter = "tasks.result_to_every_awaiter", "tasks", "F5",
    "a task's result (via a shared join) reaches 3 awaiters, and one that awaits after completion",
    timing: false, kills: ["outcome_overwritten"], run: result_to_every_awaiter
}

fn result_to_every_awaiter<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let h2 = h.clone();
        let task = h
            .spawn(async move {
                h2.sleep(Duration::from_millis(5)).await;
                "the result"
            })
            .map(|r| outcome(&r))
            .shared();
        let awaiters: Vec<_> = (0..3).map(|_| h.spawn(task.clone())).collect();
        let mut got = Vec::new();
        for a in awaiters {
            got.push(a.await.unwrap_or_else(|e| json!(e.to_string())));
        }
        h.sleep(Duration::from_millis(2)).await;
        got.push(task.clone().await);
        Observation::check(
            json!({ "received": got }),
            json!({ "received": vec![json!({ "value": "the result" }); 4] }),
        )
    })
}

scenario! {
    /// F5: awaiting a task long after it finished still yields its value.
    AwaitFinishedTask = "tasks.await_finished", "tasks", "F5",
    "a task that finished while nobody awaited it: awaiting its handle afterwards yields the value (one worker)",
    timing: false, kills: ["outcome_overwritten"], run: await_finished
}

fn await_finished<R: Runtime>() -> Observation {
    // One worker: the task has finished (not just signalled) when its neighbour sees it.
    on_one_worker::<R, _, _>(|h| async move {
        let returning = Arc::new(AtomicBool::new(false));
        let r = returning.clone();
        let t = h.spawn(async move {
            r.store(true, Ordering::SeqCst);
            5u8
        });
        let r = returning.clone();
        eventually(&h, Duration::from_secs(1), || r.load(Ordering::SeqCst)).await;
        yields(&h, 5).await;
        Observation::check(
            json!({ "joined": join_outcome(t).await }),
            json!({ "joined": { "value": 5 } }),
        )
    })
}

/// `subtask n` of the coroutine chain: two suspension points, then `n * 10`.
async fn subtask<H: RuntimeHandle>(h: &H, t: &Transcript, n: u32) -> u32 {
    say(t, format!("subtask {n} starts"));
    h.sleep(Duration::from_millis(2)).await;
    h.sleep(Duration::from_millis(2)).await;
    say(t, format!("subtask {n} ends"));
    n * 10
}

scenario! {
    /// F6: awaiting a coroutine runs it to completion inside the caller; its suspension
    /// points yield to the loop (another task runs meanwhile).
    CoroutinesCompose = "tasks.coroutines_compose", "tasks", "F6",
    "nested async fns with sleeps run inside the caller, in order; a task spawned first runs at their first suspension (one worker)",
    timing: false, kills: ["spawn_runs_inline", "short_sleeps_block"], run: coroutines_compose
}

fn coroutines_compose<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let t = new_log();
        let t2 = t.clone();
        let other = h.spawn(async move { say(&t2, "other task runs") });
        say(&t, "caller starts");
        let a = subtask(&h, &t, 1).await;
        let b = subtask(&h, &t, a).await;
        say(&t, format!("caller ends with {b}"));
        let _ = other.await;
        Observation::check(
            json!({ "order": events(&t) }),
            json!({ "order": [
                "caller starts",
                "subtask 1 starts",
                "other task runs",
                "subtask 1 ends",
                "subtask 10 starts",
                "subtask 10 ends",
                "caller ends with 100",
            ] }),
        )
    })
}

scenario! {
    /// F4: a task spawned from a callback starts after the callback returned.
    SpawnFromCallback = "tasks.spawn_from_callback", "tasks", "F4",
    "a call_soon callback spawns a task and logs after spawning: the log line comes first (one worker)",
    timing: false, kills: ["spawn_runs_inline"], run: spawn_from_callback
}

fn spawn_from_callback<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let (l, h2) = (log.clone(), h.clone());
        h.call_soon_threadsafe(move || {
            let l2 = l.clone();
            h2.spawn(async move { push(&l2, "task runs") }).detach();
            push(&l, "callback returns");
        });
        let l = log.clone();
        eventually(&h, Duration::from_secs(1), || events(&l).len() >= 2).await;
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": ["callback returns", "task runs"] }),
        )
    })
}

scenario! {
    /// F5: ten thousand tasks, each awaited after most have finished: every value arrives once.
    ManyTasks = "tasks.many_tasks", "tasks", "F5",
    "10,000 tasks returning their index, awaited in order after they ran: every value, in order",
    timing: false, kills: ["outcome_overwritten"], run: many_tasks
}

fn many_tasks<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let tasks: Vec<_> = (0..10_000u32).map(|i| h.spawn(async move { i })).collect();
        yields(&h, 10).await;
        let mut wrong = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let got = join_outcome(t).await;
            if got != json!({ "value": i }) && wrong.len() < 5 {
                wrong.push(json!([i, got]));
            }
        }
        Observation::check(json!({ "wrong": wrong }), json!({ "wrong": [] }))
    })
}
