//! The load generator: its own process, written directly on epoll (rustix) in one or a few
//! threads, so its costs do not depend on the runtime being measured.
//!
//! A run: raise the open-file limit (or stop with one clear line), open the connections at
//! the connect rate (spreading over 127.0.0.x source addresses when ports run short), then
//! traffic: closed loop (`pipeline` messages in flight per connection) or open loop (a total
//! rate spread over connections, one message in flight per connection, latency from the
//! intended send time), a warm-up, then the measured window. The coordinator announces the
//! window's start and end ([`LoadEvent`]) so another process can sample the server around it.
//!
//! Invariants:
//! - Every echoed byte is verified against what was sent (connection id, sequence number and
//!   a pattern derived from both), across short reads; a message with any wrong byte is a
//!   mismatch and is never counted as a completed echo.
//! - Never reports a figure it did not measure: an empty histogram gives no percentiles and
//!   no serialised histogram (shown as 0 with a warning), and every shortfall (connections,
//!   rate, client saturation, schedule lag) becomes a warning.
//! - Errors (counted over the whole run, warm-up included): connect failures (refused, timed
//!   out, other), mismatches (a wrong byte, or bytes with nothing in flight), resets (the
//!   server closed or reset a connection), timeouts (no complete echo within the message
//!   timeout; the connection is then closed), other I/O errors.
//! - Only completions inside the measured window count towards throughput and latency.

mod conn;
pub mod pattern;
pub mod stats;
mod worker;

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use harness::results::{EchoErrors, EchoRun, Percentiles};

use crate::echo::plan::{LoadMode, LoadPlan};
use crate::echo::proc;
use stats::LatencyHistogram;
use worker::{Worker, WorkerOutcome};

/// Client CPU use (percent of its threads' cores) above which a warning says the load
/// generator may have been the bottleneck.
const SATURATED_PCT: f64 = 90.0;
/// Schedule lag p99 above which a warning is given (microseconds).
const LAG_WARN_US: u64 = 1000;
/// Measured throughput below this share of the offered rate gets a warning.
const RATE_SHORTFALL: f64 = 0.95;

/// Why a load run could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan is unusable (names the argument).
    #[error("{0}")]
    Plan(String),
    /// The open-file limit cannot hold the connections asked for.
    #[error("{0}")]
    FdLimit(String),
    /// The generator's own resources (epoll, timerfd, threads) could not be created.
    #[error("load generator setup failed: {0}")]
    Setup(#[from] std::io::Error),
    /// A worker thread panicked.
    #[error("a load-generator thread panicked: {0}")]
    Worker(String),
}

/// Progress of a run, for whoever watches (the CLI prints one line each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadEvent {
    /// Every connect attempt is resolved.
    Connected {
        /// Connections established.
        established: u64,
        /// Connections asked for.
        asked: u64,
    },
    /// The measured window starts now.
    MeasureStart,
    /// The measured window ends now.
    MeasureEnd,
}

/// When traffic starts and what the measured window is; set once by the coordinator.
#[derive(Debug)]
struct TrafficStart {
    /// Traffic (and the open-loop schedule) starts here.
    at: Instant,
    /// Start of the measured window (after the warm-up).
    measure_from: Instant,
    /// End of the measured window.
    measure_to: Instant,
    /// Open loop: interval between a connection's intended sends.
    interval: Option<Duration>,
}

/// What the coordinator and the workers share.
#[derive(Debug)]
struct Shared {
    /// Met twice: all connects resolved; traffic start published.
    barrier: Barrier,
    /// Established connections, summed by the workers.
    established: AtomicU64,
    /// Unset when nothing was established (workers then skip traffic).
    start: OnceLock<TrafficStart>,
}

/// The outcome of a run: the results-file record and what only the terminal shows.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// The run as the results file records it (server fields unset).
    pub run: EchoRun,
    /// Open loop: lateness of sends against their schedule caused by the generator itself.
    pub schedule_lag_us: Option<Percentiles>,
    /// Source addresses used per worker, at most.
    pub source_addresses: usize,
}

