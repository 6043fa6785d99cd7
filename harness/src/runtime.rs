//! The [`Runtime`] trait (the owner) and the [`RuntimeHandle`] trait (the cheap handle).
//!
//! Protocol: the harness builds a runtime with [`Runtime::build`], takes a handle with
//! [`Runtime::handle`], and runs the top-level future with [`Runtime::block_on`]. Inside that
//! future (and from any other thread) everything goes through the handle. Dropping the runtime
//! shuts it down: what happens to tasks still pending then is the runtime's own behaviour.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::Stream as TickStream;

use crate::info::{RuntimeConfig, RuntimeInfo};
use crate::net::{Listener, Stream};
use crate::task::TaskHandle;

/// Something the harness trait offers that a runtime may be unable to do natively. A runtime
/// that lacks one says why ([`Runtime::missing`]); scenarios that need it then report
/// `unsupported` with that reason instead of running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// [`crate::TaskHandle::cancel`] cancels a task.
    TaskAbort,
    /// A panic in a spawned task is caught by the runtime, which carries on, and surfaces at
    /// its join handle: as [`crate::JoinError::Panicked`] (tokio, evloop, compio) or re-raised
    /// in whoever awaits the handle (smol, async-std).
    TaskPanicJoin,
    /// A panic in `spawn_blocking` work is reported by its join handle.
    BlockingPanicJoin,
}

/// An async runtime, as owned by the harness.
pub trait Runtime: Sized + 'static {
    /// The handle type that scenarios and other threads use.
    type Handle: RuntimeHandle;

    /// The id users select this runtime with (`tokio-ct`, `evloop`, ...).
    const ID: &'static str;

    /// Builds the runtime. Errors are the runtime's own (threads, epoll, eventfd).
    fn build(config: &RuntimeConfig) -> io::Result<Self>;

    /// Describes this runtime as built.
    fn info(&self) -> RuntimeInfo;

    /// A handle onto this runtime; cheap to clone, usable from any thread.
    fn handle(&self) -> Self::Handle;

    /// Runs `fut` to completion on this runtime, blocking the calling thread, and returns its
    /// output (asyncio's `run_until_complete`). Spawned tasks keep running while it blocks.
    fn block_on<F: Future>(&self, fut: F) -> F::Output;

    /// What debug mode has reported so far (asyncio's slow-callback and never-polled-task
    /// warnings, rule L7), one line each; `None` when the runtime has no debug mode.
    fn debug_reports(&self) -> Option<Vec<String>> {
        None
    }

    /// Why this runtime cannot offer `capability`, or `None` when it can (the default).
    fn missing(capability: Capability) -> Option<&'static str> {
        let _ = capability;
        None
    }
}

/// A time limit passed before the future completed (see [`RuntimeHandle::timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("time limit passed")
    }
}

impl std::error::Error for TimedOut {}

/// A cheap, cloneable, `Send + Sync` handle onto a running runtime.
///
/// Methods that return futures must be awaited inside the runtime (within `block_on` or a
/// spawned task); `spawn`, `spawn_blocking` and `call_soon_threadsafe` work from any thread,
/// which is asyncio's `call_soon_threadsafe` way in.
pub trait RuntimeHandle: Clone + Send + Sync + 'static {
    /// Join handle for spawned tasks.
    type JoinHandle<T: Send + 'static>: TaskHandle<T>;
    /// Future returned by `sleep` and `sleep_until`.
    type Sleep: Future<Output = ()> + Send + 'static;
    /// A TCP listener adopted by this runtime.
    type Listener: Listener<Stream = Self::Stream>;
    /// A TCP connection driven by this runtime.
    type Stream: Stream;

    /// Spawns a task. It starts on a later scheduler turn or on another worker; whether
    /// dropping the handle cancels it is the runtime's native behaviour.
    fn spawn<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Runs blocking work on the runtime's thread pool; the handle yields its value.
    fn spawn_blocking<F, T>(&self, f: F) -> Self::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;

    /// Runs `f` on the runtime soon, from any thread, waking the runtime if it is idle
    /// (asyncio's `call_soon_threadsafe`). The default spawns a detached task.
    fn call_soon_threadsafe<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.spawn(async move { f() }).detach();
    }

    /// Completes no earlier than `duration` from now.
    fn sleep(&self, duration: Duration) -> Self::Sleep;

    /// Completes no earlier than `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// The runtime's clock (monotonic; `std::time::Instant` for every runtime here).
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Gives other ready tasks a turn, then resumes.
    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static;

    /// Runs `fut` with a time limit (asyncio `wait_for`): its output, or [`TimedOut`] once
    /// `limit` has passed, dropping `fut` (so its destructors run). A zero or past limit still
    /// polls `fut` once.
    ///
    /// Runtimes with a native time limit override this (tokio `time::timeout`, async-std
    /// `future::timeout`, smol's documented `future::or` race with a `Timer`). The default is
    /// that race on this handle's own `sleep` and `now`: `fut` is polled first, then the
    /// deadline is checked, then the sleep.
    fn timeout<F>(
        &self,
        limit: Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, TimedOut>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        let deadline = self.now().checked_add(limit);
        let sleep = self.sleep(limit);
        let clock = self.clone();
        async move {
            let mut fut = pin!(fut);
            let mut sleep = pin!(sleep);
            std::future::poll_fn(|cx| {
                if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                    return Poll::Ready(Ok(v));
                }
                if deadline.is_some_and(|d| clock.now() >= d) {
                    return Poll::Ready(Err(TimedOut));
                }
                sleep.as_mut().poll(cx).map(|()| Err(TimedOut))
            })
            .await
        }
    }

    /// A periodic timer: yields `()` about every `period`. What it does after the consumer
    /// stalled (burst of catch-up ticks, skip, delay) is the runtime's native behaviour:
    /// runtimes with a native interval override this (tokio `time::interval`, async-std
    /// `stream::interval`, smol `Timer::interval`). The default is asyncio's idiom, a loop of
    /// `sleep(period)`: the first tick one period after the call, each next one a period after
    /// the previous tick was taken (no catch-up burst).
    fn interval(&self, period: Duration) -> impl TickStream<Item = ()> + Send + 'static {
        futures::stream::unfold(self.clone(), move |h| async move {
            h.sleep(period).await;
            Some(((), h))
        })
    }

    /// Adopts a listener the harness built (see [`crate::net::bind_listener`]) so that
    /// backlog and socket options are identical for every runtime.
    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<Self::Listener>;

    /// Connects to `addr`; fails with an error (never hangs) when nothing listens.
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static;

    /// Shuts down the write side of `stream` with the runtime's own half-close: the peer
    /// reads end-of-stream, and this side can still read. The default is `futures-io`'s
    /// `close`, which is a write shutdown on tokio's, evloop's, compio's and monoio's
    /// streams; async-io's `close` only flushes, so smol and async-std call their socket's
    /// `shutdown(Write)`.
    fn shutdown_write<'a>(
        &self,
        stream: &'a mut Self::Stream,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures::AsyncWriteExt::close(stream)
    }
}
