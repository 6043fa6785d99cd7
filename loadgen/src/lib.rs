//! The echo load generator: its own process, written directly on the kernel's interfaces
//! in one or a few threads and using no async runtime, so its costs do not depend on the
//! runtime being measured. Two I/O paths under the same connection logic: io_uring (one
//! system call per loop iteration, on evloop's safe `sys_uring` layer; the default where a
//! ring can be set up) and epoll (rustix); [`choose_io`] picks, [`LoadPlan::io`] asks.
//!
//! A run: raise the open-file limit (or stop with one clear line), open the connections at
//! the connect rate (spreading over 127.0.0.x source addresses when ports run short), then
//! traffic: closed loop (`pipeline` messages in flight per connection) or open loop (a total
//! rate spread over connections, one message in flight per connection, latency from the
//! intended send time), a warm-up, then the measured window. The coordinator announces the
//! window's start and end ([`LoadEvent`]) so another process can sample the server around it.
//!
//! Code map: [`plan`] (what a run is asked to do, and the ranges), [`child`] (the protocol of
//! a child `loopbench load`), `gate` (the start barrier that a failing worker breaks),
//! `worker` (one thread: connecting, time-outs, closed and open loop), `epoll` and `uring`
//! (its I/O path), `conn` (one connection, byte verification), [`pattern`]
//! (message contents), [`stats`] (histograms), `summary` (what a run measured, as an
//! `EchoRun` with its status).
//!
//! Invariants:
//! - Every echoed byte is verified against what was sent (connection id, sequence number and
//!   a pattern derived from both), across short reads; a message with any wrong byte is a
//!   mismatch and is never counted as a completed echo.
//! - Never reports a figure it did not measure: the measured window ends where the
//!   measurement stopped (every connection lost ends it early), an empty histogram gives no
//!   percentiles, and a run that measured less than planned is `partial` (nothing: `failed`)
//!   with the reason.
//! - A worker that fails or panics before traffic starts breaks the start gate: the run ends
//!   with that reason, never hangs.
//! - Errors (counted over the whole run, warm-up included): connect failures (refused, timed
//!   out, other), mismatches (a wrong byte, or bytes with nothing in flight), resets (the
//!   server closed or reset a connection), timeouts (no complete echo within the message
//!   timeout; the connection is then closed), other I/O errors.
//! - Only completions inside the measured window count towards throughput and latency.

#![forbid(unsafe_code)]

pub mod child;
mod conn;
mod epoll;
mod gate;
pub mod merge;
pub mod pattern;
pub mod plan;
pub mod stats;
mod summary;
mod uring;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use harness::proc;
use harness::results::{EchoRun, Percentiles};

pub use plan::{ClientIo, LoadMode, LoadPlan, PlanError, Shard};

use gate::{Gate, Party, Phase};
use worker::{IoPath, Worker, WorkerOutcome};

/// How often the coordinator looks whether every connection is gone.
const WATCH_EVERY: Duration = Duration::from_millis(5);

/// Why a load run could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan is unusable (names the flag).
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// The open-file limit cannot hold the connections asked for.
    #[error("{0}")]
    FdLimit(String),
    /// The I/O path asked for cannot be used here (`--io uring` without io_uring).
    #[error("--io {0}")]
    Io(String),
    /// The generator's own resources (threads) could not be created.
    #[error("load generator setup failed: {0}")]
    Setup(#[from] std::io::Error),
    /// A worker failed or panicked (before traffic: the gate's reason).
    #[error("load generator failed: {0}")]
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
    /// The measured window ends now (at its planned end, or earlier when every connection
    /// was lost).
    MeasureEnd,
}

/// When traffic starts and what the measured window is; set once by the coordinator.
#[derive(Debug)]
struct TrafficStart {
    /// Traffic (and the open-loop schedule) starts here.
    at: Instant,
    /// Start of the measured window (after the warm-up).
    measure_from: Instant,
    /// Planned end of the measured window.
    measure_to: Instant,
    /// Open loop: interval between a connection's intended sends.
    interval: Option<Duration>,
}

/// What the coordinator and the workers share.
#[derive(Debug)]
struct Shared {
    /// Met twice: all connects resolved; traffic start published.
    gate: Gate,
    /// Established connections, summed by the workers.
    established: AtomicU64,
    /// Established connections still alive (workers subtract what they lose).
    live: AtomicU64,
    /// When the last live connection was lost, if every one was.
    all_lost_at: Mutex<Option<Instant>>,
    /// Unset when nothing was established (workers then skip traffic).
    start: OnceLock<TrafficStart>,
    /// Set by the coordinator when the window is over: workers stop.
    stop: AtomicBool,
}

