//! Tests of the io_uring driver's own protocol: provided buffers scale with reads in flight
//! (not connections) and grow when they run out, a stream that does not read is paused
//! instead of taking every buffer, writes are bounded, and dropping or closing a stream
//! still delivers every byte a write accepted, gives its buffers back and frees its source.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use harness::{Listener, Runtime, RuntimeHandle};

use super::super::uring::{
    FIRST_BUFFERS, MAX_BUFFERS, MAX_QUEUED_CHUNKS, SEND_LIMIT, SOCKET_READS,
};
use super::super::EvloopUring;
use super::TestLoop;

fn new_loop() -> Option<EvloopUring> {
    EvloopUring::new_loop()
}

/// Buffers provided to the kernel, and leased to streams now.
fn buffers(ev: &EvloopUring) -> (u16, usize) {
    ev.event_loop()
        .core
        .io
        .uring()
        .expect("an io_uring loop")
        .buffer_census()
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn idle_connections_hold_no_buffers_and_reads_give_them_back() {
    let Some(ev) = new_loop() else { return };
    let h = ev.handle();
    let std_listener = harness::net::bind_listener(localhost()).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let mut listener = h.adopt_listener(std_listener).unwrap();
    let conns = usize::from(FIRST_BUFFERS) + 44; // more connections than buffers
    let clients: Vec<TcpStream> = (0..conns)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let (servers, idle) = ev.block_on(async {
        let mut servers = Vec::new();
        for _ in 0..conns {
            let (mut s, _) = listener.accept().await.unwrap();
            // A read that finds nothing arms the receive; it must hold no buffer.
            let mut buf = [0u8; 1];
            let pending = futures::poll!(std::pin::pin!(s.read(&mut buf)));
            assert!(pending.is_pending());
            servers.push(s);
        }
        h.sleep(Duration::from_millis(5)).await;
        (servers, buffers(&ev))
    });
    assert_eq!(idle, (FIRST_BUFFERS, 0), "idle receives hold no buffer");
    for (i, mut c) in clients.iter().enumerate() {
        c.write_all(&(i as u32).to_le_bytes()).unwrap();
    }
    let got = ev.block_on(async {
        let mut got = Vec::new();
        for mut s in servers {
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            got.push(u32::from_le_bytes(buf));
        }
        got
    });
    assert_eq!(got, (0..conns as u32).collect::<Vec<_>>());
    let (_, leased) = buffers(&ev);
    assert_eq!(leased, 0, "every buffer read out went back to the kernel");
    drop(clients);
}

/// More streams with unread data than the group can ever have buffers: the group grows to
/// its most, and the streams whose receive found none (starved) still read every byte,
/// straight from their sockets.
#[test]
fn buffers_grow_to_their_most_and_starved_streams_still_read_every_byte() {
    let Some(ev) = new_loop() else { return };
    let h = ev.handle();
    let std_listener = harness::net::bind_listener(localhost()).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let mut listener = h.adopt_listener(std_listener).unwrap();
    let conns = usize::from(MAX_BUFFERS) + 100;
    let mut clients: Vec<TcpStream> = (0..conns)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let servers = ev.block_on(async {
        let mut servers = Vec::new();
        for _ in 0..conns {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1];
            assert!(futures::poll!(std::pin::pin!(s.read(&mut buf))).is_pending());
            servers.push(s);
        }
        servers
    });
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(&[i as u8; 100]).unwrap();
    }
    // Nothing is read meanwhile: the group grows while receives find no buffer.
    let peak = ev.block_on(async {
        let mut peak = (0, 0);
        for _ in 0..200 {
            h.sleep(Duration::from_millis(2)).await;
            peak = buffers(&ev);
            if peak == (MAX_BUFFERS, usize::from(MAX_BUFFERS)) {
                break;
            }
        }
        peak
    });
    assert!(peak.0 > FIRST_BUFFERS, "the buffer group grew: {peak:?}");
    assert_eq!(peak.0, MAX_BUFFERS, "to its most: {peak:?}");
    assert!(peak.1 <= usize::from(MAX_BUFFERS), "{peak:?}");
    let ok = ev.block_on(async {
        let mut ok = 0;
        for (i, mut s) in servers.into_iter().enumerate() {
            let mut buf = [0u8; 100];
            s.read_exact(&mut buf).await.unwrap();
            ok += usize::from(buf == [i as u8; 100]);
        }
        ok
    });
    assert_eq!(ok, conns, "every stream read its bytes, starved or not");
    assert_eq!(buffers(&ev).1, 0);
}

