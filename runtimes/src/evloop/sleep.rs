//! The [`Sleep`] future: completes no earlier than its deadline, through the running loop's
//! timer queue.
//!
//! Invariants: a [`Sleep`] suspends at least once, even for a deadline already past (asyncio
//! `sleep(0)` yields); it registers its timer with the loop that first polls it pending, and
//! cancels it when dropped early.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::context;
use super::mutants::{self, Fault};
use super::slab::Key;
use super::timer::TimerAction;

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
        let registered = context::with_current(|core| {
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
            context::with_current(|core| {
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
