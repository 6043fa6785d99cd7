//! `cargo bench`: every micro-benchmark workload on every runtime compiled in, with
//! criterion. One group per workload, one function per runtime id (`spawn_many/tokio-ct`),
//! so `cargo bench -- tokio-ct` filters by runtime and `cargo bench -- spawn_many/` by
//! workload (the filter is a regex: `smol` also matches `smol-mt`, `'smol$'` does not).
//! Each sample times only the iterations (`iter_custom`); a runtime is built once, on the
//! first sample of its function, and reused. HTML reports land in `target/criterion`.
//!
//! Defaults suit a 2-core machine (20 samples, 0.5 s warm-up, 2 s measurement: the full
//! suite takes a few minutes); `cargo bench -- --quick` is the short profile (well under a
//! minute once built).

use std::time::Duration;

use benches::micro::{run_workload, WorkloadDef, WORKLOADS};
use criterion::{
    criterion_group, criterion_main, measurement::WallTime, BenchmarkGroup, Criterion,
};
use harness::{Runtime, RuntimeConfig};
use runtimes::RuntimeVisitor;

/// Adds the function `workload/R::ID` to a criterion group.
struct BenchOnRuntime<'g, 'c> {
    group: &'g mut BenchmarkGroup<'c, WallTime>,
    workload: &'static WorkloadDef,
}

impl RuntimeVisitor for BenchOnRuntime<'_, '_> {
    type Output = ();

    fn visit<R: Runtime>(self) {
        let name = self.workload.name;
        // Built on first use, so a function the filter skips never builds its runtime.
        let mut runtime: Option<R> = None;
        self.group.bench_function(R::ID, |b| {
            let rt = runtime.get_or_insert_with(|| {
                R::build(&RuntimeConfig::default())
                    .unwrap_or_else(|e| panic!("cannot build runtime {}: {e}", R::ID))
            });
            b.iter_custom(|iters| {
                run_workload(name, rt, iters)
                    .expect("workload is in the registry")
                    .unwrap_or_else(|e| panic!("{e}"))
            });
        });
    }
}

fn micro(c: &mut Criterion) {
    for workload in WORKLOADS {
        let mut group = c.benchmark_group(workload.name);
        for id in runtimes::runtime_ids() {
            runtimes::with_runtime(
                id,
                BenchOnRuntime {
                    group: &mut group,
                    workload,
                },
            )
            .expect("id comes from the registry");
        }
        group.finish();
    }
}

/// Sample settings for a 2-core machine; command-line flags (`--quick`,
/// `--measurement-time`, `--sample-size`) still override them.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = micro_benches;
    config = config();
    targets = micro
}
criterion_main!(micro_benches);
