//! Synchronisation (rules S1–S5): asyncio's primitives as written in
//! [`crate::asyncio::sync`], and the primitives Rust programs actually use, as plain library
//! types on every runtime: `tokio::sync` (runtime-agnostic; works on any executor) and
//! `async-lock` (which is also what `async_std::sync::Mutex` re-exports).
//!
//! The primitives hand permits over in FIFO order by themselves; what the runtime decides is
//! the order in which tasks start waiting and resume once woken. The scenarios record both,
//! on one worker thread, and expect the single-threaded FIFO loop of asyncio.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::{Runtime, RuntimeHandle};
use serde_json::json;

use crate::asyncio::sync::{Condition, Event, Lock, Queue, Semaphore};
use crate::support::{events, eventually, new_log, on_one_worker, on_runtime, push, yields};
use crate::Observation;

scenario! {
    /// S1: one holder at a time; waiters acquire in FIFO order.
    LockFifo = "sync.lock_fifo", "sync", "S1",
    "asyncio Lock: 5 tasks spawned in order queue for a held lock and acquire it in the order they queued, one at a time (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: lock_fifo
}

fn lock_fifo<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let lock = Arc::new(Lock::new());
        let queued = new_log();
        let acquired = new_log();
        let holders = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        lock.acquire().await;
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (l, q, a, hs, pk, h2) = (
                lock.clone(),
                queued.clone(),
                acquired.clone(),
                holders.clone(),
                peak.clone(),
                h.clone(),
            );
            tasks.push(h.spawn(async move {
                push(&q, i);
                l.acquire().await;
                let n = hs.fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(n, Ordering::SeqCst);
                push(&a, i);
                h2.yield_now().await;
                hs.fetch_sub(1, Ordering::SeqCst);
                l.release();
            }));
        }
        let l = lock.clone();
        eventually(&h, Duration::from_secs(1), || l.waiting() == 5).await;
        lock.release();
        for t in tasks {
            let _ = t.await;
        }
        Observation::check(
            json!({
                "queued": events(&queued),
                "acquired": events(&acquired),
                "peak_holders": peak.load(Ordering::SeqCst),
            }),
            json!({ "queued": [0, 1, 2, 3, 4], "acquired": [0, 1, 2, 3, 4], "peak_holders": 1 }),
        )
    })
}

scenario! {
    /// S2: set wakes every waiter; waiting on a set event returns at once.
    EventWakesAll = "sync.event_wakes_all", "sync", "S2",
    "asyncio Event: set() wakes 3 waiters, which resume in the order they waited; wait() on a set event is ready at once (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: event_wakes_all
}

fn event_wakes_all<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let ev = Arc::new(Event::new());
        let waiting = new_log();
        let resumed = new_log();
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let (e, w, r) = (ev.clone(), waiting.clone(), resumed.clone());
                h.spawn(async move {
                    push(&w, i);
                    e.wait().await;
                    push(&r, i);
                })
            })
            .collect();
        let e = ev.clone();
        eventually(&h, Duration::from_secs(1), || e.waiting() == 3).await;
        ev.set();
        for t in tasks {
            let _ = t.await;
        }
        let mut again = Box::pin(ev.wait());
        let immediate = futures::poll!(again.as_mut()).is_ready();
        let waited = events(&waiting);
        Observation::check(
            json!({ "waited": waited, "resumed": events(&resumed), "wait_on_set_is_immediate": immediate }),
            json!({ "waited": waited, "resumed": waited, "wait_on_set_is_immediate": true }),
        )
    })
}

scenario! {
    /// S3: notify(n) wakes n waiters, notify_all the rest, in waiting order; a woken waiter
    /// holds the lock.
    ConditionNotify = "sync.condition_notify", "sync", "S3",
    "asyncio Condition: notify(1), notify(2), notify_all wake 1, 2, then 2 of 5 in the order they waited; each holds the lock (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: condition_notify
}

