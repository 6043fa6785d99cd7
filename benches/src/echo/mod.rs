//! The C10k echo benchmark: the echo server (written once, generic over the runtime), the
//! non-async baselines, the load generator and the orchestrator that runs them as separate
//! processes.
//!
//! Code map:
//! - [`server`]: the echo server over `harness::Runtime` (one spawned task per connection).
//! - [`baselines`]: `blocking`, `threads`, `threadpool` and `epoll-floor`, selectable like
//!   runtime ids by `serve` and `bench`.
//! - [`loadgen`]: the load generator, on raw epoll in its own process; it verifies every byte.
//! - [`plan`]: what a load run is asked to do ([`plan::LoadPlan`]) and argument parsing.
//! - [`proc`]: `/proc` and rlimit readings (CPU time, RSS, open-file limits).
//! - [`orchestrate`]: `bench echo`: fresh server and load-generator processes per point.
//! - [`table`]: the terminal summary of a set of runs.

pub mod baselines;
pub mod loadgen;
pub mod orchestrate;
pub mod plan;
pub mod proc;
pub mod server;
pub mod table;

/// The line a server prints on stdout (flushed) once it accepts connections.
pub const LISTENING_PREFIX: &str = "listening on ";
