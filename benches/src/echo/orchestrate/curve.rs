//! `bench echo`: the matrix of servers × connection counts × repeats in one mode, servers
//! interleaved within each repeat (A B C A B C …) so drift hits them all alike.

use std::time::Duration;

use harness::results::{EchoRun, RunPurpose};
use loadgen::LoadMode;

use super::{memory, progress, Bench, Point, ServerSpec};

/// What `bench echo` runs.
#[derive(Clone, Debug)]
pub struct CurvePlan {
    /// Servers, in interleaving order.
    pub servers: Vec<ServerSpec>,
    /// Connection counts.
    pub connections: Vec<u64>,
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Open loop: offered total rate.
    pub rate: Option<f64>,
    /// Warm-up per point.
    pub warmup: Duration,
    /// Measured duration per point.
    pub duration: Duration,
    /// Repeats of the whole matrix.
    pub repeat: u32,
}

/// Runs the whole matrix; `after_point` sees every run so far as each completes (to save
/// partial results, for example). Memory shares are filled in at the end (and in what
/// `after_point` sees, as far as the floor has run).
pub fn run(
    bench: &Bench,
    plan: &CurvePlan,
    after_point: &mut dyn FnMut(&[EchoRun]),
) -> Vec<EchoRun> {
    let total = plan.servers.len() as u64 * plan.connections.len() as u64 * u64::from(plan.repeat);
    let bar = progress(bench.settings.quiet, "bench echo", total);
    let mut runs = Vec::new();
    for repeat in 0..plan.repeat {
        for &conns in &plan.connections {
            for server in &plan.servers {
                bar.set_message(format!(
                    "{} x {conns} (repeat {}/{})",
                    server.name(),
                    repeat + 1,
                    plan.repeat
                ));
                let point = Point {
                    connections: conns,
                    mode: plan.mode,
                    rate: plan.rate,
                    warmup: plan.warmup,
                    duration: plan.duration,
                    purpose: RunPurpose::Curve,
                };
                let mut run = bench.point(server, &point);
                run.repeat = repeat;
                runs.push(run);
                memory::fill_runtime_shares(&mut runs);
                after_point(&runs);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    runs
}
