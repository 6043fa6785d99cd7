//! io_uring, behind a safe interface: the system-call layer for an io_uring echo loop
//! (`uring-floor`) and for evloop's io_uring driver. Built on the `io-uring` crate; every
//! `unsafe` block of it is here, each with the invariant that makes it sound.
//!
//! What it offers: a [`Ring`] set up with one clear error where io_uring is unavailable
//! ([`Ring::new`]); operations pushed without a system call and submitted together by one
//! [`Ring::submit_and_wait`] per loop iteration; multishot accept; multishot receive into a
//! provided buffer ring ([`Ring::add_buffer_group`], buffer ids recycled with
//! [`Ring::recycle`]); sends from owned bytes or straight from a received buffer; multishot
//! readiness polls (for an eventfd); timeouts; cancellation; completions drained in batches
//! ([`Ring::drain`]). Every operation carries a caller's `token` and comes back as a
//! [`Completion`] with it.
//!
//! The **direct interface** (`*_direct`, [`Ring::drain_direct`]) does the same without the
//! operation table: the `user_data` is the operation's class and the caller's token (at
//! most 56 bits), so a completion is routed by the caller with no second lookup and comes
//! back as an [`Event`] with the kernel's raw result. What a direct operation must keep
//! alive is still the ring's: a direct send's bytes sit in the ring's send slot named by its
//! token's low 32 bits (one send per slot in flight); receives, accepts and polls name no
//! memory of the caller's. It is cancelled by kind and token ([`Ring::cancel_direct`]).
//!
//! # Buffer ownership (the protocol every `unsafe` block below relies on)
//!
//! The kernel may read or write memory named by an operation from the moment it is pushed
//! until its last completion (the one without `more`) has been reaped. So:
//! 1. Memory an operation names is owned by the ring, never by the caller, while the
//!    operation is in flight: owned send bytes and timeout `timespec`s are moved into the
//!    operation's slot (a direct send's bytes into the ring's send slot) and handed back in
//!    its final [`Completion`] (or [`Event`]); provided buffers live in the ring's buffer
//!    groups.
//! 2. A provided buffer belongs either to the kernel (it is in the buffer ring, and a
//!    receive may fill it at any time) or to exactly one [`BufLease`] (after a receive
//!    completion named its id). Only the lease's holder may read it ([`Ring::bytes`]) or
//!    send from it ([`Ring::send_buffer`], which moves the lease into the send until that
//!    completes); only [`Ring::recycle`], which consumes the lease, gives it back to the
//!    kernel. A lease cannot be copied, so a buffer is never in the kernel's hands and
//!    readable at once. (A dropped lease just leaves its buffer out of circulation.)
//! 3. Ring memory outlives every operation: dropping the [`Ring`] first cancels everything in
//!    flight and reaps completions until none is outstanding; only then are the buffer rings
//!    unregistered and their memory freed. If that cannot be finished (the kernel refuses the
//!    wait), the memory is leaked rather than freed under the kernel's feet.
//!
//! File descriptors are passed by [`BorrowedFd`] and used by number: the kernel holds its own
//! reference to the file while an operation runs. So closing an fd does not end a multishot
//! receive or accept on it: cancel it ([`Ring::cancel`]) and close after its final completion.
//! A direct receive or send may name instead a slot of the ring's registered file table
//! ([`Target::Fixed`], [`Ring::register_file_table`], [`Ring::set_file`]): the kernel then
//! skips looking the file up for each operation. The table holds its own reference to each
//! file in it, so an fd closed while its file is in the table stays open until the slot is
//! emptied.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

/// `user_data` of internal operations (cancellations), whose completions are not reported.
const INTERNAL: u64 = u64::MAX;

/// Where the class of an operation sits in its `user_data` (the top four bits): 0 for an
/// operation of the slot table ([`OpId`]), [`CLASS_INTERNAL`] for [`INTERNAL`], and one per
/// kind for the direct interface ([`Ring::recv_multishot_direct`] and the like), whose
/// `user_data` is the class, then (for a receive) the buffer group, then the caller's token.
const CLASS_SHIFT: u32 = 60;
const CLASS_SLOT: u64 = 0;
const CLASS_RECV: u64 = 1;
const CLASS_SEND: u64 = 2;
const CLASS_ACCEPT: u64 = 3;
const CLASS_POLL: u64 = 4;
const CLASS_INTERNAL: u64 = 0xf;
/// Bits of a direct receive's buffer group (groups 0 to 15), below the class.
const GROUP_SHIFT: u32 = 56;
/// A direct operation's token: the low 56 bits of its `user_data`.
pub const DIRECT_TOKEN_MASK: u64 = (1 << GROUP_SHIFT) - 1;
/// Slot generations wrap below the class bits.
const GENERATION_MASK: u32 = (1 << (CLASS_SHIFT - 32)) - 1;

/// Bytes of one buffer-ring entry (`struct io_uring_buf`).
const BUF_ENTRY_SIZE: usize = 16;

/// Alignment the kernel requires of a buffer ring.
const PAGE: usize = 4096;

/// The oldest kernel with everything used here: multishot receive with provided buffer
/// rings (6.0), `IORING_ASYNC_CANCEL_ANY` (5.19).
const MIN_KERNEL: (u32, u32) = (6, 0);

/// Source of ring ids, so a lease is only ever used with the ring that issued it.
static NEXT_RING: AtomicU64 = AtomicU64::new(1);

/// An in-flight operation, as returned when it is pushed; used to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpId {
    /// Slot in the ring's operation table.
    index: u32,
    /// The slot's generation when the operation was pushed (slots are reused).
    generation: u32,
}

impl OpId {
    /// What [`Completion::op`] holds for an operation of the direct interface (no slot's:
    /// generations stay below `GENERATION_MASK`, so it matches none).
    const DIRECT: OpId = OpId {
        index: u32::MAX,
        generation: u32::MAX,
    };

    fn user_data(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    fn from_user_data(data: u64) -> Self {
        Self {
            index: data as u32,
            generation: (data >> 32) as u32,
        }
    }
}

/// What kind of operation a completion belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Multishot accept: one completion per connection.
    Accept,
    /// Multishot receive into a provided buffer: one completion per chunk.
    Recv,
    /// A send of owned bytes or of a received buffer.
    Send,
    /// Multishot readiness poll (readable).
    Poll,
    /// A timeout.
    Timeout,
}

