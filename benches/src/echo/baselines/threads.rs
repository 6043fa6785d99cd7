//! `threads`: a thread per connection (seed 000's second server, done right: the thread
//! serves the connection until it closes).

use std::io;
use std::net::TcpListener;

/// Baseline id.
pub const ID: &str = "threads";

/// Stack size of each connection thread; echo needs little, and 10,000 threads must fit.
const STACK_SIZE: usize = 64 * 1024;

/// Accepts forever, spawning a thread per connection; a connection whose thread cannot be
/// created is closed (the client sees it as a reset).
pub fn serve(listener: TcpListener, buffer: usize) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    loop {
        let stream = super::accept_blocking(&listener);
        let _ = std::thread::Builder::new()
            .name("echo-conn".into())
            .stack_size(STACK_SIZE)
            .spawn(move || super::echo_blocking(stream, buffer));
    }
}
