//! `loopbench list`: the runtimes compiled in (with their info) and the scenarios.

use std::process::ExitCode;

/// Arguments of `loopbench list`.
#[derive(clap::Args)]
pub struct Args {
    /// Print as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints runtimes and scenarios.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let infos = runtimes::runtime_ids()
        .into_iter()
        .map(runtimes::runtime_info)
        .collect::<std::io::Result<Vec<_>>>()?;
    let scenarios: Vec<_> = scenarios::ALL.iter().filter(|d| !d.selftest).collect();
    if args.json {
        let value = serde_json::json!({
            "runtimes": infos,
            "scenarios": scenarios.iter().map(|d| serde_json::json!({
                "id": d.id, "group": d.group, "rule": d.rule, "title": d.title,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Runtimes ({}):", infos.len());
    for info in &infos {
        println!(
            "  {:<10} {} {:<8} {} (workers: {})",
            info.id, info.crate_name, info.crate_version, info.flavour, info.worker_threads
        );
        for note in &info.notes {
            println!("  {:<10}   note: {note}", "");
        }
    }
    println!("\nScenarios ({}):", scenarios.len());
    for d in scenarios {
        println!("  {:<4} {:<38} {}", d.rule, d.id, d.title);
    }
    Ok(ExitCode::SUCCESS)
}
