//! The exports, read back by independent readers: the two JSON formats validate against
//! JSON Schemas of their published shapes (`schema/bmf.schema.json`,
//! `schema/github-action-benchmark.schema.json`, written from Bencher's and the action's
//! docs), and the `.hlog` files are read by HdrHistogram's Python port (the PyPI
//! `hdrhistogram` package, `ci/readers/read_hlog.py`), whose histograms must hold every
//! bucket count of ours and whose percentiles must equal ours; where Java and Debian's
//! `libhdrhistogram-java` are installed, also by HdrHistogram's own `HistogramLogProcessor`.
//!
//! The Python reader lives in a virtual environment under `target/` that
//! `ci/readers/setup.sh` makes (`.ci/run` makes it first). Where Python or pip is missing
//! the hlog test says so and skips, except under CI (`CI` set), where it fails.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use harness::results::{EchoRun, ResultsFile};
use hdrhistogram::Histogram;
use loopbench_reports::export::{self, Direction, ExportError, Format};
use loopbench_reports::latency::decode_histogram;
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture() -> ResultsFile {
    ResultsFile::load(&common::fixtures_dir().join("current.json")).expect("fixture loads")
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = repo_root().join("schema").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::options()
        .build(&schema)
        .expect("a valid draft 2020-12 schema")
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("loopbench-export-{name}-"))
        .tempdir()
        .unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The runs of one echo point of the fixture, by runtime, connections, mode and rate.
fn point_runs<'a>(file: &'a ResultsFile, name: &str) -> Vec<&'a EchoRun> {
    let mut runs: Vec<&EchoRun> = file
        .runs
        .iter()
        .filter(|r| export::metrics::echo_name(r) == name)
        .collect();
    runs.sort_by_key(|r| r.repeat);
    runs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[test]
fn bmf_validates_and_holds_the_results_figures_in_ns_and_ops_per_s() {
    let file = fixture();
    let dir = temp_dir("bmf");
    let path = dir.path().join("bmf.json");
    let written = export::write(Format::Bmf, Direction::SmallerIsBetter, &file, &path).unwrap();
    assert!(written.left_out.is_empty(), "{:?}", written.left_out);
    let doc = read_json(&path);
    let v = validator("bmf.schema.json");
    assert_eq!(errors(&v, &doc), Vec::<String>::new());

    // Every echo point, every micro entry, every runtime's conformance counts.
    let benchmarks = doc.as_object().unwrap();
    let points: std::collections::BTreeSet<String> =
        file.runs.iter().map(export::metrics::echo_name).collect();
    for p in &points {
        assert!(benchmarks.contains_key(p), "{p} missing");
    }
    for m in &file.micro {
        let b = &doc[format!("micro/{}/{}", m.runtime, m.bench)]["latency"];
        assert_eq!(b["value"], json!(m.ns_per_iter));
        assert_eq!(b["lower_value"], json!(m.ns_per_iter_min));
        assert_eq!(b["upper_value"], json!(m.ns_per_iter_max));
    }
    assert_eq!(
        doc["conformance/tokio-ct"]["passing-cells"]["value"],
        json!(file
            .results
            .iter()
            .filter(|c| c.runtime == "tokio-ct" && c.status.as_str() == "pass")
            .count() as f64)
    );

    // Units: latency µs → ns, throughput in messages per second; median and min–max.
    let name = "echo/tokio-ct/closed/100conns/64B";
    let runs = point_runs(&file, name);
    assert_eq!(runs.len(), 2);
    let p50: Vec<f64> = runs.iter().map(|r| r.latency_us.p50 * 1000.0).collect();
    let latency = &doc[name]["latency"];
    assert_eq!(latency["value"], json!(median(p50.clone())));
    assert_eq!(
        latency["lower_value"],
        json!(p50.iter().copied().fold(f64::INFINITY, f64::min))
    );
    assert_eq!(
        latency["upper_value"],
        json!(p50.iter().copied().fold(0.0, f64::max))
    );
    let thr: Vec<f64> = runs.iter().map(|r| r.throughput_msgs_per_s).collect();
    assert_eq!(doc[name]["throughput"]["value"], json!(median(thr)));
    assert_eq!(
        doc[name]["latency-p99"]["value"],
        json!(median(
            runs.iter().map(|r| r.latency_us.p99 * 1000.0).collect()
        ))
    );
    assert_eq!(
        doc[name]["cpu-per-message"]["value"],
        json!(median(
            runs.iter()
                .map(|r| r.server_cpu_us_per_msg.unwrap() * 1000.0)
                .collect()
        ))
    );
    // Open loop: the rate is part of the name, and latency is the corrected one.
    let open = "echo/tokio-ct/open/100conns/64B/60000rps";
    let runs = point_runs(&file, open);
    assert_eq!(
        doc[open]["latency"]["value"],
        json!(median(
            runs.iter().map(|r| r.latency_us.p50 * 1000.0).collect()
        ))
    );

    // The schema can fail: a metric without a value, or a value that is not a number.
    let mut broken = doc.clone();
    broken[name]["latency"]
        .as_object_mut()
        .unwrap()
        .remove("value");
    assert!(!v.is_valid(&broken));
    let mut broken = doc.clone();
    broken[name]["latency"]["value"] = json!("5 us");
    assert!(!v.is_valid(&broken));
    let mut broken = doc;
    broken[name] = json!(7);
    assert!(!v.is_valid(&broken));
}

