//! `loopbench export`: a results file in a format CI services read (Bencher Metric Format,
//! github-action-benchmark, HdrHistogram interval logs), and [`ExportArgs`], the `--format`
//! flags the commands that write results share. The work is `reports::export`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::TypedValueParser as _;
use reports::export::{self, Direction, ExportError, Exported, Figures, Format};
use reports::ResultsFile;

use crate::util::{usage, ExitWith};

/// Exit status when the input holds nothing the format can carry.
pub const EXIT_NOTHING: u8 = 3;

/// Arguments of `loopbench export`.
#[derive(clap::Args)]
#[command(
    after_help = "Formats:\n  bmf                      Bencher Metric Format JSON, one file\n                           (bencher run --adapter json --file FILE)\n  github-action-benchmark  github-action-benchmark JSON, one file per direction:\n                           --direction smaller (tool: customSmallerIsBetter)\n                           --direction bigger (tool: customBiggerIsBetter)\n  hlog                     HdrHistogram interval logs: one .hlog per echo point,\n                           into the directory --out\n\nNames: echo/RUNTIME/MODE/Nconns/SIZEB (open loop: .../RATErps),\nmicro/RUNTIME/WORKLOAD, conformance/RUNTIME. Latency in ns, throughput in\nmessages (ops) per second.\n\nExamples:\n  loopbench export --format bmf --input results.json --out bmf.json\n  loopbench export --format github-action-benchmark --direction bigger \\\n      --input results.json --out bigger.json\n  loopbench export --format hlog --input results.json --out hlog\n\nExit status: 0 written; 1 written, but repeats were left out (nothing measured,\nor wrong echoed bytes: each named on stderr); 2 unusable input (missing or\ncorrupt file, bad arguments); 3 nothing in the input this format can carry."
)]
pub struct Args {
    /// The export format.
    #[arg(long, value_parser = parse_format())]
    pub format: Format,
    /// The results file to export (any loopbench results file).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write: a file for bmf and github-action-benchmark, a directory for hlog.
    #[arg(long)]
    pub out: PathBuf,
    /// github-action-benchmark only: which figures, smaller-is-better (latency, CPU,
    /// memory, failing cells) or bigger-is-better (throughput, passing cells).
    #[arg(long, value_parser = parse_direction(), default_value = "smaller")]
    pub direction: Direction,
}

fn parse_format() -> impl clap::builder::TypedValueParser<Value = Format> {
    clap::builder::PossibleValuesParser::new(Format::ALL.map(Format::name))
        .map(|s| s.parse::<Format>().expect("a listed format"))
}

fn parse_direction() -> impl clap::builder::TypedValueParser<Value = Direction> {
    clap::builder::PossibleValuesParser::new(["smaller", "bigger"])
        .map(|s| s.parse::<Direction>().expect("a listed direction"))
}

/// `--format` for the commands that write results: each format is written into one
/// directory under its default name (`bmf.json`, `github-action-benchmark-smaller.json` and
/// `-bigger.json`, `hlog/`).
#[derive(clap::Args, Debug, Default)]
pub struct ExportArgs {
    /// Also export the results as these formats (comma-separated: bmf,
    /// github-action-benchmark, hlog).
    #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_parser = parse_format())]
    pub formats: Vec<Format>,
    /// Directory for the `--format` exports.
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
}

impl ExportArgs {
    /// Refuses, before any work, what [`ExportArgs::write`] would refuse at the end: no
    /// directory to write into, or a format the command's figures cannot fill (`hlog`
    /// without latency histograms).
    pub fn check(&self, default_dir: Option<&Path>, has_histograms: bool) -> anyhow::Result<()> {
        if self.formats.is_empty() {
            return Ok(());
        }
        if self.export_dir.is_none() && default_dir.is_none() {
            return Err(usage("--format needs --export-dir DIR to write into"));
        }
        if !has_histograms && self.formats.contains(&Format::Hlog) {
            return Err(usage(
                "--format hlog needs echo latency histograms, and this command measures none",
            ));
        }
        Ok(())
    }

    /// Writes the exports asked for (into `--export-dir`, else `default_dir`). Returns the
    /// exit status the command should end with when nothing else failed: 0, or 1 when
    /// repeats were left out; errors as `export` reports them.
    pub fn write(
        &self,
        figures: &Figures,
        results: Option<&ResultsFile>,
        default_dir: Option<&Path>,
    ) -> anyhow::Result<ExitCode> {
        if self.formats.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        let Some(dir) = self.export_dir.as_deref().or(default_dir) else {
            return Err(usage("--format needs --export-dir DIR to write into"));
        };
        let written = export::write_into(&self.formats, figures, results, dir).map_err(error)?;
        Ok(summarise(&written))
    }
}

/// The error as the command reports it: a usage error (exit 2) for bad paths, exit 3 for
/// nothing to export.
pub fn error(e: ExportError) -> anyhow::Error {
    match e {
        ExportError::Nothing { .. } => anyhow::Error::new(ExitWith(EXIT_NOTHING, e.to_string())),
        e if e.is_usage() => usage(e.to_string()),
        e => anyhow::Error::new(e),
    }
}

/// Prints what was written and what was left out; exit 1 if anything was left out.
fn summarise(written: &[Exported]) -> ExitCode {
    let mut left_out: Vec<&String> = Vec::new();
    for w in written {
        let format = w.format.map_or("export", Format::name);
        let what = if w.files.len() == 1 {
            w.files[0].display().to_string()
        } else {
            let dir = w.files[0].parent().unwrap_or(Path::new("."));
            format!("{} files in {}", w.files.len(), dir.display())
        };
        let unit = if w.format == Some(Format::Hlog) {
            "interval histograms"
        } else {
            "figures"
        };
        println!("export: {format}: {} {unit} to {what}", w.figures);
        for l in &w.left_out {
            if !left_out.contains(&l) {
                left_out.push(l);
            }
        }
    }
    for l in &left_out {
        eprintln!("export: left out {l}");
    }
    if left_out.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "export: partial: {} repeats or entries left out (see above)",
            left_out.len()
        );
        ExitCode::from(1)
    }
}

/// Exports the file.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = ResultsFile::load(&args.input).map_err(|e| usage(e.to_string()))?;
    let written = export::write(args.format, args.direction, &file, &args.out).map_err(error)?;
    Ok(summarise(&[written]))
}
