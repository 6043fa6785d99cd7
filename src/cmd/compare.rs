//! `loopbench compare OLD NEW`: what changed between two results files, with ratios, in the
//! spirit of critcmp.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::util::usage;

/// Arguments of `loopbench compare`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench compare old.json new.json\n  loopbench compare old.json new.json --threshold 0   # show every change"
)]
pub struct Args {
    /// The earlier results file.
    pub old: PathBuf,
    /// The later results file.
    pub new: PathBuf,
    /// Hide changes smaller than this, in percent.
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
}

/// Prints the comparison table.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.threshold >= 0.0 && args.threshold.is_finite()) {
        return Err(usage(format!(
            "--threshold must be a percentage ≥ 0, not {}",
            args.threshold
        )));
    }
    let files = super::report::load_inputs(&[args.old, args.new])?;
    let comparison = reports::compare::compare(&files[0], &files[1], args.threshold);
    print!("{}", comparison.render(crate::util::use_color()));
    Ok(ExitCode::SUCCESS)
}
