//! `threadpool`: a fixed pool of 5 threads, as seed 000's `ThreadPool(5)`. A worker serves
//! a connection until it closes, so beyond 5 connections the rest wait, accepted but
//! unserved: the benchmark reports that starvation (timeouts) as data.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Baseline id.
pub const ID: &str = "threadpool";

/// Worker threads, as the seed's `ThreadPool(5)`.
pub const POOL_SIZE: usize = 5;

/// Accepts forever, queueing connections for the pool.
pub fn serve(listener: TcpListener, buffer: usize) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    let (tx, rx) = mpsc::channel::<TcpStream>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..POOL_SIZE {
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("echo-pool-{i}"))
            .spawn(move || loop {
                let next = rx.lock().map(|r| r.recv());
                match next {
                    Ok(Ok(stream)) => super::echo_blocking(stream, buffer),
                    _ => return,
                }
            })?;
    }
    loop {
        let stream = super::accept_blocking(&listener);
        if tx.send(stream).is_err() {
            return Err(io::Error::other("threadpool workers are gone"));
        }
    }
}