fn condition_notify<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let cond = Arc::new(Condition::new());
        let waiting = new_log();
        let woken = new_log();
        let held = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (c, w, wk, hd) = (cond.clone(), waiting.clone(), woken.clone(), held.clone());
            tasks.push(h.spawn(async move {
                c.acquire().await;
                push(&w, i);
                c.wait().await;
                if c.locked() {
                    hd.fetch_add(1, Ordering::SeqCst);
                }
                push(&wk, i);
                c.release();
            }));
        }
        let c = cond.clone();
        eventually(&h, Duration::from_secs(1), || c.waiting() == 5).await;
        let mut counts = Vec::new();
        for n in [1usize, 2] {
            cond.acquire().await;
            cond.notify(n);
            cond.release();
            let (w, target) = (woken.clone(), counts.last().copied().unwrap_or(0) + n);
            eventually(&h, Duration::from_secs(1), || events(&w).len() >= target).await;
            // Long enough for a waiter that should not have been woken to show up.
            yields(&h, 20).await;
            counts.push(events(&woken).len());
        }
        cond.acquire().await;
        cond.notify_all();
        cond.release();
        for t in tasks {
            let _ = t.await;
        }
        counts.push(events(&woken).len());
        let waited = events(&waiting);
        Observation::check(
            json!({
                "woken_after_each_notify": counts,
                "waited": waited,
                "woken": events(&woken),
                "held_the_lock": held.load(Ordering::SeqCst),
            }),
            json!({
                "woken_after_each_notify": [1, 3, 5],
                "waited": waited,
                "woken": waited,
                "held_the_lock": 5,
            }),
        )
    })
}

/// Runs 6 jobs of 10 ms under `acquire`/`release` and returns the peak concurrency.
async fn peak_under<H, A, AF, Rel>(h: &H, acquire: A, release: Rel) -> usize
where
    H: RuntimeHandle,
    A: Fn() -> AF + Clone + Send + 'static,
    AF: std::future::Future<Output = ()> + Send,
    Rel: Fn() + Clone + Send + 'static,
{
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (r, p, h2, a, rel) = (
                running.clone(),
                peak.clone(),
                h.clone(),
                acquire.clone(),
                release.clone(),
            );
            h.spawn(async move {
                a().await;
                let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(n, Ordering::SeqCst);
                h2.sleep(Duration::from_millis(10)).await;
                r.fetch_sub(1, Ordering::SeqCst);
                rel();
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    peak.load(Ordering::SeqCst)
}

scenario! {
    /// S4: Semaphore(k) admits at most k holders.
    SemaphoreLimit = "sync.semaphore_limit", "sync", "S4",
    "asyncio Semaphore(2): 6 jobs of 10 ms, at most 2 (and then exactly 2) at once",
    timing: false, kills: ["short_sleeps_block"], run: semaphore_limit
}

fn semaphore_limit<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let sem = Arc::new(Semaphore::new(2));
        let (s1, s2) = (sem.clone(), sem.clone());
        let peak = peak_under(
            &h,
            move || {
                let s = s1.clone();
                async move { s.acquire().await }
            },
            move || s2.release(),
        )
        .await;
        Observation::check(
            json!({ "peak_holders": peak }),
            json!({ "peak_holders": 2 }),
        )
    })
}

scenario! {
    /// S4: tokio::sync::Semaphore (a plain library type here) admits at most k holders.
    TokioSemaphoreLimit = "sync.tokio_semaphore_limit", "sync", "S4",
    "tokio::sync::Semaphore(2) as a library type: 6 jobs, at most 2 at once",
    timing: false, kills: ["short_sleeps_block"], run: tokio_semaphore_limit
}

fn tokio_semaphore_limit<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let sem = Arc::new(tokio::sync::Semaphore::new(2));
        let (s1, s2) = (sem.clone(), sem.clone());
        let peak = peak_under(
            &h,
            move || {
                let s = s1.clone();
                async move { s.acquire().await.expect("open").forget() }
            },
            move || s2.add_permits(1),
        )
        .await;
        Observation::check(
            json!({ "peak_holders": peak }),
            json!({ "peak_holders": 2 }),
        )
    })
}

