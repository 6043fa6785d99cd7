//! `loopbench __cell`: runs one scenario on one runtime in this process and prints the
//! observation as one marked JSON line. The conformance runner starts this in a child
//! process so a hang, abort or crash cannot take the harness down.

use std::io::Write;
use std::process::ExitCode;

/// Prefix of the line that carries the observation on stdout.
pub const MARKER: &str = "LOOPBENCH-CELL ";

/// Arguments of `loopbench __cell`.
#[derive(clap::Args)]
pub struct Args {
    /// Runtime id.
    #[arg(long)]
    runtime: String,
    /// Scenario id.
    #[arg(long)]
    scenario: String,
}

/// Runs the cell and prints `MARKER` + JSON; exits without waiting for stray threads.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let def = scenarios::find(&args.scenario)
        .ok_or_else(|| crate::util::usage(format!("unknown scenario '{}'", args.scenario)))?;
    let obs = scenarios::run_on(&args.runtime, def.id)
        .ok_or_else(|| crate::util::usage(format!("unknown runtime '{}'", args.runtime)))?;
    let line = serde_json::to_string(&obs)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{MARKER}{line}")?;
    out.flush()?;
    // Detached threads of some runtimes (global executors, blocking pools) must not delay
    // the exit: the observation is out, the process is done.
    std::process::exit(0);
}
