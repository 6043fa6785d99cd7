//! The HTML report: one self-contained `index.html` (inline CSS and SVG, nothing from the
//! network), each chart again as a `.svg` file beside it, and the merged `results.json`.
//!
//! Invariant: every file is written with [`write_atomic`], and the page contains no
//! `http://` or `https://` (checked before writing).

mod conformance;
mod echo;
mod equal_load;
mod io_models;
mod mutants;
mod page;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use harness::results::{write_atomic, ResultsFile};

use crate::charts::{inline_svg, Plot};
use crate::merge::{default_labels, MergedResults};
use crate::ReportError;

/// Writes the report of `inputs` into `out_dir` and returns the path of `index.html`.
/// Inputs are labelled `old`/`new` (two) or `run N`; see [`write_labelled_report`].
pub fn write_report(inputs: &[ResultsFile], out_dir: &Path) -> Result<PathBuf, ReportError> {
    write_labelled_report(inputs, &default_labels(inputs.len()), out_dir)
}

/// Like [`write_report`], with one label per input (used to tell overlaid runs apart).
pub fn write_labelled_report(
    inputs: &[ResultsFile],
    labels: &[String],
    out_dir: &Path,
) -> Result<PathBuf, ReportError> {
    let merged = MergedResults::new(inputs, labels)?;
    let mut figures = Figures::default();
    let html = page::render(&merged, &mut figures)?;
    debug_assert!(!html.contains("http://") && !html.contains("https://"));

    for (name, svg) in &figures.files {
        write(&out_dir.join(name), svg.as_bytes())?;
    }
    let json_path = out_dir.join("results.json");
    let mut json =
        serde_json::to_vec_pretty(&merged.file).map_err(|source| ReportError::Serialize {
            path: json_path.clone(),
            source,
        })?;
    json.push(b'\n');
    write(&json_path, &json)?;
    let index = out_dir.join("index.html");
    write(&index, html.as_bytes())?;
    Ok(index)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The charts of a page, collected while it is rendered, to be written beside it.
#[derive(Default)]
struct Figures {
    /// (file name, standalone SVG) in page order.
    files: Vec<(String, String)>,
}

impl Figures {
    /// Draws `chart` (a line chart or a dot plot), keeps it as `<stem>.svg`, and appends
    /// the inline figure with its one-line reading guide to `out`.
    fn add(
        &mut self,
        out: &mut String,
        stem: &str,
        chart: &impl Plot,
        how_to_read: &str,
    ) -> Result<(), ReportError> {
        let svg = chart.svg()?;
        let file = format!("{stem}.svg");
        let _ = writeln!(
            out,
            "<figure>{}<figcaption>{} <a class=\"file\" href=\"{}\">{}</a></figcaption></figure>",
            inline_svg(&svg),
            esc(how_to_read),
            esc(&file),
            esc(&file)
        );
        self.files.push((file, svg));
        Ok(())
    }
}

/// `text` escaped for HTML text and attribute values; `://` becomes `:&#47;&#47;` so a URL
/// in a detail reads the same but the page holds no link to the network.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out.replace("://", ":&#47;&#47;")
}

/// A section that has no data: its heading and one line saying so.
fn empty_section(out: &mut String, id: &str, title: &str, why: &str) {
    let _ = writeln!(
        out,
        "<section id=\"{id}\"><h2>{}</h2><p class=\"empty\">{}</p></section>",
        esc(title),
        esc(why)
    );
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("see https://x"), "see https:&#47;&#47;x");
    }
}
