//! Fault cases of `conformance`, `micro`, `gate`, `compare`, `report` and `run`: hostile
//! arguments, unusable results files, unwritable output paths, interrupts. Every case
//! asserts the exit status, the one line on stderr, that no process of the run survives it
//! (every process of a run is tagged through its environment), and that no output file is
//! half-written: a refused command writes nothing at all, an interrupted one leaves only
//! whole files (and the conformance journal, which `--resume` continues).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{
    assert_no_partial_file, assert_no_survivor, assert_one_line, descendants, new_tag, run, signal,
    tagged, wait_for_descendants, wait_with_limit,
};
use harness::results::{CellStatus, ConformanceCell, Environment, MicroResult, ResultsFile};

/// Generous: a refused command answers in milliseconds; this only turns a hang into a
/// failure.
const LIMIT: Duration = Duration::from_secs(60);

/// Results files of every kind of wrong, and a few right ones, in `dir`.
fn fixtures(dir: &Path) {
    let micro = |runtime: &str| {
        let mut f = ResultsFile::new(Environment::default());
        f.micro.push(MicroResult {
            runtime: runtime.into(),
            bench: "spawn_many".into(),
            iters: 100,
            ns_per_iter: 1000.0,
            ns_per_iter_min: 900.0,
            ns_per_iter_max: 1100.0,
            samples: 3,
        });
        f
    };
    micro("rt-a").save(&dir.join("micro_a.json")).unwrap();
    micro("rt-b").save(&dir.join("micro_b.json")).unwrap();
    ResultsFile::new(Environment::default())
        .save(&dir.join("bare.json"))
        .unwrap();
    let whole = std::fs::read_to_string(dir.join("micro_a.json")).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("empty.json", "");
    write("truncated.json", &whole[..whole.len() / 2]);
    write("corrupt.json", "{\"schema_version\": 1, oops}");
    write("array.json", "[1, 2, 3]");
    write(
        "no_version.json",
        &whole.replace("\"schema_version\": 1,", ""),
    );
    write(
        "v99.json",
        &whole.replace("\"schema_version\": 1", "\"schema_version\": 99"),
    );
    write("file", "a regular file, used as a directory by the cases\n");
    let status = Command::new("mkfifo")
        .arg(dir.join("fifo"))
        .status()
        .unwrap();
    assert!(status.success());
}

/// Names and sizes of everything under `dir`.
fn listing(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            }
            out.insert(e.path(), if meta.is_file() { meta.len() } else { 0 });
        }
    }
    out
}

/// Runs `args` (`{d}` is the fixtures directory, also the working directory) and asserts
/// the refusal: exit `code`, one `loopbench: error:` line containing `needles`, nothing on
/// stdout (no work began), nothing written, no process left.
fn refused(args: &[&str], code: i32, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let before = listing(dir.path());
    let d = dir.path().to_str().unwrap();
    let args: Vec<String> = args.iter().map(|a| a.replace("{d}", d)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&args, dir.path(), LIMIT);
    assert_eq!(r.code, Some(code), "{args:?}: {r:?}");
    let needles: Vec<String> = needles.iter().map(|n| n.replace("{d}", d)).collect();
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    assert_one_line(&r.stderr, true, &needles);
    assert_eq!(r.stdout, "", "{args:?} began work before refusing");
    assert_eq!(listing(dir.path()), before, "{args:?} wrote something");
}

/// One test per refused command line: `case!(name, [args], exit status, [needles])`.
macro_rules! case {
    ($name:ident, [$($arg:expr),* $(,)?], $code:expr, [$($needle:expr),* $(,)?]) => {
        #[test]
        fn $name() {
            refused(&[$($arg),*], $code, &[$($needle),*]);
        }
    };
}

