//! Several shards of one run (one per load-generator host) as one run: the only place
//! shards are merged.
//!
//! Invariants: counts are summed (connections, established, measured messages, every error
//! counter); latency percentiles come from the sum of the shards' histograms
//! (`Histogram::add` of every recorded value), never from averaging their percentiles;
//! throughput is the sum of the shards' rates over the agreed window; the merged run is only
//! `complete` when every shard is.

use harness::results::{EchoErrors, EchoRun, Percentiles, RunStatus};

use crate::stats::LatencyHistogram;

/// One shard to merge: where it ran and what it measured.
#[derive(Clone, Debug)]
pub struct ShardRun<'a> {
    /// The host (for warnings and reasons).
    pub host: &'a str,
    /// Its run as its load generator wrote it.
    pub run: &'a EchoRun,
}

/// Adds the histograms (base64 V2) of `texts`; `None` when no shard recorded a value.
fn add_histograms<'a>(
    texts: impl Iterator<Item = (&'a str, Option<&'a String>)>,
) -> Result<Option<LatencyHistogram>, String> {
    let mut sum = LatencyHistogram::default();
    for (host, text) in texts {
        if let Some(text) = text {
            let h = LatencyHistogram::from_base64(text).map_err(|e| format!("{host}: {e}"))?;
            sum.merge(&h);
        }
    }
    Ok((!sum.is_empty()).then_some(sum))
}

/// The highest value of each percentile over `runs` (connect times keep no histogram, so
/// the merged connect figures are an upper bound, the worst shard's).
/// The shards' I/O paths: the one they all used, else each one used, comma-separated
/// (`uring,epoll`).
fn client_io(shards: &[ShardRun<'_>]) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for io in shards.iter().filter_map(|s| s.run.client_io.as_deref()) {
        if !seen.contains(&io) {
            seen.push(io);
        }
    }
    (!seen.is_empty()).then(|| seen.join(","))
}

fn worst(all: impl Iterator<Item = Percentiles>) -> Percentiles {
    all.fold(Percentiles::default(), |a, b| Percentiles {
        p50: a.p50.max(b.p50),
        p90: a.p90.max(b.p90),
        p99: a.p99.max(b.p99),
        p999: a.p999.max(b.p999),
        p9999: a.p9999.max(b.p9999),
        max: a.max.max(b.max),
    })
}

