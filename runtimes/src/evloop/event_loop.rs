//! asyncio's loop API, natively: [`EventLoop`] is a loop-thread handle (`Rc`, not `Send`)
//! with `run_until_complete`, `run_forever`/`stop`, `call_soon`, `call_later`, `call_at`,
//! `time` and `call_soon_threadsafe`. Callbacks are plain closures the loop calls one at a
//! time, never inside one another.

use std::future::Future;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use harness::RuntimeHandle;

use super::context;
use super::handle::EvloopHandle;
use super::run::Enter;
use super::scheduler::Core;
use super::slab::Key;
use super::task::Callback;
use super::timer::TimerAction;

/// A handle onto an event loop for code running on the loop's thread (callbacks capture a
/// clone). Other threads use [`EvloopHandle`].
#[derive(Clone)]
pub struct EventLoop {
    /// The loop's thread-local state.
    pub(crate) core: Rc<Core>,
}

/// A timer from `call_later` / `call_at`; `cancel` stops it from firing.
pub struct TimerHandle {
    /// The loop (weak: a pending timer must not keep a dropped loop alive).
    core: Weak<Core>,
    /// The timer's key in the loop's queue.
    key: Key,
}

impl TimerHandle {
    /// Cancels the timer; returns whether it was still pending.
    pub fn cancel(&self) -> bool {
        self.core
            .upgrade()
            .is_some_and(|core| core.timers.borrow_mut().cancel(self.key))
    }
}

impl EventLoop {
    /// The loop running on this thread (asyncio `get_running_loop`).
    pub fn current() -> Option<EventLoop> {
        context::current_core().map(|core| EventLoop { core })
    }

    /// Runs the loop until `fut` completes and returns its output (asyncio L1). Spawned tasks
    /// and callbacks keep running meanwhile. Panics if the loop is already running.
    pub fn run_until_complete<F: Future>(&self, fut: F) -> F::Output {
        Enter::new(&self.core).block_on(fut)
    }

    /// Runs the loop until [`EventLoop::stop`] (asyncio L2).
    pub fn run_forever(&self) {
        Enter::new(&self.core).run_forever();
    }

    /// Makes `run_forever` return once the callbacks already queued have run; later ones
    /// stay queued for the next run. Called before `run_forever`, that run does one
    /// iteration.
    pub fn stop(&self) {
        self.core.stop();
    }

    /// Whether the loop is running.
    pub fn is_running(&self) -> bool {
        self.core.is_running()
    }

    /// Queues `f` to run on a later iteration, after everything queued before it (L3).
    pub fn call_soon(&self, f: impl FnOnce() + 'static) {
        self.core.call_soon(Callback::new(f));
    }

    /// Runs `f` no earlier than `delay` from now (L4).
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> TimerHandle {
        self.call_at(self.time() + delay, f)
    }

    /// Runs `f` no earlier than loop time `when` (L4).
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> TimerHandle {
        let action = TimerAction::Call(Callback::new(f));
        let key = self.core.timers.borrow_mut().insert(when, action);
        TimerHandle {
            core: Rc::downgrade(&self.core),
            key,
        }
    }

    /// The loop's monotonic clock (L5).
    pub fn time(&self) -> Instant {
        Instant::now()
    }

    /// Queues `f` from any thread, waking the loop (L6). Same as the handle's.
    pub fn call_soon_threadsafe(&self, f: impl FnOnce() + Send + 'static) {
        self.handle().call_soon_threadsafe(f);
    }

    /// The thread-safe handle (handing out epoll sockets; an `EvloopUring`'s own handle
    /// hands out io_uring ones).
    pub fn handle(&self) -> EvloopHandle {
        EvloopHandle::new(self.core.shared.clone())
    }

    /// Number of live tasks, pending timers and registered sockets (for tests and tools).
    pub fn census(&self) -> (usize, usize, usize) {
        (
            self.core.task_count(),
            self.core.timers.borrow().len(),
            self.core.source_count(),
        )
    }
}
