//! asyncio's synchronisation primitives (rules S1–S5): `Lock`, `Event`, `Condition`,
//! `Semaphore` and `Queue`, with FIFO hand-off.
//!
//! Invariant: a released permit (lock, semaphore slot, queue slot or item) is handed to the
//! oldest waiter before the releaser can take it back, so a holder that re-acquires at once
//! queues behind the waiters (asyncio's fairness). Acquire and release are explicit, as in
//! asyncio, so a callback may release a lock a task acquired (seed 000, "Locks").

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

use super::waiter::{grant_one, lock, Granted, WaitQueue, Waiter};

/// Counted permits handed out in FIFO order: the core of `Lock` and `Semaphore`.
struct Permits {
    /// Free permits; only non-zero while nobody waits.
    available: Mutex<usize>,
    /// Waiters, oldest first.
    queue: WaitQueue,
}

impl Permits {
    fn new(n: usize) -> Self {
        Self {
            available: Mutex::new(n),
            queue: Mutex::new(VecDeque::new()),
        }
    }

    async fn acquire(&self) {
        let waiter = {
            let mut free = lock(&self.available);
            let mut q = lock(&self.queue);
            if *free > 0 && q.is_empty() {
                *free -= 1;
                return;
            }
            let w = Waiter::new();
            q.push_back(w.clone());
            w
        };
        let pass_on = || self.release();
        Granted {
            waiter,
            queue: &self.queue,
            pass_on: Some(&pass_on),
            done: false,
        }
        .await;
    }

    fn release(&self) {
        let mut free = lock(&self.available);
        if !grant_one(&self.queue) {
            *free += 1;
        }
    }

    fn free(&self) -> usize {
        *lock(&self.available)
    }

    fn waiting(&self) -> usize {
        lock(&self.queue).len()
    }
}

/// `asyncio.Lock`: one holder at a time, waiters served FIFO.
pub struct Lock {
    permits: Permits,
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl Lock {
    /// An unlocked lock.
    pub fn new() -> Self {
        Self {
            permits: Permits::new(1),
        }
    }
    /// Waits until the lock is held by the caller.
    pub fn acquire(&self) -> impl Future<Output = ()> + Send + '_ {
        self.permits.acquire()
    }
    /// Releases the lock, handing it to the oldest waiter if any.
    pub fn release(&self) {
        self.permits.release();
    }
    /// Whether someone holds the lock.
    pub fn locked(&self) -> bool {
        self.permits.free() == 0
    }
    /// How many tasks wait for it.
    pub fn waiting(&self) -> usize {
        self.permits.waiting()
    }
}

/// `asyncio.Semaphore(k)`: at most `k` holders, waiters served FIFO.
pub struct Semaphore {
    permits: Permits,
}

impl Semaphore {
    /// A semaphore with `k` free slots.
    pub fn new(k: usize) -> Self {
        Self {
            permits: Permits::new(k),
        }
    }
    /// Waits for a slot.
    pub fn acquire(&self) -> impl Future<Output = ()> + Send + '_ {
        self.permits.acquire()
    }
    /// Frees a slot, handing it to the oldest waiter if any.
    pub fn release(&self) {
        self.permits.release();
    }
    /// How many tasks wait for a slot.
    pub fn waiting(&self) -> usize {
        self.permits.waiting()
    }
}

/// `asyncio.Event`: `set` wakes every waiter; waiting on a set event returns at once.
pub struct Event {
    /// Whether the flag is set.
    set: Mutex<bool>,
    /// Waiters parked while the flag was clear.
    queue: WaitQueue,
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl Event {
    /// A clear event.
    pub fn new() -> Self {
        Self {
            set: Mutex::new(false),
            queue: Mutex::new(VecDeque::new()),
        }
    }
    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        *lock(&self.set)
    }
    /// Sets the flag and wakes every waiter, oldest first.
    pub fn set(&self) {
        let mut set = lock(&self.set);
        *set = true;
        while grant_one(&self.queue) {}
    }
    /// Clears the flag.
    pub fn clear(&self) {
        *lock(&self.set) = false;
    }
    /// Waits until the flag is set (returns at once when it already is).
    pub async fn wait(&self) {
        let waiter = {
            let set = lock(&self.set);
            if *set {
                return;
            }
            let w = Waiter::new();
            lock(&self.queue).push_back(w.clone());
            w
        };
        let no_pass_on = || {};
        Granted {
            waiter,
            queue: &self.queue,
            pass_on: Some(&no_pass_on),
            done: false,
        }
        .await;
    }
    /// How many tasks wait.
    pub fn waiting(&self) -> usize {
        lock(&self.queue).len()
    }
}