/// Merges `shards` (at least one) into one run named `label`; `missing` lists hosts whose
/// shard produced no run (with why), which makes the merged run partial. The error says
/// which shard's histogram is unreadable or why the shards do not belong together.
pub fn merge(label: &str, shards: &[ShardRun<'_>], missing: &[String]) -> Result<EchoRun, String> {
    let Some(first) = shards.first() else {
        return Err("no shard to merge".into());
    };
    for s in shards {
        if (s.run.mode.as_str(), s.run.message_size, s.run.pipeline)
            != (
                first.run.mode.as_str(),
                first.run.message_size,
                first.run.pipeline,
            )
        {
            return Err(format!(
                "shards differ: {} ran {} size {} pipeline {}, {} ran {} size {} pipeline {}",
                first.host,
                first.run.mode,
                first.run.message_size,
                first.run.pipeline,
                s.host,
                s.run.mode,
                s.run.message_size,
                s.run.pipeline
            ));
        }
    }
    let corrected = add_histograms(shards.iter().map(|s| (s.host, s.run.histogram.as_ref())))?;
    let raw = add_histograms(
        shards
            .iter()
            .map(|s| (s.host, s.run.histogram_raw.as_ref())),
    )?;
    let sum = |f: fn(&EchoRun) -> u64| shards.iter().map(|s| f(s.run)).sum::<u64>();
    let mut errors = EchoErrors::default();
    for s in shards {
        let e = &s.run.errors;
        errors.connect_failures += e.connect_failures;
        errors.mismatches += e.mismatches;
        errors.resets += e.resets;
        errors.timeouts += e.timeouts;
        errors.other += e.other;
    }
    let messages: u64 = shards
        .iter()
        .map(|s| {
            s.run
                .measured_messages
                .unwrap_or(s.run.messages().round() as u64)
        })
        .sum();
    let cpu_us: f64 = shards
        .iter()
        .filter_map(|s| {
            let n = s.run.measured_messages.unwrap_or(0) as f64;
            s.run.client_cpu_us_per_msg.map(|c| c * n)
        })
        .sum();
    let rate: Option<f64> = shards
        .iter()
        .map(|s| s.run.offered_rate)
        .sum::<Option<f64>>();

    let mut reasons: Vec<String> = missing.to_vec();
    let mut status = RunStatus::Complete;
    let mut warnings = Vec::new();
    for s in shards {
        if s.run.status != RunStatus::Complete {
            reasons.push(format!(
                "{} ({}): {}: {}",
                s.host,
                s.run.shard.as_deref().unwrap_or("shard"),
                s.run.status,
                s.run
                    .status_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ));
        }
        for w in &s.run.warnings {
            warnings.push(format!("{}: {w}", s.host));
        }
    }
    let failed_all = shards.iter().all(|s| s.run.status == RunStatus::Failed);
    if failed_all {
        status = RunStatus::Failed;
    } else if !reasons.is_empty() {
        status = RunStatus::Partial;
    }
    let status_reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    if let Some(why) = &status_reason {
        warnings.insert(0, format!("{status}: {why}"));
    }
    Ok(EchoRun {
        runtime: label.to_string(),
        connections: sum(|r| r.connections),
        established: sum(|r| r.established),
        mode: first.run.mode.clone(),
        purpose: first.run.purpose,
        status,
        status_reason,
        offered_rate: rate,
        pipeline: first.run.pipeline,
        message_size: first.run.message_size,
        duration_s: shards.iter().map(|s| s.run.duration_s).fold(0.0, f64::max),
        planned_duration_s: first.run.planned_duration_s,
        throughput_msgs_per_s: shards.iter().map(|s| s.run.throughput_msgs_per_s).sum(),
        latency_us: corrected
            .as_ref()
            .and_then(|h| h.percentiles())
            .unwrap_or_default(),
        latency_raw_us: raw
            .as_ref()
            .and_then(|h| h.percentiles())
            .unwrap_or_default(),
        histogram: corrected.as_ref().and_then(|h| h.to_base64()),
        histogram_raw: raw.as_ref().and_then(|h| h.to_base64()),
        connect_ms: worst(shards.iter().map(|s| s.run.connect_ms.clone())),
        errors,
        unserved_connections: sum(|r| r.unserved_connections),
        lost_connections: sum(|r| r.lost_connections),
        client_cpu_pct: shards.iter().map(|s| s.run.client_cpu_pct).sum(),
        client_threads: shards.iter().map(|s| s.run.client_threads).sum(),
        client_cpu_us_per_msg: (messages > 0 && cpu_us > 0.0).then(|| cpu_us / messages as f64),
        client_io: client_io(shards),
        client_bound: shards.iter().any(|s| s.run.client_bound),
        warnings,
        measured_messages: Some(messages),
        start_at: first.run.start_at,
        ..EchoRun::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(values: &[u64], conns: u64) -> EchoRun {
        let mut h = LatencyHistogram::default();
        for v in values {
            h.record_us(*v);
        }
        EchoRun {
            connections: conns,
            established: conns,
            mode: "closed".into(),
            message_size: 64,
            pipeline: 1,
            duration_s: 1.0,
            throughput_msgs_per_s: values.len() as f64,
            measured_messages: Some(values.len() as u64),
            histogram: h.to_base64(),
            histogram_raw: h.to_base64(),
            latency_us: h.percentiles().unwrap(),
            client_cpu_us_per_msg: Some(2.0),
            ..EchoRun::default()
        }
    }

    #[test]
    fn merged_percentiles_are_those_of_the_union_of_the_recorded_values() {
        // Two shards with very different distributions: averaging their p99s would be far
        // from the union's p99.
        let a: Vec<u64> = (1..=9_000).map(|i| 100 + i % 50).collect();
        let b: Vec<u64> = (1..=1_000).map(|i| 5_000 + i * 7).collect();
        let (ra, rb) = (shard(&a, 600), shard(&b, 401));
        let merged = merge(
            "x",
            &[
                ShardRun {
                    host: "h1",
                    run: &ra,
                },
                ShardRun {
                    host: "h2",
                    run: &rb,
                },
            ],
            &[],
        )
        .unwrap();
        assert_eq!(merged.measured_messages, Some(10_000));
        assert_eq!(merged.connections, 1001);
        assert_eq!(merged.established, 1001);
        assert_eq!(merged.status, RunStatus::Complete);
        assert_eq!(merged.client_cpu_us_per_msg, Some(2.0));
        let mut union = LatencyHistogram::default();
        let mut all: Vec<u64> = a.iter().chain(&b).copied().collect();
        for v in &all {
            union.record_us(*v);
        }
        let p = merged.latency_us.clone();
        assert_eq!(p.p99, union.quantile(0.99) as f64);
        assert_eq!(p.p50, union.quantile(0.50) as f64);
        assert_eq!(p.max, union.percentiles().unwrap().max);
        // And within the histogram's precision (3 significant digits) of the exact order
        // statistic.
        all.sort_unstable();
        let exact = all[(all.len() as f64 * 0.99).ceil() as usize - 1] as f64;
        assert!(
            (p.p99 - exact).abs() <= exact * 1e-3,
            "{} vs {exact}",
            p.p99
        );
        let back = LatencyHistogram::from_base64(merged.histogram.as_deref().unwrap()).unwrap();
        assert_eq!(back.len(), 10_000);
        let averaged = (ra.latency_us.p99 + rb.latency_us.p99) / 2.0;
        assert!(
            (averaged - p.p99).abs() > 1000.0,
            "the test must tell averaging apart"
        );
    }

    #[test]
    fn a_missing_or_partial_shard_makes_the_merge_partial() {
        let a = shard(&[10, 20], 1);
        let mut b = shard(&[30], 1);
        b.status = RunStatus::Partial;
        b.status_reason = Some("rate not reached".into());
        let m = merge(
            "x",
            &[
                ShardRun {
                    host: "h1",
                    run: &a,
                },
                ShardRun {
                    host: "h2",
                    run: &b,
                },
            ],
            &["h3: ssh exited with status 255".into()],
        )
        .unwrap();
        assert_eq!(m.status, RunStatus::Partial);
        let why = m.status_reason.unwrap();
        assert!(why.contains("h3: ssh") && why.contains("h2"), "{why}");
        let mut c = shard(&[1], 1);
        c.mode = "open".into();
        assert!(merge(
            "x",
            &[
                ShardRun {
                    host: "h1",
                    run: &a
                },
                ShardRun {
                    host: "h3",
                    run: &c
                }
            ],
            &[]
        )
        .is_err());
        assert!(merge("x", &[], &[]).is_err());
    }
}
