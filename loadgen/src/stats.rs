//! Latency histograms in microseconds (HdrHistogram, 3 significant digits), their
//! percentiles, and their V2 serialisation (base64, no deflate) for the results file.

use base64::Engine as _;
use harness::results::Percentiles;
use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use hdrhistogram::Histogram;

/// Largest value recorded: one hour in microseconds (larger values saturate).
const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, MAX_US, 3).expect("static histogram bounds"))
    }
}

impl LatencyHistogram {
    /// Records one value in microseconds (0 is recorded as 1, the resolution).
    pub fn record_us(&mut self, us: u64) {
        self.0.saturating_record(us.clamp(1, MAX_US));
    }

    /// Records a duration.
    pub fn record(&mut self, d: std::time::Duration) {
        self.record_us(d.as_micros().min(u128::from(MAX_US)) as u64);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at quantile `q` (0..=1), microseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        self.0.value_at_quantile(q)
    }

    /// Percentiles in microseconds, or `None` when nothing was recorded (never zeros that
    /// were not measured).
    pub fn percentiles(&self) -> Option<Percentiles> {
        self.percentiles_scaled(1.0)
    }

    /// Percentiles divided by `divisor` (1000 for milliseconds).
    pub fn percentiles_scaled(&self, divisor: f64) -> Option<Percentiles> {
        if self.0.is_empty() {
            return None;
        }
        let q = |q: f64| self.0.value_at_quantile(q) as f64 / divisor;
        Some(Percentiles {
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max: self.0.max() as f64 / divisor,
        })
    }

    /// Reads back what [`LatencyHistogram::to_base64`] wrote.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        use hdrhistogram::serialization::Deserializer;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let read: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))?;
        let mut h = Self::default();
        h.0.add(&read)
            .map_err(|e| format!("histogram out of range: {e:?}"))?;
        Ok(h)
    }

    /// The underlying HdrHistogram.
    pub fn inner(&self) -> &Histogram<u64> {
        &self.0
    }

    /// HdrHistogram V2 serialisation, base64; `None` when empty.
    pub fn to_base64(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&self.0, &mut bytes).ok()?;
        Some(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn percentiles_and_roundtrip() {
        let mut h = LatencyHistogram::default();
        assert!(h.percentiles().is_none());
        assert!(h.to_base64().is_none());
        for us in 1..=1000 {
            h.record_us(us);
        }
        let p = h.percentiles().unwrap();
        assert!((p.p50 - 500.0).abs() <= 1.0, "{p:?}");
        assert!((p.max - 1000.0).abs() <= 1.0, "{p:?}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.to_base64().unwrap())
            .unwrap();
        let back: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back.len(), 1000);
    }
}
