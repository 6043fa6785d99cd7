//! evloop: our own event loop, written from scratch — a single-threaded, asyncio-style loop
//! on epoll, small enough to read in an afternoon.
//!
//! # How it works (bottom up)
//! - `sys`: every system call (epoll, eventfd, timerfd, sockets), via rustix; no `unsafe`.
//! - `slab`: generational tables, so stale wakers and events miss instead of misfiring.
//! - `reactor`: epoll, **edge-triggered**: each socket is registered once for both
//!   directions and never modified; the loop remembers readiness itself. Level-triggered
//!   would need an `epoll_ctl` per blocked write to stop reporting writable sockets.
//! - `timer`: a binary heap with lazy deletion. Precision: `epoll_wait` only takes
//!   milliseconds, so the reactor arms a **timerfd** (nanoseconds, `CLOCK_MONOTONIC` =
//!   `Instant`) for the earliest deadline, only when that deadline moves earlier, and waits
//!   on epoll with no timeout. A timer fires only once `Instant::now() >= deadline`.
//! - `task`: a spawned future lives in a slot on the loop; one `Arc` is both its join state
//!   and its waker. Dropping a [`JoinHandle`] detaches (asyncio semantics).
//! - `scheduler`: the iteration — wait for I/O, take cross-thread messages, expire timers,
//!   run the batch of ready items in FIFO order; `driver`: the runs made of iterations.
//! - `handle`: the thread-safe side ([`EvloopHandle`]); `blocking`: the `spawn_blocking`
//!   pool; `net`: TCP; `event_loop`: asyncio's API ([`EventLoop`]); `debug`: debug mode.
//! - `mutants`: deliberate faults, one hook each where they strike, compiled in only with
//!   the `mutants` feature ([`EvloopMutant`]); in the default build every hook is a
//!   `const false` and folds away.
//!
//! # Wake paths
//! On the loop thread a waker finds the loop through a thread-local and pushes the task's
//! key on the ready queue: no lock, no atomic read-modify-write, no allocation. From another
//! thread it pushes a message on a mutex-protected queue and writes the loop's eventfd (once
//! per batch of messages), which wakes `epoll_wait`.
//!
//! # Invariants
//! - One thread runs a loop at a time; tasks, timers and sockets are touched only there.
//! - Nothing the loop calls (a task poll, a callback) can run while another is running.
//! - A spawned task first runs on a later iteration than the one that spawned it.
//! - A panic in a task or callback is caught around it; the loop survives (asyncio F2).
//! - Only `sys` talks to the kernel.

mod blocking;
mod debug;
mod driver;
mod event_loop;
mod handle;
pub(crate) mod mutants;
mod net;
mod reactor;
mod scheduler;
mod slab;
mod sys;
// The only module of the workspace with `unsafe` (io_uring submission and its memory).
#[cfg(feature = "evloop-uring")]
#[allow(unsafe_code)]
pub mod sys_uring;
mod task;
mod timer;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeConfig, RuntimeInfo};

pub use debug::{DebugConfig, DebugReport, DEFAULT_SLOW_THRESHOLD};
pub use event_loop::{EventLoop, TimerHandle};
pub use handle::EvloopHandle;
pub use net::{EvListener, EvStream};
pub use task::{JoinHandle, YieldNow};
pub use timer::Sleep;

/// Blocking-pool size when the configuration does not set one.
pub const DEFAULT_BLOCKING_THREADS: usize = 64;

/// Our event loop, as the harness owns it. Dropping it drops every pending task (their join
/// handles yield `Cancelled`).
pub struct Evloop {
    /// The loop-thread API.
    event_loop: EventLoop,
    /// Debug settings it was built with.
    debug: DebugConfig,
}

/// Builds an [`Evloop`]: debug mode and pool size.
#[derive(Clone, Debug)]
pub struct EvloopBuilder {
    /// Debug settings (default: from the environment).
    debug: DebugConfig,
    /// Blocking-pool bound.
    blocking_threads: usize,
}

impl Default for EvloopBuilder {
    fn default() -> Self {
        Self {
            debug: DebugConfig::from_env(),
            blocking_threads: DEFAULT_BLOCKING_THREADS,
        }
    }
}

impl EvloopBuilder {
    /// Turns debug mode on or off (overrides `EVLOOP_DEBUG`).
    pub fn debug(mut self, enabled: bool) -> Self {
        self.debug.enabled = enabled;
        self
    }

    /// The "slow callback" threshold of debug mode (overrides `EVLOOP_SLOW_MS`).
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.debug.slow_threshold = threshold;
        self
    }

    /// At most `n` threads run `spawn_blocking` work at once.
    pub fn blocking_threads(mut self, n: usize) -> Self {
        self.blocking_threads = n.max(1);
        self
    }

    /// Creates the loop (epoll, eventfd, timerfd).
    pub fn build(self) -> io::Result<Evloop> {
        let shared = Arc::new(handle::Shared::new(self.blocking_threads)?);
        let core = Rc::new(scheduler::Core::new(shared, self.debug)?);
        Ok(Evloop {
            event_loop: EventLoop { core },
            debug: self.debug,
        })
    }
}