// Hostile numbers: a range and one usage line, exit 2, never a panic or a hang.
case!(
    conformance_timeout_1e300,
    ["conformance", "--timeout", "1e300", "--json", "{d}/c.json"],
    2,
    [
        "'--timeout <TIMEOUT>'",
        "must be a duration from 100ms to 86400s"
    ]
);
case!(
    conformance_timeout_negative_with_unit,
    ["conformance", "--timeout", "-500ms"],
    2,
    ["from 100ms to 86400s"]
);
case!(
    conformance_timeout_zero,
    ["conformance", "--timeout", "0"],
    2,
    ["from 100ms to 86400s"]
);
case!(
    conformance_timeout_nan,
    ["conformance", "--timeout", "NaN"],
    2,
    ["from 100ms to 86400s"]
);
case!(
    conformance_timeout_negative,
    ["conformance", "--timeout", "-1"],
    2,
    ["from 100ms to 86400s"]
);
case!(
    conformance_timeout_too_many_digits,
    ["conformance", "--timeout", "99999999999999999999999"],
    2,
    ["from 100ms to 86400s"]
);
case!(
    conformance_no_scenario,
    ["conformance", "--scenario", ","],
    2,
    ["no scenario given"]
);
case!(
    micro_iters_zero,
    [
        "micro",
        "--runtime",
        "evloop",
        "--bench",
        "spawn_many",
        "--iters",
        "0"
    ],
    2,
    ["'--iters <ITERS>'", "from 1 to 1,000,000"]
);
case!(
    micro_iters_u64_max,
    [
        "micro",
        "--runtime",
        "evloop",
        "--bench",
        "spawn_many",
        "--iters",
        "18446744073709551615"
    ],
    2,
    ["from 1 to 1,000,000"]
);
case!(
    micro_iters_beyond_u64,
    [
        "micro",
        "--runtime",
        "evloop",
        "--bench",
        "spawn_many",
        "--iters",
        "18446744073709551616"
    ],
    2,
    ["from 1 to 1,000,000"]
);
case!(
    gate_iters_zero,
    ["gate", "--baseline", "{d}/b.json", "--iters", "0"],
    2,
    ["from 1 to 500,000"]
);
case!(
    gate_repeats_one,
    ["gate", "--baseline", "{d}/b.json", "--repeats", "1"],
    2,
    ["from 2 to 1,000"]
);
case!(
    gate_instr_threshold_nan,
    [
        "gate",
        "--baseline",
        "{d}/b.json",
        "--instr-threshold",
        "NaN"
    ],
    2,
    ["above 0 and at most 1,000"]
);
case!(
    gate_time_threshold_negative,
    ["gate", "--baseline", "{d}/b.json", "--time-threshold", "-5"],
    2,
    ["above 0 and at most 1,000"]
);
case!(
    gate_unknown_tier,
    ["gate", "--baseline", "{d}/b.json", "--tiers", "1,4"],
    2,
    ["unknown tier '4'"]
);
case!(
    gate_unknown_reference_before_measuring,
    [
        "gate",
        "--baseline",
        "{d}/b.json",
        "--tiers",
        "2",
        "--reference",
        "nosuch"
    ],
    2,
    ["reference runtime 'nosuch'"]
);
case!(
    compare_threshold_negative,
    [
        "compare",
        "{d}/micro_a.json",
        "{d}/micro_a.json",
        "--threshold",
        "-1"
    ],
    2,
    ["from 0 to 1,000"]
);
case!(
    compare_threshold_infinite,
    [
        "compare",
        "{d}/micro_a.json",
        "{d}/micro_a.json",
        "--threshold",
        "inf"
    ],
    2,
    ["from 0 to 1,000"]
);
case!(
    run_duration_too_long,
    [
        "run",
        "--duration",
        "99999999999999999999999",
        "--out",
        "{d}/o"
    ],
    2,
    ["'--duration <DURATION>'", "from 1ms to 86400s"]
);
case!(
    run_connect_rate_zero,
    ["run", "--connect-rate", "0", "--out", "{d}/o"],
    2,
    ["from 1 to 1,000,000"]
);
case!(
    run_connect_rate_denormal,
    ["run", "--connect-rate", "1e-300", "--out", "{d}/o"],
    2,
    ["from 1 to 1,000,000"]
);
case!(
    run_connections_zero,
    ["run", "--connections", "1,0", "--out", "{d}/o"],
    2,
    ["'0' in '1,0'", "from 1 to 1,000,000"]
);
case!(
    run_warmup_negative,
    ["run", "--warmup", "-1s", "--out", "{d}/o"],
    2,
    ["from 0s to 86400s"]
);
case!(
    unknown_flag_is_one_line,
    ["conformance", "--frobnicate"],
    2,
    [
        "unexpected argument '--frobnicate'",
        "usage: loopbench conformance"
    ]
);

