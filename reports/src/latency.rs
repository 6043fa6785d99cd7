//! Latency spectra: HdrHistogram V2 (base64) decoding, merging of repeats, and the
//! percentile points a spectrum chart draws (x = 1/(1-p)).

use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use harness::results::{EchoRun, Percentiles};

use crate::stats::Spread;

/// Which latency of a run: from the intended send time, or from the actual one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyKind {
    /// `histogram` / `latency_us`: corrected for coordinated omission in open loop.
    Corrected,
    /// `histogram_raw` / `latency_raw_us`.
    Raw,
}

/// Highest percentile a spectrum goes to (99.999%).
pub const MAX_QUANTILE: f64 = 0.99999;

/// Decodes a base64 HdrHistogram V2 (plain or deflate); `None` when it is not one.
pub fn decode_histogram(b64: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .ok()
}

fn histogram_of(run: &EchoRun, kind: LatencyKind) -> Option<&str> {
    match kind {
        LatencyKind::Corrected => run.histogram.as_deref(),
        LatencyKind::Raw => run.histogram_raw.as_deref(),
    }
}

fn percentiles_of(run: &EchoRun, kind: LatencyKind) -> &Percentiles {
    match kind {
        LatencyKind::Corrected => &run.latency_us,
        LatencyKind::Raw => &run.latency_raw_us,
    }
}

/// A latency spectrum: (quantile, microseconds) points, quantiles rising below 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrum {
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// Whether the points come from histograms (full spectrum) or percentile fields.
    pub from_histogram: bool,
}

/// The spectrum of several repeats: their histograms added together when every repeat has
/// one that decodes, else the median of each percentile field over the repeats.
pub fn spectrum(runs: &[&EchoRun], kind: LatencyKind) -> Option<Spectrum> {
    if runs.is_empty() {
        return None;
    }
    let decoded: Option<Vec<Histogram<u64>>> = runs
        .iter()
        .map(|r| histogram_of(r, kind).and_then(decode_histogram))
        .collect();
    if let Some(hists) = decoded {
        let mut merged = hists[0].clone();
        if hists[1..].iter().all(|h| merged.add(h).is_ok()) && !merged.is_empty() {
            return Some(Spectrum {
                points: histogram_points(&merged),
                from_histogram: true,
            });
        }
    }
    type Field = fn(&Percentiles) -> f64;
    let fields: [(f64, Field); 5] = [
        (0.5, |p| p.p50),
        (0.9, |p| p.p90),
        (0.99, |p| p.p99),
        (0.999, |p| p.p999),
        (0.9999, |p| p.p9999),
    ];
    let points: Vec<(f64, f64)> = fields
        .iter()
        .filter_map(|(q, get)| {
            Spread::of(runs.iter().map(|r| get(percentiles_of(r, kind))))
                .filter(|s| s.median > 0.0)
                .map(|s| (*q, s.median))
        })
        .collect();
    (!points.is_empty()).then_some(Spectrum {
        points,
        from_histogram: false,
    })
}

fn histogram_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    for it in h.iter_quantiles(4) {
        let q = it.quantile_iterated_to();
        if q > MAX_QUANTILE {
            break;
        }
        let v = h.highest_equivalent(it.value_iterated_to()) as f64;
        points.push((q, v));
    }
    let top = (MAX_QUANTILE, h.value_at_quantile(MAX_QUANTILE) as f64);
    if points.last().is_none_or(|&(q, _)| q < MAX_QUANTILE) {
        points.push(top);
    }
    points.retain(|&(q, _)| q >= 0.0);
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    fn encoded(values: impl Iterator<Item = u64>) -> String {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        let mut buf = Vec::new();
        V2Serializer::new().serialize(&h, &mut buf).unwrap();
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    #[test]
    fn histogram_spectrum_is_monotonic_and_reaches_the_tail() {
        let run = EchoRun {
            histogram: Some(encoded(1..=100_000)),
            ..EchoRun::default()
        };
        let s = spectrum(&[&run, &run], LatencyKind::Corrected).unwrap();
        assert!(s.from_histogram);
        assert!(s
            .points
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let p50 = s.points.iter().find(|p| p.0 >= 0.5).unwrap().1;
        assert!((49_000.0..=51_000.0).contains(&p50), "{p50}");
        assert_eq!(s.points.last().unwrap().0, MAX_QUANTILE);
    }

    #[test]
    fn falls_back_to_percentile_fields() {
        let mut run = EchoRun::default();
        run.latency_raw_us.p50 = 10.0;
        run.latency_raw_us.p99 = 30.0;
        run.histogram_raw = Some("not base64!".into());
        let s = spectrum(&[&run], LatencyKind::Raw).unwrap();
        assert!(!s.from_histogram);
        assert_eq!(s.points, vec![(0.5, 10.0), (0.99, 30.0)]);
    }
}
