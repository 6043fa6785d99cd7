//! Tier 2: relative timing. Every runtime runs the same workloads in one session, interleaved
//! (the runtime order rotates each repeat, so drift hits all alike) and repeated; each
//! repeat gives a ratio time(runtime) / time(reference) measured side by side. The gate
//! compares the median ratio with the baseline's and asks a bootstrap interval whether the
//! change is significant: a regression needs both significance and an effect above the
//! threshold.
//!
//! The interval is a two-sample one: the baseline keeps every repeat's ratio, and the
//! bootstrap resamples the baseline's repeats and the current ones independently, so the
//! noise of the run the baseline was taken in counts too. (Comparing with the baseline's
//! median alone treated it as exact, and on two cores the multi-threaded runtimes then
//! crossed 10% by chance about once per gate run.)

use std::collections::BTreeMap;

use crate::baseline::TimingRatio;
use crate::stats::{bootstrap_change_ci, bootstrap_median_ci, median};
use crate::verdict::{Outcome, Verdict};

/// Bootstrap resamples for the interval.
const RESAMPLES: usize = 2000;
/// Confidence of the interval.
const CONFIDENCE: f64 = 0.95;

/// Per-repeat ratios for (runtime, bench), in the order measured.
#[derive(Clone, Debug, Default)]
pub struct RatioSamples {
    /// The reference runtime.
    pub reference: String,
    /// (runtime, bench) → one ratio per repeat.
    pub ratios: BTreeMap<(String, String), Vec<f64>>,
}

impl RatioSamples {
    /// Builds ratios from per-repeat times: `times[(runtime, bench)][repeat]` in any unit.
    /// Repeats where either time is missing or not positive are skipped.
    pub fn from_times(
        reference: &str,
        times: &BTreeMap<(String, String), Vec<Option<f64>>>,
    ) -> Self {
        let mut ratios = BTreeMap::new();
        for ((runtime, bench), series) in times {
            if runtime == reference {
                continue;
            }
            let Some(reference_series) = times.get(&(reference.to_string(), bench.clone())) else {
                continue;
            };
            let r: Vec<f64> = series
                .iter()
                .zip(reference_series)
                .filter_map(|(t, r)| match (t, r) {
                    (Some(t), Some(r)) if *t > 0.0 && *r > 0.0 => Some(t / r),
                    _ => None,
                })
                .collect();
            if !r.is_empty() {
                ratios.insert((runtime.clone(), bench.clone()), r);
            }
        }
        Self {
            reference: reference.to_string(),
            ratios,
        }
    }

    /// The medians, as baseline records.
    pub fn to_baseline(&self) -> Vec<TimingRatio> {
        self.ratios
            .iter()
            .map(|((runtime, bench), r)| TimingRatio {
                runtime: runtime.clone(),
                bench: bench.clone(),
                reference: self.reference.clone(),
                ratio: median(r),
                repeats: r.len() as u32,
                samples: r.clone(),
            })
            .collect()
    }
}

