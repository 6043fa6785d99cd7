//! The io_uring I/O path (`--io uring`, the default where io_uring works), on evloop's safe
//! system-call layer (`runtimes::evloop::sys_uring`), through its direct interface: each
//! operation's token is its connection's index, and a completion comes back as the kernel's
//! result (no operation table, no `io::Error` per completion). Per loop iteration ONE system call,
//! [`Ring::submit_and_wait_for`]: it hands the kernel every send and re-arm pushed since
//! the last one, and waits for completions until the next deadline. In closed loop the
//! deadline is the wait's own time-out (no timer file, no timeout operation). In open loop,
//! where the next deadline is a send-grid point under 100 µs away and several echoes wake
//! the loop before it, it is one timeout operation per grid point waited for (the
//! *alarm*), pushed with that iteration's sends, and the waits' own time-out is only the
//! 100 ms safety net: a wait then arms no timer that is the processor's next one. Arming
//! and cancelling that timer on every wait was about a sixth of the load generator's time
//! in a profile of `bench equal`'s rate at 100 connections; the alarm took its CPU per
//! message from 6.36 to 5.80 µs (README, "Echo benchmarks"). Per connection:
//! - **connect**: the non-blocking `connect` of [`crate::worker`], then a one-shot
//!   writability poll; once established the socket is made blocking (io_uring then waits
//!   for it by polling inside the kernel; its first attempt never blocks).
//! - **receive**: one multishot receive into the worker's provided buffer ring: no system
//!   call per message. Each received buffer is verified at once ([`Conn::absorb`]) and
//!   given back to the kernel in the same iteration. A receive that ends mid-stream (no
//!   free buffer, `ENOBUFS`, or any end without `more` that is not end-of-stream or an
//!   error) is armed again at the next wait, after the buffers are back.
//! - **send**: what a connection queued during an iteration goes in one send at the next
//!   wait (at most one in flight per connection, so bytes stay in order); the messages in
//!   it are stamped as sent right before that wait; a short send is resent first.
//!
//! With `IORING_SETUP_DEFER_TASKRUN` (Linux 6.1, [`Ring::new_deferred`]) the kernel does the
//! receives' work when the loop waits, in one batch, never by interrupting it; where that
//! flag is refused, [`Ring::new`]'s ring is used.
//!
//! Closing: a killed connection's socket is held ([`Conn::defer_close`]) and its operations
//! cancelled; the socket is closed when the last of them has completed, so its number is
//! never reused while an operation names it. At the end of a run every connection's
//! operations are cancelled by their tokens and reaped ([`IoPath::close_all`]); dropping the
//! path drops the ring, which cancels and reaps whatever is left before its buffers are
//! freed.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use runtimes::evloop::sys_uring::{BufferGroup, Event, OpId, OpKind, Outcome, Ring, Target};
use rustix::io::Errno;

use crate::conn::{Conn, Tally, Window};
use crate::plan::LoadPlan;
use crate::worker::{Connect, Core, IoPath, OpenLoop, MAX_WAIT};

/// Smallest and largest provided buffer, bytes.
const BUFFER_BYTES: (usize, usize) = (256, 16 * 1024);
/// Memory the provided buffers of one worker may reserve.
const POOL_BYTES: usize = 32 << 20;
/// Fewest and most provided buffers per worker (the kernel allows 32,768).
const BUFFER_COUNT: (usize, usize) = (64, 16 * 1024);
/// The token of the open loop's alarm (a timeout operation, not a connection's).
const ALARM: u64 = u64::MAX;
/// Fewest and most submission entries (the completion queue has four times as many).
const RING_ENTRIES: (usize, usize) = (256, 16 * 1024);

/// What the path tracks of one connection. Its operations go through the ring's direct
/// interface with the connection's index as their token (one of each kind at most in
/// flight), so a completion names its connection without any lookup.
#[derive(Debug, Default)]
struct Slot {
    /// Its multishot receive is armed.
    recv: bool,
    /// Its connect's writability poll is armed.
    poll: bool,
    /// A send is in flight.
    send: bool,
    /// Its socket is in the ring's registered file table, at the connection's index.
    fixed: bool,
    /// In `dirty`: queued bytes to send at the next wait.
    dirty: bool,
    /// In `rearm`: its receive to arm again at the next wait.
    rearm: bool,
    /// Killed: its operations have been cancelled.
    retired: bool,
    /// The socket of a killed connection, closed when no operation names it any more.
    closing: Option<OwnedFd>,
}

