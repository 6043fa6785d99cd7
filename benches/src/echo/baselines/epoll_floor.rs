//! `epoll-floor`: the leanest echo loop there is, and the floor every runtime is measured
//! against. One thread, level-triggered epoll, no tasks, no wakers, no per-message
//! allocation: the same per-connection read buffer as every other server (`--buffer`, so
//! memory per connection compares like with like), written back from where it was read; a
//! write the kernel takes partially leaves the rest there, and that connection stops being
//! read until it drains.
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
                    Some(conn) => service(&ep, conn, flags),
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
        });
    }
}

/// Serves one readiness event; returns whether the connection stays open.
fn service(ep: &OwnedFd, conn: &mut FloorConn, flags: EventFlags) -> bool {
    if conn.pending.0 < conn.pending.1 {
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
    conn.pending = (0, n);
    match write_pending(conn) {
        Ok(true) => true,
        Ok(false) => {
            let key = EventData::new_u64(conn.fd.as_raw_fd() as u64);
            epoll::modify(ep, &conn.fd, key, EventFlags::OUT).is_ok()
        }
        Err(()) => false,
    }
}

/// Writes `buf[pending]`: `Ok(true)` when all of it is out, `Ok(false)` when the kernel
/// pushed back (the rest stays pending), `Err` when the connection is broken.
fn write_pending(conn: &mut FloorConn) -> Result<bool, ()> {
    while conn.pending.0 < conn.pending.1 {
        match rustix::io::write(&conn.fd, &conn.buf[conn.pending.0..conn.pending.1]) {
            Ok(w) => conn.pending.0 += w,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(false),
            Err(_) => return Err(()),
        }
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