impl Shared {
    /// A worker lost `n` established connections at `now`.
    fn lost(&self, n: u64, now: Instant) {
        if n == 0 {
            return;
        }
        let before = self.live.fetch_sub(n, Ordering::AcqRel);
        if before <= n {
            let mut at = self.all_lost_at.lock().unwrap_or_else(|e| e.into_inner());
            at.get_or_insert(now);
        }
    }

    fn all_lost(&self) -> Option<Instant> {
        *self.all_lost_at.lock().unwrap_or_else(|e| e.into_inner())
    }
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

/// The measured window as it happened.
#[derive(Clone, Copy, Debug)]
struct Measured {
    /// Seconds measured (up to where the measurement stopped).
    seconds: f64,
    /// Client CPU time over it.
    cpu: Duration,
    /// Wall time the CPU reading was taken over.
    cpu_wall: f64,
    /// The window was cut short: every connection was lost at this many seconds into it.
    cut_at: Option<f64>,
}

/// The I/O path for `asked` on this machine, and the notice to print when it is not the
/// one asked for: `None` gives io_uring where a ring and a provided buffer ring can be set
/// up, else epoll with the reason as the notice; `Some(Uring)` where io_uring cannot be used
/// is an error saying why.
pub fn choose_io(asked: Option<ClientIo>) -> Result<(ClientIo, Option<String>), LoadError> {
    match asked {
        Some(ClientIo::Epoll) => Ok((ClientIo::Epoll, None)),
        Some(ClientIo::Uring) => match uring::probe() {
            Ok(()) => Ok((ClientIo::Uring, None)),
            Err(e) => Err(LoadError::Io(format!("uring: {e}"))),
        },
        None => match uring::probe() {
            Ok(()) => Ok((ClientIo::Uring, None)),
            Err(e) => Ok((
                ClientIo::Epoll,
                Some(format!("the load generator uses epoll: {e}")),
            )),
        },
    }
}

/// Runs `plan`, reporting progress through `on_event`. An unset [`LoadPlan::io`] is
/// resolved by [`choose_io`] (its notice is the caller's to print: call it first).
pub fn run(plan: &LoadPlan, on_event: &mut dyn FnMut(LoadEvent)) -> Result<LoadReport, LoadError> {
    plan.validate()?;
    let (io, _) = choose_io(plan.io)?;
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
        io: Some(io),
        ..plan.clone()
    });
    let shared = Arc::new(Shared {
        gate: Gate::new(threads + 1),
        established: AtomicU64::new(0),
        live: AtomicU64::new(0),
        all_lost_at: Mutex::new(None),
        start: OnceLock::new(),
        stop: AtomicBool::new(false),
    });
    let mut handles = Vec::with_capacity(threads);
    for w in 0..threads {
        let ids: Vec<u32> = (0..plan.connections as u32)
            .filter(|id| *id as usize % threads == w)
            .collect();
        let (plan, theirs) = (Arc::clone(&plan), Arc::clone(&shared));
        let spawned = std::thread::Builder::new()
            .name(format!("loadgen-{w}"))
            .spawn(move || worker_thread(w, plan, ids, &theirs));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                shared
                    .gate
                    .break_with(format!("cannot start worker thread {w}: {e}"));
                break;
            }
        }
    }

    let connected = shared.gate.meet(Phase::Connected);
    let established = shared.established.load(Ordering::Relaxed);
    if connected.is_ok() {
        on_event(LoadEvent::Connected {
            established,
            asked: plan.connections,
        });
    }
    let mut window = None;
    let mut timing = WindowTiming::default();
    if connected.is_ok() && established > 0 {
        let (at, measure_from, measure_to);
        (at, measure_from, measure_to, timing) = schedule(&plan, Instant::now());
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
    let started = connected.and_then(|()| shared.gate.meet(Phase::Started));
    let measured = match (&started, window) {
        (Ok(()), Some((from, to))) => watch_window(&shared, from, to, on_event),
        _ => None,
    };
    shared.stop.store(true, Ordering::Release);

    let mut outcomes = Vec::with_capacity(threads);
    let mut failure = started.err();
    for h in handles {
        match h.join() {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failure.get_or_insert(format!("a worker thread panicked: {msg}"));
            }
        }
    }
    if let Some(why) = failure {
        return Err(LoadError::Worker(why));
    }
    Ok(summary::summarise(&plan, outcomes, measured, timing))
}

/// How the window met `--start-at`.
#[derive(Clone, Copy, Debug, Default)]
struct WindowTiming {
    /// Connecting ended this many seconds after the agreed start: the window started then.
    late_s: Option<f64>,
    /// The warm-up was shortened to this many seconds to start at the agreed moment.
    warmup_s: Option<f64>,
}

