//! The page skeleton of the report: styles, title, table of contents, summary,
//! micro-benchmarks (dot plot and table) and environment; the other sections come from
//! sibling modules.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use harness::results::{ConformanceCell, MicroResult};

use super::{conformance, echo, empty_section, equal_load, esc, io_models, mutants, Figures};
use crate::charts::{si, Axis, Dot, DotPlot, DotSeries, Scale};
use crate::merge::{LabelledMicro, MergedResults};
use crate::summary::{thousands, Summary};
use crate::ReportError;

const CSS: &str = include_str!("report.css");

const SECTIONS: [(&str, &str); 13] = [
    ("summary", "Summary"),
    ("equal-load", "Equal load"),
    ("capacity", "Capacity"),
    ("conformance", "Conformance matrix"),
    ("kill-matrix", "Kill matrix"),
    ("throughput", "Echo throughput"),
    ("latency", "Latency percentile spectrum"),
    ("resources", "Server CPU and memory"),
    ("memory", "Memory: buffer and runtime"),
    ("open-loop", "Open-loop latency"),
    ("micro", "Micro-benchmarks"),
    ("echo-table", "Echo figures"),
    ("environment", "Environment"),
];

/// Renders the whole page; charts are drawn into `figures`.
pub(super) fn render(merged: &MergedResults, figures: &mut Figures) -> Result<String, ReportError> {
    let file = &merged.file;
    let env = &file.environment;
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>loopbench report — {}</title><style>{CSS}</style></head><body>\n\
         <header><h1>loopbench report</h1><p class=\"sub\">{} · {} · loopbench {}</p></header>\n",
        esc(&env.date),
        esc(&env.date),
        esc(&env.cpu_model),
        esc(&env.loopbench_version)
    );
    let names = merged.series_names();
    let all_runs = merged.labelled(&names);
    let raw_runs: Vec<&harness::results::EchoRun> = file.runs.iter().collect();
    // The epoll vs io_uring section follows capacity, when the results hold a pair.
    let mut sections: Vec<(&str, &str)> = SECTIONS.to_vec();
    if io_models::present(&raw_runs, &file.capacity) {
        sections.insert(3, io_models::SECTION);
    }
    if !file.server_instructions.is_empty() {
        let after = sections.iter().position(|(id, _)| *id == "conformance");
        sections.insert(after.unwrap_or(sections.len()), equal_load::INSTRUCTIONS);
    }
    out.push_str("<nav><b>Contents</b><ol>");
    for (i, (id, title)) in sections.iter().enumerate() {
        let _ = write!(out, "<li>{}. <a href=\"#{id}\">{title}</a></li>", i + 1);
    }
    out.push_str("</ol></nav>\n<main>\n");

    // The curves show curve points only; probes and equal-load points have their sections.
    let runs: Vec<_> = all_runs
        .iter()
        .filter(|r| r.run.purpose == harness::results::RunPurpose::Curve)
        .copied()
        .collect();
    let cells = merged.display_cells();
    let micro_results = merged.labelled_micro();
    summary(&mut out, merged, &cells);
    equal_load::section(&mut out, &all_runs, &file.equal_load);
    equal_load::capacity(&mut out, &file.capacity);
    io_models::section(&mut out, &raw_runs, &file.capacity);
    equal_load::instructions(&mut out, &file.server_instructions);
    conformance::section(&mut out, &cells);
    mutants::section(&mut out, file.kill_matrix.as_ref());
    let micro_ids: Vec<&str> = micro_results.iter().map(|m| m.runtime.as_str()).collect();
    let palette = echo::Palette::new(&runs, &micro_ids);
    echo::throughput(&mut out, figures, &runs, &palette)?;
    echo::latency(&mut out, figures, &runs, &palette)?;
    echo::resources(&mut out, figures, &runs, &palette)?;
    equal_load::memory(&mut out, &runs);
    echo::open_loop(&mut out, figures, &runs, &palette)?;
    micro(&mut out, figures, &micro_results, &palette)?;
    echo::figures_table(&mut out, &runs);
    echo::hosts_table(&mut out, &runs);
    environment(&mut out, merged);
    out.push_str("</main></body></html>\n");
    Ok(out)
}