// Results files that cannot be used: exit 2, the path and what is wrong with it.
case!(
    report_empty_file,
    ["report", "--input", "{d}/empty.json", "--out", "{d}/r"],
    2,
    ["{d}/empty.json is empty"]
);
case!(
    report_truncated_file,
    ["report", "--input", "{d}/truncated.json", "--out", "{d}/r"],
    2,
    ["ends early (truncated?)"]
);
case!(
    report_corrupt_file,
    ["report", "--input", "{d}/corrupt.json", "--out", "{d}/r"],
    2,
    ["is not valid loopbench JSON"]
);
case!(
    report_foreign_json,
    ["report", "--input", "{d}/array.json", "--out", "{d}/r"],
    2,
    ["is not a loopbench results file: it is a JSON array"]
);
case!(
    report_missing_version,
    ["report", "--input", "{d}/no_version.json", "--out", "{d}/r"],
    2,
    ["has no schema_version"]
);
case!(
    report_other_version,
    ["report", "--input", "{d}/v99.json", "--out", "{d}/r"],
    2,
    ["has schema_version 99, this loopbench reads version 1"]
);
case!(
    report_fifo_does_not_hang,
    ["report", "--input", "{d}/fifo", "--out", "{d}/r"],
    2,
    ["it is a FIFO, not a regular file"]
);
case!(
    report_directory_input,
    ["report", "--input", "{d}", "--out", "{d}/r"],
    2,
    ["it is a directory, not a regular file"]
);
case!(
    report_unreadable_input,
    ["report", "--input", "{d}/file/x.json", "--out", "{d}/r"],
    2,
    ["cannot read results file {d}/file/x.json"]
);
case!(
    report_nothing_to_report,
    ["report", "--input", "{d}/bare.json", "--out", "{d}/r"],
    3,
    ["nothing to report"]
);
case!(
    compare_nothing_in_common,
    ["compare", "{d}/micro_a.json", "{d}/micro_b.json"],
    3,
    ["{d}/micro_a.json and {d}/micro_b.json have nothing in common"]
);
case!(
    compare_other_version,
    ["compare", "{d}/micro_a.json", "{d}/v99.json"],
    2,
    ["schema_version 99"]
);
case!(
    gate_baseline_is_a_results_file,
    ["gate", "--baseline", "{d}/micro_a.json"],
    2,
    ["is not a loopbench gate baseline (no kind"]
);
case!(
    gate_baseline_fifo_does_not_hang,
    ["gate", "--baseline", "{d}/fifo"],
    2,
    ["it is a FIFO"]
);

case!(
    report_same_label_twice,
    [
        "report",
        "--input",
        "{d}/micro_a.json",
        "--input",
        "{d}/micro_b.json",
        "--label",
        "x",
        "--label",
        "x",
        "--out",
        "{d}/r"
    ],
    2,
    ["--label 'x' is given twice"]
);