#[test]
fn github_action_benchmark_validates_one_direction_per_file() {
    let file = fixture();
    let dir = temp_dir("gab");
    let v = validator("github-action-benchmark.schema.json");
    let mut names = Vec::new();
    for direction in [Direction::SmallerIsBetter, Direction::BiggerIsBetter] {
        let path = dir.path().join(format!("{}.json", direction.name()));
        export::write(Format::GithubActionBenchmark, direction, &file, &path).unwrap();
        let doc = read_json(&path);
        assert_eq!(errors(&v, &doc), Vec::<String>::new());
        let entries = doc.as_array().unwrap();
        assert!(!entries.is_empty());
        for e in entries {
            let n = e["name"].as_str().unwrap().to_string();
            let bigger = n.ends_with("/throughput") || n.ends_with("/passing-cells");
            assert_eq!(
                bigger,
                direction == Direction::BiggerIsBetter,
                "{n} in {direction:?}"
            );
            names.push(n);
        }
        if direction == Direction::SmallerIsBetter {
            let e = entries
                .iter()
                .find(|e| e["name"] == "echo/threads/closed/1000conns/64B/latency-p99")
                .unwrap();
            assert_eq!(e["unit"], "ns");
            assert!(e["range"].as_str().unwrap().contains(" - "), "{e}");
            // The results' warnings travel with the figure.
            assert!(
                e["extra"]
                    .as_str()
                    .unwrap()
                    .contains("warning: only 998 of 1000 connections established"),
                "{e}"
            );
            let micro = entries
                .iter()
                .find(|e| e["name"] == "micro/tokio-ct/spawn_many/latency")
                .unwrap();
            assert_eq!(micro["unit"], "ns/iter");
        }
    }
    // Names are unique across both files.
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());

    // The schema can fail: no unit, a number as a string, not an array.
    let doc = read_json(&dir.path().join("smaller.json"));
    let mut broken = doc.clone();
    broken[0].as_object_mut().unwrap().remove("unit");
    assert!(!v.is_valid(&broken));
    let mut broken = doc.clone();
    broken[0]["value"] = json!("12");
    assert!(!v.is_valid(&broken));
    assert!(!v.is_valid(&json!({"name": "x", "unit": "ns", "value": 1})));
}

