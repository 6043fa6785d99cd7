//! monoio adapter: monoio's thread-per-core runtime on its io_uring driver (with its timer),
//! on the thread that builds it and calls `block_on`. Native semantics kept: dropping a
//! `JoinHandle` detaches the task; monoio has no task cancellation, so `abort` is a missing
//! capability (cells that need it are `unsupported`, never a stand-in); a panic in a task is
//! not caught by monoio and unwinds out of `block_on`; blocking work runs on monoio's own
//! `DefaultThreadPool` (attached at build: monoio has none by default).
//!
//! Streams use monoio's `poll-io` feature (`TcpStreamPoll`: readiness through io_uring poll,
//! then a nonblocking `recv`/`send` into the caller's buffer), not `monoio-compat`: the
//! compat wrapper keeps an owned buffer in flight across `Pending`, and documents that a
//! caller that changes or drops the buffer before `Ready` gets the old data sent
//! (monoio-compat README, "Important Note"), which a timeout around a write would do here.
//! poll-io has the plain futures-io contract, so bytes stay correct under cancellation.
//!
//! monoio's tasks, timers and sockets are `!Send`; spawning from another thread follows the
//! dispatcher pattern of [`crate::percore`] (monoio's `sync` feature carries the wake-ups).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedReceiver;
use futures::FutureExt;
use harness::{
    Capability, JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo, TaskHandle,
};
use monoio::io::IntoPollIo;
use monoio::task::JoinHandle;

use crate::percore::{self, Bound, Job, JobSender, NativeJoin, OnThread, Slot};

/// The driver: io_uring, with monoio's timer wheel.
type Driver = monoio::time::TimeDriver<monoio::IoUringDriver>;

/// Source of runtime ids, so a spawn can tell whether its thread runs this runtime.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Id of the monoio runtime this thread is inside `block_on` of (0: none).
    static RUNNING: Cell<u64> = const { Cell::new(0) };
}

/// Why `abort` is unsupported (monoio has no API to cancel a task).
const NO_ABORT: &str = "monoio has no task cancellation: its JoinHandle offers no abort and \
                        dropping it detaches (monoio task/join.rs: 'if you drop it directly, \
                        task will not be terminated')";

/// Why a task's panic cannot be reported by its join handle.
const NO_PANIC_JOIN: &str = "monoio does not catch a task's panic: it unwinds out of block_on \
                             and ends the runtime (monoio task/harness.rs polls without \
                             catch_unwind), so no join handle can report it";

/// Why a blocking job's panic cannot be reported by its join handle.
const NO_BLOCKING_PANIC_JOIN: &str =
    "monoio's blocking pool does not catch a job's panic: the worker thread dies \
     with the job's task and its JoinHandle never completes (monoio blocking.rs, \
     threadpool crate)";

/// monoio's runtime, driven by `block_on` on the thread that built it.
pub struct Monoio {
    /// The runtime; `block_on` needs it mutably.
    rt: RefCell<monoio::Runtime<Driver>>,
    /// Where other threads send spawns.
    jobs: JobSender,
    /// The job channel's receiver until the first `block_on` spawns the task draining it
    /// (monoio spawns only inside `block_on`).
    pending_jobs: Cell<Option<UnboundedReceiver<Job>>>,
    /// This runtime's id (see [`RUNNING`]).
    id: u64,
    /// Threads of the blocking pool.
    blocking_threads: usize,
}

