//! One load-generator connection: its socket, what it has sent and still expects back, and
//! the verification of every echoed byte as it arrives (across short reads).
//!
//! Invariant: `inflight` holds exactly the messages written (or queued in `out`) whose echo
//! is not complete, oldest first; the next byte read belongs to `inflight[0]` at offset
//! `recv_off`. A byte read with nothing in flight breaks the stream: the connection is
//! counted as a mismatch and closed.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use harness::results::EchoErrors;
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

use crate::pattern;
use crate::stats::LatencyHistogram;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Non-blocking connect in progress since the instant given.
    Connecting(Instant),
    /// Established; traffic may flow.
    Ready,
    /// Closed after an error or at the end; its socket is gone.
    Dead,
}

/// A message whose echo is awaited.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent {
    /// When the schedule meant it to be sent (open loop); equal to `actual` in closed loop.
    pub intended: Instant,
    /// When it was handed to the kernel.
    pub actual: Instant,
}

/// What a worker tallies, connection by connection.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Latency from the intended send time, measured window only (open loop; in closed
    /// loop it is `raw`).
    pub corrected: LatencyHistogram,
    /// Latency from the actual send time, measured window only.
    pub raw: LatencyHistogram,
    /// Verified echoes completed in the measured window.
    pub measured: u64,
    /// Error counters, whole run (warm-up included).
    pub errors: EchoErrors,
    /// First error of each kind seen, for the warnings.
    pub first_error: Option<String>,
    /// Established connections lost (closed, reset, timed out, broken stream).
    pub lost: u64,
}

impl Tally {
    fn note(&mut self, what: String) {
        self.first_error.get_or_insert(what);
    }
}

/// The measured window and message shape, shared by every connection of a worker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Message size in bytes.
    pub size: usize,
    /// First instant whose completions count.
    pub from: Instant,
    /// First instant whose completions no longer count.
    pub to: Instant,
    /// Origin of the open loop's send grid (the traffic start).
    pub grid: Instant,
    /// Open loop: latency from the intended time is recorded too (in closed loop it equals
    /// the raw latency, which alone is recorded).
    pub open: bool,
}

impl Window {
    /// The first point of the send grid at or after `t`.
    pub fn snap(&self, t: Instant) -> Instant {
        let tick = crate::worker::SEND_TICK.as_nanos();
        let since = t.saturating_duration_since(self.grid).as_nanos();
        let steps = since.div_ceil(tick);
        self.grid + Duration::from_nanos((steps * tick).min(u128::from(u64::MAX)) as u64)
    }
}

/// What a completed echo asks of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completed {
    /// Nothing (more bytes awaited, or messages still in flight).
    Nothing,
    /// This many echoes completed, the last read at `at`; the closed loop sends as many
    /// again, the open loop schedules the next.
    Echoes { count: u32, at: Instant },
}

/// One connection of the load generator.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Global connection id (embedded in every message).
    pub id: u32,
    /// The socket; `None` once dead.
    pub fd: Option<OwnedFd>,
    /// Life-cycle state.
    pub phase: Phase,
    /// Whether the connect succeeded (stays true after the connection dies).
    pub established: bool,
    /// Sequence number of the next message to send.
    send_seq: u64,
    /// Sequence number of the message being received.
    recv_seq: u64,
    /// Bytes of `inflight[0]` received so far.
    recv_off: usize,
    /// Whether a byte of `inflight[0]` differed.
    recv_bad: bool,
    /// Bytes queued for writing; `out[out_off..]` is not yet written.
    out: Vec<u8>,
    /// Written prefix of `out`.
    out_off: usize,
    /// Messages awaiting their echo, oldest first.
    pub inflight: VecDeque<Sent>,
    /// Open loop: intended time of the next message (a point of the send grid).
    pub next_intended: Instant,
    /// Open loop: the exact schedule time of the next message, before snapping to the grid
    /// (the schedule advances from it, so the grid never slows the rate).
    pub exact_intended: Instant,
}

impl Conn {
    /// A connection whose connect is in progress.
    pub fn connecting(id: u32, fd: OwnedFd, now: Instant) -> Self {
        Self {
            id,
            fd: Some(fd),
            phase: Phase::Connecting(now),
            established: false,
            send_seq: 0,
            recv_seq: 0,
            recv_off: 0,
            recv_bad: false,
            out: Vec::new(),
            out_off: 0,
            inflight: VecDeque::new(),
            next_intended: now,
            exact_intended: now,
        }
    }

    /// Echoes completed so far (verified or not).
    pub fn echoes_received(&self) -> u64 {
        self.recv_seq
    }

