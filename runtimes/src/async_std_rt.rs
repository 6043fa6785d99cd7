//! async-std adapter (`async-std`): its global multi-threaded executor. Upstream declared
//! async-std discontinued in 2025 (recommending smol); it is kept here because many programs
//! still use it. Native semantics kept: dropping a `JoinHandle` detaches. async-std has no
//! synchronous cancel (`JoinHandle::cancel` is async and consumes the handle), so `abort` uses
//! `futures::future::Abortable`, which stops the task at its next poll just as a native
//! cancel would.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::{AbortHandle, Abortable, Aborted};
use futures::FutureExt;
use harness::{JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo, TaskHandle};

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

type Inner<T> = Result<std::thread::Result<T>, Aborted>;

/// async-std's `JoinHandle` plus an abort handle and a completion flag.
pub struct AsyncStdJoin<T> {
    inner: async_std::task::JoinHandle<Inner<T>>,
    abort: AbortHandle,
    finished: Arc<AtomicBool>,
}

impl<T: Send + 'static> Future for AsyncStdJoin<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx).map(|r| match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(p)) => Err(JoinError::from_panic(p)),
            Err(Aborted) => Err(JoinError::Cancelled),
        })
    }
}

impl<T: Send + 'static> TaskHandle<T> for AsyncStdJoin<T> {
    fn abort(&mut self) {
        self.abort.abort();
    }
    fn detach(self) {
        drop(self.inner);
    }
    fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

fn spawn_inner<Fut, T>(fut: Fut) -> AsyncStdJoin<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (abort, reg) = AbortHandle::new_pair();
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let fut = Abortable::new(AssertUnwindSafe(fut).catch_unwind(), reg);
    let inner = async_std::task::spawn(async move {
        let out = fut.await;
        done.store(true, Ordering::Release);
        out
    });
    AsyncStdJoin {
        inner,
        abort,
        finished,
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
    type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
    type Listener = AsyncStdListener;
    type Stream = async_std::net::TcpStream;

    fn spawn<F>(&self, fut: F) -> AsyncStdJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_inner(fut)
    }

    fn spawn_blocking<F, T>(&self, f: F) -> AsyncStdJoin<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_inner(async move {
            match async_std::task::spawn_blocking(move || {
                std::panic::catch_unwind(AssertUnwindSafe(f))
            })
            .await
            {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        // async-std exposes sleep only as an `async fn`, so its future is boxed here.
        Box::pin(async_std::task::sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        Box::pin(async move {
            let now = Instant::now();
            if deadline > now {
                async_std::task::sleep(deadline - now).await;
            }
        })
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        async_std::task::yield_now()
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