// Output paths checked before any work: a path under a regular file cannot be created,
// even by root.
case!(
    report_out_under_a_file,
    [
        "report",
        "--input",
        "{d}/micro_a.json",
        "--out",
        "{d}/file/r"
    ],
    2,
    ["--out: cannot create directory {d}/file/r"]
);
case!(
    report_out_is_a_file,
    ["report", "--input", "{d}/micro_a.json", "--out", "{d}/file"],
    2,
    ["cannot create directory {d}/file: it exists and is not a directory"]
);
case!(
    run_out_under_a_file,
    ["run", "--out", "{d}/file/o"],
    2,
    ["--out: cannot create directory {d}/file/o"]
);
case!(
    micro_json_under_a_file,
    [
        "micro",
        "--runtime",
        "evloop",
        "--bench",
        "spawn_many",
        "--json",
        "{d}/file/m.json"
    ],
    2,
    ["--json: cannot create directory {d}/file"]
);
case!(
    conformance_json_under_a_file,
    [
        "conformance",
        "--runtime",
        "evloop",
        "--json",
        "{d}/file/c.json"
    ],
    2,
    ["--json: cannot create directory {d}/file"]
);
case!(
    conformance_json_is_a_directory,
    ["conformance", "--runtime", "evloop", "--json", "{d}"],
    2,
    ["is a directory, not a file"]
);
case!(
    gate_update_path_under_a_file,
    [
        "gate",
        "--baseline",
        "{d}/file/b.json",
        "--update",
        "--tiers",
        "3"
    ],
    2,
    ["--baseline: cannot create directory {d}/file"]
);

// The journal.
case!(
    conformance_resume_needs_json,
    ["conformance", "--resume"],
    2,
    ["--json"]
);

/// A journal of `runtimes` × `scenarios` with no cell, at `dir/c.json.journal`.
fn empty_journal(dir: &Path, runtimes: &[&str], scenarios: &[&str]) -> PathBuf {
    let path = dir.join("c.json.journal");
    let sel = harness::journal::Selection::new(runtimes, scenarios);
    harness::journal::CellJournal::create(&path, &sel).unwrap();
    path
}

#[test]
fn conformance_resume_refuses_a_journal_of_another_selection() {
    let dir = tempfile::tempdir().unwrap();
    let journal = empty_journal(dir.path(), &["evloop"], &["loop.call_soon_fifo"]);
    let before = std::fs::read(&journal).unwrap();
    let json = dir.path().join("c.json");
    let r = run(
        &[
            "conformance",
            "--runtime",
            "evloop,tokio-ct",
            "--scenario",
            "loop.call_soon_fifo",
            "--json",
            json.to_str().unwrap(),
            "--resume",
        ],
        dir.path(),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_one_line(
        &r.stderr,
        true,
        &["belongs to another selection", "1 runtime (evloop)"],
    );
    assert_eq!(r.stdout, "");
    assert_eq!(std::fs::read(&journal).unwrap(), before, "journal changed");
    assert!(!json.exists());
}

#[test]
fn conformance_resume_refuses_a_file_that_is_not_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("c.json.journal");
    std::fs::write(&journal, "{\"someone\": \"else's file\"}\n").unwrap();
    let json = dir.path().join("c.json");
    let r = run(
        &[
            "conformance",
            "--runtime",
            "evloop",
            "--json",
            json.to_str().unwrap(),
            "--resume",
        ],
        dir.path(),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_one_line(&r.stderr, true, &["is not a loopbench conformance journal"]);
    assert!(std::fs::read_to_string(&journal)
        .unwrap()
        .contains("someone"));
}

/// The matrix the interrupt cases run: two quick cells, then a hung one.
const RUNTIMES: &str = "evloop,tokio-ct";
const SCENARIOS: &str = "loop.call_soon_fifo,selftest.hang";

/// Starts that matrix (tagged) writing `dir/c.json`, two cells at once, waits until both
/// hung cells run (so both quick ones have ended: with more cells at once, a quick cell could
/// still be running when the signal comes), sends `sig`; returns the exit status, stderr and
/// the tag.
fn interrupt_matrix(dir: &Path, sig: i32, json: bool) -> (Option<i32>, String, String) {
    let tag = new_tag("interrupt");
    let path = dir.join("c.json");
    let mut args = vec![
        "conformance",
        "--runtime",
        RUNTIMES,
        "--scenario",
        SCENARIOS,
        "--timeout",
        "60",
        "--jobs",
        "2",
        "--quiet",
    ];
    if json {
        args.extend(["--json", path.to_str().unwrap()]);
    }
    let child = tagged(&tag, &args).current_dir(dir).spawn().unwrap();
    // Both hung cells run, and both quick cells are in the journal (a header line, then a
    // line per cell).
    let journal = dir.join("c.json.journal");
    let start = std::time::Instant::now();
    loop {
        let hung = descendants(child.id())
            .iter()
            .filter(|(_, cmd)| cmd.contains("__cell") && cmd.contains("selftest.hang"))
            .count();
        let saved = std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count());
        if hung >= 2 && (!json || saved >= 3) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{hung} hung cells running, {saved} journal lines, after 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), sig);
    let out = wait_with_limit(child, Duration::from_secs(10), "interrupted conformance");
    assert_no_survivor(&tag);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        tag,
    )
}

