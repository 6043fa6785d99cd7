//! The committed baseline (`ci/baseline.json`): what the gate compares against, and the
//! machine and toolchain it was taken on.
//!
//! Invariant: a baseline is written whole (`write_atomic`) and read strictly: missing,
//! corrupt, or of another kind or version, it is a [`BaselineError`] (exit 2), never a verdict.

use std::path::{Path, PathBuf};

use harness::results::{CellStatus, Environment};
use serde::{Deserialize, Serialize};

/// Identifies a gate baseline file.
pub const KIND: &str = "loopbench-gate-baseline";
/// Version of the baseline format.
pub const VERSION: u32 = 1;

/// The baseline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`KIND`].
    pub kind: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// Machine and toolchain the baseline was taken on.
    pub environment: Environment,
    /// `valgrind --version` used for tier 1.
    #[serde(default)]
    pub valgrind: String,
    /// Tier 1: instructions per iteration.
    #[serde(default)]
    pub instructions: Vec<InstructionCount>,
    /// Tier 2: time ratios to the reference runtime.
    #[serde(default)]
    pub timing: Vec<TimingRatio>,
    /// Tier 3: conformance statuses.
    #[serde(default)]
    pub conformance: Vec<CellRecord>,
}

/// Tier 1 figure for one runtime × workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstructionCount {
    pub runtime: String,
    pub bench: String,
    /// Iterations of the shorter of the two executions (the longer runs twice as many).
    pub iters: u64,
    /// (instructions at 2×iters − instructions at iters) / iters.
    pub instructions_per_iter: f64,
}

/// Tier 2 figure for one runtime × workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingRatio {
    pub runtime: String,
    pub bench: String,
    /// The runtime whose time is the denominator.
    pub reference: String,
    /// Median over repeats of time(runtime) / time(reference).
    pub ratio: f64,
    /// Repeats the median was taken over.
    pub repeats: u32,
    /// Every repeat's ratio, in the order measured: the gate compares the two samples, so
    /// the baseline's own noise is part of the interval. Empty in baselines written before
    /// it was recorded (the gate then compares with `ratio` alone).
    #[serde(default)]
    pub samples: Vec<f64>,
}

/// Tier 3 record for one conformance cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub scenario: String,
    pub runtime: String,
    pub status: CellStatus,
}

/// Why a baseline could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline {path} does not exist; create it with `loopbench gate --baseline {path} --update`")]
    Missing { path: PathBuf },
    #[error("cannot read baseline {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("baseline {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} is not a loopbench gate baseline ({found}; expected kind {KIND:?} version {VERSION})")]
    WrongKind {
        path: PathBuf,
        /// What it has instead: `kind "x", version 1`, or `no kind`.
        found: String,
    },
}

impl Baseline {
    /// An empty baseline for `environment`.
    pub fn new(environment: Environment) -> Self {
        Self {
            kind: KIND.to_string(),
            version: VERSION,
            environment,
            ..Self::default()
        }
    }

    /// Reads and checks a baseline.
    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let text = match harness::paths::read_regular_file(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BaselineError::Missing {
                    path: path.to_owned(),
                })
            }
            Err(source) => {
                return Err(BaselineError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let corrupt = |source| BaselineError::Corrupt {
            path: path.to_owned(),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(corrupt)?;
        // The kind first, so a results file or any other JSON is named as such rather than
        // as a baseline with a missing field.
        let (kind, version) = (
            value.get("kind").and_then(|k| k.as_str()),
            value.get("version").and_then(|v| v.as_u64()),
        );
        if kind != Some(KIND) || version != Some(u64::from(VERSION)) {
            let found = match (kind, value.get("version")) {
                (None, _) => "no kind".to_string(),
                (Some(k), Some(v)) => format!("kind {k:?}, version {v}"),
                (Some(k), None) => format!("kind {k:?}, no version"),
            };
            return Err(BaselineError::WrongKind {
                path: path.to_owned(),
                found,
            });
        }
        serde_json::from_value(value).map_err(corrupt)
    }

    /// Writes the baseline atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        harness::results::write_atomic(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_corrupt_and_foreign_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("lb-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.json");
        assert!(matches!(
            Baseline::load(&path),
            Err(BaselineError::Missing { .. })
        ));
        std::fs::write(&path, "{\"kind\": ").unwrap();
        assert!(matches!(
            Baseline::load(&path),
            Err(BaselineError::Corrupt { .. })
        ));
        std::fs::write(&path, "{\"kind\": \"x\", \"version\": 1, \"environment\": {\"loopbench_version\":\"\",\"cpu_model\":\"\",\"cores\":1,\"kernel\":\"\",\"rustc\":\"\",\"profile\":\"\",\"date\":\"\",\"command_line\":[]}}").unwrap();
        assert!(matches!(
            Baseline::load(&path),
            Err(BaselineError::WrongKind { .. })
        ));
        // A results file is not a baseline, and says so.
        std::fs::write(&path, "{\"schema_version\": 1, \"environment\": {}}").unwrap();
        let err = Baseline::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("is not a loopbench gate baseline (no kind"),
            "{err}"
        );
        let mut b = Baseline::new(Environment::default());
        b.instructions.push(InstructionCount {
            runtime: "evloop".into(),
            bench: "spawn_many".into(),
            iters: 10,
            instructions_per_iter: 1.5,
        });
        b.save(&path).unwrap();
        assert_eq!(Baseline::load(&path).unwrap(), b);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
