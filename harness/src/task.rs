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
/// What *dropping* the handle does is the runtime's native behaviour and is deliberately not
/// specified here (tokio and async-std detach, smol cancels): the conformance suite reports it.
pub trait TaskHandle<T>: Future<Output = Result<T, JoinError>> + Send + Unpin + 'static {
    /// Requests cancellation: the task stops at its next suspension point and awaiting the
    /// handle then yields [`JoinError::Cancelled`]. Aborting a finished task changes nothing.
    fn abort(&mut self);
    /// Lets the task run to completion with nobody awaiting it.
    fn detach(self);
    /// Whether the task has completed (with a value, a panic or by cancellation).
    fn is_finished(&self) -> bool;
}
