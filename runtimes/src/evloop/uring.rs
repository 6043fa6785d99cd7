//! The io_uring driver: the same loop as epoll's, with the kernel doing the I/O. A leaf over
//! `sys_uring` (which holds every `unsafe` block): it knows `Waker`s, never the scheduler.
//!
//! # One system call per iteration
//! Operations are queued in the submission ring without a system call while tasks run; the
//! iteration's [`Driver::wait`] hands them all to the kernel and reaps completions with one
//! `io_uring_enter` (`submit_and_wait`). What a task can do on a socket:
//! - **accept**: one multishot accept per listener, armed at the first `accept`; accepted
//!   connections queue in the listener until taken.
//! - **receive**: one multishot receive per stream, armed at the first read, into the
//!   loop's provided buffer ring. A read copies out of the received buffers (oldest first)
//!   and gives each back to the kernel as soon as it is read out. A stream that holds
//!   [`MAX_QUEUED_CHUNKS`] unread buffers has its receive cancelled (the socket's own buffer
//!   then holds the rest, and TCP pushes back); the next read that finds none re-arms it.
//!   Within one wait the kernel may fill more than that before the loop sees them (as much
//!   as the socket had buffered and free buffers allow), but such a stream never makes the
//!   buffer group grow.
//! - **send**: a write copies into the stream's pending bytes and returns at once; every
//!   stream written to in an iteration gets one send of all its pending bytes at the next
//!   wait ("batched per iteration"). At most one send per stream is in flight, so bytes go
//!   out in order; a short send is resent. Pending plus in-flight bytes are bounded
//!   ([`SEND_LIMIT`]): past it a write is `Pending` until a send completes (backpressure).
//!   Send buffers come from a pool the driver keeps, so they scale with sends in flight.
//! - **connect**: a nonblocking `connect`, then a one-shot writability poll.
//! - **timers**: an io_uring timeout for the earliest deadline, pushed only when that
//!   deadline moves earlier (the stale one is cancelled); **cross-thread wake-ups**: a
//!   multishot poll on the loop's eventfd.
//!
//! # Provided buffers
//! One buffer group of [`BUFFER_SIZE`]-byte buffers; [`FIRST_BUFFERS`] are provided at start
//! and the group doubles (to [`MAX_BUFFERS`]) whenever a receive finds none free (`ENOBUFS`:
//! that receive ends; it is re-armed at the next wait once buffers are free). So the
//! buffers in use scale with reads in flight (data received and not yet read), not with
//! connections, and buffers never provided are never touched (no resident memory).
//!
//! A stream whose receive ended so ("starved") has its reader woken, and while it has no
//! chunk and no receive armed, a read takes its bytes straight from the socket
//! (`recv(MSG_DONTWAIT)`, one system call). Without that, once the group is at its most,
//! the receives still armed take every buffer that comes back before a re-armed one gets
//! any, and the same streams stay starved until their peers give up (seen at 10,000
//! connections with 2,048 buffers: a quarter of the connections without an echo for 2 s).
//! A short read took all the socket had, so the stream's next read arms its receive again
//! rather than ask the socket once more only to hear `EAGAIN`. A server that cannot keep up
//! with 10,000 connections has a message waiting on nearly every one, so the buffers are
//! always taken and most messages come this way: one `recv` per message, measured, where
//! asking again made it 1.8.
//!
//! # Cancellation and ownership (the protocol)
//! Memory the kernel may touch is owned by the ring (`sys_uring`'s rules): send bytes move
//! into the operation until its final completion, received buffers are leases that only a
//! read-out or a drop gives back. Sockets are shared with the driver (`Arc<OwnedFd>`), so an
//! fd is closed only when its stream **and** every operation on it are done:
//! 1. Dropping a stream (on its loop's thread) gives its unread buffers back to the kernel,
//!    cancels its receive (and a connect poll), and keeps its pending and in-flight bytes
//!    going, as a closed socket's send buffer does; when the last operation's final
//!    completion is reaped, the driver drops its half of the fd, which closes it. A
//!    dropped listener stops listening at once (`shutdown`: later connects are refused, as
//!    after a close), cancels its accept, and closes connections it accepted but nobody
//!    took.
//! 2. A stream dropped away from its loop (another thread, or after the loop stopped
//!    running) cannot reach the driver: its socket stays open until the loop is dropped (a
//!    listener dropped so still stops listening at once).
//! 3. Dropping the loop drops the ring, which cancels everything in flight and reaps until
//!    nothing is, before any buffer is freed (`sys_uring` rule 3).
//!
//! Wake-ups follow `driver`'s protocol: completions are recorded with the driver's state
//! borrowed, and woken after the borrow is released: a reader's waker stays in its source and
//! a clone is woken (no second lookup to put it back), a writer's is taken out (so later send
//! completions wake nobody).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::driver::{Driver, WaitOutcome};
use super::mutants::{self, Fault};
use super::slab::{reserved_token, Key, Slab};
use super::sys::{self, EventFd};
use super::sys_uring::{BufLease, BufferGroup, Event, OpId, OpKind, Outcome, Ring};

