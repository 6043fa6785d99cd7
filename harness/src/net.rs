//! TCP as the harness sees it: listeners built identically for every runtime, and the
//! [`Listener`] / [`Stream`] traits adapters implement.
//!
//! Streams are `futures-io` `AsyncRead + AsyncWrite`, so generic code can use
//! `futures::AsyncReadExt` / `AsyncWriteExt`. Socket options are set here, through `socket2`,
//! never by an adapter: every runtime gets the same backlog, `SO_REUSEADDR` and `TCP_NODELAY`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// Listen backlog used for every listener the harness builds.
pub const LISTEN_BACKLOG: i32 = 4096;

/// A TCP listener adopted by a runtime.
pub trait Listener: Send + 'static {
    /// The connection type accepted.
    type Stream: Stream;
    /// Waits for the next connection.
    fn accept(
        &mut self,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send + '_;
    /// The address the listener is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A TCP connection driven by a runtime, through the `futures-io` traits only: half-closing
/// is `close()` (every runtime here shuts down the write side there, as `futures-io`
/// documents for sockets), so no raw descriptor is needed and a runtime whose streams expose
/// none (monoio's) fits without `unsafe`.
pub trait Stream: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static {}

impl<S> Stream for S where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static
{}

/// Binds a nonblocking listener with the harness's options (`SO_REUSEADDR`, backlog
/// [`LISTEN_BACKLOG`]). The caller hands it to [`crate::RuntimeHandle::adopt_listener`].
pub fn bind_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Sets a listener's send buffer (`SO_SNDBUF`), which the streams it accepts inherit (and
/// which turns off the send buffer's autotuning on them): a scenario that fills a peer's
/// buffers keeps them small, so what it must drain afterwards is small too.
pub fn set_send_buffer(listener: &std::net::TcpListener, bytes: usize) -> io::Result<()> {
    SockRef::from(listener).set_send_buffer_size(bytes)
}

/// Options every accepted or connected stream gets (`TCP_NODELAY`). Adapters call this on
/// each stream they hand out, so the socket setup is identical across runtimes.
pub fn configure_stream(stream: &impl AsFd) -> io::Result<()> {
    SockRef::from(stream).set_tcp_nodelay(true)
}

/// Shuts down the write side of a stream (the peer then reads end-of-stream).
pub fn shutdown_write(stream: &impl AsFd) -> io::Result<()> {
    SockRef::from(stream).shutdown(std::net::Shutdown::Write)
}

/// The peer address of a stream.
pub fn peer_addr(stream: &impl AsFd) -> io::Result<SocketAddr> {
    SockRef::from(stream)
        .peer_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "peer is not an IP socket"))
}

/// The most a TCP connection's kernel buffers can hold on this machine: the send buffer's
/// and the receive buffer's autotuning maximum (`net.ipv4.tcp_wmem` and `tcp_rmem`, third
/// field), in bytes; `None` where they cannot be read.
pub fn kernel_tcp_buffer_max() -> Option<usize> {
    let max_of = |path: &str| -> Option<usize> {
        let text = std::fs::read_to_string(path).ok()?;
        text.split_whitespace().nth(2)?.parse().ok()
    };
    Some(max_of("/proc/sys/net/ipv4/tcp_wmem")? + max_of("/proc/sys/net/ipv4/tcp_rmem")?)
}

/// Resident set size of this process, in bytes (from `/proc/self/statm`); `None` where it
/// cannot be read.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
