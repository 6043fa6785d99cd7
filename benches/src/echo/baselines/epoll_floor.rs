//! `epoll-floor`: the leanest echo loop there is, and the floor every runtime is measured
//! against. One thread, level-triggered epoll, no tasks, no wakers, no per-message
//! allocation: the same per-connection read buffer as every other server (`--buffer`, so
//! memory per connection compares like with like), written back from where it was read; a
//! write the kernel takes partially leaves the rest there, and that connection stops being
//! read until it drains.
//!
//! Writes are coalesced per readiness event, as uring-floor's sends are per iteration: a
//! read that fills the buffer is followed by more (the message may go on), the pieces are
//! gathered in one loop-wide run of bytes and written back with one `write`. So a message
//! larger than the buffer costs one write, not one per buffer; a read shorter than the
//! buffer (every 64 B message) is written straight from the buffer as before, with no
//! extra system call.
//!
//! Invariant: a connection's slot is indexed by its fd number, which the kernel keeps
//! unique while the fd is open; a slot is emptied (fd closed) before the number can be reused.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::io::Errno;
use rustix::net::SocketFlags;

/// Baseline id.
pub const ID: &str = "epoll-floor";

/// Event data of the listener (connections use their fd number).
const LISTENER_KEY: u64 = u64::MAX;

/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;

/// One accepted connection.
struct FloorConn {
    /// The socket; closing it removes it from the epoll set.
    fd: OwnedFd,
    /// Its read buffer (`--buffer` bytes, allocated at accept).
    buf: Vec<u8>,
    /// `buf[pending.0..pending.1]` was read but not yet written back (empty unless a write
    /// was partial).
    pending: (usize, usize),
    /// Gathered bytes a partial write left (allocated only then): written before anything
    /// else, `pending` being empty meanwhile.
    spill: Vec<u8>,
}

/// Serves echo forever on one thread.
pub fn serve(listener: TcpListener, buffer: usize) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let ep = epoll::create(CreateFlags::CLOEXEC)?;
    epoll::add(
        &ep,
        &listener,
        EventData::new_u64(LISTENER_KEY),
        EventFlags::IN,
    )?;
    let mut conns: Vec<Option<FloorConn>> = Vec::new();
    let mut events = Vec::with_capacity(EVENTS_PER_WAIT);
    // The loop's one run of bytes for a readiness event's reads (see the module doc).
    let mut gather = Vec::new();
    loop {
        events.clear();
        match epoll::wait(&ep, spare_capacity(&mut events), None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        for ev in &events {
            let key = ev.data.u64();
            let flags = ev.flags;
            if key == LISTENER_KEY {
                accept_all(&ep, &listener, &mut conns, buffer);
            } else {
                let slot = key as usize;
                let keep = match conns.get_mut(slot).and_then(Option::as_mut) {
                    Some(conn) => service(&ep, conn, flags, &mut gather),
                    None => continue,
                };
                if !keep {
                    conns[slot] = None;
                }
            }
        }
    }
}

/// Accepts every pending connection.
fn accept_all(
    ep: &OwnedFd,
    listener: &TcpListener,
    conns: &mut Vec<Option<FloorConn>>,
    buffer: usize,
) {
    loop {
        let fd = match rustix::net::accept_with(
            listener,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        ) {
            Ok(fd) => fd,
            Err(Errno::INTR) | Err(Errno::CONNABORTED) => continue,
            // EAGAIN: drained; EMFILE and the like: retried on the next readiness.
            Err(_) => return,
        };
        let _ = rustix::net::sockopt::set_tcp_nodelay(&fd, true);
        let slot = fd.as_raw_fd() as usize;
        if epoll::add(ep, &fd, EventData::new_u64(slot as u64), EventFlags::IN).is_err() {
            continue;
        }
        if conns.len() <= slot {
            conns.resize_with(slot + 1, || None);
        }
        conns[slot] = Some(FloorConn {
            fd,
            buf: vec![0u8; buffer.max(1)],
            pending: (0, 0),
            spill: Vec::new(),
        });
    }
}