/// Token of the multishot poll on the loop's eventfd.
const NOTIFY_TOKEN: u64 = reserved_token(1);
/// Token of the timeout for the earliest timer.
const TIMER_TOKEN: u64 = reserved_token(2);
/// Submission queue entries (the completion queue has four times as many). More pushes
/// than this in one iteration cost one extra submit each time the queue fills.
const RING_ENTRIES: u32 = 1024;
/// Bytes per provided receive buffer (the same 2 KiB the echo server reads into).
pub(crate) const BUFFER_SIZE: u32 = 2048;
/// Provided buffers at start.
pub(crate) const FIRST_BUFFERS: u16 = 256;
/// Most provided buffers (1 MiB). The kernel takes buffers in ring order, so every buffer
/// ever provided is cycled through and resident: more than this would cost memory and
/// cache without serving more streams, since a stream that finds none reads its socket
/// itself (see "Provided buffers"). Measured on 2 cores, `bench echo --pin`, 3 repeats,
/// against 16,384 (32 MiB): at 10,000 connections of 64 B messages, RSS per connection
/// 3.0 KiB instead of 6.2 and server CPU per message 11.7 µs instead of 14.2; at 100
/// connections of 16 KiB, 32 KiB instead of 347 and 18.7 µs instead of 21.1.
pub(crate) const MAX_BUFFERS: u16 = 512;
/// Unread received buffers a stream may hold before its receive is paused.
pub(crate) const MAX_QUEUED_CHUNKS: u32 = 16;
/// Bytes a stream may have accepted by writes and not yet seen sent.
pub(crate) const SEND_LIMIT: usize = 256 * 1024;
/// Idle send buffers kept for reuse, and the largest one kept.
const SPARE_SENDS: usize = 512;
const SPARE_CAPACITY: usize = 64 * 1024;

#[cfg(test)]
thread_local! {
    /// Reads a starved stream took straight from its socket on this thread (tests only).
    pub(crate) static SOCKET_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Which waiter of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Reading, or accepting.
    Read,
    /// Writing, closing, or completing a connect.
    Write,
}

/// One received buffer not yet read out, in a stream's list after its first.
struct Chunk {
    /// The buffer.
    lease: BufLease,
    /// The next chunk of the same stream.
    next: Option<Key>,
}

/// A stream's received, unread buffers: the oldest inline (the common case: at most one),
/// the others in a list threaded through the driver's chunk table, so their memory scales
/// with buffers held, not with streams.
#[derive(Default)]
struct Chunks {
    /// The oldest chunk, being read out.
    first: Option<BufLease>,
    /// The chunks after it, oldest first.
    head: Option<Key>,
    /// The newest of those.
    tail: Option<Key>,
    /// How many chunks in all.
    len: u32,
}

impl Chunks {
    /// Appends a received buffer.
    #[inline]
    fn push(&mut self, table: &mut Slab<Chunk>, lease: BufLease) {
        self.len += 1;
        if self.first.is_none() {
            self.first = Some(lease);
            return;
        }
        let key = table.insert(Chunk { lease, next: None });
        match self.tail.and_then(|t| table.get_mut(t)) {
            Some(tail) => tail.next = Some(key),
            None => self.head = Some(key),
        }
        self.tail = Some(key);
    }

    /// Removes the oldest buffer (the next one becomes the first).
    #[inline]
    fn pop(&mut self, table: &mut Slab<Chunk>) -> Option<BufLease> {
        let first = self.first.take()?;
        self.len -= 1;
        if let Some(chunk) = self.head.and_then(|h| table.remove(h)) {
            self.head = chunk.next;
            if self.head.is_none() {
                self.tail = None;
            }
            self.first = Some(chunk.lease);
        }
        Some(first)
    }
}

/// How a stream's read side ended.
enum ReadEnd {
    /// It has not.
    Open,
    /// End-of-stream (after the chunks still queued).
    Eof {
        /// A read has already returned it ([`Fault::EofNotSticky`]).
        reported: bool,
    },
    /// An error, returned by the next read that finds no chunk, then end-of-stream.
    Error(io::Error),
}

