//! Streams and servers (rules N1–N6): an echo server on the runtime's own TCP types,
//! listeners built by the harness so every runtime gets the same socket options. Every wait
//! is bounded ([`within`]), so a broken runtime yields a `fail` naming what never happened.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use harness::net::bind_listener;
use harness::{Listener, Runtime, RuntimeHandle, TaskHandle};
use serde_json::json;

use crate::support::{on_runtime, within};
use crate::Observation;

/// How long any single network step may take before the scenario calls it missing.
const STEP: Duration = Duration::from_secs(3);

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

/// Unwraps a bounded step: a deviation naming it when it did not finish in time.
macro_rules! in_time {
    ($h:expr, $fut:expr, $what:literal) => {
        match within($h, STEP, $fut).await {
            Some(v) => v,
            None => {
                return Observation::deviates(
                    format!("{} did not finish within {} s", $what, STEP.as_secs()),
                    format!("{} finishes", $what),
                )
            }
        }
    };
}

scenario! {
    /// N1: an echo server returns every byte, in order.
    EchoRoundtrip = "net.echo_roundtrip", "net", "N1",
    "4 MiB written at once through an echo server come back identical, in order",
    timing: false, kills: ["partial_write_lost"], run: echo_roundtrip
}

fn echo_roundtrip<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (addr, _server) = try_io!(echo_server(&h), "server");
        let c = try_io!(in_time!(&h, h.connect(addr), "connect"), "connect");
        // More than the socket buffers take at once, so writes are partial.
        let data: Vec<u8> = (0..4 << 20u32).map(|i| (i * 7 % 251) as u8).collect();
        let (mut rd, mut wr) = c.split();
        let send = async {
            let r = wr.write_all(&data).await;
            let _ = wr.flush().await;
            r
        };
        let mut back = Vec::with_capacity(data.len());
        let receive = async {
            let mut buf = vec![0u8; 64 * 1024];
            while back.len() < data.len() {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => back.extend_from_slice(&buf[..n]),
                }
            }
        };
        let both = async { futures::join!(send, receive).0 };
        let sent = within(&h, STEP, both).await;
        let wrote = matches!(sent, Some(Ok(())));
        let first_difference = back.iter().zip(&data).position(|(a, b)| a != b);
        Observation::check(
            json!({
                "write_completed": wrote,
                "bytes_back": back.len(),
                "first_wrong_byte": first_difference,
            }),
            json!({ "write_completed": true, "bytes_back": data.len(), "first_wrong_byte": null }),
        )
    })
}

scenario! {
    /// N2: many connections are served concurrently by one loop.
    ConcurrentClients = "net.concurrent_clients", "net", "N2",
    "50 clients connect first, then each echoes a message: all are served concurrently",
    timing: false, kills: ["events_truncated"], run: concurrent_clients
}

fn concurrent_clients<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (addr, _server) = try_io!(echo_server(&h), "server");
        let mut conns = Vec::new();
        for _ in 0..50 {
            conns.push(try_io!(in_time!(&h, h.connect(addr), "connect"), "connect"));
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
        let _ = within(&h, STEP, async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
        Observation::check(
            json!({ "clients_served": ok.load(Ordering::SeqCst) }),
            json!({ "clients_served": 50 }),
        )
    })
}

scenario! {
    /// N2: connections waiting in the backlog before the server accepts are all served.
    AcceptBacklog = "net.accept_backlog", "net", "N2",
    "100 connections queued in the backlog before the first accept: the server accepts and answers all",
    timing: false, kills: ["accept_once_per_edge"], run: accept_backlog
}

fn accept_backlog<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        let addr = try_io!(std_listener.local_addr(), "addr");
        // Plain blocking clients, connected (by the kernel) before the runtime sees the
        // listener.
        let clients = try_io!(
            (0..100)
                .map(|_| std::net::TcpStream::connect(addr))
                .collect::<std::io::Result<Vec<_>>>(),
            "connect"
        );
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let h2 = h.clone();
        let server = h.spawn(async move {
            let mut served = 0usize;
            while served < 100 {
                let Ok((mut s, _)) = listener.accept().await else {
                    break;
                };
                h2.spawn(async move {
                    let _ = s.write_all(b"ok").await;
                    let _ = s.close().await;
                })
                .detach();
                served += 1;
            }
            served
        });
        let accepted = within(&h, STEP, server).await;
        // Each client reads its answer (blocking, with a time limit), off the loop.
        let answered = h
            .spawn_blocking(move || {
                clients
                    .into_iter()
                    .filter(|c| {
                        use std::io::Read;
                        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 2];
                        (&*c).read_exact(&mut buf).is_ok() && &buf == b"ok"
                    })
                    .count()
            })
            .await
            .unwrap_or(0);
        let accepted = match accepted {
            Some(Ok(n)) => n,
            _ => 0,
        };
        Observation::check(
            json!({ "accepted": accepted, "answered": answered }),
            json!({ "accepted": 100, "answered": 100 }),
        )
    })
}