impl Slot {
    fn idle(&self) -> bool {
        !(self.recv || self.poll || self.send)
    }
}

/// A worker's ring, buffer group and per-connection operations.
pub(crate) struct UringIo {
    ring: Ring,
    group: BufferGroup,
    /// By connection index.
    slots: Vec<Slot>,
    /// Connections with bytes to send at the next wait.
    dirty: Vec<usize>,
    /// Connections whose receive is to be armed again at the next wait.
    rearm: Vec<usize>,
    /// Completions of the last wait (reused).
    done: Vec<Event>,
    /// The ring has a registered file table with a slot per connection.
    files: bool,
    /// Open loop: the timeout operation in flight and the deadline it wakes the loop at.
    alarm: Option<(Instant, OpId)>,
}

/// Whether this process can run the io_uring path: a ring and a provided buffer ring can
/// be set up. The error is one sentence saying why not.
pub(crate) fn probe() -> io::Result<()> {
    let mut ring = new_ring(8)?;
    ring.add_buffer_group(64, BUFFER_BYTES.0 as u32).map(drop)
}

fn new_ring(entries: u32) -> io::Result<Ring> {
    Ring::new_deferred(entries).or_else(|_| Ring::new(entries))
}

/// `n` rounded up to a power of two within `range`.
fn pow2_within(n: usize, range: (usize, usize)) -> usize {
    n.max(1).next_power_of_two().clamp(range.0, range.1)
}

impl UringIo {
    /// The path for a worker of `conns` connections of `plan`: a ring with room for a send
    /// per connection per iteration, and a buffer per connection (a buffer holds what a
    /// connection has in flight, within [`BUFFER_BYTES`]; [`POOL_BYTES`] at most).
    pub fn new(plan: &LoadPlan, conns: usize) -> io::Result<Self> {
        let entries = pow2_within(conns, RING_ENTRIES) as u32;
        let mut ring = new_ring(entries)?;
        let inflight = plan
            .message_size
            .saturating_mul(plan.pipeline.max(1) as usize);
        #[allow(unused_mut)]
        let mut size = inflight
            .clamp(BUFFER_BYTES.0, BUFFER_BYTES.1)
            .next_multiple_of(64);
        let mut count = pow2_within(conns, BUFFER_COUNT);
        while count > BUFFER_COUNT.0 && count * size > POOL_BYTES {
            count /= 2;
        }
        #[cfg(test)]
        if let Some((n, bytes)) = tests::forced_buffers() {
            (count, size) = (n, bytes);
        }
        let group = ring.add_buffer_group(count as u16, size as u32)?;
        // Receives and sends name a connection's socket by its slot in the registered file
        // table: the kernel skips looking the file up for each of them. Where the table
        // cannot be made, they name the fd.
        let files = u32::try_from(conns).is_ok_and(|n| ring.register_file_table(n).is_ok());
        Ok(Self {
            ring,
            group,
            slots: Vec::with_capacity(conns),
            dirty: Vec::with_capacity(conns),
            rearm: Vec::new(),
            done: Vec::with_capacity(4 * entries as usize),
            files,
            alarm: None,
        })
    }

