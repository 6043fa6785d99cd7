//! compio adapter: compio's thread-per-core runtime (its io_uring driver) on the thread that
//! builds it and calls `block_on`, like `tokio-ct`. Native semantics kept: dropping a
//! `JoinHandle` cancels the task (its future is dropped on the runtime's next turn); a task's
//! panic is caught by compio's executor and reported by its join handle; blocking work runs
//! on compio's own pool (`AsyncifyPool`, limit from `blocking_threads`); dropping the runtime
//! drops its pending tasks.
//!
//! compio's tasks, timers and sockets are `!Send`. Spawning from another thread follows the
//! dispatcher pattern (see [`crate::percore`]); timers and connects are created at their
//! first poll, on the runtime's thread; streams are compio-io's futures-io compat
//! (`compio::io::compat::AsyncStream`, which buffers reads and writes: 8 KiB each by
//! default, and writes reach the socket on `flush`, as futures-io allows).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use compio::io::compat::AsyncStream;
use compio::runtime::JoinHandle;
use futures::FutureExt;
use harness::{JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo, TaskHandle};

use crate::percore::{self, Bound, JobSender, NativeJoin, OnThread, Slot};

/// compio's runtime, driven by `block_on` on the thread that built it.
pub struct Compio {
    /// The runtime (`!Send`: it stays on this thread).
    rt: compio::runtime::Runtime,
    /// Where other threads send spawns.
    jobs: JobSender,
    /// The driver's fd (the io_uring instance), which identifies this runtime on its thread.
    fd: RawFd,
}

impl Runtime for Compio {
    type Handle = CompioHandle;
    const ID: &'static str = "compio";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        let mut proactor = compio::driver::ProactorBuilder::new();
        if let Some(n) = config.blocking_threads {
            proactor.thread_pool_limit(n.max(1));
        }
        let rt = compio::runtime::RuntimeBuilder::new()
            .with_proactor(proactor)
            .build()
            .map_err(|e| io::Error::new(e.kind(), format!("compio (io_uring driver): {e}")))?;
        let (jobs, rx) = percore::job_channel();
        rt.spawn(percore::drain_jobs(rx)).detach();
        let fd = rt.as_raw_fd();
        Ok(Self { rt, jobs, fd })
    }

    fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            id: Self::ID.into(),
            flavour: format!(
                "thread-per-core, one thread (block_on's), {:?} driver",
                self.rt.driver_type()
            ),
            worker_threads: 1,
            crate_name: "compio".into(),
            crate_version: crate::versions::COMPIO.unwrap_or("unknown").into(),
            notes: vec![
                "dropping a JoinHandle cancels the task".into(),
                "streams: compio-io's futures-io compat (AsyncStream), buffered; writes are sent on flush".into(),
                "spawns from other threads go through a channel to the runtime's thread (dispatcher pattern)".into(),
            ],
        }
    }

    fn handle(&self) -> CompioHandle {
        CompioHandle {
            jobs: self.jobs.clone(),
            fd: self.fd,
        }
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }
}

/// Spawns onto one compio runtime from any thread.
#[derive(Clone)]
pub struct CompioHandle {
    /// The runtime's job channel (for spawns from other threads).
    jobs: JobSender,
    /// The runtime's driver fd: a spawn on a thread whose current compio runtime has it is
    /// local.
    fd: RawFd,
}

impl CompioHandle {
    /// Whether the calling thread is running this runtime right now.
    fn on_runtime(&self) -> bool {
        compio::runtime::Runtime::try_with_current(|rt| rt.as_raw_fd() == self.fd).unwrap_or(false)
    }

    /// Runs `spawn` on the runtime's thread: at once if this is it, else through the channel.
    fn spawn_with<T, S>(&self, spawn: S) -> CompioJoin<T>
    where
        T: Send + 'static,
        S: FnOnce() -> JoinHandle<T> + Send + 'static,
    {
        if self.on_runtime() {
            return CompioJoin(JoinState::Spawned(spawn()));
        }
        let (slot, filler) = percore::slot();
        let job: percore::Job = Box::new(move || filler.fill(NativeHandle(spawn())));
        match self.jobs.unbounded_send(job) {
            Ok(()) => CompioJoin(JoinState::Dispatched(slot)),
            // The runtime is gone: the job (and the future in it) is dropped here.
            Err(_) => CompioJoin(JoinState::Ended),
        }
    }

    /// An error for operations that must run on the runtime's thread.
    fn off_runtime(what: &str) -> io::Error {
        io::Error::other(format!(
            "compio: {what} must be called on the runtime's thread, inside block_on"
        ))
    }
}

/// compio's native join handle, as the cross-thread path hands it over.
struct NativeHandle<T>(JoinHandle<T>);

impl<T: Send + 'static> NativeJoin for NativeHandle<T> {
    fn detach(self) {
        self.0.detach();
    }
}

