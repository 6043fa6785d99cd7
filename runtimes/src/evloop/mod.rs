//! evloop: our own event loop, written from scratch — a single-threaded, asyncio-style loop
//! on epoll or io_uring, small enough to read in an afternoon.
//!
//! # Layers (bottom up; a module uses only modules below it, checked by `tests/layers.rs`)
//! ```text
//!  run, event_loop        runs (run_until_complete, run_forever) and the asyncio API
//!  sleep, net, net_uring, handle
//!                         what tasks use: sleeps, sockets of each driver, the handle
//!  context                which loop runs on this thread (the thread-local) + the wake path
//!  scheduler              the iteration over the ready queue, tasks, timers and the driver
//!  task, timer, shared    tasks (queued through `task::Schedule`), the timer queue, the
//!                         cross-thread side (message queue, eventfd, pool)
//!  driver, reactor, uring the driver boundary, then epoll and io_uring: leaves that wake
//!                         waiters with none of their state borrowed
//!  sys, sys_uring, slab, mutants, debug, blocking
//!                         the kernel (rustix; io_uring, the only `unsafe`) and small parts
//! ```
//! - `sys`: every system call of the epoll driver and the sockets, via rustix; no `unsafe`.
//!   `sys_uring`: io_uring behind a safe interface (feature `evloop-uring`).
//! - `slab`: generational tables, so stale wakers and events miss instead of misfiring.
//! - `driver`: what the scheduler needs of an I/O driver (`Driver`: one `wait` per
//!   iteration that polls I/O). `reactor`: epoll, **edge-triggered**: each socket is
//!   registered once for both directions and never modified; the loop remembers readiness
//!   itself. `uring`: io_uring, one `submit_and_wait` per iteration, multishot accept,
//!   multishot receive into a provided buffer ring, sends batched per iteration.
//! - `timer`: a binary heap with lazy deletion. Precision: the epoll driver arms a
//!   **timerfd** (nanoseconds, `CLOCK_MONOTONIC` = `Instant`) for the earliest deadline,
//!   the io_uring driver an io_uring timeout, each only when that deadline moves earlier.
//!   A timer fires only once `Instant::now() >= deadline`.
//! - `task`: a spawned future lives in a slot on the loop; one `Arc` is both its join state
//!   and its waker, and reaches the loop only through the `Schedule` it was given. Dropping
//!   a [`JoinHandle`] detaches (asyncio semantics).
//! - `scheduler`: the iteration — wait for I/O, take cross-thread messages, expire timers,
//!   run the batch of ready items in FIFO order. `run`: the runs made of iterations.
//! - `context`: the current loop, for wakers, sockets and timers; `handle`: the thread-safe
//!   side ([`EvloopHandle`]); `shared`: what other threads touch; `blocking`: the
//!   `spawn_blocking` pool; `event_loop`: asyncio's API ([`EventLoop`]); `debug`: debug mode.
//! - `mutants`: deliberate faults, one hook each where they strike, compiled in only with
//!   the `mutants` feature ([`EvloopMutant`]); in the default build every hook is a
//!   `const false` and folds away. The scheduler, timer and task faults live in shared code,
//!   so they strike on both drivers (`evloop-uring-mutant`); of the I/O faults,
//!   `events_truncated` is epoll's only (it drops epoll events; io_uring has none), the
//!   others have a hook in each driver's sockets.
//!
//! # Two drivers, one loop
//! [`Evloop`] (`evloop`) and [`EvloopUring`] (`evloop-uring`) share everything above the
//! driver: scheduler, tasks, timers, handle, asyncio API. They differ in the socket types
//! their handles hand out ([`EvStream`] or [`UringStream`]) and in the driver the
//! scheduler waits on. Where io_uring cannot be used, building an `EvloopUring` fails with
//! one `Unsupported` error that says why.
//!
//! # Wake paths
//! On the loop thread a waker finds the loop through `context`'s thread-local and pushes the
//! task's key on the ready queue: no lock, no atomic read-modify-write, no allocation. From
//! another thread it pushes a message on a mutex-protected queue and writes the loop's
//! eventfd (once per batch of messages), which wakes the driver's wait.
//!
//! # Invariants
//! - One thread runs a loop at a time; tasks, timers and sockets are touched only there.
//! - Nothing the loop calls (a task poll, a callback, a waker) runs while another is running
//!   or while a driver's state is borrowed.
//! - A spawned task first runs on a later iteration than the one that spawned it.
//! - A panic in a task or callback is caught around it; the loop survives (asyncio F2).
//! - Only `sys` and `sys_uring` talk to the kernel; only `sys_uring` has `unsafe`.

