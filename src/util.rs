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

/// An error that ends the program with its own exit status (`export`'s 3: nothing to
/// export), after its one line.
#[derive(Debug)]
pub struct ExitWith(pub u8, pub String);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for ExitWith {}

/// Prints `err` as one line and returns exit status 2 for usage errors, an [`ExitWith`]'s
/// own, 1 otherwise.
pub fn report_error(err: &anyhow::Error) -> ExitCode {
    let mut parts: Vec<String> = Vec::new();
    for e in err.chain() {
        let text = e.to_string();
        // A message that already quotes its cause (`cannot write X: <cause>`) is not
        // followed by the cause again.
        if !parts.last().is_some_and(|p| p.ends_with(&text)) {
            parts.push(text);
        }
    }
    // One line, even when a part quotes a child's multi-line stderr.
    let line = parts
        .join(": ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    eprintln!("loopbench: error: {line}");
    if err.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(2)
    } else if let Some(ExitWith(code, _)) = err.downcast_ref::<ExitWith>() {
        ExitCode::from(*code)
    } else {
        ExitCode::from(1)
    }
}

/// Reports a command-line parse error as one line (the message, then the usage) with exit
/// status 2; help and version requests print as clap renders them.
pub fn report_clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
    }
    eprintln!(
        "loopbench: error: {}",
        clap_error_line(&err.render().to_string())
    );
    ExitCode::from(2)
}

/// clap's error text on one line: its first paragraph (without `error: `), joined, then
/// its usage line. Tips are dropped.
fn clap_error_line(text: &str) -> String {
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    match text.lines().find_map(|l| l.trim().strip_prefix("Usage: ")) {
        Some(usage) => format!("{message} (usage: {usage}; --help for more)"),
        None => message.to_string(),
    }
}

/// When this process is being interrupted, waits for the interrupt handler (which kills
/// the children, runs the `launch::on_interrupt` hooks and exits with 128 + the signal),
/// instead of carrying on with — or exiting on — a result the interrupt cut short.
pub fn yield_if_interrupted() {
    if launch::interrupted() {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// Whether to colour output: stdout is a terminal and `NO_COLOR` is unset.
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
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

#[cfg(test)]
mod tests {
    #[test]
    fn clap_errors_become_one_line() {
        let text = "error: the following required arguments were not provided:\n  <NEW>\n\nUsage: loopbench compare <OLD> <NEW>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::clap_error_line(text),
            "the following required arguments were not provided: <NEW> (usage: loopbench compare <OLD> <NEW>; --help for more)"
        );
    }
}
