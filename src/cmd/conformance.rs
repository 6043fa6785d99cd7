//! `loopbench conformance`: scenarios × runtimes as a matrix, each cell isolated in a child
//! process with a time limit; a terminal matrix and, with `--json`, a results file. With
//! `--mutants`, the kill matrix instead: every scenario on the deliberately broken evloops it
//! declares it kills (or, with `--all-pairs`, on every one), after an unmutated evloop
//! column (the control).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use harness::results::{ConformanceCell, Environment, ResultsFile};
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::ScenarioDef;

use crate::util::{runtime_list, usage};

/// Arguments of `loopbench conformance`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench conformance --runtime all --json /tmp/c.json\n  loopbench conformance --runtime evloop --scenario 'timers.*'\n  loopbench conformance --only-differences\n  loopbench conformance --mutants            (a build with: cargo build --release --features mutants)\n  loopbench conformance --mutants --all-pairs --mutant lifo_ready_queue,timers_early\n\nExit status: 0 when no cell is fail, timeout or crash (with --mutants: every declared pair killed, the control clean); 1 otherwise; 2 for bad arguments or a build without mutants."
)]
pub struct Args {
    /// Runtimes: comma-separated ids, or `all`. Not with `--mutants`.
    #[arg(long, default_value = "all")]
    pub runtime: String,
    /// Scenarios: comma-separated ids or globs (`timers.*`), or `all`. Self-tests
    /// (`selftest.*`) run only when named.
    #[arg(long, default_value = "all")]
    pub scenario: String,
    /// Time limit per cell, in seconds [default: 10; 5 for mutant cells].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Write the results (schema: schema/results.schema.json) to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Show only scenarios where some runtime is not `pass`.
    #[arg(long)]
    pub only_differences: bool,
    /// Do not show a progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// The kill matrix: run the scenarios on deliberately broken evloops (needs a build with
    /// `--features mutants`).
    #[arg(long, conflicts_with_all = ["runtime", "only_differences"])]
    pub mutants: bool,
    /// With `--mutants`: only these mutants (comma-separated names).
    #[arg(long, requires = "mutants")]
    pub mutant: Option<String>,
    /// With `--mutants`: every scenario on every mutant, not only the pairs each scenario
    /// declares it kills.
    #[arg(long, requires = "mutants")]
    pub all_pairs: bool,
    /// With `--mutants`: skip the unmutated evloop column (the control), e.g. when it was
    /// just checked.
    #[arg(long, requires = "mutants")]
    pub no_control: bool,
}

/// Selects scenarios by a comma-separated list of ids or `*` globs.
pub fn select_scenarios(pattern: &str) -> anyhow::Result<Vec<&'static ScenarioDef>> {
    let all = scenarios::ALL;
    let mut out: Vec<&'static ScenarioDef> = Vec::new();
    for pat in pattern.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let matched: Vec<_> = if pat == "all" {
            all.iter().copied().filter(|d| !d.selftest).collect()
        } else {
            all.iter()
                .copied()
                .filter(|d| glob_match(pat, d.id))
                .collect()
        };
        if matched.is_empty() {
            let ids: Vec<_> = all.iter().map(|d| d.id).collect();
            return Err(usage(format!(
                "no scenario matches '{pat}'; valid scenarios: {}",
                ids.join(", ")
            )));
        }
        for d in matched {
            if !out.iter().any(|o| o.id == d.id) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// Time limit of a mutant cell unless `--timeout` says otherwise.
pub const MUTANT_LIMIT_SECS: f64 = 5.0;

/// The per-cell limit for mutant cells.
pub fn mutant_limit(arg: Option<f64>) -> anyhow::Result<Duration> {
    time_limit(arg, MUTANT_LIMIT_SECS)
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Runs the selected matrix and returns its cells, with a progress bar unless `quiet`.
pub fn run_matrix(
    runtimes: &[&'static str],
    defs: &[&'static ScenarioDef],
    limit: Duration,
    quiet: bool,
) -> anyhow::Result<Vec<ConformanceCell>> {
    let total = (runtimes.len() * defs.len()) as u64;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("conformance [{bar:30}] {pos}/{len} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut cells = Vec::with_capacity(total as usize);
    for def in defs {
        for rt in runtimes {
            bar.set_message(format!("{} on {rt}", def.id));
            let cell = crate::runner::run_cell(def, rt, limit)
                .with_context(|| format!("cannot start a child process for {} on {rt}", def.id))?;
            cells.push(cell);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(cells)
}

/// The per-cell time limit: `--timeout`, or `default` seconds.
fn time_limit(arg: Option<f64>, default: f64) -> anyhow::Result<Duration> {
    let secs = arg.unwrap_or(default);
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(usage(format!(
            "--timeout must be a positive number of seconds, not {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs `loopbench conformance`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.mutants {
        return crate::cmd::kill::run(args);
    }
    let runtimes = runtime_list(&args.runtime)?;
    let defs = select_scenarios(&args.scenario)?;
    let limit = time_limit(args.timeout, 10.0)?;
    let infos = runtimes
        .iter()
        .map(|id| runtimes::runtime_info(id))
        .collect::<std::io::Result<Vec<_>>>()?;
    let cells = run_matrix(&runtimes, &defs, limit, args.quiet)?;

    print!(
        "{}",
        reports::terminal::conformance_matrix(
            &cells,
            crate::util::use_color(),
            args.only_differences
        )
    );
    if let Some(path) = &args.json {
        let mut file = ResultsFile::new(Environment::capture(infos));
        file.results = cells.clone();
        file.save(path)?;
        println!("results written to {}", path.display());
    }
    let broken = cells.iter().filter(|c| c.status.is_failure()).count();
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("timers.*", "timers.call_later"));
        assert!(!glob_match("timers.*", "loop.x"));
        assert!(glob_match("*later", "timers.call_later"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
