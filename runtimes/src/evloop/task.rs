//! Tasks: a spawned future in its slot on the loop ([`TaskSlot`]), the state it shares with
//! its [`JoinHandle`] ([`JoinState`]), its waker, and the plain closures the loop also runs
//! ([`Callback`]).
//!
//! This module knows no loop: a task reaches its loop only through the [`Schedule`] it was
//! given (tokio's `task::Schedule`), which the loop implements above this layer (in
//! `context`: queue directly on the loop's own thread, else send a message).
//!
//! One spawn allocates twice: the boxed future and one `Arc<JoinState>`, which is at once the
//! join handle's target and the task's waker (`std::task::Wake`). Polling allocates nothing:
//! the waker is made once and lent to every poll.
//!
//! Invariants: a task's outcome is set once (`JoinState::complete` ignores later calls); a
//! task slot that is dropped without completing reports `Cancelled` to its join handle, after
//! its future (and the destructors inside it) has been dropped; dropping a `JoinHandle`
//! detaches the task (asyncio semantics), it never cancels it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use harness::{JoinError, TaskHandle};

use super::mutants::{self, Fault};
use super::slab::{reserved_token, Key};

/// Key of a task not placed on the loop yet, and of blocking jobs (never on the loop).
pub(crate) const NO_KEY: u64 = reserved_token(0);

/// How a task gets queued on its loop: the one thing a task knows of the loop it belongs to.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues the task (or root future) with slot key `key`, from any thread; a key the loop
    /// no longer has is ignored.
    fn schedule(&self, key: u64);
}

/// What a task and its join handle share.
pub(crate) struct JoinState<T> {
    /// The task's slot key, stored by the loop thread when it places the task ([`NO_KEY`]
    /// before that); read by wakers on any thread.
    key: AtomicU64,
    /// Queues the task on the loop it belongs to.
    sched: Arc<dyn Schedule>,
    /// Set by `abort`; the loop drops the task at its next turn.
    aborted: AtomicBool,
    /// Outcome and the waker of whoever awaits the join handle.
    inner: Mutex<JoinInner<T>>,
}

struct JoinInner<T> {
    /// The outcome until the join handle takes it.
    outcome: Option<Result<T, JoinError>>,
    /// Whether the task completed (stays true after the outcome is taken).
    finished: bool,
    /// Who awaits the join handle.
    awaiter: Option<Waker>,
}