impl Evloop {
    /// A builder with the defaults (debug mode from the environment).
    pub fn builder() -> EvloopBuilder {
        EvloopBuilder::default()
    }

    /// The loop-thread API; clone it into callbacks.
    pub fn event_loop(&self) -> &EventLoop {
        &self.event_loop
    }

    /// What debug mode reported so far.
    pub fn debug_reports(&self) -> Vec<DebugReport> {
        self.event_loop.core.shared.debug.reports()
    }

    /// Runs until `fut` completes (asyncio `run_until_complete`).
    pub fn run_until_complete<F: Future>(&self, fut: F) -> F::Output {
        self.event_loop.run_until_complete(fut)
    }

    /// Runs until `stop` (asyncio `run_forever`).
    pub fn run_forever(&self) {
        self.event_loop.run_forever();
    }

    /// See [`EventLoop::stop`].
    pub fn stop(&self) {
        self.event_loop.stop();
    }

    /// See [`EventLoop::call_soon`].
    pub fn call_soon(&self, f: impl FnOnce() + 'static) {
        self.event_loop.call_soon(f);
    }

    /// See [`EventLoop::call_later`].
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> TimerHandle {
        self.event_loop.call_later(delay, f)
    }

    /// See [`EventLoop::call_at`].
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> TimerHandle {
        self.event_loop.call_at(when, f)
    }

    /// See [`EventLoop::time`].
    pub fn time(&self) -> Instant {
        self.event_loop.time()
    }

    /// See [`EventLoop::call_soon_threadsafe`].
    pub fn call_soon_threadsafe(&self, f: impl FnOnce() + Send + 'static) {
        self.event_loop.call_soon_threadsafe(f);
    }
}

impl Drop for Evloop {
    fn drop(&mut self) {
        self.event_loop.core.shutdown();
    }
}

/// An evloop with one deliberate fault, named by the environment variable
/// `EVLOOP_MUTANT` when it is built (`EVLOOP_MUTANT=lifo_ready_queue`). It exists only
/// in builds with the `mutants` feature, and is never part of `--runtime all`: the
/// conformance runner uses it to prove that each scenario can fail.
#[cfg(feature = "mutants")]
pub struct EvloopMutant {
    /// The broken loop.
    inner: Evloop,
    /// Its fault.
    fault: &'static mutants::MutantInfo,
}

#[cfg(feature = "mutants")]
impl Runtime for EvloopMutant {
    type Handle = EvloopHandle;
    const ID: &'static str = "evloop-mutant";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        let fault = mutants::choose_from_env()?;
        Ok(Self {
            inner: <Evloop as Runtime>::build(config)?,
            fault,
        })
    }

    fn debug_reports(&self) -> Option<Vec<String>> {
        Runtime::debug_reports(&self.inner)
    }

    fn info(&self) -> RuntimeInfo {
        let mut info = self.inner.info();
        info.id = Self::ID.into();
        info.flavour = format!("evloop with fault {}", self.fault.name);
        info.notes
            .push(format!("mutant: {}", self.fault.description));
        info
    }

    fn handle(&self) -> EvloopHandle {
        self.inner.handle()
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.inner.block_on(fut)
    }
}

impl Runtime for Evloop {
    type Handle = EvloopHandle;
    const ID: &'static str = "evloop";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        let threads = config.blocking_threads.unwrap_or(DEFAULT_BLOCKING_THREADS);
        let mut builder = Evloop::builder().blocking_threads(threads);
        if let Some(threshold) = config.debug_slow_threshold {
            builder = builder.debug(true).slow_threshold(threshold);
        }
        builder.build()
    }

    fn debug_reports(&self) -> Option<Vec<String>> {
        self.debug.enabled.then(|| {
            Evloop::debug_reports(self)
                .iter()
                .map(ToString::to_string)
                .collect()
        })
    }

    fn info(&self) -> RuntimeInfo {
        let core = &self.event_loop.core;
        let mut notes = vec![
            "dropping a JoinHandle detaches the task".into(),
            "epoll edge-triggered; timers via timerfd (sub-millisecond)".into(),
            format!("blocking pool: {} threads", core.shared.pool.max_threads()),
        ];
        if self.debug.enabled {
            notes.push(format!(
                "debug mode, slow threshold {:?}",
                self.debug.slow_threshold
            ));
        }
        if cfg!(feature = "evloop-canary") {
            notes.push("canary build: extra work per task poll".into());
        }
        RuntimeInfo {
            id: Self::ID.into(),
            flavour: "single-threaded event loop".into(),
            worker_threads: 1,
            crate_name: "evloop".into(),
            crate_version: env!("CARGO_PKG_VERSION").into(),
            notes,
        }
    }

    fn handle(&self) -> EvloopHandle {
        self.event_loop.handle()
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.event_loop.run_until_complete(fut)
    }
}
