//! TCP on an epoll loop: [`EvListener`] (an adopted std listener) and [`EvStream`], a
//! `futures-io` `AsyncRead + AsyncWrite` over a nonblocking socket. (`net_uring` has the
//! io_uring driver's.)
//!
//! The read/write path is direct: try `recv`/`send` first and involve the reactor only on
//! `EAGAIN` (see the protocol in `reactor.rs`). A short read (fewer bytes than asked) means the
//! socket buffer is empty, so the next read waits for an edge instead of making a syscall that
//! would only say `EAGAIN`; an echo server thus needs one `recv` and one `send` per message.
//!
//! Invariants: a socket is registered with the loop that first polls it (so a listener adopted
//! before `block_on` works) and only that loop may use it; I/O used outside a running loop
//! fails with an `io::Error`, never a panic; a socket is deregistered before its fd closes.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::context;
use super::mutants::{self, Fault};
use super::reactor::{Direction, Reactor};
use super::slab::Key;
use super::sys;

/// An fd's registration with a loop, made at first use.
struct Registration {
    /// The loop's id and the reactor key, once registered.
    key: Option<(u64, Key)>,
    /// Readiness marks to register with (false for a connect still in progress).
    initially_ready: bool,
}

impl Registration {
    fn new(initially_ready: bool) -> Self {
        Self {
            key: None,
            initially_ready,
        }
    }

    /// Runs `f` with the running loop's reactor and this fd's key, registering it first if
    /// needed.
    fn with_reactor<R>(
        &mut self,
        fd: BorrowedFd<'_>,
        f: impl FnOnce(&Reactor, Key) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        context::with_current(|core| {
            let Some(core) = core else {
                return Poll::Ready(Err(io::Error::other(
                    "evloop: socket used outside a running evloop",
                )));
            };
            let Some(reactor) = core.io.epoll() else {
                return Poll::Ready(Err(io::Error::other(
                    "evloop: an epoll socket used on an io_uring loop",
                )));
            };
            let key = match self.key {
                Some((id, key)) if id == core.id() => key,
                Some(_) => {
                    return Poll::Ready(Err(io::Error::other(
                        "evloop: socket used on a loop other than its own",
                    )))
                }
                None => {
                    let key = reactor.register(fd, self.initially_ready)?;
                    self.key = Some((core.id(), key));
                    key
                }
            };
            f(reactor, key)
        })
    }

    /// Removes the fd from its loop, if that loop is running on this thread.
    fn deregister(&mut self, fd: BorrowedFd<'_>) {
        if let Some((id, key)) = self.key.take() {
            context::with_current(|core| {
                if let Some(reactor) = core.filter(|c| c.id() == id).and_then(|c| c.io.epoll()) {
                    reactor.deregister(fd, key);
                }
            });
        }
    }
}

/// A TCP connection driven by evloop.
pub struct EvStream {
    /// The socket (nonblocking).
    fd: OwnedFd,
    /// Its registration with the loop.
    io: Registration,
    /// [`Fault::NoBackpressure`]: bytes accepted by `poll_write` but not sent yet.
    #[cfg(feature = "mutants")]
    unsent: Vec<u8>,
}

impl EvStream {
    /// A stream over a connected (or connecting) socket.
    fn new(fd: OwnedFd, initially_ready: bool) -> Self {
        Self {
            fd,
            io: Registration::new(initially_ready),
            #[cfg(feature = "mutants")]
            unsent: Vec::new(),
        }
    }

