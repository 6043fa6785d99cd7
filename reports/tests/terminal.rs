//! The terminal conformance matrix and echo table.

mod common;

use harness::results::{CellStatus, ResultsFile};
use loopbench_reports::terminal::{conformance_matrix, echo_table};

fn base() -> ResultsFile {
    ResultsFile::load(&common::fixtures_dir().join("baseline.json")).unwrap()
}

#[test]
fn matrix_rows_notes_and_totals() {
    let file = base();
    let text = conformance_matrix(&file.results, false, false);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("scenario")
            && lines[0].contains("tokio-ct")
            && lines[0].contains("async-std")
            && lines[0].contains("smol"),
        "{text}"
    );
    let row = lines
        .iter()
        .find(|l| l.starts_with("streams.backpressure"))
        .unwrap();
    assert!(
        row.contains("N4")
            && row.contains("pass")
            && row.contains("timeout [")
            && row.contains("crash ["),
        "{row}"
    );
    assert!(lines.iter().any(|l| l.starts_with("loop.call_soon_fifo")));
    assert!(
        text.contains("streams.backpressure on async-std: timeout: did not finish within 10 s"),
        "{text}"
    );
    assert!(text.contains("timers.not_early on smol: differs: timer wheel granularity"));
    assert!(text.contains("sleep_1ms_p50 = 2.01 ms"));
    let n = |s: CellStatus| file.results.iter().filter(|c| c.status == s).count();
    let total = lines.last().unwrap();
    assert!(total.starts_with("total:"), "{total}");
    assert!(
        total.contains(&format!("{} pass", n(CellStatus::Pass)))
            && total.contains("1 crash")
            && total.contains("1 fail"),
        "{total}"
    );
    assert!(!text.contains('\x1b'));
    // Notes are numbered in order.
    assert!(
        text.contains("[1] ")
            && text.contains(&format!(
                "[{}] ",
                file.results
                    .iter()
                    .filter(|c| c.status != CellStatus::Pass)
                    .count()
            ))
    );
}

#[test]
fn only_differences_and_colour() {
    let file = base();
    let text = conformance_matrix(&file.results, true, true);
    assert!(
        !text.lines().any(|l| l.starts_with("loop.call_soon_fifo")),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("tasks.gather_order")));
    assert!(text.lines().any(|l| l.starts_with("timers.not_early")));
    assert!(text.contains("2 rows where every runtime passes are hidden"));
    assert!(text.contains("\x1b[35mtimeout"), "timeout in magenta");
    // Columns align on the visible text: every table line has the same visible prefix width.
    let strip = |l: &str| {
        let mut out = String::new();
        let mut esc = false;
        for c in l.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (false, c) => out.push(c),
                _ => {}
            }
        }
        out
    };
    let header = strip(text.lines().next().unwrap());
    let smol_col = header.find("smol").unwrap();
    let row = strip(
        text.lines()
            .find(|l| l.starts_with("timers.not_early"))
            .unwrap(),
    );
    assert_eq!(row.find("differs"), Some(smol_col), "{header}\n{row}");
}

#[test]
fn echo_table_rows() {
    let file = base();
    let text = echo_table(&file.runs);
    let header = text.lines().next().unwrap();
    for h in [
        "runtime",
        "conns",
        "mode",
        "msg/s",
        "min-max",
        "p50 us",
        "p99 us",
        "cpu us/msg",
        "rss/conn",
        "errors",
        "warnings",
    ] {
        assert!(header.contains(h), "{h}");
    }
    // 5 servers × 3 connection counts closed + 3 runtimes × 4 rates open, plus header and rule.
    assert_eq!(text.lines().count(), 2 + 15 + 12, "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("threads") && l.contains(" 1000 "))
        .unwrap();
    assert!(
        row.contains("only 998 of 1000 connections established") && row.contains(" 4 "),
        "{row}"
    );
    assert_eq!(echo_table(&[]), "no echo runs\n");
}

#[test]
fn print_when_asked() {
    if std::env::var_os("LOOPBENCH_PRINT").is_some() {
        let file = base();
        println!("{}", conformance_matrix(&file.results, false, false));
        println!("{}", echo_table(&file.runs));
    }
}
