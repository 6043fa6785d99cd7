//! Wake-ups through channels: two tasks passing a message back and forth, and a thread
//! outside the runtime waking a task parked on it. The channels are `async-channel`'s,
//! which work the same on every runtime.

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeHandle};

use super::{helper_thread, on_runtime, task_failed, Workload, WorkloadDef};

/// Two tasks on the runtime bounce a counter through two one-slot channels.
pub struct PingPong;

impl Workload for PingPong {
    const DEF: WorkloadDef = WorkloadDef {
        name: "ping_pong",
        description: "two tasks pass a message back and forth through one-slot channels",
        iteration: "one round trip (ping and pong)",
        deterministic: true,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
            let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
            let ponger = handle.spawn(async move {
                let mut answered = 0;
                while let Ok(i) = ping_rx.recv().await {
                    if pong_tx.send(i).await.is_err() {
                        break;
                    }
                    answered += 1;
                }
                answered
            });
            let pinger = handle.spawn(async move {
                let start = Instant::now();
                for i in 0..iters {
                    ping_tx.send(i).await.expect("ponger alive");
                    assert_eq!(pong_rx.recv().await.ok(), Some(i), "pong lost");
                }
                start.elapsed()
            });
            let elapsed = pinger.await.map_err(task_failed)?;
            assert_eq!(ponger.await.map_err(task_failed)?, iters, "pings lost");
            Ok(elapsed)
        })
    }
}

/// A thread outside the runtime sends to a task parked on a channel and waits for the echo.
pub struct CrossThreadWake;

impl Workload for CrossThreadWake {
    const DEF: WorkloadDef = WorkloadDef {
        name: "cross_thread_wake",
        description: "another thread wakes a task parked on the runtime and waits for its answer",
        iteration: "one wake from the thread and one answer back",
        deterministic: false,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        let (go, wait_for_go) = mpsc::channel::<()>();
        let (to_task, from_thread) = async_channel::bounded::<u64>(1);
        let (to_thread, from_task) = async_channel::bounded::<u64>(1);
        let waker = helper_thread("waker", move || {
            if wait_for_go.recv().is_err() {
                return 0;
            }
            for i in 0..iters {
                if to_task.send_blocking(i).is_err() {
                    return i;
                }
                assert_eq!(from_task.recv_blocking().ok(), Some(i), "answer lost");
            }
            iters
        })?;
        let elapsed = on_runtime(rt, async move {
            let answering = handle.spawn(async move {
                let mut answered = 0;
                while let Ok(i) = from_thread.recv().await {
                    if to_thread.send(i).await.is_err() {
                        break;
                    }
                    answered += 1;
                }
                answered
            });
            let start = Instant::now();
            go.send(())
                .map_err(|_| io::Error::other("the waker thread is gone"))?;
            let answered = answering.await.map_err(task_failed)?;
            let elapsed = start.elapsed();
            assert_eq!(answered, iters, "wake-ups lost");
            Ok(elapsed)
        });
        let sent = waker
            .join()
            .map_err(|_| io::Error::other("the waker thread panicked"))?;
        let elapsed = elapsed?;
        assert_eq!(sent, iters, "the task stopped answering");
        Ok(elapsed)
    }
}
