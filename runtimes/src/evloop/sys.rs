//! Every system call evloop makes, in one place: thin wrappers over `rustix` that return
//! `std::io::Result`, so nothing above this module sees an errno, a flag word or a raw fd.
//!
//! Invariant: this is the only evloop module that talks to the kernel. It needs no `unsafe`:
//! rustix's safe API covers epoll, eventfd, timerfd and sockets. Every fd it creates is
//! `CLOEXEC` and `NONBLOCK`, and owned by an `OwnedFd`, so it is closed exactly once.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::buffer::spare_capacity;
use rustix::event::epoll;
use rustix::event::{eventfd, EventfdFlags};
use rustix::net::{self as rnet, AddressFamily, SocketFlags, SocketType};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};

/// One readiness event, as the reactor needs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IoEvent {
    /// The token the fd was registered with.
    pub token: u64,
    /// Data, end-of-stream or an error can be read (IN, PRI, RDHUP, HUP, ERR).
    pub readable: bool,
    /// A write would not block, or would fail at once (OUT, HUP, ERR).
    pub writable: bool,
    /// The read side is finished for good (RDHUP, HUP, ERR): reads never block again.
    pub read_closed: bool,
    /// The write side is finished for good (HUP, ERR): writes never block again.
    pub write_closed: bool,
}

/// An epoll instance. Every fd is registered once, edge-triggered, for both directions.
pub(crate) struct Epoll(OwnedFd);

/// A reusable buffer of epoll events, filled by [`Epoll::wait`].
pub(crate) struct Events(Vec<epoll::Event>);

impl Events {
    /// A buffer receiving up to `capacity` events per wait.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// The events of the last wait.
    pub(crate) fn iter(&self) -> impl Iterator<Item = IoEvent> + '_ {
        use epoll::EventFlags as F;
        self.0.iter().map(|e| {
            let flags = e.flags;
            IoEvent {
                token: e.data.u64(),
                readable: flags.intersects(F::IN | F::PRI | F::RDHUP | F::HUP | F::ERR),
                writable: flags.intersects(F::OUT | F::HUP | F::ERR),
                read_closed: flags.intersects(F::RDHUP | F::HUP | F::ERR),
                write_closed: flags.intersects(F::HUP | F::ERR),
            }
        })
    }
}

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self(epoll::create(epoll::CreateFlags::CLOEXEC)?))
    }

    /// Registers `fd` edge-triggered for reading and writing, tagged with `token`.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        use epoll::EventFlags as F;
        let flags = F::IN | F::OUT | F::RDHUP | F::ET;
        Ok(epoll::add(
            &self.0,
            fd,
            epoll::EventData::new_u64(token),
            flags,
        )?)
    }

    /// Removes `fd` from the interest list.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.0, fd)?)
    }

    /// Waits for events: blocks until one arrives when `block`, else only collects the ready
    /// ones. An interrupted wait returns no events.
    pub(crate) fn wait(&self, events: &mut Events, block: bool) -> io::Result<()> {
        events.0.clear();
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let timeout = if block { None } else { Some(&zero) };
        match epoll::wait(&self.0, spare_capacity(&mut events.0), timeout) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// An eventfd: other threads write to it to wake the loop out of `epoll_wait`.
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    /// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
    pub(crate) fn new() -> io::Result<Self> {
        let flags = EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK;
        Ok(Self(eventfd(0, flags)?))
    }

    /// Adds one to the counter, making the fd readable. A full counter already wakes.
    pub(crate) fn notify(&self) {
        let _ = rustix::io::write(&self.0, &1u64.to_ne_bytes());
    }

    /// Resets the counter to zero.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.0, &mut buf);
    }

    /// A second descriptor of the same eventfd (close-on-exec), for a driver that watches
    /// it and must name it again later (io_uring re-arms its poll).
    #[cfg(feature = "evloop-uring")]
    pub(crate) fn try_clone(&self) -> io::Result<OwnedFd> {
        Ok(rustix::io::fcntl_dupfd_cloexec(&self.0, 0)?)
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// A timerfd on `CLOCK_MONOTONIC` (the clock `Instant` reads): nanosecond-precision wake-ups
/// that `epoll_wait`'s millisecond timeout cannot give.
pub(crate) struct TimerFd(OwnedFd);

impl TimerFd {
    /// `timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)`.
    pub(crate) fn new() -> io::Result<Self> {
        let flags = TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK;
        Ok(Self(rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            flags,
        )?))
    }

    /// Arms the timer to expire once, `after` from now (at least 1 ns: zero would disarm).
    pub(crate) fn arm(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: after.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: after.subsec_nanos().into(),
            },
        };
        rustix::time::timerfd_settime(&self.0, TimerfdTimerFlags::empty(), &spec)?;
        Ok(())
    }
}