scenario! {
    /// N3: EOF after the peer's write-shutdown; both sides can still use the other half.
    HalfClose = "net.half_close", "net", "N3",
    "client shuts its write side (the runtime's half-close): the server reads EOF, replies, shuts its own write side while the connection stays open; the client reads the reply and EOF",
    timing: false, kills: ["half_close_ignored"], run: half_close
}

fn half_close<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let addr = try_io!(listener.local_addr(), "addr");
        let (done_tx, done_rx) = futures::channel::oneshot::channel::<()>();
        let h2 = h.clone();
        let server = h.spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let mut got = Vec::new();
            s.read_to_end(&mut got).await?;
            s.write_all(format!("got {} bytes, bye", got.len()).as_bytes())
                .await?;
            s.flush().await?;
            // Half-close: the write side only. The connection stays open until the client
            // says it is done.
            h2.shutdown_write(&mut s).await?;
            let _ = done_rx.await;
            Ok::<_, std::io::Error>(got)
        });
        let mut c = try_io!(in_time!(&h, h.connect(addr), "connect"), "connect");
        try_io!(c.write_all(b"request").await, "write");
        try_io!(c.flush().await, "flush");
        try_io!(h.shutdown_write(&mut c).await, "shutdown (write side)");
        let mut reply = Vec::new();
        let read = within(&h, STEP, c.read_to_end(&mut reply)).await;
        let reply_then_eof = matches!(read, Some(Ok(_)));
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let _ = done_tx.send(());
        let got = match within(&h, STEP, server).await {
            Some(Ok(Ok(got))) => Some(String::from_utf8_lossy(&got).into_owned()),
            _ => None,
        };
        Observation::check(
            json!({ "server_read_until_eof": got, "client_got": reply, "client_saw_eof": reply_then_eof }),
            json!({ "server_read_until_eof": "request", "client_got": "got 7 bytes, bye", "client_saw_eof": true }),
        )
    })
}

scenario! {
    /// N3 probe: what `futures-io`'s `close` does on the runtime's own stream.
    CloseShutsWrite = "net.close_shuts_write", "net", "N3",
    "the server writes a reply and calls close() on its stream but keeps it open: the client reads the reply, then end-of-stream",
    timing: false, kills: ["half_close_ignored"], run: close_shuts_write
}

fn close_shuts_write<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let addr = try_io!(listener.local_addr(), "addr");
        let (done_tx, done_rx) = futures::channel::oneshot::channel::<()>();
        let server = h.spawn(async move {
            let (mut s, _) = listener.accept().await?;
            s.write_all(b"reply").await?;
            s.close().await?;
            // The stream stays open (not dropped) until the client is done.
            let _ = done_rx.await;
            Ok::<_, std::io::Error>(())
        });
        let mut c = try_io!(in_time!(&h, h.connect(addr), "connect"), "connect");
        let mut got = Vec::new();
        let read = within(&h, STEP, c.read_to_end(&mut got)).await;
        let _ = done_tx.send(());
        let _ = within(&h, STEP, server).await;
        Observation::check(
            json!({ "client_got": String::from_utf8_lossy(&got), "client_saw_eof": matches!(read, Some(Ok(_))) }),
            json!({ "client_got": "reply", "client_saw_eof": true }),
        )
    })
}

scenario! {
    /// N3: end-of-stream stays end-of-stream, also right after a short read.
    EofAfterShortRead = "net.eof_after_short_read", "net", "N3",
    "the peer writes 5 bytes and shuts down at once: reads return the 5 bytes, then EOF, then EOF again",
    timing: false, kills: ["eof_not_sticky"], run: eof_after_short_read
}

