//! Benchmarks of the runtimes: the C10k echo benchmark (server, baselines, load generator)
//! and the micro-benchmark workloads shared by `cargo bench` and `loopbench micro`.

#![forbid(unsafe_code)]

pub mod echo;
pub mod micro;