    fn slot(&mut self, i: usize) -> &mut Slot {
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, Slot::default);
        }
        &mut self.slots[i]
    }

    /// What connection `i`'s operations name: its registered file's slot, or `fd`.
    fn target<'a>(&self, i: usize, fd: &'a OwnedFd) -> Target<'a> {
        if self.slots[i].fixed {
            Target::Fixed(i as u32)
        } else {
            Target::Fd(fd.as_fd())
        }
    }

    /// Puts connection `i`'s socket in the registered file table (once established).
    fn register(&mut self, i: usize, conn: &Conn) {
        let Some(fd) = &conn.fd else { return };
        if self.files && self.ring.set_file(i as u32, Some(fd.as_fd())).is_ok() {
            self.slots[i].fixed = true;
        }
    }

    /// Arms connection `i`'s multishot receive (unless armed, or the connection is dead).
    fn arm(&mut self, i: usize, conn: &mut Conn, tally: &mut Tally) {
        let Some(fd) = &conn.fd else { return };
        if !conn.is_ready() || self.slots[i].recv {
            return;
        }
        let target = self.target(i, fd);
        match self
            .ring
            .recv_multishot_direct(target, self.group, i as u64)
        {
            Ok(()) => self.slots[i].recv = true,
            Err(e) => {
                conn.fail(errno(&e), tally);
                self.retire(i, conn);
            }
        }
    }

    /// Hands what connection `i` queued to a send, stamped as sent `now` (unless a send
    /// is in flight: its completion comes back here).
    fn send(&mut self, i: usize, conn: &mut Conn, now: Instant, tally: &mut Tally) {
        if self.slots[i].send {
            return;
        }
        if conn.fd.is_none() {
            return;
        }
        let Some(bytes) = conn.take_queued(now) else {
            return;
        };
        let Some(fd) = &conn.fd else { return };
        let target = self.target(i, fd);
        match self.ring.send_direct(target, bytes, i as u64) {
            Ok(()) => self.slots[i].send = true,
            Err(e) => {
                conn.fail(errno(&e), tally);
                self.retire(i, conn);
            }
        }
    }

    /// One completion of connection `c.token`, received at `at`.
    fn complete(
        &mut self,
        core: &mut Core,
        c: Event,
        at: Instant,
        win: &Window,
        open: &mut OpenLoop<'_>,
    ) {
        if c.kind == OpKind::Timeout {
            if self.alarm.is_some_and(|(_, op)| Some(op) == c.op) {
                self.alarm = None;
            }
            return;
        }
        let i = c.token as usize;
        if i >= core.conns.len() || i >= self.slots.len() {
            if let Outcome::Received(lease) = c.outcome {
                self.ring.recycle(lease);
            }
            return;
        }
        match (c.kind, c.outcome) {
            (OpKind::Poll, _) => {
                self.slots[i].poll = false;
                if core.conns[i].is_connecting() {
                    let out = rustix::event::PollFlags::OUT.bits();
                    let writable = c.res >= 0 && c.res as u32 & u32::from(out) != 0;
                    match core.connect_event(i, writable) {
                        Connect::Established => {
                            let conn = &mut core.conns[i];
                            if let Some(fd) = &conn.fd {
                                // io_uring's first attempt of each operation never blocks;
                                // a blocking socket makes sure the kernel then polls for it
                                // instead of ever returning EAGAIN.
                                let _ = rustix::io::ioctl_fionbio(fd, false);
                            }
                            self.register(i, conn);
                            self.arm(i, conn, &mut core.out.tally);
                        }
                        Connect::Pending => {
                            let conn = &mut core.conns[i];
                            if let Err(e) = self.watch(i, conn) {
                                core.abandon_connect(i, e);
                            }
                        }
                        Connect::Failed => {}
                    }
                }
            }
            (OpKind::Recv, outcome) => {
                if !c.more {
                    self.slots[i].recv = false;
                }
                if let Outcome::Received(lease) = outcome {
                    let conn = &mut core.conns[i];
                    let done = if conn.is_ready() && !lease.is_empty() {
                        let done =
                            conn.absorb(self.ring.bytes(&lease), at, win, &mut core.out.tally);
                        Some(done)
                    } else {
                        None
                    };
                    self.ring.recycle(lease);
                    if let Some(done) = done {
                        core.echoed(self, i, done, win, open);
                    }
                }
                let conn = &mut core.conns[i];
                if !c.more && conn.is_ready() {
                    match c.res {
                        0 => conn.peer_closed(&mut core.out.tally),
                        1.. => self.queue_rearm(i),
                        r if r == -Errno::NOBUFS.raw_os_error() => {
                            #[cfg(test)]
                            tests::starved();
                            self.queue_rearm(i)
                        }
                        r => conn.fail(Errno::from_raw_os_error(-r), &mut core.out.tally),
                    }
                }
            }
            (OpKind::Send, Outcome::SentBytes(bytes)) => {
                self.slots[i].send = false;
                let conn = &mut core.conns[i];
                if conn.is_ready() {
                    match c.res {
                        n @ 0.. => conn.sent(bytes, n as usize),
                        r => match Errno::from_raw_os_error(-r) {
                            Errno::AGAIN | Errno::INTR => conn.sent(bytes, 0),
                            e => conn.fail(e, &mut core.out.tally),
                        },
                    }
                    if conn.has_queued() {
                        self.flush(i, conn, &mut core.out.tally);
                    }
                }
            }
            (OpKind::Send, _) => self.slots[i].send = false,
            _ => {}
        }
        let conn = &mut core.conns[i];
        if !conn.is_ready() && !conn.is_connecting() {
            self.retire(i, conn);
        }
    }

    fn queue_rearm(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if !slot.rearm {
            slot.rearm = true;
            self.rearm.push(i);
        }
    }
}

