//! HdrHistogram interval logs (`.hlog`), one per echo point, in the layout Java's
//! `HistogramLogWriter` writes, so HdrHistogram's own tools (`HistogramLogProcessor`, the
//! Python `hdrh` package's `HistogramLogReader`, the Rust crate's `IntervalLogIterator`) read
//! them:
//!
//! ```text
//! #[Histogram log format version 1.3]
//! #[StartTime: 1795251600.000 (seconds since epoch), Sat Nov 21 09:00:00 UTC 2026]
//! #[BaseTime: 1795251600.000 (seconds since epoch)]
//! #[loopbench ...]                      what the values are, how the intervals were laid out
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! Tag=evloop,0.000,5.000,766.000,HISTFAAA...     one line per repeat (V2 + DEFLATE, base64)
//! ```
//!
//! Values are microseconds, as recorded. Each repeat is one interval tagged with the runtime
//! id; an open-loop point also has the latency from the actual send time, tagged
//! `RUNTIME-raw` (in closed loop the two histograms are the same one).
//!
//! Invariant: the histograms are the results file's own, decoded and re-encoded (every
//! bucket count kept); StartTime and BaseTime are the run's start (`environment.date`). The
//! results record each repeat's measured length but not its wall-clock start, so intervals
//! are laid end to end in repeat order from BaseTime, and a comment line says so.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use super::metrics::EchoPoint;
use super::ExportError;
use crate::latency::decode_histogram;

/// One `.hlog` file's name and contents.
#[derive(Clone, Debug, PartialEq)]
pub struct HlogFile {
    /// File name: the benchmark name without `echo/`, `/` as `_`, e.g.
    /// `evloop_closed_100conns_64B.hlog`.
    pub file_name: String,
    /// The log.
    pub text: String,
    /// Interval lines written.
    pub intervals: usize,
}

/// The format version Java's `HistogramLogWriter` writes.
const FORMAT_VERSION: &str = "1.3";

/// The legend line Java's `HistogramLogWriter` writes before the intervals.
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