impl AsFd for TimerFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Whether `e` is `EAGAIN`/`EWOULDBLOCK` (every error here is an OS error: the errno is
/// compared directly, without decoding a kind).
#[inline]
pub(crate) fn is_would_block(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::WOULDBLOCK.raw_os_error())
}

/// Whether `e` is `EINTR`.
#[inline]
pub(crate) fn is_interrupted(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::INTR.raw_os_error())
}

/// Makes an adopted fd nonblocking.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, true)?)
}

/// Makes an fd blocking: io_uring does the waiting itself, and a blocking file makes sure no
/// path of it reports `EAGAIN` back instead of waiting.
#[cfg(feature = "evloop-uring")]
pub(crate) fn set_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, false)?)
}

/// The peer address of a connected socket.
#[cfg(feature = "evloop-uring")]
pub(crate) fn peer_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    let addr = rnet::getpeername(fd)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "peer has no address"))?;
    SocketAddr::try_from(addr)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "peer is not an IP socket"))
}

/// Starts a nonblocking TCP connect. Returns the socket and whether the connection is still
/// in progress (then completion is signalled by writability, see [`take_socket_error`]).
pub(crate) fn tcp_connect(addr: SocketAddr) -> io::Result<(OwnedFd, bool)> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rnet::socket_with(family, SocketType::STREAM, flags, Some(rnet::ipproto::TCP))?;
    match rnet::connect(&fd, &addr) {
        Ok(()) => Ok((fd, false)),
        Err(rustix::io::Errno::INPROGRESS) => Ok((fd, true)),
        Err(e) => Err(io::Error::new(
            io::Error::from(e).kind(),
            format!("connect to {addr}: {e}"),
        )),
    }
}

/// The pending error of a socket (`SO_ERROR`), which also clears it: how a nonblocking
/// connect reports its outcome.
pub(crate) fn take_socket_error(fd: BorrowedFd<'_>) -> io::Result<()> {
    match rnet::sockopt::socket_error(fd)? {
        Ok(()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`: a new connection and its peer address.
pub(crate) fn accept(fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, SocketAddr)> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let (conn, addr) = rnet::acceptfrom_with(fd, flags)?;
    let addr = match addr {
        Some(a) => a,
        None => rnet::getpeername(&conn)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "peer has no address"))?,
    };
    let addr = SocketAddr::try_from(addr)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "peer is not an IP socket"))?;
    Ok((conn, addr))
}

/// `recv(fd, buf, 0)`.
#[inline]
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rnet::recv(fd, buf, rnet::RecvFlags::empty())?.0)
}

/// `recv(fd, buf, MSG_DONTWAIT)`: never blocks, whatever the socket's mode (`WouldBlock`
/// when nothing is there).
#[inline]
pub(crate) fn recv_now(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rnet::recv(fd, buf, rnet::RecvFlags::DONTWAIT)?.0)
}

/// `send(fd, buf, MSG_NOSIGNAL)`: a closed peer gives `EPIPE`, never `SIGPIPE`.
#[inline]
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    Ok(rnet::send(fd, buf, rnet::SendFlags::NOSIGNAL)?)
}

/// Shuts down the write side of a socket.
pub(crate) fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rnet::shutdown(fd, rnet::Shutdown::Write)?)
}

/// Stops a listening socket from listening at once, though its fd stays open: later connects
/// are refused and connections queued but not accepted are reset, as when the fd is closed.
/// (Linux: `shutdown` of a listening socket is what closing it does to the listen state.)
pub(crate) fn stop_listening(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rnet::shutdown(fd, rnet::Shutdown::Both)?)
}

/// The local address of a socket.
pub(crate) fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    SocketAddr::try_from(rnet::getsockname(fd)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket"))
}
