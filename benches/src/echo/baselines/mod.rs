//! The non-async baselines, selectable like runtime ids by `serve` and `bench` (never by
//! conformance): the seed's `blocking`, `threads` and `threadpool` servers, `epoll-floor`,
//! the leanest epoll echo loop every runtime is measured against, and `uring-floor`, its
//! io_uring counterpart.

use std::io;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use harness::RuntimeInfo;

pub mod blocking;
pub mod epoll_floor;
pub mod threadpool;
pub mod threads;
pub mod uring_floor;

/// Ids of the baselines, in display order.
pub const IDS: [&str; 5] = [
    blocking::ID,
    threads::ID,
    threadpool::ID,
    epoll_floor::ID,
    uring_floor::ID,
];

/// Whether `id` names a baseline.
pub fn is_baseline(id: &str) -> bool {
    IDS.contains(&id)
}

/// Serves echo on `listener` with baseline `id` until the process ends, with a read buffer
/// of `buffer` bytes per connection (the policy every server shares; the io_uring floor's
/// provided buffers are `buffer` bytes each); `None` when `id` is not a baseline.
pub fn serve(id: &str, listener: TcpListener, buffer: usize) -> Option<io::Result<()>> {
    Some(match id {
        blocking::ID => blocking::serve(listener, buffer),
        threads::ID => threads::serve(listener, buffer),
        threadpool::ID => threadpool::serve(listener, buffer),
        epoll_floor::ID => epoll_floor::serve(listener, buffer),
        uring_floor::ID => uring_floor::serve(listener, buffer),
        _ => return None,
    })
}

/// Checks, before the server says it is listening, that baseline `id` can run here: the
/// io_uring floor fails with one clear reason where io_uring is unavailable.
pub fn preflight(id: &str) -> io::Result<()> {
    match id {
        uring_floor::ID => uring_floor::preflight(),
        _ => Ok(()),
    }
}

/// How a baseline describes itself in results, like a runtime's `RuntimeInfo`.
pub fn info(id: &str) -> Option<RuntimeInfo> {
    let (flavour, workers, note) = match id {
        blocking::ID => (
            "blocking, one client at a time",
            1,
            "seed 000's first server: later clients wait in the backlog",
        ),
        threads::ID => (
            "blocking, a thread per connection",
            0,
            "64 KiB thread stacks",
        ),
        threadpool::ID => (
            "blocking, fixed pool of 5 threads",
            threadpool::POOL_SIZE,
            "seed 000's ThreadPool(5): starves beyond 5 connections, by design",
        ),
        epoll_floor::ID => (
            "level-triggered epoll, one thread, no tasks",
            1,
            "the floor: no runtime can do less work per message",
        ),
        uring_floor::ID => (
            "io_uring, one thread, no tasks: multishot accept and receive, provided buffers",
            1,
            "the io_uring floor: one submit_and_wait per iteration, received buffers sent back without a copy",
        ),
        _ => return None,
    };
    Some(RuntimeInfo {
        id: id.to_string(),
        flavour: flavour.to_string(),
        worker_threads: workers,
        crate_name: "loopbench-benches".into(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        notes: vec![format!("baseline: {note}")],
    })
}

/// Echoes on a blocking stream until end-of-stream or an error (the blocking baselines).
fn echo_blocking(mut stream: TcpStream, buffer: usize) {
    let _ = harness::net::configure_stream(&stream);
    let mut buf = vec![0u8; buffer];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Accepts the next connection on a blocking listener, riding out transient errors
/// (too many open files, aborted handshakes) with a short pause.
fn accept_blocking(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept() {
            Ok((stream, _)) => return stream,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// What the floors' tests check of a server with 2 KiB buffers at `addr`: messages from
/// one byte to many buffers (a 12 MB one, read only after 300 ms through a small receive
/// buffer, fills the socket buffers both ways and pushes the server's writes back) come
/// back whole and in order, and what was sent before the peer's end is echoed before the
/// server closes the connection.
#[cfg(test)]
pub(crate) fn assert_echoes_in_order_and_before_the_end(addr: std::net::SocketAddr) {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // A small receive buffer, so that an echo this side does not read soon pushes back.
    rustix::net::sockopt::set_socket_recv_buffer_size(&c, 64 * 1024).unwrap();
    for size in [1usize, 2048, 2049, 16 * 1024, 100_000, 12_000_000] {
        let msg: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        let mut w = c.try_clone().unwrap();
        let send = msg.clone();
        let writer = std::thread::spawn(move || w.write_all(&send).unwrap());
        if size > 1_000_000 {
            // Not reading for a while: the echo fills this side's buffers, so the server's
            // writes are pushed back and what it holds must wait for writability.
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let mut back = vec![0u8; size];
        c.read_exact(&mut back).unwrap();
        writer.join().unwrap();
        assert!(back == msg, "{size} bytes came back changed");
    }
    c.write_all(b"last words").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"last words");
}
