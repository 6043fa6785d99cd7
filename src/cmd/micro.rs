//! `loopbench micro`: runs one micro-benchmark workload once on one runtime and prints its
//! time, so the same workload bodies `cargo bench` times can run as a single execution
//! under `valgrind --tool=callgrind` for instruction counts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use benches::micro;
use harness::results::{Environment, MicroResult, ResultsFile};

use crate::cmd::export::ExportArgs;
use crate::util::usage;

/// Arguments of `loopbench micro`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench micro --list\n  loopbench micro --runtime tokio-ct --bench spawn_many --iters 1000\n  loopbench micro --runtime evloop --bench spawn_many --format bmf --export-dir out\n  valgrind --tool=callgrind loopbench micro --runtime smol --bench ping_pong --iters 1000\n\nExit status: 0 measured; 1 the workload failed; 2 bad arguments or an unusable --json path."
)]
pub struct Args {
    /// Runtime id (see `loopbench list`).
    #[arg(long, required_unless_present = "list")]
    runtime: Option<String>,
    /// Workload name (see `--list`).
    #[arg(long, required_unless_present = "list")]
    bench: Option<String>,
    /// Iterations to run, 1 to 1,000,000; what one iteration is depends on the workload.
    #[arg(long, default_value = "1000", value_parser = crate::checked::micro_iters, allow_negative_numbers = true)]
    iters: u64,
    /// Also write the figure as a results file with one `micro` entry (the path is checked
    /// before the workload runs; its directory is created if missing).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// List the workloads and exit.
    #[arg(long, conflicts_with_all = ["runtime", "bench", "json", "formats"])]
    list: bool,
    #[command(flatten)]
    export: ExportArgs,
}

/// Runs the workload, or lists the workloads.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        print_list();
        return Ok(ExitCode::SUCCESS);
    }
    args.export.check(None, false)?;
    let (Some(runtime), Some(bench)) = (args.runtime, args.bench) else {
        unreachable!("clap requires --runtime and --bench without --list");
    };
    let def = micro::find(&bench).ok_or_else(|| {
        usage(format!(
            "unknown workload '{bench}'; valid workloads: {}",
            micro::names()
        ))
    })?;
    if let Some(path) = &args.json {
        harness::paths::check_output_file(path).map_err(|e| usage(format!("--json: {e}")))?;
    }
    let iters = args.iters;
    let (info, elapsed) = micro::run_once(&runtime, def, iters)
        .ok_or_else(|| {
            usage(format!(
                "unknown runtime '{runtime}'; valid runtimes: {}",
                runtimes::runtime_ids().join(", ")
            ))
        })?
        .with_context(|| format!("micro-benchmark {runtime}/{bench} failed"))?;
    let ns_per_iter = elapsed.as_nanos() as f64 / iters as f64;
    println!(
        "{} {} {iters} iters {:.2} ms ({ns_per_iter:.0} ns/iter)",
        info.id,
        def.name,
        elapsed.as_secs_f64() * 1e3
    );
    if args.json.is_none() && args.export.formats.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut file = ResultsFile::new(Environment::capture(vec![info.clone()]));
    file.micro.push(MicroResult {
        runtime: info.id,
        bench: def.name.to_string(),
        iters,
        ns_per_iter,
        ns_per_iter_min: ns_per_iter,
        ns_per_iter_max: ns_per_iter,
        samples: 1,
    });
    if let Some(path) = &args.json {
        file.save(path)?;
    }
    args.export
        .write(&reports::export::figures(&file), Some(&file), None)
}

fn print_list() {
    println!("Workloads ({}):", micro::WORKLOADS.len());
    for def in micro::WORKLOADS {
        let marker = if def.deterministic {
            "deterministic"
        } else {
            ""
        };
        println!("  {:<18} {:<13} {}", def.name, marker, def.description);
        println!("  {:<18} {:<13} one iteration: {}", "", "", def.iteration);
    }
    println!(
        "\n'deterministic': same instruction count on every execution on a single-threaded runtime"
    );
}
