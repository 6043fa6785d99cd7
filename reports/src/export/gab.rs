//! github-action-benchmark's custom formats: a JSON array of `{name, unit, value, range,
//! extra}`, read by the action with `tool: customSmallerIsBetter` or
//! `tool: customBiggerIsBetter`. One file holds one direction, so each export is of one
//! [`Direction`]. `schema/github-action-benchmark.schema.json` describes the shape.

use serde::Serialize;

use super::metrics::{Direction, Metric};

/// One entry, fields in the order the action's README lists them.
#[derive(Serialize)]
pub struct Entry {
    /// `BENCHMARK/MEASURE`.
    pub name: String,
    /// Unit of `value`.
    pub unit: &'static str,
    /// The figure.
    pub value: f64,
    /// `MIN - MAX` of the repeats or samples, when there were two or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// What the value is, then warnings, one per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
}

/// The `name` of a metric: `BENCHMARK/MEASURE`, e.g. `echo/evloop/closed/100conns/64B/latency`.
pub fn name(m: &Metric) -> String {
    format!("{}/{}", m.benchmark, m.measure.slug())
}

/// A number for `range` and tooltips: integers without a fraction, others to 4 significant
/// digits at least.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

/// The entries of `metrics` whose measure goes `direction`, in order.
pub fn render(metrics: &[Metric], direction: Direction) -> Vec<Entry> {
    metrics
        .iter()
        .filter(|m| m.measure.direction() == direction)
        .map(|m| Entry {
            name: name(m),
            unit: m.unit,
            value: m.value,
            range: match (m.lower, m.upper) {
                (Some(lower), Some(upper)) => {
                    Some(format!("{} - {}", number(lower), number(upper)))
                }
                _ => None,
            },
            extra: (!m.notes.is_empty()).then(|| m.notes.join("\n")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::metrics::Measure;
    use super::*;
    use serde_json::json;

    #[test]
    fn one_direction_per_file_with_range_and_notes() {
        let mut lat = Metric::new(
            "micro/evloop/spawn_many",
            Measure::Latency,
            "ns/iter",
            363.675,
        );
        lat.lower = Some(351.215);
        lat.upper = Some(377.075);
        lat.notes = vec!["median of 3 samples".into()];
        let thr = Metric::new(
            "echo/e/closed/1conns/64B",
            Measure::Throughput,
            "ops/s",
            1000.0,
        );
        let metrics = [lat, thr];
        assert_eq!(
            serde_json::to_value(render(&metrics, Direction::SmallerIsBetter)).unwrap(),
            json!([{
                "name": "micro/evloop/spawn_many/latency",
                "unit": "ns/iter",
                "value": 363.675,
                "range": "351.2150 - 377.0750",
                "extra": "median of 3 samples"
            }])
        );
        assert_eq!(
            serde_json::to_value(render(&metrics, Direction::BiggerIsBetter)).unwrap(),
            json!([{"name": "echo/e/closed/1conns/64B/throughput", "unit": "ops/s", "value": 1000.0}])
        );
    }
}