#[test]
fn nothing_to_export_and_wrong_output_kinds_are_errors_not_empty_files() {
    let mut conformance_only = fixture();
    conformance_only.runs.clear();
    conformance_only.micro.clear();
    let dir = temp_dir("nothing");
    let err = export::write(
        Format::Hlog,
        Direction::SmallerIsBetter,
        &conformance_only,
        &dir.path().join("h"),
    )
    .unwrap_err();
    assert!(matches!(err, ExportError::Nothing { .. }), "{err}");
    assert!(!dir.path().join("h").exists());
    // Conformance-only files export what they have.
    let w = export::write(
        Format::Bmf,
        Direction::SmallerIsBetter,
        &conformance_only,
        &dir.path().join("c.json"),
    )
    .unwrap();
    assert_eq!(w.figures, 2 * 3, "two counts for each of three runtimes");
    let empty = ResultsFile::default();
    for format in [Format::Bmf, Format::GithubActionBenchmark] {
        let out = dir.path().join(format!("{format}.json"));
        let err = export::write(format, Direction::SmallerIsBetter, &empty, &out).unwrap_err();
        assert!(matches!(err, ExportError::Nothing { .. }), "{err}");
        assert!(!out.exists());
    }
    let err = export::write(
        Format::Bmf,
        Direction::SmallerIsBetter,
        &fixture(),
        dir.path(),
    )
    .unwrap_err();
    assert!(err.is_usage(), "{err}");
    let err = export::write(
        Format::Hlog,
        Direction::SmallerIsBetter,
        &fixture(),
        &dir.path().join("c.json"),
    )
    .unwrap_err();
    assert!(err.is_usage(), "{err}");
}

#[test]
fn write_into_names_each_format_in_one_directory() {
    let file = fixture();
    let dir = temp_dir("into");
    let all = Format::ALL;
    let written =
        export::write_into(&all, &export::figures(&file), Some(&file), dir.path()).unwrap();
    assert_eq!(written.len(), 4, "bmf, two directions, hlog");
    for name in [
        "bmf.json",
        "github-action-benchmark-smaller.json",
        "github-action-benchmark-bigger.json",
    ] {
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    let hlogs = std::fs::read_dir(dir.path().join("hlog")).unwrap().count();
    let points: std::collections::BTreeSet<String> =
        file.runs.iter().map(export::metrics::echo_name).collect();
    assert_eq!(hlogs, points.len());
}

/// The interpreter of the readers' virtual environment, made once per test process;
/// `None` (after saying why) where it cannot be made and this is not CI.
fn python_readers() -> Option<PathBuf> {
    static READERS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let made = READERS.get_or_init(|| {
        let script = repo_root().join("ci/readers/setup.sh");
        let out = launch::Launch::program("bash")
            .arg(&script)
            .time_limit(Duration::from_secs(600))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.ended.success() {
            return Err(format!(
                "{} {}: {}",
                script.display(),
                out.ended,
                out.stderr_text().trim()
            ));
        }
        let stdout = out.stdout_text();
        let py = stdout.lines().last().unwrap_or("").trim().to_string();
        Ok(PathBuf::from(py))
    });
    match made {
        Ok(py) => Some(py.clone()),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the Python readers must be available in CI (.ci/run runs ci/readers/setup.sh): {why}")
        }
        Err(why) => {
            eprintln!("skipped: the Python hdrhistogram reader is not available here: {why}");
            None
        }
    }
}

/// The value at `rank` (1-based count) of `h`, as both libraries find it: the highest
/// value equivalent to the first bucket whose running count reaches `rank`.
fn value_at_rank(h: &Histogram<u64>, rank: u64) -> u64 {
    let rank = rank.max(1);
    let mut seen = 0;
    for v in h.iter_recorded() {
        seen += v.count_at_value();
        if seen >= rank {
            return v.value_iterated_to();
        }
    }
    0
}

