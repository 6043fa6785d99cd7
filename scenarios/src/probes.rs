//! Probes of behaviour users trip over, each tagged with the closest rule: what dropping a
//! join handle does, panics, starvation by a task that never yields, cooperative budgets,
//! nested `block_on`, spawning from a plain thread, destructors at runtime drop, the order
//! new tasks first run in, and cross-thread wake-up latency.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{JoinError, Runtime, RuntimeHandle, TaskHandle};

use crate::cancel::DropFlag;
use crate::support::{
    events, eventually, new_log, on_one_worker, on_runtime, percentile, push, spin_until, us,
};
use crate::Observation;

scenario! {
    /// C1 probe: dropping a join handle (not calling abort) leaves the task running in asyncio.
    DropJoinHandle = "probe.drop_join_handle", "probe", "C1",
    "dropping a task's join handle: the task still completes (asyncio: only cancel() stops it)",
    timing: false, run: drop_join_handle
}

fn drop_join_handle<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let done = Arc::new(AtomicBool::new(false));
        let (d, h2) = (done.clone(), h.clone());
        let handle = h.spawn(async move {
            h2.sleep(Duration::from_millis(10)).await;
            d.store(true, Ordering::SeqCst);
        });
        drop(handle);
        let d = done.clone();
        if eventually(&h, Duration::from_millis(300), || d.load(Ordering::SeqCst)).await {
            Observation::pass()
        } else {
            Observation::deviates(
                "the task never completed: dropping the handle cancelled it",
                "the task keeps running (the handle only observes it)",
            )
        }
    })
}

scenario! {
    /// F2 probe: a panic in an awaited task comes back as an error; the loop survives.
    PanicAwaited = "probe.panic_awaited", "probe", "F2",
    "an awaited task panics: join yields Panicked(\"boom\"); the next task still runs",
    timing: false, run: panic_awaited
}

fn panic_awaited<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let bad = h.spawn(async { panic!("boom") }).await.map(|()| 0u8);
        let good = h.spawn(async { 1u8 }).await;
        Observation::expect_eq(
            (bad, good),
            (Err(JoinError::Panicked("boom".into())), Ok(1)),
        )
    })
}

scenario! {
    /// F2 probe: a panic in a detached task does not take the loop down.
    PanicDetached = "probe.panic_detached", "probe", "F2",
    "a detached task panics: the runtime keeps running tasks and block_on returns",
    timing: false, run: panic_detached
}

fn panic_detached<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        h.spawn(async { panic!("detached boom") }).detach();
        h.sleep(Duration::from_millis(10)).await;
        let after = h.spawn(async { 2u8 }).await;
        Observation::expect_eq(after, Ok(2))
    })
}

scenario! {
    /// L4 probe: a task that never yields, against a 10 ms timer.
    StarvedTimer = "probe.never_yield_vs_timer", "probe", "L4",
    "a task busy for 150 ms without awaiting: the 10 ms timer does not fire meanwhile (asyncio)",
    timing: false, run: starved_timer
}

fn starved_timer<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let fired = Arc::new(AtomicBool::new(false));
        let (f, h2) = (fired.clone(), h.clone());
        h.spawn(async move {
            h2.sleep(Duration::from_millis(10)).await;
            f.store(true, Ordering::SeqCst);
        })
        .detach();
        h.sleep(Duration::from_millis(2)).await;
        let f = fired.clone();
        let during = h
            .spawn(
                async move { spin_until(Duration::from_millis(150), || f.load(Ordering::SeqCst)) },
            )
            .await;
        match during {
            Ok(false) => Observation::pass(),
            Ok(true) => Observation::deviates(
                "the timer fired while the busy task held its thread (another worker ran it)",
                "a task that never yields starves the timer",
            ),
            Err(e) => Observation::deviates(format!("busy task: {e}"), "it completes"),
        }
    })
}

scenario! {
    /// L3 probe: a task that never yields, against another task that keeps yielding.
    StarvedTask = "probe.never_yield_vs_task", "probe", "L3",
    "a task busy for 100 ms without awaiting: a yielding task makes no progress meanwhile (asyncio)",
    timing: false, run: starved_task
}

