//! asyncio's primitives and combinators, written once on top of [`harness::RuntimeHandle`]
//! so every runtime is checked against the same reference behaviour.
//!
//! - [`future::AioFuture`]: `asyncio.Future` (result or exception, set once, done-callbacks
//!   scheduled through the loop).
//! - [`sync`]: `Lock`, `Event`, `Condition`, `Semaphore`, `Queue`, with asyncio's FIFO
//!   hand-off: a released permit goes to the oldest waiter, never to a late-comer.
//! - [`combinators`]: `gather`, `wait` (done/pending), `wait_for`, `as_completed`.
//!
//! Invariant: none of these names a runtime; the only runtime services used are `spawn`
//! and `sleep` through the handle, and `Waker`s.

pub mod combinators;
pub mod future;
pub mod sync;
mod waiter;
