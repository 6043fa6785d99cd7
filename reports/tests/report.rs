//! Renders the HTML report from the fixtures and checks its structure: sections, charts,
//! series, no network references, and the files beside the page.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use harness::results::{MicroResult, ResultsFile};
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
        "micro",
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

/// The one chart of the micro-benchmark section.
fn micro_svg(html: &str) -> &str {
    let start = html.find("<section id=\"micro\">").expect("micro section");
    let section = &html[start..];
    let section = &section[..section.find("</section>").unwrap()];
    let svgs = svg_blocks(section);
    assert_eq!(svgs.len(), 1, "one chart in the micro section");
    assert!(
        section.find("<svg") < section.find("<table class=\"micro\""),
        "the chart comes above the table"
    );
    svgs[0]
}

/// The texts of `svg` written with `attr` (e.g. `text-anchor="start"`: the legend).
fn texts<'a>(svg: &'a str, attr: &str) -> Vec<&'a str> {
    let mut lines = svg.lines();
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with("<text") && line.contains(attr) {
            out.push(lines.next().unwrap());
        }
    }
    out
}

/// Filled dots (radius 4) of `svg` by colour: the data dots and the legend's.
fn dots_by_colour(svg: &str) -> BTreeMap<&str, usize> {
    let mut out = BTreeMap::new();
    for line in svg.lines() {
        if line.starts_with("<circle") && line.contains("r=\"4\"") {
            let fill = line.split("fill=\"").nth(1).unwrap();
            *out.entry(&fill[..7]).or_insert(0) += 1;
        }
    }
    out
}

