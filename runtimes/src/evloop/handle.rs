//! The thread-safe side of a loop: [`Shared`] (what other threads may touch) and
//! [`EvloopHandle`], the cloneable `Send + Sync` handle implementing `harness::RuntimeHandle`.
//!
//! The way in from another thread (asyncio's `call_soon_threadsafe`): push a [`Message`] on
//! the `injected` queue, then write the eventfd unless `notified` says a write is already
//! pending. The loop thread reads the eventfd, clears `notified`, *then* takes the queue, so
//! a message pushed after the take always finds `notified` clear and writes again: no message
//! waits for an unrelated wake-up. On the loop thread itself every operation takes the direct
//! path instead (no lock, no atomic read-modify-write).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{JoinError, RuntimeHandle};

use super::blocking::BlockingPool;
use super::debug::{DebugReport, DebugSink};
use super::mutants::{self, Fault};
use super::net::{EvListener, EvStream};
use super::scheduler::{self, Callback};
use super::sys::EventFd;
use super::task::{JoinHandle, JoinState, TaskSlot, YieldNow};
use super::timer::Sleep;

/// Something another thread asks the loop to do.
pub(crate) enum Message {
    /// Place a spawned task and queue its first poll.
    Spawn(TaskSlot),
    /// Queue a callback.
    Call(Box<dyn FnOnce() + Send>, &'static str),
    /// Queue the task with this key (a waker used off the loop thread).
    Wake(u64),
    /// Stop `run_forever` after the current iteration.
    Stop,
}

/// The part of a loop every thread can reach.
pub(crate) struct Shared {
    /// Unique id of the loop; wakers, timers and sockets compare it with the running loop's.
    pub(crate) id: u64,
    /// Messages from other threads, in arrival order.
    injected: Mutex<Vec<Message>>,
    /// An eventfd write is pending (set by senders, cleared by the loop before it drains).
    notified: AtomicBool,
    /// Set when the loop is dropped: messages are then dropped on arrival.
    closed: AtomicBool,
    /// Written to wake the loop out of `epoll_wait`.
    pub(crate) notifier: EventFd,
    /// Threads for `spawn_blocking`.
    pub(crate) pool: BlockingPool,
    /// Debug-mode reports.
    pub(crate) debug: DebugSink,
}

impl Shared {
    /// Shared state for a new loop.
    pub(crate) fn new(blocking_threads: usize) -> io::Result<Self> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            injected: Mutex::default(),
            notified: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            notifier: EventFd::new()?,
            pool: BlockingPool::new(blocking_threads),
            debug: DebugSink::default(),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Message>> {
        self.injected.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `msg` to the loop from any thread and wakes it.
    pub(crate) fn inject(&self, msg: Message) {
        {
            let mut queue = self.queue();
            if !self.closed.load(Ordering::Acquire) {
                queue.push(msg);
                drop(queue);
                if !self.notified.swap(true, Ordering::SeqCst) {
                    #[cfg(feature = "mutants")]
                    if mutants::active(Fault::LostWakeup) && mutants::first_time() {
                        // The write is "forgotten"; the next message notifies.
                        self.notified.store(false, Ordering::SeqCst);
                        return;
                    }
                    self.notifier.notify();
                }
                return;
            }
        }
        drop(msg); // the loop is gone: a spawned task is cancelled by its slot's drop
    }

    /// Loop thread: moves every pending message into `into` (see the module protocol).
    pub(crate) fn take_injected(&self, into: &mut Vec<Message>) {
        self.notifier.drain();
        self.notified.store(false, Ordering::SeqCst);
        std::mem::swap(&mut *self.queue(), into);
    }

    /// Loop drop: refuses further messages and returns the pending ones.
    pub(crate) fn close(&self) -> Vec<Message> {
        let mut queue = self.queue();
        self.closed.store(true, Ordering::Release);
        std::mem::take(&mut *queue)
    }
}

/// A handle onto an evloop: spawn, timers, TCP, from any thread.
#[derive(Clone)]
pub struct EvloopHandle {
    /// The loop's thread-safe state.
    pub(crate) shared: Arc<Shared>,
}

impl EvloopHandle {
    /// Asks `run_forever` to return after the current iteration (from any thread).
    pub fn stop(&self) {
        let local = scheduler::with_current(|core| match core {
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
}

impl RuntimeHandle for EvloopHandle {
    type JoinHandle<T: Send + 'static> = JoinHandle<T>;
    type Sleep = Sleep;
    type Listener = EvListener;
    type Stream = EvStream;

    fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (slot, join) = TaskSlot::new(&self.shared, fut);
        scheduler::with_current(|core| match core {
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
        let state = JoinState::new(self.shared.clone());
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
        if mutants::active(Fault::CallSoonInline)
            && scheduler::with_current(|core| core.is_some_and(|c| c.id() == self.shared.id))
        {
            f();
            return;
        }
        scheduler::with_current(|core| match core {
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

    fn adopt_listener(&self, listener: std::net::TcpListener) -> io::Result<EvListener> {
        EvListener::adopt(OwnedFd::from(listener))
    }

    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<EvStream>> + Send + 'static {
        EvStream::connect(addr)
    }
}