impl Runtime for Monoio {
    type Handle = MonoioHandle;
    const ID: &'static str = "monoio";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        let blocking_threads = config
            .blocking_threads
            .unwrap_or_else(harness::info::available_cores)
            .max(1);
        let pool = monoio::blocking::DefaultThreadPool::new(blocking_threads);
        let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .attach_thread_pool(Box::new(pool))
            .build()
            .map_err(|e| io::Error::new(e.kind(), format!("monoio (io_uring driver): {e}")))?;
        let (jobs, rx) = percore::job_channel();
        Ok(Self {
            rt: RefCell::new(rt),
            jobs,
            pending_jobs: Cell::new(Some(rx)),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            blocking_threads,
        })
    }

    fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            id: Self::ID.into(),
            flavour: "thread-per-core, one thread (block_on's), io_uring driver".into(),
            worker_threads: 1,
            crate_name: "monoio".into(),
            crate_version: crate::versions::MONOIO.unwrap_or("unknown").into(),
            notes: vec![
                "dropping a JoinHandle detaches the task; tasks cannot be cancelled".into(),
                "a panic in a task unwinds out of block_on".into(),
                "streams: poll-io (io_uring poll + nonblocking recv/send)".into(),
                format!(
                    "blocking pool: monoio's DefaultThreadPool, {} threads",
                    self.blocking_threads
                ),
            ],
        }
    }

    fn handle(&self) -> MonoioHandle {
        MonoioHandle {
            jobs: self.jobs.clone(),
            id: self.id,
        }
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let jobs = self.pending_jobs.take();
        let mut rt = self
            .rt
            .try_borrow_mut()
            .expect("monoio: block_on called inside block_on");
        let _running = Running::enter(self.id);
        rt.block_on(async move {
            if let Some(rx) = jobs {
                // Dropping monoio's JoinHandle detaches: the task lives as long as the runtime.
                drop(monoio::spawn(percore::drain_jobs(rx)));
            }
            fut.await
        })
    }

    fn missing(capability: Capability) -> Option<&'static str> {
        match capability {
            Capability::TaskAbort => Some(NO_ABORT),
            Capability::TaskPanicJoin => Some(NO_PANIC_JOIN),
            Capability::BlockingPanicJoin => Some(NO_BLOCKING_PANIC_JOIN),
        }
    }
}

/// Marks the current thread as inside `block_on` of one runtime; restores on drop (also
/// when a task's panic unwinds out of `block_on`).
struct Running(u64);

impl Running {
    fn enter(id: u64) -> Self {
        Self(RUNNING.with(|r| r.replace(id)))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(self.0));
    }
}

/// Spawns onto one monoio runtime from any thread.
#[derive(Clone)]
pub struct MonoioHandle {
    /// The runtime's job channel (for spawns from other threads).
    jobs: JobSender,
    /// The runtime's id.
    id: u64,
}

impl MonoioHandle {
    /// Whether the calling thread is inside this runtime's `block_on`.
    fn on_runtime(&self) -> bool {
        RUNNING.with(Cell::get) == self.id
    }

    /// Runs `spawn` on the runtime's thread: at once if this is it, else through the channel.
    fn spawn_with<T, S>(&self, spawn: S) -> MonoioJoin<T>
    where
        T: Send + 'static,
        S: FnOnce() -> NativeHandle<T> + Send + 'static,
    {
        if self.on_runtime() {
            return MonoioJoin(JoinState::Spawned(spawn()));
        }
        let (slot, filler) = percore::slot();
        let job: Job = Box::new(move || filler.fill(spawn()));
        match self.jobs.unbounded_send(job) {
            Ok(()) => MonoioJoin(JoinState::Dispatched(slot)),
            Err(_) => MonoioJoin(JoinState::Ended),
        }
    }
}

/// monoio's native join handles: a task's, or a blocking job's (which reports `Canceled`
/// when the pool drops the job unrun).
enum NativeHandle<T> {
    /// From `monoio::spawn`.
    Task(JoinHandle<T>),
    /// From `monoio::spawn_blocking`.
    Blocking(JoinHandle<Result<T, monoio::blocking::JoinError>>),
}

impl<T: Send + 'static> NativeHandle<T> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        match self {
            NativeHandle::Task(j) => Pin::new(j).poll(cx).map(Ok),
            NativeHandle::Blocking(j) => Pin::new(j)
                .poll(cx)
                .map(|r| r.map_err(|monoio::blocking::JoinError::Canceled| JoinError::Cancelled)),
        }
    }
}

impl<T: Send + 'static> NativeJoin for NativeHandle<T> {
    /// Dropping monoio's handle detaches.
    fn detach(self) {
        drop(self);
    }
}

/// A monoio `JoinHandle`, or the promise of one from a cross-thread spawn.
pub struct MonoioJoin<T>(JoinState<T>);