/// `s` with every character outside `[A-Za-z0-9._-]` turned into `-`.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A tag for `runtime`: the characters an interval log cannot hold in a tag (`,`, space,
/// CR, LF) become `_`.
pub fn tag_for(runtime: &str) -> String {
    runtime
        .chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The interval log of one echo point; `None` (with the reasons in `left_out`) when no
/// repeat has a histogram that decodes.
pub fn render_point(
    point: &EchoPoint<'_>,
    run_date: &str,
    left_out: &mut Vec<String>,
) -> Result<Option<HlogFile>, ExportError> {
    let mut runs = point.runs.clone();
    runs.sort_by_key(|r| r.repeat);
    let tag = tag_for(point.runtime);
    let raw_tag = format!("{tag}-raw");
    // (repeat, start offset, duration, corrected, raw when it differs)
    let mut intervals = Vec::new();
    let mut offset = 0.0_f64;
    for run in &runs {
        let start = offset;
        offset += run.duration_s.max(0.0);
        let Some(encoded) = run.histogram.as_deref() else {
            left_out.push(format!(
                "{} repeat {}: no latency histogram stored",
                point.name, run.repeat
            ));
            continue;
        };
        let Some(corrected) = decode_histogram(encoded) else {
            left_out.push(format!(
                "{} repeat {}: its latency histogram does not decode",
                point.name, run.repeat
            ));
            continue;
        };
        let raw = match run.histogram_raw.as_deref() {
            Some(r) if r != encoded => match decode_histogram(r) {
                Some(h) => Some(h),
                None => {
                    left_out.push(format!(
                        "{} repeat {}: its raw latency histogram does not decode",
                        point.name, run.repeat
                    ));
                    None
                }
            },
            _ => None,
        };
        intervals.push((run, start, run.duration_s.max(0.0), corrected, raw));
    }
    if intervals.is_empty() {
        return Ok(None);
    }

    let mut text = String::new();
    let _ = writeln!(text, "#[Histogram log format version {FORMAT_VERSION}]");
    match unix_seconds(run_date) {
        Some(secs) => {
            let _ = writeln!(
                text,
                "#[StartTime: {secs}.000 (seconds since epoch), {}]",
                java_date(secs)
            );
            let _ = writeln!(text, "#[BaseTime: {secs}.000 (seconds since epoch)]");
        }
        None => {
            let _ = writeln!(
                text,
                "#[loopbench: no StartTime: the run's date {run_date:?} is not RFC 3339 UTC]"
            );
        }
    }
    let mode = &intervals[0].0.mode;
    let what = if mode == "open" {
        format!(
            "tag {tag}: from the intended send time (corrected for coordinated omission); tag {raw_tag}: from the actual send time"
        )
    } else {
        format!("tag {tag}: from the actual send time (closed loop: each message is sent when the previous one returns)")
    };
    let _ = writeln!(
        text,
        "#[loopbench {}: echo round-trip latency in microseconds; {what}]",
        point.name
    );
    let _ = writeln!(
        text,
        "#[loopbench: one interval per repeat, in repeat order, laid end to end from BaseTime: the results record each repeat's measured length, not its wall-clock start]"
    );
    for (run, ..) in &intervals {
        for w in &run.warnings {
            let _ = writeln!(
                text,
                "#[loopbench warning, repeat {}: {}]",
                run.repeat,
                one_line(w)
            );
        }
    }
    let _ = writeln!(text, "{LEGEND}");

    let mut bytes = text.into_bytes();
    let mut serializer = V2DeflateSerializer::new();
    let encode_error = |e: String| ExportError::Encode {
        what: format!("the interval log of {}", point.name),
        message: e,
    };
    let mut lines = 0;
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut bytes, &mut serializer)
            .map_err(|e| encode_error(e.to_string()))?;
        for (_, start, length, corrected, raw) in &intervals {
            let start = Duration::from_secs_f64(*start);
            let length = Duration::from_secs_f64(*length);
            let histograms = [Some((corrected, &tag)), raw.as_ref().map(|h| (h, &raw_tag))];
            for (h, t) in histograms.into_iter().flatten() {
                writer
                    .write_histogram(h, start, length, Tag::new(t))
                    .map_err(|e| encode_error(e.to_string()))?;
                lines += 1;
            }
        }
    }
    let text = String::from_utf8(bytes).map_err(|e| encode_error(e.to_string()))?;
    let stem = point
        .name
        .strip_prefix("echo/")
        .unwrap_or(&point.name)
        .replace('/', "_");
    Ok(Some(HlogFile {
        file_name: format!("{}.hlog", file_safe(&stem)),
        text,
        intervals: lines,
    }))
}

/// `s` with line breaks and `]` replaced, to fit in one `#[...]` comment line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace(']', ")")
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ` (what the results' `date` holds).
pub fn unix_seconds(date: &str) -> Option<u64> {
    let b = date.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// The date as Java's `Date.toString()` writes it in UTC: `Sat Nov 21 09:00:00 UTC 2026`.
pub fn java_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = harness::results::rfc3339(unix_secs);
    let weekday = DAYS[((unix_secs / 86_400 + 4) % 7) as usize];
    let month: usize = iso[5..7].parse().unwrap_or(1);
    format!(
        "{weekday} {} {} {} UTC {}",
        MONTHS[month - 1],
        &iso[8..10],
        &iso[11..19],
        &iso[0..4]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_read_as_java_writes_them() {
        for secs in [0, 951_782_400, 1_795_264_496, 1_764_623_894] {
            assert_eq!(unix_seconds(&harness::results::rfc3339(secs)), Some(secs));
        }
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_795_264_496), "Sat Nov 21 12:34:56 UTC 2026");
        assert_eq!(unix_seconds(""), None);
        assert_eq!(unix_seconds("2026-13-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("2026-11-21 12:34:56Z"), None);
    }

    #[test]
    fn names_and_tags_are_safe() {
        assert_eq!(file_safe("asyncio (old)_closed"), "asyncio--old-_closed");
        assert_eq!(tag_for("tokio-ct (old),x"), "tokio-ct_(old)_x");
        assert!(Tag::new(&tag_for("a b,c\n")).is_some());
    }
}
