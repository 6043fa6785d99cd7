//! smol adapters: `smol` (one `async_executor::Executor` driven by `block_on` on the calling
//! thread, as `smol::block_on(ex.run(..))` does) and `smol-mt` (one executor run on N threads).
//! Native semantics kept: dropping a `Task` cancels it; blocking work goes to the `blocking`
//! crate's global pool (`BLOCKING_MAX_THREADS`). smol re-raises a task's panic in whoever
//! awaits it; the adapter catches it inside the task so the join yields `Panicked`.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use async_executor::{Executor, FallibleTask};
use async_io::{Async, Timer};
use futures::FutureExt;
use harness::{JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo, TaskHandle};

/// smol on one thread: the executor runs inside `block_on`.
pub struct Smol {
    ex: Arc<Executor<'static>>,
}

/// smol on N threads sharing one executor; `block_on` only waits.
pub struct SmolMt {
    ex: Arc<Executor<'static>>,
    workers: Vec<ThreadHandle<()>>,
    stop: Option<async_channel::Sender<()>>,
}

fn apply_blocking_limit(config: &RuntimeConfig) {
    if let Some(n) = config.blocking_threads {
        // The `blocking` pool reads this once, at first use; each conformance cell and each
        // benchmark server is its own process, so setting it here takes effect.
        std::env::set_var("BLOCKING_MAX_THREADS", n.max(1).to_string());
    }
}

fn info(id: &str, flavour: String, workers: usize) -> RuntimeInfo {
    RuntimeInfo {
        id: id.to_string(),
        flavour,
        worker_threads: workers,
        crate_name: "smol".into(),
        crate_version: crate::versions::SMOL.unwrap_or("unknown").to_string(),
        notes: vec![
            format!(
                "executor: async-executor {}",
                crate::versions::ASYNC_EXECUTOR.unwrap_or("unknown")
            ),
            "dropping a Task cancels it".into(),
        ],
    }
}

impl Runtime for Smol {
    type Handle = SmolHandle;
    const ID: &'static str = "smol";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        apply_blocking_limit(config);
        Ok(Self {
            ex: Arc::new(Executor::new()),
        })
    }

    fn info(&self) -> RuntimeInfo {
        info(Self::ID, "one executor driven by block_on".into(), 1)
    }

    fn handle(&self) -> SmolHandle {
        SmolHandle(Arc::downgrade(&self.ex))
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        async_io::block_on(self.ex.run(fut))
    }
}

impl Runtime for SmolMt {
    type Handle = SmolHandle;
    const ID: &'static str = "smol-mt";

    fn build(config: &RuntimeConfig) -> io::Result<Self> {
        apply_blocking_limit(config);
        let ex = Arc::new(Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let workers = (0..config.workers_or_cores())
            .map(|i| {
                let ex = ex.clone();
                let stopped = stopped.clone();
                std::thread::Builder::new()
                    .name(format!("smol-mt-{i}"))
                    .spawn(move || {
                        let _ = async_io::block_on(ex.run(stopped.recv()));
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            ex,
            workers,
            stop: Some(stop),
        })
    }

    fn info(&self) -> RuntimeInfo {
        let n = self.workers.len();
        info(Self::ID, format!("one executor on {n} threads"), n)
    }

    fn handle(&self) -> SmolHandle {
        SmolHandle(Arc::downgrade(&self.ex))
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        async_io::block_on(fut)
    }
}

impl Drop for SmolMt {
    fn drop(&mut self) {
        // Closing the channel makes every worker's `recv` finish, so `run` returns.
        drop(self.stop.take());
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// A weak reference to the executor; spawning from any thread notifies it.
///
/// Weak, because tasks hold handles: a strong reference inside a task would keep the
/// executor (and so the task itself) alive after the runtime is dropped, and pending tasks'
/// destructors would never run. smol's own behaviour is that dropping the `Executor` drops
/// its pending tasks; the weak handle keeps that true. Spawning after the runtime is gone
/// yields a handle that reports `Cancelled`.
#[derive(Clone)]
pub struct SmolHandle(Weak<Executor<'static>>);

type Caught<T> = std::thread::Result<T>;

/// A smol `Task` (fallible, so a task cancelled by a dropped executor reports `Cancelled`).
/// `None` once aborted.
pub struct SmolJoin<T> {
    task: Option<FallibleTask<Caught<T>>>,
}

impl<T: Send + 'static> Future for SmolJoin<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(Err(JoinError::Cancelled));
        };
        Pin::new(task).poll(cx).map(|r| match r {
            Some(Ok(v)) => Ok(v),
            Some(Err(p)) => Err(JoinError::from_panic(p)),
            None => Err(JoinError::Cancelled),
        })
    }
}

impl<T: Send + 'static> TaskHandle<T> for SmolJoin<T> {
    fn abort(&mut self) {
        // smol cancels by dropping the task; a finished task keeps its output.
        if self.task.as_ref().is_some_and(|t| !t.is_finished()) {
            self.task = None;
        }
    }
    fn detach(mut self) {
        if let Some(t) = self.task.take() {
            t.detach();
        }
    }
    fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }
}

/// `async_io::Timer` with a `()` output.
pub struct SmolSleep(Timer);

impl Future for SmolSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// async-io's listener.
pub struct SmolListener(Async<std::net::TcpListener>);

impl harness::Listener for SmolListener {
    type Stream = Async<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Async<TcpStream>, SocketAddr)> {
        let (s, addr) = self.0.accept().await?;
        harness::net::configure_stream(&s)?;
        Ok((s, addr))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

impl RuntimeHandle for SmolHandle {
    type JoinHandle<T: Send + 'static> = SmolJoin<T>;
    type Sleep = SmolSleep;
    type Listener = SmolListener;
    type Stream = Async<TcpStream>;

    fn spawn<F>(&self, fut: F) -> SmolJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Some(ex) = self.0.upgrade() else {
            return SmolJoin { task: None };
        };
        let task = ex.spawn(AssertUnwindSafe(fut).catch_unwind());
        SmolJoin {
            task: Some(task.fallible()),
        }
    }

    fn spawn_blocking<F, T>(&self, f: F) -> SmolJoin<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let task = blocking::unblock(move || std::panic::catch_unwind(AssertUnwindSafe(f)));
        SmolJoin {
            task: Some(task.fallible()),
        }
    }

    fn sleep(&self, duration: Duration) -> SmolSleep {
        SmolSleep(Timer::after(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> SmolSleep {
        SmolSleep(Timer::at(deadline))
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        futures_lite::future::yield_now()
    }

    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<SmolListener> {
        Ok(SmolListener(Async::new(listener)?))
    }

    // Not `async fn`: the returned future must be `'static`, so it must not borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Async<TcpStream>>> + Send + 'static {
        async move {
            let s = Async::<TcpStream>::connect(addr).await?;
            harness::net::configure_stream(&s)?;
            Ok(s)
        }
    }

    fn shutdown_write<'a>(
        &self,
        stream: &'a mut Async<TcpStream>,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        // async-io's `close` only flushes: the socket's own shutdown is smol's half-close.
        std::future::ready(stream.get_ref().shutdown(std::net::Shutdown::Write))
    }
}
