//! One load-generator thread: its share of the connections and one I/O path, epoll
//! ([`crate::epoll`]) or io_uring ([`crate::uring`]). Two phases: connect (at the paced
//! rate, every attempt resolved as established or failed), then traffic (closed or open
//! loop) until the end of the measured window, or until the coordinator says stop.
//!
//! Everything but moving bytes is here and in [`crate::conn`], shared by both paths:
//! opening sockets (source addresses, pacing), connect and message time-outs, the closed
//! loop's replacement of every echo, the open loop's schedule, and what is counted. An I/O
//! path ([`IoPath`]) only registers sockets, sends what a connection queued, and turns
//! what the kernel reports into calls of [`Core`]'s handlers.
//!
//! Cost per message is kept low on either path: sends grouped per wake-up (one per
//! connection however many echoes it completed), one clock reading per read (epoll) or per
//! wake-up (io_uring), and in open loop sends grouped on a [`SEND_TICK`] grid (the intended
//! time of each message *is* its grid point, so latency from it stays exact) so that one
//! wake-up serves several sends. Measured (README, "Echo benchmarks"): in closed loop just
//! below the epoll floor server's; in open loop at `bench equal`'s rate 1.4-1.6x it, in
//! waking a server that sleeps between sends and in its own sleeps.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::conn::{Completed, Conn, Phase, Tally, Window};
use crate::plan::LoadPlan;
use crate::stats::LatencyHistogram;
use crate::{Shared, TrafficStart};

/// How often in-progress connects and in-flight messages are checked for time-out
/// `limit`: a tenth of it (so a scan of 10,000 connections stays a small cost per message),
/// between 10 and 500 ms.
fn scan_every(limit: Duration) -> Duration {
    (limit / 10).clamp(Duration::from_millis(10), Duration::from_millis(500))
}
/// How long the end of a run waits for the I/O path to end its connections' operations.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Safety net: a wait never sleeps longer than this even if a deadline were lost.
pub(crate) const MAX_WAIT: Duration = Duration::from_millis(100);
/// Highest last octet of the 127.0.0.x source addresses used when ports run short.
const LAST_SOURCE_OCTET: u8 = 254;
/// Congestion control of the load generator's sockets (best effort).
const CLIENT_CONGESTION: &str = "reno";
/// Open loop: sends are scheduled on a grid of this step from the traffic start, so one
/// timer wake-up serves every send of its grid point.
pub(crate) const SEND_TICK: Duration = Duration::from_micros(100);

/// The open loop's send schedule: (intended send time, connection index), earliest first.
pub(crate) type Schedule = BinaryHeap<Reverse<(Instant, usize)>>;

/// The open loop's interval and schedule, for the handlers; `None` in the closed loop (and
/// in the connect phase, where nothing is sent).
pub(crate) type OpenLoop<'a> = Option<(Duration, &'a mut Schedule)>;

/// What one worker measured.
#[derive(Debug, Default)]
pub(crate) struct WorkerOutcome {
    /// Latencies, error counters, measured echoes.
    pub tally: Tally,
    /// Connect times (microseconds) of the established connections.
    pub connect: LatencyHistogram,
    /// Open loop: how late sends left compared with their schedule, when nothing but the
    /// generator itself delayed them (microseconds, measured window).
    pub lag: LatencyHistogram,
    /// Connections established.
    pub established: u64,
    /// Connect failures that were refusals.
    pub refused: u64,
    /// Connect failures that were time-outs.
    pub connect_timeouts: u64,
    /// Source addresses used (1 when the kernel's default sufficed).
    pub sources_used: usize,
    /// Established connections that never received a complete echo.
    pub unserved: u64,
    /// The first connect failure, for the warning.
    pub first_connect_error: Option<String>,
}

/// How an I/O path moves a worker's bytes. Connection `i` is `core.conns[i]` throughout.
pub(crate) trait IoPath {
    /// Starts watching connection `i`, whose non-blocking connect is in progress.
    fn watch(&mut self, i: usize, conn: &mut Conn) -> Result<(), Errno>;
    /// Sends what connection `i` has queued (now, or at the next wait).
    fn flush(&mut self, i: usize, conn: &mut Conn, tally: &mut Tally);
    /// Connection `i` was killed by the worker: ends whatever the path still has going on
    /// it.
    fn retire(&mut self, i: usize, conn: &mut Conn);
    /// Waits for events until `deadline` (at most [`MAX_WAIT`]) and handles them through
    /// `core`'s handlers.
    fn turn(&mut self, core: &mut Core, deadline: Instant, win: &Window, open: OpenLoop<'_>);
    /// Every connection was killed at the end of the run: ends what the path still has
    /// going on them, by `until` at the latest (what is left then ends when the path is
    /// dropped).
    fn close_all(&mut self, core: &mut Core, until: Instant);
}

/// A connect that reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connect {
    /// Established now (or already).
    Established,
    /// Not yet: wait for another report.
    Pending,
    /// Failed (counted; the connection is dead), or the connection was already dead.
    Failed,
}

