//! What a run measured, as one `EchoRun`: the workers' tallies merged, the figures over the
//! window as it happened, the status (`complete`, `partial`, `failed`) with its reason, and
//! every warning a reader needs.
//!
//! Invariant: a figure is computed only over what was measured: throughput divides by the
//! seconds actually measured, percentiles come only from recorded values, and anything less
//! than planned makes the run `partial` (nothing at all: `failed`).

use harness::results::{EchoErrors, EchoRun, RunStatus, CLIENT_BOUND_PCT};

use crate::plan::{LoadMode, LoadPlan};
use crate::stats::LatencyHistogram;
use crate::worker::WorkerOutcome;
use crate::{LoadReport, Measured, WindowTiming};

/// Schedule lag p99 above which a warning is given (microseconds).
const LAG_WARN_US: u64 = 1000;
/// Measured throughput below this share of the offered rate makes an open-loop run partial.
const RATE_SHORTFALL: f64 = 0.95;

/// Merges the workers' outcomes into the report.
pub(crate) fn summarise(
    plan: &LoadPlan,
    outcomes: Vec<WorkerOutcome>,
    measured: Option<Measured>,
    timing: WindowTiming,
) -> LoadReport {
    let mut corrected = LatencyHistogram::default();
    let mut raw = LatencyHistogram::default();
    let mut connect = LatencyHistogram::default();
    let mut lag = LatencyHistogram::default();
    let mut errors = EchoErrors::default();
    let (mut established, mut messages, mut refused, mut connect_timeouts) = (0, 0, 0, 0);
    let (mut sources, mut unserved, mut lost) = (1, 0, 0);
    let mut first_error = None;
    let mut first_connect_error = None;
    for o in outcomes {
        corrected.merge(&o.tally.corrected);
        raw.merge(&o.tally.raw);
        connect.merge(&o.connect);
        lag.merge(&o.lag);
        let e = &o.tally.errors;
        errors.connect_failures += e.connect_failures;
        errors.mismatches += e.mismatches;
        errors.resets += e.resets;
        errors.timeouts += e.timeouts;
        errors.other += e.other;
        established += o.established;
        messages += o.tally.measured;
        refused += o.refused;
        connect_timeouts += o.connect_timeouts;
        sources = sources.max(o.sources_used);
        unserved += o.unserved;
        lost += o.tally.lost;
        first_error = first_error.or(o.tally.first_error);
        first_connect_error = first_connect_error.or(o.first_connect_error);
    }

    let planned = plan.duration.as_secs_f64();
    let seconds = measured.map_or(0.0, |m| m.seconds);
    let throughput = if seconds > 0.0 {
        messages as f64 / seconds
    } else {
        0.0
    };
    let mut warnings = Vec::new();
    // Reasons the run is less than planned, most important first.
    let mut shortfalls: Vec<String> = Vec::new();
    let first_of = |e: &Option<String>| {
        e.as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    };
    let nonconnect = errors.total() - errors.connect_failures;
    let error_text = format!(
        "{}{}",
        EchoErrors {
            connect_failures: 0,
            ..errors.clone()
        }
        .describe(),
        first_of(&first_error)
    );

    if established == 0 {
        let why = if refused > 0 && refused == plan.connections {
            format!(
                "connection refused by {}: is an echo server listening there?",
                plan.target
            )
        } else {
            format!(
                "no connection established ({} refused, {connect_timeouts} timed out{})",
                refused,
                first_of(&first_connect_error)
            )
        };
        shortfalls.push(why);
    } else if established < plan.connections {
        let failed = plan.connections - established;
        shortfalls.push(format!(
            "only {established} of {} connections established ({failed} failed: {refused} \
             refused, {connect_timeouts} timed out, {} other{})",
            plan.connections,
            failed.saturating_sub(refused + connect_timeouts),
            first_of(&first_connect_error)
        ));
    }
    match measured {
        None if established > 0 => shortfalls.push(format!(
            "every connection was lost before the measured window started: {error_text}"
        )),
        Some(m) if m.cut_at.is_some() => shortfalls.push(format!(
            "every connection was lost {:.2} s into the {} s window, so it ends there: \
             {error_text}",
            m.cut_at.unwrap_or(0.0),
            trim(planned)
        )),
        _ => {}
    }
    if measured.is_some() && messages == 0 && nonconnect == 0 {
        shortfalls.push("no echo completed in the measured window".into());
    } else if measured.is_some() && messages == 0 {
        shortfalls.push(format!(
            "no echo completed in the measured window: {error_text}"
        ));
    }
    let cut = measured.is_some_and(|m| m.cut_at.is_some());
    if lost > 0 && !cut && measured.is_some() {
        shortfalls.push(format!(
            "{lost} of {established} connections were lost during the run: {error_text}"
        ));
    }
    if unserved > 0 && measured.is_some() && messages > 0 {
        shortfalls.push(format!(
            "{unserved} of {established} established connections never got an echo (the \
             server starved them)"
        ));
    } else if unserved > 0 && measured.is_some() {
        warnings.push(format!(
            "{unserved} of {established} established connections never got an echo"
        ));
    }
    if let (LoadMode::Open, Some(rate), Some(_)) = (plan.mode, plan.rate, measured) {
        if throughput < RATE_SHORTFALL * rate && messages > 0 {
            shortfalls.push(format!(
                "offered rate {rate:.0} msg/s not reached: {throughput:.0} msg/s measured"
            ));
        }
    }
    if let (Some(late), Some(t)) = (timing.late_s, plan.start_at) {
        shortfalls.push(format!(
            "connecting ended {late:.2} s after the agreed start (--start-at {t:.3}), so the \
             window started late"
        ));
    }
    if let Some(w) = timing.warmup_s {
        warnings.push(format!(
            "warm-up shortened to {w:.2} s to start the window at --start-at"
        ));
    }
    if nonconnect > 0 {
        warnings.push(error_text.clone());
    }

    let (status, status_reason) = if measured.is_none() || messages == 0 {
        let why = shortfalls.first().cloned();
        (RunStatus::Failed, why.or(Some("nothing measured".into())))
    } else if !shortfalls.is_empty() {
        (RunStatus::Partial, Some(shortfalls.join("; ")))
    } else {
        (RunStatus::Complete, None)
    };
    if let Some(why) = &status_reason {
        warnings.insert(0, format!("{status}: {why}"));
    }

    let cpu_pct = measured.map_or(0.0, |m| 100.0 * m.cpu.as_secs_f64() / m.cpu_wall.max(1e-9));
    let client_bound = cpu_pct >= CLIENT_BOUND_PCT * plan.threads as f64;
    if client_bound {
        warnings.push(format!(
            "client-bound: the load generator used {cpu_pct:.0}% CPU of {} thread(s), the \
             figure measures it as much as the server",
            plan.threads
        ));
    }
    if !lag.is_empty() && lag.quantile(0.99) > LAG_WARN_US {
        warnings.push(format!(
            "send schedule lag p99 {} us exceeds {} us",
            lag.quantile(0.99),
            LAG_WARN_US
        ));
    }
    let client_us = measured
        .filter(|_| messages > 0)
        .map(|m| m.cpu.as_secs_f64() * 1e6 / messages as f64);

    let latency_src = match plan.mode {
        LoadMode::Open => &corrected,
        LoadMode::Closed => &raw,
    };
    let run = EchoRun {
        runtime: plan.label.clone(),
        connections: plan.connections,
        established,
        mode: plan.mode.as_str().to_string(),
        status,
        status_reason,
        offered_rate: plan.rate.filter(|_| plan.mode == LoadMode::Open),
        pipeline: u64::from(plan.pipeline),
        message_size: plan.message_size as u64,
        duration_s: seconds,
        planned_duration_s: Some(planned),
        throughput_msgs_per_s: throughput,
        latency_us: latency_src.percentiles().unwrap_or_default(),
        latency_raw_us: raw.percentiles().unwrap_or_default(),
        histogram: latency_src.to_base64(),
        histogram_raw: raw.to_base64(),
        connect_ms: connect.percentiles_scaled(1000.0).unwrap_or_default(),
        errors,
        unserved_connections: if measured.is_some() { unserved } else { 0 },
        lost_connections: lost,
        client_cpu_pct: cpu_pct,
        client_threads: plan.threads as u32,
        client_cpu_us_per_msg: client_us,
        client_io: plan.io.map(|io| io.as_str().to_string()),
        client_bound,
        warnings,
        measured_messages: measured.map(|_| messages),
        shard: plan.shard.map(|s| s.to_string()),
        start_at: plan.start_at,
        ..EchoRun::default()
    };
    LoadReport {
        run,
        schedule_lag_us: lag.percentiles(),
        source_addresses: sources,
    }
}

fn trim(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}
