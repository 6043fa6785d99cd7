//! How `run_until_complete` and `run_forever` drive the loop: [`Enter`] marks a loop as
//! running and makes it current on this thread (`context`), then repeats iterations until
//! the root future completes or `stop()` is called.
//!
//! Invariants: a loop runs at most once at a time, and no other loop runs on its thread
//! meanwhile (either panics, like asyncio's "loop is already running" and "cannot run the
//! event loop while another loop is running"); leaving, even by a panic of the root future, restores the
//! previously current loop.

use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::context::{self, Entered};
use super::mutants::{self, Fault};
use super::scheduler::{Core, Root, ROOT_KEY};
use super::shared::Shared;
use super::task::Schedule;

/// The waker of the future `block_on` drives: queues `Root`.
struct RootWaker(Arc<Shared>);

impl Wake for RootWaker {
    fn wake(self: Arc<Self>) {
        self.0.schedule(ROOT_KEY);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.schedule(ROOT_KEY);
    }
}

/// Marks a core as running, and current on this thread, for as long as it lives.
pub(crate) struct Enter {
    /// The core entered.
    core: Rc<Core>,
    /// Keeps it current; restores the previous one when dropped.
    _entered: Entered,
}

impl Enter {
    /// Enters `core`; panics if it is already running (asyncio's "loop is already running")
    /// or another loop runs on this thread (asyncio's "cannot run the event loop while
    /// another loop is running": a nested run would block the outer loop).
    pub(crate) fn new(core: &Rc<Core>) -> Self {
        let other_running = context::with_current(|c| c.is_some_and(|c| c.id() != core.id()))
            && !mutants::active(Fault::NestedRunAllowed);
        assert!(
            !other_running,
            "evloop: cannot run the event loop while another loop is running"
        );
        let was_running = core.set_running(true);
        assert!(!was_running, "evloop: the event loop is already running");
        Self {
            core: core.clone(),
            _entered: Entered::new(core),
        }
    }

    /// Runs `fut` to completion: the root of `block_on` / `run_until_complete`.
    pub(crate) fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let mut output = None;
        let mut poll = |cx: &mut Context<'_>| match fut.as_mut().poll(cx) {
            Poll::Ready(v) => {
                output = Some(v);
                true
            }
            Poll::Pending => false,
        };
        let mut root = Root {
            poll: &mut poll,
            waker: Waker::from(Arc::new(RootWaker(self.core.shared.clone()))),
            done: false,
        };
        self.core.schedule(ROOT_KEY);
        while !root.done {
            self.core.run_once(false, Some(&mut root));
        }
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::BlockOnWaitsForAll) {
            while self.core.task_count() > 0 {
                self.core.run_once(false, Some(&mut root));
            }
        }
        drop(root);
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::StopDropsQueued) {
            self.core.drop_queued_callbacks();
        }
        output.expect("root future completed")
    }

    /// Runs iterations until `stop()` (asyncio `run_forever`).
    pub(crate) fn run_forever(&self) {
        loop {
            let stopping = self.core.stop_requested();
            self.core.run_once(stopping, None);
            if self.core.take_stop() {
                break;
            }
        }
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::StopDropsQueued) {
            self.core.drop_queued_callbacks();
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        // `_entered` restores the previous loop right after this.
        self.core.set_running(false);
    }
}
