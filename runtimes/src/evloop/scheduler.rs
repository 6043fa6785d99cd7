//! The scheduler: one loop iteration at a time, on one thread (asyncio's `_run_once`).
//!
//! An iteration:
//! 1. wait for I/O through the loop's driver ([`Io`]: epoll or io_uring): block only if
//!    nothing is ready, and at most until the earliest timer (the driver arranges a wake-up
//!    at that deadline). While tasks are ready the loop polls I/O only every
//!    [`BUSY_IO_INTERVAL`] iterations (as tokio's `event_interval` does), so a hop from one
//!    task to another costs no system call, and I/O is still never starved; a driver holding
//!    work for the kernel (io_uring's queued sends) is polled at once;
//! 2. take what other threads sent (spawns, callbacks, wake-ups, stop);
//! 3. move every timer due by now to the ready queue;
//! 4. run the items that were ready when this step began, in FIFO order. Items queued
//!    while running (a task waking itself, a callback scheduling another) run in the next
//!    iteration: a busy task cannot starve I/O (polled at least every
//!    [`BUSY_IO_INTERVAL`] iterations), and a spawned task never starts inside `spawn`
//!    (asyncio F4).
//!
//! Invariants: the ready queue holds a task at most once (`TaskSlot::scheduled`); nothing is
//! polled or called while a `RefCell` of the core is borrowed, so wakers, spawns and timers
//! may be used from inside any task or callback; a panic in a task or callback is caught
//! around that one poll or call, reported, and the loop goes on. This module knows no
//! thread-local: `context` (above it) names the running core, which is how wakers, sockets
//! and timers find it without locks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use harness::task::panic_message;
use harness::JoinError;

use super::debug::{DebugConfig, DebugReport};
use super::driver::{Driver, WaitOutcome};
use super::mutants::{self, Fault};
use super::reactor::Reactor;
use super::shared::{Message, Shared};
use super::slab::{reserved_token, Key, Slab};
use super::task::{Callback, TaskRun, TaskSlot};
use super::timer::{TimerAction, TimerQueue};
#[cfg(feature = "evloop-uring")]
use super::uring::UringDriver;

/// While tasks are ready, I/O (and other threads' messages) are polled once every this many
/// iterations; when nothing is ready, every iteration waits for I/O. 61 is tokio's default
/// `event_interval`, which this mirrors.
pub(crate) const BUSY_IO_INTERVAL: u32 = 61;

/// Wake-up key of the future passed to `block_on`.
pub(crate) const ROOT_KEY: u64 = reserved_token(3);

/// The loop's I/O driver: the one the loop was built with.
// One per loop: its size does not matter, and boxing the larger driver would cost a load on
// every socket operation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Io {
    /// epoll, edge-triggered (`reactor`).
    Epoll(Reactor),
    /// io_uring (`uring`).
    #[cfg(feature = "evloop-uring")]
    Uring(UringDriver),
}

impl Io {
    /// The epoll driver, if that is the loop's.
    #[inline]
    pub(crate) fn epoll(&self) -> Option<&Reactor> {
        match self {
            Io::Epoll(r) => Some(r),
            #[cfg(feature = "evloop-uring")]
            _ => None,
        }
    }

    /// The io_uring driver, if that is the loop's.
    #[cfg(feature = "evloop-uring")]
    #[inline]
    pub(crate) fn uring(&self) -> Option<&UringDriver> {
        match self {
            Io::Uring(u) => Some(u),
            _ => None,
        }
    }

    /// See [`Driver::wants_wait`].
    #[inline]
    fn wants_wait(&self) -> bool {
        match self {
            Io::Epoll(r) => r.wants_wait(),
            #[cfg(feature = "evloop-uring")]
            Io::Uring(u) => u.wants_wait(),
        }
    }

    /// See [`Driver::sources`].
    fn sources(&self) -> usize {
        match self {
            Io::Epoll(r) => r.sources(),
            #[cfg(feature = "evloop-uring")]
            Io::Uring(u) => u.sources(),
        }
    }

    /// See [`Driver::wait`].
    #[inline]
    fn wait(&self, block: bool, deadline: Option<Instant>) -> io::Result<WaitOutcome> {
        match self {
            Io::Epoll(r) => r.wait(block, deadline),
            #[cfg(feature = "evloop-uring")]
            Io::Uring(u) => u.wait(block, deadline),
        }
    }
}

/// The future `block_on` drives, seen by the loop.
pub(crate) struct Root<'a> {
    /// Polls the future; true once it completed.
    pub(crate) poll: &'a mut dyn FnMut(&mut Context<'_>) -> bool,
    /// Queues `Root` when woken.
    pub(crate) waker: Waker,
    /// Whether it completed.
    pub(crate) done: bool,
}

