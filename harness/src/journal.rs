//! The conformance journal: every completed cell is appended, as it completes, to a file
//! beside the results file (`c.json` → `c.json.journal`), so an interrupted matrix loses
//! nothing and `conformance --resume` runs only the cells that are missing.
//!
//! Format: JSON lines. The first is a header naming the selection (`kind`, `version`, the
//! runtimes and the scenarios); every further line is one [`ConformanceCell`]. A line is
//! appended whole, with one write and no fsync: a crash loses at most the line being
//! written, and on resume an incomplete last line is dropped (and cut off the file, so the
//! next line starts clean).
//!
//! Invariant: a journal holds only cells of its header's selection, each at most once, and
//! is resumed only with the same selection (the same sets of runtimes and scenarios, in any
//! order); anything else is refused with one error naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::results::ConformanceCell;

/// Identifies a conformance journal.
pub const KIND: &str = "loopbench-conformance-journal";
/// Version of the journal format.
pub const VERSION: u32 = 1;

/// The cells a matrix run is asked for: these runtimes × these scenarios.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Runtime ids, in run order.
    pub runtimes: Vec<String>,
    /// Scenario ids, in run order.
    pub scenarios: Vec<String>,
}

impl Selection {
    /// The selection of `runtimes` × `scenarios`.
    pub fn new<R: AsRef<str>, S: AsRef<str>>(runtimes: &[R], scenarios: &[S]) -> Self {
        Self {
            runtimes: runtimes.iter().map(|r| r.as_ref().to_string()).collect(),
            scenarios: scenarios.iter().map(|s| s.as_ref().to_string()).collect(),
        }
    }

    /// Cells in the matrix.
    pub fn cells(&self) -> usize {
        self.runtimes.len() * self.scenarios.len()
    }

    fn same_sets(&self, other: &Selection) -> bool {
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        set(&self.runtimes) == set(&other.runtimes) && set(&self.scenarios) == set(&other.scenarios)
    }

    fn contains(&self, cell: &ConformanceCell) -> bool {
        self.runtimes.contains(&cell.runtime) && self.scenarios.contains(&cell.scenario)
    }

