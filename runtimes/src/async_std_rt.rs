//! async-std adapter (`async-std`): its global multi-threaded executor. Upstream declared
//! async-std discontinued in 2025 (recommending smol); it is kept here because many programs
//! still use it. Native semantics kept, nothing wrapped: tasks are async-std's own
//! (`task::spawn`, `task::spawn_blocking`), dropping a `JoinHandle` detaches, cancel is
//! async-std's own async `JoinHandle::cancel`, a panic is re-raised in the awaiter, time
//! limits and intervals are `future::timeout` and `stream::interval`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use harness::{
    JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo, TaskHandle, TimedOut,
};

/// async-std's global runtime. Its thread count is read from `ASYNC_STD_THREAD_COUNT` at first
/// use, so `build` sets it (each cell and server is its own process).
pub struct AsyncStd {
    workers: usize,
}

impl Runtime for AsyncStd {
    type Handle = AsyncStdHandle;
    const ID: &'static str = "async-std";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        let workers = config.workers_or_cores();
        std::env::set_var("ASYNC_STD_THREAD_COUNT", workers.to_string());
        if let Some(n) = config.blocking_threads {
            std::env::set_var("BLOCKING_MAX_THREADS", n.max(1).to_string());
        }
        Ok(Self { workers })
    }

    fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            id: Self::ID.into(),
            flavour: format!("global executor, {} threads", self.workers),
            worker_threads: self.workers,
            crate_name: "async-std".into(),
            crate_version: crate::versions::ASYNC_STD.unwrap_or("unknown").to_string(),
            notes: vec![
                "upstream declared async-std discontinued in 2025 and recommends smol".into(),
                "dropping a JoinHandle detaches the task".into(),
                "a task's panic is re-raised in whoever awaits its JoinHandle".into(),
            ],
        }
    }

    fn handle(&self) -> AsyncStdHandle {
        AsyncStdHandle
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        async_std::task::block_on(fut)
    }
}

/// async-std is global: the handle carries nothing.
#[derive(Clone, Copy)]
pub struct AsyncStdHandle;

/// async-std's own `JoinHandle`, its output as `Ok`. A panic of the task is re-raised by
/// async-std in whoever awaits the handle (async-task's `propagate_panic`), so it never
/// becomes a `JoinError`; the runtime is global and never drops a task, so neither does
/// `Cancelled` except after [`TaskHandle::cancel`].
pub struct AsyncStdJoin<T>(async_std::task::JoinHandle<T>);

impl<T: Send + 'static> Future for AsyncStdJoin<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(Ok)
    }
}

impl<T: Send + 'static> TaskHandle<T> for AsyncStdJoin<T> {
    fn cancel(self) -> impl Future<Output = Result<T, JoinError>> + Send {
        // async-std's own cancel: async, consumes the handle, and yields the output if the
        // task had already completed.
        let cancel = self.0.cancel();
        async move { cancel.await.ok_or(JoinError::Cancelled) }
    }
    fn detach(self) {
        // Dropping async-std's JoinHandle detaches the task.
        drop(self.0);
    }
}

/// async-std's sleep, unboxed: `async_std::task::sleep` is an `async fn` over
/// `async_io::Timer::after` (it awaits `io::timeout(dur, pending())`), so the timer it awaits
/// is used directly, on the same reactor, with `()` as output.
pub struct AsyncStdSleep(async_io::Timer);

impl Future for AsyncStdSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// async-std's listener.
pub struct AsyncStdListener(async_std::net::TcpListener);

impl harness::Listener for AsyncStdListener {
    type Stream = async_std::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(async_std::net::TcpStream, SocketAddr)> {
        let (s, addr) = self.0.accept().await?;
        harness::net::configure_stream(&s)?;
        Ok((s, addr))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl RuntimeHandle for AsyncStdHandle {
    type JoinHandle<T: Send + 'static> = AsyncStdJoin<T>;
    type Sleep = AsyncStdSleep;
    type Listener = AsyncStdListener;
    type Stream = async_std::net::TcpStream;

    fn spawn<F>(&self, fut: F) -> AsyncStdJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        AsyncStdJoin(async_std::task::spawn(fut))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> AsyncStdJoin<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        AsyncStdJoin(async_std::task::spawn_blocking(f))
    }

    fn sleep(&self, duration: Duration) -> AsyncStdSleep {
        AsyncStdSleep(async_io::Timer::after(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> AsyncStdSleep {
        AsyncStdSleep(async_io::Timer::at(deadline))
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        async_std::task::yield_now()
    }

    fn timeout<F>(
        &self,
        limit: Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, TimedOut>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        let limited = async_std::future::timeout(limit, fut);
        async move { limited.await.map_err(|_| TimedOut) }
    }

    fn interval(&self, period: Duration) -> impl futures::Stream<Item = ()> + Send + 'static {
        async_std::stream::interval(period)
    }

    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<AsyncStdListener> {
        Ok(AsyncStdListener(async_std::net::TcpListener::from(
            listener,
        )))
    }

    // Not `async fn`: the returned future must be `'static`, so it must not borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<async_std::net::TcpStream>> + Send + 'static {
        async move {
            let s = async_std::net::TcpStream::connect(addr).await?;
            harness::net::configure_stream(&s)?;
            Ok(s)
        }
    }

    fn shutdown_write<'a>(
        &self,
        stream: &'a mut async_std::net::TcpStream,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        // async-std's `close` only flushes (async-io underneath): `shutdown` is its half-close.
        std::future::ready(stream.shutdown(std::net::Shutdown::Write))
    }
}