/// Every buffer the group can have is held by a stream that does not read, and one more
/// stream receives: its receive ends without a buffer, none will come back, and yet its
/// read returns its bytes, taken straight from the socket (no buffer is leased for them).
#[test]
fn a_starved_stream_reads_from_its_socket_while_every_buffer_is_held() {
    let Some(ev) = new_loop() else { return };
    let h = ev.handle();
    let std_listener = harness::net::bind_listener(localhost()).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let mut listener = h.adopt_listener(std_listener).unwrap();
    let holders = usize::from(MAX_BUFFERS);
    let mut clients: Vec<TcpStream> = (0..=holders)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let mut servers = ev.block_on(async {
        let mut servers = Vec::new();
        for _ in 0..=holders {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1];
            assert!(futures::poll!(std::pin::pin!(s.read(&mut buf))).is_pending());
            servers.push(s);
        }
        servers
    });
    for c in &mut clients[..holders] {
        c.write_all(b"held").unwrap();
    }
    let full = (MAX_BUFFERS, holders);
    let census = ev.block_on(async {
        for _ in 0..500 {
            if buffers(&ev) == full {
                break;
            }
            h.sleep(Duration::from_millis(2)).await;
        }
        buffers(&ev)
    });
    assert_eq!(census, full, "every buffer is held");
    let mut last = servers.pop().unwrap();
    // Twice: after a short read from the socket the stream's receive is armed again, with
    // every buffer still held, and its next bytes must reach it all the same.
    for message in [&b"starved"[..], b"again"] {
        clients[holders].write_all(message).unwrap();
        let reads_before = SOCKET_READS.with(|n| n.get());
        let (read, next) = ev.block_on(async {
            let mut buf = [0u8; 16];
            let read = std::pin::pin!(last.read(&mut buf));
            let limit = std::pin::pin!(h.sleep(Duration::from_secs(5)));
            let read = match futures::future::select(read, limit).await {
                futures::future::Either::Left((r, _)) => r.map(|n| buf[..n].to_vec()),
                futures::future::Either::Right(_) => {
                    panic!("the starved stream read nothing in 5 s")
                }
            };
            // The socket is empty now: a read waits, without asking the socket again.
            let next = futures::poll!(std::pin::pin!(last.read(&mut buf)));
            (read, next)
        });
        assert_eq!(read.unwrap(), message);
        assert!(next.is_pending(), "nothing more was sent");
        assert_eq!(
            SOCKET_READS.with(|n| n.get()) - reads_before,
            1,
            "one read from the socket: the short one took all it had"
        );
        assert_eq!(buffers(&ev), full, "its bytes took no buffer");
    }
    drop(servers);
}

#[test]
fn a_stream_that_does_not_read_is_paused_then_reads_every_byte() {
    let Some(ev) = new_loop() else { return };
    let h = ev.handle();
    let std_listener = harness::net::bind_listener(localhost()).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let mut listener = h.adopt_listener(std_listener).unwrap();
    const LEN: usize = 4 << 20; // far more than the stream may hold in buffers
    let writer = std::thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        c.write_all(&data).unwrap();
    });
    let (held, received) = ev.block_on(async {
        let (mut s, _) = listener.accept().await.unwrap();
        drop(listener);
        let mut first = [0u8; 1];
        s.read_exact(&mut first).await.unwrap();
        // Stop reading for a while: the receive must pause at its chunk limit.
        h.sleep(Duration::from_millis(200)).await;
        let held = buffers(&ev).1;
        let mut received = vec![first[0]];
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
        }
        (held, received)
    });
    writer.join().unwrap();
    let (provided, _) = buffers(&ev);
    assert_eq!(
        provided, FIRST_BUFFERS,
        "a stream that does not read never grows the group"
    );
    assert!(
        held <= usize::from(FIRST_BUFFERS),
        "a non-reading stream held {held} buffers"
    );
    assert!(
        held >= MAX_QUEUED_CHUNKS as usize,
        "it was paused only at its limit: {held}"
    );
    assert_eq!(received.len(), LEN);
    assert!(
        received
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 251) as u8),
        "bytes in order"
    );
    assert_eq!(buffers(&ev).1, 0);
    assert_eq!(ev.event_loop().census(), (0, 0, 0));
}

