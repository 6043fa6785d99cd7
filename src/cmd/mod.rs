//! One module per subcommand; each has an `Args` (clap) and a `run(Args)`.

pub mod cell;
pub mod conformance;
pub mod list;