fn starved_task<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let steps = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(AtomicUsize::new(usize::MAX));
        let (s, st, p, h2) = (steps.clone(), stop.clone(), progress.clone(), h.clone());
        // The yielding task spawns the busy one itself, so both start on the same worker
        // (where a scheduler has several): the question is whether the yielding task still
        // gets turns while its neighbour holds the thread.
        let other = h.spawn(async move {
            while !st.load(Ordering::SeqCst) {
                let n = s.fetch_add(1, Ordering::SeqCst);
                if n == 10 {
                    let (s, p) = (s.clone(), p.clone());
                    h2.spawn(async move {
                        let before = s.load(Ordering::SeqCst);
                        spin_until(Duration::from_millis(100), || false);
                        p.store(s.load(Ordering::SeqCst) - before, Ordering::SeqCst);
                    })
                    .detach();
                }
                h2.yield_now().await;
            }
        });
        let p = progress.clone();
        eventually(&h, Duration::from_secs(2), || {
            p.load(Ordering::SeqCst) != usize::MAX
        })
        .await;
        stop.store(true, Ordering::SeqCst);
        let _ = other.await;
        let progress = progress.load(Ordering::SeqCst);
        let obs = if progress == 0 {
            Observation::pass()
        } else {
            Observation::deviates(
                "the yielding task kept running while the busy task held its thread",
                "a task that never yields starves the others",
            )
        };
        obs.measure("steps_of_other_task_during_busy", progress as f64, "count")
    })
}

scenario! {
    /// L3 probe: cooperative budgets; asyncio never suspends a get on a non-empty queue.
    CoopBudget = "probe.coop_budget", "probe", "L3",
    "1000 recv() on a full tokio mpsc (library type): no forced yield (asyncio: get on non-empty never suspends)",
    timing: false, run: coop_budget
}

fn coop_budget<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let t = h.spawn(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1000);
            for i in 0..1000 {
                let _ = tx.try_send(i);
            }
            let mut forced = 0usize;
            for _ in 0..1000 {
                let mut fut = Box::pin(rx.recv());
                std::future::poll_fn(|cx| {
                    let p = fut.as_mut().poll(cx);
                    if p.is_pending() {
                        forced += 1;
                    }
                    p
                })
                .await;
            }
            forced
        });
        let forced = t.await.unwrap_or(usize::MAX);
        let obs = if forced == 0 {
            Observation::pass()
        } else {
            Observation::deviates(
                format!("{forced} forced yields while items were ready"),
                "no yield while items are ready",
            )
        };
        obs.measure("forced_yields_per_1000", forced as f64, "count")
    })
}

scenario! {
    /// L1 probe: run_until_complete inside a running loop is refused (asyncio: RuntimeError).
    NestedBlockOn = "probe.nested_block_on", "probe", "L1",
    "a fresh runtime's block_on called inside a task is refused with an error (asyncio: RuntimeError)",
    timing: false, run: nested_block_on
}

fn nested_block_on<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let t = h.spawn(async {
            std::panic::catch_unwind(|| {
                let inner = R::build(&harness::RuntimeConfig::default()).ok()?;
                let ih = inner.handle();
                let v = inner.block_on(async move {
                    ih.sleep(Duration::from_millis(1)).await;
                    7
                });
                drop(inner);
                Some(v)
            })
            .map_err(|p| harness::task::panic_message(p.as_ref()))
        });
        match t.await {
            Ok(Err(_refusal)) => Observation::pass(),
            Ok(Ok(Some(7))) => Observation::deviates(
                "the nested block_on ran to completion, blocking the outer task's thread",
                "refused with an error",
            ),
            other => Observation::deviates(format!("{other:?}"), "refused with an error"),
        }
    })
}

scenario! {
    /// L6 probe: spawning from a plain thread through the handle.
    SpawnFromThread = "probe.spawn_from_plain_thread", "probe", "L6",
    "a plain thread spawns a task through the handle while the loop waits: it runs",
    timing: false, run: spawn_from_thread
}

fn spawn_from_thread<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (tx, rx) = futures::channel::oneshot::channel::<u8>();
        let h2 = h.clone();
        let thread = std::thread::spawn(move || {
            h2.spawn(async move {
                let _ = tx.send(9);
            })
            .detach();
        });
        let timer = Box::pin(h.sleep(Duration::from_secs(2)));
        let got = match futures::future::select(rx, timer).await {
            futures::future::Either::Left((Ok(v), _)) => Some(v),
            _ => None,
        };
        let _ = thread.join();
        Observation::expect_eq(got, Some(9))
    })
}

