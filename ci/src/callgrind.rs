//! Tier 1: instruction counts under `valgrind --tool=callgrind`.
//!
//! Each workload runs twice, with `iters` and `2 × iters` iterations, each a fresh
//! `loopbench micro` process; the difference divided by `iters` is the cost of one iteration,
//! with process start-up, runtime construction and teardown cancelled out.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::baseline::InstructionCount;
use crate::verdict::{classify_change, Outcome, Verdict};

/// The runtimes tier 1 counts: single-threaded ones (valgrind serialises threads, so counts of
/// multi-threaded runtimes would measure valgrind's scheduler as much as the runtime).
/// `evloop-uring`'s system calls are io_uring's, which valgrind 3.19 runs (it knows
/// `io_uring_setup`, `io_uring_enter` and `io_uring_register`); what the kernel does for
/// the ring is not user-space work and is not counted, as no system call's work is.
pub const RUNTIMES: &[&str] = &["evloop", "evloop-uring", "tokio-ct", "smol"];

/// Time limit of one execution under callgrind (they take a few seconds each).
const CALLGRIND_LIMIT: Duration = Duration::from_secs(300);

/// `valgrind --version`, or an error saying how to install it.
pub fn valgrind_version() -> io::Result<String> {
    let out = launch::Launch::program("valgrind")
        .arg("--version")
        .time_limit(Duration::from_secs(30))
        .output()
        .ok()
        .filter(|o| o.ended.success())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "valgrind is needed for tier 1 and could not be run; install it (Debian: apt-get install valgrind)",
            )
        })?;
    Ok(out.stdout_text().trim().to_string())
}

/// Total instructions (`Ir`) of one `loopbench micro` execution under callgrind.
pub fn count(exe: &Path, runtime: &str, bench: &str, iters: u64) -> io::Result<u64> {
    let dir = launch::PrivateDir::new("callgrind")?;
    let out_file = dir.file("callgrind.out");
    let out = launch::Launch::program("valgrind")
        .guard(exe)
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .args(["micro", "--runtime", runtime, "--bench", bench])
        .args(["--iters", &iters.to_string()])
        .time_limit(CALLGRIND_LIMIT)
        .output()?;
    let parsed = std::fs::read_to_string(&out_file).map(|text| parse_total(&text));
    if !out.ended.success() {
        let stderr = out.stderr_text();
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(io::Error::other(format!(
            "callgrind run of {runtime}/{bench} {}: {last}",
            out.ended
        )));
    }
    parsed?.ok_or_else(|| {
        io::Error::other(format!(
            "callgrind output of {runtime}/{bench} has no totals line"
        ))
    })
}

/// Reads the `totals:` (or `summary:`) line of a callgrind output file: its first number is
/// the instruction count.
pub fn parse_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Instructions per iteration of one workload on one runtime.
pub fn measure(exe: &Path, runtime: &str, bench: &str, iters: u64) -> io::Result<InstructionCount> {
    let short = count(exe, runtime, bench, iters)?;
    let long = count(exe, runtime, bench, 2 * iters)?;
    Ok(InstructionCount {
        runtime: runtime.to_string(),
        bench: bench.to_string(),
        iters,
        instructions_per_iter: (long as f64 - short as f64) / iters as f64,
    })
}

/// Re-measurements of an item whose first count is beyond the threshold from its baseline.
pub const CONFIRMATIONS: usize = 2;

