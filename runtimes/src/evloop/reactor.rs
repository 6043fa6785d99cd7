//! The epoll driver (the reactor): turns epoll readiness into task wake-ups. A leaf: it knows
//! `sys`, the slab and `Waker`s, nothing of the scheduler.
//!
//! Every I/O source (socket) is registered once, **edge-triggered**, for both reading and
//! writing. Edge-triggered because then a socket needs exactly one `epoll_ctl` in its life:
//! interest never has to be switched on and off (level-triggered would report an idle,
//! writable socket on every wait unless we `EPOLL_CTL_MOD` it away, one more syscall per
//! write that blocks). The price of edge triggering is that the loop must remember readiness
//! itself, which is what [`Source`] does.
//!
//! Protocol for an operation (read, write, accept) on a source:
//! 1. if the source is marked ready in that direction, try the syscall at once;
//! 2. on `EAGAIN` clear the mark, store the task's waker, return `Pending`; a result that
//!    proves the buffer empty (a short read) clears the mark too, saving that `EAGAIN`;
//! 3. an epoll event sets the mark again and wakes the stored waker.
//!
//! Fast path: [`Reactor::poll_io`] looks the source up once and keeps the table borrowed
//! across the syscall, so an operation costs one lookup; this relies on the operation being
//! a bare system call that never re-enters the reactor.
//!
//! Invariants: readiness marks change only on the loop thread, between task polls, so a
//! mark cleared after `EAGAIN` cannot hide an edge (the edge is reported by the next
//! `epoll_wait`). A source starts marked ready (optimistic: try the syscall first). A wait
//! wakes with no borrow of the table held (see `driver`): for each event it takes the
//! waiters out of the source and releases the table before waking them. A reader is woken by
//! reference and put back (unless the source was freed or got another reader meanwhile), so a
//! task reading again costs no clone; a writer is woken and dropped, so later writable edges
//! (one per acknowledged send) wake nobody.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::driver::{Driver, WaitOutcome};
use super::mutants::{self, Fault};
use super::slab::{reserved_token, Key, Slab};
use super::sys::{self, Epoll, EventFd, Events, TimerFd};

/// Token of the loop's eventfd (cross-thread wake-ups).
const NOTIFY_TOKEN: u64 = reserved_token(1);
/// Token of the loop's timerfd (timer deadlines).
const TIMER_TOKEN: u64 = reserved_token(2);
/// Events collected per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;

/// Which half of a source an operation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading or accepting.
    Read,
    /// Writing or completing a connect.
    Write,
}

/// Readiness and waiters of one registered fd.
#[derive(Default)]
struct Source {
    /// Marks: the last syscall in that direction did not report `EAGAIN` since the last edge.
    ready: [bool; 2],
    /// Sticky marks: that direction is finished (peer closed, error), so it never blocks
    /// again. Kept apart from `ready` so that clearing `ready` after a short read cannot lose
    /// an end-of-stream whose only edge was already consumed.
    closed: [bool; 2],
    /// Waker of the task waiting in that direction, kept after waking.
    waiters: [Option<Waker>; 2],
}

/// epoll plus the readiness table; owned by the loop, used only on its thread.
pub(crate) struct Reactor {
    /// The epoll instance.
    epoll: Epoll,
    /// Registered sources, keyed by their epoll token.
    sources: RefCell<Slab<Source>>,
    /// Event buffer, reused by every wait.
    events: RefCell<Events>,
    /// Wakes the loop at the earliest timer deadline with sub-millisecond precision.
    timerfd: TimerFd,
    /// The deadline the timerfd is armed for; `None` when disarmed or already fired.
    armed: Cell<Option<Instant>>,
}

impl Reactor {
    /// A reactor watching `notifier` (the eventfd other threads write to).
    pub(crate) fn new(notifier: &EventFd) -> io::Result<Self> {
        let epoll = Epoll::new()?;
        let timerfd = TimerFd::new()?;
        epoll.add(notifier.as_fd(), NOTIFY_TOKEN)?;
        epoll.add(timerfd.as_fd(), TIMER_TOKEN)?;
        Ok(Self {
            epoll,
            sources: RefCell::new(Slab::default()),
            events: RefCell::new(Events::with_capacity(EVENTS_PER_WAIT)),
            timerfd,
            armed: Cell::new(None),
        })
    }