/// Where a [`MonoioJoin`] is.
enum JoinState<T> {
    /// monoio's own handle.
    Spawned(NativeHandle<T>),
    /// Spawned from another thread; the job will leave the native handle in the slot.
    Dispatched(Slot<NativeHandle<T>>),
    /// The runtime was gone before the task could be spawned.
    Ended,
}

impl<T: Send + 'static> Future for MonoioJoin<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut self.0 {
                JoinState::Spawned(j) => return j.poll(cx),
                JoinState::Dispatched(slot) => match slot.poll_take(cx) {
                    Poll::Ready(Some(j)) => self.0 = JoinState::Spawned(j),
                    Poll::Ready(None) => {
                        self.0 = JoinState::Ended;
                        return Poll::Ready(Err(JoinError::Cancelled));
                    }
                    Poll::Pending => return Poll::Pending,
                },
                JoinState::Ended => return Poll::Ready(Err(JoinError::Cancelled)),
            }
        }
    }
}

impl<T: Send + 'static> TaskHandle<T> for MonoioJoin<T> {
    /// monoio cannot cancel a task ([`Monoio::missing`] says so); calling this is a bug of
    /// the caller, which should have checked the capability.
    fn cancel(self) -> impl Future<Output = Result<T, JoinError>> + Send {
        panic!("{NO_ABORT}");
        #[allow(unreachable_code)]
        std::future::ready(Err(JoinError::Cancelled))
    }

    fn detach(self) {
        if let JoinState::Dispatched(slot) = self.0 {
            drop(slot.take_or_mark(false));
        }
    }
}

/// A monoio timer, created on the runtime's thread at its first poll.
pub type MonoioSleep = OnThread<Instant, ()>;

/// monoio's poll-io TCP stream, bound to its thread.
pub struct MonoioStream(Bound<crate::compat::Compat<monoio::net::tcp::stream_poll::TcpStreamPoll>>);

impl MonoioStream {
    fn new(stream: monoio::net::TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Self(Bound::new(crate::compat::Compat(
            stream.into_poll_io()?,
        ))))
    }
}

impl futures_io::AsyncRead for MonoioStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.0.get_mut()).poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for MonoioStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.0.get_mut()).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.0.get_mut()).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.0.get_mut()).poll_close(cx)
    }
}

/// monoio's listener, bound to the runtime's thread.
pub struct MonoioListener(Bound<monoio::net::TcpListener>);

impl harness::Listener for MonoioListener {
    type Stream = MonoioStream;

    fn accept(
        &mut self,
    ) -> impl Future<Output = io::Result<(MonoioStream, SocketAddr)>> + Send + '_ {
        let listener = self.0.get();
        send_wrapper::SendWrapper::new(async move {
            let (s, addr) = listener.accept().await?;
            Ok((MonoioStream::new(s)?, addr))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }
}

impl RuntimeHandle for MonoioHandle {
    type JoinHandle<T: Send + 'static> = MonoioJoin<T>;
    type Sleep = MonoioSleep;
    type Listener = MonoioListener;
    type Stream = MonoioStream;

    fn spawn<F>(&self, fut: F) -> MonoioJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(move || NativeHandle::Task(monoio::spawn(fut)))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> MonoioJoin<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_with(move || NativeHandle::Blocking(monoio::spawn_blocking(f)))
    }

    fn sleep(&self, duration: Duration) -> MonoioSleep {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> MonoioSleep {
        OnThread::new(deadline, |d| {
            monoio::time::sleep_until(monoio::time::Instant::from_std(d)).boxed_local()
        })
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        futures_lite::future::yield_now()
    }

    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<MonoioListener> {
        if !self.on_runtime() {
            return Err(io::Error::other(
                "monoio: adopt_listener must be called on the runtime's thread, inside block_on",
            ));
        }
        Ok(MonoioListener(Bound::new(
            monoio::net::TcpListener::from_std(listener)?,
        )))
    }

    // Not `async fn`: the returned future must be `'static`, so it must not borrow `self`.
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<MonoioStream>> + Send + 'static {
        OnThread::new(addr, |addr| {
            async move { MonoioStream::new(monoio::net::TcpStream::connect_addr(addr).await?) }
                .boxed_local()
        })
    }
}
