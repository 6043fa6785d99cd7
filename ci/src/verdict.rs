//! One verdict per gated item: what it is, the figure, the threshold, and the outcome.

use std::fmt;

/// Outcome of one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Better than the baseline beyond the threshold.
    Improved,
    /// Worse than the baseline beyond the threshold (and, for timing, significant).
    Regressed,
    /// Within the threshold, or not significant.
    Unchanged,
    /// Different from the baseline in a way that is reported, not gated (a conformance
    /// status that moved between non-failing statuses).
    Changed,
    /// Present now, absent from the baseline (or the reverse): reported, not gated.
    New,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Improved => "improved",
            Outcome::Regressed => "REGRESSED",
            Outcome::Unchanged => "unchanged",
            Outcome::Changed => "changed",
            Outcome::New => "new",
        }
    }
}

/// One line of the gate's output.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Tier number (1, 2, 3).
    pub tier: u8,
    /// The item: `evloop/spawn_many`, `tasks.starts_later × smol`, ...
    pub item: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The figure and how it compares, e.g. `812.3 instr/iter vs 801.0 (+1.41%), threshold 2%`.
    pub detail: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tier {} {:<44} {:<9} {}",
            self.tier,
            self.item,
            self.outcome.as_str(),
            self.detail
        )
    }
}

/// Classifies a relative change `new / old - 1` against a threshold (both as fractions);
/// lower is better.
pub fn classify_change(change: f64, threshold: f64) -> Outcome {
    if change > threshold {
        Outcome::Regressed
    } else if change < -threshold {
        Outcome::Improved
    } else {
        Outcome::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_exclusive() {
        assert_eq!(classify_change(0.02, 0.02), Outcome::Unchanged);
        assert_eq!(classify_change(0.0201, 0.02), Outcome::Regressed);
        assert_eq!(classify_change(-0.03, 0.02), Outcome::Improved);
    }
}
