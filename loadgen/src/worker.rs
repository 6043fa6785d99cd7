//! One load-generator thread: its own epoll set, its share of the connections, a timerfd for
//! sub-millisecond send schedules. Two phases: connect (at the paced rate, every attempt
//! resolved as established or failed), then traffic (closed or open loop) until the end of
//! the measured window, or until the coordinator says stop.
//!
//! Cost per message is kept below an echo server's: one `read` per readiness event (a
//! short read means drained), one `write` per wake-up and connection however many echoes it
//! completed, one clock reading per read, and in open loop sends grouped on a
//! [`SEND_TICK`] grid (the intended time of each message *is* its grid point, so latency
//! from it stays exact) so that one timer wake-up serves several sends. The timerfd is
//! edge-triggered and never read: re-arming resets it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};

use crate::conn::{Completed, Conn, Phase, Tally, Window};
use crate::plan::LoadPlan;
use crate::stats::LatencyHistogram;
use crate::{Shared, TrafficStart};

/// Event data of the timerfd (connections use their index).
const TIMER_KEY: u64 = u64::MAX;
/// How often in-progress connects and in-flight messages are checked for time-out
/// `limit`: a tenth of it (so a scan of 10,000 connections stays a small cost per message),
/// between 10 and 500 ms.
fn scan_every(limit: Duration) -> Duration {
    (limit / 10).clamp(Duration::from_millis(10), Duration::from_millis(500))
}
/// Safety net: `epoll_wait` never sleeps longer than this even if the timer were lost.
const MAX_WAIT: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};
/// Highest last octet of the 127.0.0.x source addresses used when ports run short.
const LAST_SOURCE_OCTET: u8 = 254;
/// Congestion control of the load generator's sockets (best effort).
const CLIENT_CONGESTION: &str = "reno";
/// Read buffer shared by the worker's connections.
const SCRATCH: usize = 64 * 1024;
/// Open loop: sends are scheduled on a grid of this step from the traffic start, so one
/// timer wake-up serves every send of its grid point.
pub(crate) const SEND_TICK: Duration = Duration::from_micros(100);
/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 4096;

/// The open loop's send schedule: (intended send time, connection index), earliest first.
type Schedule = BinaryHeap<Reverse<(Instant, usize)>>;

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

/// One worker thread's state.
pub(crate) struct Worker {
    /// The run's plan (shared by all workers).
    plan: Arc<LoadPlan>,
    /// Global ids of this worker's connections, in opening order.
    ids: Vec<u32>,
    /// This worker's epoll set: its connections and its timerfd.
    ep: OwnedFd,
    /// Wakes the worker at the next deadline (send schedule, scan, window end).
    timer: OwnedFd,
    /// Deadline the timerfd is armed for, if armed and not yet fired.
    armed: Option<Instant>,
    conns: Vec<Conn>,
    /// Connections whose connect is in progress.
    in_progress: usize,
    /// Events of the last wait.
    events: Vec<epoll::Event>,
    /// Read buffer shared by the connections (bytes are verified, then dropped).
    scratch: Vec<u8>,
    /// Index of the source address in use: 0 = kernel's choice, n = 127.0.0.(n+1).
    source: u8,
    /// What this worker has measured so far.
    out: WorkerOutcome,
    /// Lost connections already subtracted from the shared live count.
    published_lost: u64,
}