/// The summary: the lines of [`Summary`] (which runtime, for what, from rankable figures
/// only), the rule that decides what is ranked, and every point it left out.
fn summary(out: &mut String, merged: &MergedResults, cells: &[ConformanceCell]) {
    out.push_str("<section id=\"summary\"><h2>Summary</h2>\n");
    if merged.labels.len() > 1 {
        let _ = writeln!(
            out,
            "<p>{} results files merged: {}.{}</p>",
            merged.labels.len(),
            esc(&merged.labels.join(", ")),
            if merged.overlay {
                " Echo series are labelled by file, e.g. “tokio-ct (new)”; older files are drawn in paler colours."
            } else {
                ""
            }
        );
    }
    let names = merged.series_names();
    let runs: Vec<(&str, &harness::results::EchoRun)> = names
        .iter()
        .map(String::as_str)
        .zip(&merged.file.runs)
        .collect();
    let mut summary = Summary::new(cells, runs.iter().copied());
    summary.lead_with(&merged.file.equal_load, &merged.file.capacity, &runs);
    out.push_str("<ul class=\"summary\">");
    for line in &summary.lines {
        let _ = write!(
            out,
            "<li><b>{}</b> {}</li>",
            esc(&capitalised(line.topic)),
            esc(&line.text)
        );
    }
    out.push_str(
        "</ul>\n<p class=\"rule\">Ranked only: echo points where every connection asked for \
        was established, with no error, no warning (partial, starved, client-bound) and at least \
        one echo per connection; ratios are to the first runtime named.",
    );
    if summary.excluded.is_empty() {
        out.push_str(" No point was left out.</p>\n");
    } else {
        let _ = write!(
            out,
            "</p>\n<details class=\"excluded\"><summary>{} echo point{} not ranked, and why</summary><ul>",
            summary.excluded.len(),
            if summary.excluded.len() == 1 { "" } else { "s" }
        );
        for e in &summary.excluded {
            let _ = write!(
                out,
                "<li><b>{}</b> at {} connections ({}, repeat {}): {}</li>",
                esc(&e.series),
                thousands(e.connections),
                esc(&e.mode),
                e.repeat + 1,
                esc(&e.reason.to_string())
            );
        }
        out.push_str("</ul></details>\n");
    }
    out.push_str("</section>\n");
}

/// `conformance` as `Conformance`.
fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn environment(out: &mut String, merged: &MergedResults) {
    let env = &merged.file.environment;
    out.push_str("<section id=\"environment\"><h2>Environment</h2>\n<dl class=\"env\">");
    let nofile = env
        .nofile_limit
        .map(|(s, h)| format!("{s} soft / {h} hard"))
        .unwrap_or_else(|| "not recorded".into());
    let rows = [
        ("CPU", env.cpu_model.clone()),
        ("cores", env.cores.to_string()),
        ("kernel", env.kernel.clone()),
        ("rustc", env.rustc.clone()),
        ("build profile", env.profile.clone()),
        ("loopbench", env.loopbench_version.clone()),
        ("date (UTC)", env.date.clone()),
        ("command line", env.command_line.join(" ")),
        (
            "pinning",
            env.pinning.clone().unwrap_or_else(|| "none".into()),
        ),
        ("open-file limit", nofile),
    ];
    for (k, v) in rows {
        let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
    }
    out.push_str("</dl>\n");
    if env.runtimes.is_empty() {
        out.push_str("<p class=\"empty\">No runtime versions recorded.</p>\n");
    } else {
        out.push_str("<table><thead><tr><th>runtime</th><th>crate</th><th>version</th><th>flavour</th><th>workers</th><th>notes</th></tr></thead><tbody>\n");
        for r in &env.runtimes {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"r\">{}</td><td>{}</td></tr>",
                esc(&r.id),
                esc(&r.crate_name),
                esc(&r.crate_version),
                esc(&r.flavour),
                r.worker_threads,
                esc(&r.notes.join("; "))
            );
        }
        out.push_str("</tbody></table>\n");
    }
    if merged.environments.len() > 1 {
        out.push_str("<h3>Merged files</h3><p>The environment above is the first file's. Every file:</p>\n\
            <table><thead><tr><th>file</th><th>date</th><th>CPU</th><th>kernel</th><th>rustc</th><th>command line</th></tr></thead><tbody>\n");
        for (label, e) in merged.labels.iter().zip(&merged.environments) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(label),
                esc(&e.date),
                esc(&e.cpu_model),
                esc(&e.kernel),
                esc(&e.rustc),
                esc(&e.command_line.join(" "))
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
}

