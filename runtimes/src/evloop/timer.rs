//! Timers: the loop's queue of deadlines ([`TimerQueue`]) and the [`Sleep`] future built on it.
//!
//! The queue is a binary heap of `(deadline, sequence, key)` over a slab of live timers.
//! Cancelling removes the slab entry only (O(1)); its heap entry goes stale and is skipped
//! when it reaches the top ("lazy deletion"). When stale entries outnumber live ones the
//! heap is rebuilt, so cancelled timeouts cannot pile up.
//!
//! Invariants: a timer fires only once `now >= deadline` (never early); a [`Sleep`] suspends
//! at least once, even for a deadline already past (asyncio `sleep(0)` yields); timers with equal
//! deadlines fire in insertion order (asyncio leaves it undefined; we keep it stable); the
//! queue is touched only on the loop thread.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::mutants::{self, Fault};
use super::scheduler::{self, Callback};
use super::slab::{Key, Slab};

/// What happens when a timer fires.
pub(crate) enum TimerAction {
    /// Wake a task (a [`Sleep`]).
    Wake(Waker),
    /// Queue a callback (`call_later` / `call_at`).
    Call(Callback),
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct HeapEntry {
    /// [`Fault::TimersInsertionOrder`]: the insertion number, which then orders the heap
    /// before the deadline does (0 otherwise).
    #[cfg(feature = "mutants")]
    rank: u64,
    deadline: Instant,
    seq: u64,
    key: Key,
}

/// Pending timers, earliest first.
#[derive(Default)]
pub(crate) struct TimerQueue {
    /// Deadlines, possibly including stale entries of cancelled timers.
    heap: BinaryHeap<Reverse<HeapEntry>>,
    /// Live timers; a heap entry whose key misses here is stale.
    live: Slab<TimerAction>,
    /// Insertion counter: orders equal deadlines.
    next_seq: u64,
}

impl TimerQueue {
    /// Schedules `action` at `deadline`; the key cancels it.
    pub(crate) fn insert(&mut self, deadline: Instant, action: TimerAction) -> Key {
        let key = self.live.insert(action);
        self.next_seq += 1;
        self.heap.push(Reverse(HeapEntry {
            #[cfg(feature = "mutants")]
            rank: if mutants::active(Fault::TimersInsertionOrder) {
                self.next_seq
            } else {
                0
            },
            deadline,
            seq: self.next_seq,
            key,
        }));
        key
    }

    /// Cancels a pending timer; returns whether it was still pending.
    pub(crate) fn cancel(&mut self, key: Key) -> bool {
        let removed = self.live.remove(key).is_some();
        if removed && self.heap.len() > 64 && self.heap.len() > 2 * self.live.len() {
            let live = &self.live;
            self.heap.retain(|Reverse(e)| live.contains(e.key));
        }
        removed
    }

    /// The waker of a pending [`Sleep`] timer, to update it when the task's waker changed.
    pub(crate) fn waker_mut(&mut self, key: Key) -> Option<&mut Waker> {
        match self.live.get_mut(key) {
            Some(TimerAction::Wake(w)) => Some(w),
            _ => None,
        }
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.live.contains(top.key) {
                return Some(top.deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns the earliest timer due at `now`, if any.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<TimerAction> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.deadline > now && self.live.contains(top.key) {
                return None;
            }
            let Reverse(top) = self.heap.pop()?;
            if let Some(action) = self.live.remove(top.key) {
                return Some(action);
            }
        }
        None
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// Removes every timer (shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<TimerAction> {
        self.heap.clear();
        self.live.take_all()
    }
}

/// Completes no earlier than its deadline. Registers a timer on the running loop at the
/// first pending poll and cancels it when dropped early.
pub struct Sleep {
    /// When the sleep completes.
    deadline: Instant,
    /// The timer registered on a loop: that loop's id and the timer's key.
    timer: Option<(u64, Key)>,
    /// Whether it was polled before: the first poll always suspends (asyncio `sleep(0)`
    /// yields once), even when the deadline has already passed.
    polled: bool,
}

impl Sleep {
    /// A sleep until `deadline`.
    pub(crate) fn until(deadline: Instant) -> Self {
        Self {
            deadline: mutants::sleep_deadline(deadline),
            timer: None,
            polled: false,
        }
    }