scenario! {
    /// S4: async_lock::Semaphore admits at most k holders.
    AsyncLockSemaphoreLimit = "sync.async_lock_semaphore_limit", "sync", "S4",
    "async_lock::Semaphore(2): 6 jobs, at most 2 at once",
    timing: false, kills: ["short_sleeps_block"], run: async_lock_semaphore_limit
}

fn async_lock_semaphore_limit<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let sem = Arc::new(async_lock::Semaphore::new(2));
        let (s1, s2) = (sem.clone(), sem.clone());
        let peak = peak_under(
            &h,
            move || {
                let s = s1.clone();
                async move { std::mem::forget(s.acquire().await) }
            },
            move || s2.add_permits(1),
        )
        .await;
        Observation::check(
            json!({ "peak_holders": peak }),
            json!({ "peak_holders": 2 }),
        )
    })
}

scenario! {
    /// S5: Queue is FIFO; get waits on empty, put waits on full.
    QueueFifoBounds = "sync.queue_fifo_bounds", "sync", "S5",
    "asyncio Queue(2): FIFO; a third put waits until a get; a get on empty waits for a put (one worker)",
    timing: false, kills: ["short_sleeps_block"], run: queue_fifo_bounds
}

fn queue_fifo_bounds<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let q = Arc::new(Queue::new(2));
        q.put(1).await;
        q.put(2).await;
        let log = new_log();
        let (q2, l) = (q.clone(), log.clone());
        let putter = h.spawn(async move {
            push(&l, "putter waits");
            q2.put(3).await;
            push(&l, "put 3 done");
        });
        h.sleep(Duration::from_millis(5)).await;
        push(&log, "get");
        let a = q.get().await;
        let _ = putter.await;
        let b = q.get().await;
        let c = q.get().await;
        let (q2, l) = (q.clone(), log.clone());
        let getter = h.spawn(async move {
            push(&l, "getter waits");
            let v = q2.get().await;
            push(&l, "get on empty done");
            v
        });
        h.sleep(Duration::from_millis(5)).await;
        push(&log, "put 4");
        q.put(4).await;
        let d = getter.await.unwrap_or(0);
        Observation::check(
            json!({ "items": [a, b, c, d], "order": events(&log) }),
            json!({
                "items": [1, 2, 3, 4],
                "order": ["putter waits", "get", "put 3 done", "getter waits", "put 4", "get on empty done"],
            }),
        )
    })
}

scenario! {
    /// S5: getters waiting on an empty queue are served, and resume, in the order they waited.
    QueueGettersFifo = "sync.queue_getters_fifo", "sync", "S5",
    "asyncio Queue: 3 getters wait on an empty queue; 3 puts serve them in waiting order and they resume in that order (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: queue_getters_fifo
}

fn queue_getters_fifo<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let q = Arc::new(Queue::<u32>::new(10));
        let waiting = new_log();
        let resumed = new_log();
        let getters: Vec<_> = (0..3u32)
            .map(|i| {
                let (q, w, r) = (q.clone(), waiting.clone(), resumed.clone());
                h.spawn(async move {
                    push(&w, i);
                    let item = q.get().await;
                    push(&r, (i, item));
                })
            })
            .collect();
        let w = waiting.clone();
        eventually(&h, Duration::from_secs(1), || events(&w).len() == 3).await;
        yields(&h, 3).await;
        for item in [100, 101, 102] {
            q.put(item).await;
        }
        for g in getters {
            let _ = g.await;
        }
        let waited = events(&waiting);
        let expected: Vec<_> = waited
            .iter()
            .zip([100, 101, 102])
            .map(|(i, item)| (*i, item))
            .collect();
        Observation::check(
            json!({ "waited": waited, "resumed_with": events(&resumed) }),
            json!({ "waited": waited, "resumed_with": expected }),
        )
    })
}

