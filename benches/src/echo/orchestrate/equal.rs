//! Equal load: every compared server at one offered rate (open loop), so the load generator
//! does identical work for each and what differs is the server: its CPU per message, its
//! corrected latency, its errors. The rate is `--rate`, or a fraction (default 60 %) of the
//! slowest server's capacity as a short closed-loop probe measured it (the most it carried
//! with that many connections, one message in flight each).
//!
//! Where the probes were limited by the load generator, that fraction is one of the
//! *client's* closed-loop capacity, and the open loop costs the client more per message
//! than the closed loop (measured here 1.6x: it sleeps and wakes between sends, and wakes a
//! server that sleeps too), so it can leave the client itself at its client-bound threshold
//! and no point rankable. So a probed rate is checked once, by the comparison's first
//! point: if the load generator used [`CLIENT_BOUND_PCT`] % or more of its cores there, the
//! rate is lowered once, in proportion, to bring it to [`CLIENT_TARGET_PCT`] %, that point
//! is kept as a probe (open loop) and the comparison starts at the lower rate; the basis
//! says so. A `--rate` given is never changed.
//!
//! Invariant: every server of a comparison gets the same rate; a server whose probe failed
//! is left out of the rate's choice (and said so), never given a rate of its own.

use std::time::Duration;

use harness::results::{
    CapacityProbe, EchoRun, EqualLoadBasis, RunPurpose, RunStatus, CLIENT_BOUND_PCT,
};
use loadgen::LoadMode;

use super::{memory, progress, Bench, Point, ServerSpec};

/// The default share of the slowest server's probed capacity.
pub const DEFAULT_FRACTION: f64 = 0.6;

