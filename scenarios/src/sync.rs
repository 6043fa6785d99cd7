//! Synchronisation (rules S1–S5): asyncio's primitives as written in
//! [`crate::asyncio::sync`], and the primitives Rust programs actually use, as plain library
//! types on every runtime: `tokio::sync` (runtime-agnostic; works on any executor) and
//! `async-lock` (which is also what `async_std::sync::Mutex` re-exports).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::{Runtime, RuntimeHandle};

use crate::asyncio::sync::{Condition, Event, Lock, Queue, Semaphore};
use crate::support::{events, eventually, new_log, on_one_worker, on_runtime, push};
use crate::Observation;

scenario! {
    /// S1: one holder at a time; waiters acquire in FIFO order.
    LockFifo = "sync.lock_fifo", "sync", "S1",
    "asyncio Lock: 5 waiters queued in order acquire in that order, one holder at a time",
    timing: false, run: lock_fifo
}

fn lock_fifo<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let lock = Arc::new(Lock::new());
        let log = new_log();
        let holders = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        lock.acquire().await;
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (l, log, hs, pk, h2) = (
                lock.clone(),
                log.clone(),
                holders.clone(),
                peak.clone(),
                h.clone(),
            );
            tasks.push(h.spawn(async move {
                l.acquire().await;
                let n = hs.fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(n, Ordering::SeqCst);
                push(&log, i);
                h2.sleep(Duration::from_millis(1)).await;
                hs.fetch_sub(1, Ordering::SeqCst);
                l.release();
            }));
            let l = lock.clone();
            eventually(&h, Duration::from_secs(1), || l.waiting() == i + 1).await;
        }
        lock.release();
        for t in tasks {
            let _ = t.await;
        }
        Observation::expect_eq(
            (events(&log), peak.load(Ordering::SeqCst)),
            ((0..5).collect(), 1),
        )
    })
}

scenario! {
    /// S2: set wakes every waiter; waiting on a set event returns at once.
    EventWakesAll = "sync.event_wakes_all", "sync", "S2",
    "asyncio Event: set() wakes 3 waiters; wait() on a set event is ready on first poll",
    timing: false, run: event_wakes_all
}

fn event_wakes_all<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let ev = Arc::new(Event::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (e, w) = (ev.clone(), woken.clone());
                h.spawn(async move {
                    e.wait().await;
                    w.fetch_add(1, Ordering::SeqCst);
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
        Observation::expect_eq((woken.load(Ordering::SeqCst), immediate), (3, true))
    })
}

scenario! {
    /// S3: notify(n) wakes n waiters, notify_all the rest; a woken waiter holds the lock.
    ConditionNotify = "sync.condition_notify", "sync", "S3",
    "asyncio Condition: notify(1), notify(2), notify_all wake 1, 2, then 2 of 5; each holds the lock",
    timing: false, run: condition_notify
}

fn condition_notify<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let cond = Arc::new(Condition::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (c, w, hd) = (cond.clone(), woken.clone(), held.clone());
            tasks.push(h.spawn(async move {
                c.acquire().await;
                c.wait().await;
                if c.locked() {
                    hd.fetch_add(1, Ordering::SeqCst);
                }
                w.fetch_add(1, Ordering::SeqCst);
                c.release();
            }));
        }
        let c = cond.clone();
        eventually(&h, Duration::from_secs(1), || c.waiting() == 5).await;
        let mut seen = Vec::new();
        for n in [1usize, 2] {
            cond.acquire().await;
            cond.notify(n);
            cond.release();
            h.sleep(Duration::from_millis(10)).await;
            seen.push(woken.load(Ordering::SeqCst));
        }
        cond.acquire().await;
        cond.notify_all();
        cond.release();
        for t in tasks {
            let _ = t.await;
        }
        seen.push(woken.load(Ordering::SeqCst));
        Observation::expect_eq((seen, held.load(Ordering::SeqCst)), (vec![1, 3, 5], 5))
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
    timing: false, run: semaphore_limit
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
        Observation::expect_eq(peak, 2)
    })
}

