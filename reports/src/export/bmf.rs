//! Bencher Metric Format (BMF): `{benchmark: {measure: {value, lower_value, upper_value}}}`,
//! what `bencher run --adapter json --file FILE` reads. Latency in nanoseconds and throughput
//! in operations per second are Bencher's built-in `latency` and `throughput` measures; the
//! other slugs (`latency-p99`, `cpu-per-message`, ...) are created by Bencher on first use.
//! `schema/bmf.schema.json` describes the shape.

use std::collections::BTreeMap;

use serde::Serialize;

use super::metrics::Metric;

/// One BMF metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BmfMetric {
    /// The figure.
    pub value: f64,
    /// Lower bound of its spread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_value: Option<f64>,
    /// Upper bound of its spread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_value: Option<f64>,
}

/// A BMF document: benchmark name → measure slug → metric.
pub type Document = BTreeMap<String, BTreeMap<String, BmfMetric>>;

/// The BMF document of `metrics` (benchmarks and measures sorted by name, so the file is
/// stable).
pub fn render(metrics: &[Metric]) -> Document {
    let mut benchmarks = Document::new();
    for m in metrics {
        benchmarks.entry(m.benchmark.clone()).or_default().insert(
            m.measure.slug(),
            BmfMetric {
                value: m.value,
                lower_value: m.lower,
                upper_value: m.upper,
            },
        );
    }
    benchmarks
}

#[cfg(test)]
mod tests {
    use super::super::metrics::Measure;
    use super::*;
    use serde_json::json;

    #[test]
    fn measures_group_under_their_benchmark() {
        let mut a = Metric::new("echo/x/closed/1conns/64B", Measure::Latency, "ns", 5000.0);
        a.lower = Some(4000.0);
        a.upper = Some(6000.0);
        let b = Metric::new(
            "echo/x/closed/1conns/64B",
            Measure::Throughput,
            "ops/s",
            10.0,
        );
        let doc = serde_json::to_value(render(&[a, b])).unwrap();
        assert_eq!(
            doc,
            json!({"echo/x/closed/1conns/64B": {
                "latency": {"value": 5000.0, "lower_value": 4000.0, "upper_value": 6000.0},
                "throughput": {"value": 10.0}
            }})
        );
    }
}