/// A compio `JoinHandle`, or the promise of one from a cross-thread spawn.
pub struct CompioJoin<T>(JoinState<T>);

/// Where a [`CompioJoin`] is.
enum JoinState<T> {
    /// compio's own handle.
    Spawned(JoinHandle<T>),
    /// Spawned from another thread; the job will leave the native handle in the slot.
    Dispatched(Slot<NativeHandle<T>>),
    /// Aborted, or the runtime was gone: awaiting yields `Cancelled`.
    Ended,
}

impl<T: Send + 'static> Future for CompioJoin<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut self.0 {
                JoinState::Spawned(j) => {
                    return Pin::new(j).poll(cx).map(|r| {
                        r.map_err(|e| match e {
                            compio::runtime::JoinError::Cancelled => JoinError::Cancelled,
                            compio::runtime::JoinError::Panicked(p) => JoinError::from_panic(p),
                        })
                    })
                }
                JoinState::Dispatched(slot) => match slot.poll_take(cx) {
                    Poll::Ready(Some(NativeHandle(j))) => self.0 = JoinState::Spawned(j),
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

impl<T: Send + 'static> TaskHandle<T> for CompioJoin<T> {
    fn cancel(self) -> impl Future<Output = Result<T, JoinError>> + Send {
        // compio's own cancel (async, consumes the handle, yields the output of a task that
        // had finished). A cross-thread spawn whose job has not run yet is marked, so the job
        // drops the native handle (compio's cancellation) the moment it exists.
        let native = match self.0 {
            JoinState::Spawned(j) => Some(j),
            JoinState::Dispatched(slot) => slot.take_or_mark(true).map(|NativeHandle(j)| j),
            JoinState::Ended => None,
        };
        async move {
            match native {
                Some(j) => j.cancel().await.ok_or(JoinError::Cancelled),
                None => Err(JoinError::Cancelled),
            }
        }
    }

    fn detach(self) {
        match self.0 {
            JoinState::Spawned(j) => j.detach(),
            JoinState::Dispatched(slot) => {
                if let Some(NativeHandle(j)) = slot.take_or_mark(false) {
                    j.detach();
                }
            }
            JoinState::Ended => {}
        }
    }
}

/// A compio timer, created on the runtime's thread at its first poll.
pub type CompioSleep = OnThread<Instant, ()>;

/// A compio TCP stream through compio-io's futures-io compat layer, bound to its thread.
pub struct CompioStream(Bound<Pin<Box<AsyncStream<compio::net::TcpStream>>>>);

impl CompioStream {
    fn new(stream: compio::net::TcpStream) -> io::Result<Self> {
        harness::net::configure_stream(&stream)?;
        Ok(Self(Bound::new(Box::pin(AsyncStream::new(stream)))))
    }
}

impl futures_io::AsyncRead for CompioStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.0.get_mut().as_mut().poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for CompioStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.get_mut().as_mut().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.get_mut().as_mut().poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.get_mut().as_mut().poll_close(cx)
    }
}

/// compio's listener, bound to the runtime's thread.
pub struct CompioListener(Bound<compio::net::TcpListener>);

impl harness::Listener for CompioListener {
    type Stream = CompioStream;

    fn accept(
        &mut self,
    ) -> impl Future<Output = io::Result<(CompioStream, SocketAddr)>> + Send + '_ {
        let listener = self.0.get();
        send_wrapper::SendWrapper::new(async move {
            let (s, addr) = listener.accept().await?;
            Ok((CompioStream::new(s)?, addr))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }
}

impl RuntimeHandle for CompioHandle {
    type JoinHandle<T: Send + 'static> = CompioJoin<T>;
    type Sleep = CompioSleep;
    type Listener = CompioListener;
    type Stream = CompioStream;

    fn spawn<F>(&self, fut: F) -> CompioJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(move || compio::runtime::spawn(fut))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> CompioJoin<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_with(move || compio::runtime::spawn_blocking(f))
    }

    fn sleep(&self, duration: Duration) -> CompioSleep {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> CompioSleep {
        OnThread::new(deadline, |d| compio::time::sleep_until(d).boxed_local())
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        futures_lite::future::yield_now()
    }

    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<CompioListener> {
        if !self.on_runtime() {
            return Err(Self::off_runtime("adopt_listener"));
        }
        // compio's io_uring driver expects blocking sockets (it sets O_NONBLOCK only for
        // its polling driver); the harness hands listeners over nonblocking.
        listener.set_nonblocking(false)?;
        Ok(CompioListener(Bound::new(
            compio::net::TcpListener::from_std(listener)?,
        )))
    }

    // Not `async fn`: the returned future must be `'static`, so it must not borrow `self`.
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<CompioStream>> + Send + 'static {
        OnThread::new(addr, |addr| {
            async move { CompioStream::new(compio::net::TcpStream::connect(addr).await?) }
                .boxed_local()
        })
    }
}
