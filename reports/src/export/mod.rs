//! Exports of results in the formats continuous-benchmarking services read: Bencher Metric
//! Format ([`bmf`]), github-action-benchmark's custom JSON ([`gab`]) and HdrHistogram interval
//! logs ([`hlog`]). [`metrics`] turns a results file into format-independent figures; each
//! format module only renders them.
//!
//! [`write`] is what `loopbench export` calls; [`write_into`] is the shared helper for the
//! commands that write results and take `--format` (each format under its default name in
//! one directory).
//!
//! Invariant: an export never holds a figure the results do not (see [`metrics`]); repeats
//! left out are listed in [`Exported::left_out`], and an export with nothing in it is an
//! [`ExportError::Nothing`], never an empty file.

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use harness::results::{write_atomic, ResultsFile};

pub mod bmf;
pub mod gab;
pub mod hlog;
pub mod metrics;

pub use metrics::{figures, Direction, Figures, Measure, Metric};

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Bencher Metric Format JSON (one file).
    Bmf,
    /// github-action-benchmark's `customSmallerIsBetter` / `customBiggerIsBetter` JSON
    /// (one file per direction).
    GithubActionBenchmark,
    /// HdrHistogram interval logs (a directory, one `.hlog` per echo point).
    Hlog,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 3] = [Format::Bmf, Format::GithubActionBenchmark, Format::Hlog];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bmf => "bmf",
            Format::GithubActionBenchmark => "github-action-benchmark",
            Format::Hlog => "hlog",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown export format '{s}'; formats: {}",
                    Format::ALL.map(Format::name).join(", ")
                )
            })
    }
}

impl Direction {
    /// The name on the command line (`smaller`, `bigger`).
    pub fn name(self) -> &'static str {
        match self {
            Direction::SmallerIsBetter => "smaller",
            Direction::BiggerIsBetter => "bigger",
        }
    }

    /// The github-action-benchmark `tool` that reads this direction.
    pub fn tool(self) -> &'static str {
        match self {
            Direction::SmallerIsBetter => "customSmallerIsBetter",
            Direction::BiggerIsBetter => "customBiggerIsBetter",
        }
    }
}

impl FromStr for Direction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smaller" => Ok(Direction::SmallerIsBetter),
            "bigger" => Ok(Direction::BiggerIsBetter),
            _ => Err(format!(
                "unknown direction '{s}'; directions: smaller, bigger"
            )),
        }
    }
}

/// File name of the BMF export in [`write_into`]'s directory.
pub const BMF_FILE: &str = "bmf.json";
/// Directory of the `.hlog` files in [`write_into`]'s directory.
pub const HLOG_DIR: &str = "hlog";

/// File name of a github-action-benchmark export in [`write_into`]'s directory.
pub fn gab_file(direction: Direction) -> String {
    format!("github-action-benchmark-{}.json", direction.name())
}

/// What one export wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exported {
    /// The format.
    pub format: Option<Format>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Figures written (metrics, or interval histograms for hlog).
    pub figures: usize,
    /// Repeats or entries of the input not exported, each with the reason. Non-empty means
    /// the export is partial.
    pub left_out: Vec<String>,
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The input holds nothing this format can carry.
    #[error("nothing to export as {format}: {why}")]
    Nothing { format: Format, why: String },
    /// A JSON format was asked to write over a directory.
    #[error("{path} is a directory; the {format} export is one file")]
    OutIsDirectory { path: PathBuf, format: Format },
    /// hlog was asked to write into an existing file.
    #[error("{path} is a file; the hlog export is a directory (one .hlog per echo point)")]
    OutIsFile { path: PathBuf },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    /// A document or histogram could not be encoded.
    #[error("cannot encode {what}: {message}")]
    Encode { what: String, message: String },
}

impl ExportError {
    /// Whether the error is about the user's input or output path rather than the machine.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ExportError::OutIsDirectory { .. } | ExportError::OutIsFile { .. }
        )
    }
}

/// Exports `file` as `format` to `out`: a file for the JSON formats (`direction` chooses
/// github-action-benchmark's half), a directory for hlog.
pub fn write(
    format: Format,
    direction: Direction,
    file: &ResultsFile,
    out: &Path,
) -> Result<Exported, ExportError> {
    match format {
        Format::Hlog => write_hlog(file, out),
        _ => write_json(format, direction, &figures(file), out),
    }
}

