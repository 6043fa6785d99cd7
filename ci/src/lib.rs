//! The regression gate: three tiers that a noisy CI machine can trust.
//!
//! 1. **Instruction counts** ([`callgrind`]): single-threaded micro workloads under
//!    `valgrind --tool=callgrind`; instructions per iteration compared with the baseline
//!    (default threshold 2%). Counts, not seconds: repeatable whatever else the machine does.
//! 2. **Relative timing** ([`timing`]): workloads of every runtime, interleaved and repeated in
//!    one run; each runtime's time as a ratio to a reference runtime run beside it, gated with
//!    a bootstrap confidence interval: a regression needs both significance and an effect
//!    above the threshold (default 10%).
//! 3. **Behaviour** ([`behaviour`]): every conformance cell whose status changed; a change to
//!    `fail`, `timeout` or `crash` fails the gate.
//!
//! Invariant: every item yields exactly one [`Verdict`] line; the gate fails (exit 1) if any
//! verdict is `Regressed`, and unusable input (missing, corrupt or mismatched baseline) is an
//! error of its own (exit 2), never a verdict.

pub mod baseline;
pub mod behaviour;
pub mod callgrind;
pub mod stats;
pub mod timing;
mod verdict;

pub use baseline::{Baseline, BaselineError};
pub use verdict::{Outcome, Verdict};
