//! Micro-benchmark workloads: small runtime operations (spawn, yield, wake, timers, TCP),
//! each written once, generic over [`harness::Runtime`], and shared by `cargo bench`
//! (criterion) and `loopbench micro` (one deterministic execution for callgrind).
//!
//! Protocol: a workload gets a runtime already built and runs `iters` iterations on it;
//! what one iteration is, each workload's [`WorkloadDef::iteration`] says. The work runs in
//! a task spawned on the runtime (so multi-threaded runtimes run it on a worker), and the
//! workload returns the time of the iterations alone: setup such as binding a listener or
//! starting a helper thread is outside the timed part.
//!
//! Invariant: a workload checks what it can count (every task returned its value, every
//! message came back, every connection was accepted) and panics when a runtime lost work;
//! an error from the operating system (bind, connect, thread start) is returned instead.

use std::io;
use std::time::Duration;

use harness::{JoinError, Runtime, RuntimeConfig, RuntimeHandle, RuntimeInfo};
use runtimes::{with_runtime, RuntimeVisitor};

mod blocking;
mod spawn;
mod tcp;
mod timers;
mod wake;
mod yielding;

pub use blocking::SpawnBlocking;
pub use spawn::{ChainedSpawn, SpawnMany, SpawnManyRemote};
pub use tcp::{AcceptRate, TcpEcho};
pub use timers::Timers;
pub use wake::{CrossThreadWake, PingPong};
pub use yielding::YieldMany;

/// Static description of a workload.
#[derive(Debug)]
pub struct WorkloadDef {
    /// Unique name, as `--bench` and the criterion group take it (`spawn_many`).
    pub name: &'static str,
    /// One line: what the workload exercises.
    pub description: &'static str,
    /// What one iteration is, as the ns/iter figure counts it.
    pub iteration: &'static str,
    /// Whether one execution on a single-threaded runtime does the same work every time, so
    /// that its instruction count under callgrind repeats within 0.1%: no helper thread and
    /// no clock decides what runs (loopback TCP between two tasks qualifies; timers do not).
    /// The regression gate uses only these.
    pub deterministic: bool,
}

/// One workload: its description and its body, generic over the runtime.
pub trait Workload {
    /// What this workload is.
    const DEF: WorkloadDef;
    /// Runs `iters` iterations on `rt` and returns the time they took, setup excluded.
    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration>;
}

/// Why a workload did not complete.
#[derive(Debug, thiserror::Error)]
#[error("workload {workload} on {runtime}: {error}")]
pub struct WorkloadError {
    /// Workload name.
    pub workload: &'static str,
    /// Runtime id.
    pub runtime: &'static str,
    /// What the operating system or the runtime reported (part of the message, so that a
    /// panic in criterion or one line on stderr carries it whole).
    pub error: io::Error,
}

macro_rules! workloads {
    ($($workload:path),* $(,)?) => {
        /// Every workload, in display order.
        pub static WORKLOADS: &[WorkloadDef] = &[$(<$workload as Workload>::DEF),*];

        /// Runs the workload called `name` for `iters` iterations on `rt` and returns the
        /// time of the iterations; `None` for an unknown name.
        pub fn run_workload<R: Runtime>(
            name: &str,
            rt: &R,
            iters: u64,
        ) -> Option<Result<Duration, WorkloadError>> {
            $(
                if name == <$workload as Workload>::DEF.name {
                    return Some(<$workload as Workload>::run(rt, iters).map_err(|error| {
                        WorkloadError {
                            workload: <$workload as Workload>::DEF.name,
                            runtime: R::ID,
                            error,
                        }
                    }));
                }
            )*
            None
        }
    };
}

workloads! {
    SpawnMany,
    SpawnManyRemote,
    YieldMany,
    PingPong,
    ChainedSpawn,
    Timers,
    SpawnBlocking,
    CrossThreadWake,
    TcpEcho,
    AcceptRate,
}

/// The workload called `name`.
pub fn find(name: &str) -> Option<&'static WorkloadDef> {
    WORKLOADS.iter().find(|d| d.name == name)
}

/// Names of every workload, comma-separated (for error messages).
pub fn names() -> String {
    WORKLOADS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `fut` as a task spawned on `rt` and returns its output: the workload's own code
/// then runs where the runtime runs tasks (a worker thread, for multi-threaded runtimes).
fn on_runtime<R, F, T>(rt: &R, fut: F) -> io::Result<T>
where
    R: Runtime,
    F: std::future::Future<Output = io::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let handle = rt.handle();
    rt.block_on(async move { handle.spawn(fut).await.map_err(task_failed)? })
}

