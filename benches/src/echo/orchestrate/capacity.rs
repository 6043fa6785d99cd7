//! `bench capacity`: per server and connection count, the highest offered rate whose
//! corrected p99 latency stays under a bound with no error, found by bisection over short
//! open-loop runs (each a fresh server and load generator), starting from a closed-loop
//! probe and repeated at the edge.
//!
//! A step passes when the run is complete (the rate reached, every connection kept), has
//! no error, and its corrected p99 is at most the bound. When the lowest failing step had
//! the load generator at [`harness::results::CLIENT_BOUND_PCT`] % or more of its cores, the
//! client ran out before the server: the capacity is then a lower bound, and says so.

use std::time::Duration;

use harness::results::{CapacityResult, CapacityStep, EchoRun, RunPurpose, RunStatus};
use loadgen::LoadMode;

use super::{progress, Bench, Point, ServerSpec};

/// Growing steps before bisection gives up finding a failing rate.
const BRACKET_STEPS: u32 = 4;
/// Halving steps before it gives up finding a passing rate (down to 1/256 of the first).
const SHRINK_STEPS: u32 = 8;
/// Re-runs of the edge rate when it fails the second time.
const EDGE_RETRIES: u32 = 2;

/// What `bench capacity` runs.
#[derive(Clone, Debug)]
pub struct CapacityPlan {
    /// Servers, in order.
    pub servers: Vec<ServerSpec>,
    /// Connection counts.
    pub connections: Vec<u64>,
    /// Bound on corrected p99 latency.
    pub p99_bound: Duration,
    /// Probe warm-up.
    pub probe_warmup: Duration,
    /// Probe window.
    pub probe_duration: Duration,
    /// Warm-up of each step.
    pub warmup: Duration,
    /// Window of each step.
    pub duration: Duration,
    /// Bisection stops when the bracket is this tight (relative), or after `max_steps`.
    pub precision: f64,
    /// Bisection steps at most (bracketing and the edge repeat not counted).
    pub max_steps: u32,
}

/// What a capacity search produced.
#[derive(Debug, Default)]
pub struct CapacityOutcome {
    /// One result per server × connection count.
    pub results: Vec<CapacityResult>,
    /// The probes (closed loop) and the step at each capacity (open loop), as runs.
    pub runs: Vec<EchoRun>,
}

/// Runs every search; `after` sees the results so far after each.
pub fn run(
    bench: &Bench,
    plan: &CapacityPlan,
    after: &mut dyn FnMut(&CapacityOutcome),
) -> CapacityOutcome {
    let total = (plan.servers.len() * plan.connections.len()) as u64;
    let bar = progress(bench.settings.quiet, "bench capacity", total);
    let mut out = CapacityOutcome::default();
    for &conns in &plan.connections {
        for server in &plan.servers {
            let mut search = Search {
                bench,
                plan,
                server,
                conns,
                steps: Vec::new(),
                passing: Vec::new(),
                unconfirmed: false,
                bar: &bar,
            };
            let (result, probe) = search.run();
            out.runs.push(probe);
            let best = result.capacity_msgs_per_s;
            let at = search.passing_at(best);
            out.runs.extend(at.cloned());
            out.results.push(result);
            bar.inc(1);
            after(&out);
        }
    }
    bar.finish_and_clear();
    out
}

/// One server's search.
struct Search<'a> {
    bench: &'a Bench,
    plan: &'a CapacityPlan,
    server: &'a ServerSpec,
    conns: u64,
    /// Every step so far.
    steps: Vec<CapacityStep>,
    /// Each passing step's rate (as this search chose it) and run.
    passing: Vec<(f64, EchoRun)>,
    /// No rate passed twice at the edge.
    unconfirmed: bool,
    bar: &'a indicatif::ProgressBar,
}

