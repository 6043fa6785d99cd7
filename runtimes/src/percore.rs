//! What the thread-per-core adapters (compio, monoio) share: their runtimes, tasks and I/O
//! objects are bound to one thread (`!Send`), while the harness's handle must spawn from any
//! thread and its futures and streams must be `Send`.
//!
//! Protocol (the dispatcher pattern of compio's `compio-dispatcher`):
//! - A spawn made on the runtime's own thread, while it runs, goes straight to the runtime's
//!   native `spawn` and returns its native join handle.
//! - A spawn from any other thread (or from the runtime's thread outside `block_on`) is a
//!   [`Job`] sent through an unbounded channel that one task of the runtime drains
//!   ([`drain_jobs`]); the job spawns natively and hands the native join handle over through
//!   a [`Slot`]. What the caller asked for meanwhile (abort, detach) is applied to the native
//!   handle the moment it exists, so dropping and detaching keep the runtime's own meaning.
//!   If the runtime is gone before the job ran, the slot reports it and the join yields
//!   `Cancelled`.
//! - Futures and I/O objects of the runtime live in a `SendWrapper`: `Send` in the type
//!   system, and a panic naming the misuse if touched from another thread. They are created
//!   on the runtime's thread: [`OnThread`] defers creating its future to its first poll.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use send_wrapper::SendWrapper;

/// Work run on the runtime's thread, inside the runtime (it may spawn natively).
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// The sending side of a runtime's job channel; one per runtime, cloned into handles.
pub(crate) type JobSender = UnboundedSender<Job>;

/// Creates a runtime's job channel.
pub(crate) fn job_channel() -> (JobSender, UnboundedReceiver<Job>) {
    futures::channel::mpsc::unbounded()
}

/// The body of the task that runs every job sent to its runtime, in order.
pub(crate) async fn drain_jobs(mut jobs: UnboundedReceiver<Job>) {
    while let Some(job) = jobs.next().await {
        job();
    }
}

/// A runtime's native join handle, as far as the cross-thread path needs it.
pub(crate) trait NativeJoin: Send + 'static {
    /// Lets the task run on with nobody awaiting it (the runtime's own `detach`).
    fn detach(self);
}

/// What the caller did with a cross-thread spawn before its native handle existed.
enum SlotState<J> {
    /// The job has not run yet; wake this waker when it has.
    Waiting(Option<Waker>),
    /// The job ran; the native handle waits to be taken.
    Spawned(J),
    /// The caller aborted: the native handle is dropped as soon as it exists.
    Aborted,
    /// The caller detached: the native handle is detached as soon as it exists.
    Detached,
    /// The job was dropped without running (the runtime is gone), or the handle was taken.
    Gone,
}

/// Where a job leaves the native join handle of the task it spawned.
pub(crate) struct Slot<J>(Arc<Mutex<SlotState<J>>>);

/// The job's end of a [`Slot`]: fills it, or marks it gone when dropped unfilled.
pub(crate) struct SlotFiller<J: NativeJoin>(Option<Arc<Mutex<SlotState<J>>>>);

/// A new, empty slot and the filler the job takes along.
pub(crate) fn slot<J: NativeJoin>() -> (Slot<J>, SlotFiller<J>) {
    let shared = Arc::new(Mutex::new(SlotState::Waiting(None)));
    (Slot(shared.clone()), SlotFiller(Some(shared)))
}

impl<J: NativeJoin> SlotFiller<J> {
    /// Hands over the native handle; applies an abort (drop) or detach asked for meanwhile.
    pub(crate) fn fill(mut self, native: J) {
        let Some(shared) = self.0.take() else { return };
        let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, SlotState::Gone) {
            SlotState::Waiting(waker) => {
                *state = SlotState::Spawned(native);
                drop(state);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            SlotState::Detached => {
                drop(state);
                native.detach();
            }
            // Aborted: the native drop is the runtime's own cancellation (compio) or
            // detachment (monoio, which has no cancellation).
            _ => drop(native),
        }
    }
}

impl<J: NativeJoin> Drop for SlotFiller<J> {
    fn drop(&mut self) {
        let Some(shared) = self.0.take() else { return };
        let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let SlotState::Waiting(waker) = std::mem::replace(&mut *state, SlotState::Gone) {
            drop(state);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<J> Slot<J> {
    /// The native handle once the job ran (`Ready(Some)`), `Ready(None)` if it never will.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<J>> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, SlotState::Gone) {
            SlotState::Spawned(j) => Poll::Ready(Some(j)),
            SlotState::Waiting(_) => {
                *state = SlotState::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            _ => Poll::Ready(None),
        }
    }

    /// The native handle if the job already ran; otherwise records `abort` or `detach`
    /// (`abort == false`) for the job to apply, and returns `None`.
    pub(crate) fn take_or_mark(&self, abort: bool) -> Option<J> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, SlotState::Gone) {
            SlotState::Spawned(j) => Some(j),
            SlotState::Waiting(_) => {
                *state = if abort {
                    SlotState::Aborted
                } else {
                    SlotState::Detached
                };
                None
            }
            other => {
                *state = other;
                None
            }
        }
    }
}

/// Builds a thread-bound future from its `Send` argument.
type MakeFuture<A, T> = fn(A) -> LocalBoxFuture<'static, T>;

/// A future of a thread-bound runtime, created at its first poll (so on the thread that
/// polls it, which is the runtime's) from a `Send` argument, and kept in a `SendWrapper`.
pub struct OnThread<A, T> {
    /// The argument and the constructor, until the first poll.
    start: Option<(A, MakeFuture<A, T>)>,
    /// The running future, bound to the thread of the first poll.
    running: Option<SendWrapper<LocalBoxFuture<'static, T>>>,
}

impl<A, T> OnThread<A, T> {
    /// A future that will run `make(arg)` on the thread that first polls it.
    pub(crate) fn new(arg: A, make: MakeFuture<A, T>) -> Self {
        Self {
            start: Some((arg, make)),
            running: None,
        }
    }
}

impl<A: Unpin, T> Future for OnThread<A, T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.running.is_none() {
            let (arg, make) = self.start.take().expect("OnThread polled after completion");
            self.running = Some(SendWrapper::new(make(arg)));
        }
        let running = self.running.as_mut().expect("set above");
        assert!(
            running.valid(),
            "a future of a thread-per-core runtime was polled off the thread it started on"
        );
        running.as_mut().poll(cx)
    }
}

/// A value of a thread-bound runtime (a listener, a stream), usable only on the thread that
/// created it; touching it elsewhere panics with a message saying so.
pub(crate) struct Bound<T>(SendWrapper<T>);

impl<T> Bound<T> {
    /// Binds `value` to the current thread.
    pub(crate) fn new(value: T) -> Self {
        Self(SendWrapper::new(value))
    }

    /// The value; panics off its thread.
    pub(crate) fn get(&self) -> &T {
        assert!(self.0.valid(), "{}", OFF_THREAD);
        &self.0
    }

    /// The value; panics off its thread.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        assert!(self.0.valid(), "{}", OFF_THREAD);
        &mut self.0
    }
}

/// The panic message of a thread-bound value used from another thread.
const OFF_THREAD: &str = "an I/O object of a thread-per-core runtime (compio, monoio) was used \
                          off the runtime's thread, which that runtime does not allow";