mod blocking;
mod context;
mod debug;
mod driver;
mod event_loop;
mod handle;
pub(crate) mod mutants;
mod net;
#[cfg(feature = "evloop-uring")]
mod net_uring;
mod reactor;
mod run;
mod scheduler;
mod shared;
mod slab;
mod sleep;
mod sys;
// The only module of the workspace with `unsafe` (io_uring submission and its memory).
#[cfg(feature = "evloop-uring")]
#[allow(unsafe_code)]
pub mod sys_uring;
mod task;
mod timer;
#[cfg(feature = "evloop-uring")]
mod uring;

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
#[cfg(feature = "evloop-uring")]
pub use handle::IoUring;
pub use handle::{Epoll, EvloopHandle, NetDriver};
pub use net::{EvListener, EvStream};
#[cfg(feature = "evloop-uring")]
pub use net_uring::{UringListener, UringStream};
pub use sleep::Sleep;
pub use task::{JoinHandle, YieldNow};

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

    /// Creates the loop on epoll (epoll, eventfd, timerfd).
    pub fn build(self) -> io::Result<Evloop> {
        self.build_with(|shared| {
            Ok(scheduler::Io::Epoll(reactor::Reactor::new(
                &shared.notifier,
            )?))
        })
    }

    /// Creates the loop on io_uring (a ring with its provided buffers, an eventfd). Where
    /// io_uring cannot be used the error is [`io::ErrorKind::Unsupported`], saying why.
    #[cfg(feature = "evloop-uring")]
    pub fn build_io_uring(self) -> io::Result<EvloopUring> {
        let inner = self.build_with(|shared| {
            Ok(scheduler::Io::Uring(uring::UringDriver::new(
                &shared.notifier,
            )?))
        })?;
        Ok(EvloopUring { inner })
    }

    fn build_with(
        self,
        driver: impl FnOnce(&shared::Shared) -> io::Result<scheduler::Io>,
    ) -> io::Result<Evloop> {
        let shared = Arc::new(shared::Shared::new(self.blocking_threads)?);
        let io = driver(&shared)?;
        let core = Rc::new(scheduler::Core::new(shared, io, self.debug));
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

/// evloop on io_uring: the same loop as [`Evloop`] (scheduler, timers, tasks, asyncio API)
/// over the io_uring driver; its handle hands out [`UringStream`]s. Dropping it drops every
/// pending task, then the ring (which reaps every operation before its buffers are freed).
#[cfg(feature = "evloop-uring")]
pub struct EvloopUring {
    /// The loop, built with the io_uring driver.
    inner: Evloop,
}

#[cfg(feature = "evloop-uring")]
impl EvloopUring {
    /// A builder with the defaults; finish it with [`EvloopBuilder::build_io_uring`].
    pub fn builder() -> EvloopBuilder {
        EvloopBuilder::default()
    }

    /// The loop-thread API; clone it into callbacks.
    pub fn event_loop(&self) -> &EventLoop {
        &self.inner.event_loop
    }

    /// Runs until `fut` completes (asyncio `run_until_complete`).
    pub fn run_until_complete<F: Future>(&self, fut: F) -> F::Output {
        self.inner.run_until_complete(fut)
    }
}

/// The parts of `Runtime::info` both drivers share.
fn info_of(ev: &Evloop, id: &str, flavour: &str, driver_note: String) -> RuntimeInfo {
    let core = &ev.event_loop.core;
    let mut notes = vec![
        "dropping a JoinHandle detaches the task".into(),
        driver_note,
        format!("blocking pool: {} threads", core.shared.pool.max_threads()),
    ];
    if ev.debug.enabled {
        notes.push(format!(
            "debug mode, slow threshold {:?}",
            ev.debug.slow_threshold
        ));
    }
    if cfg!(feature = "evloop-canary") {
        notes.push("canary build: extra work per task poll".into());
    }
    RuntimeInfo {
        id: id.into(),
        flavour: flavour.into(),
        worker_threads: 1,
        crate_name: "evloop".into(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        notes,
    }
}

/// The builder a harness configuration asks for.
fn builder_for(config: &RuntimeConfig) -> EvloopBuilder {
    let threads = config.blocking_threads.unwrap_or(DEFAULT_BLOCKING_THREADS);
    let mut builder = Evloop::builder().blocking_threads(threads);
    if let Some(threshold) = config.debug_slow_threshold {
        builder = builder.debug(true).slow_threshold(threshold);
    }
    builder
}

/// Debug reports as the harness wants them.
fn debug_lines(ev: &Evloop) -> Option<Vec<String>> {
    ev.debug.enabled.then(|| {
        Evloop::debug_reports(ev)
            .iter()
            .map(ToString::to_string)
            .collect()
    })
}

impl Runtime for Evloop {
    type Handle = EvloopHandle;
    const ID: &'static str = "evloop";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        builder_for(config).build()
    }

    fn debug_reports(&self) -> Option<Vec<String>> {
        debug_lines(self)
    }

    fn info(&self) -> RuntimeInfo {
        let note = "epoll edge-triggered; timers via timerfd (sub-millisecond)".into();
        info_of(self, Self::ID, "single-threaded event loop", note)
    }

    fn handle(&self) -> EvloopHandle {
        self.event_loop.handle()
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.event_loop.run_until_complete(fut)
    }
}

#[cfg(feature = "evloop-uring")]
impl Runtime for EvloopUring {
    type Handle = EvloopHandle<IoUring>;
    const ID: &'static str = "evloop-uring";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        builder_for(config).build_io_uring()
    }

    fn debug_reports(&self) -> Option<Vec<String>> {
        debug_lines(&self.inner)
    }

    fn info(&self) -> RuntimeInfo {
        let note = format!(
            "io_uring: one submit_and_wait per iteration, multishot accept and receive into \
             {} B provided buffers ({} at start, up to {}), sends batched per iteration; \
             timers via io_uring timeouts",
            uring::BUFFER_SIZE,
            uring::FIRST_BUFFERS,
            uring::MAX_BUFFERS
        );
        info_of(
            &self.inner,
            Self::ID,
            "single-threaded event loop on io_uring",
            note,
        )
    }

    fn handle(&self) -> EvloopHandle<IoUring> {
        EvloopHandle::new(self.inner.event_loop.core.shared.clone())
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.inner.event_loop.run_until_complete(fut)
    }
}