#[test]
fn writes_are_bounded_and_a_dropped_stream_still_delivers_them_then_closes() {
    let Some(ev) = new_loop() else { return };
    let h = ev.handle();
    let std_listener = std::net::TcpListener::bind(localhost()).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let accepted = ev.block_on(async {
        let mut s = h.connect(addr).await.unwrap();
        let (peer, _) = std_listener.accept().unwrap();
        // The peer does not read: writes must stop being accepted at some bound.
        let chunk = vec![7u8; 64 * 1024];
        let mut accepted = 0usize;
        loop {
            let write = std::pin::pin!(s.write(&chunk));
            let ready = futures::future::select(write, h.sleep(Duration::from_millis(300))).await;
            match ready {
                futures::future::Either::Left((n, _)) => accepted += n.unwrap(),
                futures::future::Either::Right(_) => break,
            }
            assert!(accepted < 256 << 20, "writes never pushed back");
        }
        drop(s); // with bytes still pending: they must still arrive, then end-of-stream
        (peer, accepted)
    });
    let (mut peer, accepted) = accepted;
    assert!(accepted >= SEND_LIMIT, "{accepted}");
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        peer.read_to_end(&mut all).unwrap();
        all.len()
    });
    // The loop runs on so the remaining sends go out; the source is freed after the last.
    ev.block_on(async {
        for _ in 0..500 {
            if ev.event_loop().census().2 == 0 && reader.is_finished() {
                break;
            }
            h.sleep(Duration::from_millis(10)).await;
        }
    });
    assert_eq!(
        reader.join().unwrap(),
        accepted,
        "every accepted byte arrived"
    );
    assert_eq!(ev.event_loop().census(), (0, 0, 0));
}

#[test]
fn close_waits_for_every_byte_then_shuts_down_and_a_drop_recycles_unread_buffers() {
    let Some(ev) = new_loop() else { return };
    let h = ev.handle();
    let std_listener = harness::net::bind_listener(localhost()).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let mut listener = h.adopt_listener(std_listener).unwrap();
    const LEN: usize = 1 << 20;
    let data: Vec<u8> = (0..LEN).map(|i| (i % 253) as u8).collect();
    let sent = data.clone();
    let ev = &ev;
    let echoed = ev.block_on(async move {
        let client = h.spawn({
            let h = h.clone();
            async move {
                let mut c = h.connect(addr).await.unwrap();
                c.write_all(&sent).await.unwrap();
                c.close().await.unwrap();
                let mut back = Vec::new();
                c.read_to_end(&mut back).await.unwrap();
                back
            }
        });
        let (mut s, _) = listener.accept().await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        s.write_all(b"done").await.unwrap();
        drop(s);
        let back = client.await.unwrap();
        // Unread data when dropped: the peer writes, this side reads one byte only.
        let mut peer = TcpStream::connect(addr).unwrap();
        peer.write_all(&[1u8; 64 * 1024]).unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let mut one = [0u8; 1];
        s.read_exact(&mut one).await.unwrap();
        h.sleep(Duration::from_millis(50)).await;
        let held = buffers(ev).1;
        drop(s);
        drop(listener);
        (all, back, held)
    });
    assert_eq!(echoed.0.len(), LEN);
    assert!(echoed.0 == data, "bytes in order");
    assert_eq!(echoed.1, b"done");
    assert!(echoed.2 > 0, "the unread stream held buffers");
    assert_eq!(buffers(ev).1, 0, "a dropped stream's buffers went back");
    assert_eq!(ev.event_loop().census(), (0, 0, 0));
}

#[test]
fn an_epoll_socket_on_an_io_uring_loop_fails_with_an_error() {
    let Some(ev) = new_loop() else { return };
    let epoll_handle = ev.event_loop().handle(); // hands out epoll sockets
    let listener = harness::net::bind_listener(localhost()).unwrap();
    let mut listener = epoll_handle.adopt_listener(listener).unwrap();
    let err = ev.block_on(listener.accept()).err().unwrap();
    assert!(err.to_string().contains("epoll socket"), "{err}");
}
