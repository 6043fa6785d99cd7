//! Streams and servers (rules N1–N6): an echo server on the runtime's own TCP types,
//! listeners built by the harness so every runtime gets the same socket options.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use harness::net::bind_listener;
use harness::{Listener, Runtime, RuntimeHandle, TaskHandle};

use crate::support::{eventually, on_runtime};
use crate::Observation;

/// Echoes everything on `s` until end-of-stream, then closes.
async fn echo<S: harness::Stream>(mut s: S) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // futures-io streams may buffer writes (compio's compat stream does):
                // flush before waiting for the peer.
                if s.write_all(&buf[..n]).await.is_err() || s.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = s.close().await;
}

/// Starts an echo server; returns its address and the accept-loop task.
fn echo_server<H: RuntimeHandle>(h: &H) -> std::io::Result<(SocketAddr, H::JoinHandle<()>)> {
    let std_listener = bind_listener("127.0.0.1:0".parse().expect("addr"))?;
    let mut listener = h.adopt_listener(std_listener)?;
    let addr = listener.local_addr()?;
    let h2 = h.clone();
    let task = h.spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            h2.spawn(echo(s)).detach();
        }
    });
    Ok((addr, task))
}

/// Unwraps a setup step or returns a deviation naming it.
macro_rules! try_io {
    ($e:expr, $what:literal) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Observation::deviates(format!("{}: {e}", $what), "no I/O error"),
        }
    };
}

scenario! {
    /// N1: an echo server returns every byte, in order.
    EchoRoundtrip = "net.echo_roundtrip", "net", "N1",
    "256 KiB through an echo server come back identical, in order",
    timing: false, run: echo_roundtrip
}

fn echo_roundtrip<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (addr, _server) = try_io!(echo_server(&h), "server");
        let c = try_io!(h.connect(addr).await, "connect");
        let data: Vec<u8> = (0..256 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
        let (mut rd, mut wr) = c.split();
        let send = async {
            let r = wr.write_all(&data).await;
            let _ = wr.flush().await;
            r
        };
        let mut back = vec![0u8; data.len()];
        let (sent, got) = futures::join!(send, rd.read_exact(&mut back));
        try_io!(sent, "write");
        try_io!(got, "read");
        Observation::expect_eq(back == data, true)
    })
}

scenario! {
    /// N2: many connections are served concurrently by one loop.
    ConcurrentClients = "net.concurrent_clients", "net", "N2",
    "50 clients connect first, then each echoes a message: all are served concurrently",
    timing: false, run: concurrent_clients
}

fn concurrent_clients<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (addr, _server) = try_io!(echo_server(&h), "server");
        let mut conns = Vec::new();
        for _ in 0..50 {
            conns.push(try_io!(h.connect(addr).await, "connect"));
        }
        let ok = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                let ok = ok.clone();
                h.spawn(async move {
                    let msg = format!("hello {i:03}");
                    let mut back = vec![0u8; msg.len()];
                    if c.write_all(msg.as_bytes()).await.is_ok()
                        && c.flush().await.is_ok()
                        && c.read_exact(&mut back).await.is_ok()
                        && back == msg.as_bytes()
                    {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        Observation::expect_eq(ok.load(Ordering::SeqCst), 50)
    })
}

scenario! {
    /// N3: a read after the peer's write-shutdown is end-of-stream; the server can still write.
    HalfClose = "net.half_close", "net", "N3",
    "client shuts its write side: the server reads EOF, then still sends its reply",
    timing: false, run: half_close
}

fn half_close<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let addr = try_io!(listener.local_addr(), "addr");
        let server = h.spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let mut got = Vec::new();
            s.read_to_end(&mut got).await?;
            s.write_all(format!("got {} bytes, bye", got.len()).as_bytes())
                .await?;
            s.close().await?;
            Ok::<_, std::io::Error>(got)
        });
        let mut c = try_io!(h.connect(addr).await, "connect");
        try_io!(c.write_all(b"request").await, "write");
        try_io!(c.flush().await, "flush");
        try_io!(h.shutdown_write(&mut c).await, "shutdown (write side)");
        let mut reply = String::new();
        try_io!(c.read_to_string(&mut reply).await, "read");
        let got = server.await.ok().and_then(|r| r.ok());
        Observation::expect_eq(
            (got, reply),
            (Some(b"request".to_vec()), "got 7 bytes, bye".to_string()),
        )
    })
}

