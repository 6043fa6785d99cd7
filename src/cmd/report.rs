//! `loopbench report`: one self-contained HTML page (inline SVG, no network resources) from
//! one or more results files, with the charts and the merged results beside it.

use std::path::PathBuf;
use std::process::ExitCode;

use harness::results::ResultsFile;

use crate::cmd::export::ExportArgs;
use crate::util::usage;

/// Arguments of `loopbench report`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench report --input conformance.json --input echo.json --out report\n  loopbench report --input old.json --input new.json --label old --label new --out cmp\n  loopbench report --input results.json --out report --format bmf,github-action-benchmark,hlog\n\nTwo or more inputs with echo runs are overlaid, series labelled by input.\n\nExit status: 0 written; 1 a file of the report could not be written; 2 bad arguments, an\nunreadable, corrupt or other-version input, or an unusable --out directory; 3 nothing to\nreport (no input holds a conformance cell, echo run or micro-benchmark)."
)]
pub struct Args {
    /// Results files to include (repeat the flag, or separate with spaces).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Labels for the inputs, in the same order (default: their file names).
    #[arg(long)]
    pub label: Vec<String>,
    /// Directory to write `index.html`, the charts and `results.json` into (created if
    /// missing; checked before anything is written).
    #[arg(long, default_value = "loopbench-out/report")]
    pub out: PathBuf,
    /// `--format`: also export the merged results (into `--out` unless `--export-dir`).
    #[command(flatten)]
    pub export: ExportArgs,
}

/// Loads every input, refusing a corrupt or other-version file with one clear line.
pub fn load_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<ResultsFile>> {
    paths
        .iter()
        .map(|p| ResultsFile::load(p).map_err(|e| usage(e.to_string())))
        .collect()
}

/// Writes the report and prints where it is.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inputs = load_inputs(&args.input)?;
    if !args.label.is_empty() && args.label.len() != inputs.len() {
        return Err(usage(format!(
            "{} labels for {} inputs; give one --label per --input or none",
            args.label.len(),
            inputs.len()
        )));
    }
    for (i, label) in args.label.iter().enumerate() {
        if label.trim().is_empty() {
            return Err(usage(format!(
                "--label {} is empty; labels tell the inputs apart",
                i + 1
            )));
        }
        if args.label[..i].contains(label) {
            return Err(usage(format!(
                "--label '{label}' is given twice; labels tell the inputs apart"
            )));
        }
    }
    if inputs
        .iter()
        .all(|f| f.results.is_empty() && f.runs.is_empty() && f.micro.is_empty())
    {
        eprintln!("loopbench: error: nothing to report: no input holds a conformance cell, echo run or micro-benchmark");
        return Ok(ExitCode::from(3));
    }
    harness::paths::check_output_dir(&args.out).map_err(|e| usage(format!("--out: {e}")))?;
    let labels: Vec<String> = if args.label.is_empty() {
        args.input
            .iter()
            .map(|p| {
                p.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.display().to_string())
            })
            .collect()
    } else {
        args.label.clone()
    };
    let index = reports::html::write_labelled_report(&inputs, &labels, &args.out)?;
    println!("report: {}", index.display());
    if args.export.formats.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let merged = reports::merge::MergedResults::new(&inputs, &labels)?.file;
    args.export.write(
        &reports::export::figures(&merged),
        Some(&merged),
        Some(&args.out),
    )
}
