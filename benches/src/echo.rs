//! The C10k echo benchmark: echo server, baselines, load generator, orchestration.
