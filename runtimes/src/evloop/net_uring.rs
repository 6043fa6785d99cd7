//! TCP on an io_uring loop: [`UringListener`] and [`UringStream`], `futures-io` streams whose
//! I/O the `uring` driver does (multishot accept and receive, batched sends; see its module
//! doc for the protocol, including what dropping one does).
//!
//! What the `futures-io` interface allows: `poll_read(&mut buf)` hands the stream a buffer
//! the *caller* owns, so a caller that reads keeps a buffer per connection whatever the
//! driver does. The driver receives into its shared ring buffers and copies out only when
//! the caller reads; what it saves is per-connection memory of its own (receive buffers scale
//! with data received and not yet read, send buffers with sends in flight), not the
//! caller's buffer.
//!
//! Invariants: a socket is registered with the loop that first polls it and only that loop
//! may use it; I/O used outside a running loop fails with an `io::Error`, never a panic;
//! sockets are blocking (io_uring does the waiting); the fd is shared with the driver, which
//! closes it after the last operation on it completed.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::context;
use super::mutants::{self, Fault};
use super::slab::Key;
use super::sys;
use super::uring::UringDriver;

/// A socket's registration with a loop's io_uring driver, made at first use.
struct Registration {
    /// The loop's id and the driver's key, once registered.
    key: Option<(u64, Key)>,
}

/// What kind of source to register.
#[derive(Clone, Copy)]
enum Kind {
    /// A connection; `true` while a connect is in progress.
    Stream(bool),
    /// A listener.
    Listener,
}

impl Registration {
    fn new() -> Self {
        Self { key: None }
    }

    /// Runs `f` with the running loop's io_uring driver and this socket's key, registering
    /// it first if needed.
    fn with_driver<R>(
        &mut self,
        fd: &Arc<OwnedFd>,
        kind: Kind,
        f: impl FnOnce(&UringDriver, Key) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        context::with_current(|core| {
            let Some(core) = core else {
                return Poll::Ready(Err(io::Error::other(
                    "evloop: socket used outside a running evloop",
                )));
            };
            let Some(driver) = core.io.uring() else {
                return Poll::Ready(Err(io::Error::other(
                    "evloop: an io_uring socket used on an epoll loop",
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
                    let key = match kind {
                        Kind::Stream(connecting) => driver.register_stream(fd.clone(), connecting),
                        Kind::Listener => driver.register_listener(fd.clone()),
                    };
                    self.key = Some((core.id(), key));
                    key
                }
            };
            f(driver, key)
        })
    }

    /// Hands the socket's state to its loop's driver to finish (rule 1 of the protocol), if
    /// that loop runs on this thread; else the loop frees it when dropped (rule 2).
    fn release(&mut self) {
        if let Some((id, key)) = self.key.take() {
            context::with_current(|core| {
                if let Some(driver) = core.filter(|c| c.id() == id).and_then(|c| c.io.uring()) {
                    driver.release(key);
                }
            });
        }
    }
}

/// A TCP connection driven by evloop's io_uring driver.
pub struct UringStream {
    /// The socket (blocking), shared with the driver.
    fd: Arc<OwnedFd>,
    /// Its registration with the loop.
    io: Registration,
    /// A connect is in progress until the connect future is done with it.
    connecting: bool,
}

impl UringStream {
    fn new(fd: OwnedFd, connecting: bool) -> Self {
        Self {
            fd: Arc::new(fd),
            io: Registration::new(),
            connecting,
        }
    }

    fn with_driver<R>(
        &mut self,
        f: impl FnOnce(&UringDriver, Key) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        let UringStream {
            fd, io, connecting, ..
        } = self;
        io.with_driver(fd, Kind::Stream(*connecting), f)
    }

    /// Connects to `addr`: a nonblocking `connect`, completed when the socket turns
    /// writable (a poll on the ring), outcome read from `SO_ERROR`.
    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<UringStream> {
        let (fd, in_progress) = sys::tcp_connect(addr)?;
        let mut stream = UringStream::new(fd, in_progress);
        if in_progress {
            poll_fn(|cx| stream.with_driver(|driver, key| driver.poll_connected(key, cx))).await?;
            if !mutants::active(Fault::ConnectErrorIgnored) {
                sys::take_socket_error(stream.fd.as_fd())
                    .map_err(|e| io::Error::new(e.kind(), format!("connect to {addr}: {e}")))?;
            }
            stream.connecting = false;
        }
        sys::set_blocking(stream.fd.as_fd())?;
        harness::net::configure_stream(&stream)?;
        Ok(stream)
    }
}

impl AsFd for UringStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for UringStream {
    fn drop(&mut self) {
        self.io.release();
    }
}

impl futures_io::AsyncRead for UringStream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        #[cfg(feature = "mutants")]
        if mutants::active(Fault::ForcedYield) && super::net::forced_yield_now() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.get_mut()
            .with_driver(|driver, key| driver.poll_read(key, cx, buf))
    }
}

impl futures_io::AsyncWrite for UringStream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = self
            .get_mut()
            .with_driver(|driver, key| driver.poll_write(key, cx, buf));
        #[cfg(feature = "mutants")]
        if matches!(written, Poll::Ready(Ok(n)) if n < buf.len())
            && mutants::active(Fault::PartialWriteLost)
        {
            return Poll::Ready(Ok(buf.len()));
        }
        written
    }

    /// Bytes a write accepted are on their way, as bytes in a socket's send buffer are: the
    /// next wait hands them to the kernel. So flushing waits for nothing (a send that fails
    /// is reported by the next write or close).
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Waits until every accepted byte is sent, then shuts the write side down.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.with_driver(|driver, key| driver.poll_sent(key, cx)) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        if mutants::active(Fault::HalfCloseIgnored) {
            return Poll::Ready(Ok(()));
        }
        match sys::shutdown_write(this.fd.as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result),
        }
    }
}

/// A TCP listener adopted by evloop's io_uring driver.
pub struct UringListener {
    /// The listening socket (made blocking on adoption), shared with the driver.
    fd: Arc<OwnedFd>,
    /// Its registration with the loop.
    io: Registration,
}

impl UringListener {
    /// Adopts a bound, listening socket.
    pub(crate) fn adopt(fd: OwnedFd) -> io::Result<Self> {
        sys::set_blocking(fd.as_fd())?;
        Ok(Self {
            fd: Arc::new(fd),
            io: Registration::new(),
        })
    }
}

impl AsFd for UringListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for UringListener {
    /// The listener closes now, as an epoll listener's fd does, although the fd itself closes
    /// only after the accept on it ended: connects from here on are refused.
    fn drop(&mut self) {
        let _ = sys::stop_listening(self.fd.as_fd());
        self.io.release();
    }
}

impl harness::Listener for UringListener {
    type Stream = UringStream;

    async fn accept(&mut self) -> io::Result<(UringStream, SocketAddr)> {
        let UringListener { fd, io } = self;
        let conn = poll_fn(|cx| {
            io.with_driver(fd, Kind::Listener, |driver, key| {
                driver.poll_accept(key, cx)
            })
        })
        .await?;
        let stream = UringStream::new(conn, false);
        let addr = sys::peer_addr(stream.fd.as_fd())?;
        harness::net::configure_stream(&stream)?;
        Ok((stream, addr))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::local_addr(self.fd.as_fd())
    }
}