scenario! {
    /// S4: tokio::sync::Semaphore (a plain library type here) admits at most k holders.
    TokioSemaphoreLimit = "sync.tokio_semaphore_limit", "sync", "S4",
    "tokio::sync::Semaphore(2) as a library type: 6 jobs, at most 2 at once",
    timing: false, run: tokio_semaphore_limit
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
        Observation::expect_eq(peak, 2)
    })
}

scenario! {
    /// S4: async_lock::Semaphore admits at most k holders.
    AsyncLockSemaphoreLimit = "sync.async_lock_semaphore_limit", "sync", "S4",
    "async_lock::Semaphore(2): 6 jobs, at most 2 at once",
    timing: false, run: async_lock_semaphore_limit
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
        Observation::expect_eq(peak, 2)
    })
}

scenario! {
    /// S5: Queue is FIFO; get waits on empty, put waits on full.
    QueueFifoBounds = "sync.queue_fifo_bounds", "sync", "S5",
    "asyncio Queue(2): FIFO; a third put waits until a get; a get on empty waits for a put",
    timing: false, run: queue_fifo_bounds
}

fn queue_fifo_bounds<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let q = Arc::new(Queue::new(2));
        q.put(1).await;
        q.put(2).await;
        let log = new_log();
        let (q2, l) = (q.clone(), log.clone());
        let putter = h.spawn(async move {
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
            let v = q2.get().await;
            push(&l, "get on empty done");
            v
        });
        h.sleep(Duration::from_millis(5)).await;
        push(&log, "put 4");
        q.put(4).await;
        let d = getter.await.unwrap_or(0);
        Observation::expect_eq(
            (vec![a, b, c, d], events(&log)),
            (
                vec![1, 2, 3, 4],
                vec!["get", "put 3 done", "put 4", "get on empty done"],
            ),
        )
    })
}

scenario! {
    /// S5: tokio::sync::mpsc bounded channel (a library type here) as a bounded FIFO queue.
    TokioMpscBounded = "sync.tokio_mpsc_bounded", "sync", "S5",
    "tokio::sync::mpsc::channel(2) as a library type: FIFO; a third send waits for a recv",
    timing: false, run: tokio_mpsc_bounded
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
        Observation::expect_eq(
            (got, events(&log)),
            (
                vec![1, 2, 3],
                vec!["sent 1", "sent 2", "recv", "sent 3"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ),
        )
    })
}

scenario! {
    /// S2: tokio::sync::Notify::notify_waiters as an Event: wakes all, but stores no state.
    TokioNotifyAsEvent = "sync.tokio_notify_as_event", "sync", "S2",
    "tokio Notify::notify_waiters wakes 3 waiters; a later wait returns at once like a set Event",
    timing: false, run: tokio_notify_as_event
}

fn tokio_notify_as_event<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let notify = Arc::new(tokio::sync::Notify::new());
        let registered = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (n, r) = (notify.clone(), registered.clone());
                h.spawn(async move {
                    let notified = n.notified();
                    futures::pin_mut!(notified);
                    notified.as_mut().enable();
                    r.fetch_add(1, Ordering::SeqCst);
                    notified.await;
                })
            })
            .collect();
        let r = registered.clone();
        eventually(&h, Duration::from_secs(1), || r.load(Ordering::SeqCst) == 3).await;
        notify.notify_waiters();
        let mut woken = 0;
        for t in tasks {
            woken += usize::from(t.await.is_ok());
        }
        let later = notify.notified();
        futures::pin_mut!(later);
        let immediate = futures::poll!(later.as_mut()).is_ready();
        if woken == 3 && !immediate {
            Observation::deviates(
                "all 3 woken, but a wait after notify_waiters stays pending (no 'set' state)",
                "woken, and waiting on a set event returns at once",
            )
        } else {
            Observation::expect_eq((woken, immediate), (3, true))
        }
    })
}
