//! Debug mode (asyncio's `loop.set_debug(True)`): reports a callback or task poll that holds
//! the loop longer than a threshold, and a task dropped without ever being polled.
//!
//! Enabled by [`super::EvloopBuilder::debug`] or the environment variable `EVLOOP_DEBUG=1`;
//! the threshold defaults to 100 ms and is set by [`super::EvloopBuilder::slow_threshold`]
//! or `EVLOOP_SLOW_MS`. Reports go to stderr and to a list that [`super::Evloop::debug_reports`]
//! returns. When debug mode is off the loop never reads the clock for it.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// Default "slow" threshold, asyncio's `slow_callback_duration`.
pub const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_millis(100);

/// Debug settings of one loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebugConfig {
    /// Whether debug checks run at all.
    pub enabled: bool,
    /// A callback or task poll taking longer than this is reported.
    pub slow_threshold: Duration,
}

impl DebugConfig {
    /// Settings from `EVLOOP_DEBUG` and `EVLOOP_SLOW_MS` (debug off when unset).
    pub fn from_env() -> Self {
        let enabled = std::env::var("EVLOOP_DEBUG").is_ok_and(|v| v == "1" || v == "true");
        let slow_threshold = std::env::var("EVLOOP_SLOW_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_SLOW_THRESHOLD, Duration::from_millis);
        Self {
            enabled,
            slow_threshold,
        }
    }
}

/// One thing debug mode noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DebugReport {
    /// A callback ran for `elapsed`, longer than the threshold.
    SlowCallback {
        /// The callback's type name.
        name: &'static str,
        /// How long it held the loop.
        elapsed: Duration,
    },
    /// One poll of a task took `elapsed`, longer than the threshold.
    SlowTaskPoll {
        /// The task's future type name.
        name: &'static str,
        /// How long the poll held the loop.
        elapsed: Duration,
    },
    /// A task was dropped (loop dropped, or aborted) before its first poll.
    NeverPolled {
        /// The task's future type name.
        name: &'static str,
    },
}

impl fmt::Display for DebugReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DebugReport::SlowCallback { name, elapsed } => {
                write!(f, "callback {name} held the loop for {elapsed:?}")
            }
            DebugReport::SlowTaskPoll { name, elapsed } => {
                write!(f, "a poll of task {name} held the loop for {elapsed:?}")
            }
            DebugReport::NeverPolled { name } => {
                write!(f, "task {name} was dropped without ever being polled")
            }
        }
    }
}

/// Where reports go: stderr, and a list tests and tools can read.
#[derive(Default)]
pub(crate) struct DebugSink {
    /// Every report so far, oldest first.
    reports: Mutex<Vec<DebugReport>>,
}

impl DebugSink {
    /// Records and prints a report.
    pub(crate) fn report(&self, report: DebugReport) {
        if super::mutants::active(super::mutants::Fault::DebugSilent) {
            return;
        }
        eprintln!("evloop debug: {report}");
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
    }

    /// A copy of the reports so far.
    pub(crate) fn reports(&self) -> Vec<DebugReport> {
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