/// `asyncio.Condition`: a lock plus a FIFO of waiters; `notify(n)` wakes `n` of them, and a
/// woken waiter holds the lock again when `wait` returns.
pub struct Condition {
    lock: Lock,
    queue: WaitQueue,
}

impl Default for Condition {
    fn default() -> Self {
        Self::new()
    }
}

impl Condition {
    /// A condition with its own lock.
    pub fn new() -> Self {
        Self {
            lock: Lock::new(),
            queue: Mutex::new(VecDeque::new()),
        }
    }
    /// Acquires the underlying lock.
    pub fn acquire(&self) -> impl Future<Output = ()> + Send + '_ {
        self.lock.acquire()
    }
    /// Releases the underlying lock.
    pub fn release(&self) {
        self.lock.release();
    }
    /// Whether the underlying lock is held.
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }
    /// Releases the lock, waits to be notified, re-acquires the lock. The caller must hold
    /// the lock.
    pub async fn wait(&self) {
        let waiter = Waiter::new();
        lock(&self.queue).push_back(waiter.clone());
        self.lock.release();
        Granted::new(waiter, &self.queue).await;
        self.lock.acquire().await;
    }
    /// Wakes up to `n` waiters, oldest first.
    pub fn notify(&self, n: usize) {
        for _ in 0..n {
            if !grant_one(&self.queue) {
                break;
            }
        }
    }
    /// Wakes every waiter.
    pub fn notify_all(&self) {
        while grant_one(&self.queue) {}
    }
    /// How many tasks wait to be notified.
    pub fn waiting(&self) -> usize {
        lock(&self.queue).len()
    }
}

/// `asyncio.Queue(maxsize)`: FIFO; `get` waits while empty, `put` waits while full
/// (`maxsize == 0`: unbounded).
pub struct Queue<T> {
    maxsize: usize,
    /// The items, oldest first.
    items: Mutex<VecDeque<T>>,
    /// Tasks waiting for an item.
    getters: WaitQueue,
    /// Tasks waiting for room.
    putters: WaitQueue,
}

impl<T: Send> Queue<T> {
    /// A queue holding at most `maxsize` items (0: no bound).
    pub fn new(maxsize: usize) -> Self {
        Self {
            maxsize,
            items: Mutex::new(VecDeque::new()),
            getters: Mutex::new(VecDeque::new()),
            putters: Mutex::new(VecDeque::new()),
        }
    }

    /// Number of items queued.
    pub fn qsize(&self) -> usize {
        lock(&self.items).len()
    }

    /// Whether the queue holds `maxsize` items.
    pub fn full(&self) -> bool {
        self.maxsize > 0 && self.qsize() >= self.maxsize
    }

    /// Puts without waiting; gives the item back when full.
    pub fn put_nowait(&self, item: T) -> Result<(), T> {
        let mut items = lock(&self.items);
        if self.maxsize > 0 && items.len() >= self.maxsize {
            return Err(item);
        }
        items.push_back(item);
        drop(items);
        grant_one(&self.getters);
        Ok(())
    }

    /// Takes the oldest item without waiting.
    pub fn get_nowait(&self) -> Option<T> {
        let item = lock(&self.items).pop_front();
        if item.is_some() {
            grant_one(&self.putters);
        }
        item
    }

    /// Puts `item`, waiting while the queue is full.
    pub async fn put(&self, item: T) {
        let mut item = item;
        loop {
            let waiter = {
                let mut items = lock(&self.items);
                if self.maxsize == 0 || items.len() < self.maxsize {
                    items.push_back(item);
                    drop(items);
                    grant_one(&self.getters);
                    return;
                }
                let w = Waiter::new();
                lock(&self.putters).push_back(w.clone());
                w
            };
            Granted::new(waiter, &self.putters).await;
            // Room was made; loop to claim it (another putter may have been faster).
            item = match self.put_nowait(item) {
                Ok(()) => return,
                Err(back) => back,
            };
        }
    }

    /// Takes the oldest item, waiting while the queue is empty.
    pub async fn get(&self) -> T {
        loop {
            let waiter = {
                let mut items = lock(&self.items);
                if let Some(item) = items.pop_front() {
                    drop(items);
                    grant_one(&self.putters);
                    return item;
                }
                let w = Waiter::new();
                lock(&self.getters).push_back(w.clone());
                w
            };
            Granted::new(waiter, &self.getters).await;
        }
    }
}