/// The file a direct receive or send works on.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A file descriptor, looked up by the kernel for each operation.
    Fd(BorrowedFd<'a>),
    /// A slot of the ring's registered file table ([`Ring::set_file`]).
    Fixed(u32),
}

impl<'a> From<BorrowedFd<'a>> for Target<'a> {
    fn from(fd: BorrowedFd<'a>) -> Self {
        Target::Fd(fd)
    }
}

/// A provided buffer group, as registered by [`Ring::add_buffer_group`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferGroup(u16);

/// The right to one provided buffer that a receive filled: read it with [`Ring::bytes`],
/// send from it with [`Ring::send_buffer`], give it back with [`Ring::recycle`].
#[derive(Debug)]
pub struct BufLease {
    /// The ring that issued it.
    ring: u64,
    /// Its group.
    group: u16,
    /// Its buffer id.
    id: u16,
    /// Bytes the receive put in it.
    len: u32,
}

impl BufLease {
    /// Bytes received into the buffer.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The buffer's id in its group.
    pub fn buffer_id(&self) -> u16 {
        self.id
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What an operation hands back besides its result.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing.
    None,
    /// An accepted connection (blocking, close-on-exec).
    Accepted(OwnedFd),
    /// A receive filled this buffer (the completion's result is its length).
    Received(BufLease),
    /// A send from this buffer finished (fully or partly: see the result).
    SentBuffer(BufLease),
    /// A send of these owned bytes finished (fully or partly: see the result).
    SentBytes(Vec<u8>),
}

/// One completion, as [`Ring::drain`] reports it.
#[derive(Debug)]
pub struct Completion {
    /// The token the operation was pushed with.
    pub token: u64,
    /// The operation.
    pub op: OpId,
    /// Its kind.
    pub kind: OpKind,
    /// The kernel's result: bytes moved, or 0 for an accept and an expired timeout; an error
    /// (`ECANCELED` after [`Ring::cancel`], `ENOBUFS` when a receive found no free buffer).
    pub result: io::Result<u32>,
    /// More completions of this (multishot) operation will follow; when false this was its
    /// last, and whatever it owned is in `outcome`.
    pub more: bool,
    /// What the operation hands back.
    pub outcome: Outcome,
}

/// One completion, as [`Ring::drain_direct`] reports it: the direct interface's, with the
/// kernel's result as it is (no slot looked up, no `io::Error` built).
#[derive(Debug)]
pub struct Event {
    /// The token the operation was pushed with.
    pub token: u64,
    /// Its kind.
    pub kind: OpKind,
    /// The kernel's result: bytes moved, a poll's event mask, an accepted fd (then in
    /// `outcome`), or a negative errno (`-ECANCELED` after a cancel, `-ENOBUFS` when a
    /// receive found no free buffer, `-ETIME` for an expired timeout).
    pub res: i32,
    /// More completions of this (multishot) operation will follow.
    pub more: bool,
    /// What the operation hands back (as in [`Completion`]).
    pub outcome: Outcome,
    /// The operation, when it was pushed through the slot table (a timeout, say); `None`
    /// for the direct interface's.
    pub op: Option<OpId>,
}

/// Memory an in-flight operation names, owned by its slot until the final completion.
enum Held {
    /// Nothing (accept, poll, multishot receive).
    Nothing,
    /// Owned bytes being sent.
    Bytes(Vec<u8>),
    /// A provided buffer being sent.
    Lease(BufLease),
    /// A timeout's duration (never read here: held so the kernel can read it).
    #[allow(dead_code)]
    Timespec(Box<types::Timespec>),
}

/// A slot of the operation table.
struct Slot {
    /// Bumped each time the slot is freed, so a stale [`OpId`] matches nothing.
    generation: u32,
    /// The operation in flight, if any.
    op: Option<InFlight>,
}

/// An operation in flight.
struct InFlight {
    /// The caller's token.
    token: u64,
    /// Its kind.
    kind: OpKind,
    /// The buffer group a receive reads into (0 for other kinds).
    group: u16,
    /// The memory it names.
    held: Held,
}

/// One provided buffer ring and its buffers.
struct BufferPool {
    /// The ring of `count` entries, page-aligned, zeroed at allocation (tail 0).
    ring: NonNull<u8>,
    /// The buffers, `count * size` bytes.
    bufs: NonNull<u8>,
    /// Entries (a power of two) and buffers.
    count: u16,
    /// Buffers handed out so far (ids `0..provided`); the others have never been used, so
    /// their pages are not even touched.
    provided: u16,
    /// Bytes per buffer.
    size: u32,
    /// Our tail: entries added so far (wrapping); published to the kernel by `publish`.
    tail: u16,
    /// Whether `tail` has moved since it was last published.
    dirty: bool,
}

/// Anonymous private memory of `len` bytes, page-aligned and zero-filled by the kernel on
/// first touch: pages never touched (buffers never provided or never used) are never
/// resident. (`alloc_zeroed` with more than malloc's alignment writes every byte: a 32 MiB
/// buffer group would be resident at once.)
fn map_zeroed(len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: an anonymous private mapping with no address hint creates fresh memory that
    // aliases nothing; the result is checked before use.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "cannot map the provided buffers: {}",
                io::Error::last_os_error()
            ),
        ));
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))
}

/// Unmaps memory from [`map_zeroed`].
///
/// # Safety
/// `p` and `len` are a mapping from `map_zeroed` that nothing (kernel included) uses any more.
unsafe fn unmap(p: NonNull<u8>, len: usize) {
    // SAFETY: the caller's contract.
    unsafe {
        libc::munmap(p.as_ptr().cast(), len);
    }
}

impl BufferPool {
    fn ring_len(count: u16) -> usize {
        (usize::from(count) * BUF_ENTRY_SIZE).next_multiple_of(PAGE)
    }

    fn bufs_len(count: u16, size: u32) -> usize {
        usize::from(count) * size as usize
    }

