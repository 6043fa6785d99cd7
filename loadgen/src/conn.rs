//! One load-generator connection: its socket, what it has sent and still expects back, and
//! the verification of every echoed byte as it arrives (across short reads). Shared by both
//! I/O paths (`epoll`, `uring`): they only move bytes. The epoll path writes with
//! [`Conn::flush`] and reads with [`Conn::read_all`]; the io_uring path hands the queued
//! bytes to a send ([`Conn::take_queued`], [`Conn::sent`]) and gives every received buffer to
//! [`Conn::absorb`]. Either way every byte goes through the same verification (`consume`).
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
    /// A window in which nothing is sent or measured (`from` after `to`), for connecting
    /// and closing.
    pub fn empty(size: usize, now: Instant) -> Self {
        Self {
            size,
            from: now + Duration::from_secs(3600 * 24),
            to: now,
            grid: now,
            open: false,
        }
    }

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

impl Completed {
    /// These completions and `count` more at `at`.
    fn and(self, count: u32, at: Instant) -> Completed {
        match (self, count) {
            (done, 0) => done,
            (Completed::Echoes { count: c, .. }, _) => Completed::Echoes {
                count: c + count,
                at,
            },
            (Completed::Nothing, _) => Completed::Echoes { count, at },
        }
    }
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
    /// Messages queued in `out` since the bytes were last handed to the kernel (their send
    /// time is set when they are: [`Conn::take_queued`]).
    unsent: usize,
    /// The I/O path may still have operations naming the socket (io_uring): [`Conn::kill`]
    /// then moves it to `retired` for the path to close once they have ended, so its number
    /// cannot be reused while a queued operation still names it.
    pub defer_close: bool,
    /// The socket of a killed connection, while `defer_close` (the I/O path takes it).
    pub retired: Option<OwnedFd>,
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
            unsent: 0,
            defer_close: false,
            retired: None,
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

    /// Whether its connect is in progress.
    pub fn is_connecting(&self) -> bool {
        matches!(self.phase, Phase::Connecting(_))
    }

    /// Closes the socket with an immediate reset (no TIME_WAIT left behind); returns
    /// whether the connection was established and live until now.
    #[must_use]
    pub fn kill(&mut self) -> bool {
        if let Some(fd) = self.fd.take() {
            let _ = rustix::net::sockopt::set_socket_linger(&fd, Some(Duration::ZERO));
            if self.defer_close {
                self.retired = Some(fd);
            }
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
        self.unsent += 1;
        self.inflight.push_back(Sent {
            intended,
            actual: now,
        });
    }

    /// The queued bytes not yet handed to the kernel, for a send (io_uring path), with the
    /// messages among them stamped as sent `now`; `None` when nothing is queued. The Vec
    /// comes back through [`Conn::sent`].
    pub fn take_queued(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.out_off >= self.out.len() || !self.is_ready() {
            return None;
        }
        let n = self.inflight.len();
        for s in self.inflight.range_mut(n - self.unsent.min(n)..) {
            s.actual = now;
        }
        self.unsent = 0;
        let mut bytes = std::mem::take(&mut self.out);
        if self.out_off > 0 {
            bytes.drain(..self.out_off);
            self.out_off = 0;
        }
        Some(bytes)
    }

    /// A send of `bytes` (from [`Conn::take_queued`]) moved `n` of them: the rest goes
    /// first in the queue, before anything queued meanwhile (the Vec is reused when all
    /// went).
    pub fn sent(&mut self, mut bytes: Vec<u8>, n: usize) {
        if n >= bytes.len() {
            if self.out.is_empty() && self.out.capacity() == 0 {
                bytes.clear();
                self.out = bytes;
            }
            return;
        }
        bytes.drain(..n);
        bytes.extend_from_slice(&self.out[self.out_off..]);
        self.out = bytes;
        self.out_off = 0;
    }

    /// Whether queued bytes await a send.
    pub fn has_queued(&self) -> bool {
        self.out_off < self.out.len()
    }

    /// Writes queued bytes until done or the kernel pushes back (the edge-triggered
    /// writable event resumes it).
    pub fn flush(&mut self, tally: &mut Tally) {
        self.unsent = 0;
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
                    self.peer_closed(tally);
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
            done = done.and(self.consume(&scratch[..n], now, win, tally), now);
            if n < scratch.len() && !hangup {
                // A short read means the socket is drained (edge-triggered: one more read
                // would return EAGAIN).
                return done;
            }
        }
    }