/// An entry of the ready queue.
enum Runnable {
    /// Poll this task.
    Task(Key),
    /// Poll the future given to `block_on`.
    Root,
    /// Call this.
    Call(Callback),
}

/// The loop-thread state of one event loop.
pub(crate) struct Core {
    /// State other threads may touch.
    pub(crate) shared: Arc<Shared>,
    /// Items to run, in FIFO (`call_soon`) order.
    ready: RefCell<VecDeque<Runnable>>,
    /// Every live task.
    tasks: RefCell<Slab<TaskSlot>>,
    /// Pending timers.
    pub(crate) timers: RefCell<TimerQueue>,
    /// The I/O driver and the state of every socket.
    pub(crate) io: Io,
    /// Messages taken from `shared`; a buffer kept to avoid allocating per drain.
    inbox: RefCell<Vec<Message>>,
    /// `stop()` was called: `run_forever` returns after the current iteration.
    stopping: Cell<bool>,
    /// A `run_*` call is active.
    running: Cell<bool>,
    /// `Root` is in the ready queue.
    root_scheduled: Cell<bool>,
    /// Busy iterations (ready queue not empty) since I/O was last polled.
    busy_iterations: Cell<u32>,
    /// Debug-mode settings.
    debug: DebugConfig,
    /// Whether the batch of ready items is running (so a mutant may poll a task inline).
    #[cfg(feature = "mutants")]
    in_batch: Cell<bool>,
    /// Whether the last I/O poll reported a socket event ([`Fault::IoStarvesTimers`]).
    #[cfg(feature = "mutants")]
    io_hot: Cell<bool>,
}

impl Core {
    /// A core over `shared`, its I/O done by `io`.
    pub(crate) fn new(shared: Arc<Shared>, io: Io, debug: DebugConfig) -> Self {
        Self {
            io,
            shared,
            ready: RefCell::default(),
            tasks: RefCell::default(),
            timers: RefCell::default(),
            inbox: RefCell::default(),
            stopping: Cell::new(false),
            running: Cell::new(false),
            root_scheduled: Cell::new(false),
            busy_iterations: Cell::new(0),
            debug,
            #[cfg(feature = "mutants")]
            in_batch: Cell::new(false),
            #[cfg(feature = "mutants")]
            io_hot: Cell::new(false),
        }
    }

    /// The loop's unique id.
    pub(crate) fn id(&self) -> u64 {
        self.shared.id
    }

    /// Whether a `run_*` call is active.
    pub(crate) fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Number of live tasks.
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Number of sockets registered with the driver.
    pub(crate) fn source_count(&self) -> usize {
        self.io.sources()
    }

    /// Queues the task (or root) with this key, once.
    #[inline]
    pub(crate) fn schedule(&self, key: u64) {
        if key == ROOT_KEY {
            if !self.root_scheduled.replace(true) {
                self.ready.borrow_mut().push_back(Runnable::Root);
            }
            return;
        }
        let Some(key) = Key::from_u64(key) else {
            return;
        };
        if let Some(slot) = self.tasks.borrow_mut().get_mut(key) {
            if !slot.scheduled {
                slot.scheduled = true;
                self.ready.borrow_mut().push_back(Runnable::Task(key));
            }
        }
    }

    /// Places a new task and queues its first poll.
    pub(crate) fn spawn(&self, mut slot: TaskSlot) {
        slot.scheduled = true;
        let header = slot.header.clone();
        let key = self.tasks.borrow_mut().insert(slot);
        header.set_key(key);
        self.ready.borrow_mut().push_back(Runnable::Task(key));
        if mutants::active(Fault::SpawnRunsInline) {
            self.try_run_inline(key.to_u64());
        }
    }

    /// [`Fault::WakePollsInline`], [`Fault::SpawnRunsInline`]: polls task `key` now, inside
    /// the caller, if the batch is running and the task is not the one being polled. Returns
    /// whether it did.
    #[cfg(feature = "mutants")]
    pub(crate) fn try_run_inline(&self, key: u64) -> bool {
        if !self.in_batch.get() {
            return false;
        }
        let Some(key) = Key::from_u64(key) else {
            return false;
        };
        let runnable = self
            .tasks
            .borrow()
            .get(key)
            .is_some_and(|slot| slot.run.is_some());
        if runnable {
            self.run_task(key);
        }
        runnable
    }

