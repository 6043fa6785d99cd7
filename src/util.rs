//! Small pieces every subcommand shares: error reporting, colour detection, runtime lists.

use std::io::IsTerminal;
use std::path::Path;

use harness::results::ResultsFile;
use std::process::ExitCode;

/// An error that means the user's input was unusable (exit status 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds an [`UsageError`] wrapped in `anyhow::Error`.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Prints `err` as one line and returns exit status 2 for usage errors, 1 otherwise.
pub fn report_error(err: &anyhow::Error) -> ExitCode {
    let line = err
        .chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ");
    eprintln!("loopbench: error: {line}");
    if err.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// Prints a command-line error as one line (`loopbench: error: invalid value 'x' for
/// '--duration <DURATION>': ...`) and returns exit status 2; help and version requests print
/// as usual and return 0.
pub fn report_clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return ExitCode::from(
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            },
        );
    }
    let text = err.render().to_string();
    let mut parts: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() {
            parts.push(line);
        }
    }
    let line = parts.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    eprintln!("loopbench: error: {line} (see --help)");
    ExitCode::from(2)
}

/// Whether to colour output: stdout is a terminal and `NO_COLOR` is unset.
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Parses a `--runtime` list, turning an unknown name into a usage error.
pub fn runtime_list(arg: &str) -> anyhow::Result<Vec<&'static str>> {
    runtimes::parse_runtime_list(arg).map_err(usage)
}

/// Runs `loopbench micro` once in a child process and returns its ns per iteration.
pub fn micro_ns_per_iter(
    exe: &Path,
    runtime: &str,
    bench: &str,
    iters: u64,
) -> anyhow::Result<f64> {
    let dir = launch::PrivateDir::new("micro")?;
    let path = dir.file("micro.json");
    let out = launch::Launch::loopbench(exe)
        .args(["micro", "--runtime", runtime, "--bench", bench])
        .args(["--iters", &iters.to_string(), "--json"])
        .arg(&path)
        .time_limit(MICRO_LIMIT)
        .output()?;
    if !out.ended.success() {
        anyhow::bail!(
            "micro {runtime}/{bench} {}: {}",
            out.ended,
            out.stderr_text().trim()
        );
    }
    let file = ResultsFile::load(&path)?;
    file.micro
        .first()
        .map(|m| m.ns_per_iter)
        .ok_or_else(|| anyhow::anyhow!("micro {runtime}/{bench} wrote no figure"))
}

/// Time limit of one micro execution (a quick pass takes well under a second).
const MICRO_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