/// Waiters to wake once the driver's state is no longer borrowed (each taken out of its
/// entry as it is woken): a writer's waker moved out of its source, a reader's a clone (its
/// waker stays in place for the next completion).
type Woken = Vec<Option<Waker>>;

/// A connection's state in the driver.
struct StreamSource {
    /// The socket, shared with the stream.
    fd: Arc<OwnedFd>,
    /// The multishot receive is armed.
    recv: bool,
    /// Its receive ended for lack of buffers: re-armed by a wait once buffers are free.
    starved: bool,
    /// Received, unread buffers.
    chunks: Chunks,
    /// Bytes of the oldest chunk already read out.
    offset: u32,
    /// How the read side ended.
    read_end: ReadEnd,
    /// The task waiting to read.
    reader: Option<Waker>,
    /// Bytes written and not yet handed to a send.
    pending: Vec<u8>,
    /// Whether it is in the driver's send queue.
    queued: bool,
    /// The length of the send in flight.
    sending: Option<usize>,
    /// A send failed: every later write fails with this errno.
    write_error: Option<i32>,
    /// The task waiting to write, close or finish connecting.
    writer: Option<Waker>,
    /// The writability poll of a connect in progress is in flight.
    connecting: bool,
    /// That poll completed.
    connected: bool,
    /// The stream is gone: free the source once nothing is in flight.
    dropped: bool,
}

/// A listener's state in the driver.
struct ListenerSource {
    /// The listening socket, shared with the listener.
    fd: Arc<OwnedFd>,
    /// The multishot accept is armed.
    accept: bool,
    /// Connections accepted and not taken yet.
    accepted: VecDeque<OwnedFd>,
    /// The accept ended with this error; the next `accept` returns it.
    error: Option<io::Error>,
    /// The task waiting to accept.
    waiter: Option<Waker>,
    /// The listener is gone.
    dropped: bool,
}

/// A registered socket.
enum Source {
    /// A connection.
    Stream(StreamSource),
    /// A listener.
    Listener(ListenerSource),
}

/// What the driver keeps besides the ring (apart, so completions can be recorded while the
/// ring hands them out).
struct State {
    /// The receive buffer group.
    group: BufferGroup,
    /// Registered sockets; a completion's token is its source's key.
    sources: Slab<Source>,
    /// Sockets whose stream or listener still exists (the census).
    live: usize,
    /// Received buffers after the first of their stream, of every stream.
    chunks: Slab<Chunk>,
    /// Buffers currently leased (in some stream's chunks).
    leased: usize,
    /// Streams written to since the last wait.
    send_queue: Vec<Key>,
    /// Idle send buffers.
    spare: Vec<Vec<u8>>,
    /// Streams whose receive ran out of buffers.
    starved: Vec<Key>,
    /// A descriptor of the loop's eventfd, to re-arm its poll.
    notifier: OwnedFd,
    /// The timeout pushed for the earliest deadline, while in flight.
    timer: Option<(Instant, OpId)>,
}

/// Everything the driver owns, behind one borrow.
struct Inner {
    /// The ring and its buffers. Declared first, so it is dropped first: it reaps every
    /// operation before the sockets they name are closed by the state's drop.
    ring: Ring,
    /// The rest.
    st: State,
}

/// The io_uring driver of one loop.
pub(crate) struct UringDriver {
    /// The driver's state; borrowed by each socket operation and by a wait, never while a
    /// waker runs.
    inner: RefCell<Inner>,
    /// Waiters the current wait took out, to wake with the state not borrowed and then put
    /// back; empty between waits (kept for its capacity).
    woken: RefCell<Woken>,
}

/// The error of an operation on a socket the driver does not have (any more).
fn not_registered() -> io::Error {
    io::Error::other("evloop: I/O source is not registered")
}

impl UringDriver {
    /// Sets up a ring, its provided buffers and the poll on `notifier` (the eventfd other
    /// threads write to). Fails with one `Unsupported` sentence where io_uring cannot be used.
    pub(crate) fn new(notifier: &EventFd) -> io::Result<Self> {
        let mut ring = Ring::new(RING_ENTRIES)?;
        let group = ring.add_buffer_group_with(MAX_BUFFERS, BUFFER_SIZE, FIRST_BUFFERS)?;
        let notifier = notifier.try_clone()?;
        ring.poll_readable_multishot_direct(notifier.as_fd(), NOTIFY_TOKEN)?;
        Ok(Self {
            inner: RefCell::new(Inner {
                ring,
                st: State {
                    group,
                    sources: Slab::default(),
                    live: 0,
                    chunks: Slab::default(),
                    leased: 0,
                    send_queue: Vec::new(),
                    spare: Vec::new(),
                    starved: Vec::new(),
                    notifier,
                    timer: None,
                },
            }),
            woken: RefCell::default(),
        })
    }