impl Search<'_> {
    fn bound_us(&self) -> f64 {
        self.plan.p99_bound.as_secs_f64() * 1e6
    }

    /// Runs one open-loop step at `rate`; returns whether it passed.
    fn step(&mut self, rate: f64) -> bool {
        self.bar.set_message(format!(
            "{} x {}: {:.0} msg/s (step {})",
            self.server.name(),
            self.conns,
            rate,
            self.steps.len() + 1
        ));
        let point = Point {
            connections: self.conns,
            mode: LoadMode::Open,
            rate: Some(rate),
            warmup: self.plan.warmup,
            duration: self.plan.duration,
            purpose: RunPurpose::Curve,
        };
        let run = self.bench.point(self.server, &point);
        let passed = run.status == RunStatus::Complete
            && run.errors.total() == 0
            && run.latency_us.p99 <= self.bound_us()
            && run.throughput_msgs_per_s > 0.0;
        self.steps.push(CapacityStep {
            rate,
            achieved: run.throughput_msgs_per_s,
            p99_us: run.latency_us.p99,
            errors: run.errors.total(),
            status: run.status,
            client_cpu_pct: run.client_cpu_pct,
            client_bound: run.client_bound,
            passed,
        });
        if passed {
            self.passing.push((rate, run));
        }
        passed
    }

    /// The last passing run at `rate`, found by the rate this search gave the step, not
    /// by the one the run records (which has been through the child's plan file).
    fn passing_at(&self, rate: Option<f64>) -> Option<&EchoRun> {
        let rate = rate?;
        self.passing
            .iter()
            .rev()
            .find(|(r, _)| *r == rate)
            .map(|(_, run)| run)
    }

    /// The search; returns the result and the probe run.
    fn run(&mut self) -> (CapacityResult, EchoRun) {
        let probe_point = Point {
            connections: self.conns,
            mode: LoadMode::Closed,
            rate: None,
            warmup: self.plan.probe_warmup,
            duration: self.plan.probe_duration,
            purpose: RunPurpose::Probe,
        };
        self.bar
            .set_message(format!("{} x {}: probe", self.server.name(), self.conns));
        let probe = self.bench.point(self.server, &probe_point);
        let mut result = CapacityResult {
            runtime: self.server.name().to_string(),
            connections: self.conns,
            message_size: self.bench.settings.size as u64,
            p99_bound_us: self.bound_us(),
            ..CapacityResult::default()
        };
        if probe.status == RunStatus::Failed || probe.throughput_msgs_per_s < 1.0 {
            result.note = format!(
                "the closed-loop probe measured nothing: {}",
                probe.status_reason.as_deref().unwrap_or("no echo")
            );
            return (result, probe);
        }
        let t = probe.throughput_msgs_per_s;
        let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
        let first = (0.9 * t).max(1.0);
        if self.step(first) {
            lo = Some(first);
            let mut r = first;
            for _ in 0..BRACKET_STEPS {
                r *= 1.3;
                if self.step(r) {
                    lo = Some(r);
                } else {
                    hi = Some(r);
                    break;
                }
            }
        } else {
            hi = Some(first);
            let mut r = first;
            for _ in 0..SHRINK_STEPS {
                r = (r * 0.5).max(1.0);
                if self.step(r) {
                    lo = Some(r);
                    break;
                }
                hi = Some(r);
                if r <= 1.0 {
                    break;
                }
            }
        }
        if let (Some(mut l), Some(mut h)) = (lo, hi) {
            let mut n = 0;
            while h / l - 1.0 > self.plan.precision && n < self.plan.max_steps {
                let mid = (l + h) / 2.0;
                if self.step(mid) {
                    l = mid;
                } else {
                    h = mid;
                }
                n += 1;
            }
            // Repeat at the edge: the best rate must pass twice; when the repeat fails,
            // step down and ask a lower rate to pass twice.
            let (mut candidate, mut passes) = (l, 1);
            let mut confirmed = None;
            for _ in 0..=EDGE_RETRIES {
                while passes < 2 && self.step(candidate) {
                    passes += 1;
                }
                if passes >= 2 {
                    confirmed = Some(candidate);
                    break;
                }
                h = candidate;
                candidate *= 1.0 - 2.0 * self.plan.precision;
                passes = 0;
            }
            match confirmed {
                Some(c) => lo = Some(c),
                None => {
                    // No rate passed twice: keep the best single pass, said to be unconfirmed
                    // (the machine's noise is near the bound).
                    self.unconfirmed = true;
                    lo = self
                        .steps
                        .iter()
                        .filter(|s| s.passed)
                        .map(|s| s.rate)
                        .max_by(f64::total_cmp);
                }
            }
            hi = Some(h);
        }
        self.finish(&mut result, lo, hi, &probe);
        (result, probe)
    }

    fn finish(
        &mut self,
        result: &mut CapacityResult,
        lo: Option<f64>,
        hi: Option<f64>,
        probe: &EchoRun,
    ) {
        let fail_step = hi.and_then(|h| {
            self.steps
                .iter()
                .filter(|s| !s.passed && s.rate <= h * 1.0001)
                .min_by(|a, b| a.rate.total_cmp(&b.rate))
                .cloned()
        });
        let best = self.passing_at(lo);
        result.capacity_msgs_per_s = best.and(lo);
        result.p99_us = best.map(|r| r.latency_us.p99);
        result.server_cpu_us_per_msg = best.and_then(|r| r.server_cpu_us_per_msg);
        result.client_limited = match &fail_step {
            Some(s) => s.client_bound,
            None => true,
        };
        let bound = harness::units::format_duration(self.plan.p99_bound);
        result.note =
            match (result.capacity_msgs_per_s, &fail_step) {
                (None, _) => {
                    format!(
                "no rate tried met p99 <= {bound} without errors (lowest tried {:.0} msg/s)",
                self.steps.iter().map(|s| s.rate).fold(f64::INFINITY, f64::min)
            )
                }
                (Some(c), Some(f)) if f.client_bound => format!(
                    "at least {c:.0} msg/s: at {:.0} msg/s the load generator used {:.0}% CPU and \
                 ran out before the server, so this is a lower bound",
                    f.rate, f.client_cpu_pct
                ),
                (Some(c), Some(f)) => format!(
                    "{c:.0} msg/s met p99 <= {bound} twice; {:.0} msg/s did not ({})",
                    f.rate,
                    step_failure(f, self.bound_us())
                ),
                (Some(c), None) => format!(
                "at least {c:.0} msg/s: every rate tried passed (the closed-loop probe carried \
                 {:.0} msg/s{})",
                probe.throughput_msgs_per_s,
                if probe.client_bound { ", client-bound" } else { "" }
            ),
            };
        result.steps = std::mem::take(&mut self.steps);
    }
}

/// Why a step failed, in a few words.
fn step_failure(s: &CapacityStep, bound_us: f64) -> String {
    if s.status != RunStatus::Complete {
        format!("{}", s.status)
    } else if s.errors > 0 {
        format!("{} errors", s.errors)
    } else if s.p99_us > bound_us {
        format!("p99 {:.0} us", s.p99_us)
    } else {
        "nothing measured".into()
    }
}
