//! One parked waiter of a primitive: a flag that says it was granted what it waits for, and
//! the waker to call when that happens.
//!
//! Protocol: a primitive pops a waiter from its queue (under its own lock) and then calls
//! [`Waiter::grant`] (outside the lock). A waiter that is dropped before being granted removes
//! itself from the queue; one dropped after being popped passes its grant on.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A parked waiter.
#[derive(Default)]
pub(crate) struct Waiter {
    /// Set once, by whoever popped this waiter from a queue.
    granted: AtomicBool,
    /// The task to wake; written by the waiter's own future, taken by `grant`.
    waker: Mutex<Option<Waker>>,
}

impl Waiter {
    /// A new, ungranted waiter.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Marks the waiter granted and wakes its task.
    pub(crate) fn grant(&self) {
        self.granted.store(true, Ordering::SeqCst);
        if let Some(w) = lock(&self.waker).take() {
            w.wake();
        }
    }

    /// Whether [`Waiter::grant`] was called.
    pub(crate) fn is_granted(&self) -> bool {
        self.granted.load(Ordering::SeqCst)
    }

    /// Ready once granted; otherwise records `cx`'s waker.
    pub(crate) fn poll_granted(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_granted() {
            return Poll::Ready(());
        }
        *lock(&self.waker) = Some(cx.waker().clone());
        if self.is_granted() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Locks a std mutex, ignoring poisoning (a panicking scenario task must not wedge others).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A FIFO queue of waiters.
pub(crate) type WaitQueue = Mutex<VecDeque<Arc<Waiter>>>;

/// Grants the oldest waiter in `queue`, if any; returns whether one was granted.
pub(crate) fn grant_one(queue: &WaitQueue) -> bool {
    let w = lock(queue).pop_front();
    match w {
        Some(w) => {
            w.grant();
            true
        }
        None => false,
    }
}

/// Waits until `waiter` (already pushed onto `queue`) is granted. Dropped early, it leaves
/// the queue, or, if it was already popped, hands its grant to the next waiter.
pub(crate) struct Granted<'a> {
    /// The waiter this future parks.
    pub(crate) waiter: Arc<Waiter>,
    /// The queue it sits in.
    pub(crate) queue: &'a WaitQueue,
    /// Hands a grant this future will not use to someone else; `None`: the next waiter in
    /// `queue`.
    pub(crate) pass_on: Option<&'a (dyn Fn() + Sync)>,
    /// Set once the grant was consumed by this future.
    pub(crate) done: bool,
}

impl<'a> Granted<'a> {
    /// Parks `waiter`, which the caller already pushed onto `queue`.
    pub(crate) fn new(waiter: Arc<Waiter>, queue: &'a WaitQueue) -> Self {
        Self {
            waiter,
            queue,
            pass_on: None,
            done: false,
        }
    }
}

impl Future for Granted<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let r = self.waiter.poll_granted(cx);
        if r.is_ready() {
            self.done = true;
        }
        r
    }
}

impl Drop for Granted<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut q = lock(self.queue);
        if let Some(pos) = q.iter().position(|w| Arc::ptr_eq(w, &self.waiter)) {
            q.remove(pos);
        } else {
            drop(q);
            match self.pass_on {
                Some(pass_on) => pass_on(),
                None => {
                    grant_one(self.queue);
                }
            }
        }
    }
}
