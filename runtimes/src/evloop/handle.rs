//! The thread-safe handle onto a loop: [`EvloopHandle`], cloneable, `Send + Sync`,
//! implementing `harness::RuntimeHandle`. On the loop's own thread every operation takes the
//! direct path (through `context`); from another thread it sends a message (see `shared`).
//!
//! The handle is generic over the driver's sockets ([`NetDriver`]): [`Epoll`] hands out
//! `EvStream`s, [`IoUring`] `UringStream`s; everything else is the same code.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{JoinError, RuntimeHandle};

use super::context;
use super::debug::DebugReport;
use super::mutants::{self, Fault};
use super::net::{EvListener, EvStream};
#[cfg(feature = "evloop-uring")]
use super::net_uring::{UringListener, UringStream};
use super::shared::{Message, Shared};
use super::sleep::Sleep;
use super::task::{Callback, JoinHandle, JoinState, Schedule, TaskSlot, YieldNow};

/// The sockets of one I/O driver, as a handle hands them out.
pub trait NetDriver: Send + Sync + 'static {
    /// Its listener.
    type Listener: harness::Listener<Stream = Self::Stream>;
    /// Its connection.
    type Stream: harness::Stream;
    /// Adopts a bound, listening socket.
    fn adopt_listener(listener: std::net::TcpListener) -> io::Result<Self::Listener>;
    /// Connects to `addr`.
    fn connect(addr: SocketAddr)
        -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static;
}

/// The epoll driver's sockets.
pub struct Epoll;

impl NetDriver for Epoll {
    type Listener = EvListener;
    type Stream = EvStream;

    fn adopt_listener(listener: std::net::TcpListener) -> io::Result<EvListener> {
        EvListener::adopt(OwnedFd::from(listener))
    }

    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<EvStream>> + Send + 'static {
        EvStream::connect(addr)
    }
}

/// The io_uring driver's sockets.
#[cfg(feature = "evloop-uring")]
pub struct IoUring;

#[cfg(feature = "evloop-uring")]
impl NetDriver for IoUring {
    type Listener = UringListener;
    type Stream = UringStream;

    fn adopt_listener(listener: std::net::TcpListener) -> io::Result<UringListener> {
        UringListener::adopt(OwnedFd::from(listener))
    }

    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<UringStream>> + Send + 'static {
        UringStream::connect(addr)
    }
}

/// A handle onto an evloop: spawn, timers, TCP, from any thread. `N` says which driver's
/// sockets it hands out (the loop's own: see `Evloop` and `EvloopUring`).
pub struct EvloopHandle<N: NetDriver = Epoll> {
    /// The loop's thread-safe state.
    pub(crate) shared: Arc<Shared>,
    /// The socket types.
    net: PhantomData<fn() -> N>,
}

impl<N: NetDriver> Clone for EvloopHandle<N> {
    fn clone(&self) -> Self {
        Self::new(self.shared.clone())
    }
}

impl<N: NetDriver> EvloopHandle<N> {
    /// A handle onto the loop behind `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            net: PhantomData,
        }
    }

    /// Asks `run_forever` to return after the current iteration (from any thread).
    pub fn stop(&self) {
        let local = context::with_current(|core| match core {
            Some(core) if core.id() == self.shared.id => {
                core.stop();
                true
            }
            _ => false,
        });
        if !local {
            self.shared.inject(Message::Stop);
        }
    }

    /// What debug mode reported so far.
    pub fn debug_reports(&self) -> Vec<DebugReport> {
        self.shared.debug.reports()
    }

    /// How this loop's tasks get queued.
    fn sched(&self) -> Arc<dyn Schedule> {
        self.shared.clone()
    }
}

impl<N: NetDriver> RuntimeHandle for EvloopHandle<N> {
    type JoinHandle<T: Send + 'static> = JoinHandle<T>;
    type Sleep = Sleep;
    type Listener = N::Listener;
    type Stream = N::Stream;

    fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (slot, join) = TaskSlot::new(self.sched(), fut);
        context::with_current(|core| match core {
            Some(core) if core.id() == self.shared.id => core.spawn(slot),
            _ => self.shared.inject(Message::Spawn(slot)),
        });
        join
    }

    fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let state = JoinState::new(self.sched());
        let job_state = state.clone();
        let job: super::blocking::Job = Box::new(move || {
            if job_state.is_aborted() {
                job_state.complete(Err(JoinError::Cancelled));
                return;
            }
            let result = std::panic::catch_unwind(AssertUnwindSafe(f));
            job_state.complete(result.map_err(|payload| {
                if mutants::active(Fault::PanicPayloadLost) {
                    JoinError::Cancelled
                } else {
                    JoinError::from_panic(payload)
                }
            }));
        });
        if mutants::active(Fault::BlockingInline) {
            job();
            return JoinHandle::from_state(state);
        }
        if self.shared.pool.spawn(job).is_err() {
            state.complete(Err(JoinError::Cancelled));
        }
        JoinHandle::from_state(state)
    }

    fn call_soon_threadsafe<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let name = std::any::type_name::<F>();
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::CallbacksInParallel) {
            std::thread::spawn(f);
            return;
        }
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::CallSoonInline) && context::is_current(self.shared.id) {
            f();
            return;
        }
        context::with_current(|core| match core {
            Some(core) if core.id() == self.shared.id => core.call_soon(Callback::new(f)),
            _ => self.shared.inject(Message::Call(Box::new(f), name)),
        });
    }

    fn now(&self) -> Instant {
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::ClockStepsBack) && mutants::every_other() {
            let now = Instant::now();
            return now.checked_sub(Duration::from_millis(1)).unwrap_or(now);
        }
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::after(duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::until(deadline)
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        YieldNow::default()
    }

    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<N::Listener> {
        N::adopt_listener(listener)
    }

    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<N::Stream>> + Send + 'static {
        N::connect(addr)
    }
}