scenario! {
    /// S5: tokio::sync::mpsc bounded channel (a library type here) as a bounded FIFO queue.
    TokioMpscBounded = "sync.tokio_mpsc_bounded", "sync", "S5",
    "tokio::sync::mpsc::channel(2) as a library type: FIFO; a third send waits for a recv (one worker)",
    timing: false, kills: ["short_sleeps_block"], run: tokio_mpsc_bounded
}

fn tokio_mpsc_bounded<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(2);
        let log = new_log();
        let l = log.clone();
        let sender = h.spawn(async move {
            for i in 1..=3 {
                let _ = tx.send(i).await;
                push(&l, format!("sent {i}"));
            }
        });
        h.sleep(Duration::from_millis(5)).await;
        push(&log, "recv".to_string());
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        let _ = sender.await;
        Observation::check(
            json!({ "items": got, "order": events(&log) }),
            json!({ "items": [1, 2, 3], "order": ["sent 1", "sent 2", "recv", "sent 3"] }),
        )
    })
}

scenario! {
    /// S4: waiters of a full Semaphore are admitted, and resume, in the order they queued.
    SemaphoreFifo = "sync.semaphore_fifo", "sync", "S4",
    "asyncio Semaphore(1) held: 4 tasks queue for it and get it in the order they queued (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: semaphore_fifo
}

fn semaphore_fifo<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let sem = Arc::new(Semaphore::new(1));
        let queued = new_log();
        let admitted = new_log();
        sem.acquire().await;
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let (s, q, a) = (sem.clone(), queued.clone(), admitted.clone());
                h.spawn(async move {
                    push(&q, i);
                    s.acquire().await;
                    push(&a, i);
                    s.release();
                })
            })
            .collect();
        let s = sem.clone();
        eventually(&h, Duration::from_secs(1), || s.waiting() == 4).await;
        sem.release();
        for t in tasks {
            let _ = t.await;
        }
        Observation::check(
            json!({ "queued": events(&queued), "admitted": events(&admitted) }),
            json!({ "queued": [0, 1, 2, 3], "admitted": [0, 1, 2, 3] }),
        )
    })
}

scenario! {
    /// S1 with C1: a task cancelled while it waits for a lock leaves the queue; the lock
    /// goes to the next waiter.
    LockWaiterCancelled = "sync.lock_waiter_cancelled", "sync", "S1",
    "asyncio Lock held; tasks a and b queue for it; a is cancelled; on release b acquires and a never does (one worker)",
    timing: false, kills: ["cancel_ignored"], run: lock_waiter_cancelled
}

fn lock_waiter_cancelled<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    use harness::TaskHandle;
    on_one_worker::<R, _, _>(|h| async move {
        let lock = Arc::new(Lock::new());
        let acquired = new_log();
        lock.acquire().await;
        let spawn_waiter = |name: &'static str| {
            let (l, a) = (lock.clone(), acquired.clone());
            h.spawn(async move {
                l.acquire().await;
                push(&a, name);
                l.release();
            })
        };
        let a = spawn_waiter("a");
        let l = lock.clone();
        eventually(&h, Duration::from_secs(1), || l.waiting() == 1).await;
        let b = spawn_waiter("b");
        let l = lock.clone();
        eventually(&h, Duration::from_secs(1), || l.waiting() == 2).await;
        let a_joined = crate::support::join_outcome(a.cancel()).await;
        lock.release();
        let _ = crate::support::within(&h, Duration::from_secs(1), b).await;
        yields(&h, 10).await;
        Observation::check(
            json!({ "a": a_joined, "acquired": events(&acquired), "lock_free_at_the_end": !lock.locked() }),
            json!({ "a": "cancelled", "acquired": ["b"], "lock_free_at_the_end": true }),
        )
    })
}