/// The cells of a journal file.
fn journal_cells(path: &Path) -> Vec<ConformanceCell> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Interrupts the matrix with `sig`, then runs the printed `--resume` command (with a
/// short limit for the hung cells): the results hold every cell exactly once, the saved
/// ones exactly as saved (not run again).
fn interrupted_then_resumed(sig: i32, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("c.json");
    let journal = dir.path().join("c.json.journal");
    let (status, stderr, _) = interrupt_matrix(dir.path(), sig, true);
    assert_eq!(status, Some(code), "{stderr}");
    assert_one_line(
        &stderr,
        false,
        &[
            "conformance: interrupted; 2 of 4 cells saved in",
            "c.json.journal",
        ],
    );
    assert!(!json.exists(), "results written by an interrupted run");
    assert_no_partial_file(dir.path());
    let saved = journal_cells(&journal);
    // Cells run a few at once, so the journal is in completion order.
    let mut saved_ids: Vec<(&str, &str)> = saved
        .iter()
        .map(|c| (c.scenario.as_str(), c.runtime.as_str()))
        .collect();
    saved_ids.sort_unstable();
    assert_eq!(
        saved_ids,
        [
            ("loop.call_soon_fifo", "evloop"),
            ("loop.call_soon_fifo", "tokio-ct")
        ]
    );

    // The printed command: this binary, the same arguments, then --resume.
    let command = stderr.trim().split("continue with: ").nth(1).unwrap();
    let words: Vec<&str> = command.split(' ').collect();
    assert_eq!(words[0], env!("CARGO_BIN_EXE_loopbench"), "{command}");
    assert_eq!(words.last(), Some(&"--resume"), "{command}");
    let args: Vec<&str> = words[1..]
        .iter()
        .map(|w| if *w == "60" { "1" } else { w })
        .collect();
    let r = run(&args, dir.path(), LIMIT);
    // The hung cells time out: a failure, exit 1.
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_one_line(
        &r.stderr,
        false,
        &["conformance: resuming: 2 of 4 cells saved"],
    );

    let file = ResultsFile::load(&json).unwrap();
    assert_eq!(file.results.len(), 4);
    for rt in RUNTIMES.split(',') {
        for sc in SCENARIOS.split(',') {
            let n = file
                .results
                .iter()
                .filter(|c| c.runtime == rt && c.scenario == sc)
                .count();
            assert_eq!(n, 1, "{sc} on {rt}");
        }
    }
    for cell in &saved {
        assert!(file.results.contains(cell), "{cell:?} was run again");
    }
    for cell in file
        .results
        .iter()
        .filter(|c| c.scenario == "selftest.hang")
    {
        assert_eq!(cell.status, CellStatus::Timeout, "{cell:?}");
        assert!(cell.detail.contains("within 1 s"), "{cell:?}");
    }
    assert!(
        !journal.exists(),
        "journal left after the results were written"
    );
    assert_no_partial_file(dir.path());
}

#[test]
fn sigint_mid_matrix_saves_the_cells_and_resume_runs_each_missing_cell_once() {
    interrupted_then_resumed(2, 130);
}

#[test]
fn sigterm_mid_matrix_saves_the_cells_and_resume_runs_each_missing_cell_once() {
    interrupted_then_resumed(15, 143);
}

#[test]
fn kill_9_mid_matrix_keeps_the_journal_and_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, _) = interrupt_matrix(dir.path(), 9, true);
    // Killed outright: no exit status, nothing printed, but the cells are on disk.
    assert_eq!(status, None);
    assert_eq!(stderr, "");
    assert_eq!(journal_cells(&dir.path().join("c.json.journal")).len(), 2);
    assert!(!dir.path().join("c.json").exists());
    assert_no_partial_file(dir.path());
}