/// Share of its cores (percent) a lowered rate aims to leave the load generator at: far
/// enough under [`CLIENT_BOUND_PCT`] for the spread of repeats.
pub const CLIENT_TARGET_PCT: f64 = 70.0;

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
        let mut rate = basis.rate;
        // Only a rate chosen from probes is checked, and only once.
        let mut check = plan.rate.is_none();
        out.bases.push(basis);
        if rate <= 0.0 {
            bar.inc((plan.servers.len() * plan.repeat as usize) as u64);
            continue;
        }
        for repeat in 0..plan.repeat {
            for server in &plan.servers {
                let point_at = |rate: f64| {
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
                    run
                };
                let mut run = point_at(rate);
                let lower = std::mem::take(&mut check)
                    .then(|| lowered_rate(rate, &run))
                    .flatten();
                if let (Some(lower), Some(basis)) = (lower, out.bases.last_mut()) {
                    note_lowered(basis, &run, lower);
                    run.purpose = RunPurpose::Probe;
                    out.runs.push(run);
                    rate = lower;
                    bar.inc_length(1);
                    bar.inc(1);
                    after_point(&out.runs, &out.bases);
                    run = point_at(rate);
                }
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

/// The rate to use instead of `rate` when the load generator could not carry `run` (the
/// first point at `rate`) under its client-bound threshold: lowered in proportion to bring
/// it to [`CLIENT_TARGET_PCT`] % of its cores. A point short of its rate (partial) counts:
/// a client that could not keep up is the case in point. `None` when the client carried
/// it, or when the point says nothing of the client (failed, errors, connections short, no
/// CPU figure): a server's fault never lowers the rate.
fn lowered_rate(rate: f64, run: &EchoRun) -> Option<f64> {
    let cores = f64::from(run.client_threads.max(1));
    let used = run.client_cpu_pct / cores;
    let clean = run.status != RunStatus::Failed
        && run.errors.total() == 0
        && run.established == run.connections;
    if !clean || !used.is_finite() || used < CLIENT_BOUND_PCT {
        return None;
    }
    Some((rate * CLIENT_TARGET_PCT / used).max(1.0).round())
}

/// Records in `basis` that its rate was lowered to `lower` after `run`.
fn note_lowered(basis: &mut EqualLoadBasis, run: &EchoRun, lower: f64) {
    let cores = run.client_threads.max(1);
    basis.basis = format!(
        "{}; lowered to {lower:.0} msg/s, as at {:.0} msg/s the load generator used {:.0} % of \
         its {cores} core(s) with {} (client-bound), so the rate is scaled to leave it near \
         {CLIENT_TARGET_PCT:.0} %",
        basis.basis, basis.rate, run.client_cpu_pct, run.runtime,
    );
    basis.lowered_from = Some(basis.rate);
    basis.rate = lower;
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

#[cfg(test)]
mod tests {
    use harness::results::{EchoRun, EqualLoadBasis, RunStatus};

    use super::{lowered_rate, note_lowered, CLIENT_TARGET_PCT};

    fn first_point(cpu_pct: f64, threads: u32, status: RunStatus) -> EchoRun {
        EchoRun {
            runtime: "evloop".into(),
            status,
            client_cpu_pct: cpu_pct,
            client_threads: threads,
            client_bound: cpu_pct >= 85.0 * f64::from(threads.max(1)),
            connections: 100,
            established: 100,
            ..EchoRun::default()
        }
    }

    /// A rate the client carried at 87 % of its one core is scaled to leave it at 70 %; one
    /// it carried at 84 % is kept, as is any on two cores under 85 % of both.
    #[test]
    fn a_probed_rate_is_lowered_only_when_the_client_could_not_carry_it() {
        let lower = lowered_rate(174_144.0, &first_point(87.0, 1, RunStatus::Complete));
        assert_eq!(
            lower,
            Some((174_144.0 * CLIENT_TARGET_PCT / 87.0_f64).round())
        );
        assert_eq!(lower, Some(140_116.0));
        assert_eq!(
            lowered_rate(174_144.0, &first_point(85.0, 1, RunStatus::Complete)),
            Some(143_413.0)
        );
        assert_eq!(
            lowered_rate(174_144.0, &first_point(84.9, 1, RunStatus::Complete)),
            None
        );
        assert_eq!(
            lowered_rate(100_000.0, &first_point(160.0, 2, RunStatus::Complete)),
            None
        );
        assert_eq!(
            lowered_rate(100_000.0, &first_point(180.0, 2, RunStatus::Complete)),
            Some(77_778.0)
        );
    }

    /// A point short of its rate with a client at 99 % lowers it; a failed one, one with
    /// errors or connections short says nothing of the client and never does.
    #[test]
    fn only_the_client_lowers_the_rate_never_a_fault() {
        assert_eq!(
            lowered_rate(50_000.0, &first_point(99.0, 1, RunStatus::Partial)),
            Some(35_354.0)
        );
        assert_eq!(
            lowered_rate(50_000.0, &first_point(99.0, 1, RunStatus::Failed)),
            None
        );
        let mut errors = first_point(99.0, 1, RunStatus::Partial);
        errors.errors.resets = 1;
        assert_eq!(lowered_rate(50_000.0, &errors), None);
        let mut short = first_point(99.0, 1, RunStatus::Complete);
        short.established = 99;
        assert_eq!(lowered_rate(50_000.0, &short), None);
        assert_eq!(
            lowered_rate(50_000.0, &first_point(f64::NAN, 1, RunStatus::Complete)),
            None
        );
    }

    /// The basis keeps the first rate and says why and how it was lowered.
    #[test]
    fn a_lowered_rate_is_recorded_with_its_reason() {
        let mut basis = EqualLoadBasis {
            connections: 100,
            rate: 174_144.0,
            fraction: Some(0.6),
            basis: "60 % of the slowest server's probe".into(),
            ..EqualLoadBasis::default()
        };
        note_lowered(
            &mut basis,
            &first_point(87.0, 1, RunStatus::Complete),
            140_116.0,
        );
        assert_eq!(basis.rate, 140_116.0);
        assert_eq!(basis.lowered_from, Some(174_144.0));
        assert_eq!(
            basis.basis,
            "60 % of the slowest server's probe; lowered to 140116 msg/s, as at 174144 msg/s \
             the load generator used 87 % of its 1 core(s) with evloop (client-bound), so the \
             rate is scaled to leave it near 70 %"
        );
    }
}
