//! Tests of TCP through the harness traits: echo round trips, many connections, refused
//! connects.

use std::net::SocketAddr;

use futures::{AsyncReadExt, AsyncWriteExt};
use harness::{Listener, RuntimeHandle};

use super::{on_both_drivers, TestLoop};

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Payload whose bytes encode their position, so a reordering shows.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn tcp_echo_round_trip_through_the_trait<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let listener = harness::net::bind_listener(localhost()).unwrap();
    let mut listener = h.adopt_listener(listener).unwrap();
    let addr = listener.local_addr().unwrap();
    const CLIENTS: u8 = 8;
    const LEN: usize = 256 * 1024; // larger than socket buffers: exercises EAGAIN both ways
    let echoed = ev.block_on(async move {
        let h2 = h.clone();
        let server = h.spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..CLIENTS {
                let (mut stream, _peer) = listener.accept().await.unwrap();
                conns.push(h2.spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n]).await.unwrap();
                    }
                }));
            }
            for c in conns {
                c.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|seed| {
                let h3 = h.clone();
                h.spawn(async move {
                    let stream = h3.connect(addr).await.unwrap();
                    let (mut reader, mut writer) = stream.split();
                    let data = payload(LEN, seed);
                    let sent = data.clone();
                    let write = h3.spawn(async move {
                        writer.write_all(&sent).await.unwrap();
                        writer
                    });
                    let mut back = Vec::with_capacity(LEN);
                    let mut buf = vec![0u8; 8192];
                    while back.len() < LEN {
                        let n = reader.read(&mut buf).await.unwrap();
                        assert!(n > 0, "early end of stream");
                        back.extend_from_slice(&buf[..n]);
                    }
                    let writer = write.await.unwrap();
                    let mut stream = reader.reunite(writer).unwrap();
                    h3.shutdown_write(&mut stream).await.unwrap();
                    let mut reader = stream;
                    assert_eq!(reader.read(&mut buf).await.unwrap(), 0, "server closed");
                    back == data
                })
            })
            .collect();
        let mut ok = 0;
        for c in clients {
            ok += usize::from(c.await.unwrap());
        }
        server.await.unwrap();
        ok
    });
    assert_eq!(echoed, usize::from(CLIENTS));
    assert_eq!(
        ev.event_loop().census(),
        (0, 0, 0),
        "every socket deregistered"
    );
}

fn connect_to_a_closed_port_is_refused_promptly<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let addr = {
        let l = std::net::TcpListener::bind(localhost()).unwrap();
        l.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let err = ev
        .block_on(h.connect(addr))
        .err()
        .expect("connect must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(ev.event_loop().census(), (0, 0, 0));
}

/// A listener dropped while its accept is armed refuses connects from then on, and a
/// connection it accepted keeps working (N5, `net.graceful_close`).
fn a_dropped_listener_refuses_connects_at_once<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let listener = harness::net::bind_listener(localhost()).unwrap();
    let mut listener = h.adopt_listener(listener).unwrap();
    let addr = listener.local_addr().unwrap();
    let (refused, echoed) = ev.block_on(async move {
        let (client, accepted) = futures::join!(h.connect(addr), listener.accept());
        let (mut client, (mut server, _)) = (client.unwrap(), accepted.unwrap());
        drop(listener); // its accept was armed by the first accept
        let refused = h.connect(addr).await.err().map(|e| e.kind());
        client.write_all(b"pong").await.unwrap();
        client.flush().await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        (refused, buf)
    });
    assert_eq!(refused, Some(std::io::ErrorKind::ConnectionRefused));
    assert_eq!(&echoed, b"pong");
}

fn sockets_used_outside_the_loop_fail_with_an_error<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.handle();
    let listener = harness::net::bind_listener(localhost()).unwrap();
    let mut listener = h.adopt_listener(listener).unwrap();
    let err = futures::executor::block_on(listener.accept())
        .err()
        .unwrap();
    assert!(err.to_string().contains("outside"), "{err}");
}

on_both_drivers!(
    tcp_echo_round_trip_through_the_trait,
    connect_to_a_closed_port_is_refused_promptly,
    a_dropped_listener_refuses_connects_at_once,
    sockets_used_outside_the_loop_fail_with_an_error,
);
