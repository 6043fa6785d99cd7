//! The summary at the top of the report, and at the end of `loopbench run`: a few lines that
//! answer "which runtime, for what", drawn from honest figures only.
//!
//! Lines, in order ([`Summary::lines`]):
//! 1. equal load (every server at one offered rate: server CPU per message and corrected
//!    p99, rankable points only) and capacity (the highest rate each server sustains under
//!    the p99 bound; a client-limited capacity is a lower bound, never ranked), when the
//!    results carry them;
//! 2. conformance: the non-pass counts of every runtime, closest to the reference first;
//! 3. throughput and 4. latency of the closed-loop echo benchmark, from rankable points only.
//!
//! Invariant (the ranking rule): an echo point is ranked only if [`rankability`] accepts it:
//! it measured something, every connection asked for was established, it had zero errors, no
//! warning (every warning the load generator and the orchestrator write today says the point
//! was partial, starved, client-bound or failed), and at least one echo per established
//! connection. A series at a connection count is ranked only if every repeat there is; a
//! point that fails the rule is named with its reason, never ranked. The `threadpool`
//! baseline, which starves most of 10,000 connections, is therefore never ranked there.

use std::collections::BTreeMap;
use std::fmt;

use harness::results::{
    CapacityResult, CellStatus, ConformanceCell, EchoRun, EqualLoadBasis, ResultsFile, RunPurpose,
    RunStatus,
};

use crate::charts::si;
use crate::stats::{server_kind, ServerKind, Spread};

/// The summary of one set of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The lines, in display order.
    pub lines: Vec<SummaryLine>,
    /// Every echo point of a ranked kind (closed loop, today) that the rule left out, with
    /// its reason, in results order.
    pub excluded: Vec<Excluded>,
}

/// One line of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryLine {
    /// What the line is about: `conformance`, `throughput`, `latency`.
    pub topic: &'static str,
    /// The finding, one or two sentences, plain text.
    pub text: String,
}

impl fmt::Display for SummaryLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.topic, self.text)
    }
}

/// An echo point that may not be ranked.
#[derive(Clone, Debug, PartialEq)]
pub struct Excluded {
    /// Series name (`threadpool`, `tokio-ct (new)`).
    pub series: String,
    /// Connections asked for.
    pub connections: u64,
    /// `closed` or `open`.
    pub mode: String,
    /// Repeat index of the point.
    pub repeat: u32,
    /// Why.
    pub reason: Unrankable,
}

/// Why an echo point may not be ranked. The kinds are checked in this order.
#[derive(Clone, Debug, PartialEq)]
pub enum Unrankable {
    /// Nothing was measured, or a process failed during the point.
    Failed(String),
    /// Fewer connections were established than asked for.
    Partial { established: u64, asked: u64 },
    /// The load generator counted errors (mismatched bytes, resets, timeouts...).
    Errors(u64),
    /// Some established connection got no echo: fewer echoes than connections, or the load
    /// generator said so.
    Starved(String),
    /// The load generator may have been the bottleneck (its CPU, its send schedule).
    ClientBound(String),
    /// Any other warning: every warning is something that makes the figure doubtful.
    Warned(String),
}

impl Unrankable {
    /// One word for the kind: `failed`, `partial`, `errors`, `starved`, `client-bound`,
    /// `warned`.
    pub fn kind(&self) -> &'static str {
        match self {
            Unrankable::Failed(_) => "failed",
            Unrankable::Partial { .. } => "partial",
            Unrankable::Errors(_) => "errors",
            Unrankable::Starved(_) => "starved",
            Unrankable::ClientBound(_) => "client-bound",
            Unrankable::Warned(_) => "warned",
        }
    }
}

impl fmt::Display for Unrankable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrankable::Partial { established, asked } => write!(
                f,
                "partial: {} of {} connections established",
                thousands(*established),
                thousands(*asked)
            ),
            Unrankable::Errors(n) => write!(f, "errors: {} counted", thousands(*n)),
            Unrankable::Failed(w)
            | Unrankable::Starved(w)
            | Unrankable::ClientBound(w)
            | Unrankable::Warned(w) => write!(f, "{}: {w}", self.kind()),
        }
    }
}