    /// A sleep for `duration` from now (a duration too large to represent sleeps ~forever).
    pub(crate) fn after(duration: Duration) -> Self {
        let now = Instant::now();
        let far = now + Duration::from_secs(86_400 * 365 * 30);
        Self::until(now.checked_add(duration).unwrap_or(far))
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::ShortSleepsBlock) {
            let left = this.deadline.saturating_duration_since(Instant::now());
            if left <= std::time::Duration::from_millis(20) {
                std::thread::sleep(left);
                this.cancel();
                return Poll::Ready(());
            }
        }
        if Instant::now() >= this.deadline {
            if !std::mem::replace(&mut this.polled, true) && !mutants::active(Fault::SleepZeroReady)
            {
                // Due already: yield once through the ready queue, like `YieldNow`.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.cancel();
            return Poll::Ready(());
        }
        this.polled = true;
        let deadline = this.deadline;
        let timer = this.timer;
        let registered = scheduler::with_current(|core| {
            let core = core.expect("evloop: a Sleep was polled outside a running evloop");
            let mut timers = core.timers.borrow_mut();
            if let Some((loop_id, key)) = timer {
                if loop_id == core.id() {
                    if let Some(w) = timers.waker_mut(key) {
                        if !w.will_wake(cx.waker()) {
                            w.clone_from(cx.waker());
                        }
                        return (loop_id, key);
                    }
                }
            }
            let key = timers.insert(deadline, TimerAction::Wake(cx.waker().clone()));
            (core.id(), key)
        });
        this.timer = Some(registered);
        Poll::Pending
    }
}

impl Sleep {
    fn cancel(&mut self) {
        if let Some((loop_id, key)) = self.timer.take() {
            scheduler::with_current(|core| {
                if let Some(core) = core.filter(|c| c.id() == loop_id) {
                    // `try_borrow_mut`: a Sleep dropped by a timer callback finds the queue
                    // busy; its entry then just fires into a waker nobody listens to.
                    if let Ok(mut timers) = core.timers.try_borrow_mut() {
                        timers.cancel(key);
                    }
                }
            });
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(log: &std::rc::Rc<std::cell::RefCell<Vec<u32>>>, n: u32) -> TimerAction {
        let log = log.clone();
        TimerAction::Call(Callback::new(move || log.borrow_mut().push(n)))
    }

    fn fire_all(q: &mut TimerQueue, now: Instant) {
        while let Some(action) = q.pop_expired(now) {
            match action {
                TimerAction::Call(cb) => cb.run(),
                TimerAction::Wake(w) => w.wake(),
            }
        }
    }

    #[test]
    fn fires_in_deadline_order_then_insertion_order() {
        let log = Default::default();
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        q.insert(t0 + ms(30), call(&log, 3));
        q.insert(t0 + ms(10), call(&log, 1));
        q.insert(t0 + ms(20), call(&log, 2));
        q.insert(t0 + ms(20), call(&log, 22));
        q.insert(t0 + ms(20), call(&log, 222));
        assert_eq!(q.next_deadline(), Some(t0 + ms(10)));
        fire_all(&mut q, t0 + ms(5));
        assert!(
            log.borrow().is_empty(),
            "nothing is due before its deadline"
        );
        fire_all(&mut q, t0 + ms(20));
        assert_eq!(*log.borrow(), [1, 2, 22, 222]);
        fire_all(&mut q, t0 + ms(100));
        assert_eq!(*log.borrow(), [1, 2, 22, 222, 3]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn cancelled_timers_never_fire_and_stale_entries_are_compacted() {
        let log = Default::default();
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let keys: Vec<Key> = (0..1000)
            .map(|i| q.insert(t0 + Duration::from_millis(i), call(&log, i as u32)))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            if i % 10 != 0 {
                assert!(q.cancel(*k));
            }
        }
        assert!(!q.cancel(keys[1]), "a timer cancels once");
        assert_eq!(q.len(), 100);
        assert!(
            q.heap.len() <= 2 * 100 + 64,
            "heap compacted: {}",
            q.heap.len()
        );
        assert_eq!(q.next_deadline(), Some(t0));
        fire_all(&mut q, t0 + Duration::from_secs(10));
        let expected: Vec<u32> = (0..1000).step_by(10).collect();
        assert_eq!(*log.borrow(), expected);
    }
}
