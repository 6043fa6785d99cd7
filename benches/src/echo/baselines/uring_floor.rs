//! `uring-floor`: the leanest io_uring echo loop, the second physical reference beside
//! `epoll-floor`. One thread, no tasks, one `submit_and_wait` per iteration: a multishot
//! accept, a multishot receive per connection into one shared provided buffer ring, and what
//! a connection received in an iteration sent back in one send at its end: a lone buffer
//! straight from where the kernel put it (no copy), several (a message larger than a
//! buffer) copied into one run of bytes, so a 16 KiB message goes back in one send rather
//! than one buffer per iteration. At most one send per connection is in flight (bytes stay
//! in order); what arrives meanwhile waits for it. Sends and re-arms of an iteration are
//! pushed and submitted together.
//!
//! Buffer policy, `--buffer` as for every server: each provided buffer is `--buffer` bytes,
//! so a receive takes at most what a runtime's or epoll-floor's read does. The buffers are
//! the ring's, shared by every connection rather than one per connection (that is what
//! provided buffers are for); a partly sent buffer is simply resent from where it stopped
//! (held meanwhile, not copied). The ring has [`buffer_count`] buffers of `buffer` bytes;
//! when all are in use, a receive ends with `ENOBUFS` and is armed again once buffers are
//! back.
//!
//! Invariant: a connection is closed (its fd dropped, so the number can be reused) only
//! after its receive has ended and no send of it is in flight, so no completion can arrive
//! for a closed connection's number.

use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use runtimes::evloop::sys_uring::{BufLease, BufferGroup, Completion, OpId, OpKind, Outcome, Ring};

/// Baseline id.
pub const ID: &str = "uring-floor";

/// Submission queue entries (completion queue: four times as many).
const RING_ENTRIES: u32 = 4096;

/// Token of the accept operation (connections use their fd number).
const ACCEPT: u64 = u64::MAX;

/// Token of the pause after a failed accept.
const ACCEPT_PAUSE: u64 = u64::MAX - 1;

/// Memory the provided buffers may take, which sets their count. The kernel takes buffers
/// in ring order, so every buffer is cycled through and resident: 1 MiB (512 of 2 KiB), as
/// evloop-uring's group. Against 8 MiB, `bench echo --pin`, 3 repeats: RSS per connection
/// 11.6 KiB instead of 83.7 at 100 connections, 0.40 instead of 1.16 at 10,000, 27 instead
/// of 103 at 100 connections of 16 KiB; CPU per message within the repeats' spread (64 B)
/// or lower (16 KiB: 14.9 µs instead of 18.7); every point complete.
const POOL_BYTES: usize = 1 << 20;

/// Buffers in the ring for buffers of `buffer` bytes: `POOL_BYTES` worth, a power of two
/// between 64 and 4096.
pub fn buffer_count(buffer: usize) -> u16 {
    let n = (POOL_BYTES / buffer.max(1)).clamp(64, 4096);
    // Largest power of two not above n.
    1 << (usize::BITS - 1 - n.leading_zeros())
}

/// Sets up the ring the floor would serve with, or says why io_uring cannot be used here.
pub fn preflight() -> io::Result<()> {
    Ring::new(8).map(drop)
}

/// One accepted connection.
struct FloorConn {
    /// The socket.
    fd: OwnedFd,
    /// Its multishot receive, while armed.
    recv: Option<OpId>,
    /// A send in flight and the offset it started at.
    sending: Option<usize>,
    /// Received buffers not yet sent (allocated only when there are several).
    queue: VecDeque<BufLease>,
    /// In `Floor::ready`.
    ready: bool,
    /// The peer finished or an error happened: close once nothing is in flight.
    closing: bool,
}

impl FloorConn {
    /// Closing, with no receive and no send in flight: it may be closed once nothing it
    /// received waits to be sent.
    fn finished(&self) -> bool {
        self.closing && self.recv.is_none() && self.sending.is_none()
    }
}

/// The echo loop's state.
struct Floor {
    /// The ring.
    ring: Ring,
    /// Its buffer group.
    group: BufferGroup,
    /// Connections by fd number.
    conns: Vec<Option<FloorConn>>,
    /// Connections whose receive ended for lack of buffers, oldest first: armed again as
    /// buffers come back, at most as many as are free, so they neither spin nor starve.
    starved: VecDeque<usize>,
    /// Connections whose receive ended otherwise mid-stream, to arm again at once.
    rearm: Vec<usize>,
    /// Buffers in the kernel's hands (the ring's count minus those leased out).
    free_buffers: usize,
    /// Connections with received buffers to send at the end of the iteration.
    ready: Vec<usize>,
    /// Byte runs of finished sends, for reuse.
    spare: Vec<Vec<u8>>,
}

