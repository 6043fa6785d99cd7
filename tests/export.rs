//! `loopbench export` and `--format` with the real binary: what each exit status means
//! (0 written, 1 partial, 2 unusable input, 3 nothing to export), one clear line on every
//! error, and the files the commands that take `--format` write. The formats themselves are
//! checked against independent readers in `reports/tests/export.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::results::ResultsFile;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reports/tests/fixtures/current.json")
}

fn loopbench(args: &[&str]) -> launch::Output {
    launch::Launch::loopbench(env!("CARGO_BIN_EXE_loopbench"))
        .args(args)
        .time_limit(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn code(out: &launch::Output) -> Option<i32> {
    out.ended.code()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One line on stderr, starting `loopbench: error:`.
fn assert_one_error_line(out: &launch::Output, needle: &str) {
    let err = out.stderr_text();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("loopbench: error: "), "{err}");
    assert!(lines[0].contains(needle), "{err}");
}

#[test]
fn export_writes_each_format_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture();
    for (format, out, extra) in [
        ("bmf", dir.path().join("bmf.json"), None),
        (
            "github-action-benchmark",
            dir.path().join("smaller.json"),
            None,
        ),
        (
            "github-action-benchmark",
            dir.path().join("bigger.json"),
            Some("bigger"),
        ),
        ("hlog", dir.path().join("hlog"), None),
    ] {
        let mut args = vec![
            "export",
            "--format",
            format,
            "--input",
            s(&input),
            "--out",
            s(&out),
        ];
        if let Some(d) = extra {
            args.extend(["--direction", d]);
        }
        let o = loopbench(&args);
        assert_eq!(code(&o), Some(0), "{format}: {}", o.stderr_text());
        assert!(
            o.stdout_text().starts_with(&format!("export: {format}: ")),
            "{}",
            o.stdout_text()
        );
        assert!(out.exists(), "{}", out.display());
    }
    let bigger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bigger.json")).unwrap())
            .unwrap();
    assert!(bigger.as_array().unwrap().iter().all(|e| e["name"]
        .as_str()
        .unwrap()
        .ends_with("/throughput")
        || e["name"].as_str().unwrap().ends_with("/passing-cells")));
    let hlogs = std::fs::read_dir(dir.path().join("hlog")).unwrap().count();
    assert!(hlogs > 10, "{hlogs}");
}

#[test]
fn nothing_to_export_exits_3_and_unusable_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // A conformance-only file: bmf has its counts, hlog has nothing to carry.
    let mut conformance = ResultsFile::load(&fixture()).unwrap();
    conformance.runs.clear();
    conformance.micro.clear();
    let c = dir.path().join("conformance.json");
    conformance.save(&c).unwrap();
    let o = loopbench(&[
        "export",
        "--format",
        "bmf",
        "--input",
        s(&c),
        "--out",
        s(&dir.path().join("c-bmf.json")),
    ]);
    assert_eq!(code(&o), Some(0), "{}", o.stderr_text());
    let out = dir.path().join("c-hlog");
    let o = loopbench(&[
        "export",
        "--format",
        "hlog",
        "--input",
        s(&c),
        "--out",
        s(&out),
    ]);
    assert_eq!(code(&o), Some(3));
    assert_one_error_line(&o, "nothing to export as hlog");
    assert!(!out.exists());

    // Missing, corrupt, wrong kinds of output path, unknown format.
    let missing = dir.path().join("missing.json");
    let o = loopbench(&[
        "export",
        "--format",
        "bmf",
        "--input",
        s(&missing),
        "--out",
        s(&dir.path().join("x.json")),
    ]);
    assert_eq!(code(&o), Some(2));
    assert_one_error_line(&o, "cannot read results file");
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"schema_version\": 1, ").unwrap();
    let o = loopbench(&[
        "export",
        "--format",
        "bmf",
        "--input",
        s(&corrupt),
        "--out",
        s(&dir.path().join("x.json")),
    ]);
    assert_eq!(code(&o), Some(2));
    assert_one_error_line(&o, "ends early (truncated?)");
    let o = loopbench(&[
        "export",
        "--format",
        "bmf",
        "--input",
        s(&fixture()),
        "--out",
        s(dir.path()),
    ]);
    assert_eq!(code(&o), Some(2));
    assert_one_error_line(&o, "is a directory");
    let o = loopbench(&[
        "export",
        "--format",
        "hlog",
        "--input",
        s(&fixture()),
        "--out",
        s(&c),
    ]);
    assert_eq!(code(&o), Some(2));
    assert_one_error_line(&o, "is a file");
    let o = loopbench(&[
        "export",
        "--format",
        "csv",
        "--input",
        s(&fixture()),
        "--out",
        s(&c),
    ]);
    assert_eq!(code(&o), Some(2));
    assert!(
        o.stderr_text()
            .contains("possible values: bmf, github-action-benchmark, hlog"),
        "{}",
        o.stderr_text()
    );
}