    /// Verifies `data`, bytes received at `now` (io_uring path: a received buffer); returns
    /// the echoes it completed.
    pub fn absorb(
        &mut self,
        data: &[u8],
        now: Instant,
        win: &Window,
        tally: &mut Tally,
    ) -> Completed {
        Completed::Nothing.and(self.consume(data, now, win, tally), now)
    }

    /// The server closed the connection (end of stream): counted as a reset, and closed.
    pub fn peer_closed(&mut self, tally: &mut Tally) {
        tally.errors.resets += 1;
        tally.note(format!("connection {} closed by the server", self.id));
        if self.kill() {
            tally.lost += 1;
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
    pub fn fail(&mut self, e: Errno, tally: &mut Tally) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{AddressFamily, SocketType};

    fn ready(id: u32, t0: Instant) -> Conn {
        let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        let mut c = Conn::connecting(id, fd, t0);
        c.phase = Phase::Ready;
        c
    }

    fn echoes(done: Completed) -> u32 {
        match done {
            Completed::Echoes { count, .. } => count,
            Completed::Nothing => 0,
        }
    }

    /// The io_uring path's sends: queued bytes leave in one send stamped at hand-over, a
    /// short send's rest goes before what was queued meanwhile, and the echo of exactly
    /// those bytes, in any pieces, verifies.
    #[test]
    fn a_short_send_resends_its_rest_first_and_every_byte_is_verified() {
        let t0 = Instant::now();
        let win = Window {
            size: 16,
            from: t0,
            to: t0 + Duration::from_secs(3600),
            grid: t0,
            open: false,
        };
        let mut c = ready(7, t0);
        c.queue(16, t0, t0);
        c.queue(16, t0, t0);
        let handed = t0 + Duration::from_millis(1);
        let first = c.take_queued(handed).unwrap();
        assert_eq!(first.len(), 32);
        assert!(c.inflight.iter().all(|s| s.actual == handed));
        assert!(c.take_queued(handed).is_none());
        // Queued while the send is in flight; then the send turns out short (10 of 32).
        c.queue(16, handed, handed);
        c.sent(first.clone(), 10);
        assert!(c.has_queued());
        let again = c.take_queued(handed).unwrap();
        let mut wire = first[..10].to_vec();
        wire.extend_from_slice(&again);
        assert_eq!(wire.len(), 48);
        c.sent(again, 38);
        assert!(!c.has_queued());

        let mut tally = Tally::default();
        let now = handed + Duration::from_millis(1);
        let done: u32 = wire
            .chunks(7)
            .map(|piece| echoes(c.absorb(piece, now, &win, &mut tally)))
            .sum();
        assert_eq!(done, 3);
        assert_eq!((tally.measured, tally.errors.mismatches), (3, 0));
        assert_eq!(c.echoes_received(), 3);

        // One flipped byte: a mismatch, never a measured echo.
        c.queue(16, now, now);
        let mut bytes = c.take_queued(now).unwrap();
        c.sent(bytes.clone(), 16);
        bytes[5] ^= 0x20;
        assert_eq!(echoes(c.absorb(&bytes, now, &win, &mut tally)), 1);
        assert_eq!((tally.measured, tally.errors.mismatches), (3, 1));

        // A byte with nothing in flight breaks the stream: counted, connection lost.
        c.defer_close = true;
        c.absorb(&[0], now, &win, &mut tally);
        assert_eq!((tally.errors.mismatches, tally.lost), (2, 1));
        assert_eq!(c.phase, Phase::Dead);
        // The io_uring path closes the socket itself, once nothing names it any more.
        assert!(c.fd.is_none() && c.retired.is_some());
    }
}