/// An evloop with one deliberate fault, named by the environment variable
/// `EVLOOP_MUTANT` when it is built (`EVLOOP_MUTANT=lifo_ready_queue`). It exists only
/// in builds with the `mutants` feature, and is never part of `--runtime all`: the
/// conformance runner uses it to prove that each scenario can fail. `R` is the loop it
/// breaks: [`Evloop`] (`evloop-mutant`) or [`EvloopUring`] (`evloop-uring-mutant`).
#[cfg(feature = "mutants")]
pub struct EvloopMutant<R = Evloop> {
    /// The broken loop.
    inner: R,
    /// Its fault.
    fault: &'static mutants::MutantInfo,
}

/// `Runtime` for a mutant of runtime `$loop`, under id `$id`.
#[cfg(feature = "mutants")]
macro_rules! mutant_runtime {
    ($loop:ty, $id:literal) => {
        impl Runtime for EvloopMutant<$loop> {
            type Handle = <$loop as Runtime>::Handle;
            const ID: &'static str = $id;

            fn build(config: &RuntimeConfig) -> io::Result<Self> {
                let fault = mutants::choose_from_env()?;
                Ok(Self {
                    inner: <$loop as Runtime>::build(config)?,
                    fault,
                })
            }

            fn debug_reports(&self) -> Option<Vec<String>> {
                Runtime::debug_reports(&self.inner)
            }

            fn info(&self) -> RuntimeInfo {
                let mut info = self.inner.info();
                info.id = Self::ID.into();
                info.flavour = format!("{} with fault {}", <$loop as Runtime>::ID, self.fault.name);
                info.notes
                    .push(format!("mutant: {}", self.fault.description));
                info
            }

            fn handle(&self) -> Self::Handle {
                self.inner.handle()
            }

            fn block_on<F: Future>(&self, fut: F) -> F::Output {
                self.inner.block_on(fut)
            }
        }
    };
}

#[cfg(feature = "mutants")]
mutant_runtime!(Evloop, "evloop-mutant");
#[cfg(all(feature = "mutants", feature = "evloop-uring"))]
mutant_runtime!(EvloopUring, "evloop-uring-mutant");