/// Traffic start, window start and planned window end for a run whose connections are all
/// resolved at `now`: right away (after the warm-up), or aligned on `plan.start_at`. A
/// window that would start late starts now and ends at the agreed end (when that is still
/// ahead; otherwise it keeps its planned length, and the run says it is late).
fn schedule(plan: &LoadPlan, now: Instant) -> (Instant, Instant, Instant, WindowTiming) {
    let soon = now + Duration::from_millis(1);
    let mut timing = WindowTiming::default();
    let Some(start_at) = plan.start_at else {
        let from = soon + plan.warmup;
        return (soon, from, from + plan.duration, timing);
    };
    let until = start_at - plan::unix_now();
    if until <= 0.001 {
        timing.late_s = Some(-until);
        let end = until + plan.duration.as_secs_f64();
        let to = if end > 0.01 {
            soon + Duration::from_secs_f64(end)
        } else {
            soon + plan.duration
        };
        return (soon, soon, to, timing);
    }
    let from = now + Duration::from_secs_f64(until);
    let at = match from.checked_sub(plan.warmup) {
        Some(at) if at >= soon => at,
        _ => {
            timing.warmup_s = Some(from.saturating_duration_since(soon).as_secs_f64());
            soon
        }
    };
    (at, from, from + plan.duration, timing)
}

/// One worker thread's life: build, connect, meet the gate twice, traffic.
fn worker_thread(
    w: usize,
    plan: Arc<LoadPlan>,
    ids: Vec<u32>,
    shared: &Shared,
) -> Result<WorkerOutcome, String> {
    let party = Party::new(&shared.gate, format!("load-generator thread {w}"));
    if let Some(cpu) = (!plan.cpus.is_empty()).then(|| plan.cpus[w % plan.cpus.len()]) {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        // Pinning is best effort: a CPU outside this process's set is refused by the kernel.
        let _ = rustix::thread::sched_setaffinity(None, &set);
    }
    let io = plan.io.unwrap_or(ClientIo::Uring);
    let fail = |mut party: Party<'_>, e: std::io::Error| {
        let why = format!("setup failed ({io} I/O): {e}");
        party.fail(&why);
        Err(why)
    };
    match io {
        ClientIo::Epoll => match epoll::EpollIo::new() {
            Ok(path) => drive(Worker::new(plan, ids, path), party, shared),
            Err(e) => fail(party, e),
        },
        ClientIo::Uring => match uring::UringIo::new(&plan, ids.len()) {
            Ok(path) => drive(Worker::new(plan, ids, path), party, shared),
            Err(e) => fail(party, e),
        },
    }
}

/// Connects, meets the gate twice, runs the traffic.
fn drive<I: IoPath>(
    mut worker: Worker<I>,
    mut party: Party<'_>,
    shared: &Shared,
) -> Result<WorkerOutcome, String> {
    worker.connect_phase(shared);
    party.meet(Phase::Connected)?;
    party.meet(Phase::Started)?;
    Ok(worker.traffic(shared))
}

/// Sleeps through the warm-up and the window, announcing both ends; ends the window early
/// when every connection is lost. `None` when the window never started.
fn watch_window(
    shared: &Shared,
    from: Instant,
    to: Instant,
    on_event: &mut dyn FnMut(LoadEvent),
) -> Option<Measured> {
    if wait_watching(shared, from).is_some() {
        return None;
    }
    let (cpu0, t0) = (proc::self_cpu(), Instant::now());
    on_event(LoadEvent::MeasureStart);
    let cut = wait_watching(shared, to);
    let (cpu1, t1) = (proc::self_cpu(), Instant::now());
    on_event(LoadEvent::MeasureEnd);
    let end = cut.map_or(t1, |c| c.max(from));
    Some(Measured {
        seconds: end.saturating_duration_since(from).as_secs_f64(),
        cpu: cpu1.saturating_sub(cpu0),
        cpu_wall: (t1 - t0).as_secs_f64(),
        cut_at: cut.map(|c| c.saturating_duration_since(from).as_secs_f64()),
    })
}

/// Sleeps until `t`; returns early with the instant every connection was lost, if they all
/// were.
fn wait_watching(shared: &Shared, t: Instant) -> Option<Instant> {
    loop {
        if let Some(at) = shared.all_lost() {
            return Some(at);
        }
        let now = Instant::now();
        if now >= t {
            return None;
        }
        std::thread::sleep((t - now).min(WATCH_EVERY));
    }
}
