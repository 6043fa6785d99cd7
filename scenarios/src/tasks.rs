//! Futures and tasks (rules F1–F6).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use harness::{Runtime, RuntimeHandle, TaskHandle};

use crate::asyncio::future::{AioFuture, FutureError};
use crate::support::{events, eventually, new_log, on_one_worker, on_runtime, push};
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
            Observation::expect_eq(seen, vec!["creating task", "in task"])
        })
    }
}

scenario! {
    /// F1: an asyncio Future is pending until set, set once, done after.
    FutureSetOnce = "futures.set_once", "futures", "F1",
    "Future: pending until set_result; a second set is InvalidState; done() after; awaiter gets it",
    timing: false, run: future_set_once
}

fn future_set_once<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let fut = AioFuture::<&'static str>::new();
        let pending = (fut.done(), fut.result());
        let waiter = h.spawn(fut.wait());
        h.sleep(Duration::from_millis(2)).await;
        let first = fut.set_result("foo");
        let second = fut.set_result("bar");
        let third = fut.set_exception("late");
        let got = waiter.await;
        Observation::expect_eq(
            (pending, first, second, third, fut.done(), got),
            (
                (false, Err(FutureError::InvalidState)),
                Ok(()),
                Err(FutureError::InvalidState),
                Err(FutureError::InvalidState),
                true,
                Ok(Ok("foo")),
            ),
        )
    })
}

scenario! {
    /// F3: done-callbacks go through the loop, never run inside set_result.
    DoneCallbackViaLoop = "futures.done_callback_via_loop", "futures", "F3",
    "add_done_callback's callback runs after set_result returned, on a later turn (one worker)",
    timing: false, run: done_callback_via_loop
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
        Observation::expect_eq(events(&log), vec!["set_result returned", "callback"])
    })
}

scenario! {
    /// F3: waking a task does not poll it synchronously inside the waker.
    WakeIsScheduled = "futures.wake_is_scheduled", "futures", "F3",
    "a task awaiting a Future resumes after set_result returned, never inside it (one worker)",
    timing: false, run: wake_is_scheduled
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
        Observation::expect_eq(events(&log), vec!["set_result returned", "awaiter resumed"])
    })
}

scenario! {
    /// F5: a task's result is available to every awaiter, also after it completed.
    ResultToEveryAwaiter = "tasks.result_to_every_awaiter", "tasks", "F5",
    "a task's result (via a shared join) reaches 3 awaiters, and one that awaits after completion",
    timing: false, run: result_to_every_awaiter
}

fn result_to_every_awaiter<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let h2 = h.clone();
        let task = h
            .spawn(async move {
                h2.sleep(Duration::from_millis(5)).await;
                "the result"
            })
            .map(|r| r.map_err(|e| e.to_string()))
            .shared();
        let awaiters: Vec<_> = (0..3).map(|_| h.spawn(task.clone())).collect();
        let mut got = Vec::new();
        for a in awaiters {
            got.push(a.await.ok().and_then(|r| r.ok()));
        }
        h.sleep(Duration::from_millis(2)).await;
        got.push(task.clone().await.ok());
        Observation::expect_eq(got, vec![Some("the result"); 4])
    })
}

scenario! {
    /// F5: awaiting a task long after it finished still yields its value.
    AwaitFinishedTask = "tasks.await_finished", "tasks", "F5",
    "is_finished() turns true; awaiting the handle afterwards yields the value",
    timing: false, run: await_finished
}

fn await_finished<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let t = h.spawn(async { 5u8 });
        let finished = eventually(&h, Duration::from_secs(1), || t.is_finished()).await;
        let v = t.await;
        Observation::expect_eq((finished, v), (true, Ok(5)))
    })
}

/// `subtask1` of the seed's coroutine chain.
async fn subtask(log: &crate::support::Log<String>, n: u32) -> u32 {
    push(log, format!("perform subtask {n}"));
    n * 10
}

scenario! {
    /// F6: awaiting a coroutine runs it inside the caller, on the caller's thread, in order.
    CoroutinesCompose = "tasks.coroutines_compose", "tasks", "F6",
    "nested async fns run inline in the caller, in order, on the caller's thread",
    timing: false, run: coroutines_compose
}

fn coroutines_compose<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|_h| async move {
        let log = new_log();
        let here = std::thread::current().id();
        let same_thread = Arc::new(AtomicBool::new(true));
        let a = subtask(&log, 1).await;
        if std::thread::current().id() != here {
            same_thread.store(false, Ordering::SeqCst);
        }
        let b = subtask(&log, a).await;
        Observation::expect_eq(
            (events(&log), b, same_thread.load(Ordering::SeqCst)),
            (
                vec![
                    "perform subtask 1".to_string(),
                    "perform subtask 10".to_string(),
                ],
                100,
                true,
            ),
        )
    })
}