/// The errno of an io_uring result.
fn errno(e: &io::Error) -> Errno {
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}

impl IoPath for UringIo {
    fn watch(&mut self, i: usize, conn: &mut Conn) -> Result<(), Errno> {
        conn.defer_close = true;
        let Some(fd) = &conn.fd else {
            return Err(Errno::BADF);
        };
        let fd = fd.as_fd();
        self.slot(i);
        self.ring
            .poll_writable_direct(fd, i as u64)
            .map_err(|e| errno(&e))?;
        self.slots[i].poll = true;
        Ok(())
    }

    fn flush(&mut self, i: usize, conn: &mut Conn, _tally: &mut Tally) {
        if !conn.has_queued() {
            return;
        }
        let slot = self.slot(i);
        if !slot.dirty {
            slot.dirty = true;
            self.dirty.push(i);
        }
    }

    fn retire(&mut self, i: usize, conn: &mut Conn) {
        let retired = conn.retired.take();
        let slot = self.slot(i);
        if retired.is_some() {
            slot.closing = retired;
        }
        if !slot.retired {
            slot.retired = true;
            let (recv, poll, send) = (slot.recv, slot.poll, slot.send);
            let token = i as u64;
            if recv {
                let _ = self.ring.cancel_recv_direct(self.group, token);
            }
            if poll {
                let _ = self.ring.cancel_direct(OpKind::Poll, token);
            }
            if send {
                let _ = self.ring.cancel_direct(OpKind::Send, token);
            }
            // The table's reference goes now; operations in flight hold their own, and the
            // socket closes when the last of them and `closing` are gone.
            if std::mem::take(&mut self.slots[i].fixed) {
                let _ = self.ring.set_file(i as u32, None);
            }
        }
        let slot = &mut self.slots[i];
        if slot.idle() {
            slot.closing = None;
        }
    }

    /// Cancels each connection's operations by its own token and reaps them. Left to the
    /// ring's drop, one cancel-any would end them all, but the kernel looks each one up
    /// from the start of its table while the cancelled ones wait there for their task
    /// work: quadratic, and measured at 10,000 connections it was about a second of the
    /// load generator's CPU after every window (`io_cancel_req_match` in a profile).
    fn close_all(&mut self, core: &mut Core, until: Instant) {
        for i in 0..core.conns.len().min(self.slots.len()) {
            self.retire(i, &mut core.conns[i]);
        }
        let win = Window::empty(core.plan.message_size, Instant::now());
        while self.ring.in_flight() > 0 && Instant::now() < until {
            self.turn(core, until, &win, None);
        }
        #[cfg(test)]
        tests::closed(
            self.ring.in_flight(),
            self.slots.iter().filter(|s| s.closing.is_some()).count(),
        );
    }