/// Decides whether `run` may be ranked (the rule of the module doc), and if not, why.
pub fn rankability(run: &EchoRun) -> Result<(), Unrankable> {
    let messages = run.throughput_msgs_per_s * run.duration_s;
    if !(run.duration_s > 0.0 && messages.is_finite()) || run.established == 0 {
        let why = run
            .warnings
            .iter()
            .find(|w| warning_kind(w) == "failed")
            .cloned()
            .unwrap_or_else(|| "nothing measured".into());
        return Err(Unrankable::Failed(why));
    }
    // The structured verdict the orchestrator recorded comes next (EchoRun::rank_exclusion):
    // status, connections short, errors, starved connections, a saturated client.
    if let Some(why) = run.rank_exclusion() {
        return Err(match run.status {
            RunStatus::Failed => Unrankable::Failed(why),
            // Partial for another reason than connections (the window was cut short, the
            // rate was not reached): the recorded reason says which.
            RunStatus::Partial if run.established >= run.connections => Unrankable::Warned(why),
            _ if run.established < run.connections => Unrankable::Partial {
                established: run.established,
                asked: run.connections,
            },
            _ if run.errors.total() > 0 => Unrankable::Errors(run.errors.total()),
            _ if run.unserved_connections > 0 => Unrankable::Starved(why),
            _ => Unrankable::ClientBound(why),
        });
    }
    if run.established < run.connections {
        return Err(Unrankable::Partial {
            established: run.established,
            asked: run.connections,
        });
    }
    let errors = run.errors.total();
    if errors > 0 {
        return Err(Unrankable::Errors(errors));
    }
    // Rounded: throughput × duration is the message count the load generator divided.
    if messages.round() < run.established as f64 {
        return Err(Unrankable::Starved(format!(
            "{} echoes for {} connections",
            thousands(messages.round() as u64),
            thousands(run.established)
        )));
    }
    if let Some(w) = run.warnings.first() {
        let w = w.clone();
        return Err(match warning_kind(&w) {
            "failed" => Unrankable::Failed(w),
            "partial" => Unrankable::Partial {
                established: run.established,
                asked: run.connections,
            },
            "starved" => Unrankable::Starved(w),
            "client-bound" => Unrankable::ClientBound(w),
            _ => Unrankable::Warned(w),
        });
    }
    Ok(())
}

/// The kind of a warning, from the texts the load generator (`benches/src/echo/loadgen`)
/// and the orchestrator write: `failed`, `partial`, `starved`, `client-bound` or `warned`.
fn warning_kind(warning: &str) -> &'static str {
    let w = warning.to_ascii_lowercase();
    let has = |s: &str| w.contains(s);
    if has("nothing measured")
        || has("no echo completed")
        || has("server exited")
        || has("load generator failed")
        || has("hung")
        || has("refused by")
    {
        "failed"
    } else if has("never got an echo") || has("starved") {
        "starved"
    } else if has("client may be the bottleneck")
        || has("client-bound")
        || has("load generator used")
        || has("schedule lag")
    {
        "client-bound"
    } else if has("partial") || (has("only ") && has("established")) {
        "partial"
    } else {
        "warned"
    }
}

impl Summary {
    /// The summary of a results file, series named by runtime id.
    pub fn of(file: &ResultsFile) -> Self {
        let mut summary = Self::new(
            &file.results,
            file.runs.iter().map(|r| (r.runtime.as_str(), r)),
        );
        let runs: Vec<(&str, &EchoRun)> =
            file.runs.iter().map(|r| (r.runtime.as_str(), r)).collect();
        summary.lead_with(&file.equal_load, &file.capacity, &runs);
        summary
    }

    /// Puts the equal-load and capacity lines first (the module doc's order): one line per
    /// equal-load comparison and one per capacity connection count.
    pub fn lead_with(
        &mut self,
        bases: &[EqualLoadBasis],
        capacity: &[CapacityResult],
        runs: &[(&str, &EchoRun)],
    ) {
        let mut lead: Vec<SummaryLine> = bases
            .iter()
            .filter_map(|b| equal_load_line(b, runs))
            .collect();
        lead.extend(capacity_lines(capacity));
        self.lines.splice(0..0, lead);
    }

    /// The summary of conformance `cells` and echo `runs`, each run with its series name.
    ///
    /// Equal-load lines (open loop at one fixed rate for every runtime: latency at equal
    /// load) and capacity lines (the highest rate each runtime sustains) go first, before
    /// the conformance line, when the results model carries them: push them onto `lines`
    /// at the marked place, ranked with [`rankability`] like the closed-loop points.
    pub fn new<'a>(
        cells: &[ConformanceCell],
        runs: impl IntoIterator<Item = (&'a str, &'a EchoRun)>,
    ) -> Self {
        let runs: Vec<(&str, &EchoRun)> = runs.into_iter().collect();
        let excluded: Vec<Excluded> = runs
            .iter()
            .filter(|(_, run)| run.mode == "closed" && run.purpose == RunPurpose::Curve)
            .filter_map(|(series, run)| {
                let reason = rankability(run).err()?;
                Some(Excluded {
                    series: series.to_string(),
                    connections: run.connections,
                    mode: run.mode.clone(),
                    repeat: run.repeat,
                    reason,
                })
            })
            .collect();
        // Equal-load and capacity lines go first: `lead_with` (which `of` calls).
        let mut lines = vec![conformance_line(cells)];
        lines.extend(asyncio_line(cells));
        lines.extend(closed_loop_lines(&runs));
        Self { lines, excluded }
    }
}

