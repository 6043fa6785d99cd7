//! `loopbench micro`: runs one micro-benchmark workload once on one runtime and prints its
//! time, so the same workload bodies `cargo bench` times can run as a single execution
//! under `valgrind --tool=callgrind` for instruction counts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use benches::micro;
use harness::results::{Environment, MicroResult, ResultsFile};
use harness::{Runtime, RuntimeConfig, RuntimeInfo};
use runtimes::{with_runtime, RuntimeVisitor};

use crate::util::usage;

/// Arguments of `loopbench micro`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench micro --list\n  loopbench micro --runtime tokio-ct --bench spawn_many --iters 1000\n  valgrind --tool=callgrind loopbench micro --runtime smol --bench ping_pong --iters 1000"
)]
pub struct Args {
    /// Runtime id (see `loopbench list`).
    #[arg(long, required_unless_present = "list")]
    runtime: Option<String>,
    /// Workload name (see `--list`).
    #[arg(long, required_unless_present = "list")]
    bench: Option<String>,
    /// Iterations to run; what one iteration is depends on the workload.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    iters: u64,
    /// Also write the figure as a results file with one `micro` entry.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// List the workloads and exit.
    #[arg(long, conflicts_with_all = ["runtime", "bench", "json"])]
    list: bool,
}

/// Idle time between starting the runtime and the measured execution.
const SETTLE: Duration = Duration::from_millis(50);

/// Builds the runtime, lets it settle, runs the workload once, and returns the runtime's
/// description and the time of the iterations.
///
/// Settling is an empty `block_on` and [`SETTLE`] of idle time: it starts the helper threads
/// a runtime starts lazily (smol's "async-io" reactor thread) and lets them reach their idle
/// state, so they do not race the first iterations. Without it, callgrind counts of smol
/// varied by up to 0.4% from one execution to the next.
struct RunOnce {
    bench: &'static str,
    iters: u64,
}

impl RuntimeVisitor for RunOnce {
    type Output = anyhow::Result<(RuntimeInfo, Duration)>;

    fn visit<R: Runtime>(self) -> Self::Output {
        let rt = R::build(&RuntimeConfig::default())
            .with_context(|| format!("cannot build runtime {}", R::ID))?;
        rt.block_on(async {});
        std::thread::sleep(SETTLE);
        let elapsed = micro::run_workload(self.bench, &rt, self.iters)
            .expect("workload name checked against the registry")?;
        Ok((rt.info(), elapsed))
    }
}

/// Runs the workload, or lists the workloads.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        print_list();
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(runtime), Some(bench)) = (args.runtime, args.bench) else {
        unreachable!("clap requires --runtime and --bench without --list");
    };
    let def = micro::find(&bench).ok_or_else(|| {
        usage(format!(
            "unknown workload '{bench}'; valid workloads: {}",
            micro::names()
        ))
    })?;
    let iters = args.iters;
    let (info, elapsed) = with_runtime(
        &runtime,
        RunOnce {
            bench: def.name,
            iters,
        },
    )
    .ok_or_else(|| {
        usage(format!(
            "unknown runtime '{runtime}'; valid runtimes: {}",
            runtimes::runtime_ids().join(", ")
        ))
    })??;
    let ns_per_iter = elapsed.as_nanos() as f64 / iters as f64;
    println!(
        "{} {} {iters} iters {:.2} ms ({ns_per_iter:.0} ns/iter)",
        info.id,
        def.name,
        elapsed.as_secs_f64() * 1e3
    );
    if let Some(path) = args.json {
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
        file.save(&path)?;
    }
    Ok(ExitCode::SUCCESS)
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
