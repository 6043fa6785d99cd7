//! One module per subcommand; each has an `Args` (clap) and a `run(Args)`.

pub mod bench;
pub mod cell;
pub mod compare;
pub mod conformance;
pub mod export;
pub mod gate;
pub mod kill;
pub mod list;
pub mod load;
pub mod micro;
pub mod report;
pub mod run;
pub mod serve;