fn eof_after_short_read<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let addr = try_io!(listener.local_addr(), "addr");
        let (go_tx, go_rx) = futures::channel::oneshot::channel::<()>();
        let h2 = h.clone();
        let writer = h.spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let _ = go_rx.await;
            // Data and end-of-stream in one step, so both arrive together (the runtime's own
            // half-close: this scenario checks the reader).
            s.write_all(b"hello").await?;
            s.flush().await?;
            h2.shutdown_write(&mut s).await?;
            Ok::<_, std::io::Error>(s)
        });
        let mut c = try_io!(in_time!(&h, h.connect(addr), "connect"), "connect");
        let mut buf = [0u8; 64];
        // A first read that waits, so the data and the FIN arrive while the reader waits.
        let reading = c.read(&mut buf);
        let _ = go_tx.send(());
        let first = within(&h, STEP, reading).await;
        let mut reads = vec![match first {
            Some(Ok(n)) => json!(n),
            Some(Err(e)) => json!(e.to_string()),
            None => json!("no data within the limit"),
        }];
        for _ in 0..2 {
            reads.push(match within(&h, STEP, c.read(&mut buf)).await {
                Some(Ok(n)) => json!(n),
                Some(Err(e)) => json!(e.to_string()),
                None => json!("no end-of-stream within the limit"),
            });
        }
        let _keep_open = within(&h, STEP, writer).await;
        Observation::check(json!({ "reads": reads }), json!({ "reads": [5, 0, 0] }))
    })
}

scenario! {
    /// N4: a writer whose peer does not read is suspended; memory stays bounded.
    Backpressure = "net.backpressure", "net", "N4",
    "writing to a peer that does not read stalls within the kernel's TCP buffer limits and the process grows by < 16 MiB; reading then resumes the writer and drains every byte",
    timing: false, kills: ["no_backpressure"], run: backpressure
}

/// Bytes the writer of [`backpressure`] is let write after its stall, once the reader reads.
const AFTER_STALL: usize = 512 << 10;

/// The send buffer asked for on the writing stream of [`backpressure`] (Linux doubles it).
const SEND_BUFFER: usize = 128 << 10;

fn backpressure<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        const CHUNK: usize = 64 * 1024;
        // What the kernel can hold: the send and receive buffers at their autotuning maximum,
        // plus the chunk in flight (8 MiB where the limits cannot be read).
        let kernel_bound = harness::net::kernel_tcp_buffer_max().unwrap_or(8 << 20) + CHUNK;
        // Bounded by bytes: a writer that is never suspended stops one chunk past what the
        // kernel can hold (enough to show the missing back-pressure), and after the stall the
        // writer is let write only AFTER_STALL more, so the drain is small on every runtime.
        let cap = kernel_bound + CHUNK;
        let std_listener = try_io!(bind_listener("127.0.0.1:0".parse().expect("addr")), "bind");
        // A small send buffer on the accepted (writing) stream, the same for every runtime:
        // the stall comes sooner and less is buffered for the drain (compio's futures-io
        // compat reads 8 KiB per io_uring round trip).
        try_io!(
            harness::net::set_send_buffer(&std_listener, SEND_BUFFER),
            "set SO_SNDBUF"
        );
        let mut listener = try_io!(h.adopt_listener(std_listener), "adopt");
        let addr = try_io!(listener.local_addr(), "addr");
        let written = Arc::new(AtomicUsize::new(0));
        let target = Arc::new(AtomicUsize::new(cap));
        let (w, t) = (written.clone(), target.clone());
        let writer = h.spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let chunk = vec![b'x'; CHUNK];
            while w.load(Ordering::SeqCst) < t.load(Ordering::SeqCst) {
                s.write_all(&chunk).await?;
                w.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            s.close().await
        });
        let rss_before = harness::net::resident_bytes();
        let mut c = try_io!(in_time!(&h, h.connect(addr), "connect"), "connect");
        // Wait until the writer stops making progress (or reaches its cap).
        let mut last = usize::MAX;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            h.sleep(Duration::from_millis(30)).await;
            let now = written.load(Ordering::SeqCst);
            if now == last || now >= cap {
                break;
            }
            last = now;
        }
        let stalled_at = written.load(Ordering::SeqCst);
        let rss_growth = match (rss_before, harness::net::resident_bytes()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        };
        target.store((stalled_at + AFTER_STALL).min(cap), Ordering::SeqCst);
        let mut sink = Vec::new();
        let drained = within(&h, Duration::from_secs(10), c.read_to_end(&mut sink)).await;
        let done = within(&h, STEP, writer)
            .await
            .and_then(|r| r.ok())
            .map(|r| r.is_ok());
        let total = written.load(Ordering::SeqCst);
        Observation::check(
            json!({
                "stalled_within_kernel_buffers": stalled_at <= kernel_bound,
                "process_grew_by_more_than_16_mib": rss_growth > 16 << 20,
                "writer_resumed_when_read": total > stalled_at,
                "drained_every_byte": matches!(drained, Some(Ok(_)))
                    && sink.len() == total
                    && sink.iter().all(|&b| b == b'x'),
                "writer_finished": done == Some(true),
            }),
            json!({
                "stalled_within_kernel_buffers": true,
                "process_grew_by_more_than_16_mib": false,
                "writer_resumed_when_read": true,
                "drained_every_byte": true,
                "writer_finished": true,
            }),
        )
        .measure("bytes_accepted_at_stall", stalled_at as f64, "bytes")
        .measure("kernel_buffer_bound", kernel_bound as f64, "bytes")
        .measure("rss_growth_at_stall", rss_growth as f64, "bytes")
    })
}

