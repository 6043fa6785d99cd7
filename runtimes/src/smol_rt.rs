//! smol adapters: `smol` (one `async_executor::Executor` driven by `block_on` on the calling
//! thread, as `smol::block_on(ex.run(..))` does) and `smol-mt` (one executor run on N threads).
//! Native semantics kept, nothing wrapped: tasks are the executor's own `Task`s (awaited as
//! `FallibleTask`, async-task's own way to observe a task its executor dropped); dropping a
//! `Task` cancels it; cancel is smol's async `cancel`; a task's panic is re-raised in whoever
//! awaits it (async-task's `propagate_panic`, which async-executor and `blocking` turn on);
//! blocking work goes to the `blocking` crate's global pool (`BLOCKING_MAX_THREADS`); a time
//! limit is smol's documented `future::or` race with a `Timer`, an interval `Timer::interval`.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use async_executor::{Executor, FallibleTask};
use async_io::{Async, Timer};
use futures::StreamExt;
use harness::{
    JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo, TaskHandle, TimedOut,
};

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
            "a task's panic is re-raised in whoever awaits its Task".into(),
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

/// A smol `Task`, awaited as a `FallibleTask` (so a task its dropped executor cancelled
/// reports `Cancelled` rather than panicking); `None` when it was spawned after the runtime
/// was dropped.
pub struct SmolJoin<T>(Option<FallibleTask<T>>);

impl<T: Send + 'static> Future for SmolJoin<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            Some(task) => Pin::new(task)
                .poll(cx)
                .map(|r| r.ok_or(JoinError::Cancelled)),
            None => Poll::Ready(Err(JoinError::Cancelled)),
        }
    }
}

impl<T: Send + 'static> TaskHandle<T> for SmolJoin<T> {
    fn cancel(self) -> impl Future<Output = Result<T, JoinError>> + Send {
        // smol's own cancel: async, consumes the task, yields the output if it had completed.
        let task = self.0;
        async move {
            match task {
                Some(task) => task.cancel().await.ok_or(JoinError::Cancelled),
                None => Err(JoinError::Cancelled),
            }
        }
    }
    fn detach(self) {
        if let Some(t) = self.0 {
            t.detach();
        }
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
            return SmolJoin(None);
        };
        SmolJoin(Some(ex.spawn(fut).fallible()))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> SmolJoin<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        SmolJoin(Some(blocking::unblock(f).fallible()))
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

    fn timeout<F>(
        &self,
        limit: Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, TimedOut>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        // The idiom async-io's `Timer` documents for a timeout.
        let timer = Timer::after(limit);
        futures_lite::future::or(async move { Ok(fut.await) }, async move {
            timer.await;
            Err(TimedOut)
        })
    }

    fn interval(&self, period: Duration) -> impl futures::Stream<Item = ()> + Send + 'static {
        Timer::interval(period).map(|_| ())
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
