//! Tests of tasks: start order, FIFO scheduling, join semantics (panic, abort, detach),
//! wakers used from other threads, and the blocking pool.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::{JoinError, RuntimeConfig, RuntimeHandle, TaskHandle};

use super::{on_both_drivers, TestLoop};

type SharedLog = Arc<Mutex<Vec<String>>>;

fn push(log: &SharedLog, s: impl Into<String>) {
    log.lock().unwrap().push(s.into());
}

fn a_spawned_task_starts_on_a_later_iteration<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let log = SharedLog::default();
    let l = log.clone();
    ev.block_on(async move {
        push(&l, "creating task");
        let l2 = l.clone();
        let join = h.spawn(async move { push(&l2, "in task") });
        push(&l, "created");
        join.await.unwrap();
    });
    assert_eq!(
        *log.lock().unwrap(),
        ["creating task", "created", "in task"]
    );
}

fn ready_queue_is_fifo_and_yield_interleaves<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let log = SharedLog::default();
    let l = log.clone();
    ev.block_on(async move {
        let joins: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let (l, h2) = (l.clone(), h.clone());
                h.spawn(async move {
                    for i in 0..3 {
                        push(&l, format!("{name}{i}"));
                        h2.yield_now().await;
                    }
                })
            })
            .collect();
        for j in joins {
            j.await.unwrap();
        }
    });
    let expected = ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"];
    assert_eq!(*log.lock().unwrap(), expected);
}

fn a_panicking_task_yields_panicked_and_the_loop_goes_on<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let result = ev.block_on(async move {
        let bad = h.spawn(async { panic!("boom in task") });
        let bad = bad.await;
        let good = h.spawn(async { 41 + 1 }).await;
        (bad, good)
    });
    assert_eq!(result.0, Err(JoinError::Panicked("boom in task".into())));
    assert_eq!(result.1, Ok(42));
    assert_eq!(ev.event_loop().census().0, 0, "no task left behind");
    assert_eq!(ev.block_on(async { "still alive" }), "still alive");
}

fn abort_cancels_at_the_next_suspension_and_runs_cleanup<L: TestLoop>() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let cleaned = Arc::new(AtomicBool::new(false));
    let c = cleaned.clone();
    let (aborted, finished) = ev.block_on(async move {
        let h2 = h.clone();
        let long = h.spawn(async move {
            let _guard = SetOnDrop(c);
            h2.sleep(Duration::from_secs(3600)).await;
        });
        h.yield_now().await; // let it start and block on the sleep
        let aborted = long.cancel().await;
        let done = h.spawn(async { 5 });
        h.sleep(Duration::from_millis(1)).await;
        // Cancelling a finished task changes nothing: its outcome comes back.
        (aborted, done.cancel().await)
    });
    assert_eq!(aborted, Err(JoinError::Cancelled));
    assert!(cleaned.load(Ordering::SeqCst), "the task's destructors ran");
    assert_eq!(finished, Ok(5));
    assert_eq!(ev.event_loop().census(), (0, 0, 0));
}

fn dropping_a_join_handle_detaches<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    ev.block_on(async move {
        let h2 = h.clone();
        drop(h.spawn(async move {
            h2.sleep(Duration::from_millis(5)).await;
            r.store(true, Ordering::SeqCst);
        }));
        h.sleep(Duration::from_millis(30)).await;
    });
    assert!(ran.load(Ordering::SeqCst));
}

fn wakers_and_spawns_from_other_threads_reach_the_loop<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    // A task woken from another thread (a oneshot sent there).
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(7).unwrap();
    });
    // A task spawned from another thread while the loop waits.
    let h2 = h.clone();
    let spawner = std::thread::spawn(move || h2.spawn(async { 35 }));
    let got = ev.block_on(async move {
        let from_thread = h.spawn(rx).await.unwrap().unwrap();
        let spawned = spawner.join().unwrap().await.unwrap();
        from_thread + spawned
    });
    sender.join().unwrap();
    assert_eq!(got, 42);
}

fn spawn_blocking_returns_results_within_the_pool_bound<L: TestLoop>() {
    let config = RuntimeConfig {
        blocking_threads: Some(2),
        ..RuntimeConfig::default()
    };
    let ev = match L::build(&config) {
        Ok(ev) => ev,
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => return,
        Err(e) => panic!("build: {e}"),
    };
    let h = ev.handle();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let (results, panicked, ticks) = ev.block_on(async move {
        let joins: Vec<_> = (0..6u32)
            .map(|i| {
                let (r, p) = (r.clone(), p.clone());
                h.spawn_blocking(move || {
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    r.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                })
            })
            .collect();
        // Timers keep being served while the pool works (asyncio T1).
        let mut ticks = 0;
        for _ in 0..3 {
            h.sleep(Duration::from_millis(1)).await;
            ticks += 1;
        }
        let mut results = Vec::new();
        for j in joins {
            results.push(j.await.unwrap());
        }
        let panicked = h.spawn_blocking(|| panic!("boom in pool")).await;
        (results, panicked, ticks)
    });
    assert_eq!(results, [0, 10, 20, 30, 40, 50]);
    assert_eq!(panicked, Err(JoinError::Panicked("boom in pool".into())));
    assert_eq!(ticks, 3);
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=2).contains(&peak), "peak concurrency {peak}");
}

on_both_drivers!(
    a_spawned_task_starts_on_a_later_iteration,
    ready_queue_is_fifo_and_yield_interleaves,
    a_panicking_task_yields_panicked_and_the_loop_goes_on,
    abort_cancels_at_the_next_suspension_and_runs_cleanup,
    dropping_a_join_handle_detaches,
    wakers_and_spawns_from_other_threads_reach_the_loop,
    spawn_blocking_returns_results_within_the_pool_bound,
);
