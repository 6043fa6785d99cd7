//! The blocking pool: a bounded set of threads running `spawn_blocking` jobs, started on
//! demand and retired after an idle spell.
//!
//! Invariants: at most `max_threads` jobs run at once (asyncio T2); a job's result reaches
//! the loop through its join state, whose waker re-enters the loop by the cross-thread path;
//! after shutdown, queued jobs still run and new ones are refused, and `shutdown` returns
//! once every worker has exited, so dropping the loop waits for the jobs in flight (as
//! `asyncio.run` waits for its default executor, and tokio's runtime drop for its blocking
//! threads).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::mutants::{self, Fault};

/// A unit of blocking work.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// How long an idle worker waits for work before exiting.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The pool, shared by the loop and its handles.
pub(crate) struct BlockingPool {
    /// State shared with the worker threads.
    inner: Arc<PoolInner>,
}

struct PoolInner {
    /// Queue and counters; every field is read and written under this lock.
    state: Mutex<PoolState>,
    /// Signalled when a job is queued or the pool shuts down.
    work: Condvar,
    /// Signalled when a worker exits.
    exited: Condvar,
    /// Upper bound on worker threads.
    max_threads: usize,
}

#[derive(Default)]
struct PoolState {
    /// Jobs not started yet, oldest first.
    queue: VecDeque<Job>,
    /// Live worker threads.
    threads: usize,
    /// Workers waiting for a job.
    idle: usize,
    /// Set when the loop is dropped.
    shutdown: bool,
}

impl BlockingPool {
    /// A pool of at most `max_threads` threads (at least one).
    pub(crate) fn new(max_threads: usize) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                state: Mutex::default(),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads: max_threads.max(1),
            }),
        }
    }

    /// The thread bound.
    pub(crate) fn max_threads(&self) -> usize {
        self.inner.max_threads
    }

    /// Queues `job`, starting a worker if none is idle and the bound allows. Returns the job
    /// back if the pool is shut down.
    pub(crate) fn spawn(&self, job: Job) -> Result<(), Job> {
        let mut state = self.inner.lock();
        if state.shutdown {
            return Err(job);
        }
        state.queue.push_back(job);
        if state.queue.len() <= state.idle {
            // An idle worker (not yet woken by an earlier job) will take it.
            self.inner.work.notify_one();
        } else if state.threads < self.inner.max_threads
            || mutants::active(Fault::BlockingUnbounded)
        {
            state.threads += 1;
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new()
                .name("evloop-blocking".into())
                .spawn(move || inner.work_loop());
            if let Err(e) = spawned {
                state.threads -= 1;
                eprintln!("evloop: cannot start a blocking thread: {e}");
            }
        }
        Ok(())
    }

    /// Refuses new jobs; workers finish the queue, then exit. Returns once they all have.
    pub(crate) fn shutdown(&self) {
        let mut state = self.inner.lock();
        state.shutdown = true;
        self.inner.work.notify_all();
        if mutants::active(Fault::ShutdownAbandonsJobs) {
            return;
        }
        while state.threads > 0 {
            state = self
                .inner
                .exited
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, KEEP_ALIVE)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                break;
            }
        }
        state.threads -= 1;
        self.exited.notify_all();
    }
}
