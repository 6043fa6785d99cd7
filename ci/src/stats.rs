//! Statistics for the timing tier: medians and bootstrap confidence intervals.
//!
//! The bootstrap uses a fixed-seed generator, so the same samples always give the same
//! interval and the gate's output is reproducible from its inputs.

/// Median of `xs` (mean of the two middle values for an even count); `NaN` when empty.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// SplitMix64: small, fast, good enough to resample.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Percentile bootstrap interval of the median of `xs` at `confidence` (e.g. 0.95), with
/// `resamples` resamples. Returns `(low, high)`; a single sample gives a zero-width interval.
pub fn bootstrap_median_ci(xs: &[f64], resamples: usize, confidence: f64) -> (f64, f64) {
    if xs.len() < 2 {
        let m = median(xs);
        return (m, m);
    }
    let mut rng = SplitMix64(0x6c6f_6f70_6265_6e63);
    let mut medians = Vec::with_capacity(resamples);
    let mut sample = vec![0.0; xs.len()];
    for _ in 0..resamples {
        for slot in sample.iter_mut() {
            *slot = xs[rng.below(xs.len())];
        }
        medians.push(median(&sample));
    }
    percentile_interval(medians, confidence)
}

/// The central `confidence` interval of bootstrap estimates (not empty): their percentiles
/// `(1 - confidence) / 2` and `1 - (1 - confidence) / 2`.
fn percentile_interval(mut estimates: Vec<f64>, confidence: f64) -> (f64, f64) {
    estimates.sort_by(f64::total_cmp);
    let n = estimates.len();
    let tail = (1.0 - confidence) / 2.0;
    let lo = ((n as f64) * tail).floor() as usize;
    let hi = (((n as f64) * (1.0 - tail)).ceil() as usize).min(n - 1);
    (estimates[lo], estimates[hi])
}

/// Percentile bootstrap interval of `median(current) / median(baseline) - 1`, resampling both
/// samples independently: the relative change between two sets of repeats, with the noise of
/// both in the interval. Returns `(low, high)`; `NaN`s when either sample is empty.
pub fn bootstrap_change_ci(
    baseline: &[f64],
    current: &[f64],
    resamples: usize,
    confidence: f64,
) -> (f64, f64) {
    if baseline.is_empty() || current.is_empty() || resamples == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SplitMix64(0x6c6f_6f70_6265_6e63);
    let mut changes = Vec::with_capacity(resamples);
    let mut b = vec![0.0; baseline.len()];
    let mut c = vec![0.0; current.len()];
    for _ in 0..resamples {
        for slot in b.iter_mut() {
            *slot = baseline[rng.below(baseline.len())];
        }
        for slot in c.iter_mut() {
            *slot = current[rng.below(current.len())];
        }
        changes.push(median(&c) / median(&b) - 1.0);
    }
    percentile_interval(changes, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn interval_contains_median_and_narrows_with_agreement() {
        let noisy = [1.0, 1.3, 0.8, 1.1, 0.9, 1.25, 0.95, 1.05];
        let (lo, hi) = bootstrap_median_ci(&noisy, 2000, 0.95);
        let m = median(&noisy);
        assert!(lo <= m && m <= hi, "{lo} {m} {hi}");
        let tight = [1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(bootstrap_median_ci(&tight, 500, 0.95), (1.0, 1.0));
        // Reproducible: fixed seed.
        assert_eq!(
            bootstrap_median_ci(&noisy, 2000, 0.95),
            bootstrap_median_ci(&noisy, 2000, 0.95)
        );
    }

    #[test]
    fn change_interval_holds_both_samples_noise() {
        let base = [1.0, 1.2, 0.9, 1.1, 1.0, 0.95, 1.05];
        let same = [1.05, 0.9, 1.15, 1.0, 0.98, 1.1, 0.92];
        let (lo, hi) = bootstrap_change_ci(&base, &same, 2000, 0.95);
        assert!(lo < 0.0 && hi > 0.0, "{lo} {hi}");
        let slower = [1.5, 1.55, 1.45, 1.6, 1.5, 1.52, 1.48];
        let (lo, hi) = bootstrap_change_ci(&base, &slower, 2000, 0.95);
        assert!(lo > 0.3 && hi < 0.8, "{lo} {hi}");
        assert!(bootstrap_change_ci(&[], &same, 100, 0.95).0.is_nan());
    }
}