scenario! {
    /// N5: closing the server stops accepting; open connections can finish.
    GracefulClose = "net.graceful_close", "net", "N5",
    "after the listener is closed new connects fail, an open connection still echoes",
    timing: false, kills: ["listener_leaked"], run: graceful_close
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
        let mut open = try_io!(in_time!(&h, h.connect(addr), "connect"), "connect");
        try_io!(open.write_all(b"ping").await, "write");
        try_io!(open.flush().await, "flush");
        let mut buf = [0u8; 4];
        try_io!(in_time!(&h, open.read_exact(&mut buf), "echo"), "read");
        let _ = stop_tx.send(());
        let _ = within(&h, STEP, server).await;
        let refused = !matches!(within(&h, STEP, h.connect(addr)).await, Some(Ok(_)));
        try_io!(open.write_all(b"pong").await, "write after close");
        try_io!(open.flush().await, "flush after close");
        let echoed = matches!(
            within(&h, STEP, open.read_exact(&mut buf)).await,
            Some(Ok(()))
        );
        Observation::check(
            json!({ "new_connect_refused": refused, "open_connection_echoed": echoed && &buf == b"pong" }),
            json!({ "new_connect_refused": true, "open_connection_echoed": true }),
        )
    })
}

scenario! {
    /// N6: connecting to a port with no listener fails with an error, not a hang.
    ConnectRefused = "net.connect_refused", "net", "N6",
    "connect to a closed port fails with an error within 2 s",
    timing: false, kills: ["connect_error_ignored"], run: connect_refused
}

fn connect_refused<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let addr = {
            let l = try_io!(std::net::TcpListener::bind("127.0.0.1:0"), "bind");
            try_io!(l.local_addr(), "addr")
        };
        let outcome = match within(&h, Duration::from_secs(2), h.connect(addr)).await {
            None => json!("still pending after 2 s"),
            Some(Ok(_)) => json!("connected"),
            Some(Err(_)) => json!("error"),
        };
        Observation::check(json!({ "connect": outcome }), json!({ "connect": "error" }))
    })
}

scenario! {
    /// C2 on I/O: a read with the runtime's time limit on a silent socket times out, not
    /// before the limit, and the connection stays usable.
    ReadWithTimeLimit = "net.read_with_time_limit", "net", "C2",
    "a read limited to 30 ms on a silent connection times out (not before 30 ms); the connection then still echoes",
    timing: false, kills: ["timers_early"], run: read_with_time_limit
}

fn read_with_time_limit<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (addr, _server) = try_io!(echo_server(&h), "server");
        let mut c = try_io!(in_time!(&h, h.connect(addr), "connect"), "connect");
        let mut buf = [0u8; 4];
        let start = Instant::now();
        let limited = h.timeout(Duration::from_millis(30), c.read(&mut buf)).await;
        let after = start.elapsed();
        let timed_out = limited.is_err();
        try_io!(c.write_all(b"ping").await, "write");
        try_io!(c.flush().await, "flush");
        let echoed = matches!(within(&h, STEP, c.read_exact(&mut buf)).await, Some(Ok(())));
        Observation::check(
            json!({
                "timed_out": timed_out,
                "before_the_limit": after < Duration::from_millis(30),
                "still_echoes": echoed && &buf == b"ping",
            }),
            json!({ "timed_out": true, "before_the_limit": false, "still_echoes": true }),
        )
        .measure("timed_out_after", after.as_secs_f64() * 1e3, "ms")
    })
}
