//! asyncio's combinators over tasks (rules C2–C5): `gather`, `wait` with a timeout returning
//! done and pending, `wait_for`, `as_completed`.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures::stream::{FuturesUnordered, Stream};
use harness::{JoinError, RuntimeHandle, TaskHandle};

/// `asyncio.gather(*aws)`: runs every future as a task and returns their outcomes in argument
/// order, whatever order they finish in.
pub async fn gather<H, F>(h: &H, futs: Vec<F>) -> Vec<Result<F::Output, JoinError>>
where
    H: RuntimeHandle,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futs.into_iter().map(|f| h.spawn(f)).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await);
    }
    out
}

/// What [`wait`] returns: finished tasks with their outcome, and the still-pending tasks,
/// each with its index in the argument list.
pub struct Waited<T, J> {
    /// `(index, outcome)` in completion order.
    pub done: Vec<(usize, Result<T, JoinError>)>,
    /// `(index, handle)` of the tasks still running; not cancelled.
    pub pending: Vec<(usize, J)>,
}

/// `asyncio.wait(tasks, timeout)`: waits until every task is done or `timeout` passes, and
/// returns `(done, pending)` without cancelling `pending` (rule C3).
pub async fn wait<H, T, J>(h: &H, tasks: Vec<J>, timeout: Option<Duration>) -> Waited<T, J>
where
    H: RuntimeHandle,
    J: TaskHandle<T>,
{
    let mut slots: Vec<Option<J>> = tasks.into_iter().map(Some).collect();
    let mut done = Vec::new();
    let mut timer = timeout.map(|d| Box::pin(h.sleep(d)));
    std::future::poll_fn(|cx| {
        for (i, slot) in slots.iter_mut().enumerate() {
            if let Some(task) = slot {
                if let Poll::Ready(outcome) = Pin::new(task).poll(cx) {
                    done.push((i, outcome));
                    *slot = None;
                }
            }
        }
        if slots.iter().all(Option::is_none) {
            return Poll::Ready(());
        }
        match timer.as_mut() {
            Some(t) => t.as_mut().poll(cx),
            None => Poll::Pending,
        }
    })
    .await;
    let pending = slots
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|t| (i, t)))
        .collect();
    Waited { done, pending }
}

/// `asyncio.wait_for` timed out (the awaited future was cancelled: dropped).
pub use harness::TimedOut;

/// `asyncio.wait_for(aw, timeout)`: the output of `fut`, or, when `timeout` passes first,
/// [`TimedOut`] after cancelling `fut` (dropping it, so its destructors run). This is the
/// runtime's own time limit ([`RuntimeHandle::timeout`]: tokio's `time::timeout`,
/// async-std's `future::timeout`, smol's timer race).
pub async fn wait_for<H, F>(h: &H, fut: F, timeout: Duration) -> Result<F::Output, TimedOut>
where
    H: RuntimeHandle,
    F: Future + Send,
    F::Output: Send,
{
    h.timeout(timeout, fut).await
}

/// `asyncio.as_completed(tasks)`: the outcomes in completion order.
pub fn as_completed<T, J>(tasks: Vec<J>) -> impl Stream<Item = Result<T, JoinError>> + Unpin
where
    J: TaskHandle<T>,
{
    tasks.into_iter().collect::<FuturesUnordered<J>>()
}