    /// Registers a connection (`connecting`: a connect is in progress).
    pub(crate) fn register_stream(&self, fd: Arc<OwnedFd>, connecting: bool) -> Key {
        let st = &mut self.inner.borrow_mut().st;
        st.live += 1;
        st.sources.insert(Source::Stream(StreamSource {
            fd,
            recv: false,
            starved: false,
            chunks: Chunks::default(),
            offset: 0,
            read_end: ReadEnd::Open,
            reader: None,
            pending: Vec::new(),
            queued: false,
            sending: None,
            write_error: None,
            writer: None,
            connecting: false,
            connected: !connecting,
            dropped: false,
        }))
    }

    /// Registers a listener.
    pub(crate) fn register_listener(&self, fd: Arc<OwnedFd>) -> Key {
        let st = &mut self.inner.borrow_mut().st;
        st.live += 1;
        st.sources.insert(Source::Listener(ListenerSource {
            fd,
            accept: false,
            accepted: VecDeque::new(),
            error: None,
            waiter: None,
            dropped: false,
        }))
    }

    /// The stream or listener behind `key` is gone (see the module protocol, rule 1).
    pub(crate) fn release(&self, key: Key) {
        // A waker may run any code when dropped: what `release` removes is dropped after
        // the borrow ends.
        let unwanted = {
            let Inner { ring, st } = &mut *self.inner.borrow_mut();
            st.release(ring, key)
        };
        drop(unwanted);
    }

