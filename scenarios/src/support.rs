//! Shared scaffolding for scenarios: building a runtime and running a body on it, event logs
//! (transcripts), bounded busy-waits, and percentiles for measured figures.
//!
//! Invariant: nothing here names a runtime; everything goes through [`harness::Runtime`] and
//! [`harness::RuntimeHandle`].

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use harness::{Capability, JoinError, Runtime, RuntimeConfig, RuntimeHandle};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{Observation, Verdict};

/// `unsupported`, with the runtime's own reason, when `R` lacks one of `needs`; `None` when
/// it has them all and the scenario can run.
pub(crate) fn lacking<R: Runtime>(needs: &[Capability]) -> Option<Observation> {
    needs
        .iter()
        .find_map(|&c| R::missing(c))
        .map(Observation::unsupported)
}

/// A shared, append-only record of events (what a seed program would print).
pub(crate) type Log<T> = Arc<Mutex<Vec<T>>>;

/// A new, empty log.
pub(crate) fn new_log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

/// Appends one event.
pub(crate) fn push<T>(log: &Log<T>, event: T) {
    log.lock().unwrap_or_else(|e| e.into_inner()).push(event);
}

/// A copy of the events so far.
pub(crate) fn events<T: Clone>(log: &Log<T>) -> Vec<T> {
    log.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A transcript: the lines a seed program prints, in the order printed.
pub(crate) type Transcript = Log<String>;

/// Prints one line into a transcript.
pub(crate) fn say(t: &Transcript, line: impl Into<String>) {
    push(t, line.into());
}

/// Builds `R` with the default configuration and runs `body` inside `block_on`.
pub(crate) fn on_runtime<R, F, Fut>(body: F) -> Observation
where
    R: Runtime,
    F: FnOnce(R::Handle) -> Fut,
    Fut: Future<Output = Observation>,
{
    on_runtime_with::<R, F, Fut>(&RuntimeConfig::default(), body)
}

/// Builds `R` with `config` and runs `body` inside `block_on`.
pub(crate) fn on_runtime_with<R, F, Fut>(config: &RuntimeConfig, body: F) -> Observation
where
    R: Runtime,
    F: FnOnce(R::Handle) -> Fut,
    Fut: Future<Output = Observation>,
{
    let rt = match crate::build_with::<R>(config) {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    rt.block_on(body(h))
}

/// Builds `R` with one worker thread and runs `body` as a spawned task (the seed's `main`),
/// so every task of the scenario is polled by the same thread and the order of events is
/// decided by the scheduler, not by a race between threads.
///
/// When the body deviates, the runtime is checked for parallelism: a runtime that still runs
/// two tasks at once (async-std sizes its global executor once per process, so in-process
/// tests may get more threads than asked) yields `unsupported`, never a flipping verdict.
pub(crate) fn on_one_worker<R, F, Fut>(body: F) -> Observation
where
    R: Runtime,
    F: FnOnce(R::Handle) -> Fut,
    Fut: Future<Output = Observation> + Send + 'static,
{
    let config = RuntimeConfig {
        worker_threads: Some(1),
        ..RuntimeConfig::default()
    };
    let rt = match crate::build_with::<R>(&config) {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let main = h.spawn(body(h.clone()));
    let h2 = h.clone();
    rt.block_on(async move {
        let obs = match main.await {
            Ok(obs) => obs,
            Err(e) => {
                return Observation::deviates(
                    format!("main task ended: {e}"),
                    "the main task completes",
                )
            }
        };
        if matches!(obs.verdict, Verdict::Deviates { .. }) && tasks_run_in_parallel(&h2).await {
            return Observation::unsupported(
                "two tasks ran at the same time although one worker thread was asked for \
                 (the runtime's thread count is fixed per process), so a single-threaded \
                 order of events cannot be checked here",
            );
        }
        obs
    })
}

/// How long [`tasks_run_in_parallel`] lets each probe task wait for the other.
const PARALLEL_WINDOW: Duration = Duration::from_millis(40);

/// Whether two tasks of this runtime run at the same instant: each spins (without awaiting)
/// for a bounded time, watching for the other. A single-threaded scheduler can never
/// answer yes.
pub(crate) async fn tasks_run_in_parallel<H: RuntimeHandle>(h: &H) -> bool {
    let running = [
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    ];
    let mut joins = Vec::new();
    for me in 0..2 {
        let mine = running[me].clone();
        let other = running[1 - me].clone();
        joins.push(h.spawn(async move {
            mine.store(true, Ordering::SeqCst);
            let met = spin_until(PARALLEL_WINDOW, || other.load(Ordering::SeqCst));
            mine.store(false, Ordering::SeqCst);
            met
        }));
    }
    let mut met = false;
    for j in joins {
        met |= j.await.unwrap_or(false);
    }
    met
}

/// Busy-waits (never awaiting) until `done()` is true or `limit` passes; returns whether
/// `done()` became true. This holds the thread the way a callback that never yields does.
pub(crate) fn spin_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::hint::spin_loop();
    }
}

/// Awaits `cond()` by sleeping in 1 ms steps, for at most `limit`; returns whether it held.
pub(crate) async fn eventually<H: RuntimeHandle>(
    h: &H,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) -> bool {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() >= limit {
            return false;
        }
        h.sleep(Duration::from_millis(1)).await;
    }
    true
}

