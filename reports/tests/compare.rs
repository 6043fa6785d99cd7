//! The comparison of two results files: ratios, the threshold, status changes.

mod common;

use harness::results::{CellStatus, ResultsFile};
use loopbench_reports::compare::{compare, Metric};

fn base() -> ResultsFile {
    ResultsFile::load(&common::fixtures_dir().join("baseline.json")).unwrap()
}

#[test]
fn drop_shows_small_change_hides_status_change_listed() {
    let old = base();
    let mut new = old.clone();
    for r in new
        .runs
        .iter_mut()
        .filter(|r| r.runtime == "tokio-ct" && r.mode == "closed" && r.connections == 1000)
    {
        r.throughput_msgs_per_s *= 0.8;
    }
    for r in new
        .runs
        .iter_mut()
        .filter(|r| r.runtime == "smol" && r.mode == "closed" && r.connections == 100)
    {
        r.throughput_msgs_per_s *= 1.01;
    }
    let cell = new
        .results
        .iter_mut()
        .find(|c| c.scenario == "tasks.start_later" && c.runtime == "async-std")
        .unwrap();
    cell.status = CellStatus::Pass;
    cell.detail.clear();

    let cmp = compare(&old, &new, 5.0);
    assert_eq!(cmp.changes.len(), 1, "{cmp:#?}");
    let c = &cmp.changes[0];
    assert_eq!(c.subject, "tokio-ct closed 1000 conns");
    assert_eq!(c.metric, Metric::Throughput);
    assert!((c.ratio - 0.80).abs() < 1e-9, "{}", c.ratio);
    assert!(!c.is_improvement());
    assert!(cmp.hidden > 0);
    assert_eq!(cmp.status_changes.len(), 1);
    let s = &cmp.status_changes[0];
    assert_eq!(
        (s.old, s.new),
        (Some(CellStatus::Fail), Some(CellStatus::Pass))
    );

    let text = cmp.render(false);
    assert!(
        text.contains("tokio-ct closed 1000 conns")
            && text.contains("0.80")
            && text.contains("worse"),
        "{text}"
    );
    assert!(
        !text.contains("smol closed 100 conns"),
        "1% change must be hidden:\n{text}"
    );
    assert!(
        text.contains("tasks.start_later on async-std: fail -> pass"),
        "{text}"
    );
    assert!(!text.contains('\x1b'));
    assert!(cmp.render(true).contains("\x1b[31m"));

    // Threshold 0 shows the 1% change.
    let all = compare(&old, &new, 0.0);
    let smol = all
        .changes
        .iter()
        .find(|c| c.subject == "smol closed 100 conns" && c.metric == Metric::Throughput)
        .unwrap();
    assert!((smol.ratio - 1.01).abs() < 1e-9);
}

#[test]
fn micro_and_latency_directions() {
    let old = base();
    let mut new = old.clone();
    for m in new
        .micro
        .iter_mut()
        .filter(|m| m.bench == "spawn_many" && m.runtime == "smol")
    {
        m.ns_per_iter *= 0.5;
    }
    for r in new
        .runs
        .iter_mut()
        .filter(|r| r.runtime == "async-std" && r.mode == "open")
    {
        r.latency_us.p99 *= 2.0;
    }
    new.results
        .retain(|c| c.runtime != "smol" || c.scenario != "loop.call_soon_fifo");
    let cmp = compare(&old, &new, 5.0);
    let micro = cmp
        .changes
        .iter()
        .find(|c| c.metric == Metric::NsPerIter)
        .unwrap();
    assert_eq!(micro.subject, "smol spawn_many");
    assert!(micro.is_improvement() && (micro.ratio - 0.5).abs() < 1e-9);
    let lat: Vec<_> = cmp
        .changes
        .iter()
        .filter(|c| c.metric == Metric::P99Latency)
        .collect();
    assert_eq!(lat.len(), 4, "one per offered rate");
    assert!(lat
        .iter()
        .all(|c| !c.is_improvement() && c.subject.contains("@")));
    assert!(cmp
        .status_changes
        .iter()
        .any(|s| s.new.is_none() && s.runtime == "smol"));
    assert!(compare(&old, &old, 5.0).changes.is_empty());
}

#[test]
fn files_with_nothing_in_common_have_nothing_in_both() {
    let old = base();
    assert!(compare(&old, &old, 5.0).in_both > 0);
    // Same figures under other runtime names: nothing matches.
    let mut other = old.clone();
    for r in &mut other.runs {
        r.runtime = format!("{}-renamed", r.runtime);
    }
    for m in &mut other.micro {
        m.runtime = format!("{}-renamed", m.runtime);
    }
    for c in &mut other.results {
        c.runtime = format!("{}-renamed", c.runtime);
    }
    let cmp = compare(&old, &other, 5.0);
    assert_eq!(cmp.in_both, 0, "{cmp:#?}");
    assert!(cmp.unmatched > 0);
}