scenario! {
    /// C6 probe: destructors of tasks still pending when the runtime is dropped.
    RuntimeDropCleanup = "probe.runtime_drop_cleanup", "probe", "C6",
    "dropping the runtime with 3 pending tasks runs their destructors (asyncio: pending tasks destroyed)",
    timing: false, run: runtime_drop_cleanup
}

fn runtime_drop_cleanup<R: Runtime>() -> Observation {
    let rt = match crate::build::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let s = started.clone();
        let flag = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let own_handle = h.clone();
        h.spawn(async move {
            let _guard = CountOnDrop(d, DropFlag(flag));
            // Tasks commonly hold a runtime handle (to spawn or sleep); holding one must not
            // keep the runtime, and so the task, alive after the runtime is dropped.
            let _handle = own_handle;
            s.fetch_add(1, Ordering::SeqCst);
            futures::future::pending::<()>().await;
        })
        .detach();
    }
    let (h2, s) = (h.clone(), started.clone());
    rt.block_on(async move {
        eventually(&h2, Duration::from_secs(1), || {
            s.load(Ordering::SeqCst) == 3
        })
        .await;
    });
    drop(h);
    drop(rt);
    let n = dropped.load(Ordering::SeqCst);
    if n == 3 {
        Observation::pass()
    } else {
        Observation::deviates(
            format!("{n} of 3 pending tasks' destructors ran when the runtime was dropped"),
            "all 3 ran",
        )
    }
}

/// Counts a drop.
struct CountOnDrop(Arc<AtomicUsize>, #[allow(dead_code)] DropFlag);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

scenario! {
    /// L3 probe: the order in which tasks spawned from a task first run (one worker).
    SpawnOrderFromTask = "probe.spawn_order_from_task", "probe", "L3",
    "5 tasks spawned from a task first run in spawn order (one worker thread)",
    timing: false, run: spawn_order_from_task
}

fn spawn_order_from_task<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let l = log.clone();
                h.spawn(async move { push(&l, i) })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        Observation::expect_eq(events(&log), (0..5).collect())
    })
}

scenario! {
    /// L3 probe: the order in which tasks spawned from a plain thread first run (one worker).
    SpawnOrderFromThread = "probe.spawn_order_from_thread", "probe", "L3",
    "5 tasks spawned from a plain thread first run in spawn order (one worker thread)",
    timing: false, run: spawn_order_from_thread
}

fn spawn_order_from_thread<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let (l, h2) = (log.clone(), h.clone());
        let thread = std::thread::spawn(move || {
            for i in 0..5 {
                let l = l.clone();
                h2.spawn(async move { push(&l, i) }).detach();
            }
        });
        let l = log.clone();
        eventually(&h, Duration::from_secs(2), || events(&l).len() == 5).await;
        let _ = thread.join();
        Observation::expect_eq(events(&log), (0..5).collect())
    })
}

scenario! {
    /// L6 measurement: wake-up latency of a task woken from another thread.
    WakeupLatency = "probe.wakeup_latency", "probe", "L6",
    "latency from a plain thread's send to the woken task running (30 samples): p50/p99",
    timing: true, run: wakeup_latency
}

fn wakeup_latency<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|_h| async move {
        let mut samples = Vec::new();
        for _ in 0..30 {
            let (tx, rx) = futures::channel::oneshot::channel::<Instant>();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                let _ = tx.send(Instant::now());
            });
            if let Ok(sent) = rx.await {
                samples.push(us(sent.elapsed()));
            }
            let _ = thread.join();
        }
        if samples.len() != 30 {
            return Observation::deviates(format!("{} of 30 wake-ups", samples.len()), "30");
        }
        Observation::pass()
            .measure("wakeup_p50", percentile(&mut samples, 50.0), "us")
            .measure("wakeup_p99", percentile(&mut samples, 99.0), "us")
    })
}