/// A worker's state, apart from its I/O path.
pub(crate) struct Core {
    /// The run's plan (shared by all workers).
    pub(crate) plan: Arc<LoadPlan>,
    /// Global ids of this worker's connections, in opening order.
    ids: Vec<u32>,
    /// Connections, by index (never reused within a run).
    pub conns: Vec<Conn>,
    /// Connections whose connect is in progress.
    in_progress: usize,
    /// Index of the source address in use: 0 = kernel's choice, n = 127.0.0.(n+1).
    source: u8,
    /// What this worker has measured so far.
    pub out: WorkerOutcome,
    /// Lost connections already subtracted from the shared live count.
    published_lost: u64,
}

/// One worker thread's state: an I/O path and the rest. The path is dropped first, so an
/// io_uring ring has reaped every operation before any socket is closed.
pub(crate) struct Worker<I: IoPath> {
    io: I,
    core: Core,
}

impl<I: IoPath> Worker<I> {
    /// A worker for connections `ids` on I/O path `io`.
    pub fn new(plan: Arc<LoadPlan>, ids: Vec<u32>, io: I) -> Self {
        Self {
            io,
            core: Core {
                conns: Vec::with_capacity(ids.len()),
                in_progress: 0,
                plan,
                ids,
                source: 0,
                out: WorkerOutcome {
                    sources_used: 1,
                    ..WorkerOutcome::default()
                },
                published_lost: 0,
            },
        }
    }

    /// The traffic phase (when the coordinator published a start), then every connection
    /// closed; returns what was measured.
    pub fn traffic(mut self, shared: &Shared) -> WorkerOutcome {
        if let Some(start) = shared.start.get() {
            self.traffic_phase(start, shared);
            self.core.out.unserved = self
                .core
                .conns
                .iter()
                .filter(|c| c.established && c.echoes_received() == 0)
                .count() as u64;
        }
        for conn in &mut self.core.conns {
            let _ = conn.kill();
        }
        self.io
            .close_all(&mut self.core, Instant::now() + CLOSE_WAIT);
        std::mem::take(&mut self.core.out)
    }

    /// Opens this worker's connections at the paced rate until every attempt is resolved.
    pub fn connect_phase(&mut self, shared: &Shared) {
        let (core, io) = (&mut self.core, &mut self.io);
        let t0 = Instant::now();
        let per_conn = Duration::from_secs_f64(core.plan.threads as f64 / core.plan.connect_rate);
        // Nothing is sent or measured while connecting.
        let window = Window::empty(core.plan.message_size, t0);
        let mut opened = 0usize;
        let mut next_scan = t0;
        loop {
            let now = Instant::now();
            while opened < core.ids.len() && t0 + per_conn * opened as u32 <= now {
                core.open(io, core.ids[opened], now);
                opened += 1;
            }
            if now >= next_scan {
                next_scan = now + scan_every(core.plan.connect_timeout);
                core.expire_connects(io, now);
            }
            if opened == core.ids.len() && core.in_progress == 0 {
                break;
            }
            let mut deadline = next_scan;
            if opened < core.ids.len() {
                deadline = deadline.min(t0 + per_conn * opened as u32);
            }
            io.turn(core, deadline, &window, None);
        }
        shared
            .established
            .fetch_add(core.out.established, Ordering::Relaxed);
        // Connections lost while others were still connecting never count as live.
        let live = core.out.established.saturating_sub(core.out.tally.lost);
        shared.live.fetch_add(live, Ordering::AcqRel);
        core.published_lost = core.out.tally.lost;
    }

