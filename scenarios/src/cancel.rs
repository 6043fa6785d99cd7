//! Cancellation and time limits (rules C1–C6), with the asyncio combinators of
//! [`crate::asyncio::combinators`] and the runtime's own cancel and time limit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use harness::{Runtime, RuntimeHandle, TaskHandle};
use serde_json::{json, Value};

use crate::asyncio::combinators::{as_completed, gather, wait, wait_for};
use crate::support::{eventually, join_outcome, ms1, on_one_worker, on_runtime, outcome, yields};
use crate::Observation;

/// Sets its flag when dropped: a cancelled future's cleanup.
pub(crate) struct DropFlag(pub(crate) Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

scenario! {
    /// C1: cancel stops the task at its next suspension point; awaiting reports cancellation.
    AbortAtSuspension = "cancel.abort_at_suspension", "cancel", "C1",
    "cancel() of a ticking task: it reports Cancelled and the task makes no further step",
    timing: false, kills: ["cancel_ignored"], run: abort_at_suspension
}

fn abort_at_suspension<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let steps = Arc::new(AtomicUsize::new(0));
        let (s, h2) = (steps.clone(), h.clone());
        let t = h.spawn(async move {
            loop {
                s.fetch_add(1, Ordering::SeqCst);
                h2.sleep(Duration::from_millis(2)).await;
            }
            #[allow(unreachable_code)]
            ()
        });
        let s = steps.clone();
        eventually(&h, Duration::from_secs(1), || s.load(Ordering::SeqCst) >= 2).await;
        let joined = join_outcome(t.cancel()).await;
        let at_join = steps.load(Ordering::SeqCst);
        h.sleep(Duration::from_millis(20)).await;
        let later = steps.load(Ordering::SeqCst) - at_join;
        Observation::check(
            json!({ "joined": joined, "steps_after_cancel": later }),
            json!({ "joined": "cancelled", "steps_after_cancel": 0 }),
        )
    })
}

scenario! {
    /// C1: cancelling a finished task changes nothing.
    AbortFinished = "cancel.abort_finished_noop", "cancel", "C1",
    "cancel() after the task finished: it still yields its value (one worker)",
    timing: false, kills: ["outcome_overwritten"], run: abort_finished
}

fn abort_finished<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    // One worker: the task has finished (not just signalled) when its neighbour sees it.
    on_one_worker::<R, _, _>(|h| async move {
        let returning = Arc::new(AtomicBool::new(false));
        let r = returning.clone();
        let t = h.spawn(async move {
            r.store(true, Ordering::SeqCst);
            "done"
        });
        let r = returning.clone();
        eventually(&h, Duration::from_secs(1), || r.load(Ordering::SeqCst)).await;
        yields(&h, 20).await;
        Observation::check(
            json!({ "joined": join_outcome(t.cancel()).await }),
            json!({ "joined": { "value": "done" } }),
        )
    })
}

scenario! {
    /// C1: a task cancelled before it ever ran never runs; its captured state is dropped.
    CancelBeforeStart = "cancel.cancel_before_start", "cancel", "C1",
    "a task cancelled right after spawn never runs its body; what it captured is dropped (one worker)",
    timing: false, kills: ["cancel_ignored"], run: cancel_before_start
}

fn cancel_before_start<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_one_worker::<R, _, _>(|h| async move {
        let ran = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicBool::new(false));
        let (r, guard) = (ran.clone(), DropFlag(dropped.clone()));
        let t = h.spawn(async move {
            let _guard = guard;
            r.store(true, Ordering::SeqCst);
        });
        let joined = join_outcome(t.cancel()).await;
        yields(&h, 10).await;
        Observation::check(
            json!({
                "joined": joined,
                "body_ran": ran.load(Ordering::SeqCst),
                "captured_state_dropped": dropped.load(Ordering::SeqCst),
            }),
            json!({ "joined": "cancelled", "body_ran": false, "captured_state_dropped": true }),
        )
    })
}

scenario! {
    /// C6: the destructors of a cancelled task's future run.
    CleanupRuns = "cancel.cleanup_runs", "cancel", "C6",
    "cancel() of a task holding a guard: the guard's destructor runs",
    timing: false, kills: ["cancel_ignored"], run: cleanup_runs
}

fn cleanup_runs<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let dropped = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (d, s, h2) = (dropped.clone(), started.clone(), h.clone());
        let t = h.spawn(async move {
            let _guard = DropFlag(d);
            s.store(true, Ordering::SeqCst);
            h2.sleep(Duration::from_secs(10)).await;
        });
        eventually(&h, Duration::from_secs(1), || {
            started.load(Ordering::SeqCst)
        })
        .await;
        let _ = join_outcome(t.cancel()).await;
        let d = dropped.clone();
        let ran = eventually(&h, Duration::from_millis(500), || d.load(Ordering::SeqCst)).await;
        Observation::check(
            json!({ "cleanup_ran": ran }),
            json!({ "cleanup_ran": true }),
        )
    })
}

/// A time-limited outcome as JSON: `{"value": v}` or `"timed_out"`.
fn limited<T: serde::Serialize>(r: &Result<T, harness::TimedOut>) -> Value {
    match r {
        Ok(v) => json!({ "value": v }),
        Err(_) => json!("timed_out"),
    }
}