    /// Whether traffic may flow.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Closes the socket with an immediate reset (no TIME_WAIT left behind); returns
    /// whether the connection was established and live until now.
    #[must_use]
    pub fn kill(&mut self) -> bool {
        if let Some(fd) = self.fd.take() {
            let _ = rustix::net::sockopt::set_socket_linger(&fd, Some(Duration::ZERO));
        }
        let was_live = self.phase == Phase::Ready;
        self.phase = Phase::Dead;
        self.inflight.clear();
        was_live
    }

    /// Queues message `send_seq` (intended at `intended`, sent `now`); [`Conn::flush`]
    /// writes it, with whatever else is queued, in one system call.
    pub fn queue(&mut self, size: usize, intended: Instant, now: Instant) {
        if !self.is_ready() {
            return;
        }
        let start = self.out.len();
        self.out.resize(start + size, 0);
        pattern::fill(self.id, self.send_seq, 0, &mut self.out[start..]);
        self.send_seq += 1;
        self.inflight.push_back(Sent {
            intended,
            actual: now,
        });
    }

    /// Writes queued bytes until done or the kernel pushes back (the edge-triggered
    /// writable event resumes it).
    pub fn flush(&mut self, tally: &mut Tally) {
        while self.out_off < self.out.len() {
            let Some(fd) = &self.fd else { return };
            // `send`, not `write`: the socket call skips the file layer (position lock,
            // fsnotify), a little less kernel work per message than the servers' `write`.
            match rustix::net::send(fd, &self.out[self.out_off..], SendFlags::NOSIGNAL) {
                Ok(n) => self.out_off += n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return,
                Err(e) => return self.fail(e, tally),
            }
        }
        self.out.clear();
        self.out_off = 0;
    }

    /// Reads everything available, verifying each byte; returns the echoes completed.
    /// `hangup` says the event reported the peer's end, so reading goes on to end-of-stream.
    pub fn read_all(
        &mut self,
        scratch: &mut [u8],
        hangup: bool,
        win: &Window,
        tally: &mut Tally,
    ) -> Completed {
        let mut done = Completed::Nothing;
        loop {
            let Some(fd) = &self.fd else { return done };
            let n = match rustix::net::recv(fd, &mut *scratch, RecvFlags::empty()).map(|r| r.0) {
                Ok(0) => {
                    tally.errors.resets += 1;
                    tally.note(format!("connection {} closed by the server", self.id));
                    if self.kill() {
                        tally.lost += 1;
                    }
                    return done;
                }
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => return done,
                Err(e) => {
                    self.fail(e, tally);
                    return done;
                }
            };
            let now = Instant::now();
            let count = self.consume(&scratch[..n], now, win, tally);
            if count > 0 {
                done = match done {
                    Completed::Echoes { count: c, .. } => Completed::Echoes {
                        count: c + count,
                        at: now,
                    },
                    Completed::Nothing => Completed::Echoes { count, at: now },
                };
            }
            if n < scratch.len() && !hangup {
                // A short read means the socket is drained (edge-triggered: one more read
                // would return EAGAIN).
                return done;
            }
        }
    }

    /// Matches `data` against the messages in flight; returns the echoes it completed.
    fn consume(&mut self, mut data: &[u8], now: Instant, win: &Window, tally: &mut Tally) -> u32 {
        let mut count = 0u32;
        while !data.is_empty() {
            let Some(front) = self.inflight.front().copied() else {
                tally.errors.mismatches += 1;
                tally.note(format!(
                    "connection {}: {} bytes arrived with no message in flight",
                    self.id,
                    data.len()
                ));
                if self.kill() {
                    tally.lost += 1;
                }
                break;
            };
            let take = (win.size - self.recv_off).min(data.len());
            if !pattern::verify(self.id, self.recv_seq, self.recv_off, &data[..take]) {
                self.recv_bad = true;
            }
            self.recv_off += take;
            data = &data[take..];
            if self.recv_off < win.size {
                continue;
            }
            self.inflight.pop_front();
            self.recv_off = 0;
            self.recv_seq += 1;
            if std::mem::take(&mut self.recv_bad) {
                tally.errors.mismatches += 1;
                tally.note(format!(
                    "connection {}: echo of message {} differs from what was sent",
                    self.id,
                    self.recv_seq - 1
                ));
            } else if now >= win.from && now < win.to {
                if win.open {
                    tally.corrected.record(now - front.intended);
                }
                tally.raw.record(now - front.actual);
                tally.measured += 1;
            }
            count += 1;
        }
        count
    }

    /// Counts an I/O error and closes the connection.
    fn fail(&mut self, e: Errno, tally: &mut Tally) {
        if matches!(e, Errno::CONNRESET | Errno::PIPE | Errno::CONNABORTED) {
            tally.errors.resets += 1;
        } else {
            tally.errors.other += 1;
        }
        tally.note(format!("connection {}: {e}", self.id));
        if self.kill() {
            tally.lost += 1;
        }
    }
}
