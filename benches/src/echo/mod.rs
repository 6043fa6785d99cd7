//! The C10k echo benchmark: the echo server (written once, generic over the runtime), the
//! non-async baselines, and the orchestrator that runs them and the load generator (crate
//! `loadgen`) as separate processes.
//!
//! Code map:
//! - [`server`]: the echo server over `harness::Runtime` (one spawned task per connection).
//! - [`baselines`]: `blocking`, `threads`, `threadpool` and `epoll-floor`, selectable like
//!   runtime ids by `serve` and `bench`.
//! - [`faults`]: misbehaving servers for the fault suite (`serve --fault KIND`).
//! - [`python`]: the seeds' asyncio and uvloop servers, ready to run.
//! - [`orchestrate`]: `bench echo`, `bench equal`, `bench capacity`: fresh server and
//!   load-generator processes per point.

pub mod baselines;
pub mod faults;
pub mod orchestrate;
pub mod python;
pub mod server;

/// The line a server prints on stdout (flushed) once it accepts connections.
pub const LISTENING_PREFIX: &str = "listening on ";
