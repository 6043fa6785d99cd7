//! Equal load: every compared server at one offered rate (open loop), so the load generator
//! does identical work for each and what differs is the server: its CPU per message, its
//! corrected latency, its errors. The rate is `--rate`, or a fraction (default 60 %) of the
//! slowest server's capacity as a short closed-loop probe measured it (the most it carried
//! with that many connections, one message in flight each).
//!
//! Invariant: every server of a comparison gets the same rate; a server whose probe failed
//! is left out of the rate's choice (and said so), never given a rate of its own.

use std::time::Duration;

use harness::results::{CapacityProbe, EchoRun, EqualLoadBasis, RunPurpose, RunStatus};
use loadgen::LoadMode;

use super::{memory, progress, Bench, Point, ServerSpec};

/// The default share of the slowest server's probed capacity.
pub const DEFAULT_FRACTION: f64 = 0.6;

/// What `bench equal` runs.
#[derive(Clone, Debug)]
pub struct EqualPlan {
    /// Servers, in interleaving order.
    pub servers: Vec<ServerSpec>,
    /// Connection counts (one comparison each).
    pub connections: Vec<u64>,
    /// The rate, when given; else probed.
    pub rate: Option<f64>,
    /// Share of the slowest probe's throughput.
    pub fraction: f64,
    /// Probe warm-up and window.
    pub probe_warmup: Duration,
    /// Probe window.
    pub probe_duration: Duration,
    /// Warm-up of each equal-load point.
    pub warmup: Duration,
    /// Window of each equal-load point.
    pub duration: Duration,
    /// Repeats (servers interleaved within each).
    pub repeat: u32,
}

/// What an equal-load comparison produced.
#[derive(Debug, Default)]
pub struct EqualOutcome {
    /// The probes and the equal-load points, in the order run.
    pub runs: Vec<EchoRun>,
    /// How each connection count's rate was chosen.
    pub bases: Vec<EqualLoadBasis>,
}

/// Runs the comparison; `after_point` sees every run so far as each completes.
pub fn run(
    bench: &Bench,
    plan: &EqualPlan,
    after_point: &mut dyn FnMut(&[EchoRun], &[EqualLoadBasis]),
) -> EqualOutcome {
    let probes = if plan.rate.is_some() {
        0
    } else {
        plan.servers.len()
    };
    let total =
        plan.connections.len() as u64 * (probes + plan.servers.len() * plan.repeat as usize) as u64;
    let bar = progress(bench.settings.quiet, "bench equal", total);
    let mut out = EqualOutcome::default();
    for &conns in &plan.connections {
        let mut basis = EqualLoadBasis {
            connections: conns,
            ..EqualLoadBasis::default()
        };
        match plan.rate {
            Some(rate) => {
                basis.rate = rate;
                basis.basis = format!("--rate {rate:.0} msg/s, as given");
            }
            None => {
                for server in &plan.servers {
                    bar.set_message(format!("probe {} x {conns}", server.name()));
                    let point = Point {
                        connections: conns,
                        mode: LoadMode::Closed,
                        rate: None,
                        warmup: plan.probe_warmup,
                        duration: plan.probe_duration,
                        purpose: RunPurpose::Probe,
                    };
                    let run = bench.point(server, &point);
                    if run.status == RunStatus::Complete && run.errors.total() == 0 {
                        basis.probes.push(CapacityProbe {
                            runtime: run.runtime.clone(),
                            msgs_per_s: run.throughput_msgs_per_s,
                            client_bound: run.client_bound,
                        });
                    }
                    out.runs.push(run);
                    bar.inc(1);
                    after_point(&out.runs, &out.bases);
                }
                choose_rate(&mut basis, plan, &out.runs);
            }
        }
        let rate = basis.rate;
        out.bases.push(basis);
        if rate <= 0.0 {
            bar.inc((plan.servers.len() * plan.repeat as usize) as u64);
            continue;
        }
        for repeat in 0..plan.repeat {
            for server in &plan.servers {
                bar.set_message(format!(
                    "{} x {conns} at {rate:.0} msg/s (repeat {}/{})",
                    server.name(),
                    repeat + 1,
                    plan.repeat
                ));
                let point = Point {
                    connections: conns,
                    mode: LoadMode::Open,
                    rate: Some(rate),
                    warmup: plan.warmup,
                    duration: plan.duration,
                    purpose: RunPurpose::EqualLoad,
                };
                let mut run = bench.point(server, &point);
                run.repeat = repeat;
                out.runs.push(run);
                memory::fill_runtime_shares(&mut out.runs);
                bar.inc(1);
                after_point(&out.runs, &out.bases);
            }
        }
    }
    bar.finish_and_clear();
    out
}

/// Sets `basis.rate` from its probes: `fraction` of the slowest.
fn choose_rate(basis: &mut EqualLoadBasis, plan: &EqualPlan, runs: &[EchoRun]) {
    basis.fraction = Some(plan.fraction);
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| r.purpose == RunPurpose::Probe && r.connections == basis.connections)
        .filter(|r| !basis.probes.iter().any(|p| p.runtime == r.runtime))
        .map(|r| r.runtime.clone())
        .collect();
    let slowest = basis
        .probes
        .iter()
        .min_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s))
        .cloned();
    let left_out = if failed.is_empty() {
        String::new()
    } else {
        format!(
            "; left out of the choice, their probe failed or had errors: {}",
            failed.join(", ")
        )
    };
    match slowest {
        Some(p) if p.msgs_per_s >= 1.0 => {
            basis.rate = (plan.fraction * p.msgs_per_s).max(1.0).round();
            basis.basis = format!(
                "{:.0} % of the slowest server's probe: {} carried {:.0} msg/s in {} s of \
                 closed loop with {} connections{}{left_out}",
                plan.fraction * 100.0,
                p.runtime,
                p.msgs_per_s,
                plan.probe_duration.as_secs_f64(),
                basis.connections,
                if p.client_bound {
                    " (a lower bound: the load generator was the limit)"
                } else {
                    ""
                }
            );
        }
        _ => {
            basis.rate = 0.0;
            basis.basis = format!("no server completed its probe, so no equal-load rate{left_out}");
        }
    }
}
