//! Reports of loopbench results: a self-contained HTML page with SVG charts, a comparison
//! of two results files, terminal tables, and exports in the formats CI services read.
//!
//! Bird's-eye view: [`merge`] turns one or more [`ResultsFile`]s into one, labelling each
//! echo run with the input it came from; [`stats`] groups runs and takes medians over
//! repeats; [`io_models`] compares the epoll and io_uring members of server pairs; [`charts`] draws SVG with `plotters`; [`html`] assembles the page;
//! [`compare`] and [`terminal`] render text; [`export`] writes Bencher Metric Format,
//! github-action-benchmark JSON and HdrHistogram interval logs.
//!
//! Invariant: the HTML page never references the network: no `http://` or `https://`
//! appears in it (inline SVG is stripped of its `xmlns`).

use std::io;
use std::path::PathBuf;

pub use harness::results::ResultsFile;

mod charts;
pub mod compare;
pub mod echo_text;
pub mod export;
pub mod html;
pub mod io_models;
pub mod killmatrix;
pub mod latency;
pub mod matrix;
pub mod merge;
pub mod rules;
pub mod stats;
pub mod summary;
pub mod terminal;

pub use compare::{compare, Comparison};
pub use html::{write_labelled_report, write_report};

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No results file was given.
    #[error("no results files given to the report")]
    NoInputs,
    /// Labels and inputs differ in number.
    #[error("{labels} labels given for {inputs} results files")]
    LabelCount { labels: usize, inputs: usize },
    /// A file of the report could not be written.
    #[error("cannot write report file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    /// The merged results could not be serialized.
    #[error("cannot serialize the merged results for {path}: {source}")]
    Serialize {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// plotters failed to draw a chart.
    #[error("cannot draw chart {chart}: {message}")]
    Chart { chart: String, message: String },
}