#[test]
fn sigint_mid_matrix_without_json_says_nothing_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, _) = interrupt_matrix(dir.path(), 2, false);
    assert_eq!(status, Some(130), "{stderr}");
    assert_one_line(
        &stderr,
        false,
        &["interrupted; no cell saved", "--json PATH"],
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn resume_drops_a_cut_off_last_line_and_runs_that_cell_again() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("c.json");
    let args = |resume: bool| {
        let mut a = vec![
            "conformance",
            "--runtime",
            "evloop",
            "--scenario",
            "loop.call_soon_fifo,tasks.starts_later",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ];
        if resume {
            a.push("--resume");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let a = args(false);
    let r = run(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let first = ResultsFile::load(&json).unwrap().results;
    assert_eq!(first.len(), 2);
    std::fs::remove_file(&json).unwrap();

    // The journal a run killed in the middle of writing its second line leaves.
    let journal = empty_journal(
        dir.path(),
        &["evloop"],
        &["loop.call_soon_fifo", "tasks.starts_later"],
    );
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend(serde_json::to_vec(&first[0]).unwrap());
    bytes.push(b'\n');
    let second = serde_json::to_vec(&first[1]).unwrap();
    bytes.extend(&second[..second.len() / 2]);
    std::fs::write(&journal, bytes).unwrap();

    let a = args(true);
    let r = run(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_one_line(&r.stderr, false, &["resuming: 1 of 2 cells saved"]);
    let file = ResultsFile::load(&json).unwrap();
    assert_eq!(file.results.len(), 2);
    assert_eq!(file.results[0], first[0], "the saved cell was run again");
    assert_eq!(file.results[1].scenario, "tasks.starts_later");
    assert_ne!(
        file.results[1].elapsed_ms, first[1].elapsed_ms,
        "the cut-off cell was not run again"
    );
    assert!(!journal.exists());
}

#[test]
fn sigint_of_run_mid_stage_leaves_no_process_and_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let tag = new_tag("run-interrupt");
    let child = tagged(
        &tag,
        &[
            "run",
            "--skip-echo",
            "--skip-micro",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .current_dir(dir.path())
    .spawn()
    .unwrap();
    wait_for_descendants(child.id(), &["__cell"], Duration::from_secs(30));
    signal(child.id(), 2);
    let output = wait_with_limit(child, Duration::from_secs(10), "interrupted run");
    assert_no_survivor(&tag);
    assert_eq!(output.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("run: interrupted during the conformance stage"),
        "{stderr}"
    );
    // The stage's own line, from the conformance child, once.
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("conformance: interrupted; "))
            .count(),
        1,
        "{stderr}"
    );
    assert!(!out.join("conformance.json").exists());
    assert!(!out.join("report").exists());
    assert_no_partial_file(&out);
}