/// The equal-load line of one comparison: every series whose every repeat there is
/// rankable, by server CPU per message (lowest first, median and min–max over repeats), with
/// its corrected p99; the others named with the reason.
fn equal_load_line(basis: &EqualLoadBasis, runs: &[(&str, &EchoRun)]) -> Option<SummaryLine> {
    let mut series: BTreeMap<&str, Vec<&EchoRun>> = BTreeMap::new();
    for (name, run) in runs {
        if run.purpose == RunPurpose::EqualLoad && run.connections == basis.connections {
            series.entry(name).or_default().push(run);
        }
    }
    if series.is_empty() {
        return None;
    }
    let mut ranked: Vec<(&str, Spread, Spread)> = Vec::new();
    let mut not: Vec<String> = Vec::new();
    for (name, repeats) in &series {
        if let Some(e) = repeats.iter().find_map(|r| rankability(r).err()) {
            not.push(format!("{name} ({})", e.kind()));
            continue;
        }
        let cpu = Spread::of(repeats.iter().filter_map(|r| r.server_cpu_us_per_msg));
        let p99 = Spread::of(repeats.iter().map(|r| r.latency_us.p99));
        match (cpu, p99) {
            (Some(cpu), Some(p99)) => ranked.push((name, cpu, p99)),
            _ => not.push(format!("{name} (no server CPU figure)")),
        }
    }
    ranked.sort_by(|a, b| a.1.median.total_cmp(&b.1.median));
    let mut text = format!(
        "{} connections at {} msg/s each: ",
        thousands(basis.connections),
        si(basis.rate)
    );
    if ranked.is_empty() {
        text.push_str("no point may be ranked");
    } else {
        let parts: Vec<String> = ranked
            .iter()
            .map(|(name, cpu, p99)| {
                format!(
                    "{name} {:.2} µs/msg server CPU ({:.2}–{:.2}), p99 {}",
                    cpu.median,
                    cpu.min,
                    cpu.max,
                    micros(p99.median)
                )
            })
            .collect();
        text.push_str(&parts.join(" · "));
    }
    if !not.is_empty() {
        text.push_str(&format!("; not ranked: {}", not.join(", ")));
    }
    Some(SummaryLine {
        topic: "equal load",
        text,
    })
}

/// How close each runtime is to asyncio itself: the `asyncio` column's share of applicable
/// scenarios passed (the reference checked against its source), then, for every other
/// runtime, how many of the scenarios asyncio passes it passes too, closest first. `None`
/// without an `asyncio` column.
pub fn asyncio_line(cells: &[ConformanceCell]) -> Option<SummaryLine> {
    let asyncio: Vec<&ConformanceCell> = cells.iter().filter(|c| c.runtime == "asyncio").collect();
    if asyncio.is_empty() {
        return None;
    }
    let column = |rt: &str| -> String {
        let mine: Vec<&ConformanceCell> = cells.iter().filter(|c| c.runtime == rt).collect();
        let applicable = mine
            .iter()
            .filter(|c| c.status != CellStatus::Unsupported)
            .count();
        let passed = mine.iter().filter(|c| c.status == CellStatus::Pass).count();
        let pct = if applicable == 0 {
            0.0
        } else {
            100.0 * passed as f64 / applicable as f64
        };
        format!(
            "{rt} passes {passed} of {applicable} applicable scenarios ({pct:.1} %; {} unsupported)",
            mine.len() - applicable
        )
    };
    let passed_by_asyncio: Vec<&str> = asyncio
        .iter()
        .filter(|c| c.status == CellStatus::Pass)
        .map(|c| c.scenario.as_str())
        .collect();
    let mut order: Vec<&str> = Vec::new();
    for c in cells {
        if c.runtime != "asyncio" && c.runtime != "uvloop" && !order.contains(&c.runtime.as_str()) {
            order.push(&c.runtime);
        }
    }
    let mut agreement: Vec<(&str, usize, usize)> = order
        .iter()
        .map(|rt| {
            let both: Vec<&ConformanceCell> = cells
                .iter()
                .filter(|c| c.runtime == *rt && passed_by_asyncio.contains(&c.scenario.as_str()))
                .collect();
            let agree = both.iter().filter(|c| c.status == CellStatus::Pass).count();
            (*rt, agree, both.len())
        })
        .collect();
    agreement.sort_by(|a, b| {
        let fa = a.1 as f64 / a.2.max(1) as f64;
        let fb = b.1 as f64 / b.2.max(1) as f64;
        fb.total_cmp(&fa)
    });
    let mut text = column("asyncio");
    if cells.iter().any(|c| c.runtime == "uvloop") {
        text.push_str("; ");
        text.push_str(&column("uvloop"));
    }
    if !agreement.is_empty() {
        let parts: Vec<String> = agreement
            .iter()
            .map(|(rt, agree, n)| format!("{rt} {agree}/{n}"))
            .collect();
        text.push_str("; of the scenarios asyncio passes, each runtime passes: ");
        text.push_str(&parts.join(", "));
    }
    Some(SummaryLine {
        topic: "asyncio itself",
        text,
    })
}

