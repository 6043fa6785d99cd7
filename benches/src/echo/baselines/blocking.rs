//! `blocking`: one client at a time, as seed 000's first server; the others wait in the
//! listen backlog until the client being served closes.

use std::io;
use std::net::TcpListener;

/// Baseline id.
pub const ID: &str = "blocking";

/// Serves one connection at a time, forever.
pub fn serve(listener: TcpListener, buffer: usize) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    loop {
        super::echo_blocking(super::accept_blocking(&listener), buffer);
    }
}