/// Runs `plan` under `label` (the runtime id or server name recorded), reporting progress
/// through `on_event`.
pub fn run(
    plan: &LoadPlan,
    label: &str,
    on_event: &mut dyn FnMut(LoadEvent),
) -> Result<LoadReport, LoadError> {
    plan.validate().map_err(LoadError::Plan)?;
    let (soft, hard) = proc::raise_nofile();
    if soft < plan.fds_needed() {
        return Err(LoadError::FdLimit(proc::nofile_too_low(
            "the load generator",
            soft,
            hard,
            plan.connections,
            plan.fds_needed(),
        )));
    }
    let threads = plan.threads.min(plan.connections as usize).max(1);
    let plan = Arc::new(LoadPlan {
        threads,
        ..plan.clone()
    });
    let shared = Arc::new(Shared {
        barrier: Barrier::new(threads + 1),
        established: AtomicU64::new(0),
        start: OnceLock::new(),
    });
    let mut handles = Vec::with_capacity(threads);
    for w in 0..threads {
        let ids: Vec<u32> = (0..plan.connections as u32)
            .filter(|id| *id as usize % threads == w)
            .collect();
        let (plan, shared) = (Arc::clone(&plan), Arc::clone(&shared));
        // The worker is built on its own thread (its epoll event buffer is not `Send`); a
        // worker that cannot be built still meets both barriers so nobody waits forever.
        handles.push(
            std::thread::Builder::new()
                .name(format!("loadgen-{w}"))
                .spawn(move || match Worker::new(plan, ids) {
                    Ok(worker) => Ok(worker.run(&shared)),
                    Err(e) => {
                        shared.barrier.wait();
                        shared.barrier.wait();
                        Err(e)
                    }
                })?,
        );
    }

    shared.barrier.wait();
    let established = shared.established.load(Ordering::Relaxed);
    on_event(LoadEvent::Connected {
        established,
        asked: plan.connections,
    });
    let mut window = None;
    if established > 0 {
        let at = Instant::now() + Duration::from_millis(1);
        let measure_from = at + plan.warmup;
        let measure_to = measure_from + plan.duration;
        let interval = match plan.mode {
            LoadMode::Closed => None,
            LoadMode::Open => {
                let rate = plan.rate.unwrap_or(1.0);
                Some(Duration::from_secs_f64(established as f64 / rate))
            }
        };
        let _ = shared.start.set(TrafficStart {
            at,
            measure_from,
            measure_to,
            interval,
        });
        window = Some((measure_from, measure_to));
    }
    shared.barrier.wait();

    let mut cpu = None;
    if let Some((from, to)) = window {
        sleep_until(from);
        let (cpu0, t0) = (proc::self_cpu(), Instant::now());
        on_event(LoadEvent::MeasureStart);
        sleep_until(to);
        let (cpu1, t1) = (proc::self_cpu(), Instant::now());
        on_event(LoadEvent::MeasureEnd);
        let wall = (t1 - t0).as_secs_f64();
        cpu = Some(100.0 * (cpu1 - cpu0).as_secs_f64() / wall.max(1e-9));
    }

    let mut outcomes = Vec::with_capacity(threads);
    for h in handles {
        let outcome = h.join().map_err(|p| {
            LoadError::Worker(
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            )
        })?;
        outcomes.push(outcome?);
    }
    Ok(summarise(&plan, label, outcomes, cpu))
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Merges the workers' outcomes into the report, with every warning a reader needs.
fn summarise(
    plan: &LoadPlan,
    label: &str,
    outcomes: Vec<WorkerOutcome>,
    client_cpu_pct: Option<f64>,
) -> LoadReport {
    let mut corrected = LatencyHistogram::default();
    let mut raw = LatencyHistogram::default();
    let mut connect = LatencyHistogram::default();
    let mut lag = LatencyHistogram::default();
    let mut errors = EchoErrors::default();
    let (mut established, mut measured, mut refused, mut connect_timeouts) = (0, 0, 0, 0);
    let mut sources = 1;
    let mut unserved = 0;
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
        measured += o.tally.measured;
        refused += o.refused;
        connect_timeouts += o.connect_timeouts;
        sources = sources.max(o.sources_used);
        unserved += o.unserved;
        if first_error.is_none() {
            first_error = o.tally.first_error;
        }
        if first_connect_error.is_none() {
            first_connect_error = o.first_connect_error;
        }
    }

    let mut warnings = Vec::new();
    if established < plan.connections {
        let failed = plan.connections - established;
        warnings.push(format!(
            "only {established} of {} connections established ({failed} failed: {refused} \
             refused, {connect_timeouts} timed out, {} other{})",
            plan.connections,
            failed.saturating_sub(refused + connect_timeouts),
            first_connect_error
                .as_deref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ));
    }
    if refused > 0 && refused == plan.connections {
        warnings.push(format!(
            "connection refused by {}: is an echo server listening there?",
            plan.target
        ));
    }
    let duration_s = if client_cpu_pct.is_some() {
        plan.duration.as_secs_f64()
    } else {
        0.0
    };
    let throughput = if duration_s > 0.0 {
        measured as f64 / duration_s
    } else {
        0.0
    };
    if client_cpu_pct.is_none() {
        warnings.push("nothing measured: no connection was established".into());
    } else if measured == 0 {
        warnings.push(
            "no echo completed in the measured window: latency figures are absent (shown as 0)"
                .into(),
        );
    }
    if let (LoadMode::Open, Some(rate)) = (plan.mode, plan.rate) {
        if duration_s > 0.0 && throughput < RATE_SHORTFALL * rate {
            warnings.push(format!(
                "offered rate {rate:.0} msg/s not reached: {throughput:.0} msg/s measured"
            ));
        }
    }
    if unserved > 0 && client_cpu_pct.is_some() {
        warnings.push(format!(
            "{unserved} of {established} established connections never got an echo (server \
             starved them?)"
        ));
    }
    let nonconnect = errors.total() - errors.connect_failures;
    if nonconnect > 0 {
        warnings.push(format!(
            "{} mismatched, {} reset, {} timed out, {} other{}",
            errors.mismatches,
            errors.resets,
            errors.timeouts,
            errors.other,
            first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        ));
    }
    let cpu_pct = client_cpu_pct.unwrap_or(0.0);
    if cpu_pct > SATURATED_PCT * plan.threads as f64 {
        warnings.push(format!(
            "load generator used {cpu_pct:.0}% CPU ({} thread(s)): the client may be the \
             bottleneck",
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

    let latency_src = match plan.mode {
        LoadMode::Open => &corrected,
        LoadMode::Closed => &raw,
    };
    let run = EchoRun {
        runtime: label.to_string(),
        connections: plan.connections,
        established,
        mode: plan.mode.as_str().to_string(),
        offered_rate: plan.rate.filter(|_| plan.mode == LoadMode::Open),
        pipeline: u64::from(plan.pipeline),
        message_size: plan.message_size as u64,
        repeat: 0,
        duration_s,
        throughput_msgs_per_s: throughput,
        latency_us: latency_src.percentiles().unwrap_or_default(),
        latency_raw_us: raw.percentiles().unwrap_or_default(),
        histogram: latency_src.to_base64(),
        histogram_raw: raw.to_base64(),
        connect_ms: connect.percentiles_scaled(1000.0).unwrap_or_default(),
        errors,
        server_cpu_us_per_msg: None,
        server_rss_bytes: None,
        rss_per_connection_bytes: None,
        client_cpu_pct: cpu_pct,
        warnings,
    };
    LoadReport {
        run,
        schedule_lag_us: lag.percentiles(),
        source_addresses: sources,
    }
}