    fn traffic_phase(&mut self, start: &TrafficStart, shared: &Shared) {
        let (core, io) = (&mut self.core, &mut self.io);
        let size = core.plan.message_size;
        let win = Window {
            size,
            from: start.measure_from,
            to: start.measure_to,
            grid: start.at,
            open: start.interval.is_some(),
        };
        let mut heap = Schedule::new();
        let now = Instant::now();
        match start.interval {
            None => {
                for (i, conn) in core.conns.iter_mut().enumerate() {
                    for _ in 0..core.plan.pipeline {
                        conn.queue(size, now, now);
                    }
                    io.flush(i, conn, &mut core.out.tally);
                }
            }
            Some(interval) => {
                let total = core.plan.connections.max(1) as f64;
                for (i, conn) in core.conns.iter_mut().enumerate() {
                    if conn.is_ready() {
                        // Phases spread evenly so connections do not send in lock-step.
                        conn.exact_intended =
                            start.at + interval.mul_f64(f64::from(conn.id) / total);
                        conn.next_intended = win.snap(conn.exact_intended);
                        heap.push(Reverse((conn.next_intended, i)));
                    }
                }
            }
        }
        let scan = scan_every(core.plan.message_timeout);
        let mut next_scan = now + scan;
        loop {
            let now = Instant::now();
            core.publish_lost(shared, now);
            if now >= win.to || shared.stop.load(Ordering::Acquire) {
                break;
            }
            while let Some(&Reverse((due, i))) = heap.peek() {
                if due > now {
                    break;
                }
                heap.pop();
                let conn = &mut core.conns[i];
                if conn.is_ready() && conn.inflight.is_empty() && conn.next_intended == due {
                    if now >= win.from && now < win.to {
                        core.out.lag.record(now - due);
                    }
                    conn.queue(size, due, now);
                    io.flush(i, conn, &mut core.out.tally);
                }
            }
            if now >= next_scan {
                next_scan = now + scan;
                core.expire_messages(io, now);
            }
            let mut deadline = next_scan.min(win.to);
            if let Some(&Reverse((due, _))) = heap.peek() {
                deadline = deadline.min(due);
            }
            io.turn(
                core,
                deadline,
                &win,
                start.interval.map(|iv| (iv, &mut heap)),
            );
        }
    }
}

impl Core {
    /// Tells the coordinator about connections lost since the last call.
    fn publish_lost(&mut self, shared: &Shared, now: Instant) {
        let lost = self.out.tally.lost;
        if lost > self.published_lost {
            shared.lost(lost - self.published_lost, now);
            self.published_lost = lost;
        }
    }

    /// Starts a non-blocking connect; an immediate failure is counted at once.
    fn open(&mut self, io: &mut impl IoPath, id: u32, now: Instant) {
        match self.start_connect() {
            Ok(fd) => {
                let i = self.conns.len();
                self.conns.push(Conn::connecting(id, fd, now));
                let conn = &mut self.conns[i];
                if let Err(e) = io.watch(i, conn) {
                    let _ = conn.kill();
                    io.retire(i, conn);
                    self.connect_failed(e);
                    return;
                }
                self.in_progress += 1;
            }
            Err(e) => self.connect_failed(e),
        }
    }