/// The micro-benchmark section: a dot plot of every result, then the table of numbers.
fn micro(
    out: &mut String,
    figures: &mut Figures,
    labelled: &[LabelledMicro],
    palette: &echo::Palette,
) -> Result<(), ReportError> {
    let (id, title) = ("micro", "Micro-benchmarks");
    if labelled.is_empty() {
        empty_section(
            out,
            id,
            title,
            "No micro-benchmark results in these results.",
        );
        return Ok(());
    }
    let micro: Vec<&MicroResult> = labelled.iter().map(|m| &m.result).collect();
    let mut runtimes: Vec<&str> = Vec::new();
    for m in &micro {
        if !runtimes.contains(&m.runtime.as_str()) {
            runtimes.push(&m.runtime);
        }
    }
    let mut rows: BTreeMap<&str, BTreeMap<&str, &MicroResult>> = BTreeMap::new();
    for m in &micro {
        rows.entry(&m.bench).or_default().insert(&m.runtime, m);
    }
    let _ = writeln!(out, "<section id=\"{id}\"><h2>{title}</h2>");
    figures.add(
        out,
        "micro",
        &micro_plot(labelled, palette),
        "Each dot is a runtime's median time per iteration of the workload; its whisker spans \
         the fastest to the slowest sample. Lower (further left) is better; the axis is \
         logarithmic, so equal distances are equal ratios.",
    )?;
    let _ = write!(
        out,
        "<p>Median nanoseconds per iteration, with the fastest–slowest \
         sample below; lower is better. The bar is relative to the slowest runtime of the row; the fastest is in bold.</p>\n\
         <div class=\"scroll\"><table class=\"micro\"><thead><tr><th>workload</th>"
    );
    for r in &runtimes {
        let _ = write!(out, "<th>{}</th>", esc(r));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (bench, by_rt) in &rows {
        let worst = by_rt.values().map(|m| m.ns_per_iter).fold(0.0, f64::max);
        let best = by_rt
            .values()
            .map(|m| m.ns_per_iter)
            .fold(f64::INFINITY, f64::min);
        let _ = write!(out, "<tr><td><code>{}</code></td>", esc(bench));
        for r in &runtimes {
            match by_rt.get(r) {
                None => out.push_str("<td class=\"missing\">—</td>"),
                Some(m) => {
                    let pct = if worst > 0.0 {
                        100.0 * m.ns_per_iter / worst
                    } else {
                        0.0
                    };
                    let v = ns(m.ns_per_iter);
                    let v = if m.ns_per_iter == best {
                        format!("<b>{v}</b>")
                    } else {
                        v
                    };
                    let _ = write!(
                        out,
                        "<td>{v}<div class=\"bar\" style=\"width:{pct:.0}%\"></div><div class=\"m\">{}–{}</div></td>",
                        ns(m.ns_per_iter_min),
                        ns(m.ns_per_iter_max)
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div></section>\n");
    Ok(())
}

/// The dot plot of the micro-benchmarks: one row per workload (in the table's order), one
/// series per runtime (per input when overlaid, older inputs paler), coloured as in the
/// echo charts. A series keeps the last result of a workload, as the table does.
fn micro_plot(labelled: &[LabelledMicro], palette: &echo::Palette) -> DotPlot {
    let rows: Vec<String> = labelled
        .iter()
        .map(|m| m.result.bench.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let last_input = labelled.iter().map(|m| m.input).max().unwrap_or(0);
    let mut series: Vec<DotSeries> = Vec::new();
    for m in labelled {
        let r = &m.result;
        let i = match series.iter().position(|s| s.name == r.runtime) {
            Some(i) => i,
            None => {
                series.push(DotSeries {
                    name: r.runtime.clone(),
                    style: palette.runtime(&m.runtime, m.input < last_input),
                    dots: Vec::new(),
                });
                series.len() - 1
            }
        };
        let Some(row) = rows.iter().position(|b| *b == r.bench) else {
            continue;
        };
        let dot = Dot {
            row,
            value: r.ns_per_iter,
            whisker: Some((r.ns_per_iter_min, r.ns_per_iter_max)),
        };
        let dots = &mut series[i].dots;
        dots.retain(|d| d.row != row);
        dots.push(dot);
    }
    DotPlot {
        title: "Micro-benchmarks: time per iteration".into(),
        x: Axis::new("time per iteration (log scale)", Scale::Log10).labelled(ns),
        rows,
        series,
    }
}

/// Nanoseconds, human-readable: `850 ns`, `12.5 µs`, `3.2 ms`.
pub(super) fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{} ms", si(v / 1e6))
    } else if v >= 1e3 {
        format!("{} µs", si(v / 1e3))
    } else {
        format!("{} ns", si(v))
    }
}