/// For a percentile the reader was asked for: the quantile loopbench computes it at (the
/// same literal the load generator uses: 99.9 / 100 is not 0.999 in floating point) and
/// the results' field for it.
fn stored(p: &str, run_p: &harness::results::Percentiles) -> Option<(f64, f64)> {
    Some(match p {
        "50.0" => (0.5, run_p.p50),
        "90.0" => (0.9, run_p.p90),
        "99.0" => (0.99, run_p.p99),
        "99.9" => (0.999, run_p.p999),
        "99.99" => (0.9999, run_p.p9999),
        "100.0" => (1.0, run_p.max),
        _ => return None,
    })
}

#[test]
fn hlog_files_are_read_by_hdrhistograms_python_port_with_our_counts_and_percentiles() {
    let Some(python) = python_readers() else {
        return;
    };
    let (compared, differed) = check_hlog(&python, &fixture());
    eprintln!("{compared} percentiles equal; {differed} differ by the rank rule");
}

/// Java's HdrHistogram (Debian's `libhdrhistogram-java`), where it is installed.
const JAVA_HDRHISTOGRAM: &str = "/usr/share/java/hdrhistogram.jar";

/// Whether `java` and HdrHistogram's jar are here; says so when not.
fn java_log_processor() -> bool {
    let java = launch::Launch::program("java")
        .arg("-version")
        .time_limit(Duration::from_secs(60))
        .output()
        .is_ok_and(|o| o.ended.success());
    if !java || !Path::new(JAVA_HDRHISTOGRAM).is_file() {
        eprintln!(
            "skipped: Java's HistogramLogProcessor is not here (Debian: apt-get install \
             default-jre-headless libhdrhistogram-java)"
        );
        return false;
    }
    true
}

/// Java's own `HistogramLogProcessor` on up to `limit` of the `.hlog` files of `file`: its
/// total count and percentiles of every tag must be those of our histograms merged over the
/// repeats. Returns how many percentiles it compared.
fn check_java(file: &ResultsFile, limit: usize) -> usize {
    let dir = temp_dir("java");
    let written = export::write(
        Format::Hlog,
        Direction::SmallerIsBetter,
        file,
        &dir.path().join("h"),
    )
    .unwrap();
    let points = export::metrics::echo_points(file, &mut Vec::new());
    // A spread of points: closed and open loop alike.
    let mut chosen: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].runs[0].mode == "open")
        .take(limit / 2)
        .collect();
    chosen.extend(
        (0..points.len())
            .filter(|&i| points[i].runs[0].mode != "open")
            .take(limit - chosen.len()),
    );
    let mut compared = 0;
    for i in chosen {
        let point = &points[i];
        let mut tags = vec![(point.runtime.to_string(), false)];
        if point.runs[0].mode == "open" {
            tags.push((format!("{}-raw", point.runtime), true));
        }
        for (tag, raw) in tags {
            let out = dir.path().join("java-out");
            let run = launch::Launch::program("java")
                .args([
                    "-cp",
                    JAVA_HDRHISTOGRAM,
                    "org.HdrHistogram.HistogramLogProcessor",
                    "-i",
                ])
                .arg(&written.files[i])
                .args(["-tag", &tag, "-outputValueUnitRatio", "1", "-o"])
                .arg(&out)
                .time_limit(Duration::from_secs(120))
                .output()
                .unwrap();
            assert!(run.ended.success(), "{}: {}", point.name, run.stderr_text());
            // The last line: `T:count ( 50% 90% 99% 99.9% 99.99% Max )` over all intervals.
            let text = std::fs::read_to_string(&out).unwrap();
            let line = text
                .lines()
                .rev()
                .find(|l| l.contains(" T:"))
                .unwrap_or_else(|| panic!("{text}"));
            let total = line.split(" T:").nth(1).unwrap();
            let numbers: Vec<f64> = total
                .split(|c: char| c == '(' || c == ')' || c.is_whitespace())
                .filter_map(|w| w.parse().ok())
                .collect();
            assert_eq!(numbers.len(), 7, "{line}");
            let mut merged: Option<Histogram<u64>> = None;
            for r in &point.runs {
                let enc = if raw {
                    r.histogram_raw.as_deref()
                } else {
                    r.histogram.as_deref()
                };
                let h = decode_histogram(enc.unwrap()).unwrap();
                match &mut merged {
                    Some(m) => m.add(&h).unwrap(),
                    None => merged = Some(h),
                }
            }
            let merged = merged.unwrap();
            assert_eq!(
                numbers[0],
                merged.len() as f64,
                "{} {tag}: count",
                point.name
            );
            // Java takes ceil((p - 1 ulp) · N / 100) as the rank.
            for (k, pct) in [50.0_f64, 90.0, 99.0, 99.9, 99.99].into_iter().enumerate() {
                let below = f64::from_bits(pct.to_bits() - 1);
                let rank = (below * merged.len() as f64 / 100.0).ceil() as u64;
                assert_eq!(
                    numbers[k + 1],
                    value_at_rank(&merged, rank) as f64,
                    "{} {tag} p{pct}",
                    point.name
                );
                compared += 1;
            }
            assert_eq!(numbers[6], merged.max() as f64, "{} {tag}: max", point.name);
        }
    }
    compared
}

