//! The contract between loopbench and the async runtimes it measures.
//!
//! A runtime is two types: the owner ([`Runtime`]: built once, drives a future to completion
//! with `block_on`, dropped at the end) and a cheap cloneable handle ([`RuntimeHandle`]) that
//! scenarios, echo servers and other threads use to spawn, sleep, yield and do TCP.
//! Everything generic in loopbench (scenarios, the echo server, micro-benchmark workloads) is
//! written once against these traits and monomorphised per runtime.
//!
//! Invariant: adapters keep their runtime's *native* semantics (for example whether dropping a
//! join handle cancels the task); the conformance suite exists to show those differences, so an
//! adapter must not paper over them.

pub mod info;
pub mod journal;
pub mod net;
pub mod paths;
pub mod python;
pub mod results;
pub mod rules;
pub mod runtime;
pub mod task;

pub use info::{RuntimeConfig, RuntimeInfo};
pub use net::{Listener, Stream};
pub use runtime::{Capability, Runtime, RuntimeHandle, TimedOut};
pub use task::{JoinError, TaskHandle};
