//! The part of a loop every thread can reach ([`Shared`]): its id, the queue other threads
//! send [`Message`]s on, the eventfd that wakes it, the blocking pool and the debug sink.
//!
//! The way in from another thread (asyncio's `call_soon_threadsafe`): push a [`Message`] on
//! the `injected` queue, then write the eventfd unless `notified` says a write is already
//! pending. The loop thread reads the eventfd, clears `notified`, *then* takes the queue, so
//! a message pushed after the take always finds `notified` clear and writes again: no message
//! waits for an unrelated wake-up. (On the loop thread itself every operation takes the
//! direct path instead, through `context`: no lock, no atomic read-modify-write.)
//!
//! Whichever driver the loop uses watches the eventfd: epoll registers it, io_uring keeps a
//! multishot poll on it.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::blocking::BlockingPool;
use super::debug::DebugSink;
#[cfg(feature = "mutants")]
use super::mutants::{self, Fault};
use super::sys::EventFd;
use super::task::TaskSlot;

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
    /// Written to wake the loop out of its I/O wait.
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
