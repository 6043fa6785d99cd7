//! Join handles: how a spawned task's result, cancellation or panic comes back.

use std::fmt;
use std::future::Future;

/// Why a task produced no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// The task was aborted (or its runtime dropped it) before it completed.
    Cancelled,
    /// The task panicked; the payload's message, when it was a string.
    Panicked(String),
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task was cancelled"),
            JoinError::Panicked(msg) => write!(f, "task panicked: {msg}"),
        }
    }
}

impl std::error::Error for JoinError {}

impl JoinError {
    /// Builds a `Panicked` error from a panic payload as `catch_unwind` returns it.
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        JoinError::Panicked(panic_message(payload.as_ref()))
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// A handle to a spawned task. Awaiting it yields the task's value or a [`JoinError`].
///
/// Every method is the runtime's own API, unwrapped (no adapter keeps extra per-task state):
///
/// - *Awaiting* the handle is the runtime's join. How a panic of the task surfaces is the
///   runtime's native behaviour too: tokio and evloop yield [`JoinError::Panicked`]; smol and
///   async-std (async-task with `propagate_panic`) re-raise the panic in whoever awaits the
///   handle, so the awaiting future panics. The conformance suite records either.
/// - *Dropping* the handle is the runtime's native behaviour and deliberately not specified
///   here (tokio, async-std and evloop detach; smol cancels): the conformance suite reports it.
///
/// (Changed for issue 11: `abort(&mut self)` and `is_finished(&self)` were replaced by
/// [`TaskHandle::cancel`], because async-std's and smol's cancel is async and consumes the
/// handle, and async-std has no completion query; emulating either needed per-task state.)
pub trait TaskHandle<T>: Future<Output = Result<T, JoinError>> + Send + Unpin + 'static {
    /// Cancels the task with the runtime's own cancel and waits until it has stopped (asyncio
    /// `task.cancel()` followed by awaiting the task). Yields [`JoinError::Cancelled`], or, when
    /// the task had already finished, its outcome: cancelling a finished task changes nothing.
    ///
    /// Adapters: tokio `JoinHandle::abort` then await; async-std `JoinHandle::cancel`; smol
    /// `Task::cancel`; evloop sets its abort flag (the loop drops the task at its next turn)
    /// then awaits.
    fn cancel(self) -> impl Future<Output = Result<T, JoinError>> + Send;
    /// Lets the task run to completion with nobody awaiting it.
    fn detach(self);
}
