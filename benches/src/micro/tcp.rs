//! Loopback TCP: echo round trips on one connection, and the rate of connect + accept.
//! Listeners come from [`harness::net::bind_listener`] so every runtime gets the same socket
//! options; binding and the first connect are setup, outside the timed part. Client and
//! server run on one runtime over loopback, where readiness follows each write at once, so
//! on a single-threaded runtime both workloads repeat their instruction counts (measured:
//! within 0.04% under callgrind on evloop, tokio-ct and smol).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use harness::{Listener, Runtime, RuntimeHandle};

use super::{on_runtime, task_failed, Workload, WorkloadDef};

/// Size of one echo message.
const MESSAGE: usize = 64;

/// A loopback address with a port the kernel picks.
fn any_loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Binds a listener with the harness's options and adopts it into the runtime of `handle`.
fn listen<H: RuntimeHandle>(handle: &H) -> io::Result<(H::Listener, SocketAddr)> {
    let listener = handle.adopt_listener(harness::net::bind_listener(any_loopback())?)?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// A client task sends a small message and reads its echo, one at a time, on one
/// connection to an echo task on the same runtime.
pub struct TcpEcho;

impl Workload for TcpEcho {
    const DEF: WorkloadDef = WorkloadDef {
        name: "tcp_echo",
        description: "64-byte echo round trips on one loopback connection between two tasks",
        iteration: "one message written and its echo read back",
        deterministic: true,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let (mut listener, addr) = listen(&handle)?;
            let server = handle.spawn(async move {
                let (mut stream, _) = listener.accept().await?;
                let mut buf = [0u8; MESSAGE];
                let mut echoed = 0u64;
                loop {
                    let n = stream.read(&mut buf).await?;
                    if n == 0 {
                        return io::Result::Ok(echoed);
                    }
                    stream.write_all(&buf[..n]).await?;
                    stream.flush().await?;
                    echoed += n as u64;
                }
            });
            let mut client = handle.connect(addr).await?;
            let mut message = [0u8; MESSAGE];
            let mut echo = [0u8; MESSAGE];
            let start = Instant::now();
            for i in 0..iters {
                message[..8].copy_from_slice(&i.to_le_bytes());
                client.write_all(&message).await?;
                client.flush().await?;
                client.read_exact(&mut echo).await?;
                assert_eq!(echo, message, "echo differs from the message");
            }
            let elapsed = start.elapsed();
            drop(client);
            let echoed = server.await.map_err(task_failed)??;
            assert_eq!(echoed, iters * MESSAGE as u64, "bytes lost");
            Ok(elapsed)
        })
    }
}

/// A client task opens connections one after another; an accept task on the same runtime
/// accepts each, closes it and reports it before the next connect.
pub struct AcceptRate;

impl Workload for AcceptRate {
    const DEF: WorkloadDef = WorkloadDef {
        name: "accept_rate",
        description: "connect to a loopback listener and accept, one connection at a time",
        iteration: "one connection opened, accepted and closed",
        deterministic: true,
    };

    fn run<R: Runtime>(rt: &R, iters: u64) -> io::Result<Duration> {
        let handle = rt.handle();
        on_runtime(rt, async move {
            let (mut listener, addr) = listen(&handle)?;
            let (accepted_tx, accepted_rx) = async_channel::bounded::<()>(1);
            let acceptor = handle.spawn(async move {
                for _ in 0..iters {
                    // The server closes first, so TIME_WAIT stays on the listener's side and
                    // the client's ephemeral ports are free again at once.
                    drop(listener.accept().await?);
                    if accepted_tx.send(()).await.is_err() {
                        break;
                    }
                }
                io::Result::Ok(())
            });
            let mut accepted = 0;
            let start = Instant::now();
            for _ in 0..iters {
                let stream = handle.connect(addr).await?;
                if accepted_rx.recv().await.is_err() {
                    break;
                }
                drop(stream);
                accepted += 1;
            }
            let elapsed = start.elapsed();
            acceptor.await.map_err(task_failed)??;
            assert_eq!(accepted, iters, "connections not accepted");
            Ok(elapsed)
        })
    }
}
