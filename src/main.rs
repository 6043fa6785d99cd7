//! `loopbench`: conformance and performance of Rust async runtimes, side by side.
//!
//! The composition root: every subcommand lives in its own module under `cmd/`, and this
//! file only parses the command line and dispatches. Errors end as one line on stderr and a
//! non-zero exit status (2 for unusable input, 1 for a failed check).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod checked;
mod cmd;
mod pool;
mod resume;
mod runner;
mod twins;
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
    /// Run one micro-benchmark workload once on one runtime (for callgrind); `--list` lists them.
    Micro(cmd::micro::Args),
    /// Echo server on one runtime or baseline (blocking, threads, threadpool, epoll-floor, uring-floor).
    Serve(cmd::serve::Args),
    /// Echo load generator against any echo server (every byte verified).
    Load(cmd::load::Args),
    /// Benchmarks: `bench echo` (C10k echo over runtimes, baselines and outside servers).
    Bench(cmd::bench::Args),
    /// Write the HTML report (inline SVG charts, no network resources) from results files.
    Report(cmd::report::Args),
    /// Export a results file for CI services: Bencher Metric Format, github-action-benchmark,
    /// HdrHistogram interval logs.
    Export(cmd::export::Args),
    /// Compare two results files: what changed, with ratios.
    Compare(cmd::compare::Args),
    /// Regression gate against a committed baseline: instruction counts, timing, behaviour.
    Gate(cmd::gate::Args),
    /// The quick default suite (conformance, echo, micro) and the HTML report; what
    /// `loopbench` with no arguments runs.
    Run(cmd::run::Args),
    /// Internal: run one scenario on one runtime in this process (used by `conformance`).
    #[command(name = "__cell", hide = true)]
    Cell(cmd::cell::Args),
}

fn main() -> ExitCode {
    // Started by a parent loopbench: die with it (see the `launch` crate).
    launch::child_init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == launch::GUARD_SUBCOMMAND) {
        // `loopbench __exec -- PROGRAM ARGS`: how an outside program is started.
        return ExitCode::from(launch::exec_guarded(&args[2..]) as u8);
    }
    if let Ok(exe) = std::env::current_exe() {
        launch::set_guard(exe);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return util::report_clap_error(err),
    };
    // No subcommand: the default suite, with `run`'s own defaults.
    let command = cli.command.unwrap_or_else(|| {
        Cli::parse_from(["loopbench", "run"])
            .command
            .expect("`run` parses")
    });
    let result = match command {
        Command::List(args) => cmd::list::run(args),
        Command::Conformance(args) => cmd::conformance::run(args),
        Command::Micro(args) => cmd::micro::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Gate(args) => cmd::gate::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Cell(args) => cmd::cell::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => util::report_error(&err),
    }
}