/// Checks the micro chart of `html` against `micro` (what the report shows): one legend
/// entry and one colour per series, one dot per result, every workload a row label, and
/// no line joining the dots.
fn check_micro_chart(html: &str, micro: &[MicroResult], series: &[String]) {
    let svg = micro_svg(html);
    let legend = texts(svg, "text-anchor=\"start\"");
    assert_eq!(legend, series, "one legend entry per series");
    let dots = dots_by_colour(svg);
    assert_eq!(dots.len(), series.len(), "one colour per series: {dots:?}");
    assert_eq!(dots.values().sum::<usize>(), micro.len() + series.len());
    let mut workloads: Vec<&str> = micro.iter().map(|m| m.bench.as_str()).collect();
    workloads.sort_unstable();
    workloads.dedup();
    let rows = texts(svg, "font-family=\"monospace\"");
    assert_eq!(rows, workloads, "one row label per workload, in order");
    // Row labels end at their x coordinate: it leaves room for the whole label.
    for line in svg
        .lines()
        .filter(|l| l.contains("font-family=\"monospace\""))
    {
        let x: f64 = line
            .split("x=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let longest = workloads.iter().map(|w| w.len()).max().unwrap();
        assert!(x >= longest as f64 * 6.8, "labels cut off: {line}");
    }
    for polyline in svg.lines().filter(|l| l.starts_with("<polyline")) {
        let points = polyline.split("points=\"").nth(1).unwrap();
        let points = &points[..points.find('"').unwrap()];
        assert!(
            points.split_whitespace().count() <= 2,
            "no line joins the dots: {polyline}"
        );
    }
    assert!(texts(svg, "text-anchor=\"middle\"").contains(&"time per iteration (log scale)"));
}

/// Ten workloads of six runtimes, from 20 ns to 100 µs per iteration, as `loopbench micro`
/// writes them (one workload of one runtime missing, one without spread).
fn full_micro() -> Vec<MicroResult> {
    let workloads = [
        ("spawn_many", 300.0),
        ("spawn_many_remote", 900.0),
        ("yield_many", 22.0),
        ("ping_pong", 1_400.0),
        ("chained_spawn", 450.0),
        ("timers", 2_600.0),
        ("spawn_blocking", 9_000.0),
        ("cross_thread_wake", 4_200.0),
        ("tcp_echo", 35_000.0),
        ("accept_rate", 98_000.0),
    ];
    let runtimes = [
        ("evloop", 0.9),
        ("tokio-ct", 1.0),
        ("tokio-mt", 1.6),
        ("async-std", 1.35),
        ("smol", 1.1),
        ("smol-mt", 1.5),
    ];
    let mut out = Vec::new();
    for (rt, f) in runtimes {
        for (bench, ns) in workloads {
            if rt == "smol-mt" && bench == "timers" {
                continue;
            }
            let v = ns * f;
            // accept_rate without spread: no whisker.
            let (lo, hi) = if bench == "accept_rate" {
                (1.0, 1.0)
            } else {
                (0.95, 1.1)
            };
            out.push(MicroResult {
                runtime: rt.into(),
                bench: bench.into(),
                iters: 10_000,
                ns_per_iter: v,
                ns_per_iter_min: v * lo,
                ns_per_iter_max: v * hi,
                samples: 50,
            });
        }
    }
    out
}

#[test]
fn micro_chart_beside_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("baseline.json");
    write_report(std::slice::from_ref(&input), dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let series = ["tokio-ct", "async-std", "smol"].map(String::from);
    check_micro_chart(&html, &input.micro, &series);
    assert!(html.contains("Each dot is a runtime&#39;s median time per iteration"));
    let file = std::fs::read_to_string(dir.path().join("micro.svg")).unwrap();
    assert!(file.starts_with("<svg") && file.contains("xmlns"));
    assert!(html.contains("href=\"micro.svg\""));
}

#[test]
fn micro_chart_of_ten_workloads_and_six_runtimes() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = fixture("baseline.json");
    input.micro = full_micro();
    write_report(std::slice::from_ref(&input), dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let series = [
        "evloop",
        "tokio-ct",
        "tokio-mt",
        "async-std",
        "smol",
        "smol-mt",
    ]
    .map(String::from);
    check_micro_chart(&html, &input.micro, &series);
    let svg = micro_svg(&html);
    let ticks = texts(svg, "text-anchor=\"middle\"");
    for tick in ["100 ns", "1 µs", "10 µs", "100 µs"] {
        assert!(
            ticks.contains(&tick),
            "{tick} not among the ticks {ticks:?}"
        );
    }
    // Runtimes that also have echo runs keep their echo colour.
    let throughput = svg_blocks(&html)[0];
    let dots = dots_by_colour(svg);
    for colour in ["#2CA02C", "#1F77B4", "#D62728"] {
        assert!(
            throughput.contains(colour) && dots.contains_key(colour),
            "{colour}"
        );
    }
}

#[test]
fn overlaid_micro_results_are_one_series_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let labels = ["baseline".to_string(), "current".to_string()];
    let inputs = [fixture("baseline.json"), fixture("current.json")];
    write_labelled_report(&inputs, &labels, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let series: Vec<String> = ["tokio-ct", "async-std", "smol"]
        .iter()
        .flat_map(|rt| labels.iter().map(move |l| format!("{rt} ({l})")))
        .collect();
    let micro: Vec<MicroResult> = inputs.iter().flat_map(|f| f.micro.clone()).collect();
    check_micro_chart(&html, &micro, &series);
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
    assert!(html.contains(
        "<li><b>Throughput</b> closed loop at 1,000 connections, higher is better: tokio-ct"
    ));
    assert!(html.contains("not ranked: threads (partial)"));
    assert!(html.contains(
        "<li><b>Conformance</b> 6 scenarios on 3 runtimes; closest to the reference: tokio-ct"
    ));
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
fn instruction_counts_have_their_section_only_when_measured() {
    let dir = tempfile::tempdir().unwrap();
    let plain = fixture("baseline.json");
    write_report(std::slice::from_ref(&plain), dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(!html.contains("id=\"instructions\""));
    let mut counted = plain;
    for (server, repeat, v) in [
        ("evloop", 0, Some(770.0)),
        ("epoll-floor", 0, Some(100.0)),
        ("evloop", 1, Some(780.0)),
        ("epoll-floor", 1, Some(120.0)),
        ("evloop", 2, None),
    ] {
        counted
            .server_instructions
            .push(harness::results::ServerInstructions {
                runtime: server.into(),
                connections: 100,
                repeat,
                instructions_per_msg: v,
                note: v.is_none().then(|| "a load was partial".into()),
                ..Default::default()
            });
    }
    write_report(&[counted], dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(html.contains("<a href=\"#instructions\">Instructions per message</a>"));
    let section = &html[html.find("id=\"instructions\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains(
        "<tr><td>evloop</td><td>100</td><td>775 (770-780)</td><td>665 (660-670)</td>\
         <td>epoll-floor</td><td>2 of 3</td></tr>"
    ));
    assert!(section.contains("Not measured: evloop × 100 (repeat 3): a load was partial"));
    // It comes before the conformance matrix, as in the contents.
    assert!(html.find("id=\"instructions\"") < html.find("id=\"conformance\""));
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

/// Writes the fixture reports to `LOOPBENCH_REPORT_DIR` (both files overlaid),
/// `LOOPBENCH_REPORT_DIR/single` (the baseline alone) and `LOOPBENCH_REPORT_DIR/micro-full`
/// (the baseline with ten workloads of six runtimes) for a look in a browser.
#[test]
fn write_sample_report_when_asked() {
    if let Some(dir) = std::env::var_os("LOOPBENCH_REPORT_DIR") {
        let dir = Path::new(&dir);
        let labels = ["baseline".to_string(), "current".to_string()];
        let inputs = [fixture("baseline.json"), fixture("current.json")];
        write_labelled_report(&inputs, &labels, dir).unwrap();
        write_report(&inputs[..1], &dir.join("single")).unwrap();
        let mut full = inputs[0].clone();
        full.micro = full_micro();
        write_report(&[full], &dir.join("micro-full")).unwrap();
    }
}

/// Writes the report of a matrix of 12 runtimes × 95 scenarios to
/// `LOOPBENCH_WIDE_REPORT_DIR`, for a look in a browser.
#[test]
fn write_wide_report_when_asked() {
    if let Some(dir) = std::env::var_os("LOOPBENCH_WIDE_REPORT_DIR") {
        write_report(&[common::wide(12, 95)], Path::new(&dir)).unwrap();
    }
}

/// The conformance grid of 12 runtimes × 95 scenarios: one row per scenario with its whole
/// id, the passing rows folded under one line, a detail panel for every cell with something
/// to say, filters for every group and status present, and no script.
#[test]
fn conformance_grid_of_twelve_runtimes() {
    let dir = tempfile::tempdir().unwrap();
    let file = common::wide(12, 95);
    write_report(std::slice::from_ref(&file), dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let start = html.find("<section id=\"conformance\">").unwrap();
    let section = &html[start..start + html[start..].find("</section>").unwrap()];

    assert_eq!(section.matches("<tr class=\"r ").count(), 95);
    assert_eq!(section.matches("<tr class=\"r g-").count(), 95);
    let allpass = section.matches(" allpass").count();
    assert_eq!(allpass, 76, "one row in five differs");
    assert!(section.contains("▸ 76 scenarios pass on every runtime (show)"));
    // 12 columns of 30 px beside the scenario and rule columns.
    assert!(section.contains("--grid-w:704px"), "grid width");
    assert_eq!(section.matches("<th class=\"rt\">").count(), 12);
    assert!(section.contains("<th class=\"rt\"><span>glommio-thread-per-core</span></th>"));

    let with_panel = file
        .results
        .iter()
        .filter(|c| c.status.as_str() != "pass" || !c.measurements.is_empty())
        .count();
    assert_eq!(
        section.matches("<details name=\"cell\">").count(),
        with_panel
    );
    assert_eq!(section.matches("<div class=\"pop\">").count(), with_panel);
    assert_eq!(section.matches("<li id=\"note-").count(), with_panel);
    // The long id is whole, breakable after each `.` and `_`.
    assert!(section.contains(
        "<code>probe.<wbr>reacquire_<wbr>async_<wbr>lock_<wbr>semaphore_<wbr>after_<wbr>the_<wbr>\
         waiter_<wbr>was_<wbr>cancelled_<wbr>twice</code>"
    ));
    assert!(section.contains(
        "<code>loop.<wbr>callsoonthreadsafewakesaloopblockedinepollwaitwithnotimers</code>"
    ));
    // A differs cell's detail in its parts; URLs do not link out.
    assert!(section.contains("<dt>reason</dt><dd>evloop&#39;s task handle cancels"));
    assert!(section.contains("<dt>source</dt><dd>evloop docs: https:&#47;&#47;docs.rs/evloop"));
    assert!(
        section.contains("<dt>observed</dt><dd>[&quot;started&quot;, &quot;dropped&quot;]</dd>")
    );
    assert!(
        section.contains("<dt>measured</dt><dd><div>cross_thread_wake_latency_p99 = 123 us</div>")
    );
    // Filters: every group, every status present, with row counts.
    for (i, g) in [
        "blocking", "cancel", "futures", "loop", "net", "probe", "seed", "sync", "tasks", "timers",
    ]
    .iter()
    .enumerate()
    {
        assert!(section.contains(&format!("id=\"cg-{i}\"")), "{g}");
        assert!(
            section.contains(&format!("<label for=\"cg-{i}\">{g} <i>")),
            "{g}"
        );
        assert!(
            section.contains(&format!("#cg-{i}:checked~.cgrid tr.r:not(.g-{i})")),
            "{g}"
        );
    }
    for s in ["differs", "fail", "unsupported", "timeout", "crash"] {
        assert!(section.contains(&format!("id=\"cs-{s}\"")), "{s}");
        assert!(
            section.contains(&format!("#cs-{s}:checked~.cgrid tr.r:not(.s-{s})")),
            "{s}"
        );
    }
    assert!(section.contains("pass on every runtime <i>76</i>"));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
}
