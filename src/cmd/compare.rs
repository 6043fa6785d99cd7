//! `loopbench compare OLD NEW`: what changed between two results files, with ratios, in the
//! spirit of critcmp.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `loopbench compare`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench compare old.json new.json\n  loopbench compare old.json new.json --threshold 0   # show every change\n\nExit status: 0 compared; 2 bad arguments or an unreadable, corrupt or other-version file;\n3 nothing to compare (no echo point, micro-benchmark or conformance cell is in both files)."
)]
pub struct Args {
    /// The earlier results file.
    pub old: PathBuf,
    /// The later results file.
    pub new: PathBuf,
    /// Hide changes smaller than this, in percent (0 to 1000).
    #[arg(long, default_value = "5", value_parser = crate::checked::compare_threshold, allow_negative_numbers = true)]
    pub threshold: f64,
}

/// Prints the comparison table.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = super::report::load_inputs(&[args.old.clone(), args.new.clone()])?;
    let comparison = reports::compare::compare(&files[0], &files[1], args.threshold);
    if comparison.in_both == 0 {
        eprintln!(
            "loopbench: error: {} and {} have nothing in common: no echo point, micro-benchmark or conformance cell is in both",
            args.old.display(),
            args.new.display()
        );
        return Ok(ExitCode::from(3));
    }
    print!("{}", comparison.render(crate::util::use_color()));
    Ok(ExitCode::SUCCESS)
}