    /// `2 runtimes (evloop, smol) × 3 scenarios`.
    fn summary(&self) -> String {
        format!(
            "{} runtime{} ({}) × {} scenario{}",
            self.runtimes.len(),
            plural(self.runtimes.len()),
            self.runtimes.join(", "),
            self.scenarios.len(),
            plural(self.scenarios.len())
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The first line of a journal.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    kind: String,
    version: u32,
    #[serde(flatten)]
    selection: Selection,
}

/// Why a journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {action} journal {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} is not a loopbench conformance journal ({why}); move it away or name another --json")]
    NotAJournal { path: PathBuf, why: String },
    #[error("journal {path} belongs to another selection ({journal}), not this one ({asked}); resume with the same --runtime and --scenario, or run without --resume to start over")]
    OtherSelection {
        path: PathBuf,
        journal: String,
        asked: String,
    },
    #[error("journal {path} is corrupt at line {line}: {why}; run without --resume to start over")]
    Corrupt {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

/// An open journal, appended to as cells complete.
#[derive(Debug)]
pub struct CellJournal {
    /// Where it is.
    path: PathBuf,
    /// Open for appending.
    file: File,
    /// Cells found in it when it was resumed, by (scenario, runtime).
    saved: BTreeMap<(String, String), ConformanceCell>,
}

impl CellJournal {
    /// The journal beside a results file: `c.json` → `c.json.journal`.
    pub fn path_for(results: &Path) -> PathBuf {
        let mut name = results.as_os_str().to_owned();
        name.push(".journal");
        PathBuf::from(name)
    }

    /// Starts a new journal at `path` for `selection`, replacing any file there.
    pub fn create(path: &Path, selection: &Selection) -> Result<Self, JournalError> {
        let io_err = |source| JournalError::Io {
            action: "create",
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(io_err)?;
        let header = Header {
            kind: KIND.to_string(),
            version: VERSION,
            selection: selection.clone(),
        };
        let mut line = serde_json::to_vec(&header).expect("a header serializes");
        line.push(b'\n');
        file.write_all(&line).map_err(io_err)?;
        // Appends go to the end whatever the offset; reopen in append mode.
        let file = OpenOptions::new().append(true).open(path).map_err(io_err)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            saved: BTreeMap::new(),
        })
    }

    /// Reopens the journal at `path` to continue `selection`: `Ok(None)` when there is none.
    /// A journal with no complete header (cut off while it was being started) is started
    /// afresh.
    pub fn resume(path: &Path, selection: &Selection) -> Result<Option<Self>, JournalError> {
        let bytes = match crate::paths::read_regular(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(JournalError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let Some(contents) = read_lines(path, &bytes)? else {
            return Self::create(path, selection).map(Some);
        };
        if !contents.selection.same_sets(selection) {
            return Err(JournalError::OtherSelection {
                path: path.to_owned(),
                journal: contents.selection.summary(),
                asked: selection.summary(),
            });
        }
        let io_err = |source| JournalError::Io {
            action: "append to",
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new().append(true).open(path).map_err(io_err)?;
        if contents.good_len < bytes.len() as u64 {
            file.set_len(contents.good_len).map_err(io_err)?;
        }
        Ok(Some(Self {
            path: path.to_owned(),
            file,
            saved: contents.cells,
        }))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cell of `scenario` on `runtime` found in the journal when it was resumed.
    pub fn saved(&self, scenario: &str, runtime: &str) -> Option<&ConformanceCell> {
        self.saved.get(&(scenario.to_string(), runtime.to_string()))
    }

    /// Cells found in the journal when it was resumed.
    pub fn saved_count(&self) -> usize {
        self.saved.len()
    }

    /// Appends a completed cell (one write of one line).
    pub fn record(&mut self, cell: &ConformanceCell) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(cell).expect("a cell serializes");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|source| JournalError::Io {
                action: "append to",
                path: self.path.clone(),
                source,
            })
    }

    /// Removes the journal (once the results file holds every cell).
    pub fn remove(self) -> io::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
    }

    /// Complete, readable cells in the journal at `path` now (0 when there is none): what a
    /// resume would keep.
    pub fn count_saved(path: &Path) -> usize {
        crate::paths::read_regular(path)
            .ok()
            .and_then(|bytes| read_lines(path, &bytes).ok().flatten())
            .map_or(0, |c| c.cells.len())
    }
}

/// What a journal file holds.
struct Contents {
    selection: Selection,
    cells: BTreeMap<(String, String), ConformanceCell>,
    /// Length of the complete lines (an incomplete last line is beyond it).
    good_len: u64,
}

/// Parses a journal's bytes; `None` when it has no complete header line.
fn read_lines(path: &Path, bytes: &[u8]) -> Result<Option<Contents>, JournalError> {
    // Only newline-terminated lines count: the last write may have been cut short.
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            lines.push(&bytes[start..i]);
            start = i + 1;
        }
    }
    let good_len = start as u64;
    let Some((first, rest)) = lines.split_first() else {
        return Ok(None);
    };
    let not_a_journal = |why: String| JournalError::NotAJournal {
        path: path.to_owned(),
        why,
    };
    let header: Header = serde_json::from_slice(first)
        .map_err(|e| not_a_journal(format!("its first line is not a journal header: {e}")))?;
    if header.kind != KIND || header.version != VERSION {
        return Err(not_a_journal(format!(
            "kind {:?} version {}; expected {KIND:?} version {VERSION}",
            header.kind, header.version
        )));
    }
    let mut cells = BTreeMap::new();
    for (i, line) in rest.iter().enumerate() {
        let corrupt = |why: String| JournalError::Corrupt {
            path: path.to_owned(),
            line: i + 2,
            why,
        };
        let cell: ConformanceCell =
            serde_json::from_slice(line).map_err(|e| corrupt(format!("not a cell: {e}")))?;
        if !header.selection.contains(&cell) {
            return Err(corrupt(format!(
                "cell {} on {} is not in the journal's selection",
                cell.scenario, cell.runtime
            )));
        }
        cells
            .entry((cell.scenario.clone(), cell.runtime.clone()))
            .or_insert(cell);
    }
    Ok(Some(Contents {
        selection: header.selection,
        cells,
        good_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::CellStatus;

    fn cell(scenario: &str, runtime: &str) -> ConformanceCell {
        ConformanceCell {
            scenario: scenario.into(),
            rule: "L1".into(),
            group: "loop".into(),
            runtime: runtime.into(),
            status: CellStatus::Pass,
            detail: String::new(),
            measurements: vec![],
            elapsed_ms: 1.5,
        }
    }

    #[test]
    fn cells_survive_and_resume_skips_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = CellJournal::path_for(&dir.path().join("c.json"));
        assert!(path.ends_with("c.json.journal"));
        let sel = Selection::new(&["a", "b"], &["s1", "s2"]);
        assert!(CellJournal::resume(&path, &sel).unwrap().is_none());

        let mut j = CellJournal::create(&path, &sel).unwrap();
        j.record(&cell("s1", "a")).unwrap();
        j.record(&cell("s1", "b")).unwrap();
        drop(j);
        assert_eq!(CellJournal::count_saved(&path), 2);

        // The same sets in another order resume; the cells come back whole.
        let other_order = Selection::new(&["b", "a"], &["s2", "s1"]);
        let mut j = CellJournal::resume(&path, &other_order).unwrap().unwrap();
        assert_eq!(j.saved_count(), 2);
        assert_eq!(j.saved("s1", "b"), Some(&cell("s1", "b")));
        assert!(j.saved("s2", "a").is_none());
        j.record(&cell("s2", "a")).unwrap();
        drop(j);
        assert_eq!(CellJournal::count_saved(&path), 3);
    }

    #[test]
    fn an_incomplete_last_line_is_dropped_and_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json.journal");
        let sel = Selection::new(&["a"], &["s1", "s2"]);
        let mut j = CellJournal::create(&path, &sel).unwrap();
        j.record(&cell("s1", "a")).unwrap();
        drop(j);
        let whole = std::fs::read(&path).unwrap();
        let line = serde_json::to_vec(&cell("s2", "a")).unwrap();
        let mut cut = whole.clone();
        cut.extend_from_slice(&line[..line.len() / 2]);
        std::fs::write(&path, &cut).unwrap();
        assert_eq!(CellJournal::count_saved(&path), 1);

        let mut j = CellJournal::resume(&path, &sel).unwrap().unwrap();
        assert_eq!(j.saved_count(), 1);
        assert_eq!(std::fs::read(&path).unwrap(), whole);
        j.record(&cell("s2", "a")).unwrap();
        drop(j);
        let j = CellJournal::resume(&path, &sel).unwrap().unwrap();
        assert_eq!(j.saved_count(), 2);

        // A header cut short: nothing was saved; the journal starts afresh.
        std::fs::write(&path, b"{\"kind\":\"loopbench-conf").unwrap();
        let j = CellJournal::resume(&path, &sel).unwrap().unwrap();
        assert_eq!(j.saved_count(), 0);
    }

    #[test]
    fn another_selection_or_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json.journal");
        let sel = Selection::new(&["a"], &["s1"]);
        CellJournal::create(&path, &sel).unwrap();
        let err = CellJournal::resume(&path, &Selection::new(&["a", "b"], &["s1"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("belongs to another selection"), "{err}");
        assert!(err.contains("1 runtime (a) × 1 scenario"), "{err}");

        std::fs::write(&path, "{\"results\": []}\n").unwrap();
        let err = CellJournal::resume(&path, &sel).unwrap_err().to_string();
        assert!(
            err.contains("is not a loopbench conformance journal"),
            "{err}"
        );

        CellJournal::create(&path, &sel).unwrap();
        let text = std::fs::read_to_string(&path).unwrap() + "garbage\n";
        std::fs::write(&path, &text).unwrap();
        let err = CellJournal::resume(&path, &sel).unwrap_err().to_string();
        assert!(err.contains("corrupt at line 2"), "{err}");

        let mut j = CellJournal::create(&path, &sel).unwrap();
        j.record(&cell("s9", "a")).unwrap();
        drop(j);
        let err = CellJournal::resume(&path, &sel).unwrap_err().to_string();
        assert!(err.contains("not in the journal's selection"), "{err}");
    }
}