/// A task that should have produced a value did not: that is the runtime's failure.
fn task_failed(err: JoinError) -> io::Error {
    io::Error::other(format!("a workload task did not complete: {err}"))
}

/// Splits `iters` into batches of at most `batch`: `iters = 2500, batch = 1000` gives
/// 1000, 1000, 500. Workloads that hold one object per iteration (tasks, timers) work in
/// batches so memory stays bounded however many iterations criterion asks for.
fn batches(iters: u64, batch: u64) -> impl Iterator<Item = u64> {
    let full = iters / batch;
    let rest = iters % batch;
    std::iter::repeat_n(batch, full as usize).chain((rest > 0).then_some(rest))
}

/// Starts a helper thread named `name` for the workloads that need one.
fn helper_thread<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> io::Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new()
        .name(format!("micro-{name}"))
        .spawn(body)
}

/// Join handle type of runtime handle `H`.
type JoinOf<H, T> = <H as RuntimeHandle>::JoinHandle<T>;

/// Idle time between starting the runtime and the measured execution in [`run_once`].
const SETTLE: Duration = Duration::from_millis(50);

/// One execution of workload `def` on the compiled-in runtime `runtime`, as `loopbench
/// micro` runs it (and the gate counts it under callgrind): builds the runtime, lets it
/// settle, runs `iters` iterations, and returns the runtime's description and the time of
/// the iterations. `None` when `runtime` is not compiled in.
///
/// Everything runs on a fresh thread, and so (with glibc) on a fresh malloc arena: the
/// workload's heap starts in the same state whatever the process allocated before, such as
/// the length of argv[0] or clap's structures. On the main thread's heap those moved the
/// 128-byte alignment tokio's task cells land on, and with it tokio-ct's instruction counts
/// by up to 12% with no change to tokio-ct's code (a checkout at a longer path did it).
///
/// Settling is an empty `block_on` and [`SETTLE`] of idle time: it starts the helper threads
/// a runtime starts lazily (smol's "async-io" reactor thread) and lets them reach their idle
/// state, so they do not race the first iterations. Without it, callgrind counts of smol
/// varied by up to 0.4% from one execution to the next.
pub fn run_once(
    runtime: &str,
    def: &'static WorkloadDef,
    iters: u64,
) -> Option<io::Result<(RuntimeInfo, Duration)>> {
    struct RunOnce {
        bench: &'static str,
        iters: u64,
    }
    impl RuntimeVisitor for RunOnce {
        type Output = io::Result<(RuntimeInfo, Duration)>;
        fn visit<R: Runtime>(self) -> Self::Output {
            let rt = R::build(&RuntimeConfig::default()).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot build runtime {}: {e}", R::ID))
            })?;
            rt.block_on(async {});
            std::thread::sleep(SETTLE);
            let elapsed = run_workload(self.bench, &rt, self.iters)
                .expect("workload from the registry")
                .map_err(io::Error::other)?;
            Ok((rt.info(), elapsed))
        }
    }
    if !runtimes::runtime_ids().contains(&runtime) {
        return None;
    }
    let runtime = runtime.to_string();
    let bench = def.name;
    let outcome = std::thread::Builder::new()
        .name("loopbench-micro".into())
        .spawn(move || {
            with_runtime(&runtime, RunOnce { bench, iters }).expect("runtime id checked above")
        })
        .and_then(|thread| {
            thread
                .join()
                .map_err(|_| io::Error::other(format!("the workload {bench} panicked")))?
        });
    Some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_iters_exactly() {
        assert_eq!(batches(2500, 1000).collect::<Vec<_>>(), [1000, 1000, 500]);
        assert_eq!(batches(1000, 1000).collect::<Vec<_>>(), [1000]);
        assert_eq!(batches(0, 1000).count(), 0);
        assert_eq!(batches(7, 1000).collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn names_are_unique_and_described() {
        let mut names: Vec<_> = WORKLOADS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WORKLOADS.len(), "duplicate workload name");
        for d in WORKLOADS {
            assert!(
                !d.description.is_empty() && !d.iteration.is_empty(),
                "{}",
                d.name
            );
            assert_eq!(find(d.name).map(|f| f.name), Some(d.name));
        }
    }
}