/// Serves echo forever on one thread, with receive buffers of `buffer` bytes.
pub fn serve(listener: TcpListener, buffer: usize) -> io::Result<()> {
    let size = u32::try_from(buffer)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "buffer size out of range"))?;
    // io_uring's accept waits for a connection itself; the harness hands a nonblocking one.
    listener.set_nonblocking(false)?;
    let mut ring = Ring::new(RING_ENTRIES)?;
    let count = buffer_count(buffer);
    let group = ring.add_buffer_group(count, size)?;
    ring.accept_multishot(listener.as_fd(), ACCEPT)?;
    let mut floor = Floor {
        ring,
        group,
        conns: Vec::new(),
        starved: VecDeque::new(),
        rearm: Vec::new(),
        free_buffers: usize::from(count),
        ready: Vec::new(),
        spare: Vec::new(),
    };
    let mut done = Vec::with_capacity(RING_ENTRIES as usize);
    loop {
        floor.ring.submit_and_wait(1)?;
        done.clear();
        floor.ring.drain(&mut done);
        for c in done.drain(..) {
            match c.token {
                ACCEPT => floor.accepted(c, &listener)?,
                ACCEPT_PAUSE => {
                    floor.ring.accept_multishot(listener.as_fd(), ACCEPT)?;
                }
                slot => floor.connection(slot as usize, c)?,
            }
        }
        for slot in std::mem::take(&mut floor.ready) {
            floor.flush(slot)?;
        }
        for slot in std::mem::take(&mut floor.rearm) {
            floor.arm(slot)?;
        }
        while floor.free_buffers > 0 {
            let Some(slot) = floor.starved.pop_front() else {
                break;
            };
            floor.arm(slot)?;
            // Each armed receive will take at least one buffer.
            floor.free_buffers -= 1;
        }
    }
}

impl Floor {
    /// An accept completion: a new connection, or the accept ended (re-armed after a pause).
    fn accepted(&mut self, c: Completion, _listener: &TcpListener) -> io::Result<()> {
        if let Outcome::Accepted(fd) = c.outcome {
            let _ = rustix::net::sockopt::set_tcp_nodelay(&fd, true);
            let slot = fd.as_raw_fd() as usize;
            if self.conns.len() <= slot {
                self.conns.resize_with(slot + 1, || None);
            }
            self.conns[slot] = Some(FloorConn {
                fd,
                recv: None,
                sending: None,
                queue: VecDeque::new(),
                ready: false,
                closing: false,
            });
            self.arm(slot)?;
        }
        if !c.more {
            // EMFILE and the like end the multishot accept: try again shortly.
            self.ring.timeout(Duration::from_millis(10), ACCEPT_PAUSE)?;
        }
        Ok(())
    }

