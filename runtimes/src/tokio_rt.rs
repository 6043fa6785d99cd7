//! tokio adapters: `tokio-ct` (current-thread scheduler) and `tokio-mt` (multi-thread,
//! work-stealing). Native semantics kept: dropping a `JoinHandle` detaches the task, and a
//! runtime dropped with pending tasks drops their futures.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use harness::{
    JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo, TaskHandle, TimedOut,
};
use tokio::runtime::Builder;

/// tokio's current-thread scheduler: every task polled on the thread in `block_on`.
pub struct TokioCt {
    rt: tokio::runtime::Runtime,
    config: RuntimeConfig,
}

/// tokio's multi-thread, work-stealing scheduler.
pub struct TokioMt {
    rt: tokio::runtime::Runtime,
    config: RuntimeConfig,
}

fn builder_common(
    mut builder: Builder,
    config: &RuntimeConfig,
) -> io::Result<tokio::runtime::Runtime> {
    builder.enable_all();
    if let Some(n) = config.blocking_threads {
        builder.max_blocking_threads(n.max(1));
    }
    builder.build()
}

fn info(id: &str, flavour: String, workers: usize) -> RuntimeInfo {
    RuntimeInfo {
        id: id.to_string(),
        flavour,
        worker_threads: workers,
        crate_name: "tokio".into(),
        crate_version: crate::versions::TOKIO.unwrap_or("unknown").to_string(),
        notes: vec!["dropping a JoinHandle detaches the task".into()],
    }
}

impl Runtime for TokioCt {
    type Handle = TokioHandle;
    const ID: &'static str = "tokio-ct";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        Ok(Self {
            rt: builder_common(Builder::new_current_thread(), config)?,
            config: config.clone(),
        })
    }

    fn info(&self) -> RuntimeInfo {
        let _ = &self.config;
        info(Self::ID, "current-thread".into(), 1)
    }

    fn handle(&self) -> TokioHandle {
        TokioHandle(self.rt.handle().clone())
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }
}

impl Runtime for TokioMt {
    type Handle = TokioHandle;
    const ID: &'static str = "tokio-mt";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(config.workers_or_cores());
        Ok(Self {
            rt: builder_common(builder, config)?,
            config: config.clone(),
        })
    }

    fn info(&self) -> RuntimeInfo {
        let n = self.config.workers_or_cores();
        info(
            Self::ID,
            format!("multi-thread work-stealing, {n} workers"),
            n,
        )
    }

    fn handle(&self) -> TokioHandle {
        TokioHandle(self.rt.handle().clone())
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }
}

/// A `tokio::runtime::Handle`; spawns and timers work from any thread.
#[derive(Clone)]
pub struct TokioHandle(tokio::runtime::Handle);

/// tokio's `JoinHandle`, with its errors mapped to [`JoinError`].
pub struct TokioJoin<T>(tokio::task::JoinHandle<T>);

impl<T: Send + 'static> Future for TokioJoin<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| {
            r.map_err(|e| {
                if e.is_panic() {
                    JoinError::from_panic(e.into_panic())
                } else {
                    JoinError::Cancelled
                }
            })
        })
    }
}

impl<T: Send + 'static> TaskHandle<T> for TokioJoin<T> {
    fn cancel(self) -> impl Future<Output = Result<T, JoinError>> + Send {
        // tokio's cancel: `abort`, then awaiting the handle reports the outcome.
        self.0.abort();
        self
    }
    fn detach(self) {
        drop(self.0);
    }
}

/// A tokio `TcpStream` seen through `futures-io` traits.
pub type TokioStream = crate::compat::Compat<tokio::net::TcpStream>;

/// tokio's `TcpListener`.
pub struct TokioListener(tokio::net::TcpListener);

impl harness::Listener for TokioListener {
    type Stream = TokioStream;

    async fn accept(&mut self) -> io::Result<(TokioStream, SocketAddr)> {
        let (s, addr) = self.0.accept().await?;
        harness::net::configure_stream(&s)?;
        Ok((crate::compat::Compat(s), addr))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl RuntimeHandle for TokioHandle {
    type JoinHandle<T: Send + 'static> = TokioJoin<T>;
    type Sleep = tokio::time::Sleep;
    type Listener = TokioListener;
    type Stream = TokioStream;

    fn spawn<F>(&self, fut: F) -> TokioJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TokioJoin(self.0.spawn(fut))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> TokioJoin<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TokioJoin(self.0.spawn_blocking(f))
    }

    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        let _guard = self.0.enter();
        tokio::time::sleep(duration)
    }

    fn sleep_until(&self, deadline: Instant) -> tokio::time::Sleep {
        let _guard = self.0.enter();
        tokio::time::sleep_until(deadline.into())
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        tokio::task::yield_now()
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
        let _guard = self.0.enter();
        let limited = tokio::time::timeout(limit, fut);
        async move { limited.await.map_err(|_| TimedOut) }
    }

    fn interval(&self, period: Duration) -> impl futures::Stream<Item = ()> + Send + 'static {
        let _guard = self.0.enter();
        let mut interval = tokio::time::interval(period);
        futures::stream::poll_fn(move |cx| interval.poll_tick(cx).map(|_| Some(())))
    }

    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<TokioListener> {
        let _guard = self.0.enter();
        listener.set_nonblocking(true)?;
        Ok(TokioListener(tokio::net::TcpListener::from_std(listener)?))
    }

    // Not `async fn`: the returned future must be `'static`, so it must not borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<TokioStream>> + Send + 'static {
        async move {
            let s = tokio::net::TcpStream::connect(addr).await?;
            harness::net::configure_stream(&s)?;
            Ok(crate::compat::Compat(s))
        }
    }
}