    /// [`Fault::NoBackpressure`]: sends buffered bytes until the socket would block (`all`:
    /// `Pending` until everything is sent).
    #[cfg(feature = "mutants")]
    fn flush_unsent(&mut self, cx: &mut Context<'_>, all: bool) -> Poll<io::Result<()>> {
        let EvStream { fd, io, unsent, .. } = self;
        let fd = fd.as_fd();
        while !unsent.is_empty() {
            let sent = io.with_reactor(fd, |reactor, key| {
                reactor.poll_io(
                    key,
                    Direction::Write,
                    cx,
                    || sys::send(fd, unsent),
                    |_| false,
                )
            });
            match sent {
                Poll::Ready(Ok(n)) => {
                    unsent.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if all => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Connects to `addr`: nonblocking `connect`, completed when the socket turns writable,
    /// outcome read from `SO_ERROR` (so a refused connection fails promptly).
    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<EvStream> {
        let (fd, in_progress) = sys::tcp_connect(addr)?;
        let mut stream = EvStream::new(fd, !in_progress);
        if in_progress {
            let EvStream { fd, io, .. } = &mut stream;
            poll_fn(|cx| {
                io.with_reactor(fd.as_fd(), |reactor, key| {
                    match reactor.poll_ready(key, Direction::Write, cx) {
                        Ok(true) => {
                            reactor.set_ready(key, Direction::Read);
                            Poll::Ready(Ok(()))
                        }
                        Ok(false) => Poll::Pending,
                        Err(e) => Poll::Ready(Err(e)),
                    }
                })
            })
            .await?;
            if !mutants::active(Fault::ConnectErrorIgnored) {
                sys::take_socket_error(fd.as_fd())
                    .map_err(|e| io::Error::new(e.kind(), format!("connect to {addr}: {e}")))?;
            }
        }
        harness::net::configure_stream(&stream)?;
        Ok(stream)
    }
}

impl AsFd for EvStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for EvStream {
    fn drop(&mut self) {
        self.io.deregister(self.fd.as_fd());
    }
}

impl futures_io::AsyncRead for EvStream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::ForcedYield) && forced_yield_now() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let EvStream { fd, io, .. } = self.get_mut();
        let fd = fd.as_fd();
        io.with_reactor(fd, |reactor, key| {
            let wanted = buf.len();
            // A short read (but not end-of-stream) emptied the socket buffer.
            let drained = |n: &usize| *n > 0 && *n < wanted;
            reactor.poll_io(key, Direction::Read, cx, || sys::recv(fd, buf), drained)
        })
    }
}

impl futures_io::AsyncWrite for EvStream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::NoBackpressure) {
            if let Poll::Ready(Err(e)) = this.flush_unsent(cx, false) {
                return Poll::Ready(Err(e));
            }
            if !this.unsent.is_empty() {
                this.unsent.extend_from_slice(buf);
                return Poll::Ready(Ok(buf.len()));
            }
        }
        let EvStream { fd, io, .. } = this;
        let fd = fd.as_fd();
        let written = io.with_reactor(fd, |reactor, key| {
            reactor.poll_io(key, Direction::Write, cx, || sys::send(fd, buf), |_| false)
        });
        #[cfg(feature = "mutants")]
        {
            if written.is_pending() && mutants::active(Fault::NoBackpressure) {
                this.unsent.extend_from_slice(buf);
                return Poll::Ready(Ok(buf.len()));
            }
            if matches!(written, Poll::Ready(Ok(n)) if n < buf.len())
                && mutants::active(Fault::PartialWriteLost)
            {
                return Poll::Ready(Ok(buf.len()));
            }
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::NoBackpressure) {
            return self.get_mut().flush_unsent(_cx, true);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(feature = "mutants")]
        {
            if mutants::active(Fault::NoBackpressure) {
                let this = self.get_mut();
                if this.flush_unsent(_cx, true).is_pending() {
                    return Poll::Pending;
                }
                return Pin::new(this).poll_close_now();
            }
            if mutants::active(Fault::HalfCloseIgnored) {
                return Poll::Ready(Ok(()));
            }
        }
        self.poll_close_now()
    }
}

impl EvStream {
    /// Shuts the write side down.
    fn poll_close_now(self: Pin<&mut Self>) -> Poll<io::Result<()>> {
        match sys::shutdown_write(self.fd.as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result),
        }
    }
}

/// A TCP listener adopted by evloop.
pub struct EvListener {
    /// The listening socket (made nonblocking on adoption).
    fd: OwnedFd,
    /// Its registration with the loop.
    io: Registration,
}

impl EvListener {
    /// Adopts a bound, listening socket.
    pub(crate) fn adopt(fd: OwnedFd) -> io::Result<Self> {
        sys::set_nonblocking(fd.as_fd())?;
        Ok(Self {
            fd,
            io: Registration::new(true),
        })
    }
}

impl AsFd for EvListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for EvListener {
    fn drop(&mut self) {
        self.io.deregister(self.fd.as_fd());
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::ListenerLeaked) {
            // A duplicate that is never closed keeps the listening socket alive.
            std::mem::forget(self.fd.try_clone());
        }
    }
}

impl harness::Listener for EvListener {
    type Stream = EvStream;

    async fn accept(&mut self) -> io::Result<(EvStream, SocketAddr)> {
        let EvListener { fd, io } = self;
        let (conn, addr) = poll_fn(|cx| {
            io.with_reactor(fd.as_fd(), |reactor, key| {
                let accept = || sys::accept(fd.as_fd());
                let once = |_: &(OwnedFd, SocketAddr)| mutants::active(Fault::AcceptOncePerEdge);
                reactor.poll_io(key, Direction::Read, cx, accept, once)
            })
        })
        .await?;
        let stream = EvStream::new(conn, true);
        harness::net::configure_stream(&stream)?;
        Ok((stream, addr))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::local_addr(self.fd.as_fd())
    }
}

/// [`Fault::ForcedYield`]: true for every 16th read.
#[cfg(feature = "mutants")]
pub(crate) fn forced_yield_now() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static READS: AtomicU64 = AtomicU64::new(0);
    READS.fetch_add(1, Ordering::Relaxed) % 16 == 15
}
