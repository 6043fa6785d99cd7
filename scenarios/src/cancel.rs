//! Cancellation and time limits (rules C1–C6), with the asyncio combinators of
//! [`crate::asyncio::combinators`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use harness::{JoinError, Runtime, RuntimeHandle, TaskHandle};

use crate::asyncio::combinators::{as_completed, gather, wait, wait_for, TimedOut};
use crate::support::{eventually, on_runtime};
use crate::Observation;

/// Sets its flag when dropped: a cancelled future's cleanup.
pub(crate) struct DropFlag(pub(crate) Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

scenario! {
    /// C1: abort stops the task at its next suspension point; awaiting reports cancellation.
    AbortAtSuspension = "cancel.abort_at_suspension", "cancel", "C1",
    "abort() of a ticking task: join yields Cancelled and the task makes no further step",
    timing: false, run: abort_at_suspension
}

fn abort_at_suspension<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let steps = Arc::new(AtomicUsize::new(0));
        let (s, h2) = (steps.clone(), h.clone());
        let mut t = h.spawn(async move {
            loop {
                s.fetch_add(1, Ordering::SeqCst);
                h2.sleep(Duration::from_millis(2)).await;
            }
        });
        let s = steps.clone();
        eventually(&h, Duration::from_secs(1), || s.load(Ordering::SeqCst) >= 2).await;
        t.abort();
        let joined = t.await;
        let at_join = steps.load(Ordering::SeqCst);
        h.sleep(Duration::from_millis(20)).await;
        let later = steps.load(Ordering::SeqCst);
        Observation::expect_eq(
            (joined.map(|_| ()), later == at_join),
            (Err(JoinError::Cancelled), true),
        )
    })
}

scenario! {
    /// C1: cancelling a finished task changes nothing.
    AbortFinished = "cancel.abort_finished_noop", "cancel", "C1",
    "abort() after the task finished: awaiting still yields its value",
    timing: false, run: abort_finished
}

fn abort_finished<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let mut t = h.spawn(async { "done" });
        eventually(&h, Duration::from_secs(1), || t.is_finished()).await;
        t.abort();
        Observation::expect_eq(t.await, Ok("done"))
    })
}

scenario! {
    /// C6: the destructors of a cancelled task's future run.
    CleanupRuns = "cancel.cleanup_runs", "cancel", "C6",
    "abort() of a task holding a guard: the guard's destructor runs",
    timing: false, run: cleanup_runs
}

fn cleanup_runs<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let dropped = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (d, s, h2) = (dropped.clone(), started.clone(), h.clone());
        let mut t = h.spawn(async move {
            let _guard = DropFlag(d);
            s.store(true, Ordering::SeqCst);
            h2.sleep(Duration::from_secs(10)).await;
        });
        eventually(&h, Duration::from_secs(1), || {
            started.load(Ordering::SeqCst)
        })
        .await;
        t.abort();
        let _ = t.await;
        let d = dropped.clone();
        let ran = eventually(&h, Duration::from_millis(500), || d.load(Ordering::SeqCst)).await;
        Observation::expect_eq(ran, true)
    })
}

scenario! {
    /// C2: wait_for returns the result, or cancels the awaitable and reports a time-out.
    WaitFor = "cancel.wait_for", "cancel", "C2",
    "wait_for: a 2 ms job within 500 ms yields its value; a 10 s job within 20 ms times out, cleaned up",
    timing: false, run: wait_for_scenario
}

fn wait_for_scenario<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let h2 = h.clone();
        let fast = wait_for(
            &h,
            async move {
                h2.sleep(Duration::from_millis(2)).await;
                7
            },
            Duration::from_millis(500),
        )
        .await;
        let dropped = Arc::new(AtomicBool::new(false));
        let (d, h2) = (dropped.clone(), h.clone());
        let slow = wait_for(
            &h,
            async move {
                let _guard = DropFlag(d);
                h2.sleep(Duration::from_secs(10)).await;
                8
            },
            Duration::from_millis(20),
        )
        .await;
        Observation::expect_eq(
            (fast, slow, dropped.load(Ordering::SeqCst)),
            (Ok(7), Err(TimedOut), true),
        )
    })
}

scenario! {
    /// C3: wait with a timeout returns (done, pending) and does not cancel pending.
    WaitDonePending = "cancel.wait_done_pending", "cancel", "C3",
    "wait([5 ms, 200 ms], timeout 60 ms) -> done {0}, pending {1}; pending still completes",
    timing: false, run: wait_done_pending
}

fn wait_done_pending<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let tasks: Vec<_> = [5u64, 200]
            .into_iter()
            .map(|d| {
                let h2 = h.clone();
                h.spawn(async move {
                    h2.sleep(Duration::from_millis(d)).await;
                    d
                })
            })
            .collect();
        let w = wait(&h, tasks, Some(Duration::from_millis(60))).await;
        let done: Vec<_> = w.done.iter().map(|(i, r)| (*i, r.clone())).collect();
        let pending_idx: Vec<_> = w.pending.iter().map(|(i, _)| *i).collect();
        let mut later = Vec::new();
        for (_, t) in w.pending {
            later.push(t.await);
        }
        Observation::expect_eq(
            (done, pending_idx, later),
            (vec![(0, Ok(5))], vec![1], vec![Ok(200)]),
        )
    })
}

/// Spawns tasks that sleep `delays` ms and return their delay.
fn sleepers<H: RuntimeHandle>(h: &H, delays: &[u64]) -> Vec<H::JoinHandle<u64>> {
    delays
        .iter()
        .map(|&d| {
            let h2 = h.clone();
            h.spawn(async move {
                h2.sleep(Duration::from_millis(d)).await;
                d
            })
        })
        .collect()
}

scenario! {
    /// C4: gather returns results in argument order.
    GatherOrder = "cancel.gather_order", "cancel", "C4",
    "gather of jobs finishing after 30, 10, 20 ms returns [30, 10, 20]",
    timing: false, run: gather_order
}

fn gather_order<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let futs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|d| {
                let h2 = h.clone();
                async move {
                    h2.sleep(Duration::from_millis(d)).await;
                    d
                }
            })
            .collect();
        let got: Vec<_> = gather(&h, futs).await.into_iter().map(|r| r.ok()).collect();
        Observation::expect_eq(got, vec![Some(30), Some(10), Some(20)])
    })
}

scenario! {
    /// C5: as_completed yields in completion order.
    AsCompletedOrder = "cancel.as_completed_order", "cancel", "C5",
    "as_completed of jobs finishing after 60, 20, 40 ms yields 20, 40, 60",
    timing: false, run: as_completed_order
}

fn as_completed_order<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let stream = as_completed(sleepers(&h, &[60, 20, 40]));
        let got: Vec<_> = stream.map(|r| r.ok()).collect().await;
        Observation::expect_eq(got, vec![Some(20), Some(40), Some(60)])
    })
}