/// One verdict per (runtime, bench); `threshold` is a fraction (0.10).
pub fn compare(baseline: &[TimingRatio], current: &RatioSamples, threshold: f64) -> Vec<Verdict> {
    current
        .ratios
        .iter()
        .map(|((runtime, bench), samples)| {
            let item = format!("{runtime}/{bench} ÷ {}", current.reference);
            let now = median(samples);
            let (lo, hi) = bootstrap_median_ci(samples, RESAMPLES, CONFIDENCE);
            let Some(base) = baseline.iter().find(|b| {
                &b.runtime == runtime && &b.bench == bench && b.reference == current.reference
            }) else {
                return Verdict {
                    tier: 2,
                    item,
                    outcome: Outcome::New,
                    detail: format!("ratio {now:.3} [{lo:.3}, {hi:.3}], not in the baseline"),
                };
            };
            let change = now / base.ratio - 1.0;
            let (change_lo, change_hi) = if base.samples.len() >= 2 {
                bootstrap_change_ci(&base.samples, samples, RESAMPLES, CONFIDENCE)
            } else {
                (lo / base.ratio - 1.0, hi / base.ratio - 1.0)
            };
            let outcome = if change_lo > 0.0 && change > threshold {
                Outcome::Regressed
            } else if change_hi < 0.0 && change < -threshold {
                Outcome::Improved
            } else {
                Outcome::Unchanged
            };
            Verdict {
                tier: 2,
                item,
                outcome,
                detail: format!(
                    "ratio {now:.3} vs {:.3} ({:+.1}%, 95% CI {:+.1}%..{:+.1}%, n={}), threshold {:.0}%",
                    base.ratio,
                    change * 100.0,
                    change_lo * 100.0,
                    change_hi * 100.0,
                    samples.len(),
                    threshold * 100.0
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(ratios: &[f64]) -> RatioSamples {
        let mut s = RatioSamples {
            reference: "tokio-ct".into(),
            ..Default::default()
        };
        s.ratios
            .insert(("evloop".into(), "spawn_many".into()), ratios.to_vec());
        s
    }

    fn base(ratio: f64) -> Vec<TimingRatio> {
        vec![TimingRatio {
            runtime: "evloop".into(),
            bench: "spawn_many".into(),
            reference: "tokio-ct".into(),
            ratio,
            repeats: 5,
            samples: Vec::new(),
        }]
    }

    fn base_samples(ratios: &[f64]) -> Vec<TimingRatio> {
        let mut b = base(median(ratios));
        b[0].samples = ratios.to_vec();
        b
    }

    #[test]
    fn two_noisy_samples_of_the_same_thing_are_unchanged() {
        // The medians differ by 12%, but each sample alone spreads wider than that: with the
        // baseline's own noise in the interval, this is not significant.
        let base = base_samples(&[1.0, 1.35, 0.85, 1.2, 0.95, 1.3, 0.9]);
        let v = compare(
            &base,
            &samples(&[1.1, 1.4, 0.95, 1.3, 1.12, 0.9, 1.25]),
            0.10,
        );
        assert_eq!(v[0].outcome, Outcome::Unchanged, "{}", v[0]);
    }

    #[test]
    fn a_shift_beyond_both_samples_noise_regresses() {
        let base = base_samples(&[0.50, 0.52, 0.49, 0.51, 0.50, 0.53, 0.48]);
        let v = compare(&base, &samples(&[0.70, 0.72, 0.69, 0.71, 0.73]), 0.10);
        assert_eq!(v[0].outcome, Outcome::Regressed, "{}", v[0]);
        let v = compare(&base, &samples(&[0.30, 0.31, 0.29, 0.32, 0.30]), 0.10);
        assert_eq!(v[0].outcome, Outcome::Improved, "{}", v[0]);
    }

    #[test]
    fn large_consistent_slowdown_regresses() {
        let v = compare(&base(0.5), &samples(&[0.70, 0.72, 0.69, 0.71, 0.73]), 0.10);
        assert_eq!(v[0].outcome, Outcome::Regressed, "{}", v[0]);
    }

    #[test]
    fn noise_around_the_baseline_is_unchanged() {
        let v = compare(&base(0.5), &samples(&[0.40, 0.62, 0.48, 0.55, 0.45]), 0.10);
        assert_eq!(v[0].outcome, Outcome::Unchanged, "{}", v[0]);
    }

    #[test]
    fn significant_but_small_is_unchanged() {
        let v = compare(
            &base(0.5),
            &samples(&[0.52, 0.521, 0.522, 0.52, 0.521]),
            0.10,
        );
        assert_eq!(v[0].outcome, Outcome::Unchanged, "{}", v[0]);
    }

    #[test]
    fn ratios_from_interleaved_times() {
        let mut times = BTreeMap::new();
        times.insert(
            ("tokio-ct".to_string(), "b".to_string()),
            vec![Some(10.0), Some(20.0), None],
        );
        times.insert(
            ("evloop".to_string(), "b".to_string()),
            vec![Some(5.0), Some(5.0), Some(1.0)],
        );
        let s = RatioSamples::from_times("tokio-ct", &times);
        assert_eq!(s.ratios[&("evloop".into(), "b".into())], vec![0.5, 0.25]);
        assert!(!s.ratios.contains_key(&("tokio-ct".into(), "b".into())));
    }
}
