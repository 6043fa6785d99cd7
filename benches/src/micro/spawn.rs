//! Spawning: many tasks from inside the runtime, many from another thread, and a chain in
//! which each task spawns the next (tokio's `spawn_many_local`, `spawn_many_remote_idle`
//! and `chained_spawn`).

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeHandle, TaskHandle};

use super::{batches, helper_thread, on_runtime, task_failed, JoinOf, Workload, WorkloadDef};

/// Tasks spawned before any is awaited.
const BATCH: u64 = 1000;

/// Spawns tasks from a task on the runtime, in batches of [`BATCH`], and awaits each batch.
pub struct SpawnMany;

impl Workload for SpawnMany {
    const DEF: WorkloadDef = WorkloadDef {
        name: "spawn_many",
        description: "spawn tasks from inside the runtime in batches of 1000, then await them",
        iteration: "one task spawned and awaited",
        deterministic: true,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let start = Instant::now();
            let mut joins = Vec::with_capacity(BATCH.min(iters) as usize);
            for batch in batches(iters, BATCH) {
                joins.extend((0..batch).map(|i| handle.spawn(async move { i })));
                for (i, join) in (0..).zip(joins.drain(..)) {
                    assert_eq!(
                        join.await.map_err(task_failed)?,
                        i,
                        "task returned another value"
                    );
                }
            }
            Ok(start.elapsed())
        })
    }
}

/// Spawns tasks through the handle from a thread outside the runtime, in batches of
/// [`BATCH`] handed to a task on the runtime that awaits them.
pub struct SpawnManyRemote;

impl Workload for SpawnManyRemote {
    const DEF: WorkloadDef = WorkloadDef {
        name: "spawn_many_remote",
        description:
            "spawn tasks through the handle from another thread, await them on the runtime",
        iteration: "one task spawned remotely and awaited",
        deterministic: false,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        let (go, wait_for_go) = mpsc::channel::<()>();
        let (batch_tx, batch_rx) = async_channel::bounded::<Vec<JoinOf<R::Handle, u64>>>(2);
        let spawner = helper_thread("remote-spawner", move || {
            if wait_for_go.recv().is_err() {
                return;
            }
            for batch in batches(iters, BATCH) {
                let joins = (0..batch).map(|i| handle.spawn(async move { i })).collect();
                if batch_tx.send_blocking(joins).is_err() {
                    return;
                }
            }
        })?;
        let elapsed = on_runtime(rt, async move {
            let start = Instant::now();
            go.send(())
                .map_err(|_| io::Error::other("the spawner thread is gone"))?;
            let mut awaited = 0;
            while let Ok(joins) = batch_rx.recv().await {
                for (i, join) in (0..).zip(joins) {
                    assert_eq!(
                        join.await.map_err(task_failed)?,
                        i,
                        "task returned another value"
                    );
                    awaited += 1;
                }
            }
            assert_eq!(awaited, iters, "remotely spawned tasks lost");
            Ok(start.elapsed())
        });
        spawner
            .join()
            .map_err(|_| io::Error::other("the spawner thread panicked"))?;
        elapsed
    }
}

/// Each task spawns the next; the last one reports back.
pub struct ChainedSpawn;

impl Workload for ChainedSpawn {
    const DEF: WorkloadDef = WorkloadDef {
        name: "chained_spawn",
        description: "a chain of tasks in which each spawns the next and the last reports back",
        iteration: "one link of the chain (a task spawned by a task)",
        deterministic: true,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let (done_tx, done_rx) = async_channel::bounded(1);
            let start = Instant::now();
            spawn_link(handle, iters, done_tx);
            let links = done_rx
                .recv()
                .await
                .map_err(|_| io::Error::other("the chain of tasks was dropped"))?;
            assert_eq!(links, iters, "chain cut short");
            Ok(start.elapsed())
        })
    }
}

/// Spawns the task that continues the chain with `left` links to go; the last link sends
/// the number of links made.
fn spawn_link<H: RuntimeHandle>(handle: H, left: u64, done: async_channel::Sender<u64>) {
    fn link<H: RuntimeHandle>(handle: H, left: u64, made: u64, done: async_channel::Sender<u64>) {
        if left == 0 {
            let _ = done.try_send(made);
            return;
        }
        let next = handle.clone();
        handle
            .spawn(async move { link(next, left - 1, made + 1, done) })
            .detach();
    }
    link(handle, left, 0, done);
}
