//! `asyncio.Future`: pending until a result or an exception is set (once); awaitable by any
//! number of tasks; done-callbacks scheduled through the loop, never run inside `set_result`
//! (rules F1, F3, F5).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use harness::RuntimeHandle;

use super::waiter::lock;

/// Why `result()` or a second `set_*` failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FutureError {
    /// `InvalidStateError`: not done yet (for `result`) or already done (for `set_*`).
    InvalidState,
    /// The future holds this exception.
    Exception(String),
}

type Callback = Box<dyn FnOnce() + Send>;

/// The shared state.
struct State<T> {
    /// `None` while pending.
    outcome: Option<Result<T, String>>,
    /// Tasks awaiting the outcome.
    wakers: Vec<Waker>,
    /// Done-callbacks not yet scheduled, in registration order.
    callbacks: Vec<Callback>,
}

/// A future in the asyncio sense: a cell set once, awaited by many.
pub struct AioFuture<T> {
    state: Arc<Mutex<State<T>>>,
}

impl<T> Clone for AioFuture<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> Default for AioFuture<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Send + 'static> AioFuture<T> {
    /// A pending future.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                outcome: None,
                wakers: Vec::new(),
                callbacks: Vec::new(),
            })),
        }
    }

    /// Whether a result or an exception was set.
    pub fn done(&self) -> bool {
        lock(&self.state).outcome.is_some()
    }

    /// Sets the result; `InvalidState` when already done.
    pub fn set_result(&self, value: T) -> Result<(), FutureError> {
        self.complete(Ok(value))
    }

    /// Sets the exception; `InvalidState` when already done.
    pub fn set_exception(&self, message: impl Into<String>) -> Result<(), FutureError> {
        self.complete(Err(message.into()))
    }

    fn complete(&self, outcome: Result<T, String>) -> Result<(), FutureError> {
        let (wakers, callbacks) = {
            let mut s = lock(&self.state);
            if s.outcome.is_some() {
                return Err(FutureError::InvalidState);
            }
            s.outcome = Some(outcome);
            (
                std::mem::take(&mut s.wakers),
                std::mem::take(&mut s.callbacks),
            )
        };
        wakers.into_iter().for_each(Waker::wake);
        callbacks.into_iter().for_each(|cb| cb());
        Ok(())
    }

    /// The result, the exception, or `InvalidState` while pending.
    pub fn result(&self) -> Result<T, FutureError> {
        match &lock(&self.state).outcome {
            None => Err(FutureError::InvalidState),
            Some(Ok(v)) => Ok(v.clone()),
            Some(Err(e)) => Err(FutureError::Exception(e.clone())),
        }
    }

    /// The exception, if one was set.
    pub fn exception(&self) -> Option<String> {
        match &lock(&self.state).outcome {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    /// Schedules `cb` through the loop (`call_soon_threadsafe`) once the future is done;
    /// at once if it already is. Never runs `cb` inside `set_result`.
    pub fn add_done_callback<H: RuntimeHandle>(&self, h: &H, cb: impl FnOnce() + Send + 'static) {
        let h = h.clone();
        let schedule: Callback = Box::new(move || h.call_soon_threadsafe(cb));
        let mut s = lock(&self.state);
        if s.outcome.is_some() {
            drop(s);
            schedule();
        } else {
            s.callbacks.push(schedule);
        }
    }

    /// Awaits the outcome: the value, or the exception as `Err`.
    pub fn wait(&self) -> impl Future<Output = Result<T, String>> + Send + 'static {
        let state = self.state.clone();
        std::future::poll_fn(move |cx| {
            let mut s = lock(&state);
            match &s.outcome {
                Some(o) => Poll::Ready(o.clone()),
                None => {
                    s.wakers.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }
}