scenario! {
    /// N4: a writer whose peer does not read is suspended; memory stays bounded.
    Backpressure = "net.backpressure", "net", "N4",
    "writing to a peer that does not read stalls below 64 MiB; reading then drains it all",
    timing: false, run: backpressure
}

fn backpressure<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        const LIMIT: usize = 64 << 20;
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let addr = try_io!(listener.local_addr(), "addr");
        let written = Arc::new(AtomicUsize::new(0));
        let w = written.clone();
        let writer = h.spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let chunk = vec![b'x'; 64 * 1024];
            while w.load(Ordering::SeqCst) < LIMIT {
                s.write_all(&chunk).await?;
                w.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            s.close().await
        });
        let mut c = try_io!(h.connect(addr).await, "connect");
        // Wait until the writer stops making progress.
        let mut last = usize::MAX;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            h.sleep(Duration::from_millis(30)).await;
            let now = written.load(Ordering::SeqCst);
            if now == last {
                break;
            }
            last = now;
        }
        let stalled_at = written.load(Ordering::SeqCst);
        let mut sink = Vec::new();
        try_io!(c.read_to_end(&mut sink).await, "drain");
        let done = writer.await.ok().map(|r| r.is_ok());
        let obs = if stalled_at < LIMIT && sink.len() == LIMIT && done == Some(true) {
            Observation::pass()
        } else {
            Observation::deviates(
                format!("stalled at {stalled_at} bytes, drained {}", sink.len()),
                "a stall below 64 MiB, then all 64 MiB drained",
            )
        };
        obs.measure("bytes_buffered_at_stall", stalled_at as f64, "bytes")
    })
}

scenario! {
    /// N5: closing the server stops accepting; open connections can finish.
    GracefulClose = "net.graceful_close", "net", "N5",
    "after the listener is closed new connects fail, an open connection still echoes",
    timing: false, run: graceful_close
}

fn graceful_close<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let addr = try_io!(listener.local_addr(), "addr");
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
        let h2 = h.clone();
        let server = h.spawn(async move {
            let mut stop = stop_rx;
            loop {
                let accept = Box::pin(listener.accept());
                match futures::future::select(accept, &mut stop).await {
                    futures::future::Either::Left((Ok((s, _)), _)) => h2.spawn(echo(s)).detach(),
                    _ => break,
                }
            }
            // The listener is dropped here: the server is closed.
        });
        let mut open = try_io!(h.connect(addr).await, "connect");
        try_io!(open.write_all(b"ping").await, "write");
        try_io!(open.flush().await, "flush");
        let mut buf = [0u8; 4];
        try_io!(open.read_exact(&mut buf).await, "read");
        let _ = stop_tx.send(());
        let _ = server.await;
        let refused = h.connect(addr).await.is_err();
        try_io!(open.write_all(b"pong").await, "write after close");
        try_io!(open.flush().await, "flush after close");
        try_io!(open.read_exact(&mut buf).await, "read after close");
        Observation::expect_eq((refused, &buf), (true, b"pong"))
    })
}

scenario! {
    /// N6: connecting to a port with no listener fails with an error, not a hang.
    ConnectRefused = "net.connect_refused", "net", "N6",
    "connect to a closed port fails with an error within 2 s",
    timing: false, run: connect_refused
}

fn connect_refused<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let addr = {
            let l = try_io!(std::net::TcpListener::bind("127.0.0.1:0"), "bind");
            try_io!(l.local_addr(), "addr")
        };
        let done = Arc::new(AtomicUsize::new(0));
        let (d, h2) = (done.clone(), h.clone());
        let t = h.spawn(async move {
            let r = h2.connect(addr).await;
            d.store(1, Ordering::SeqCst);
            r.map(|_| ()).map_err(|e| e.kind())
        });
        let d = done.clone();
        if !eventually(&h, Duration::from_secs(2), || d.load(Ordering::SeqCst) == 1).await {
            return Observation::deviates("connect still pending after 2 s", "a prompt error");
        }
        match t.await {
            Ok(Err(_)) => Observation::pass(),
            other => Observation::deviates(format!("{other:?}"), "an error"),
        }
    })
}
