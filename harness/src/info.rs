//! What a runtime says about itself ([`RuntimeInfo`]) and how it is asked to be built
//! ([`RuntimeConfig`]).

use serde::{Deserialize, Serialize};

/// How the harness asks for a runtime to be built. Every adapter reads the fields that apply
/// to it and ignores the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Worker threads for multi-threaded runtimes; `None` means one per core.
    pub worker_threads: Option<usize>,
    /// Upper bound on threads running blocking work (`spawn_blocking`); `None` keeps the
    /// runtime's own default.
    pub blocking_threads: Option<usize>,
    /// asyncio-style debug mode: report a callback or task poll that holds the loop longer
    /// than this, and tasks dropped without ever being polled. Runtimes without such a mode
    /// ignore it (their `Runtime::debug_reports` returns `None`).
    #[serde(default)]
    pub debug_slow_threshold: Option<std::time::Duration>,
}

impl RuntimeConfig {
    /// The worker count to use: the configured one, or the number of cores.
    pub fn workers_or_cores(&self) -> usize {
        self.worker_threads.unwrap_or_else(available_cores).max(1)
    }
}

/// Number of cores this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A runtime's description of itself, shown by `loopbench list` and recorded in results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    /// The id users type: `tokio-ct`, `tokio-mt`, `async-std`, `smol`, `smol-mt`, `evloop`.
    pub id: String,
    /// Scheduler flavour in a few words ("current-thread", "work-stealing, 2 workers").
    pub flavour: String,
    /// Threads that poll tasks (1 for single-threaded loops).
    pub worker_threads: usize,
    /// The upstream crate that provides the runtime (`tokio`, `evloop` for our own).
    pub crate_name: String,
    /// That crate's version, as compiled in.
    pub crate_version: String,
    /// Anything a reader should know when comparing results (status of upstream, caveats).
    pub notes: Vec<String>,
}
