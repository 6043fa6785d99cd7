//! The terminal summary of echo runs: one row per server × connections × mode, medians over
//! repeats with the min–max of throughput, then the distinct warnings.

use harness::results::EchoRun;

/// Renders `runs` as a table followed by their warnings.
pub fn render(runs: &[EchoRun]) -> String {
    let mut groups: Vec<(String, u64, String, Vec<&EchoRun>)> = Vec::new();
    for run in runs {
        match groups
            .iter_mut()
            .find(|g| g.0 == run.runtime && g.1 == run.connections && g.2 == run.mode)
        {
            Some(g) => g.3.push(run),
            None => groups.push((
                run.runtime.clone(),
                run.connections,
                run.mode.clone(),
                vec![run],
            )),
        }
    }
    groups.sort_by_key(|g| g.1);
    let header = [
        "runtime",
        "conns",
        "estab",
        "mode",
        "msg/s median (min-max)",
        "p50 us",
        "p99 us",
        "cpu us/msg",
        "rss/conn",
        "errors",
        "warn",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    let mut notes = Vec::new();
    for (runtime, conns, mode, runs) in &groups {
        let measured: Vec<&&EchoRun> = runs.iter().filter(|r| r.duration_s > 0.0).collect();
        let tput: Vec<f64> = measured.iter().map(|r| r.throughput_msgs_per_s).collect();
        let with_lat: Vec<&&&EchoRun> = measured
            .iter()
            .filter(|r| r.throughput_msgs_per_s > 0.0)
            .collect();
        let p50 = median(with_lat.iter().map(|r| r.latency_us.p50).collect());
        let p99 = median(with_lat.iter().map(|r| r.latency_us.p99).collect());
        let cpu = median(
            runs.iter()
                .filter_map(|r| r.server_cpu_us_per_msg)
                .collect(),
        );
        let rss = median(
            runs.iter()
                .filter_map(|r| r.rss_per_connection_bytes)
                .collect(),
        );
        let est = median(runs.iter().map(|r| r.established as f64).collect());
        let errors: u64 = runs.iter().map(|r| r.errors.total()).sum();
        let warn: usize = runs.iter().map(|r| r.warnings.len()).sum();
        let tput_cell = match median(tput.clone()) {
            Some(m) => format!(
                "{} ({}-{})",
                si(m),
                si(tput.iter().copied().fold(f64::INFINITY, f64::min)),
                si(tput.iter().copied().fold(0.0, f64::max))
            ),
            None => "-".into(),
        };
        rows.push(vec![
            runtime.clone(),
            conns.to_string(),
            est.map(|e| format!("{e:.0}")).unwrap_or_else(|| "-".into()),
            mode.clone(),
            tput_cell,
            opt(p50, |v| format!("{v:.0}")),
            opt(p99, |v| format!("{v:.0}")),
            opt(cpu, |v| format!("{v:.2}")),
            opt(rss, bytes),
            errors.to_string(),
            warn.to_string(),
        ]);
        for r in runs.iter() {
            for w in &r.warnings {
                let note = format!("{runtime} x {conns} ({mode}): {w}");
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c == 0 || c == 3 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
        if i == 0 {
            out += &"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1));
            out.push('\n');
        }
    }
    if !notes.is_empty() {
        out += "\nwarnings:\n";
        for n in notes {
            out += &format!("  {n}\n");
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

/// 41234 → `41.2k`.
fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Bytes for humans (may be negative: RSS can shrink).
fn bytes(v: f64) -> String {
    if v.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / 1024.0 / 1024.0)
    } else if v.abs() >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_rows() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![1.0, 2.0]), Some(1.5));
        assert_eq!(median(vec![]), None);
        let run = |t: f64| EchoRun {
            runtime: "x".into(),
            connections: 10,
            established: 10,
            mode: "closed".into(),
            duration_s: 1.0,
            throughput_msgs_per_s: t,
            warnings: vec!["w".into()],
            ..EchoRun::default()
        };
        let table = render(&[run(1000.0), run(3000.0), run(2000.0)]);
        assert!(table.contains("2.0k (1.0k-3.0k)"), "{table}");
        assert_eq!(table.matches("x x 10 (closed): w").count(), 1, "{table}");
    }
}
