//! Which loop runs on this thread: the thread-local [`CURRENT`] (tokio's
//! `runtime/context.rs`), and the wake path that reads it.
//!
//! Everything that must find "the running loop" without a lock — a task's waker, a socket,
//! a `Sleep`, a spawn from inside a task — asks here. The thread-local holds the concrete
//! scheduler core, so those paths are static calls; that is why this module sits just
//! above `scheduler` (whose `Core` knows no thread-local) and below every module that asks.
//!
//! Protocol: [`Entered`] makes a core current for as long as it lives and restores the
//! previous one when dropped, even by unwinding. The wake path ([`Schedule`] for [`Shared`]):
//! on the loop's own thread, while it runs, queue the task directly (no lock, no atomic
//! read-modify-write, no allocation); anywhere else, send a [`Message::Wake`].

use std::cell::RefCell;
use std::rc::Rc;

use super::mutants::{self, Fault};
use super::scheduler::Core;
use super::shared::{Message, Shared};
use super::task::Schedule;

thread_local! {
    /// The loop running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Runs `f` with the loop running on this thread (`None` outside any loop).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    // Checked apart from the call so that `f` is moved straight in (this runs several
    // times per message): `try_with` fails only once the thread is exiting and its locals
    // are gone, and then no loop runs here any more.
    if CURRENT.try_with(|_| ()).is_err() {
        return f(None);
    }
    CURRENT.with(|c| f(c.borrow().as_deref()))
}

/// The loop running on this thread, shared.
pub(crate) fn current_core() -> Option<Rc<Core>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Whether the loop with id `id` is the one running on this thread.
#[cfg(feature = "mutants")]
pub(crate) fn is_current(id: u64) -> bool {
    with_current(|core| core.is_some_and(|c| c.id() == id))
}

/// Makes a core the current one for as long as it lives.
pub(crate) struct Entered {
    /// The loop that was current before (nested runs of different loops).
    previous: Option<Rc<Core>>,
}

impl Entered {
    /// Makes `core` current on this thread.
    pub(crate) fn new(core: &Rc<Core>) -> Self {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(core.clone()));
        Self { previous }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // The core that was current is dropped after the borrow ends: its destructor may
        // look here again.
        let left = CURRENT.try_with(|c| std::mem::replace(&mut *c.borrow_mut(), previous));
        drop(left);
    }
}

impl Schedule for Shared {
    #[inline]
    fn schedule(&self, key: u64) {
        with_current(|core| match core {
            Some(core) if core.id() == self.id => {
                if mutants::active(Fault::WakePollsInline) && core.try_run_inline(key) {
                    return;
                }
                core.schedule(key)
            }
            _ => self.inject(Message::Wake(key)),
        });
    }
}