    /// Creates, binds when needed, and connects a socket, moving to the next 127.0.0.x
    /// source address when the current one has no ports left.
    fn start_connect(&mut self) -> Result<OwnedFd, Errno> {
        let target = self.plan.target;
        loop {
            let fd = rustix::net::socket_with(
                AddressFamily::INET,
                SocketType::STREAM,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                None,
            )?;
            let _ = rustix::net::sockopt::set_tcp_nodelay(&fd, true);
            // The cheapest congestion control per ACK: with a few messages in flight no
            // congestion window is ever reached, so it changes only the client's own cost
            // (BBR, a common default, costs the sender several percent per message).
            let _ = rustix::net::sockopt::set_tcp_congestion(&fd, CLIENT_CONGESTION);
            if self.source > 0 {
                let ip = Ipv4Addr::new(127, 0, 0, self.source + 1);
                match rustix::net::bind(&fd, &SocketAddr::V4(SocketAddrV4::new(ip, 0))) {
                    Ok(()) => {}
                    Err(Errno::ADDRINUSE) | Err(Errno::ADDRNOTAVAIL) if self.next_source() => {
                        continue
                    }
                    Err(e) => return Err(e),
                }
            }
            match rustix::net::connect(&fd, &target) {
                Ok(()) | Err(Errno::INPROGRESS) | Err(Errno::INTR) => return Ok(fd),
                Err(Errno::ADDRNOTAVAIL) if self.next_source() => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves to the next source address; false when there is none (or the target is not
    /// on loopback, where 127.0.0.x cannot reach it).
    fn next_source(&mut self) -> bool {
        let loopback = matches!(self.plan.target, SocketAddr::V4(a) if a.ip().is_loopback());
        if !loopback || self.source + 1 >= LAST_SOURCE_OCTET {
            return false;
        }
        self.source += 1;
        self.out.sources_used = self.out.sources_used.max(usize::from(self.source) + 1);
        true
    }

    fn connect_failed(&mut self, e: Errno) {
        self.out.tally.errors.connect_failures += 1;
        if e == Errno::CONNREFUSED {
            self.out.refused += 1;
        }
        if e == Errno::TIMEDOUT {
            self.out.connect_timeouts += 1;
        }
        self.out
            .first_connect_error
            .get_or_insert_with(|| format!("connect to {}: {e}", self.plan.target));
    }

    fn expire_connects(&mut self, io: &mut impl IoPath, now: Instant) {
        for i in 0..self.conns.len() {
            if let Phase::Connecting(since) = self.conns[i].phase {
                if now.duration_since(since) >= self.plan.connect_timeout {
                    let _ = self.conns[i].kill();
                    io.retire(i, &mut self.conns[i]);
                    self.in_progress -= 1;
                    self.connect_failed(Errno::TIMEDOUT);
                }
            }
        }
    }

    fn expire_messages(&mut self, io: &mut impl IoPath, now: Instant) {
        let limit = self.plan.message_timeout;
        for (i, conn) in self.conns.iter_mut().enumerate() {
            if let Some(oldest) = conn.inflight.front() {
                if now.duration_since(oldest.actual) >= limit {
                    let tally = &mut self.out.tally;
                    tally.errors.timeouts += 1;
                    tally.first_error.get_or_insert_with(|| {
                        format!(
                            "connection {}: no echo within {}",
                            conn.id,
                            harness::units::format_duration(limit)
                        )
                    });
                    if conn.kill() {
                        tally.lost += 1;
                    }
                    io.retire(i, conn);
                }
            }
        }
    }

    /// Connection `i`'s connect in progress reported, `writable` or not: established when
    /// the socket is writable without error, failed (and killed) on an error.
    pub fn connect_event(&mut self, i: usize, writable: bool) -> Connect {
        let Some(conn) = self.conns.get_mut(i) else {
            return Connect::Failed;
        };
        let Phase::Connecting(since) = conn.phase else {
            return if conn.is_ready() {
                Connect::Established
            } else {
                Connect::Failed
            };
        };
        let result = conn
            .fd
            .as_ref()
            .map(rustix::net::sockopt::socket_error)
            .unwrap_or(Ok(Err(Errno::BADF)));
        match result {
            Ok(Ok(())) if writable => {
                conn.phase = Phase::Ready;
                conn.established = true;
                self.in_progress -= 1;
                self.out.established += 1;
                self.out.connect.record(since.elapsed());
                Connect::Established
            }
            Ok(Ok(())) => Connect::Pending,
            Ok(Err(e)) | Err(e) => {
                let _ = conn.kill();
                self.in_progress -= 1;
                self.connect_failed(e);
                Connect::Failed
            }
        }
    }

    /// Connection `i`'s connect in progress cannot be watched any more (`e`): it fails.
    pub fn abandon_connect(&mut self, i: usize, e: Errno) {
        if self.conns.get(i).is_some_and(Conn::is_connecting) {
            let _ = self.conns[i].kill();
            self.in_progress -= 1;
            self.connect_failed(e);
        }
    }

    /// Connection `i` completed echoes (`done`): the closed loop replaces each at once (one
    /// send for all), the open loop sends the next at its scheduled time.
    pub fn echoed(
        &mut self,
        io: &mut impl IoPath,
        i: usize,
        done: Completed,
        win: &Window,
        open: &mut OpenLoop<'_>,
    ) {
        let Completed::Echoes { count, at: now } = done else {
            return;
        };
        let in_traffic = win.from <= win.to;
        let conn = &mut self.conns[i];
        if !in_traffic || !conn.is_ready() {
            return;
        }
        match open.as_mut() {
            None => {
                for _ in 0..count {
                    conn.queue(win.size, now, now);
                }
                io.flush(i, conn, &mut self.out.tally);
            }
            Some((interval, heap)) => {
                conn.exact_intended += *interval;
                let next = win.snap(conn.exact_intended);
                conn.next_intended = next;
                if next <= now {
                    // Behind schedule because the echo was late: send at once; its
                    // latency counts from `next`, the intended time.
                    conn.queue(win.size, next, now);
                    io.flush(i, conn, &mut self.out.tally);
                } else {
                    heap.push(Reverse((next, i)));
                }
            }
        }
    }
}