    /// Registers `fd`; `ready` is its initial readiness mark in both directions.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>, ready: bool) -> io::Result<Key> {
        let key = self.sources.borrow_mut().insert(Source {
            ready: [ready; 2],
            closed: [false; 2],
            waiters: [None, None],
        });
        if let Err(e) = self.epoll.add(fd, key.to_u64()) {
            self.sources.borrow_mut().remove(key);
            return Err(e);
        }
        Ok(key)
    }

    /// Unregisters `fd` (before it is closed) and frees its entry.
    pub(crate) fn deregister(&self, fd: BorrowedFd<'_>, key: Key) {
        let _ = self.epoll.delete(fd);
        // The waker is dropped outside the borrow: dropping it may run arbitrary code.
        let source = self.sources.borrow_mut().remove(key);
        drop(source);
    }

    /// Runs `op` if the source is marked ready in `dir`; on `EAGAIN` (or when not ready)
    /// stores the waker and returns `Pending`. See the module protocol. `drained` says
    /// whether a successful result proves the kernel buffer empty (a short read), so the
    /// mark is cleared without a syscall that would only say `EAGAIN`.
    ///
    /// Fast path: one table lookup per operation; the table stays borrowed across `op`,
    /// which must therefore be a bare system call that never touches the reactor.
    #[inline]
    pub(crate) fn poll_io<R>(
        &self,
        key: Key,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let mut sources = self.sources.borrow_mut();
        let Some(source) = sources.get_mut(key) else {
            return Poll::Ready(Err(not_registered()));
        };
        let d = dir as usize;
        let sticky = !mutants::active(Fault::EofNotSticky);
        while source.ready[d] || (sticky && source.closed[d]) {
            match op() {
                Ok(r) => {
                    if drained(&r) {
                        source.ready[d] = false;
                    }
                    return Poll::Ready(Ok(r));
                }
                // The errno is compared directly: decoding an error's kind costs more than
                // the rest of this path.
                Err(e) if sys::is_would_block(&e) => {
                    source.ready[d] = false;
                    // An OS error owns no memory: not dropping it skips an out-of-line
                    // destructor call that costs more than the rest of this arm.
                    std::mem::forget(e);
                }
                Err(e) if sys::is_interrupted(&e) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Self::store_waker(&mut source.waiters[d], cx);
        Poll::Pending
    }

    /// Whether the source is marked ready in `dir`; if not, stores the waker.
    pub(crate) fn poll_ready(
        &self,
        key: Key,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> io::Result<bool> {
        let mut sources = self.sources.borrow_mut();
        let source = sources.get_mut(key).ok_or_else(not_registered)?;
        let d = dir as usize;
        if source.ready[d] || source.closed[d] {
            return Ok(true);
        }
        Self::store_waker(&mut source.waiters[d], cx);
        Ok(false)
    }

    /// Keeps the waker of the task now waiting, cloning only when it changed.
    #[inline]
    fn store_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
    }

    /// Sets the readiness mark (for a connect that completed: reads may now be tried).
    pub(crate) fn set_ready(&self, key: Key, dir: Direction) {
        if let Some(source) = self.sources.borrow_mut().get_mut(key) {
            source.ready[dir as usize] = true;
        }
    }

    /// Wakes a waiter taken out of source `key` (direction `d`) and puts it back, with the
    /// table not borrowed while it runs.
    #[inline]
    fn wake_and_keep(&self, key: Key, d: usize, waker: Waker) {
        waker.wake_by_ref();
        let mut sources = self.sources.borrow_mut();
        let unwanted = match sources.get_mut(key).map(|s| &mut s.waiters[d]) {
            Some(slot @ None) => {
                *slot = Some(waker);
                None
            }
            // The source is gone, or has a waiter again.
            _ => Some(waker),
        };
        drop(sources);
        drop(unwanted); // dropping a waker may run code: no borrow is held here
    }

    /// Arms the timerfd for `deadline` unless it is already armed for that or earlier.
    /// An earlier arming that turns out stale only causes a spurious, harmless wake-up.
    fn arm_timer(&self, deadline: Instant) -> io::Result<()> {
        if self.armed.get().is_some_and(|armed| armed <= deadline) {
            return Ok(());
        }
        self.timerfd
            .arm(deadline.saturating_duration_since(Instant::now()))?;
        self.armed.set(Some(deadline));
        Ok(())
    }
}

impl Driver for Reactor {
    /// Waits for events (blocking unless `block` is false, and at most until `deadline`)
    /// and wakes the tasks waiting on ready sources, with the source table not borrowed.
    fn wait(&self, block: bool, deadline: Option<Instant>) -> io::Result<WaitOutcome> {
        if block {
            if let Some(deadline) = deadline {
                self.arm_timer(deadline)?;
            }
        }
        // The event buffer stays borrowed while wakers run: only a wait touches it, and a
        // waker never waits.
        let mut events = self.events.borrow_mut();
        self.epoll.wait(&mut events, block)?;
        let mut outcome = WaitOutcome::default();
        for event in events.iter() {
            match event.token {
                NOTIFY_TOKEN => outcome.notified = true,
                TIMER_TOKEN => self.armed.set(None),
                token => {
                    #[cfg(feature = "mutants")]
                    {
                        if outcome.sockets_ready && mutants::active(Fault::EventsTruncated) {
                            continue;
                        }
                        outcome.sockets_ready = true;
                    }
                    let Some(key) = Key::from_u64(token) else {
                        continue;
                    };
                    let (read, write) = {
                        let mut sources = self.sources.borrow_mut();
                        let Some(source) = sources.get_mut(key) else {
                            continue; // a source deregistered since the event was queued
                        };
                        source.closed[0] |= event.read_closed;
                        source.closed[1] |= event.write_closed;
                        let mut take = |d: usize, ready: bool| {
                            if !ready {
                                return None;
                            }
                            source.ready[d] = true;
                            source.waiters[d].take()
                        };
                        (take(0, event.readable), take(1, event.writable))
                    };
                    if let Some(waker) = read {
                        self.wake_and_keep(key, 0, waker);
                    }
                    if let Some(waker) = write {
                        // Not kept: a task rarely waits to write twice in a row (a finished
                        // connect, a full buffer), and a kept waker would be woken by every
                        // later writable edge for nothing.
                        waker.wake();
                    }
                }
            }
        }
        Ok(outcome)
    }

    fn sources(&self) -> usize {
        self.sources.borrow().len()
    }
}

/// The error of an operation on a source that is not (or no longer) registered.
fn not_registered() -> io::Error {
    io::Error::other("evloop: I/O source is not registered")
}