/// Writes `figures` as a JSON format to the file `out`; `Hlog` is refused (it needs the
/// histograms of a results file).
pub fn write_json(
    format: Format,
    direction: Direction,
    figures: &Figures,
    out: &Path,
) -> Result<Exported, ExportError> {
    if out.is_dir() {
        return Err(ExportError::OutIsDirectory {
            path: out.to_owned(),
            format,
        });
    }
    // Serialized straight from the typed documents, so fields keep their declared order.
    let (bytes, count) = match format {
        Format::Bmf => (
            serde_json::to_vec_pretty(&bmf::render(&figures.metrics)),
            figures.metrics.len(),
        ),
        Format::GithubActionBenchmark => {
            let entries = gab::render(&figures.metrics, direction);
            (serde_json::to_vec_pretty(&entries), entries.len())
        }
        Format::Hlog => {
            return Err(ExportError::Nothing {
                format,
                why: "these figures come without latency histograms".into(),
            })
        }
    };
    if count == 0 {
        return Err(ExportError::Nothing {
            format,
            why: nothing_why(direction, figures),
        });
    }
    let mut bytes = bytes.map_err(|e| ExportError::Encode {
        what: format!("the {format} document"),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    write_atomic(out, &bytes).map_err(|source| ExportError::Write {
        path: out.to_owned(),
        source,
    })?;
    Ok(Exported {
        format: Some(format),
        files: vec![out.to_owned()],
        figures: count,
        left_out: figures.left_out.clone(),
    })
}

fn nothing_why(direction: Direction, figures: &Figures) -> String {
    let base = if figures.metrics.is_empty() {
        "the results hold no measured echo runs, micro-benchmarks or conformance cells".to_string()
    } else {
        let other = match direction {
            Direction::SmallerIsBetter => "bigger",
            Direction::BiggerIsBetter => "smaller",
        };
        format!(
            "no {}-is-better figures among the {} there are (try --direction {other})",
            direction.name(),
            figures.metrics.len()
        )
    };
    if figures.left_out.is_empty() {
        base
    } else {
        format!(
            "{base}; {} repeats or entries left out",
            figures.left_out.len()
        )
    }
}

/// Writes one `.hlog` per echo point of `file` into the directory `out`.
pub fn write_hlog(file: &ResultsFile, out: &Path) -> Result<Exported, ExportError> {
    if out.exists() && !out.is_dir() {
        return Err(ExportError::OutIsFile {
            path: out.to_owned(),
        });
    }
    let mut left_out = Vec::new();
    let points = metrics::echo_points(file, &mut left_out);
    let mut logs = Vec::new();
    for point in &points {
        if let Some(log) = hlog::render_point(point, &file.environment.date, &mut left_out)? {
            logs.push(log);
        }
    }
    if logs.is_empty() {
        let why = if file.runs.is_empty() {
            "the results hold no echo runs (only echo points have latency histograms)".to_string()
        } else {
            format!(
                "no echo run has a latency histogram that could be exported ({} left out)",
                left_out.len()
            )
        };
        return Err(ExportError::Nothing {
            format: Format::Hlog,
            why,
        });
    }
    std::fs::create_dir_all(out).map_err(|source| ExportError::Write {
        path: out.to_owned(),
        source,
    })?;
    let mut exported = Exported {
        format: Some(Format::Hlog),
        left_out,
        ..Exported::default()
    };
    let mut used: Vec<String> = Vec::new();
    for log in logs {
        let name = unique_name(&log.file_name, &used);
        used.push(name.clone());
        let path = out.join(&name);
        write_atomic(&path, log.text.as_bytes()).map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
        exported.figures += log.intervals;
        exported.files.push(path);
    }
    Ok(exported)
}

/// `name`, or `stem-2.hlog`, `stem-3.hlog`, ... if `used` has it (two runtime names that
/// differ only in characters a file name cannot hold).
fn unique_name(name: &str, used: &[String]) -> String {
    if !used.iter().any(|u| u == name) {
        return name.to_string();
    }
    let stem = name.strip_suffix(".hlog").unwrap_or(name);
    (2..)
        .map(|i| format!("{stem}-{i}.hlog"))
        .find(|n| !used.contains(n))
        .expect("an unused name exists")
}

/// The shared helper of commands that take `--format`: writes each of `formats` into `dir`
/// under its default name ([`BMF_FILE`], [`gab_file`] for each direction that has figures,
/// [`HLOG_DIR`]). `results` is the file the figures came from, needed for hlog (the gate's
/// figures have none).
pub fn write_into(
    formats: &[Format],
    figures: &Figures,
    results: Option<&ResultsFile>,
    dir: &Path,
) -> Result<Vec<Exported>, ExportError> {
    let mut out = Vec::new();
    for &format in formats {
        match format {
            Format::Bmf => out.push(write_json(
                format,
                Direction::SmallerIsBetter,
                figures,
                &dir.join(BMF_FILE),
            )?),
            Format::GithubActionBenchmark => {
                let mut any = false;
                for direction in [Direction::SmallerIsBetter, Direction::BiggerIsBetter] {
                    if figures
                        .metrics
                        .iter()
                        .any(|m| m.measure.direction() == direction)
                    {
                        out.push(write_json(
                            format,
                            direction,
                            figures,
                            &dir.join(gab_file(direction)),
                        )?);
                        any = true;
                    }
                }
                if !any {
                    return Err(ExportError::Nothing {
                        format,
                        why: nothing_why(Direction::SmallerIsBetter, figures),
                    });
                }
            }
            Format::Hlog => match results {
                Some(file) => out.push(write_hlog(file, &dir.join(HLOG_DIR))?),
                None => {
                    return Err(ExportError::Nothing {
                        format,
                        why: "these figures come without latency histograms".into(),
                    })
                }
            },
        }
    }
    Ok(out)
}