    #[cfg(not(feature = "mutants"))]
    #[inline(always)]
    pub(crate) fn try_run_inline(&self, _key: u64) -> bool {
        false
    }

    /// [`Fault::StopDropsQueued`]: drops the callbacks still queued.
    #[cfg(feature = "mutants")]
    pub(crate) fn drop_queued_callbacks(&self) {
        let dropped: Vec<Runnable> = {
            let mut ready = self.ready.borrow_mut();
            let (calls, rest): (Vec<_>, Vec<_>) = ready
                .drain(..)
                .partition(|r| matches!(r, Runnable::Call(_)));
            ready.extend(rest);
            calls
        };
        drop_quietly(dropped);
    }

    /// Queues a callback (asyncio `call_soon`).
    pub(crate) fn call_soon(&self, cb: Callback) {
        self.ready.borrow_mut().push_back(Runnable::Call(cb));
    }

    /// Marks the core running (or not); returns the previous state.
    pub(crate) fn set_running(&self, running: bool) -> bool {
        self.running.replace(running)
    }

    /// Clears the stop request; returns whether there was one.
    pub(crate) fn take_stop(&self) -> bool {
        self.stopping.replace(false)
    }

    /// Whether a stop was requested.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stopping.get()
    }

    /// Makes `run_forever` return after the current iteration.
    pub(crate) fn stop(&self) {
        self.stopping.set(true);
    }

    /// One iteration (see the module doc). `poll_only` never blocks in the I/O wait.
    pub(crate) fn run_once(&self, poll_only: bool, root: Option<&mut Root<'_>>) {
        let busy = !self.ready.borrow().is_empty();
        let skip_io =
            busy && self.busy_iterations.get() + 1 < BUSY_IO_INTERVAL && !self.io.wants_wait();
        if skip_io {
            self.busy_iterations.set(self.busy_iterations.get() + 1);
        } else {
            self.busy_iterations.set(0);
            let deadline = self.timers.borrow_mut().next_deadline();
            let block = !poll_only && !busy && deadline.is_none_or(|d| d > Instant::now());
            let outcome = self
                .io
                .wait(block, deadline)
                .unwrap_or_else(|e| panic!("evloop: waiting for I/O failed: {e}"));
            if outcome.notified {
                self.take_messages();
            }
            #[cfg(feature = "mutants")]
            self.io_hot.set(outcome.sockets_ready);
        }
        #[cfg(feature = "mutants")]
        if (busy || self.io_hot.get()) && mutants::active(Fault::IoStarvesTimers) {
            self.run_batch(root);
            return;
        }
        self.expire_timers();
        self.run_batch(root);
    }

    /// Step 4 of an iteration: runs the items that were ready when it began.
    fn run_batch(&self, mut root: Option<&mut Root<'_>>) {
        #[cfg(feature = "mutants")]
        self.in_batch.set(true);
        let batch = self.ready.borrow().len();
        for _ in 0..batch {
            let next = if mutants::active(Fault::LifoReadyQueue) {
                self.ready.borrow_mut().pop_back()
            } else {
                self.ready.borrow_mut().pop_front()
            };
            let Some(item) = next else {
                break;
            };
            match item {
                Runnable::Task(key) => self.run_task(key),
                Runnable::Call(cb) => self.run_callback(cb),
                Runnable::Root => {
                    self.root_scheduled.set(false);
                    if let Some(root) = root.as_deref_mut().filter(|r| !r.done) {
                        root.done = (root.poll)(&mut Context::from_waker(&root.waker));
                    }
                }
            }
        }
        #[cfg(feature = "mutants")]
        self.in_batch.set(false);
    }

    fn take_messages(&self) {
        let mut inbox = std::mem::take(&mut *self.inbox.borrow_mut());
        self.shared.take_injected(&mut inbox);
        for msg in inbox.drain(..) {
            match msg {
                Message::Spawn(slot) => self.spawn(slot),
                Message::Call(f, name) => self.call_soon(Callback::named(f, name)),
                Message::Wake(key) => self.schedule(key),
                Message::Stop => self.stop(),
            }
        }
        *self.inbox.borrow_mut() = inbox;
    }

    fn expire_timers(&self) {
        if self.timers.borrow().len() == 0 {
            return; // the common I/O-only iteration does not even read the clock
        }
        let now = Instant::now();
        let queued_before = self.ready.borrow().len();
        loop {
            let Some(action) = self.timers.borrow_mut().pop_expired(now) else {
                break;
            };
            match action {
                TimerAction::Wake(waker) => waker.wake(),
                TimerAction::Call(cb) => self.call_soon(cb),
            }
        }
        if mutants::active(Fault::TimersBeforeReady) {
            let mut ready = self.ready.borrow_mut();
            let due = ready.len().saturating_sub(queued_before);
            ready.rotate_right(due);
        }
    }

    fn run_task(&self, key: Key) {
        let (mut run, name) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(key) else {
                return;
            };
            slot.scheduled = false;
            if slot.header.aborted() {
                let slot = tasks.remove(key);
                drop(tasks);
                self.drop_task(slot);
                return;
            }
            let Some(run) = slot.run.take() else {
                return;
            };
            slot.polled = true;
            (run, slot.name)
        };
        #[cfg(feature = "evloop-canary")]
        canary_work();
        let started = self.debug.enabled.then(Instant::now);
        let TaskRun { future, waker } = &mut run;
        let result = catch_unwind(AssertUnwindSafe(|| {
            future.as_mut().poll(&mut Context::from_waker(waker))
        }));
        if let Some(started) = started {
            let elapsed = started.elapsed();
            if elapsed > self.debug.slow_threshold {
                let report = DebugReport::SlowTaskPoll { name, elapsed };
                self.shared.debug.report(report);
            }
        }
        let finished = match result {
            Ok(Poll::Pending) => {
                let mut tasks = self.tasks.borrow_mut();
                match tasks.get_mut(key) {
                    Some(slot) => {
                        slot.run = Some(run);
                        return;
                    }
                    None => (Some(run), None),
                }
            }
            Ok(Poll::Ready(())) => (Some(run), None),
            Err(payload) => {
                if mutants::active(Fault::PanicEscapes) {
                    std::panic::resume_unwind(payload);
                }
                let message = panic_message(payload.as_ref());
                drop_quietly(payload);
                (Some(run), Some(message))
            }
        };
        let slot = self.tasks.borrow_mut().remove(key);
        let (run, panicked) = finished;
        drop_quietly(run);
        if let (Some(slot), Some(message)) = (&slot, panicked) {
            slot.header
                .fail(if mutants::active(Fault::PanicPayloadLost) {
                    JoinError::Cancelled
                } else {
                    JoinError::Panicked(message)
                });
        }
        drop_quietly(slot);
    }

    /// Drops a task that will not run again (aborted, or the loop is going away).
    fn drop_task(&self, slot: Option<TaskSlot>) {
        if let Some(slot) = &slot {
            if self.debug.enabled && !slot.polled {
                let report = DebugReport::NeverPolled { name: slot.name };
                self.shared.debug.report(report);
            }
        }
        drop_quietly(slot);
    }

    fn run_callback(&self, cb: Callback) {
        let name = cb.name;
        let started = self.debug.enabled.then(Instant::now);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| cb.run())) {
            eprintln!(
                "evloop: callback {name} panicked: {}",
                panic_message(payload.as_ref())
            );
            drop_quietly(payload);
        }
        if let Some(started) = started {
            let elapsed = started.elapsed();
            if elapsed > self.debug.slow_threshold {
                let report = DebugReport::SlowCallback { name, elapsed };
                self.shared.debug.report(report);
            }
        }
    }

    /// Drops every task, callback, timer and message (the loop is being dropped). Pending
    /// join handles then yield `Cancelled`.
    pub(crate) fn shutdown(&self) {
        let messages = self.shared.close();
        for msg in messages {
            if let Message::Spawn(slot) = msg {
                self.drop_task(Some(slot));
            }
        }
        let tasks = self.tasks.borrow_mut().take_all();
        if mutants::active(Fault::ShutdownLeaksTasks) {
            std::mem::forget(tasks);
        } else {
            for slot in tasks {
                self.drop_task(Some(slot));
            }
        }
        let ready = std::mem::take(&mut *self.ready.borrow_mut());
        drop_quietly(ready);
        let timers = self.timers.borrow_mut().take_all();
        drop_quietly(timers);
        self.shared.pool.shutdown();
    }
}

/// Drops `value`, catching a panic from its destructor (a task's cleanup must not take the
/// loop down).
fn drop_quietly<T>(value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        eprintln!(
            "evloop: a destructor panicked: {}",
            panic_message(payload.as_ref())
        );
        std::mem::forget(payload);
    }
}

/// Fixed extra work per task poll: the `evloop-canary` feature's deliberate slowdown.
#[cfg(feature = "evloop-canary")]
fn canary_work() {
    let mut acc = 0u64;
    for i in 0..2000u64 {
        acc = std::hint::black_box(acc.wrapping_add(i));
    }
    std::hint::black_box(acc);
}
