//! Every micro-benchmark workload, run once per runtime with a few iterations, so a broken
//! benchmark or a runtime that loses work fails `cargo test` without timing anything.
//! Each workload checks its own counts (tasks, messages, connections) and panics on a loss.

use std::sync::mpsc;
use std::time::Duration;

use benches::micro::{run_workload, WORKLOADS};
use harness::{Runtime, RuntimeConfig};
use runtimes::RuntimeVisitor;

/// Iteration counts tried on each runtime: none, one, and enough to cross the batch size
/// of the batched workloads (1000) with a remainder.
const ITERS: [u64; 3] = [0, 1, 1003];

/// Far more than a cell needs; only a hang gets near it.
const CELL_LIMIT: Duration = Duration::from_secs(60);

/// Builds `R` once and runs workload `name` with each of [`ITERS`] on it, as criterion
/// reuses one runtime across samples.
struct RunWorkload(&'static str);

impl RuntimeVisitor for RunWorkload {
    type Output = Result<(), String>;

    fn visit<R: Runtime>(self) -> Self::Output {
        let rt = R::build(&RuntimeConfig::default()).map_err(|e| format!("build: {e}"))?;
        for iters in ITERS {
            run_workload(self.0, &rt, iters)
                .ok_or("not in the registry")?
                .map_err(|e| format!("{iters} iters: {e}"))?;
        }
        Ok(())
    }
}

/// Runs one workload on one runtime on its own thread, so a panic or a hang becomes a
/// line in the failure list instead of stopping the loop.
fn run_cell(workload: &'static str, runtime: &'static str) -> Result<(), String> {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("{workload}/{runtime}"))
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| {
                runtimes::with_runtime(runtime, RunWorkload(workload))
                    .expect("id comes from the registry")
            })
            .unwrap_or_else(|p| Err(format!("panicked: {}", harness::task::panic_message(&*p))));
            let _ = done_tx.send(outcome);
        })
        .map_err(|e| format!("cannot start thread: {e}"))?;
    done_rx
        .recv_timeout(CELL_LIMIT)
        .unwrap_or_else(|_| Err(format!("did not finish within {CELL_LIMIT:?}")))
}

#[test]
fn every_workload_completes_on_every_runtime() {
    let ids = runtimes::runtime_ids();
    assert!(!ids.is_empty(), "no runtime compiled in");
    let mut failures = Vec::new();
    for workload in WORKLOADS {
        for &runtime in &ids {
            if let Err(why) = run_cell(workload.name, runtime) {
                failures.push(format!("{}/{runtime}: {why}", workload.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "workloads failed:\n  {}",
        failures.join("\n  ")
    );
}

#[test]
fn unknown_workload_is_none() {
    struct Unknown;
    impl RuntimeVisitor for Unknown {
        type Output = bool;
        fn visit<R: Runtime>(self) -> bool {
            let rt = R::build(&RuntimeConfig::default()).expect("runtime builds");
            run_workload("no_such_workload", &rt, 1).is_none()
        }
    }
    let id = runtimes::runtime_ids()[0];
    assert_eq!(runtimes::with_runtime(id, Unknown), Some(true));
}