impl<T> JoinState<T> {
    /// Fresh state for a task queued through `sched`.
    pub(crate) fn new(sched: Arc<dyn Schedule>) -> Arc<Self> {
        Arc::new(Self {
            key: AtomicU64::new(NO_KEY),
            sched,
            aborted: AtomicBool::new(false),
            inner: Mutex::new(JoinInner {
                outcome: None,
                finished: false,
                awaiter: None,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JoinInner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the outcome (first call wins) and wakes the awaiter.
    pub(crate) fn complete(&self, outcome: Result<T, JoinError>) {
        let awaiter = {
            let mut inner = self.lock();
            if inner.finished && !mutants::active(Fault::OutcomeOverwritten) {
                return;
            }
            inner.finished = true;
            inner.outcome = Some(outcome);
            inner.awaiter.take()
        };
        if let Some(w) = awaiter {
            w.wake();
        }
    }

    /// Whether `abort` was called.
    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Queues the task on its loop (nothing before the loop placed it: its first poll is
    /// queued anyway).
    #[inline]
    fn schedule(&self) {
        let key = self.key.load(Ordering::Acquire);
        if key != NO_KEY {
            self.sched.schedule(key);
        }
    }
}

/// The loop's type-erased view of a task's [`JoinState`].
pub(crate) trait TaskHeader: Send + Sync {
    /// Records the slot key (loop thread, once).
    fn set_key(&self, key: Key);
    /// Whether `abort` was called.
    fn aborted(&self) -> bool;
    /// Completes the task with an error (no effect if it already completed).
    fn fail(&self, error: JoinError);
}

impl<T: Send + 'static> TaskHeader for JoinState<T> {
    fn set_key(&self, key: Key) {
        self.key.store(key.to_u64(), Ordering::Release);
    }
    fn aborted(&self) -> bool {
        self.is_aborted()
    }
    fn fail(&self, error: JoinError) {
        self.complete(Err(error));
    }
}

impl<T: Send + 'static> Wake for JoinState<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

/// The part of a task the loop moves out of its slot while polling it, so no borrow of the
/// task table is held during a poll.
pub(crate) struct TaskRun {
    /// The task's future; its output goes to the join state from inside it.
    pub future: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The task's waker, lent to every poll.
    pub waker: Waker,
}

/// A task as the loop stores it.
pub(crate) struct TaskSlot {
    /// Future and waker; `None` only while the loop polls it.
    pub run: Option<TaskRun>,
    /// The join state, type-erased.
    pub header: Arc<dyn TaskHeader>,
    /// The future's type name, for debug reports.
    pub name: &'static str,
    /// Whether the task is in the ready queue (so a second wake does not queue it twice).
    pub scheduled: bool,
    /// Whether the task was polled at least once.
    pub polled: bool,
}

impl TaskSlot {
    /// A slot for `fut` and the join handle that awaits it.
    pub(crate) fn new<F>(sched: Arc<dyn Schedule>, fut: F) -> (TaskSlot, JoinHandle<F::Output>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let state = JoinState::new(sched);
        let done = state.clone();
        let future = Box::pin(async move {
            let output = fut.await;
            done.complete(Ok(output));
        });
        let slot = TaskSlot {
            run: Some(TaskRun {
                future,
                waker: Waker::from(state.clone()),
            }),
            header: state.clone(),
            name: std::any::type_name::<F>(),
            scheduled: false,
            polled: false,
        };
        (slot, JoinHandle::from_state(state))
    }
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        // The future first: its destructors run before the awaiter learns of the cancel.
        drop(self.run.take());
        self.header.fail(JoinError::Cancelled);
    }
}

/// Awaits a spawned task or blocking job. Dropping it detaches the task.
pub struct JoinHandle<T> {
    /// Shared with the task.
    state: Arc<JoinState<T>>,
    /// [`Fault::DropHandleCancels`]: set by `detach`, which must keep the task running.
    #[cfg(feature = "mutants")]
    detached: bool,
}

impl<T> JoinHandle<T> {
    /// A handle onto `state` (blocking jobs build theirs directly).
    pub(crate) fn from_state(state: Arc<JoinState<T>>) -> Self {
        Self {
            state,
            #[cfg(feature = "mutants")]
            detached: false,
        }
    }

    /// Asks the loop to drop the task at its next turn (see [`JoinHandle::abort`]).
    fn request_abort(&self) {
        if self.state.lock().finished {
            return;
        }
        if mutants::active(Fault::CancelIgnored) {
            // Reports the task cancelled, and leaves it running.
            self.state.complete(Err(JoinError::Cancelled));
            return;
        }
        self.state.aborted.store(true, Ordering::Release);
        // Queue the task so the loop sees the flag even if it waits on I/O.
        self.state.schedule();
    }
}

#[cfg(feature = "mutants")]
impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if mutants::active(Fault::DropHandleCancels)
            && !self.detached
            && !self.state.lock().finished
        {
            self.state.aborted.store(true, Ordering::Release);
            self.state.schedule();
        }
    }
}

impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.state.lock();
        if let Some(outcome) = inner.outcome.take() {
            return Poll::Ready(outcome);
        }
        if inner.finished {
            // Polled again after it returned its outcome.
            return Poll::Ready(Err(JoinError::Cancelled));
        }
        match &mut inner.awaiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T: Send + 'static> TaskHandle<T> for JoinHandle<T> {
    fn cancel(self) -> impl Future<Output = Result<T, JoinError>> + Send {
        self.abort();
        self
    }

    #[allow(unused_mut)] // `mut` is used by the `mutants` build
    fn detach(mut self) {
        #[cfg(feature = "mutants")]
        {
            self.detached = true;
        }
    }
}

impl<T> JoinHandle<T> {
    /// Requests cancellation (asyncio `task.cancel()`): the loop drops the task at its next
    /// turn, after which awaiting the handle yields `Cancelled`. Aborting a finished task
    /// changes nothing.
    pub fn abort(&self) {
        self.request_abort();
    }

    /// Whether the task has completed (with a value, a panic, or by cancellation).
    pub fn is_finished(&self) -> bool {
        self.state.lock().finished
    }
}

/// Returns `Pending` once after queueing itself at the back of the ready queue.
#[derive(Default)]
pub struct YieldNow {
    /// Whether it already yielded.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A closure queued on the loop (`call_soon`, a timer's `call_later`).
pub(crate) struct Callback {
    /// The closure.
    f: Box<dyn FnOnce()>,
    /// Its type name, for debug reports.
    pub(crate) name: &'static str,
}

impl Callback {
    /// Wraps `f`.
    pub(crate) fn new(f: impl FnOnce() + 'static) -> Self {
        Self {
            name: std::any::type_name_of_val(&f),
            f: Box::new(f),
        }
    }

    /// Wraps a closure another thread sent, under the type name it was sent with.
    pub(crate) fn named(f: Box<dyn FnOnce()>, name: &'static str) -> Self {
        Self { f, name }
    }

    /// Runs it.
    pub(crate) fn run(self) {
        (self.f)();
    }
}