scenario! {
    /// C2: wait_for (the runtime's own time limit) returns the result, or cancels the
    /// awaitable and reports a time-out, never before the limit.
    WaitFor = "cancel.wait_for", "cancel", "C2",
    "native time limit: a 2 ms job within 500 ms yields its value; a 10 s job within 20 ms times out, not before 20 ms, cleaned up; limit 0 on a job that yields once times out",
    timing: false, kills: ["timers_early"], run: wait_for_scenario
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
        let started = Instant::now();
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
        let slow_after = started.elapsed();
        let h2 = h.clone();
        let zero = wait_for(
            &h,
            async move {
                h2.yield_now().await;
                9
            },
            Duration::ZERO,
        )
        .await;
        Observation::check(
            json!({
                "fast": limited(&fast),
                "slow": limited(&slow),
                "slow_timed_out_before_the_limit": slow_after < Duration::from_millis(20),
                "slow_cleanup_ran": dropped.load(Ordering::SeqCst),
                "zero_limit": limited(&zero),
            }),
            json!({
                "fast": { "value": 7 },
                "slow": "timed_out",
                "slow_timed_out_before_the_limit": false,
                "slow_cleanup_ran": true,
                "zero_limit": "timed_out",
            }),
        )
        .measure("slow_timed_out_after", ms1(slow_after), "ms")
    })
}

scenario! {
    /// C3: wait with a timeout returns (done, pending) and does not cancel pending.
    WaitDonePending = "cancel.wait_done_pending", "cancel", "C3",
    "wait([5 ms, 200 ms], timeout 60 ms) -> done {0}, pending {1}; pending still completes",
    timing: false, kills: ["timers_insertion_order"], run: wait_done_pending
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
        let done: Vec<_> = w.done.iter().map(|(i, r)| json!([i, outcome(r)])).collect();
        let pending_idx: Vec<_> = w.pending.iter().map(|(i, _)| *i).collect();
        let mut later = Vec::new();
        for (_, t) in w.pending {
            later.push(join_outcome(t).await);
        }
        Observation::check(
            json!({ "done": done, "pending": pending_idx, "pending_later": later }),
            json!({ "done": [[0, { "value": 5 }]], "pending": [1], "pending_later": [{ "value": 200 }] }),
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
    timing: false, kills: ["outcome_overwritten"], run: gather_order
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
        let got: Vec<_> = gather(&h, futs).await.iter().map(outcome).collect();
        Observation::check(
            json!({ "results": got }),
            json!({ "results": [{ "value": 30 }, { "value": 10 }, { "value": 20 }] }),
        )
    })
}

scenario! {
    /// C5: as_completed yields in completion order.
    AsCompletedOrder = "cancel.as_completed_order", "cancel", "C5",
    "as_completed of jobs finishing after 60, 20, 40 ms yields 20, 40, 60",
    timing: false, kills: ["timers_insertion_order"], run: as_completed_order
}

fn as_completed_order<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let stream = as_completed(sleepers(&h, &[60, 20, 40]));
        let got: Vec<_> = stream.map(|r| outcome(&r)).collect().await;
        Observation::check(
            json!({ "order": got }),
            json!({ "order": [{ "value": 20 }, { "value": 40 }, { "value": 60 }] }),
        )
    })
}

scenario! {
    /// C1/C6: cancelling a task blocked on a socket read stops it and drops its socket.
    CancelWhileReading = "cancel.cancel_while_reading", "cancel", "C1",
    "cancel() of a task waiting to read a silent socket: it reports Cancelled and its socket is closed (the peer reads EOF)",
    timing: false, kills: ["cancel_ignored"], run: cancel_while_reading
}

fn cancel_while_reading<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    use futures::AsyncReadExt;
    use harness::Listener;
    on_runtime::<R, _, _>(|h| async move {
        let Ok(std_listener) = harness::net::bind_listener("127.0.0.1:0".parse().expect("addr"))
        else {
            return Observation::deviates("bind failed", "no I/O error");
        };
        let Ok(addr) = std_listener.local_addr() else {
            return Observation::deviates("no local address", "no I/O error");
        };
        let Ok(mut listener) = h.adopt_listener(std_listener) else {
            return Observation::deviates("adopt failed", "no I/O error");
        };
        let reading = Arc::new(AtomicBool::new(false));
        let r = reading.clone();
        let server = h.spawn(async move {
            let (mut s, _) = listener.accept().await.map_err(|e| e.to_string())?;
            r.store(true, Ordering::SeqCst);
            let mut buf = [0u8; 16];
            s.read(&mut buf).await.map_err(|e| e.to_string())
        });
        let Some(Ok(mut client)) =
            crate::support::within(&h, Duration::from_secs(3), h.connect(addr)).await
        else {
            return Observation::deviates("connect failed", "a connection");
        };
        let r = reading.clone();
        eventually(&h, Duration::from_secs(2), || r.load(Ordering::SeqCst)).await;
        yields(&h, 5).await;
        let joined = join_outcome(server.cancel()).await;
        let mut buf = [0u8; 1];
        let peer =
            match crate::support::within(&h, Duration::from_secs(2), client.read(&mut buf)).await {
                Some(Ok(0)) => json!("end-of-stream"),
                Some(Ok(n)) => json!({ "bytes": n }),
                Some(Err(e)) => json!({ "error": e.kind().to_string() }),
                None => json!("nothing within 2 s"),
            };
        Observation::check(
            json!({ "joined": joined, "peer_reads": peer }),
            json!({ "joined": "cancelled", "peer_reads": "end-of-stream" }),
        )
    })
}
