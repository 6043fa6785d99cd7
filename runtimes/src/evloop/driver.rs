//! The driver boundary: what the scheduler needs from an I/O driver, whichever system
//! interface it is built on (epoll in `reactor`, io_uring in `uring`).
//!
//! A driver is a leaf: it knows the kernel (through `sys*`) and `Waker`s, never the
//! scheduler, the tasks or the thread-local of the running loop. Protocol of
//! [`Driver::wait`]: hand the kernel whatever was queued, wait (or only look, when not
//! blocking) for events, record them in the driver's own state, then wake the waiters
//! **after** releasing every borrow of that state, so a waker may run any code, including
//! code that uses the same driver.

use std::io;
use std::time::Instant;

/// What one wait found besides socket events.
#[derive(Default)]
pub(crate) struct WaitOutcome {
    /// The loop's eventfd fired: another thread queued something.
    pub notified: bool,
    /// Some socket had an event ([`Fault::IoStarvesTimers`](super::mutants::Fault)).
    #[cfg(feature = "mutants")]
    pub sockets_ready: bool,
}

/// An I/O driver, as the scheduler drives it: one [`Driver::wait`] per iteration that polls
/// I/O.
pub(crate) trait Driver {
    /// Waits for I/O events (blocking unless `block` is false, and then at most until
    /// `deadline`, the earliest timer) and wakes the waiters of whatever became ready.
    fn wait(&self, block: bool, deadline: Option<Instant>) -> io::Result<WaitOutcome>;

    /// Whether the driver holds work only a [`Driver::wait`] hands to the kernel (queued
    /// sends, say), so the scheduler must not skip the I/O step while tasks are busy.
    fn wants_wait(&self) -> bool {
        false
    }

    /// Number of registered sockets (for the loop's census).
    fn sources(&self) -> usize;
}