#[test]
fn left_out_repeats_are_named_and_the_export_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = ResultsFile::load(&fixture()).unwrap();
    let bad = file
        .runs
        .iter_mut()
        .find(|r| r.runtime == "smol" && r.connections == 100 && r.mode == "closed")
        .unwrap();
    bad.errors.mismatches = 2;
    let repeat = bad.repeat;
    let path = dir.path().join("partial.json");
    file.save(&path).unwrap();
    for (format, out) in [
        ("bmf", dir.path().join("p.json")),
        ("hlog", dir.path().join("p-hlog")),
    ] {
        let o = loopbench(&[
            "export",
            "--format",
            format,
            "--input",
            s(&path),
            "--out",
            s(&out),
        ]);
        assert_eq!(code(&o), Some(1), "{format}: {}", o.stderr_text());
        let err = o.stderr_text();
        assert!(
            err.contains(&format!(
                "export: left out echo/smol/closed/100conns/64B repeat {repeat}: 2 echoed messages were wrong"
            )),
            "{err}"
        );
        assert!(
            err.contains("export: partial: 1 repeats or entries left out"),
            "{err}"
        );
        assert!(out.exists(), "the rest is still written");
    }
}

#[test]
fn report_and_micro_take_format_and_gate_refuses_hlog_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let o = loopbench(&[
        "report",
        "--input",
        s(&fixture()),
        "--out",
        s(&report),
        "--format",
        "bmf,github-action-benchmark,hlog",
    ]);
    assert_eq!(code(&o), Some(0), "{}", o.stderr_text());
    for name in [
        "index.html",
        "bmf.json",
        "github-action-benchmark-smaller.json",
        "github-action-benchmark-bigger.json",
        "hlog",
    ] {
        assert!(report.join(name).exists(), "{name}");
    }

    let out = dir.path().join("micro");
    let o = loopbench(&[
        "micro",
        "--runtime",
        "evloop",
        "--bench",
        "spawn_many",
        "--iters",
        "50",
        "--format",
        "bmf",
        "--export-dir",
        s(&out),
    ]);
    assert_eq!(code(&o), Some(0), "{}", o.stderr_text());
    let bmf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bmf.json")).unwrap()).unwrap();
    let value = bmf["micro/evloop/spawn_many"]["latency"]["value"]
        .as_f64()
        .unwrap();
    assert!(value > 0.0, "{bmf}");
    // One sample: no bounds to give.
    assert!(
        bmf["micro/evloop/spawn_many"]["latency"]
            .get("lower_value")
            .is_none(),
        "{bmf}"
    );
    let o = loopbench(&[
        "micro",
        "--runtime",
        "evloop",
        "--bench",
        "spawn_many",
        "--format",
        "bmf",
    ]);
    assert_eq!(code(&o), Some(2));
    assert_one_error_line(&o, "--format needs --export-dir");

    let o = loopbench(&[
        "gate",
        "--baseline",
        "ci/baseline.json",
        "--format",
        "hlog",
        "--export-dir",
        s(dir.path()),
    ]);
    assert_eq!(code(&o), Some(2));
    assert_one_error_line(&o, "--format hlog needs echo latency histograms");
}