    /// Arms the multishot receive of connection `slot`.
    fn arm(&mut self, slot: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(());
        };
        if conn.closing || conn.recv.is_some() {
            return Ok(());
        }
        conn.recv = Some(
            self.ring
                .recv_multishot(conn.fd.as_fd(), self.group, slot as u64)?,
        );
        Ok(())
    }

    /// A completion of connection `slot`'s receive or send.
    fn connection(&mut self, slot: usize, c: Completion) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(());
        };
        match (c.kind, c.outcome) {
            (OpKind::Recv, outcome) => {
                if !c.more {
                    conn.recv = None;
                    match &c.result {
                        Err(e) if e.raw_os_error() == Some(libc_enobufs()) => {
                            self.starved.push_back(slot)
                        }
                        // The kernel may end a multishot receive mid-stream (a full
                        // completion queue): arm it again.
                        Ok(n) if *n > 0 => self.rearm.push(slot),
                        _ => conn.closing = true,
                    }
                }
                if let Outcome::Received(lease) = outcome {
                    self.free_buffers = self.free_buffers.saturating_sub(1);
                    if lease.is_empty() {
                        recycle(&mut self.ring, &mut self.free_buffers, lease);
                    } else {
                        conn.queue.push_back(lease);
                        if conn.sending.is_none() && !conn.ready {
                            conn.ready = true;
                            self.ready.push(slot);
                        }
                    }
                }
            }
            (OpKind::Send, Outcome::SentBytes(mut bytes)) => {
                conn.sending = None;
                match c.result {
                    Ok(n) if (n as usize) < bytes.len() && n > 0 => {
                        bytes.drain(..n as usize);
                        conn.sending = Some(0);
                        self.ring.send(conn.fd.as_fd(), bytes, slot as u64)?;
                    }
                    Ok(_) => {
                        bytes.clear();
                        self.spare.push(bytes);
                        if !conn.queue.is_empty() && !conn.ready {
                            conn.ready = true;
                            self.ready.push(slot);
                        }
                    }
                    Err(_) => {
                        for l in conn.queue.drain(..) {
                            recycle(&mut self.ring, &mut self.free_buffers, l);
                        }
                        conn.closing = true;
                        if let Some(recv) = conn.recv {
                            self.ring.cancel(recv)?;
                        }
                    }
                }
            }
            (OpKind::Send, Outcome::SentBuffer(lease)) => {
                let offset = conn.sending.take().unwrap_or(0);
                match c.result {
                    Ok(n) if offset + (n as usize) < lease.len() && n > 0 => {
                        let next = offset + n as usize;
                        conn.sending = Some(next);
                        self.ring
                            .send_buffer(conn.fd.as_fd(), lease, next, slot as u64)?;
                    }
                    Ok(_) => {
                        recycle(&mut self.ring, &mut self.free_buffers, lease);
                        if !conn.queue.is_empty() && !conn.ready {
                            conn.ready = true;
                            self.ready.push(slot);
                        }
                    }
                    Err(_) => {
                        recycle(&mut self.ring, &mut self.free_buffers, lease);
                        for l in conn.queue.drain(..) {
                            recycle(&mut self.ring, &mut self.free_buffers, l);
                        }
                        conn.closing = true;
                        if let Some(recv) = conn.recv {
                            self.ring.cancel(recv)?;
                        }
                    }
                }
            }
            _ => {}
        }
        if conn.finished() && !conn.ready {
            for l in conn.queue.drain(..) {
                recycle(&mut self.ring, &mut self.free_buffers, l);
            }
            self.conns[slot] = None;
        }
        Ok(())
    }

    /// Sends what connection `slot` received (unless a send is in flight: its completion
    /// queues the connection again): one buffer from where it is, several copied into one
    /// run of bytes (and recycled at once).
    fn flush(&mut self, slot: usize) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(());
        };
        conn.ready = false;
        // A closing connection still echoes what it received before the peer's end.
        if conn.sending.is_some() {
            return Ok(());
        }
        match conn.queue.len() {
            0 => {}
            1 => {
                let lease = conn.queue.pop_front().expect("one queued");
                conn.sending = Some(0);
                self.ring
                    .send_buffer(conn.fd.as_fd(), lease, 0, slot as u64)?;
            }
            _ => {
                let mut bytes = self.spare.pop().unwrap_or_default();
                for lease in conn.queue.drain(..) {
                    bytes.extend_from_slice(self.ring.bytes(&lease));
                    recycle(&mut self.ring, &mut self.free_buffers, lease);
                }
                conn.sending = Some(0);
                self.ring.send(conn.fd.as_fd(), bytes, slot as u64)?;
            }
        }
        if conn.finished() {
            self.conns[slot] = None; // nothing left to echo
        }
        Ok(())
    }
}

/// Gives a buffer back to the kernel, counting it free.
fn recycle(ring: &mut Ring, free_buffers: &mut usize, lease: BufLease) {
    ring.recycle(lease);
    *free_buffers += 1;
}

/// `ENOBUFS`, the result of a receive that found the buffer ring empty.
fn libc_enobufs() -> i32 {
    rustix::io::Errno::NOBUFS.raw_os_error()
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    /// A floor on a thread of its own (it serves forever), with 2 KiB buffers; its address.
    fn floor() -> Option<std::net::SocketAddr> {
        if let Err(e) = super::preflight() {
            eprintln!("io_uring unavailable here, nothing to test: {e}");
            return None;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || super::serve(listener, 2048));
        Some(addr)
    }

    /// The floors' echo checks (messages from 1 B to 12 MB, bytes before the peer's end):
    /// the 12 MB message fills the socket buffers, so sends are short.
    #[test]
    fn messages_larger_than_a_buffer_and_bytes_before_the_end_are_echoed_in_order() {
        let Some(addr) = floor() else { return };
        super::super::assert_echoes_in_order_and_before_the_end(addr);
    }
}