    /// Maps a pool of `count` buffers of `size` bytes (count a power of two). The memory is
    /// zero-filled: the ring's tail starts at 0, and buffer bytes are initialised for Rust
    /// even where only the kernel writes them.
    fn new(count: u16, size: u32) -> io::Result<Self> {
        let ring = map_zeroed(Self::ring_len(count))?;
        let bufs = match map_zeroed(Self::bufs_len(count, size)) {
            Ok(b) => b,
            Err(e) => {
                // SAFETY: just mapped, and nothing else has seen it.
                unsafe { unmap(ring, Self::ring_len(count)) };
                return Err(e);
            }
        };
        Ok(Self {
            ring,
            bufs,
            count,
            provided: 0,
            size,
            tail: 0,
            dirty: false,
        })
    }

    /// Puts buffer `id` in the next ring entry (not yet visible to the kernel).
    #[inline]
    fn add(&mut self, id: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        let addr = self.buffer_ptr(id) as u64;
        // SAFETY: `slot < count`, so the entry lies inside the ring allocation. The entry is
        // past the tail the kernel last saw, so the kernel does not read it until `publish`
        // stores the new tail (with release ordering). Protocol rule 2: `id` came back from
        // its lease (or is provided for the first time), so no other entry holds it, and at
        // most `count` buffers exist, so the ring never holds more than `count` entries.
        // Only `addr`, `len` and `bid` are written: entry 0's last field is the ring's tail.
        unsafe {
            let entry = self
                .ring
                .as_ptr()
                .add(slot * BUF_ENTRY_SIZE)
                .cast::<types::BufRingEntry>();
            (*entry).set_addr(addr);
            (*entry).set_len(self.size);
            (*entry).set_bid(id);
        }
        self.tail = self.tail.wrapping_add(1);
        self.dirty = true;
    }

    /// Adds up to `more` buffers never provided before (ids from `provided` on) to the ring;
    /// returns how many.
    fn provide(&mut self, more: u16) -> u16 {
        let added = more.min(self.count - self.provided);
        for id in self.provided..self.provided + added {
            self.add(id);
        }
        self.provided += added;
        added
    }

    /// Makes the entries added so far visible to the kernel.
    #[inline]
    fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        // SAFETY: the tail is the `resv` field of entry 0, a `u16` at offset 14 of the
        // page-aligned ring (so aligned for `AtomicU16`), shared with the kernel, which only
        // reads it; the release store orders the entries written by `add` before it.
        unsafe {
            let tail = types::BufRingEntry::tail(self.ring.as_ptr().cast::<types::BufRingEntry>());
            AtomicU16::from_ptr(tail.cast_mut()).store(self.tail, Ordering::Release);
        }
        self.dirty = false;
    }

    /// Start of buffer `id`.
    #[inline]
    fn buffer_ptr(&self, id: u16) -> *mut u8 {
        debug_assert!(id < self.count);
        // SAFETY: `id < count`, so the offset stays inside the buffers' allocation.
        unsafe { self.bufs.as_ptr().add(usize::from(id) * self.size as usize) }
    }

    /// Frees the memory. Only once the kernel can no longer touch it (rule 3).
    fn free(self) {
        // SAFETY: both mappings came from `map_zeroed` with these lengths (in `new`), and the
        // caller has unregistered the ring with no operation in flight.
        unsafe {
            unmap(self.ring, Self::ring_len(self.count));
            unmap(self.bufs, Self::bufs_len(self.count, self.size));
        }
    }
}

/// An io_uring instance with its operation table and provided buffer groups.
pub struct Ring {
    /// The kernel ring (submission and completion queues).
    uring: IoUring,
    /// This ring's id (see [`BufLease`]).
    id: u64,
    /// Operations by slot; `free` lists the empty slots.
    slots: Vec<Slot>,
    /// Empty slots, reused last-in first-out.
    free: Vec<u32>,
    /// User operations in flight.
    in_flight: usize,
    /// Internal operations (cancellations) in flight.
    internal_in_flight: usize,
    /// Provided buffer groups, by group id.
    pools: Vec<BufferPool>,
    /// Completion entries copied out of the queue by `drain` (reused).
    cqes: Vec<cqueue::Entry>,
    /// Bytes of the direct sends in flight, by the low 32 bits of their token (rule 1).
    sends: Vec<Option<Vec<u8>>>,
}

/// The reason io_uring cannot be used here, as one clear sentence.
fn unavailable(err: &io::Error) -> io::Error {
    let why = match err.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no io_uring (ENOSYS: older than 5.1 or built \
                               without CONFIG_IO_URING)"
            .to_string(),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            match std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
            {
                Some(2) => "io_uring is disabled by the sysctl kernel.io_uring_disabled=2".into(),
                Some(1) => "io_uring is restricted by the sysctl kernel.io_uring_disabled=1 to \
                            the group kernel.io_uring_group, and this process is not in it"
                    .into(),
                _ => format!(
                    "io_uring_setup was denied ({err}): a seccomp filter or a container \
                     policy forbids io_uring here"
                ),
            }
        }
        Some(libc::ENOMEM) => format!(
            "io_uring_setup failed for lack of memory ({err}): raise RLIMIT_MEMLOCK \
             (ulimit -l) on kernels before 5.12"
        ),
        _ => format!("io_uring_setup failed: {err}"),
    };
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("io_uring unavailable: {why}"),
    )
}

/// The running kernel's version (major, minor), if `uname` says.
fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Maps a completion's result to `io::Result`.
fn cqe_result(res: i32) -> io::Result<u32> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as u32)
    }
}

impl Ring {
    /// Sets up a ring with `entries` submission entries (and four times as many completion
    /// entries, room for multishot bursts). Where io_uring cannot be used (no kernel support,
    /// `kernel.io_uring_disabled`, seccomp, a kernel older than 6.0) the error is
    /// [`io::ErrorKind::Unsupported`] with one sentence saying why.
    pub fn new(entries: u32) -> io::Result<Self> {
        Self::with_setup(entries, false)
    }

