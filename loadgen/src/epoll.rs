//! The epoll I/O path (`--io epoll`): one epoll set per worker with its connections
//! (edge-triggered) and a timerfd for sub-millisecond deadlines. One `recv` per readiness
//! event (a short read means drained), one `send` per wake-up and connection however many
//! echoes it completed. The timerfd is edge-triggered and never read: re-arming resets it.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::io::Errno;
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};

use crate::conn::{Conn, Tally, Window};
use crate::worker::{Connect, Core, IoPath, OpenLoop, MAX_WAIT};

/// Event data of the timerfd (connections use their index).
const TIMER_KEY: u64 = u64::MAX;
/// Read buffer shared by the worker's connections.
const SCRATCH: usize = 64 * 1024;
/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 4096;

/// A worker's epoll set, timer and read buffer.
pub(crate) struct EpollIo {
    /// The epoll set: the connections and the timerfd.
    ep: OwnedFd,
    /// Wakes the worker at the next deadline (send schedule, scan, window end).
    timer: OwnedFd,
    /// Deadline the timerfd is armed for, if armed and not yet fired.
    armed: Option<Instant>,
    /// Events of the last wait.
    events: Vec<epoll::Event>,
    /// Read buffer shared by the connections (bytes are verified, then dropped).
    scratch: Vec<u8>,
}

impl EpollIo {
    /// An epoll set with its timerfd.
    pub fn new() -> std::io::Result<Self> {
        let ep = epoll::create(CreateFlags::CLOEXEC)?;
        let timer = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        epoll::add(
            &ep,
            &timer,
            EventData::new_u64(TIMER_KEY),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(Self {
            ep,
            timer,
            armed: None,
            events: Vec::with_capacity(EVENTS_PER_WAIT),
            scratch: vec![0; SCRATCH],
        })
    }

    /// Arms the timerfd for `deadline` (unless it is armed for as early or earlier: then
    /// the wake-up re-arms) and waits for events.
    fn wait(&mut self, deadline: Instant) {
        if self.armed.is_none_or(|a| deadline < a) {
            let rel = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1));
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: rel.as_secs() as i64,
                    tv_nsec: i64::from(rel.subsec_nanos()),
                },
            };
            if rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec).is_ok()
            {
                self.armed = Some(deadline);
            }
        }
        self.events.clear();
        let max = Timespec {
            tv_sec: MAX_WAIT.as_secs() as i64,
            tv_nsec: i64::from(MAX_WAIT.subsec_nanos()),
        };
        let _ = epoll::wait(&self.ep, spare_capacity(&mut self.events), Some(&max));
    }
}

impl IoPath for EpollIo {
    fn watch(&mut self, i: usize, conn: &mut Conn) -> Result<(), Errno> {
        let Some(fd) = &conn.fd else {
            return Err(Errno::BADF);
        };
        let key = EventData::new_u64(i as u64);
        let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        epoll::add(&self.ep, fd, key, flags)
    }

    fn flush(&mut self, _i: usize, conn: &mut Conn, tally: &mut Tally) {
        conn.flush(tally);
    }

    fn retire(&mut self, _i: usize, _conn: &mut Conn) {
        // Closing the socket (in `Conn::kill`) took it out of the epoll set.
    }

    fn close_all(&mut self, _core: &mut Core, _until: Instant) {
        // Each socket closed in `Conn::kill`, which took it out of the epoll set.
    }

    fn turn(&mut self, core: &mut Core, deadline: Instant, win: &Window, mut open: OpenLoop<'_>) {
        self.wait(deadline);
        for k in 0..self.events.len() {
            let ev = self.events[k];
            let (key, flags) = (ev.data.u64(), ev.flags);
            if key == TIMER_KEY {
                // Edge-triggered: no need to read the expiry count (re-arming resets it).
                self.armed = None;
                continue;
            }
            let i = key as usize;
            if i >= core.conns.len() {
                continue;
            }
            if core.conns[i].is_connecting()
                && core.connect_event(i, flags.contains(EventFlags::OUT)) != Connect::Established
            {
                continue;
            }
            let conn = &mut core.conns[i];
            if !conn.is_ready() {
                continue;
            }
            if flags.contains(EventFlags::OUT) {
                conn.flush(&mut core.out.tally);
            }
            let readable = EventFlags::IN | EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR;
            if !flags.intersects(readable) {
                continue;
            }
            let hangup = flags.intersects(EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR);
            let done = conn.read_all(&mut self.scratch, hangup, win, &mut core.out.tally);
            core.echoed(self, i, done, win, &mut open);
        }
    }
}