impl Worker {
    /// A worker for connections `ids`.
    pub fn new(plan: Arc<LoadPlan>, ids: Vec<u32>) -> std::io::Result<Self> {
        let ep = epoll::create(CreateFlags::CLOEXEC)?;
        let timer = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        epoll::add(
            &ep,
            &timer,
            EventData::new_u64(TIMER_KEY),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(Self {
            conns: Vec::with_capacity(ids.len()),
            in_progress: 0,
            plan,
            ids,
            ep,
            timer,
            armed: None,
            events: Vec::with_capacity(EVENTS_PER_WAIT),
            scratch: vec![0; SCRATCH],
            source: 0,
            out: WorkerOutcome {
                sources_used: 1,
                ..WorkerOutcome::default()
            },
            published_lost: 0,
        })
    }

    /// The traffic phase (when the coordinator published a start), then every connection
    /// closed; returns what was measured.
    pub fn traffic(mut self, shared: &Shared) -> WorkerOutcome {
        if let Some(start) = shared.start.get() {
            self.traffic_phase(start, shared);
            self.out.unserved = self
                .conns
                .iter()
                .filter(|c| c.established && c.echoes_received() == 0)
                .count() as u64;
        }
        for conn in &mut self.conns {
            let _ = conn.kill();
        }
        self.out
    }

    /// Tells the coordinator about connections lost since the last call.
    fn publish_lost(&mut self, shared: &Shared, now: Instant) {
        let lost = self.out.tally.lost;
        if lost > self.published_lost {
            shared.lost(lost - self.published_lost, now);
            self.published_lost = lost;
        }
    }

    /// Opens this worker's connections at the paced rate until every attempt is resolved.
    pub fn connect_phase(&mut self, shared: &Shared) {
        let t0 = Instant::now();
        let per_conn = Duration::from_secs_f64(self.plan.threads as f64 / self.plan.connect_rate);
        // An empty window (`from` after `to`): nothing is sent or measured while connecting.
        let window = Window {
            size: self.plan.message_size,
            from: t0 + Duration::from_secs(3600 * 24),
            to: t0,
            grid: t0,
            open: false,
        };
        let mut opened = 0usize;
        let mut next_scan = t0;
        loop {
            let now = Instant::now();
            while opened < self.ids.len() && t0 + per_conn * opened as u32 <= now {
                self.open(self.ids[opened], now);
                opened += 1;
            }
            if now >= next_scan {
                next_scan = now + scan_every(self.plan.connect_timeout);
                self.expire_connects(now);
            }
            if opened == self.ids.len() && self.in_progress == 0 {
                break;
            }
            let mut deadline = next_scan;
            if opened < self.ids.len() {
                deadline = deadline.min(t0 + per_conn * opened as u32);
            }
            self.wait(deadline);
            self.dispatch(&window, None);
        }
        shared
            .established
            .fetch_add(self.out.established, Ordering::Relaxed);
        // Connections lost while others were still connecting never count as live.
        let live = self.out.established.saturating_sub(self.out.tally.lost);
        shared.live.fetch_add(live, Ordering::AcqRel);
        self.published_lost = self.out.tally.lost;
    }

    /// Starts a non-blocking connect; an immediate failure is counted at once.
    fn open(&mut self, id: u32, now: Instant) {
        match self.start_connect() {
            Ok(fd) => {
                let key = EventData::new_u64(self.conns.len() as u64);
                let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
                if let Err(e) = epoll::add(&self.ep, &fd, key, flags) {
                    self.connect_failed(e);
                    return;
                }
                self.conns.push(Conn::connecting(id, fd, now));
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

    fn expire_connects(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            if let Phase::Connecting(since) = self.conns[i].phase {
                if now.duration_since(since) >= self.plan.connect_timeout {
                    let _ = self.conns[i].kill();
                    self.in_progress -= 1;
                    self.connect_failed(Errno::TIMEDOUT);
                }
            }
        }
    }

    fn traffic_phase(&mut self, start: &TrafficStart, shared: &Shared) {
        let size = self.plan.message_size;
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
                for conn in &mut self.conns {
                    for _ in 0..self.plan.pipeline {
                        conn.queue(size, now, now);
                    }
                    conn.flush(&mut self.out.tally);
                }
            }
            Some(interval) => {
                let total = self.plan.connections.max(1) as f64;
                for (i, conn) in self.conns.iter_mut().enumerate() {
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
        let scan = scan_every(self.plan.message_timeout);
        let mut next_scan = now + scan;
        loop {
            let now = Instant::now();
            self.publish_lost(shared, now);
            if now >= win.to || shared.stop.load(Ordering::Acquire) {
                break;
            }
            while let Some(&Reverse((due, i))) = heap.peek() {
                if due > now {
                    break;
                }
                heap.pop();
                let conn = &mut self.conns[i];
                if conn.is_ready() && conn.inflight.is_empty() && conn.next_intended == due {
                    if now >= win.from && now < win.to {
                        self.out.lag.record(now - due);
                    }
                    conn.queue(size, due, now);
                    conn.flush(&mut self.out.tally);
                }
            }
            if now >= next_scan {
                next_scan = now + scan;
                self.expire_messages(now);
            }
            let mut deadline = next_scan.min(win.to);
            if let Some(&Reverse((due, _))) = heap.peek() {
                deadline = deadline.min(due);
            }
            self.wait(deadline);
            self.dispatch(&win, start.interval.map(|iv| (iv, &mut heap)));
        }
    }

    fn expire_messages(&mut self, now: Instant) {
        let limit = self.plan.message_timeout;
        for conn in &mut self.conns {
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
                }
            }
        }
    }

    /// Arms the timerfd for `deadline` (unless it is armed for as early or earlier: then
    /// the wake-up re-arms) and waits for events.
    fn wait(&mut self, deadline: Instant) {
        if self.armed.is_none_or(|a| deadline < a) {
            let rel = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1));
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: rel.as_secs() as i64,
                    tv_nsec: i64::from(rel.subsec_nanos()),
                },
            };
            if rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec).is_ok()
            {
                self.armed = Some(deadline);
            }
        }
        self.events.clear();
        let _ = epoll::wait(&self.ep, spare_capacity(&mut self.events), Some(&MAX_WAIT));
    }

    /// Handles the events of the last wait. `open` carries the open loop's interval and
    /// schedule; `None` in the closed loop (and in the connect phase, where nothing is sent).
    fn dispatch(&mut self, win: &Window, mut open: Option<(Duration, &mut Schedule)>) {
        let in_traffic = win.from <= win.to;
        for k in 0..self.events.len() {
            let ev = self.events[k];
            let (key, flags) = (ev.data.u64(), ev.flags);
            if key == TIMER_KEY {
                // Edge-triggered: no need to read the expiry count (re-arming resets it).
                self.armed = None;
                continue;
            }
            let i = key as usize;
            let Some(conn) = self.conns.get_mut(i) else {
                continue;
            };
            if let Phase::Connecting(since) = conn.phase {
                let result = conn
                    .fd
                    .as_ref()
                    .map(rustix::net::sockopt::socket_error)
                    .unwrap_or(Ok(Err(Errno::BADF)));
                match result {
                    Ok(Ok(())) if flags.contains(EventFlags::OUT) => {
                        conn.phase = Phase::Ready;
                        conn.established = true;
                        self.in_progress -= 1;
                        self.out.established += 1;
                        self.out.connect.record(since.elapsed());
                    }
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) | Err(e) => {
                        let _ = conn.kill();
                        self.in_progress -= 1;
                        self.connect_failed(e);
                        continue;
                    }
                }
            }
            if !conn.is_ready() {
                continue;
            }
            if flags.contains(EventFlags::OUT) {
                conn.flush(&mut self.out.tally);
            }
            let readable = EventFlags::IN | EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR;
            if !flags.intersects(readable) {
                continue;
            }
            let hangup = flags.intersects(EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR);
            let done = conn.read_all(&mut self.scratch, hangup, win, &mut self.out.tally);
            let Completed::Echoes { count, at: now } = done else {
                continue;
            };
            if !in_traffic || !conn.is_ready() {
                continue;
            }
            match open.as_mut() {
                None => {
                    // Every echo completed by this read is replaced in one write.
                    for _ in 0..count {
                        conn.queue(win.size, now, now);
                    }
                    conn.flush(&mut self.out.tally);
                }
                Some((interval, heap)) => {
                    conn.exact_intended += *interval;
                    let next = win.snap(conn.exact_intended);
                    conn.next_intended = next;
                    if next <= now {
                        // Behind schedule because the echo was late: send at once; its
                        // latency counts from `next`, the intended time.
                        conn.queue(win.size, next, now);
                        conn.flush(&mut self.out.tally);
                    } else {
                        heap.push(Reverse((next, i)));
                    }
                }
            }
        }
    }
}
