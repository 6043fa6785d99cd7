//! The start gate between the coordinator and the workers: a barrier that can be broken.
//! Everyone meets it twice (every connect resolved; traffic start published). A worker that
//! fails to set up, or panics, before it has met the gate breaks it, and every party waiting
//! or yet to arrive is released with the reason, so a run can never hang on a worker that
//! is gone.
//!
//! Protocol: each worker holds a [`Party`]; dropping it without having met a phase (an
//! early return or a panic unwinding) breaks the gate with the worker's name.

use std::sync::{Condvar, Mutex};

/// The phases of a run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Every connect attempt of every worker is resolved.
    Connected = 0,
    /// The coordinator has published the traffic start (or that there is none).
    Started = 1,
}

#[derive(Debug, Default)]
struct State {
    /// Parties that met each phase.
    arrived: [usize; 2],
    /// Why the gate is broken, once it is.
    broken: Option<String>,
}

/// A barrier of `parties` that can be broken.
#[derive(Debug)]
pub struct Gate {
    parties: usize,
    state: Mutex<State>,
    cv: Condvar,
}

impl Gate {
    /// A gate for `parties` (workers + the coordinator).
    pub fn new(parties: usize) -> Self {
        Self {
            parties,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Meets `phase`: returns when every party has, or with the reason when the gate is
    /// (or gets) broken.
    pub fn meet(&self, phase: Phase) -> Result<(), String> {
        let mut st = self.lock();
        st.arrived[phase as usize] += 1;
        self.cv.notify_all();
        loop {
            if let Some(why) = &st.broken {
                return Err(why.clone());
            }
            if st.arrived[phase as usize] >= self.parties {
                return Ok(());
            }
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Breaks the gate (the first reason wins).
    pub fn break_with(&self, why: impl Into<String>) {
        let mut st = self.lock();
        st.broken.get_or_insert_with(|| why.into());
        self.cv.notify_all();
    }

    /// Why the gate is broken, if it is.
    #[cfg(test)]
    pub fn broken(&self) -> Option<String> {
        self.lock().broken.clone()
    }
}

/// A worker's place at the gate: breaks it when dropped before both phases were met.
#[derive(Debug)]
pub struct Party<'a> {
    gate: &'a Gate,
    /// The worker's name, for the reason.
    name: String,
    /// Phases met so far.
    met: usize,
}

impl<'a> Party<'a> {
    /// A place for the worker `name`.
    pub fn new(gate: &'a Gate, name: impl Into<String>) -> Self {
        Self {
            gate,
            name: name.into(),
            met: 0,
        }
    }

    /// Meets the next phase.
    pub fn meet(&mut self, phase: Phase) -> Result<(), String> {
        self.met = phase as usize + 1;
        self.gate.meet(phase)
    }

    /// Breaks the gate with this worker's failure.
    pub fn fail(&mut self, why: impl std::fmt::Display) {
        self.met = 2;
        self.gate.break_with(format!("{}: {why}", self.name));
    }
}

impl Drop for Party<'_> {
    fn drop(&mut self) {
        if self.met < 2 {
            let how = if std::thread::panicking() {
                "panicked before traffic started"
            } else {
                "stopped before traffic started"
            };
            self.gate.break_with(format!("{} {how}", self.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn everyone_passes_both_phases() {
        let gate = Arc::new(Gate::new(3));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let gate = Arc::clone(&gate);
                std::thread::spawn(move || {
                    let mut p = Party::new(&gate, format!("w{i}"));
                    p.meet(Phase::Connected).unwrap();
                    p.meet(Phase::Started).unwrap();
                })
            })
            .collect();
        gate.meet(Phase::Connected).unwrap();
        gate.meet(Phase::Started).unwrap();
        for h in handles {
            h.join().unwrap();
        }
        assert!(gate.broken().is_none());
    }

    #[test]
    fn a_worker_panicking_before_the_start_releases_everyone() {
        let gate = Arc::new(Gate::new(3));
        let waiting = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let mut p = Party::new(&gate, "w0");
                p.meet(Phase::Connected)
            })
        };
        let panicking = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let _p = Party::new(&gate, "w1");
                panic!("boom");
            })
        };
        assert!(panicking.join().is_err());
        let why = gate.meet(Phase::Connected).unwrap_err();
        assert!(why.contains("w1 panicked before traffic started"), "{why}");
        assert_eq!(waiting.join().unwrap().unwrap_err(), why);
    }

    #[test]
    fn a_worker_that_cannot_start_says_why() {
        let gate = Gate::new(2);
        std::thread::scope(|s| {
            s.spawn(|| Party::new(&gate, "w0").fail("epoll_create: too many open files"));
        });
        let why = gate.meet(Phase::Connected).unwrap_err();
        assert_eq!(why, "w0: epoll_create: too many open files");
    }
}