/// One capacity line per connection count: servers by capacity, highest first; a
/// client-limited capacity is a lower bound and is named apart, never ranked.
fn capacity_lines(results: &[CapacityResult]) -> Vec<SummaryLine> {
    let mut by: BTreeMap<u64, Vec<&CapacityResult>> = BTreeMap::new();
    for r in results {
        by.entry(r.connections).or_default().push(r);
    }
    by.into_iter()
        .map(|(conns, rs)| {
            let mut ranked: Vec<(&str, f64)> = rs
                .iter()
                .filter(|r| !r.client_limited)
                .filter_map(|r| Some((r.runtime.as_str(), r.capacity_msgs_per_s?)))
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let bound = rs.first().map_or(0.0, |r| r.p99_bound_us);
            let mut text = format!(
                "at {} connections, p99 ≤ {}: ",
                thousands(conns),
                micros(bound)
            );
            if ranked.is_empty() {
                text.push_str("no server's capacity was found below the client's limit");
            } else {
                let parts: Vec<String> = ranked
                    .iter()
                    .map(|(n, c)| format!("{n} {} msg/s", si(*c)))
                    .collect();
                text.push_str(&parts.join(" · "));
            }
            let lower: Vec<String> = rs
                .iter()
                .filter(|r| r.client_limited)
                .map(|r| match r.capacity_msgs_per_s {
                    Some(c) => format!("{} ≥ {} msg/s", r.runtime, si(c)),
                    None => r.runtime.clone(),
                })
                .collect();
            if !lower.is_empty() {
                text.push_str(&format!(
                    "; client-limited (lower bounds, not ranked): {}",
                    lower.join(", ")
                ));
            }
            let none: Vec<&str> = rs
                .iter()
                .filter(|r| !r.client_limited && r.capacity_msgs_per_s.is_none())
                .map(|r| r.runtime.as_str())
                .collect();
            if !none.is_empty() {
                text.push_str(&format!("; no passing rate: {}", none.join(", ")));
            }
            SummaryLine {
                topic: "capacity",
                text,
            }
        })
        .collect()
}