#[test]
fn hlog_files_are_read_by_javas_histogram_log_processor_where_it_is_installed() {
    if !java_log_processor() {
        return;
    }
    let compared = check_java(&fixture(), 6);
    eprintln!("HistogramLogProcessor: {compared} percentiles equal");
}

/// The same checks on any results file: `LOOPBENCH_EXPORT_INPUT=path/results.json cargo
/// test -p loopbench-reports --test export another` (a real run's, say; a relative path is
/// taken from the repository root). `.ci/run` runs it on the main job's results.
#[test]
fn another_results_file_exports_for_the_independent_readers_when_asked() {
    let Some(path) = std::env::var_os("LOOPBENCH_EXPORT_INPUT") else {
        eprintln!("skipped: set LOOPBENCH_EXPORT_INPUT to a results file to check its exports");
        return;
    };
    let file = ResultsFile::load(&repo_root().join(path)).unwrap();
    let dir = temp_dir("another");
    let bmf = validator("bmf.schema.json");
    let gab = validator("github-action-benchmark.schema.json");
    let written = export::write_into(
        &[Format::Bmf, Format::GithubActionBenchmark],
        &export::figures(&file),
        None,
        dir.path(),
    )
    .unwrap();
    for w in &written {
        let doc = read_json(&w.files[0]);
        let v = if w.format == Some(Format::Bmf) {
            &bmf
        } else {
            &gab
        };
        assert_eq!(
            errors(v, &doc),
            Vec::<String>::new(),
            "{}",
            w.files[0].display()
        );
        eprintln!("{}: {} figures, valid", w.files[0].display(), w.figures);
    }
    let python = python_readers().expect("the Python readers");
    let (compared, differed) = check_hlog(&python, &file);
    eprintln!("hlog: {compared} percentiles equal; {differed} differ by the rank rule");
    if java_log_processor() {
        let compared = check_java(&file, 8);
        eprintln!("hlog: HistogramLogProcessor: {compared} percentiles equal");
    }
}

