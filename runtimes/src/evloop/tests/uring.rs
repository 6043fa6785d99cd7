//! Tests of the io_uring system-call layer: echo over loopback with multishot accept and
//! receive, buffer recycling (every buffer id reused, `ENOBUFS` when the ring is empty),
//! sends of owned bytes, timeouts, cancellation, and a ring dropped with operations in
//! flight. Where io_uring is unavailable, each test says so and checks that the error is the
//! one clear `Unsupported` reason.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use super::{Completion, Event, OpKind, Outcome, Ring, Target};

/// A ring, or `None` (after printing why) where io_uring cannot be used here.
fn ring() -> Option<Ring> {
    match Ring::new(64) {
        Ok(r) => Some(r),
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
            assert!(e.to_string().starts_with("io_uring unavailable: "), "{e}");
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// Waits for completions until `done` says so, with a deadline.
fn run_until(ring: &mut Ring, mut done: impl FnMut(&mut Ring, Completion) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no completion within 10 s");
        ring.submit_and_wait(1).expect("submit_and_wait");
        out.clear();
        ring.drain(&mut out);
        for c in out.drain(..) {
            if done(ring, c) {
                return;
            }
        }
    }
}

/// A loopback listener and a connected client, plus the accepted server side via the ring.
fn accepted_pair(ring: &mut Ring) -> (TcpListener, TcpStream, OwnedFd) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let accept = ring.accept_multishot(listener.as_fd(), 1).expect("accept");
    let client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let mut server = None;
    run_until(ring, |_, c| {
        assert_eq!((c.token, c.kind), (1, OpKind::Accept));
        assert!(c.more, "multishot accept keeps going");
        match c.outcome {
            Outcome::Accepted(fd) => server = Some(fd),
            other => panic!("unexpected outcome {other:?}"),
        }
        true
    });
    assert!(ring.cancel(accept).unwrap());
    run_until(ring, |_, c| {
        assert_eq!(c.kind, OpKind::Accept);
        !c.more
    });
    (listener, client, server.expect("accepted"))
}

