//! `loopbench`: conformance and performance of Rust async runtimes, side by side.
//!
//! The composition root: every subcommand lives in its own module under `cmd/`, and this
//! file only parses the command line and dispatches. Errors end as one line on stderr and a
//! non-zero exit status (2 for unusable input, 1 for a failed check).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod runner;
mod util;

/// Conformance and performance harness for Rust async runtimes.
#[derive(Parser)]
#[command(
    name = "loopbench",
    version,
    about,
    after_help = "Examples:\n  loopbench                      run the default suite and write the HTML report\n  loopbench list                 runtimes and scenarios\n  loopbench conformance --runtime all --json /tmp/c.json\n  loopbench conformance --runtime evloop,tokio-ct --only-differences"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List runtimes (with their info) and conformance scenarios (with group and rule id).
    List(cmd::list::Args),
    /// Run conformance scenarios on runtimes, each in a child process with a time limit.
    Conformance(cmd::conformance::Args),
    /// Internal: run one scenario on one runtime in this process (used by `conformance`).
    #[command(name = "__cell", hide = true)]
    Cell(cmd::cell::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => {
            eprintln!("loopbench: the default suite is not available yet; see `loopbench --help`");
            return ExitCode::from(2);
        }
        Some(Command::List(args)) => cmd::list::run(args),
        Some(Command::Conformance(args)) => cmd::conformance::run(args),
        Some(Command::Cell(args)) => cmd::cell::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => util::report_error(&err),
    }
}