/// Exports `file` as hlog, reads it back with the Python port and compares every interval
/// with the results' histograms and percentile fields. Returns (percentiles equal, equal
/// only under each library's rank rule).
fn check_hlog(python: &Path, file: &ResultsFile) -> (usize, usize) {
    let dir = temp_dir("hlog");
    let out = dir.path().join("hlog");
    let written = export::write(Format::Hlog, Direction::SmallerIsBetter, file, &out).unwrap();
    assert!(written.left_out.is_empty(), "{:?}", written.left_out);
    let reader = repo_root().join("ci/readers/read_hlog.py");
    let result = launch::Launch::program(python)
        .arg(&reader)
        .args(&written.files)
        .time_limit(Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(
        result.ended.success(),
        "read_hlog.py {}: {}",
        result.ended,
        result.stderr_text()
    );
    let read: Value = serde_json::from_str(&result.stdout_text()).unwrap();
    let files = read["files"].as_array().unwrap();
    assert_eq!(files.len(), written.files.len());

    let start_time = export::hlog::unix_seconds(&file.environment.date).unwrap() as f64;
    let points = export::metrics::echo_points(file, &mut Vec::new());
    let mut compared = 0;
    let mut rank_rule_differed = 0;
    for (point, f) in points.iter().zip(files) {
        assert_eq!(f["start_time"], json!(start_time), "{}", point.name);
        let open = point.runs[0].mode == "open";
        let mut by_tag: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for i in f["intervals"].as_array().unwrap() {
            by_tag
                .entry(i["tag"].as_str().unwrap().to_string())
                .or_default()
                .push(i);
        }
        let mut expected_tags = vec![point.runtime.to_string()];
        if open {
            expected_tags.push(format!("{}-raw", point.runtime));
        }
        expected_tags.sort();
        assert_eq!(
            by_tag.keys().cloned().collect::<Vec<_>>(),
            expected_tags,
            "{}",
            point.name
        );

        for (tag, intervals) in &by_tag {
            let raw = tag.ends_with("-raw");
            let mut runs = point.runs.clone();
            runs.sort_by_key(|r| r.repeat);
            assert_eq!(intervals.len(), runs.len(), "{} {tag}", point.name);
            let mut offset = 0.0;
            for (run, i) in runs.iter().zip(intervals) {
                // Repeats laid end to end from the run's start, each as long as measured.
                let start = i["start"].as_f64().unwrap();
                let end = i["end"].as_f64().unwrap();
                assert!(
                    (start - (start_time + offset)).abs() < 1e-3,
                    "{} {start}",
                    point.name
                );
                assert!(
                    (end - start - run.duration_s).abs() < 1e-3,
                    "{} {end}",
                    point.name
                );
                offset += run.duration_s;

                let (encoded, percentiles) = if raw {
                    (run.histogram_raw.as_deref(), &run.latency_raw_us)
                } else {
                    (run.histogram.as_deref(), &run.latency_us)
                };
                let ours = decode_histogram(encoded.unwrap()).unwrap();
                // The same histogram: every bucket's count.
                let buckets: Vec<(u64, u64)> = ours
                    .iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect();
                let theirs: Vec<(u64, u64)> = i["buckets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| (b[0].as_u64().unwrap(), b[1].as_u64().unwrap()))
                    .collect();
                assert_eq!(
                    theirs, buckets,
                    "{} {tag} repeat {}",
                    point.name, run.repeat
                );
                assert_eq!(i["total"], json!(ours.len()));
                assert_eq!(i["max"], json!(ours.max()));
                assert_eq!(i["min"], json!(ours.min()));

                // Percentiles: Python takes the count at p as round(p·N), Rust as ceil(q·N);
                // each library's figure is the value at its own rank, and where the ranks
                // agree the two figures are the same one, the results' own.
                let n = ours.len();
                for (p, value) in i["percentiles"].as_object().unwrap() {
                    let (q, ours_field) = stored(p, percentiles).unwrap();
                    let pct: f64 = p.parse().unwrap();
                    let python_value = value.as_u64().unwrap();
                    let python_rank = ((pct * n as f64 / 100.0) + 0.5) as u64;
                    assert_eq!(
                        python_value,
                        value_at_rank(&ours, python_rank),
                        "{} p{p}",
                        point.name
                    );
                    let rust_value = ours.value_at_quantile(q);
                    assert_eq!(
                        ours_field, rust_value as f64,
                        "{} p{p}: results vs histogram",
                        point.name
                    );
                    if python_value == rust_value {
                        compared += 1;
                    } else {
                        rank_rule_differed += 1;
                        assert_ne!(python_rank.max(1), (q * n as f64).ceil() as u64);
                    }
                }
            }
        }
    }
    assert!(compared > 0);
    (compared, rank_rule_differed)
}
