//! The non-async baselines, selectable like runtime ids by `serve` and `bench` (never by
//! conformance): the seed's `blocking`, `threads` and `threadpool` servers, and
//! `epoll-floor`, the leanest epoll echo loop every runtime is measured against.

use std::io;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use harness::RuntimeInfo;

pub mod blocking;
pub mod epoll_floor;
pub mod threadpool;
pub mod threads;

/// Ids of the baselines, in display order.
pub const IDS: [&str; 4] = [blocking::ID, threads::ID, threadpool::ID, epoll_floor::ID];

/// Whether `id` names a baseline.
pub fn is_baseline(id: &str) -> bool {
    IDS.contains(&id)
}

/// Serves echo on `listener` with baseline `id` until the process ends, with a read buffer
/// of `buffer` bytes per connection (the policy every server shares); `None` when `id` is
/// not a baseline.
pub fn serve(id: &str, listener: TcpListener, buffer: usize) -> Option<io::Result<()>> {
    Some(match id {
        blocking::ID => blocking::serve(listener, buffer),
        threads::ID => threads::serve(listener, buffer),
        threadpool::ID => threadpool::serve(listener, buffer),
        epoll_floor::ID => epoll_floor::serve(listener, buffer),
        _ => return None,
    })
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