/// The `p`-th percentile (0..=100) of `values` (sorted in place), nearest-rank.
pub(crate) fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// Microseconds in a duration, as a float.
pub(crate) fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Milliseconds in a duration, as a float.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Generous lateness bound for a timer of `delay`: ten times the delay, and at least 100 ms
/// (two noisy cores shared with compilers).
pub(crate) fn late_slack(delay: Duration) -> Duration {
    (delay * 10).max(Duration::from_millis(100))
}

/// A task's outcome as JSON (see the cell protocol): `{"value": v}`, `"cancelled"` or
/// `{"panicked": message}`.
pub(crate) fn outcome<T: Serialize>(joined: &Result<T, JoinError>) -> Value {
    match joined {
        Ok(v) => json!({ "value": v }),
        Err(JoinError::Cancelled) => json!("cancelled"),
        Err(JoinError::Panicked(msg)) => json!({ "panicked": msg }),
    }
}

/// Awaits a join handle, catching a panic the runtime re-raises in the awaiter (smol,
/// async-std): the outcome as [`outcome`] shapes it, or `{"reraised_in_awaiter": message}`.
pub(crate) async fn join_outcome<T, J>(join: J) -> Value
where
    T: Serialize,
    J: Future<Output = Result<T, JoinError>>,
{
    match AssertUnwindSafe(join).catch_unwind().await {
        Ok(joined) => outcome(&joined),
        Err(payload) => {
            json!({ "reraised_in_awaiter": harness::task::panic_message(payload.as_ref()) })
        }
    }
}

/// Runs `fut` for at most `limit` on the runtime's own timer: `None` when it did not finish.
/// Scenarios bound every wait this way, so a broken runtime yields a `fail` that says what
/// never happened instead of a hang.
pub(crate) async fn within<H: RuntimeHandle, F: Future>(
    h: &H,
    limit: Duration,
    fut: F,
) -> Option<F::Output> {
    let fut = std::pin::pin!(fut);
    let timer = std::pin::pin!(h.sleep(limit));
    match futures::future::select(fut, timer).await {
        futures::future::Either::Left((v, _)) => Some(v),
        futures::future::Either::Right(_) => None,
    }
}

/// Yields to the loop `n` times.
pub(crate) async fn yields<H: RuntimeHandle>(h: &H, n: usize) {
    for _ in 0..n {
        h.yield_now().await;
    }
}

/// Milliseconds rounded to 0.1, for observations that show a time.
pub(crate) fn ms1(d: Duration) -> f64 {
    (ms(d) * 10.0).round() / 10.0
}