    fn turn(&mut self, core: &mut Core, deadline: Instant, win: &Window, mut open: OpenLoop<'_>) {
        let now = Instant::now();
        for i in std::mem::take(&mut self.rearm) {
            self.slots[i].rearm = false;
            self.arm(i, &mut core.conns[i], &mut core.out.tally);
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        for &i in &dirty {
            self.slots[i].dirty = false;
            self.send(i, &mut core.conns[i], now, &mut core.out.tally);
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
        let wait = deadline.saturating_duration_since(now).min(MAX_WAIT);
        if open.is_some() && !wait.is_zero() && self.alarm.is_none_or(|(at, _)| at > deadline) {
            if let Ok(op) = self.ring.timeout(wait, ALARM) {
                self.alarm = Some((now + wait, op));
            }
        }
        // With an alarm due by the deadline, the wait's own time-out is only the safety net:
        // a time-out later than the alarm's never becomes the processor's next timer event,
        // so arming and cancelling it costs little.
        let wait = match self.alarm {
            Some((at, _)) if at <= deadline && !wait.is_zero() => MAX_WAIT,
            _ => wait,
        };
        // An error (none is expected: interruptions and time-outs are `Ok`) leaves nothing
        // to handle; the loop comes back at once and its deadlines still hold.
        let _ = self.ring.submit_and_wait_for(1, wait);
        let at = Instant::now();
        let mut done = std::mem::take(&mut self.done);
        self.ring.drain_direct(|_, e| done.push(e));
        for c in done.drain(..) {
            self.complete(core, c, at, win, &mut open);
        }
        self.done = done;
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::time::Duration;

    use harness::results::RunStatus;

    use crate::plan::{ClientIo, LoadMode, LoadPlan};

    /// Buffers per worker and their size, when set (tests only).
    static FORCED_BUFFERS: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));
    /// Receives ended by `ENOBUFS` (tests only).
    static STARVED: AtomicU64 = AtomicU64::new(0);

    pub(super) fn forced_buffers() -> Option<(usize, usize)> {
        let n = FORCED_BUFFERS.0.load(Ordering::Relaxed);
        (n > 0).then(|| (n, FORCED_BUFFERS.1.load(Ordering::Relaxed)))
    }

    pub(super) fn starved() {
        STARVED.fetch_add(1, Ordering::Relaxed);
    }

    /// The most operations still in flight, and sockets still held, after a `close_all`
    /// (tests only).
    static LEFT: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));
    /// `close_all` calls (tests only).
    static CLOSES: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn closed(in_flight: usize, held: usize) {
        LEFT.0.fetch_max(in_flight, Ordering::Relaxed);
        LEFT.1.fetch_max(held, Ordering::Relaxed);
        CLOSES.fetch_add(1, Ordering::Relaxed);
    }

    /// A blocking echo server, a thread per connection.
    fn echo_server() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    /// 200 connections with 2 KiB in flight each share 64 provided buffers of 64 bytes: a
    /// receive takes every buffer there is in one go, receives keep ending with `ENOBUFS`
    /// and are armed again after the buffers are recycled; no byte is lost or misread
    /// (every echo verified, no error, no time-out).
    #[test]
    fn receives_starved_of_buffers_are_armed_again_and_every_echo_verifies() {
        if let Err(e) = super::probe() {
            eprintln!("io_uring unavailable here, nothing to test: {e}");
            return;
        }
        FORCED_BUFFERS.1.store(64, Ordering::Relaxed);
        FORCED_BUFFERS.0.store(64, Ordering::Relaxed);
        let plan = LoadPlan {
            target: echo_server(),
            label: "starved".into(),
            connections: 200,
            mode: LoadMode::Closed,
            rate: None,
            pipeline: 8,
            message_size: 256,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(500),
            connect_rate: 100_000.0,
            connect_timeout: Duration::from_secs(5),
            message_timeout: Duration::from_secs(5),
            threads: 1,
            cpus: vec![],
            shard: None,
            start_at: None,
            io: Some(ClientIo::Uring),
        };
        let report = crate::run(&plan, &mut |_| {}).unwrap();
        let run = &report.run;
        assert_eq!(run.client_io.as_deref(), Some("uring"));
        assert_eq!(run.established, 200, "{run:?}");
        assert_eq!(run.errors.total(), 0, "{:?} {:?}", run.errors, run.warnings);
        assert!(run.measured_messages.unwrap_or(0) > 1000, "{run:?}");
        assert!(
            STARVED.load(Ordering::Relaxed) > 0,
            "no receive ran out of buffers"
        );
    }

    /// The end of a run ends every connection's operations itself (each cancelled by its
    /// token, then reaped), on 2 threads of 1,500 connections with receives armed and
    /// sends in flight: afterwards no operation is left for the ring's drop and no socket
    /// is held open.
    #[test]
    fn the_end_of_a_run_cancels_and_reaps_every_operation_and_closes_every_socket() {
        if let Err(e) = super::probe() {
            eprintln!("io_uring unavailable here, nothing to test: {e}");
            return;
        }
        let plan = LoadPlan {
            target: echo_server(),
            label: "close".into(),
            connections: 3000,
            mode: LoadMode::Closed,
            rate: None,
            pipeline: 2,
            message_size: 64,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(300),
            connect_rate: 100_000.0,
            connect_timeout: Duration::from_secs(5),
            message_timeout: Duration::from_secs(5),
            threads: 2,
            cpus: vec![],
            shard: None,
            start_at: None,
            io: Some(ClientIo::Uring),
        };
        let before = CLOSES.load(Ordering::Relaxed);
        let report = crate::run(&plan, &mut |_| {}).unwrap();
        assert_eq!(report.run.established, 3000, "{:?}", report.run);
        assert!(
            CLOSES.load(Ordering::Relaxed) >= before + 2,
            "close_all not called"
        );
        assert_eq!(
            LEFT.0.load(Ordering::Relaxed),
            0,
            "operations left in flight"
        );
        assert_eq!(LEFT.1.load(Ordering::Relaxed), 0, "sockets left open");
    }

    /// The open loop's waits are woken by its alarm (a timeout operation for the next grid
    /// point): at 1,000 messages a second over 50 connections a send is due every
    /// millisecond and an echo never comes in time to wake the loop for the next one, so
    /// without the alarm each send would wait for the 100 ms safety net. Every message is
    /// sent on its grid point (schedule lag far under that) and echoed, and the end of the
    /// run reaps the alarm with everything else.
    #[test]
    fn the_open_loop_sends_on_time_on_its_alarm_and_reaps_it_at_the_end() {
        if let Err(e) = super::probe() {
            eprintln!("io_uring unavailable here, nothing to test: {e}");
            return;
        }
        let plan = LoadPlan {
            target: echo_server(),
            label: "alarm".into(),
            connections: 50,
            mode: LoadMode::Open,
            rate: Some(1_000.0),
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(600),
            connect_rate: 100_000.0,
            connect_timeout: Duration::from_secs(5),
            message_timeout: Duration::from_secs(5),
            io: Some(ClientIo::Uring),
            ..crate::plan::tests::plan()
        };
        let before = CLOSES.load(Ordering::Relaxed);
        let report = crate::run(&plan, &mut |_| {}).unwrap();
        let run = &report.run;
        assert_eq!(run.established, 50, "{run:?}");
        assert_eq!(run.status, RunStatus::Complete, "{run:?}");
        assert_eq!(run.errors.total(), 0, "{run:?}");
        // 1,000 a second for 0.6 s: 600 messages (one at each edge of the window may
        // fall either side of it).
        let measured = run.measured_messages.unwrap_or(0);
        assert!(
            (590..=610).contains(&measured),
            "{measured} messages: {run:?}"
        );
        // A bound 200 grid steps wide: a correctness check (the alarm woke the loop), not
        // a speed.
        let lag = report
            .schedule_lag_us
            .expect("an open loop records its lag");
        assert!(lag.p50 < 20_000.0, "schedule lag {lag:?}");
        assert!(
            CLOSES.load(Ordering::Relaxed) > before,
            "close_all not called"
        );
        assert_eq!(
            LEFT.0.load(Ordering::Relaxed),
            0,
            "operations left in flight"
        );
    }
}
