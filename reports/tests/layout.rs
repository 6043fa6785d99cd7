//! The layout checker `ci/check-layout.sh` (headless Chromium, 1280 px): it passes on
//! generated reports — the fixtures, and a matrix of 12 runtimes × 95 scenarios — and fails,
//! naming the problem, on its deliberately broken pages under `ci/layout-fixtures/`.
//!
//! Skips, saying why, only where Chromium is not installed (`.ci/run` installs it first).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::results::ResultsFile;
use loopbench_reports::{write_labelled_report, write_report};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether a Chromium is on `PATH`; prints why the test skips when not.
fn have_chromium() -> bool {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|d| d.join("chromium").is_file() || d.join("chromium-browser").is_file())
    });
    if !found {
        eprintln!(
            "skipped: chromium is not installed (Debian: apt-get install chromium), so the \
             layout checker cannot run"
        );
    }
    found
}

/// Runs the checker on `page` (a report directory or an HTML file): the one place this
/// test starts a child process.
fn check(page: &Path) -> Output {
    Command::new("bash")
        .arg(repo().join("ci/check-layout.sh"))
        .arg(page)
        .output()
        .expect("bash runs")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_passes(page: &Path) -> String {
    let out = check(page);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the checker fails on `page` with at least one finding starting with `kind`.
fn assert_fails(page: &Path, kind: &str) -> Vec<String> {
    let out = check(page);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let findings: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("layout: "))
        .map(String::from)
        .collect();
    assert!(
        findings
            .iter()
            .any(|l| l.starts_with(&format!("layout: {kind}: "))),
        "no '{kind}' finding: {}",
        text(&out)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("check-layout: ") && last.contains("problem(s)"),
        "{last}"
    );
    findings
}

#[test]
fn generated_reports_pass() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixtures = common::fixtures_dir();
    let base = ResultsFile::load(&fixtures.join("baseline.json")).unwrap();
    let current = ResultsFile::load(&fixtures.join("current.json")).unwrap();
    write_report(std::slice::from_ref(&base), &dir.path().join("single")).unwrap();
    let labels = ["baseline".to_string(), "current".to_string()];
    write_labelled_report(&[base, current], &labels, &dir.path().join("overlay")).unwrap();
    write_report(&[common::wide(12, 95)], &dir.path().join("wide")).unwrap();

    assert_passes(&dir.path().join("single"));
    assert_passes(&dir.path().join("overlay"));
    let wide = assert_passes(&dir.path().join("wide"));
    assert!(wide.contains("matrix: 95 rows x 12 runtimes"), "{wide}");
}

#[test]
fn too_wide_page_fails() {
    if !have_chromium() {
        return;
    }
    let findings = assert_fails(&repo().join("ci/layout-fixtures/too-wide.html"), "too-wide");
    assert!(
        findings.iter().any(|l| l.contains("the document is")),
        "{findings:?}"
    );
}

#[test]
fn overlapping_text_fails() {
    if !have_chromium() {
        return;
    }
    let findings = assert_fails(&repo().join("ci/layout-fixtures/overlap.html"), "overlap");
    assert!(
        findings
            .iter()
            .any(|l| l.contains("probe.reacquire_async_lock_semaphore")),
        "{findings:?}"
    );
    assert!(
        findings.iter().any(|l| l.starts_with("layout: cut: ")),
        "{findings:?}"
    );
}

#[test]
fn chart_without_legend_fails() {
    if !have_chromium() {
        return;
    }
    let findings = assert_fails(&repo().join("ci/layout-fixtures/chart.html"), "chart");
    let joined = findings.join("\n");
    assert!(joined.contains("has no legend"), "{joined}");
    assert!(joined.contains("outside the chart"), "{joined}");
}

#[test]
fn unusable_input_is_status_2() {
    let out = check(&repo().join("ci/layout-fixtures/no-such-page.html"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such page"));
}