#[test]
fn echo_over_loopback_with_provided_buffers() {
    let Some(mut ring) = ring() else { return };
    let group = ring.add_buffer_group(8, 64).expect("buffer group");
    let (_listener, mut client, server) = accepted_pair(&mut ring);
    ring.recv_multishot(server.as_fd(), group, 2).expect("recv");
    let messages: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 1 + usize::from(i) * 7]).collect();
    let mut seen_ids = HashSet::new();
    for msg in &messages {
        client.write_all(msg).unwrap();
        let mut echoed = 0;
        // Receive whatever arrives and send it straight back from the ring's buffer.
        run_until(&mut ring, |ring, c| match (c.kind, c.outcome) {
            (OpKind::Recv, Outcome::Received(lease)) => {
                assert!(c.more, "multishot receive keeps going");
                assert_eq!(c.result.unwrap() as usize, lease.len());
                seen_ids.insert(lease.buffer_id());
                ring.send_buffer(server.as_fd(), lease, 0, 3).unwrap();
                false
            }
            (OpKind::Send, Outcome::SentBuffer(lease)) => {
                assert_eq!(
                    c.result.unwrap() as usize,
                    lease.len(),
                    "loopback sends whole"
                );
                echoed += lease.len();
                ring.recycle(lease);
                echoed == msg.len()
            }
            (kind, outcome) => panic!("unexpected {kind:?} {outcome:?} {:?}", c.result),
        });
        let mut back = vec![0u8; msg.len()];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, msg, "echoed bytes differ");
    }
    // 20 receives through 8 buffers: ids were recycled, and more than one was used.
    assert!(seen_ids.len() > 1 && seen_ids.len() <= 8, "{seen_ids:?}");
    drop(client);
    run_until(&mut ring, |_, c| {
        assert_eq!(c.kind, OpKind::Recv);
        assert_eq!(c.result.unwrap(), 0, "end of stream");
        assert!(!c.more, "end of stream ends the multishot receive");
        true
    });
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn empty_buffer_ring_ends_the_receive_with_enobufs_until_recycled() {
    let Some(mut ring) = ring() else { return };
    let group = ring.add_buffer_group(2, 16).expect("buffer group");
    let (_listener, mut client, server) = accepted_pair(&mut ring);
    ring.recv_multishot(server.as_fd(), group, 7).expect("recv");
    let mut held = Vec::new();
    let mut ended = None;
    // Three separate chunks for two buffers: the third finds the ring empty.
    for chunk in [b"aaaa", b"bbbb", b"cccc"] {
        client.write_all(chunk).unwrap();
        run_until(&mut ring, |ring, c| {
            match c.outcome {
                Outcome::Received(lease) => {
                    assert_eq!(ring.bytes(&lease).len(), lease.len());
                    held.push(lease)
                }
                Outcome::None => ended = Some(c.result.unwrap_err().raw_os_error()),
                other => panic!("unexpected {other:?}"),
            }
            true
        });
        if ended.is_some() {
            break;
        }
    }
    let got: Vec<u8> = held.iter().flat_map(|l| ring.bytes(l).to_vec()).collect();
    assert_eq!(
        ended,
        Some(Some(libc::ENOBUFS)),
        "got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(ring.in_flight(), 0, "ENOBUFS ends the multishot receive");
    // Recycle both buffers and arm again: the waiting bytes arrive.
    for lease in held.drain(..) {
        ring.recycle(lease);
    }
    ring.recv_multishot(server.as_fd(), group, 8)
        .expect("recv again");
    let mut rest = Vec::new();
    run_until(&mut ring, |ring, c| {
        let Outcome::Received(lease) = c.outcome else {
            panic!("unexpected {:?}", c.result)
        };
        rest.extend_from_slice(ring.bytes(&lease));
        ring.recycle(lease);
        got.len() + rest.len() == 12
    });
    let all: Vec<u8> = got.into_iter().chain(rest).collect();
    assert_eq!(all, b"aaaabbbbcccc");
}

#[test]
fn send_of_owned_bytes_returns_them() {
    let Some(mut ring) = ring() else { return };
    let (_listener, mut client, server) = accepted_pair(&mut ring);
    let data = b"hello from the ring".to_vec();
    ring.send(server.as_fd(), data.clone(), 9).unwrap();
    run_until(&mut ring, |_, c| {
        assert_eq!((c.token, c.kind, c.more), (9, OpKind::Send, false));
        assert_eq!(c.result.unwrap() as usize, data.len());
        assert!(matches!(&c.outcome, Outcome::SentBytes(b) if *b == data));
        true
    });
    let mut back = vec![0u8; data.len()];
    client.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn batched_sends_one_submit() {
    let Some(mut ring) = ring() else { return };
    let (_listener, mut client, server) = accepted_pair(&mut ring);
    for i in 0..10u8 {
        ring.send(server.as_fd(), vec![b'0' + i; 3], u64::from(i))
            .unwrap();
    }
    let mut done = Vec::new();
    run_until(&mut ring, |_, c| {
        done.push(c.token);
        done.len() == 10
    });
    done.sort_unstable();
    assert_eq!(done, (0..10).collect::<Vec<u64>>());
    // Unlinked operations have no order guarantee: compare the bytes as a multiset.
    let mut back = vec![0u8; 30];
    client.read_exact(&mut back).unwrap();
    back.sort_unstable();
    let expected: Vec<u8> = (0..10u8).flat_map(|i| [b'0' + i; 3]).collect();
    assert_eq!(back, expected);
}

#[test]
fn timeout_expires_not_before_its_deadline() {
    let Some(mut ring) = ring() else { return };
    let start = Instant::now();
    ring.timeout(Duration::from_millis(20), 5).unwrap();
    run_until(&mut ring, |_, c| {
        assert_eq!((c.token, c.kind, c.more), (5, OpKind::Timeout, false));
        assert_eq!(c.result.unwrap(), 0, "expired");
        true
    });
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn cancel_ends_a_timeout_and_a_receive() {
    let Some(mut ring) = ring() else { return };
    let group = ring.add_buffer_group(4, 32).expect("buffer group");
    let (_listener, _client, server) = accepted_pair(&mut ring);
    let t = ring.timeout(Duration::from_secs(3600), 1).unwrap();
    let r = ring.recv_multishot(server.as_fd(), group, 2).unwrap();
    assert!(ring.cancel(t).unwrap());
    assert!(ring.cancel(r).unwrap());
    let mut ended = Vec::new();
    run_until(&mut ring, |_, c| {
        assert!(!c.more);
        assert_eq!(c.result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
        ended.push(c.kind);
        ended.len() == 2
    });
    ended.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(ended, [OpKind::Recv, OpKind::Timeout]);
    assert_eq!(ring.in_flight(), 0);
    // A finished operation cannot be cancelled again.
    assert!(!ring.cancel(t).unwrap());
}

#[test]
fn dropping_the_ring_with_operations_in_flight_reaps_them_first() {
    let Some(mut ring) = ring() else { return };
    let group = ring.add_buffer_group(4, 4096).expect("buffer group");
    let (listener, mut client, server) = accepted_pair(&mut ring);
    ring.accept_multishot(listener.as_fd(), 1).unwrap();
    ring.recv_multishot(server.as_fd(), group, 2).unwrap();
    ring.timeout(Duration::from_secs(3600), 3).unwrap();
    ring.submit().unwrap();
    assert_eq!(ring.in_flight(), 3);
    // Drop cancels all three and waits for their completions before freeing the buffers;
    // under valgrind a buffer freed too early would show as an invalid write.
    drop(ring);
    client.write_all(b"after the ring is gone").unwrap();
    let mut plain = vec![0u8; 22];
    let n = (&server_as_stream(server)).read(&mut plain).unwrap();
    assert_eq!(&plain[..n], &b"after the ring is gone"[..n]);
}

/// The accepted socket as a std stream, to read it without the ring.
fn server_as_stream(fd: OwnedFd) -> TcpStream {
    TcpStream::from(fd)
}

#[test]
fn lease_of_another_ring_is_refused() {
    let (Some(mut a), Some(mut b)) = (ring(), ring()) else {
        return;
    };
    let group = a.add_buffer_group(2, 16).unwrap();
    b.add_buffer_group(2, 16).unwrap();
    let (_listener, mut client, server) = accepted_pair(&mut a);
    a.recv_multishot(server.as_fd(), group, 1).unwrap();
    client.write_all(b"x").unwrap();
    let mut lease = None;
    run_until(&mut a, |_, c| {
        if let Outcome::Received(l) = c.outcome {
            lease = Some(l);
        }
        true
    });
    let lease = lease.expect("received");
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.bytes(&lease)));
    assert!(refused.is_err(), "another ring's lease must be refused");
    a.recycle(lease);
}

/// Waits for direct events until `done` says so, with a deadline.
fn run_direct_until(ring: &mut Ring, mut done: impl FnMut(&mut Ring, Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut finished = false;
    while !finished {
        assert!(Instant::now() < deadline, "no event within 10 s");
        ring.submit_and_wait(1).expect("submit_and_wait");
        ring.drain_direct(|ring, ev| {
            if !finished {
                finished = done(ring, ev);
            }
        });
    }
}

#[test]
fn direct_interface_routes_by_token_and_holds_send_bytes() {
    let Some(mut ring) = ring() else { return };
    let (_listener, mut client, server) = accepted_pair(&mut ring);
    let group = ring.add_buffer_group(4, 64).unwrap();
    let token = (0xab_cdef << 32) | 7;
    // A token wider than 56 bits is refused, and nothing is pushed.
    let wide = ring.recv_multishot_direct(server.as_fd(), group, 1 << 60);
    assert_eq!(wide.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    ring.recv_multishot_direct(server.as_fd(), group, token)
        .unwrap();
    client.write_all(b"direct").unwrap();
    let mut received = Vec::new();
    run_direct_until(&mut ring, |ring, ev| {
        assert_eq!((ev.token, ev.kind, ev.op), (token, OpKind::Recv, None));
        assert!(ev.more, "the receive stays armed");
        let Outcome::Received(lease) = ev.outcome else {
            panic!("unexpected outcome {:?}", ev.outcome);
        };
        assert_eq!(ev.res as usize, lease.len());
        received.extend_from_slice(ring.bytes(&lease));
        ring.recycle(lease);
        received.len() == 6
    });
    assert_eq!(received, b"direct");
    // One send per slot (the token's low 32 bits) in flight: a second is refused.
    ring.send_direct(server.as_fd(), b"back".to_vec(), token)
        .unwrap();
    let busy = ring.send_direct(server.as_fd(), b"again".to_vec(), (1 << 32) | 7);
    assert_eq!(busy.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    run_direct_until(&mut ring, |_, ev| {
        assert_eq!(
            (ev.token, ev.kind, ev.res, ev.more),
            (token, OpKind::Send, 4, false)
        );
        match ev.outcome {
            Outcome::SentBytes(bytes) => assert_eq!(bytes, b"back"),
            other => panic!("unexpected outcome {other:?}"),
        }
        true
    });
    let mut back = [0u8; 4];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"back");
    // The slot is free again once the send completed; a cancel ends the receive.
    assert_eq!(ring.in_flight(), 1);
    ring.cancel_recv_direct(group, token).unwrap();
    run_direct_until(&mut ring, |_, ev| {
        assert_eq!((ev.token, ev.kind, ev.more), (token, OpKind::Recv, false));
        assert_eq!(ev.res, -libc::ECANCELED);
        true
    });
    assert_eq!(ring.in_flight(), 0);
    ring.send_direct(server.as_fd(), b"!".to_vec(), token)
        .unwrap();
}

/// A receive and a send that name a registered file's slot move bytes as the fd's do; the
/// table's reference keeps the socket open after its fd is closed, until the slot is
/// emptied and the last operation naming it has ended (then the peer sees end-of-stream).
#[test]
fn registered_file_slots_carry_traffic_and_hold_the_socket_until_emptied() {
    let Some(mut ring) = ring() else { return };
    let (_listener, mut client, server) = accepted_pair(&mut ring);
    let group = ring.add_buffer_group(4, 64).unwrap();
    ring.register_file_table(4).unwrap();
    ring.set_file(2, Some(server.as_fd())).unwrap();
    // The fd goes; the table's reference keeps the socket.
    drop(server);
    ring.recv_multishot_direct(Target::Fixed(2), group, 9)
        .unwrap();
    client.write_all(b"fixed").unwrap();
    let mut received = Vec::new();
    run_direct_until(&mut ring, |ring, ev| {
        assert_eq!((ev.token, ev.kind), (9, OpKind::Recv));
        if let Outcome::Received(lease) = ev.outcome {
            received.extend_from_slice(ring.bytes(&lease));
            ring.recycle(lease);
        }
        received.len() == 5
    });
    assert_eq!(received, b"fixed");
    ring.send_direct(Target::Fixed(2), b"slot".to_vec(), 9)
        .unwrap();
    run_direct_until(&mut ring, |_, ev| {
        assert_eq!((ev.token, ev.kind, ev.res), (9, OpKind::Send, 4));
        true
    });
    let mut back = [0u8; 4];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"slot");
    // Emptied while the receive is armed: the receive keeps the socket until cancelled.
    ring.set_file(2, None).unwrap();
    client.write_all(b"!").unwrap();
    run_direct_until(&mut ring, |ring, ev| {
        if let Outcome::Received(lease) = ev.outcome {
            assert_eq!(ring.bytes(&lease), b"!");
            ring.recycle(lease);
        }
        true
    });
    ring.cancel_recv_direct(group, 9).unwrap();
    run_direct_until(&mut ring, |_, ev| !ev.more);
    assert_eq!(ring.in_flight(), 0);
    // Nothing names the socket now: it is closed, and the peer reads end-of-stream.
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = [0u8; 1];
    assert_eq!(client.read(&mut rest).unwrap(), 0);
    // An empty slot names no file.
    ring.send_direct(Target::Fixed(2), b"x".to_vec(), 9)
        .unwrap();
    run_direct_until(&mut ring, |_, ev| {
        assert_eq!(ev.res, -libc::EBADF);
        true
    });
}
