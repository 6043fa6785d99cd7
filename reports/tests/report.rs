//! Renders the HTML report from the fixtures and checks its structure: sections, charts,
//! series, no network references, and the files beside the page.

mod common;

use std::path::Path;

use harness::results::ResultsFile;
use loopbench_reports::{write_labelled_report, write_report, ReportError};

fn fixture(name: &str) -> ResultsFile {
    ResultsFile::load(&common::fixtures_dir().join(name)).unwrap()
}

fn svg_blocks(html: &str) -> Vec<&str> {
    html.match_indices("<svg")
        .map(|(i, _)| {
            let end = html[i..].find("</svg>").unwrap() + i;
            &html[i..end]
        })
        .collect()
}

fn check_beside_files(dir: &Path, html: &str) {
    for stem in [
        "throughput",
        "latency-corrected",
        "latency-raw",
        "cpu-per-message",
        "rss-per-connection",
        "open-loop-p99",
    ] {
        let file = dir.join(format!("{stem}.svg"));
        let svg =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(svg.starts_with("<svg") && svg.contains("xmlns"), "{stem}");
        assert!(
            html.contains(&format!("href=\"{stem}.svg\"")),
            "{stem} not linked"
        );
    }
    let merged = ResultsFile::load(&dir.join("results.json")).unwrap();
    assert!(!merged.runs.is_empty());
}

#[test]
fn single_file_report_has_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("baseline.json");
    let index = write_report(std::slice::from_ref(&input), dir.path()).unwrap();
    assert_eq!(index, dir.path().join("index.html"));
    let html = std::fs::read_to_string(&index).unwrap();

    for id in [
        "summary",
        "environment",
        "conformance",
        "throughput",
        "latency",
        "resources",
        "open-loop",
        "micro",
        "echo-table",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
        assert!(
            html.contains(&format!("href=\"#{id}\"")),
            "{id} not in the table of contents"
        );
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("@import"));

    let svgs = svg_blocks(&html);
    assert!(svgs.len() >= 5, "{} charts", svgs.len());
    let throughput = svgs[0];
    for rt in ["tokio-ct", "async-std", "smol", "epoll-floor", "threads"] {
        assert!(
            throughput.contains(&format!(">{rt}<"))
                || throughput.contains(&format!(">\n{rt}\n<"))
                || throughput.contains(rt),
            "{rt} not in the throughput legend"
        );
    }
    // Baselines dashed: the throughput chart has dashed segments.
    assert!(throughput.matches("<polyline").count() + throughput.matches("<line").count() > 5);

    // Environment, conformance content.
    for text in [
        "AMD EPYC 7B13",
        "6.1.0-28-cloud-amd64",
        "1.48.0",
        "server cpu 0, client cpu 1",
        "65536 soft / 1048576 hard",
        "--connections",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    assert!(html.contains("call_soon(cb) callbacks run in the order they were scheduled"));
    assert!(
        html.contains("did not finish within 10 s"),
        "timeout reason must be visible"
    );
    assert!(html.contains("id=\"note-1\""));
    assert!(html.contains("sleep_1ms_p50 = 2.01 ms"));
    assert!(html.contains("Best throughput at the highest connection count (1000)"));
    check_beside_files(dir.path(), &html);
}

#[test]
fn two_files_are_overlaid_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (fixture("baseline.json"), fixture("current.json"));
    write_report(&[old.clone(), new.clone()], dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let throughput = svg_blocks(&html)[0];
    assert!(throughput.contains("tokio-ct (old)") && throughput.contains("tokio-ct (new)"));
    assert!(html.contains("Merged files") && html.contains("2026-11-21T09:00:00Z"));
    let merged = ResultsFile::load(&dir.path().join("results.json")).unwrap();
    assert_eq!(merged.runs.len(), old.runs.len() + new.runs.len());
    assert_eq!(merged.results.len(), old.results.len() + new.results.len());
    assert_eq!(merged.environment, old.environment);
    check_beside_files(dir.path(), &html);
}

#[test]
fn empty_sections_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut only_conformance = fixture("baseline.json");
    only_conformance.runs.clear();
    only_conformance.micro.clear();
    only_conformance.results[0].detail = "see https://docs.rs/x".into();
    write_report(&[only_conformance], dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(!html.contains("<svg"));
    assert!(html.contains("No closed-loop echo runs in these results."));
    assert!(html.contains("No micro-benchmark results in these results."));
    assert!(!html.contains("https://"));
}

#[test]
fn no_inputs_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        write_report(&[], dir.path()),
        Err(ReportError::NoInputs)
    ));
    let f = fixture("baseline.json");
    let err = write_labelled_report(&[f], &[], dir.path()).unwrap_err();
    assert!(matches!(err, ReportError::LabelCount { .. }), "{err}");
}

#[test]
fn unwritable_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let err = write_report(&[fixture("baseline.json")], &blocker.join("out")).unwrap_err();
    assert!(err.to_string().contains("out"), "{err}");
}

/// Writes the fixture reports to `LOOPBENCH_REPORT_DIR` (both files overlaid) and
/// `LOOPBENCH_REPORT_DIR/single` (the baseline alone) for a look in a browser.
#[test]
fn write_sample_report_when_asked() {
    if let Some(dir) = std::env::var_os("LOOPBENCH_REPORT_DIR") {
        let dir = Path::new(&dir);
        let labels = ["baseline".to_string(), "current".to_string()];
        let inputs = [fixture("baseline.json"), fixture("current.json")];
        write_labelled_report(&inputs, &labels, dir).unwrap();
        write_report(&inputs[..1], &dir.join("single")).unwrap();
    }
}