/// Re-acquire probe: the holder releases and at once re-acquires while a task waits.
/// Returns the order of acquisitions (`"waiter"` first under asyncio's FIFO hand-off).
async fn reacquire_order<H, A, F, G>(h: &H, acquire: A) -> Vec<&'static str>
where
    H: RuntimeHandle,
    A: Fn() -> F + Clone + Send + 'static,
    F: Future<Output = G> + Send,
    G: Send + 'static,
{
    let log = new_log();
    let guard = acquire().await;
    let (l, a) = (log.clone(), acquire.clone());
    let waiter = h.spawn(async move {
        let g = a().await;
        push(&l, "waiter");
        drop(g);
    });
    h.sleep(Duration::from_millis(5)).await;
    drop(guard);
    let g = acquire().await;
    push(&log, "holder");
    drop(g);
    let _ = waiter.await;
    events(&log)
}

/// The observation for a re-acquire probe.
fn fairness(order: Vec<&'static str>) -> Observation {
    if order == ["holder", "waiter"] {
        Observation::deviates(
            "the releasing holder re-acquired before the waiting task (barging)",
            "the waiter acquires first (FIFO hand-off)",
        )
    } else {
        Observation::expect_eq(order, vec!["waiter", "holder"])
    }
}

/// An asyncio [`crate::asyncio::sync::Lock`] held until dropped.
struct LockGuard(Arc<crate::asyncio::sync::Lock>);

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.0.release();
    }
}

scenario! {
    /// S1 probe: asyncio Lock fairness when the holder re-acquires at once.
    ReacquireAsyncioLock = "probe.reacquire_asyncio_lock", "probe", "S1",
    "asyncio Lock: holder releases and re-acquires at once; the waiting task gets it first",
    timing: false, run: reacquire_asyncio_lock
}

fn reacquire_asyncio_lock<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let lock = Arc::new(crate::asyncio::sync::Lock::new());
        let order = reacquire_order(&h, move || {
            let l = lock.clone();
            async move {
                l.acquire().await;
                LockGuard(l)
            }
        })
        .await;
        fairness(order)
    })
}

scenario! {
    /// S1 probe: tokio::sync::Mutex fairness (as a library type).
    ReacquireTokioMutex = "probe.reacquire_tokio_mutex", "probe", "S1",
    "tokio::sync::Mutex: holder releases and re-acquires at once; the waiting task gets it first",
    timing: false, run: reacquire_tokio_mutex
}

fn reacquire_tokio_mutex<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let m = Arc::new(tokio::sync::Mutex::new(()));
        let order = reacquire_order(&h, move || m.clone().lock_owned()).await;
        fairness(order)
    })
}

scenario! {
    /// S1 probe: async_lock::Mutex fairness (also async_std::sync::Mutex, a re-export).
    ReacquireAsyncLockMutex = "probe.reacquire_async_lock_mutex", "probe", "S1",
    "async_lock::Mutex (= async_std::sync::Mutex): holder re-acquires at once; waiter first?",
    timing: false, run: reacquire_async_lock_mutex
}

fn reacquire_async_lock_mutex<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let m = Arc::new(async_lock::Mutex::new(()));
        let order = reacquire_order(&h, move || {
            let m = m.clone();
            async move { m.lock_arc().await }
        })
        .await;
        fairness(order)
    })
}

scenario! {
    /// S4 probe: tokio::sync::Semaphore fairness (as a library type).
    ReacquireTokioSemaphore = "probe.reacquire_tokio_semaphore", "probe", "S4",
    "tokio::sync::Semaphore(1): holder releases and re-acquires at once; the waiter gets it first",
    timing: false, run: reacquire_tokio_semaphore
}

fn reacquire_tokio_semaphore<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let s = Arc::new(tokio::sync::Semaphore::new(1));
        let order = reacquire_order(&h, move || s.clone().acquire_owned()).await;
        fairness(order)
    })
}

scenario! {
    /// S4 probe: async_lock::Semaphore fairness.
    ReacquireAsyncLockSemaphore = "probe.reacquire_async_lock_semaphore", "probe", "S4",
    "async_lock::Semaphore(1): holder releases and re-acquires at once; waiter first?",
    timing: false, run: reacquire_async_lock_semaphore
}

fn reacquire_async_lock_semaphore<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let s = Arc::new(async_lock::Semaphore::new(1));
        let order = reacquire_order(&h, move || {
            let s = s.clone();
            async move { s.acquire_arc().await }
        })
        .await;
        fairness(order)
    })
}