/// Non-pass counts per runtime, closest to the reference first.
fn conformance_line(cells: &[ConformanceCell]) -> SummaryLine {
    let topic = "conformance";
    if cells.is_empty() {
        return SummaryLine {
            topic,
            text: "no conformance results".into(),
        };
    }
    let mut order: Vec<&str> = Vec::new();
    let mut counts: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for c in cells {
        if !order.contains(&c.runtime.as_str()) {
            order.push(&c.runtime);
        }
        let i = CellStatus::ALL.iter().position(|s| *s == c.status);
        counts.entry(&c.runtime).or_default()[i.unwrap_or(0)] += 1;
    }
    let failures = |n: &[usize; 6]| n[2] + n[4] + n[5];
    let non_pass = |n: &[usize; 6]| n[1..].iter().sum::<usize>();
    let mut ranked: Vec<(&str, [usize; 6])> = order.iter().map(|r| (*r, counts[r])).collect();
    ranked.sort_by_key(|(_, n)| (failures(n), non_pass(n)));
    let scenarios = {
        let mut s: Vec<&str> = cells.iter().map(|c| c.scenario.as_str()).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    let describe = |n: &[usize; 6]| -> String {
        let total: usize = n.iter().sum();
        if non_pass(n) == 0 {
            return format!("all {total} pass");
        }
        CellStatus::ALL
            .iter()
            .zip(n)
            .skip(1)
            .filter(|(_, k)| **k > 0)
            .map(|(s, k)| format!("{k} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let best = ranked[0].1;
    let closest: Vec<&str> = ranked
        .iter()
        .take_while(|(_, n)| (failures(n), non_pass(n)) == (failures(&best), non_pass(&best)))
        .map(|(r, _)| *r)
        .collect();
    let rest: Vec<String> = ranked[closest.len()..]
        .iter()
        .map(|(r, n)| format!("{r} {}", describe(n)))
        .collect();
    let mut text = format!(
        "{scenarios} scenarios on {} runtimes; closest to the reference: {} ({}{})",
        ranked.len(),
        closest.join(", "),
        describe(&best),
        if closest.len() > 1 { " each" } else { "" }
    );
    if !rest.is_empty() {
        text.push_str("; then ");
        text.push_str(&rest.join("; "));
    }
    SummaryLine { topic, text }
}

/// One series at one connection count: the spread of a metric over its repeats.
struct Ranked<'a> {
    series: &'a str,
    kind: ServerKind,
    throughput: Spread,
    p99: Spread,
    repeats: usize,
}

/// The throughput and latency lines of the closed-loop points.
fn closed_loop_lines(runs: &[(&str, &EchoRun)]) -> Vec<SummaryLine> {
    let closed: Vec<&(&str, &EchoRun)> = runs
        .iter()
        .filter(|(_, r)| r.mode == "closed" && r.purpose == RunPurpose::Curve)
        .collect();
    if closed.is_empty() {
        let text = "no closed-loop echo points in these results".to_string();
        return vec![
            SummaryLine {
                topic: "throughput",
                text: text.clone(),
            },
            SummaryLine {
                topic: "latency",
                text,
            },
        ];
    }
    // (connections, series) -> repeats, in results order of series.
    let mut groups: BTreeMap<u64, Vec<(&str, Vec<&EchoRun>)>> = BTreeMap::new();
    for (series, run) in &closed {
        let at = groups.entry(run.connections).or_default();
        match at.iter_mut().find(|(s, _)| s == series) {
            Some((_, v)) => v.push(run),
            None => at.push((series, vec![run])),
        }
    }
    let ranked_at = |conns: u64| -> (Vec<Ranked<'_>>, Vec<(&str, Unrankable)>) {
        let mut ok = Vec::new();
        let mut not = Vec::new();
        for (series, repeats) in &groups[&conns] {
            match repeats.iter().find_map(|r| rankability(r).err()) {
                Some(reason) => not.push((*series, reason)),
                None => ok.push(Ranked {
                    series,
                    kind: server_kind(&repeats[0].runtime),
                    throughput: spread(repeats, |r| r.throughput_msgs_per_s),
                    p99: spread(repeats, |r| r.latency_us.p99),
                    repeats: repeats.len(),
                }),
            }
        }
        (ok, not)
    };
    let runtimes_ranked =
        |ok: &[Ranked<'_>]| ok.iter().filter(|r| r.kind == ServerKind::Runtime).count();
    // The highest count where two runtimes can be compared; failing that, where one can.
    let counts: Vec<u64> = groups.keys().rev().copied().collect();
    let chosen = counts
        .iter()
        .find(|c| runtimes_ranked(&ranked_at(**c).0) >= 2)
        .or_else(|| {
            counts
                .iter()
                .find(|c| runtimes_ranked(&ranked_at(**c).0) >= 1)
        })
        .copied();
    let Some(conns) = chosen else {
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, r) in &closed {
            if let Err(e) = rankability(r) {
                *by_kind.entry(e.kind()).or_default() += 1;
            }
        }
        let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let text = format!(
            "no closed-loop point of a runtime was rankable ({} points: {})",
            closed.len(),
            kinds.join(", ")
        );
        return vec![
            SummaryLine {
                topic: "throughput",
                text: text.clone(),
            },
            SummaryLine {
                topic: "latency",
                text,
            },
        ];
    };
    let (mut ok, not) = ranked_at(conns);
    let higher: Vec<String> = counts
        .iter()
        .take_while(|c| **c > conns)
        .map(|c| {
            let (ok, _) = ranked_at(*c);
            format!(
                "at {} connections {} of {} runtimes rankable",
                thousands(*c),
                runtimes_ranked(&ok),
                groups[c]
                    .iter()
                    .filter(|(_, r)| server_kind(&r[0].runtime) == ServerKind::Runtime)
                    .count()
            )
        })
        .collect();
    let repeats = ok.iter().map(|r| r.repeats).min().unwrap_or(1);
    let mut tail = String::new();
    if !not.is_empty() {
        let names: Vec<String> = not
            .iter()
            .map(|(s, why)| format!("{s} ({})", why.kind()))
            .collect();
        tail.push_str(&format!("; not ranked: {}", names.join(", ")));
    }
    if !higher.is_empty() {
        tail.push_str(&format!("; {}", higher.join(", ")));
    }
    tail.push_str(&if repeats > 1 {
        format!(". Median of {repeats} runs each.")
    } else {
        ". One run each: a first look, not a claim (use --repeat 5 --pin).".to_string()
    });

    ok.sort_by(|a, b| b.throughput.median.total_cmp(&a.throughput.median));
    let throughput = ranking(&ok, |r| r.throughput.median, |v| format!("{} msg/s", si(v)));
    ok.sort_by(|a, b| a.p99.median.total_cmp(&b.p99.median));
    let latency = ranking(&ok, |r| r.p99.median, micros);
    vec![
        SummaryLine {
            topic: "throughput",
            text: format!(
                "closed loop at {} connections, higher is better: {throughput}{tail}",
                thousands(conns)
            ),
        },
        SummaryLine {
            topic: "latency",
            text: format!("p99 of the same points, lower is better: {latency}"),
        },
    ]
}

/// `first 176k msg/s, then b 0.99×, c 0.97×; baselines: epoll-floor 1.02×` in the order of
/// `ranked`, ratios to the first runtime.
fn ranking(
    ranked: &[Ranked<'_>],
    metric: impl Fn(&Ranked<'_>) -> f64,
    show: impl Fn(f64) -> String,
) -> String {
    let (runtimes, baselines): (Vec<&Ranked<'_>>, Vec<&Ranked<'_>>) =
        ranked.iter().partition(|r| r.kind == ServerKind::Runtime);
    let Some(first) = runtimes.first() else {
        return String::new();
    };
    let base = metric(first);
    let ratio = |r: &Ranked<'_>| {
        let v = metric(r);
        if base > 0.0 {
            format!("{} {:.2}×", r.series, v / base)
        } else {
            format!("{} {}", r.series, show(v))
        }
    };
    let mut text = format!("{} {}", first.series, show(base));
    if runtimes.len() > 1 {
        let rest: Vec<String> = runtimes[1..].iter().map(|r| ratio(r)).collect();
        text.push_str(&format!(", then {}", rest.join(", ")));
    }
    if !baselines.is_empty() {
        let b: Vec<String> = baselines.iter().map(|r| ratio(r)).collect();
        text.push_str(&format!("; baselines: {}", b.join(", ")));
    }
    text
}

fn spread(runs: &[&EchoRun], metric: impl Fn(&EchoRun) -> f64) -> Spread {
    Spread::of(runs.iter().map(|r| metric(r))).unwrap_or(Spread {
        median: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
    })
}

/// Microseconds, human-readable: `850 µs`, `12.5 ms`.
fn micros(v: f64) -> String {
    if v >= 1e3 {
        format!("{} ms", si(v / 1e3))
    } else {
        format!("{} µs", si(v))
    }
}

/// `10000` as `10,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::results::EchoErrors;

    /// A clean closed-loop point: every connection established, one second measured.
    #[test]
    fn equal_load_and_capacity_lead_and_rank_only_what_may_be_ranked() {
        let equal = |rt: &str, cpu: f64, client_bound: bool| {
            let mut r = point(rt, 100, 50_000.0, 900.0);
            r.mode = "open".into();
            r.purpose = RunPurpose::EqualLoad;
            r.server_cpu_us_per_msg = Some(cpu);
            r.client_bound = client_bound;
            r
        };
        let file = ResultsFile {
            runs: vec![
                equal("slow", 6.0, false),
                equal("fast", 4.0, false),
                equal("fast", 4.2, false),
                equal("noisy", 1.0, true),
            ],
            equal_load: vec![EqualLoadBasis {
                connections: 100,
                rate: 50_000.0,
                ..EqualLoadBasis::default()
            }],
            capacity: vec![
                CapacityResult {
                    runtime: "a".into(),
                    connections: 1000,
                    p99_bound_us: 10_000.0,
                    capacity_msgs_per_s: Some(120_000.0),
                    ..CapacityResult::default()
                },
                CapacityResult {
                    runtime: "b".into(),
                    connections: 1000,
                    p99_bound_us: 10_000.0,
                    capacity_msgs_per_s: Some(150_000.0),
                    ..CapacityResult::default()
                },
                CapacityResult {
                    runtime: "c".into(),
                    connections: 1000,
                    p99_bound_us: 10_000.0,
                    capacity_msgs_per_s: Some(90_000.0),
                    client_limited: true,
                    ..CapacityResult::default()
                },
            ],
            ..ResultsFile::default()
        };
        let s = Summary::of(&file);
        assert_eq!(s.lines[0].topic, "equal load");
        assert_eq!(s.lines[1].topic, "capacity");
        assert_eq!(s.lines[2].topic, "conformance");
        let eq = &s.lines[0].text;
        // Lowest CPU first, the spread of the two repeats shown; the client-bound one named.
        let (fast, slow) = (eq.find("fast 4.10").unwrap(), eq.find("slow 6.00").unwrap());
        assert!(fast < slow, "{eq}");
        assert!(eq.contains("(4.00–4.20)"), "{eq}");
        assert!(eq.contains("not ranked: noisy (client-bound)"), "{eq}");
        assert!(!eq.contains("noisy 1.00"), "{eq}");
        let cap = &s.lines[1].text;
        assert!(
            cap.find("b 150").unwrap() < cap.find("a 120").unwrap(),
            "{cap}"
        );
        assert!(
            cap.contains("client-limited (lower bounds, not ranked): c ≥ 90"),
            "{cap}"
        );
        // Equal-load points are not curve points: no closed-loop ranking from them.
        assert!(s.excluded.is_empty());
    }

    fn point(runtime: &str, conns: u64, throughput: f64, p99: f64) -> EchoRun {
        let mut run = EchoRun {
            runtime: runtime.into(),
            connections: conns,
            established: conns,
            mode: "closed".into(),
            pipeline: 1,
            message_size: 64,
            duration_s: 1.0,
            throughput_msgs_per_s: throughput,
            client_cpu_pct: 60.0,
            ..EchoRun::default()
        };
        run.latency_us.p99 = p99;
        run
    }

    fn warned(mut run: EchoRun, warning: &str) -> EchoRun {
        run.warnings.push(warning.into());
        run
    }

    // Warning texts as `benches/src/echo/loadgen` and the orchestrator write them.
    const STARVED: &str =
        "9995 of 10000 established connections never got an echo (server starved them?)";
    const CLIENT: &str =
        "load generator used 97% CPU (1 thread(s)): the client may be the bottleneck";
    const SHORT: &str = "only 3000 of 10000 connections established (7000 failed: 7000 refused, 0 timed out, 0 other)";

    fn line<'a>(s: &'a Summary, topic: &str) -> &'a str {
        &s.lines.iter().find(|l| l.topic == topic).unwrap().text
    }

    #[test]
    fn the_rule() {
        assert_eq!(rankability(&point("a", 100, 1e5, 500.0)), Ok(()));

        let mut short = point("a", 10_000, 1e5, 500.0);
        short.established = 3000;
        let short = warned(short, SHORT);
        assert_eq!(
            rankability(&short),
            Err(Unrankable::Partial {
                established: 3000,
                asked: 10_000
            })
        );

        let mut errors = point("a", 100, 1e5, 500.0);
        errors.errors = EchoErrors {
            resets: 2,
            ..EchoErrors::default()
        };
        assert_eq!(rankability(&errors), Err(Unrankable::Errors(2)));

        let starved = warned(point("threadpool", 10_000, 2e5, 50.0), STARVED);
        assert_eq!(
            rankability(&starved).unwrap_err(),
            Unrankable::Starved(STARVED.into())
        );
        // Fewer echoes than connections is starvation even without the warning.
        let few = point("a", 10_000, 9_999.0, 50.0);
        assert_eq!(rankability(&few).unwrap_err().kind(), "starved");
        assert_eq!(rankability(&point("a", 10_000, 10_000.0, 50.0)), Ok(()));

        let client = warned(point("a", 1000, 1e5, 500.0), CLIENT);
        assert_eq!(rankability(&client).unwrap_err().kind(), "client-bound");
        let lag = warned(
            point("a", 1000, 1e5, 500.0),
            "send schedule lag p99 4000 us exceeds 1000 us",
        );
        assert_eq!(rankability(&lag).unwrap_err().kind(), "client-bound");

        let nothing = EchoRun {
            runtime: "a".into(),
            connections: 100,
            mode: "closed".into(),
            warnings: vec!["nothing measured: server did not start".into()],
            ..EchoRun::default()
        };
        assert_eq!(
            rankability(&nothing),
            Err(Unrankable::Failed(
                "nothing measured: server did not start".into()
            ))
        );
        let died = warned(
            point("a", 100, 1e5, 500.0),
            "server exited during the run (signal 9)",
        );
        assert_eq!(rankability(&died).unwrap_err().kind(), "failed");
        let other = warned(point("a", 100, 1e5, 500.0), "something new");
        assert_eq!(
            rankability(&other),
            Err(Unrankable::Warned("something new".into()))
        );
    }

    #[test]
    fn a_starved_baseline_is_never_ranked() {
        let runs = [
            point("evloop", 10_000, 150_000.0, 90_000.0),
            point("tokio-ct", 10_000, 120_000.0, 120_000.0),
            warned(point("threadpool", 10_000, 400_000.0, 30.0), STARVED),
            point("epoll-floor", 10_000, 165_000.0, 80_000.0),
        ];
        let s = Summary::new(&[], runs.iter().map(|r| (r.runtime.as_str(), r)));
        let t = line(&s, "throughput");
        assert!(t.starts_with("closed loop at 10,000 connections"), "{t}");
        assert!(
            t.contains("evloop 150k msg/s, then tokio-ct 0.80×; baselines: epoll-floor 1.10×"),
            "{t}"
        );
        assert!(t.contains("not ranked: threadpool (starved)"), "{t}");
        assert!(t.contains("One run each"), "{t}");
        let l = line(&s, "latency");
        assert!(l.contains("evloop 90 ms, then tokio-ct 1.33×"), "{l}");
        assert!(
            !l.contains("threadpool") && !t[..t.find("not ranked").unwrap()].contains("threadpool")
        );
        assert_eq!(s.excluded.len(), 1);
        assert_eq!(s.excluded[0].series, "threadpool");
        assert_eq!(s.excluded[0].connections, 10_000);
        // Open-loop points are not ranked by these lines, so not listed as left out.
        let mut open = warned(
            point("a", 100, 1e5, 500.0),
            "offered rate 200000 msg/s not reached",
        );
        open.mode = "open".into();
        let s = Summary::new(&[], [("a", &open)]);
        assert!(s.excluded.is_empty());
        assert_eq!(
            line(&s, "throughput"),
            "no closed-loop echo points in these results"
        );
    }

    #[test]
    fn falls_back_to_the_highest_count_where_runtimes_compare() {
        let runs = [
            point("a", 1000, 100_000.0, 900.0),
            point("b", 1000, 110_000.0, 800.0),
            point("a", 10_000, 100_000.0, 9_000.0),
            warned(point("b", 10_000, 120_000.0, 8_000.0), CLIENT),
        ];
        let s = Summary::new(&[], runs.iter().map(|r| (r.runtime.as_str(), r)));
        let t = line(&s, "throughput");
        assert!(t.starts_with("closed loop at 1,000 connections"), "{t}");
        assert!(t.contains("b 110k msg/s, then a 0.91×"), "{t}");
        assert!(
            t.contains("at 10,000 connections 1 of 2 runtimes rankable"),
            "{t}"
        );
    }

    #[test]
    fn every_repeat_must_be_rankable() {
        let mut again = point("a", 100, 1e5, 500.0);
        again.repeat = 1;
        let runs = [
            point("a", 100, 1e5, 500.0),
            warned(again, CLIENT),
            point("b", 100, 2e5, 400.0),
            point("b", 100, 1e5, 400.0),
        ];
        let s = Summary::new(&[], runs.iter().map(|r| (r.runtime.as_str(), r)));
        let t = line(&s, "throughput");
        assert!(
            t.contains("b 150k msg/s; not ranked: a (client-bound)"),
            "{t}"
        );
        assert!(t.contains("Median of 2 runs each"), "{t}");
    }

    #[test]
    fn says_so_when_nothing_is_rankable() {
        let runs = [
            warned(point("a", 100, 1e5, 500.0), CLIENT),
            warned(point("threadpool", 100, 1e5, 500.0), STARVED),
            point("epoll-floor", 100, 1e5, 500.0),
        ];
        let s = Summary::new(&[], runs.iter().map(|r| (r.runtime.as_str(), r)));
        assert_eq!(
            line(&s, "throughput"),
            "no closed-loop point of a runtime was rankable (3 points: 1 client-bound, 1 starved)"
        );
        assert_eq!(line(&s, "throughput"), line(&s, "latency"));
        let empty = Summary::new(&[], []);
        assert_eq!(
            line(&empty, "throughput"),
            "no closed-loop echo points in these results"
        );
        assert_eq!(line(&empty, "conformance"), "no conformance results");
    }

    fn cell(scenario: &str, runtime: &str, status: CellStatus) -> ConformanceCell {
        ConformanceCell {
            scenario: scenario.into(),
            rule: "L3".into(),
            group: "loop".into(),
            runtime: runtime.into(),
            status,
            detail: String::new(),
            measurements: Vec::new(),
            elapsed_ms: 1.0,
        }
    }

    #[test]
    fn conformance_counts_closest_first() {
        use CellStatus::*;
        let mut cells = Vec::new();
        for (rt, a, b, c) in [
            ("smol", Differs, Fail, Pass),
            ("evloop", Pass, Pass, Pass),
            ("tokio-ct", Differs, Pass, Unsupported),
            ("tokio-mt", Pass, Pass, Pass),
            ("async-std", Differs, Pass, Pass),
        ] {
            cells.push(cell("x.a", rt, a));
            cells.push(cell("x.b", rt, b));
            cells.push(cell("x.c", rt, c));
        }
        let s = Summary::new(&cells, []);
        assert_eq!(
            line(&s, "conformance"),
            "3 scenarios on 5 runtimes; closest to the reference: evloop, tokio-mt (all 3 pass \
             each); then async-std 1 differs; tokio-ct 1 differs, 1 unsupported; smol 1 \
             differs, 1 fail"
        );
    }

    #[test]
    fn three_lines_in_order() {
        let file = ResultsFile::default();
        let s = Summary::of(&file);
        let topics: Vec<&str> = s.lines.iter().map(|l| l.topic).collect();
        assert_eq!(topics, ["conformance", "throughput", "latency"]);
        assert_eq!(
            s.lines[0].to_string(),
            "conformance: no conformance results"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
