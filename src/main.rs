//! The `loopbench` command-line program (placeholder while the workspace is laid out).
fn main() {}
