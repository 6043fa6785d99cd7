//! `conformance --json PATH [--resume]`: the journal beside the results file
//! ([`harness::journal`]), and the one line an interrupt prints about it — how many cells
//! are saved and the command that continues the matrix.

use std::path::Path;

use harness::journal::{CellJournal, Selection};

use crate::util::usage;

/// Checks `json` can be written, then opens its journal for `selection`: resumed when
/// `resume` and there is one, otherwise new (replacing an old one, with a note). Registers
/// the interrupt line. Every refusal is a usage error (exit status 2).
pub fn open_journal(
    json: &Path,
    selection: &Selection,
    resume: bool,
) -> anyhow::Result<CellJournal> {
    harness::paths::check_output_file(json).map_err(|e| usage(format!("--json: {e}")))?;
    let path = CellJournal::path_for(json);
    let total = selection.cells();
    let resumed = if resume {
        CellJournal::resume(&path, selection).map_err(|e| usage(e.to_string()))?
    } else {
        None
    };
    let journal = match resumed {
        Some(j) => {
            eprintln!(
                "conformance: resuming: {} of {total} cells saved in {}",
                j.saved_count(),
                path.display()
            );
            j
        }
        None => {
            let old = CellJournal::count_saved(&path);
            if resume {
                eprintln!(
                    "conformance: no journal at {}: running the whole matrix",
                    path.display()
                );
            } else if old > 0 {
                eprintln!(
                    "conformance: note: replacing {} ({old} cells of an interrupted run; --resume continues one)",
                    path.display()
                );
            }
            CellJournal::create(&path, selection).map_err(|e| usage(e.to_string()))?
        }
    };
    let command = resume_command();
    launch::on_interrupt(move || {
        eprintln!(
            "conformance: interrupted; {} of {total} cells saved in {}; continue with: {command}",
            CellJournal::count_saved(&path),
            path.display()
        );
    });
    Ok(journal)
}

/// Registers the interrupt line of a run without `--json` (nothing is kept).
pub fn note_unsaved_on_interrupt() {
    launch::on_interrupt(|| {
        eprintln!(
            "conformance: interrupted; no cell saved (with --json PATH completed cells are kept and --resume continues)"
        );
    });
}

/// This process's command line with `--resume` (once), quoted for a POSIX shell.
fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if !args.iter().skip(1).any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `a` as one shell word: unchanged when it is plain, else in single quotes.
fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("--runtime"), "--runtime");
        assert_eq!(shell_quote("/tmp/c.json"), "/tmp/c.json");
        assert_eq!(shell_quote("timers.*"), "'timers.*'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