/// A count beyond `threshold` (a fraction) from `base` is confirmed before it becomes a
/// verdict: `again` measures it [`CONFIRMATIONS`] more times and the median of all of them
/// is the count. A count within the threshold stands as it is (no extra run). Counts of the
/// deterministic workloads repeat exactly, so a real change is confirmed by every run; a
/// workload whose helper thread races it (smol's reactor thread in accept_rate) can, rarely,
/// do one extra round of work in one run (+2.25% once on a loaded machine, then 6,644
/// instr/iter six times out of six), and one such run is outvoted. Returns the count and
/// every run's figure, first first.
pub fn confirmed(
    first: f64,
    base: Option<f64>,
    threshold: f64,
    mut again: impl FnMut() -> io::Result<f64>,
) -> io::Result<(f64, Vec<f64>)> {
    let mut runs = vec![first];
    let beyond = base.is_some_and(|b| (first / b - 1.0).abs() > threshold);
    if !beyond {
        return Ok((first, runs));
    }
    for _ in 0..CONFIRMATIONS {
        runs.push(again()?);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    Ok((sorted[sorted.len() / 2], runs))
}

/// One verdict per measured item against the baseline; `threshold` is a fraction (0.02).
pub fn compare(
    baseline: &[InstructionCount],
    current: &[InstructionCount],
    threshold: f64,
) -> Vec<Verdict> {
    current
        .iter()
        .map(|cur| {
            let item = format!("{}/{}", cur.runtime, cur.bench);
            match baseline
                .iter()
                .find(|b| b.runtime == cur.runtime && b.bench == cur.bench)
            {
                None => Verdict {
                    tier: 1,
                    item,
                    outcome: Outcome::New,
                    detail: format!(
                        "{:.1} instr/iter, not in the baseline",
                        cur.instructions_per_iter
                    ),
                },
                Some(base) => {
                    let change = cur.instructions_per_iter / base.instructions_per_iter - 1.0;
                    Verdict {
                        tier: 1,
                        item,
                        outcome: classify_change(change, threshold),
                        detail: format!(
                            "{:.1} instr/iter vs {:.1} ({:+.2}%), threshold {:.1}%",
                            cur.instructions_per_iter,
                            base.instructions_per_iter,
                            change * 100.0,
                            threshold * 100.0
                        ),
                    }
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_totals_and_summary() {
        assert_eq!(parse_total("events: Ir\nsummary: 12345\n"), Some(12345));
        assert_eq!(parse_total("fn=x\n1 2\ntotals: 999 3\n"), Some(999));
        assert_eq!(parse_total("events: Ir\n"), None);
    }

    #[test]
    fn one_outlying_run_is_outvoted_and_a_real_change_confirmed() {
        let mut next = [6644.0, 6645.0].into_iter();
        let (count, runs) =
            confirmed(6798.0, Some(6648.2), 0.02, || Ok(next.next().unwrap())).unwrap();
        assert_eq!((count, runs.len()), (6645.0, 3));
        let mut next = [6797.0, 6799.0].into_iter();
        let (count, _) =
            confirmed(6798.0, Some(6648.2), 0.02, || Ok(next.next().unwrap())).unwrap();
        assert_eq!(count, 6798.0);
        let (count, runs) = confirmed(6700.0, Some(6648.2), 0.02, || panic!("no re-run")).unwrap();
        assert_eq!((count, runs), (6700.0, vec![6700.0]));
        let (_, runs) = confirmed(6700.0, None, 0.02, || panic!("no re-run")).unwrap();
        assert_eq!(runs.len(), 1);
        let (count, _) = confirmed(6000.0, Some(6648.2), 0.02, || Ok(6001.0)).unwrap();
        assert_eq!(count, 6001.0);
    }

    #[test]
    fn regression_beyond_threshold_only() {
        let base = vec![InstructionCount {
            runtime: "evloop".into(),
            bench: "spawn_many".into(),
            iters: 100,
            instructions_per_iter: 1000.0,
        }];
        let mut cur = base.clone();
        cur[0].instructions_per_iter = 1015.0;
        assert_eq!(compare(&base, &cur, 0.02)[0].outcome, Outcome::Unchanged);
        cur[0].instructions_per_iter = 1100.0;
        let v = &compare(&base, &cur, 0.02)[0];
        assert_eq!(v.outcome, Outcome::Regressed);
        assert!(v.detail.contains("+10.00%"), "{}", v.detail);
    }
}