/// Serves one readiness event; returns whether the connection stays open.
fn service(ep: &OwnedFd, conn: &mut FloorConn, flags: EventFlags, gather: &mut Vec<u8>) -> bool {
    if conn.pending.0 < conn.pending.1 || !conn.spill.is_empty() {
        if flags.intersects(EventFlags::ERR | EventFlags::HUP) && !flags.contains(EventFlags::OUT) {
            return false;
        }
        return drain_pending(ep, conn);
    }
    let n = match rustix::io::read(&conn.fd, &mut conn.buf) {
        Ok(0) => return false,
        Ok(n) => n,
        Err(Errno::AGAIN) | Err(Errno::INTR) => return true,
        Err(_) => return false,
    };
    if n == conn.buf.len() {
        // The buffer is full: the message may go on. Gather what follows and write it all
        // at once (end-of-stream or an error met here ends the connection after that).
        gather.clear();
        gather.extend_from_slice(&conn.buf[..n]);
        let mut open = true;
        loop {
            match rustix::io::read(&conn.fd, &mut conn.buf) {
                Ok(0) => open = false,
                Ok(m) => {
                    gather.extend_from_slice(&conn.buf[..m]);
                    if m == conn.buf.len() {
                        continue;
                    }
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {}
                Err(_) => open = false,
            }
            break;
        }
        let Ok(w) = write_some(&conn.fd, gather) else {
            return false;
        };
        conn.spill.extend_from_slice(&gather[w..]);
        if conn.spill.is_empty() {
            return open;
        }
        // After the peer's end, what is still to write is written before the close.
        return wait_writable(ep, conn);
    }
    conn.pending = (0, n);
    match write_pending(conn) {
        Ok(true) => true,
        Ok(false) => wait_writable(ep, conn),
        Err(()) => false,
    }
}

/// Watches the connection for writability only, until what it has to write is out.
fn wait_writable(ep: &OwnedFd, conn: &FloorConn) -> bool {
    let key = EventData::new_u64(conn.fd.as_raw_fd() as u64);
    epoll::modify(ep, &conn.fd, key, EventFlags::OUT).is_ok()
}

/// Writes `bytes` until all are out or the kernel pushes back: how many went, `Err` when
/// the connection is broken.
fn write_some(fd: &OwnedFd, bytes: &[u8]) -> Result<usize, ()> {
    let mut off = 0;
    while off < bytes.len() {
        match rustix::io::write(fd, &bytes[off..]) {
            Ok(w) => off += w,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => break,
            Err(_) => return Err(()),
        }
    }
    Ok(off)
}

/// Writes the spill, then `buf[pending]`: `Ok(true)` when all of it is out, `Ok(false)`
/// when the kernel pushed back (the rest stays), `Err` when the connection is broken.
fn write_pending(conn: &mut FloorConn) -> Result<bool, ()> {
    if !conn.spill.is_empty() {
        let w = write_some(&conn.fd, &conn.spill)?;
        conn.spill.drain(..w);
        if !conn.spill.is_empty() {
            return Ok(false);
        }
        conn.spill = Vec::new(); // allocated only while there is a spill
    }
    let (from, to) = conn.pending;
    conn.pending.0 += write_some(&conn.fd, &conn.buf[from..to])?;
    if conn.pending.0 < conn.pending.1 {
        return Ok(false);
    }
    conn.pending = (0, 0);
    Ok(true)
}

/// Writes pending bytes; once they are all out, the connection is read again.
fn drain_pending(ep: &OwnedFd, conn: &mut FloorConn) -> bool {
    match write_pending(conn) {
        Ok(true) => {
            let key = EventData::new_u64(conn.fd.as_raw_fd() as u64);
            epoll::modify(ep, &conn.fd, key, EventFlags::IN).is_ok()
        }
        Ok(false) => true,
        Err(()) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    /// The floors' echo checks (messages from 1 B to 12 MB, bytes before the peer's end):
    /// the 12 MB message fills the socket buffers, so gathered bytes wait in the spill.
    #[test]
    fn messages_larger_than_a_buffer_and_bytes_before_the_end_are_echoed_in_order() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || super::serve(listener, 2048));
        super::super::assert_echoes_in_order_and_before_the_end(addr);
    }
}