    /// Reads into `buf` from the received buffers of stream `key`; `Pending` (with the
    /// receive armed) when there are none.
    #[inline]
    pub(crate) fn poll_read(
        &self,
        key: Key,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut inner = self.inner.borrow_mut();
        let Inner { ring, st } = &mut *inner;
        let State {
            group,
            sources,
            chunks,
            leased,
            ..
        } = st;
        let Some(Source::Stream(s)) = sources.get_mut(key) else {
            return Poll::Ready(Err(not_registered()));
        };
        if s.chunks.len > 0 {
            let mut n = 0;
            while let Some(first) = &s.chunks.first {
                let bytes = &ring.bytes(first)[s.offset as usize..];
                let take = bytes.len().min(buf.len() - n);
                buf[n..n + take].copy_from_slice(&bytes[..take]);
                n += take;
                if take < bytes.len() {
                    s.offset += take as u32;
                    break;
                }
                s.offset = 0;
                if let Some(lease) = s.chunks.pop(chunks) {
                    ring.recycle(lease);
                    *leased -= 1;
                }
                if n == buf.len() {
                    break;
                }
            }
            return Poll::Ready(Ok(n));
        }
        match &mut s.read_end {
            ReadEnd::Open => {}
            ReadEnd::Eof { reported } => {
                if *reported && mutants::active(Fault::EofNotSticky) {
                    store_waker(&mut s.reader, cx);
                    return Poll::Pending;
                }
                *reported = true;
                return Poll::Ready(Ok(0));
            }
            ReadEnd::Error(_) => {
                let ended = ReadEnd::Eof { reported: false };
                let ReadEnd::Error(e) = std::mem::replace(&mut s.read_end, ended) else {
                    unreachable!("matched above");
                };
                return Poll::Ready(Err(e));
            }
        }
        if s.starved && !s.recv && !buf.is_empty() {
            // Its receive ran out of buffers with bytes left in the socket, and no receive is
            // armed (so nothing else can take bytes ahead of these): read them straight into
            // the caller's buffer, one system call. A stream is so never left waiting while
            // other streams' receives take every buffer the group has.
            loop {
                #[cfg(test)]
                SOCKET_READS.with(|n| n.set(n.get() + 1));
                match sys::recv_now(s.fd.as_fd(), buf) {
                    Ok(0) => {
                        s.read_end = ReadEnd::Eof { reported: true };
                        return Poll::Ready(Ok(0));
                    }
                    Ok(n) => {
                        if n < buf.len() {
                            // A short read took all the socket had: the next read arms the
                            // receive (bytes that come meanwhile wait in the socket for it),
                            // not another `recv` that would say `EAGAIN` (module doc).
                            s.starved = false;
                        }
                        return Poll::Ready(Ok(n));
                    }
                    Err(e) if sys::is_interrupted(&e) => continue,
                    // Nothing there now: the wait re-arms the receive (rearm_starved).
                    Err(e) if sys::is_would_block(&e) => break,
                    Err(e) => {
                        s.read_end = ReadEnd::Eof { reported: false };
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
        if !s.recv && !s.starved {
            match ring.recv_multishot_direct(s.fd.as_fd(), *group, key.compact()) {
                Ok(()) => s.recv = true,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        store_waker(&mut s.reader, cx);
        Poll::Pending
    }

    /// Accepts `buf` (or as much of it as [`SEND_LIMIT`] allows) for sending on stream
    /// `key`; `Pending` while the limit is reached.
    #[inline]
    pub(crate) fn poll_write(
        &self,
        key: Key,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut inner = self.inner.borrow_mut();
        let State {
            sources,
            send_queue,
            spare,
            ..
        } = &mut inner.st;
        let Some(Source::Stream(s)) = sources.get_mut(key) else {
            return Poll::Ready(Err(not_registered()));
        };
        if let Some(errno) = s.write_error {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        let unsent = s.pending.len() + s.sending.unwrap_or(0);
        let room = if mutants::active(Fault::NoBackpressure) {
            buf.len()
        } else {
            SEND_LIMIT.saturating_sub(unsent).min(buf.len())
        };
        if room == 0 && !buf.is_empty() {
            store_waker(&mut s.writer, cx);
            return Poll::Pending;
        }
        if s.pending.capacity() == 0 {
            if let Some(spare) = spare.pop() {
                s.pending = spare;
            }
        }
        s.pending.extend_from_slice(&buf[..room]);
        if !s.queued && room > 0 {
            s.queued = true;
            send_queue.push(key);
        }
        Poll::Ready(Ok(room))
    }

    /// Ready once every byte accepted by writes on stream `key` has been sent (or a send
    /// failed, which it returns).
    pub(crate) fn poll_sent(&self, key: Key, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.inner.borrow_mut();
        let Some(Source::Stream(s)) = inner.st.sources.get_mut(key) else {
            return Poll::Ready(Err(not_registered()));
        };
        if let Some(errno) = s.write_error {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if s.pending.is_empty() && s.sending.is_none() {
            return Poll::Ready(Ok(()));
        }
        store_waker(&mut s.writer, cx);
        Poll::Pending
    }

    /// Ready once the connect in progress on stream `key` finished (its outcome is the
    /// socket's `SO_ERROR`, read by the caller).
    pub(crate) fn poll_connected(&self, key: Key, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.inner.borrow_mut();
        let Inner { ring, st } = &mut *inner;
        let Some(Source::Stream(s)) = st.sources.get_mut(key) else {
            return Poll::Ready(Err(not_registered()));
        };
        if s.connected {
            return Poll::Ready(Ok(()));
        }
        if !s.connecting {
            match ring.poll_writable_direct(s.fd.as_fd(), key.compact()) {
                Ok(()) => s.connecting = true,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        store_waker(&mut s.writer, cx);
        Poll::Pending
    }

    /// Takes the next connection accepted on listener `key`; `Pending` (with the accept
    /// armed) when there is none.
    pub(crate) fn poll_accept(&self, key: Key, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        let mut inner = self.inner.borrow_mut();
        let Inner { ring, st } = &mut *inner;
        let Some(Source::Listener(l)) = st.sources.get_mut(key) else {
            return Poll::Ready(Err(not_registered()));
        };
        if let Some(fd) = l.accepted.pop_front() {
            return Poll::Ready(Ok(fd));
        }
        if let Some(e) = l.error.take() {
            return Poll::Ready(Err(e));
        }
        if !l.accept {
            match ring.accept_multishot_direct(l.fd.as_fd(), key.compact()) {
                Ok(()) => l.accept = true,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        store_waker(&mut l.waiter, cx);
        Poll::Pending
    }

    /// Buffers provided to the kernel so far, and leased to streams now (for tests).
    #[cfg(test)]
    pub(crate) fn buffer_census(&self) -> (u16, usize) {
        let inner = self.inner.borrow();
        (
            inner.ring.buffers_provided(inner.st.group).0,
            inner.st.leased,
        )
    }
}

impl Driver for UringDriver {
    fn wait(&self, block: bool, deadline: Option<Instant>) -> io::Result<WaitOutcome> {
        // The list stays borrowed while wakers run: only a wait touches it, and a waker
        // never waits (as the epoll driver's event buffer).
        let mut woken = self.woken.borrow_mut();
        let outcome = {
            let Inner { ring, st } = &mut *self.inner.borrow_mut();
            st.turn(ring, block, deadline, &mut woken)
        };
        // By index, then cleared (cheaper than a `Drain` for the one or two of a turn).
        for i in 0..woken.len() {
            if let Some(waker) = woken[i].take() {
                waker.wake();
            }
        }
        woken.clear();
        outcome
    }

    fn wants_wait(&self) -> bool {
        !self.inner.borrow().st.send_queue.is_empty()
    }

    fn sources(&self) -> usize {
        self.inner.borrow().st.live
    }
}

impl State {
    /// One turn of the ring: submit what was queued, wait (when `block`, for at least one
    /// completion, at most until `deadline`), and record every completion, moving the
    /// waiters to wake into `woken`.
    #[inline]
    fn turn(
        &mut self,
        ring: &mut Ring,
        block: bool,
        deadline: Option<Instant>,
        woken: &mut Woken,
    ) -> io::Result<WaitOutcome> {
        self.flush_sends(ring);
        self.rearm_starved(ring);
        if block {
            if let Some(deadline) = deadline {
                self.arm_timer(ring, deadline)?;
            }
        }
        ring.submit_and_wait(usize::from(block))?;
        let mut outcome = WaitOutcome::default();
        ring.drain_direct(|ring, ev| self.complete(ring, ev, &mut outcome, woken));
        Ok(outcome)
    }

    /// Pushes one send of its pending bytes for every stream written to since the last
    /// wait that has no send in flight.
    #[inline]
    fn flush_sends(&mut self, ring: &mut Ring) {
        // By index, then cleared: nothing here queues a stream again.
        for i in 0..self.send_queue.len() {
            let key = self.send_queue[i];
            if let Some(Source::Stream(s)) = self.sources.get_mut(key) {
                s.queued = false;
                start_send(ring, s, key);
            }
        }
        self.send_queue.clear();
    }

    /// Re-arms the receives that ran out of buffers, once some are free again.
    fn rearm_starved(&mut self, ring: &mut Ring) {
        if self.starved.is_empty() {
            return;
        }
        let (provided, _) = ring.buffers_provided(self.group);
        if self.leased >= usize::from(provided) {
            return; // every buffer is still held by a stream that has not read it
        }
        for key in std::mem::take(&mut self.starved) {
            if let Some(Source::Stream(s)) = self.sources.get_mut(key) {
                s.starved = false;
                if !s.recv && !s.dropped && matches!(s.read_end, ReadEnd::Open) {
                    match ring.recv_multishot_direct(s.fd.as_fd(), self.group, key.compact()) {
                        Ok(()) => s.recv = true,
                        Err(e) => s.read_end = ReadEnd::Error(e),
                    }
                }
            }
        }
    }

    /// Pushes a timeout for `deadline` unless one for it or earlier is in flight; a later
    /// one in flight is cancelled (it would only wake the loop for nothing).
    fn arm_timer(&mut self, ring: &mut Ring, deadline: Instant) -> io::Result<()> {
        if let Some((armed, op)) = self.timer {
            if armed <= deadline {
                return Ok(());
            }
            ring.cancel(op)?;
        }
        let after = deadline.saturating_duration_since(Instant::now());
        let op = ring.timeout(after, TIMER_TOKEN)?;
        self.timer = Some((deadline, op));
        Ok(())
    }

    /// Records one completion.
    #[inline]
    fn complete(
        &mut self,
        ring: &mut Ring,
        ev: Event,
        outcome: &mut WaitOutcome,
        woken: &mut Woken,
    ) {
        #[cfg(feature = "mutants")]
        if ev.kind != OpKind::Timeout && ev.token != NOTIFY_TOKEN {
            outcome.sockets_ready = true;
        }
        match ev.kind {
            OpKind::Recv => self.complete_recv(ring, ev, woken),
            OpKind::Send => self.complete_send(ring, ev, woken),
            OpKind::Accept => self.complete_accept(ev, woken),
            OpKind::Poll if ev.token == NOTIFY_TOKEN => {
                outcome.notified = true;
                if !ev.more {
                    // The multishot poll ended (a full completion queue, say): re-arm it.
                    let _ =
                        ring.poll_readable_multishot_direct(self.notifier.as_fd(), NOTIFY_TOKEN);
                }
            }
            OpKind::Poll => {
                let Some((key, source)) = self.sources.get_mut_compact(ev.token) else {
                    return;
                };
                if let Source::Stream(s) = source {
                    s.connecting = false;
                    s.connected = true;
                    take_waiter(&mut s.writer, Side::Write, woken);
                }
                self.free_if_done(key);
            }
            OpKind::Timeout => {
                if self.timer.is_some_and(|(_, op)| Some(op) == ev.op) {
                    self.timer = None;
                }
            }
        }
    }

    #[inline]
    fn complete_recv(&mut self, ring: &mut Ring, ev: Event, woken: &mut Woken) {
        let Some((key, Source::Stream(s))) = self.sources.get_mut_compact(ev.token) else {
            if let Outcome::Received(lease) = ev.outcome {
                ring.recycle(lease);
            }
            return;
        };
        if !ev.more {
            s.recv = false;
        }
        match ev.outcome {
            Outcome::Received(lease) if ev.res > 0 && !s.dropped => {
                s.chunks.push(&mut self.chunks, lease);
                self.leased += 1;
                if s.chunks.len == MAX_QUEUED_CHUNKS && s.recv {
                    // Flow control: the socket's own buffer holds the rest.
                    let _ = ring.cancel_recv_direct(self.group, ev.token);
                }
            }
            outcome => {
                if let Outcome::Received(lease) = outcome {
                    ring.recycle(lease); // the stream is gone, or nothing was received
                }
                match -ev.res {
                    0 => s.read_end = ReadEnd::Eof { reported: false },
                    // A stream at its chunk limit stays paused (its reader re-arms it) and
                    // does not grow the group: only streams that keep up make it grow.
                    libc::ENOBUFS if s.chunks.len < MAX_QUEUED_CHUNKS => {
                        s.starved = true;
                        self.starved.push(key);
                        let (provided, most) = ring.buffers_provided(self.group);
                        if provided < most {
                            ring.provide_buffers(self.group, provided);
                        }
                    }
                    libc::ENOBUFS | libc::ECANCELED => {}
                    errno if errno > 0 => {
                        s.read_end = ReadEnd::Error(io::Error::from_raw_os_error(errno))
                    }
                    _ => {} // bytes for a stream that is gone
                }
            }
        }
        if s.dropped {
            self.free_if_done(key);
            return;
        }
        if !s.recv && !s.starved && s.chunks.len == 0 && matches!(s.read_end, ReadEnd::Open) {
            // Ended with nothing to read (paused and drained, or a full completion queue
            // ended it): receive on.
            match ring.recv_multishot_direct(s.fd.as_fd(), self.group, ev.token) {
                Ok(()) => s.recv = true,
                Err(e) => s.read_end = ReadEnd::Error(e),
            }
        }
        // A starved stream's reader is woken too: it reads the socket itself.
        if s.chunks.len > 0 || s.starved || !matches!(s.read_end, ReadEnd::Open) {
            take_waiter(&mut s.reader, Side::Read, woken);
        }
    }

    #[inline]
    fn complete_send(&mut self, ring: &mut Ring, ev: Event, woken: &mut Woken) {
        let Outcome::SentBytes(mut data) = ev.outcome else {
            return;
        };
        let Some((key, Source::Stream(s))) = self.sources.get_mut_compact(ev.token) else {
            return;
        };
        s.sending = None;
        if ev.res >= 0 {
            let n = (ev.res as usize).min(data.len());
            if n < data.len() {
                // A short send: the rest goes first, before bytes written since.
                data.drain(..n);
                data.extend_from_slice(&s.pending);
                let emptied = std::mem::replace(&mut s.pending, data);
                keep_spare(&mut self.spare, emptied);
            } else {
                // To the pool, not kept by the stream: buffers scale with sends in flight.
                keep_spare(&mut self.spare, data);
            }
            start_send(ring, s, key);
        } else {
            s.write_error = Some(-ev.res);
            s.pending.clear();
            keep_spare(&mut self.spare, data);
        }
        take_waiter(&mut s.writer, Side::Write, woken);
        if s.dropped {
            self.free_if_done(key);
        }
    }

    fn complete_accept(&mut self, ev: Event, woken: &mut Woken) {
        let Some((key, Source::Listener(l))) = self.sources.get_mut_compact(ev.token) else {
            return; // an accepted fd in `ev` is closed here
        };
        if !ev.more {
            l.accept = false;
        }
        match ev.outcome {
            Outcome::Accepted(fd) if !l.dropped => l.accepted.push_back(fd),
            _ if ev.res < 0 && ev.res != -libc::ECANCELED && !l.dropped => {
                l.error = Some(io::Error::from_raw_os_error(-ev.res))
            }
            _ => {}
        }
        if l.dropped {
            self.free_if_done(key);
            return;
        }
        take_waiter(&mut l.waiter, Side::Read, woken);
    }

    /// See [`UringDriver::release`]; returns what must be dropped outside the borrow.
    fn release(&mut self, ring: &mut Ring, key: Key) -> (Option<Source>, [Option<Waker>; 2]) {
        let wakers = match self.sources.get_mut(key) {
            None => return (None, [None, None]),
            Some(Source::Stream(s)) => {
                if s.dropped {
                    return (None, [None, None]);
                }
                s.dropped = true;
                while let Some(lease) = s.chunks.pop(&mut self.chunks) {
                    ring.recycle(lease);
                    self.leased -= 1;
                }
                if s.recv {
                    let _ = ring.cancel_recv_direct(self.group, key.compact());
                }
                if s.connecting {
                    let _ = ring.cancel_direct(OpKind::Poll, key.compact());
                }
                if s.write_error.is_none() && !s.pending.is_empty() && !s.queued {
                    s.queued = true;
                    self.send_queue.push(key);
                }
                [s.reader.take(), s.writer.take()]
            }
            Some(Source::Listener(l)) => {
                if l.dropped {
                    return (None, [None, None]);
                }
                l.dropped = true;
                l.accepted.clear();
                if l.accept {
                    let _ = ring.cancel_direct(OpKind::Accept, key.compact());
                }
                [l.waiter.take(), None]
            }
        };
        self.live -= 1;
        (self.free_if_done_returning(key), wakers)
    }

    /// Frees a dropped source once no operation on it is in flight (its fd then closes).
    fn free_if_done(&mut self, key: Key) {
        drop(self.free_if_done_returning(key));
    }

    fn free_if_done_returning(&mut self, key: Key) -> Option<Source> {
        let done = match self.sources.get(key)? {
            Source::Stream(s) => {
                s.dropped
                    && !s.recv
                    && !s.connecting
                    && s.sending.is_none()
                    && (s.pending.is_empty() || s.write_error.is_some())
            }
            Source::Listener(l) => l.dropped && !l.accept,
        };
        if !done {
            return None;
        }
        let source = self.sources.remove(key)?;
        if let Source::Stream(mut s) = source {
            keep_spare(&mut self.spare, std::mem::take(&mut s.pending));
            return Some(Source::Stream(s));
        }
        Some(source)
    }
}

/// Pushes a send of stream `s`'s pending bytes unless one is in flight (or sends failed).
#[inline(always)]
fn start_send(ring: &mut Ring, s: &mut StreamSource, key: Key) {
    if s.sending.is_none() && !s.pending.is_empty() && s.write_error.is_none() {
        push_send(ring, s, key);
    }
}

/// [`start_send`]'s push.
#[inline(never)]
fn push_send(ring: &mut Ring, s: &mut StreamSource, key: Key) {
    let data = std::mem::take(&mut s.pending);
    let len = data.len();
    match ring.send_direct(s.fd.as_fd(), data, key.compact()) {
        Ok(()) => s.sending = Some(len),
        Err(e) => s.write_error = Some(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

/// Keeps an emptied send buffer for reuse (up to a bound, and only a modest one).
#[inline]
fn keep_spare(spare: &mut Vec<Vec<u8>>, mut buf: Vec<u8>) {
    if buf.capacity() > 0 && buf.capacity() <= SPARE_CAPACITY && spare.len() < SPARE_SENDS {
        buf.clear();
        spare.push(buf);
    }
}

/// Adds a source's waiter to the list of waiters to wake: a reader's (or an accepting
/// task's) waker stays in place and a clone is woken (one reference count up and down, and
/// no second lookup of its source to put it back after waking); a writer's is
/// moved out: a task rarely waits to write twice in a row (a finished connect, the send
/// limit, a close), and a kept waker would be woken by every later send completion for
/// nothing.
#[inline]
fn take_waiter(slot: &mut Option<Waker>, side: Side, woken: &mut Woken) {
    let waker = match side {
        Side::Read => slot.clone(),
        Side::Write => slot.take(),
    };
    if waker.is_some() {
        woken.push(waker);
    }
}

/// Keeps the waker of the task now waiting, cloning only when it changed.
#[inline]
fn store_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        slot => *slot = Some(cx.waker().clone()),
    }
}