    /// Like [`Ring::new`], with `IORING_SETUP_DEFER_TASKRUN` besides (Linux 6.1): the kernel
    /// runs the ring's completion work only when this thread waits for completions, in one
    /// batch, never by interrupting it. So completions are posted only by a wait: this ring
    /// must be waited on with [`Ring::submit_and_wait`] (`want >= 1`) or
    /// [`Ring::submit_and_wait_for`], from the thread that created it, before
    /// [`Ring::drain`]; a plain [`Ring::submit`] posts nothing. An error where the flag is
    /// unknown (then [`Ring::new`] is the fallback).
    pub fn new_deferred(entries: u32) -> io::Result<Self> {
        Self::with_setup(entries, true)
    }

    fn with_setup(entries: u32, defer_taskrun: bool) -> io::Result<Self> {
        if let Some(v) = kernel_version() {
            if v < MIN_KERNEL {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "io_uring unavailable: multishot receive into provided buffer rings \
                         needs Linux {}.{} or newer; this kernel is {}.{}",
                        MIN_KERNEL.0, MIN_KERNEL.1, v.0, v.1
                    ),
                ));
            }
        }
        let mut builder = IoUring::builder();
        builder
            .setup_cqsize(entries.saturating_mul(4))
            .setup_submit_all()
            .setup_coop_taskrun()
            .setup_single_issuer();
        if defer_taskrun {
            builder.setup_defer_taskrun();
        }
        let uring = builder.build(entries).map_err(|e| unavailable(&e))?;
        Ok(Self {
            uring,
            id: NEXT_RING.fetch_add(1, Ordering::Relaxed),
            slots: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            internal_in_flight: 0,
            pools: Vec::new(),
            cqes: Vec::new(),
            sends: Vec::new(),
        })
    }

    /// Registers a provided buffer ring of `count` buffers of `size` bytes each (`count` a
    /// power of two, at most 32768) and hands every buffer to the kernel.
    pub fn add_buffer_group(&mut self, count: u16, size: u32) -> io::Result<BufferGroup> {
        self.add_buffer_group_with(count, size, count)
    }

    /// Like [`Ring::add_buffer_group`], but hands only the first `provide` buffers to the
    /// kernel; [`Ring::provide_buffers`] adds more later. Memory for all `count` is reserved,
    /// but a buffer never provided is never touched, so it costs no resident memory.
    pub fn add_buffer_group_with(
        &mut self,
        count: u16,
        size: u32,
        provide: u16,
    ) -> io::Result<BufferGroup> {
        if count == 0 || !count.is_power_of_two() || count > 32768 || size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a buffer group needs a power-of-two count up to 32768 and a non-zero size (got {count} x {size})"),
            ));
        }
        let group = u16::try_from(self.pools.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many buffer groups"))?;
        let mut pool = BufferPool::new(count, size)?;
        // SAFETY: the ring memory is `count` entries, page-aligned, and stays allocated until
        // it is unregistered (in `Drop`, after every operation completed: rule 3).
        let registered = unsafe {
            self.uring.submitter().register_buf_ring_with_flags(
                pool.ring.as_ptr() as u64,
                count,
                group,
                0,
            )
        };
        if let Err(e) = registered {
            pool.free();
            return Err(io::Error::new(
                e.kind(),
                format!("cannot register a provided buffer ring ({e}): needs Linux 5.19 or newer"),
            ));
        }
        pool.provide(provide);
        pool.publish();
        self.pools.push(pool);
        Ok(BufferGroup(group))
    }

    /// Hands up to `more` never-used buffers of `group` to the kernel (visible from the next
    /// submit); returns how many it added (fewer once the group's `count` is reached).
    pub fn provide_buffers(&mut self, group: BufferGroup, more: u16) -> u16 {
        self.pools
            .get_mut(usize::from(group.0))
            .map_or(0, |pool| pool.provide(more))
    }

    /// Buffers of `group` handed out so far, and the most it can have.
    pub fn buffers_provided(&self, group: BufferGroup) -> (u16, u16) {
        self.pools
            .get(usize::from(group.0))
            .map_or((0, 0), |pool| (pool.provided, pool.count))
    }

    /// Takes a slot for a new operation.
    #[inline(always)]
    fn take_slot(&mut self, token: u64, kind: OpKind, group: u16, held: Held) -> OpId {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    op: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.op = Some(InFlight {
            token,
            kind,
            group,
            held,
        });
        self.in_flight += 1;
        OpId {
            index,
            generation: slot.generation,
        }
    }

    /// Pushes `entry` (tagged with `op`), submitting first if the queue is full.
    #[inline(always)]
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: protocol rule 1: whatever memory `entry` names is held by its slot (or
            // a buffer pool) until its final completion is reaped, and the ring outlives
            // every operation (rule 3).
            let pushed = unsafe { self.uring.submission().push(&entry) };
            if pushed.is_ok() {
                return Ok(());
            }
            self.publish_buffers();
            match self.uring.submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                // The completion queue is full: the caller must reap before pushing more.
                Err(e) => return Err(e),
            }
        }
    }

    /// Pushes a user operation; on failure its slot (and what it held) is released.
    #[inline(always)]
    fn push_op(&mut self, entry: squeue::Entry, op: OpId) -> io::Result<OpId> {
        match self.push(entry.user_data(op.user_data())) {
            Ok(()) => Ok(op),
            Err(e) => {
                drop(self.release(op.index));
                Err(e)
            }
        }
    }

    /// Frees slot `index`, returning the operation it held.
    #[inline(always)]
    fn release(&mut self, index: u32) -> Option<InFlight> {
        let slot = self.slots.get_mut(index as usize)?;
        let op = slot.op.take()?;
        slot.generation = slot.generation.wrapping_add(1) & GENERATION_MASK;
        self.free.push(index);
        self.in_flight -= 1;
        Some(op)
    }

    /// Multishot accept on `listener`: one [`Outcome::Accepted`] completion per connection,
    /// until an error or [`Ring::cancel`].
    pub fn accept_multishot(&mut self, listener: BorrowedFd<'_>, token: u64) -> io::Result<OpId> {
        let op = self.take_slot(token, OpKind::Accept, 0, Held::Nothing);
        let entry = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build();
        self.push_op(entry, op)
    }

    /// Multishot receive on `fd` into buffers of `group`: one [`Outcome::Received`] per chunk;
    /// it ends at end-of-stream (result 0), on an error, on `ENOBUFS` (no free buffer:
    /// recycle and arm it again) or on [`Ring::cancel`].
    #[inline]
    pub fn recv_multishot(
        &mut self,
        fd: BorrowedFd<'_>,
        group: BufferGroup,
        token: u64,
    ) -> io::Result<OpId> {
        if usize::from(group.0) >= self.pools.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unknown buffer group",
            ));
        }
        let op = self.take_slot(token, OpKind::Recv, group.0, Held::Nothing);
        let entry = opcode::RecvMulti::new(types::Fd(fd.as_raw_fd()), group.0).build();
        self.push_op(entry, op)
    }

    /// Sends `data` on `fd`; the bytes come back in [`Outcome::SentBytes`] with the count sent.
    #[inline]
    pub fn send(&mut self, fd: BorrowedFd<'_>, data: Vec<u8>, token: u64) -> io::Result<OpId> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let ptr = data.as_ptr();
        // Moving the Vec into the slot does not move its heap bytes: `ptr` stays valid.
        let op = self.take_slot(token, OpKind::Send, 0, Held::Bytes(data));
        let entry = opcode::Send::new(types::Fd(fd.as_raw_fd()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        self.push_op(entry, op)
    }

    /// Sends bytes `offset..` of a received buffer on `fd`; the lease comes back in
    /// [`Outcome::SentBuffer`] with the count sent (resend the rest, or recycle it).
    pub fn send_buffer(
        &mut self,
        fd: BorrowedFd<'_>,
        lease: BufLease,
        offset: usize,
        token: u64,
    ) -> io::Result<OpId> {
        let offset = offset.min(lease.len());
        let ptr = self.bytes(&lease)[offset..].as_ptr();
        let len = (lease.len() - offset) as u32;
        let op = self.take_slot(token, OpKind::Send, 0, Held::Lease(lease));
        let entry = opcode::Send::new(types::Fd(fd.as_raw_fd()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        self.push_op(entry, op)
    }

    /// Multishot readiness poll: a completion each time `fd` becomes readable (an eventfd
    /// for cross-thread wake-ups, say), until [`Ring::cancel`].
    pub fn poll_readable_multishot(&mut self, fd: BorrowedFd<'_>, token: u64) -> io::Result<OpId> {
        let op = self.take_slot(token, OpKind::Poll, 0, Held::Nothing);
        let entry = opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build();
        self.push_op(entry, op)
    }

    /// One-shot readiness poll: one completion when `fd` becomes writable (a connect in
    /// progress finished), with the `poll` event mask as its result.
    pub fn poll_writable(&mut self, fd: BorrowedFd<'_>, token: u64) -> io::Result<OpId> {
        let op = self.take_slot(token, OpKind::Poll, 0, Held::Nothing);
        let entry = opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), libc::POLLOUT as u32).build();
        self.push_op(entry, op)
    }

    /// A timeout `after` from now: completes with `Ok(0)` when it expires (or
    /// `ECANCELED` after [`Ring::cancel`]).
    pub fn timeout(&mut self, after: Duration, token: u64) -> io::Result<OpId> {
        let ts = Box::new(
            types::Timespec::new()
                .sec(after.as_secs())
                .nsec(after.subsec_nanos()),
        );
        let ptr: *const types::Timespec = &*ts;
        let op = self.take_slot(token, OpKind::Timeout, 0, Held::Timespec(ts));
        self.push_op(opcode::Timeout::new(ptr).build(), op)
    }

    /// Sets up the ring's registered file table: `slots` slots, all empty (Linux 5.19;
    /// an error where the kernel cannot, and then [`Target::Fd`] is the way).
    pub fn register_file_table(&mut self, slots: u32) -> io::Result<()> {
        self.uring.submitter().register_files_sparse(slots)
    }

    /// Puts `fd`'s file in slot `slot` of the registered file table, or empties the slot
    /// (`None`); one system call. Operations already in flight keep their own reference to
    /// the file they named; the slot's reference is the table's, dropped when it is emptied
    /// (or the ring is).
    pub fn set_file(&mut self, slot: u32, fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
        let raw = fd.map_or(-1, |fd| fd.as_raw_fd());
        self.uring
            .submitter()
            .register_files_update(slot, &[raw])
            .map(drop)
    }

    /// The `user_data` of a direct operation of `class` with `token`.
    #[inline(always)]
    fn direct_data(class: u64, token: u64) -> io::Result<u64> {
        if token > DIRECT_TOKEN_MASK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a direct operation's token has at most 56 bits",
            ));
        }
        Ok((class << CLASS_SHIFT) | token)
    }

    /// Pushes a direct operation (counted in flight until its final completion).
    #[inline(always)]
    fn push_direct(&mut self, entry: squeue::Entry) -> io::Result<()> {
        self.push(entry)?;
        self.in_flight += 1;
        Ok(())
    }

    /// [`Ring::recv_multishot`] through the direct interface: no operation slot, the
    /// completions come back from [`Ring::drain_direct`] with `token` (at most 56 bits; only
    /// buffer groups 0 to 15). Cancel it with [`Ring::cancel_direct`].
    #[inline]
    pub fn recv_multishot_direct<'a>(
        &mut self,
        target: impl Into<Target<'a>>,
        group: BufferGroup,
        token: u64,
    ) -> io::Result<()> {
        if usize::from(group.0) >= self.pools.len() || group.0 > 0xf {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unknown buffer group, or one the direct interface cannot name",
            ));
        }
        let data = Self::direct_data(CLASS_RECV, token)? | (u64::from(group.0) << GROUP_SHIFT);
        // Names no memory of the caller's: the kernel picks a provided buffer (rule 2).
        let entry = match target.into() {
            Target::Fd(fd) => opcode::RecvMulti::new(types::Fd(fd.as_raw_fd()), group.0).build(),
            Target::Fixed(slot) => opcode::RecvMulti::new(types::Fixed(slot), group.0).build(),
        }
        .user_data(data);
        self.push_direct(entry)
    }

    /// [`Ring::send`] through the direct interface: the bytes are held, until the final
    /// completion hands them back in [`Outcome::SentBytes`], in the ring's send slot named
    /// by the low 32 bits of `token`, so at most one direct send per such slot may be in
    /// flight (`InvalidInput` otherwise, and the bytes are dropped).
    #[inline]
    pub fn send_direct<'a>(
        &mut self,
        target: impl Into<Target<'a>>,
        data: Vec<u8>,
        token: u64,
    ) -> io::Result<()> {
        let user_data = Self::direct_data(CLASS_SEND, token)?;
        let slot = token as u32 as usize;
        if slot >= self.sends.len() {
            self.sends.resize_with(slot + 1, || None);
        }
        let held = &mut self.sends[slot];
        if held.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a direct send with this slot is already in flight",
            ));
        }
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        // Moving the Vec into the slot does not move its heap bytes: the pointer stays valid
        // until the final completion takes it out again (rule 1).
        let ptr = held.insert(data).as_ptr();
        let entry = match target.into() {
            Target::Fd(fd) => opcode::Send::new(types::Fd(fd.as_raw_fd()), ptr, len),
            Target::Fixed(slot) => opcode::Send::new(types::Fixed(slot), ptr, len),
        }
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(user_data);
        let pushed = self.push_direct(entry);
        if pushed.is_err() {
            // Never handed to the kernel.
            self.sends[slot] = None;
        }
        pushed
    }

    /// [`Ring::accept_multishot`] through the direct interface (see
    /// [`Ring::recv_multishot_direct`]).
    pub fn accept_multishot_direct(
        &mut self,
        listener: BorrowedFd<'_>,
        token: u64,
    ) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(Self::direct_data(CLASS_ACCEPT, token)?);
        self.push_direct(entry)
    }

    /// [`Ring::poll_readable_multishot`] through the direct interface.
    pub fn poll_readable_multishot_direct(
        &mut self,
        fd: BorrowedFd<'_>,
        token: u64,
    ) -> io::Result<()> {
        let entry = opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(Self::direct_data(CLASS_POLL, token)?);
        self.push_direct(entry)
    }

    /// [`Ring::poll_writable`] through the direct interface.
    pub fn poll_writable_direct(&mut self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let entry = opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), libc::POLLOUT as u32)
            .build()
            .user_data(Self::direct_data(CLASS_POLL, token)?);
        self.push_direct(entry)
    }

    /// Asks the kernel to cancel the direct operation of `kind` pushed with `token` (the
    /// oldest such one, if the caller pushed several); its final completion follows, as
    /// for [`Ring::cancel`]. A cancel of an operation no longer in flight finds nothing and
    /// does nothing, and it cannot reach an operation pushed after it. A receive is
    /// cancelled with [`Ring::cancel_recv_direct`], and a timeout has no direct form
    /// (both `InvalidInput`).
    pub fn cancel_direct(&mut self, kind: OpKind, token: u64) -> io::Result<()> {
        let class = match kind {
            OpKind::Send => CLASS_SEND,
            OpKind::Accept => CLASS_ACCEPT,
            OpKind::Poll => CLASS_POLL,
            OpKind::Recv | OpKind::Timeout => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cancel_direct cancels a send, an accept or a poll",
                ))
            }
        };
        self.cancel_user_data(Self::direct_data(class, token)?)
    }

    /// Asks the kernel to cancel the direct receive into `group` pushed with `token` (as
    /// [`Ring::cancel_direct`]).
    pub fn cancel_recv_direct(&mut self, group: BufferGroup, token: u64) -> io::Result<()> {
        let data =
            Self::direct_data(CLASS_RECV, token)? | (u64::from(group.0 & 0xf) << GROUP_SHIFT);
        self.cancel_user_data(data)
    }

    /// Pushes a cancel of the operation with `user_data`.
    fn cancel_user_data(&mut self, user_data: u64) -> io::Result<()> {
        self.push(
            opcode::AsyncCancel::new(user_data)
                .build()
                .user_data(INTERNAL),
        )?;
        self.internal_in_flight += 1;
        Ok(())
    }

    /// Asks the kernel to cancel `op`; its final completion follows (usually `ECANCELED`,
    /// or its own result if it finished first). False when `op` is no longer in flight.
    pub fn cancel(&mut self, op: OpId) -> io::Result<bool> {
        let live = self
            .slots
            .get(op.index as usize)
            .is_some_and(|s| s.generation == op.generation && s.op.is_some());
        if !live {
            return Ok(false);
        }
        self.push(
            opcode::AsyncCancel::new(op.user_data())
                .build()
                .user_data(INTERNAL),
        )?;
        self.internal_in_flight += 1;
        Ok(true)
    }

    /// Makes recycled buffers visible to the kernel.
    #[inline]
    fn publish_buffers(&mut self) {
        for pool in &mut self.pools {
            pool.publish();
        }
    }

    /// Submits everything pushed since the last call and waits for at least `want`
    /// completions (one system call). Interrupted waits return `Ok` (drain, then wait again).
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<()> {
        self.publish_buffers();
        #[cfg(feature = "memcheck")]
        if want > 0 {
            return self.submit_then_poll();
        }
        match self.uring.submit_and_wait(want) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The memcheck build's blocking wait (feature `memcheck`, only `ci/valgrind-evloop.sh`
    /// enables it): submit without waiting, then, if no completion is there yet, block in
    /// `poll(2)` on the ring's fd until one is. valgrind 3.19 does not treat `io_uring_enter`
    /// as a blocking call, so it keeps its one-thread-at-a-time lock while the thread waits
    /// in it and every other thread of the program (a test's writer, a `spawn_blocking`
    /// worker, a `call_soon_threadsafe` caller) would wait forever; `poll` it releases. What
    /// the kernel does to the ring and its buffers is the same either way.
    #[cfg(feature = "memcheck")]
    fn submit_then_poll(&mut self) -> io::Result<()> {
        match self.uring.submit() {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        if !self.uring.completion().is_empty() {
            return Ok(());
        }
        let mut pfd = libc::pollfd {
            fd: self.uring.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid `pollfd` that outlives the call, and the count is 1.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
        // Runs the task work that posts completions (the ring is set up with
        // `COOP_TASKRUN`), without waiting.
        match self.uring.submit() {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Submits everything pushed since the last call and waits until `want` completions are
    /// there or `timeout` has passed, whichever comes first: one `io_uring_enter` (with
    /// `IORING_ENTER_EXT_ARG`, Linux 5.11), so a loop's deadline needs no timeout operation
    /// and no timer file. A wait that times out or is interrupted returns `Ok`.
    pub fn submit_and_wait_for(&mut self, want: usize, timeout: Duration) -> io::Result<()> {
        self.publish_buffers();
        let ts = types::Timespec::new()
            .sec(timeout.as_secs())
            .nsec(timeout.subsec_nanos());
        let args = types::SubmitArgs::new().timespec(&ts);
        match self.uring.submitter().submit_with_args(want, &args) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Submits everything pushed so far without waiting.
    pub fn submit(&mut self) -> io::Result<()> {
        self.submit_and_wait(0)
    }

    /// Moves every completion available now into `out` (appended, in the kernel's order).
    pub fn drain(&mut self, out: &mut Vec<Completion>) {
        self.drain_with(|_, c| out.push(c));
    }

    /// Hands every completion available now to `f`, in the kernel's order, with the ring
    /// (so `f` may recycle buffers and push operations; what it pushes is submitted by the
    /// next submit).
    pub fn drain_with(&mut self, mut f: impl FnMut(&mut Ring, Completion)) {
        let ring_id = self.id;
        let mut cqes = std::mem::take(&mut self.cqes);
        loop {
            cqes.clear();
            cqes.extend(self.uring.completion());
            if cqes.is_empty() {
                break;
            }
            for cqe in &cqes {
                if let Some(c) = self.complete(ring_id, cqe) {
                    f(self, c);
                }
            }
        }
        self.cqes = cqes;
    }

    /// Hands every completion available now to `f`, in the kernel's order, as an [`Event`],
    /// with the ring (as [`Ring::drain_with`]). Entries are read one at a time straight from
    /// the completion queue (each slot is given back to the kernel once read).
    #[inline]
    pub fn drain_direct(&mut self, mut f: impl FnMut(&mut Ring, Event)) {
        loop {
            // The queue view is dropped here, which hands the entry's slot back.
            let next = self.uring.completion().next();
            let Some(cqe) = next else {
                return;
            };
            let data = cqe.user_data();
            match data >> CLASS_SHIFT {
                CLASS_INTERNAL => self.internal_in_flight -= 1,
                CLASS_SLOT => self.slot_event(&cqe, &mut f),
                class => {
                    let event = self.direct_event(class, data, &cqe);
                    f(self, event);
                }
            }
        }
    }

    /// [`Ring::drain_direct`]'s path for an operation of the slot table (rare: a timeout),
    /// kept out of the direct path.
    #[inline(never)]
    fn slot_event(&mut self, cqe: &cqueue::Entry, f: &mut impl FnMut(&mut Ring, Event)) {
        let res = cqe.result();
        if let Some(c) = self.complete(self.id, cqe) {
            let event = Event {
                token: c.token,
                kind: c.kind,
                res,
                more: c.more,
                outcome: c.outcome,
                op: Some(c.op),
            };
            f(self, event);
        }
    }

    /// Turns the CQE of a direct operation (`class`, `data` its `user_data`) into an event;
    /// hands back a send's bytes after its final completion.
    #[inline(always)]
    fn direct_event(&mut self, class: u64, data: u64, cqe: &cqueue::Entry) -> Event {
        let (res, flags) = (cqe.result(), cqe.flags());
        let more = cqueue::more(flags);
        if !more {
            self.in_flight -= 1;
        }
        let token = data & DIRECT_TOKEN_MASK;
        let (kind, outcome) = match class {
            CLASS_RECV => (
                OpKind::Recv,
                match cqueue::buffer_select(flags) {
                    // Protocol rule 2: the kernel took buffer `id` off the ring and filled
                    // it; from here the lease is its only owner.
                    Some(id) => Outcome::Received(BufLease {
                        ring: self.id,
                        group: ((data >> GROUP_SHIFT) & 0xf) as u16,
                        id,
                        len: res.max(0) as u32,
                    }),
                    None => Outcome::None,
                },
            ),
            CLASS_SEND => (
                OpKind::Send,
                match self.sends.get_mut(token as u32 as usize) {
                    // Rule 1: the final completion gives the bytes back.
                    Some(held) if !more => held.take().map_or(Outcome::None, Outcome::SentBytes),
                    _ => Outcome::None,
                },
            ),
            CLASS_ACCEPT if res >= 0 => (
                OpKind::Accept,
                // SAFETY: a successful accept completion's result is a new fd the kernel
                // installed for this process; nothing else knows it, so it is owned here.
                Outcome::Accepted(unsafe { OwnedFd::from_raw_fd(res) }),
            ),
            CLASS_ACCEPT => (OpKind::Accept, Outcome::None),
            _ => (OpKind::Poll, Outcome::None),
        };
        Event {
            token,
            kind,
            res,
            more,
            outcome,
            op: None,
        }
    }

    /// Turns one CQE into a completion, releasing the operation's slot after its last one.
    #[inline(always)]
    fn complete(&mut self, ring_id: u64, cqe: &cqueue::Entry) -> Option<Completion> {
        let data = cqe.user_data();
        if data >> CLASS_SHIFT == CLASS_INTERNAL {
            self.internal_in_flight -= 1;
            return None;
        }
        if data >> CLASS_SHIFT != CLASS_SLOT {
            // A direct operation's.
            let ev = self.direct_event(data >> CLASS_SHIFT, data, cqe);
            let result = match (ev.kind, ev.res) {
                (OpKind::Accept, r) if r >= 0 => Ok(0),
                (_, r) => cqe_result(r),
            };
            return Some(Completion {
                token: ev.token,
                op: OpId::DIRECT,
                kind: ev.kind,
                result,
                more: ev.more,
                outcome: ev.outcome,
            });
        }
        let op = OpId::from_user_data(cqe.user_data());
        let more = cqueue::more(cqe.flags());
        let res = cqe.result();
        let slot = self.slots.get(op.index as usize)?;
        if slot.generation != op.generation {
            return None;
        }
        let flight = slot.op.as_ref()?;
        let (token, kind, group) = (flight.token, flight.kind, flight.group);
        let result = match (kind, res) {
            (OpKind::Timeout, r) if r == -libc::ETIME => Ok(0),
            (OpKind::Accept, r) if r >= 0 => Ok(0),
            (_, r) => cqe_result(r),
        };
        // The final completion hands back what the operation held (a send's bytes or
        // lease); any other completion, what the kernel produced. Built once, never
        // overwritten (dropping a placeholder `Outcome` is not free on this path).
        let held = if more {
            Held::Nothing
        } else {
            self.release(op.index).map_or(Held::Nothing, |f| f.held)
        };
        let outcome = match held {
            Held::Bytes(b) => Outcome::SentBytes(b),
            Held::Lease(l) => Outcome::SentBuffer(l),
            Held::Nothing | Held::Timespec(_) => match kind {
                OpKind::Accept if res >= 0 => {
                    // SAFETY: a successful accept completion's result is a new fd the kernel
                    // installed for this process; nothing else knows it, so it is owned here.
                    Outcome::Accepted(unsafe { OwnedFd::from_raw_fd(res) })
                }
                OpKind::Recv => match cqueue::buffer_select(cqe.flags()) {
                    // Protocol rule 2: the kernel took buffer `id` off the ring and filled
                    // it; from here the lease is its only owner.
                    Some(id) => Outcome::Received(BufLease {
                        ring: ring_id,
                        group,
                        id,
                        len: res.max(0) as u32,
                    }),
                    None => Outcome::None,
                },
                _ => Outcome::None,
            },
        };
        Some(Completion {
            token,
            op,
            kind,
            result,
            more,
            outcome,
        })
    }

    /// The received bytes of a buffer.
    ///
    /// # Panics
    /// When `lease` comes from another ring.
    #[inline]
    pub fn bytes(&self, lease: &BufLease) -> &[u8] {
        assert_eq!(lease.ring, self.id, "a buffer lease used with another ring");
        let pool = &self.pools[usize::from(lease.group)];
        let len = (lease.len as usize).min(pool.size as usize);
        // SAFETY: protocol rule 2: the lease is the buffer's only owner, so the kernel does
        // not write it while this borrow lives (recycling needs the lease by value), and the
        // pool's memory lives as long as `self`. `len` is within the buffer; the bytes are
        // initialised (zeroed at allocation, then written by the kernel).
        unsafe { std::slice::from_raw_parts(pool.buffer_ptr(lease.id), len) }
    }

    /// Gives a buffer back to the kernel (visible from the next submit).
    ///
    /// # Panics
    /// When `lease` comes from another ring.
    #[inline]
    pub fn recycle(&mut self, lease: BufLease) {
        assert_eq!(lease.ring, self.id, "a buffer lease used with another ring");
        self.pools[usize::from(lease.group)].add(lease.id);
    }

    /// User operations in flight (pushed, final completion not yet drained).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Cancels every operation in flight and reaps completions until none is outstanding;
    /// false if the kernel refused to wait (then the ring's memory must not be freed).
    fn quiesce(&mut self) -> bool {
        let mut scratch = Vec::new();
        if self.in_flight > 0 {
            let entry = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(INTERNAL);
            if self.push(entry).is_err() {
                return false;
            }
            self.internal_in_flight += 1;
        }
        let mut spins = 0u32;
        while self.in_flight + self.internal_in_flight > 0 {
            match self.uring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => {}
                Err(_) => return false,
            }
            scratch.clear();
            self.drain(&mut scratch);
            // Operations that ignore cancellation (a send in progress) finish by themselves;
            // new ones cannot start. Re-cancel now and then in case one slipped past.
            spins += 1;
            if spins % 64 == 0 && self.in_flight > 0 {
                let entry = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                    .build()
                    .user_data(INTERNAL);
                if self.push(entry).is_ok() {
                    self.internal_in_flight += 1;
                }
            }
        }
        // Accepted fds and leases in `scratch` are dropped here: closed, or left out.
        true
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let quiet = self.quiesce();
        let pools = std::mem::take(&mut self.pools);
        if !quiet {
            // Rule 3: the kernel may still write these buffers: leak them (a pool has no
            // destructor, so dropping the list frees nothing), and the slots' held bytes.
            drop(pools);
            let slots = std::mem::take(&mut self.slots);
            std::mem::forget(slots);
            let sends = std::mem::take(&mut self.sends);
            std::mem::forget(sends);
            return;
        }
        for (group, pool) in pools.into_iter().enumerate() {
            // A pool that is not freed is leaked: it has no destructor (rule 3).
            let unregistered = self.uring.submitter().unregister_buf_ring(group as u16);
            if unregistered.is_ok() {
                pool.free();
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/uring.rs"]
mod tests;

#[cfg(test)]
mod deferred_tests {
    use super::*;
    use std::time::Instant;

    /// `submit_and_wait_for` ends at its time-out when nothing completes, and submits and
    /// reaps when something does; a deferred ring posts completions when waited on.
    #[test]
    fn a_timed_wait_on_a_deferred_ring_ends_at_its_time_out_or_at_a_completion() {
        let mut ring = match Ring::new_deferred(8) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("io_uring unavailable here, nothing to test: {e}");
                return;
            }
        };
        let mut out = Vec::new();
        let t = Instant::now();
        ring.submit_and_wait_for(1, Duration::from_millis(20))
            .unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(15),
            "{:?}",
            t.elapsed()
        );
        ring.drain(&mut out);
        assert!(out.is_empty());
        ring.timeout(Duration::from_millis(1), 7).unwrap();
        let t = Instant::now();
        ring.submit_and_wait_for(1, Duration::from_secs(10))
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        ring.drain(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].token, out[0].kind), (7, OpKind::Timeout));
        assert!(out[0].result.is_ok() && !out[0].more);
        assert_eq!(ring.in_flight(), 0);
    }
}
