//! Micro-benchmark workloads, each runnable once per runtime (criterion and callgrind).
