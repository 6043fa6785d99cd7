//! Misbehaving echo servers for the fault suite (`loopbench serve --fault KIND`, a hidden
//! flag): each breaks one promise of an echo server, so the tests can check that the load
//! generator and the orchestrator notice, mark the figure and exit non-zero.
//!
//! A thread per connection (like the `threads` baseline), std only. Kinds:
//! - `black-hole`: accepts and never reads;
//! - `half-echo`: echoes the first half of every read only;
//! - `corrupt`: echoes everything, but flips one byte in every 1,000;
//! - `reset[:DELAY]`: resets each connection (`SO_LINGER` 0) DELAY after accepting it
//!   (default 300 ms);
//! - `die[:DELAY]`: the whole process exits with status 1 DELAY after it accepts its first
//!   connection (default 1 s): mid-run however late the load generator connects;
//! - `slow-reader[:DELAY]`: sleeps DELAY before every read (default 10 ms): correct, slow.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One way of misbehaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Accepts, never reads.
    BlackHole,
    /// Echoes half of each read.
    HalfEcho,
    /// Flips one byte in 1,000.
    Corrupt,
    /// Resets each connection this long after accepting it.
    Reset(Duration),
    /// Exits (status 1) this long after the first connection is accepted.
    Die(Duration),
    /// Sleeps this long before each read.
    SlowReader(Duration),
}

/// The kinds, for messages.
pub const KINDS: &str =
    "black-hole, half-echo, corrupt, reset[:DELAY], die[:DELAY], slow-reader[:DELAY]";

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, param) = match text.split_once(':') {
            Some((k, p)) => (k, Some(p)),
            None => (text, None),
        };
        let delay = |default: Duration| -> Result<Duration, String> {
            match param {
                None => Ok(default),
                Some(p) => {
                    harness::units::parse_duration(p, Duration::ZERO..=Duration::from_secs(3600))
                }
            }
        };
        let fault = match kind {
            "black-hole" => Fault::BlackHole,
            "half-echo" => Fault::HalfEcho,
            "corrupt" => Fault::Corrupt,
            "reset" => Fault::Reset(delay(Duration::from_millis(300))?),
            "die" => Fault::Die(delay(Duration::from_secs(1))?),
            "slow-reader" => Fault::SlowReader(delay(Duration::from_millis(10))?),
            _ => return Err(format!("unknown fault '{text}'; valid: {KINDS}")),
        };
        if param.is_some() && matches!(fault, Fault::BlackHole | Fault::HalfEcho | Fault::Corrupt) {
            return Err(format!("fault '{kind}' takes no parameter"));
        }
        Ok(fault)
    }
}

/// Serves `fault` on `listener` until the process ends (or dies, for [`Fault::Die`]).
pub fn serve(fault: Fault, listener: TcpListener, buffer: usize) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    let echoed = Arc::new(AtomicU64::new(0));
    let mut first = true;
    loop {
        let (stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if let (Fault::Die(after), true) = (fault, first) {
            // Counted from the first connection, not from listening: a load generator that
            // starts late on a busy machine still sees the server die mid-run.
            std::thread::spawn(move || {
                std::thread::sleep(after);
                eprintln!("fault server: dying as asked");
                std::process::exit(1);
            });
        }
        first = false;
        let echoed = Arc::clone(&echoed);
        let _ = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || connection(fault, stream, buffer, &echoed));
    }
}

fn connection(fault: Fault, mut stream: TcpStream, buffer: usize, echoed: &AtomicU64) {
    let _ = harness::net::configure_stream(&stream);
    let accepted = Instant::now();
    let mut buf = vec![0u8; buffer.max(2)];
    loop {
        match fault {
            Fault::BlackHole => {
                // Hold the connection open without reading until the peer goes away.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            Fault::SlowReader(d) => std::thread::sleep(d),
            Fault::Reset(after) => {
                let left = after.saturating_sub(accepted.elapsed());
                if left.is_zero() {
                    let _ = rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO));
                    return;
                }
                let _ = stream.set_read_timeout(Some(left));
            }
            _ => {}
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let out = match fault {
            Fault::HalfEcho => &buf[..n / 2],
            Fault::Corrupt => {
                let base = echoed.fetch_add(n as u64, Ordering::Relaxed);
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    if (base + i as u64) % 1000 == 999 {
                        *b ^= 0x01;
                    }
                }
                &buf[..n]
            }
            _ => &buf[..n],
        };
        if stream.write_all(out).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        assert_eq!("black-hole".parse(), Ok(Fault::BlackHole));
        assert_eq!(
            "die:250ms".parse(),
            Ok(Fault::Die(Duration::from_millis(250)))
        );
        assert_eq!(
            "reset".parse(),
            Ok(Fault::Reset(Duration::from_millis(300)))
        );
        assert!("corrupt:3".parse::<Fault>().is_err());
        assert!("melt"
            .parse::<Fault>()
            .unwrap_err()
            .contains("valid: black-hole"));
    }
}
