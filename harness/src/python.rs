//! Python for the outside servers and twins: finding an interpreter, and a virtual
//! environment under the build directory (`target/loopbench-python/`) with uvloop installed
//! from PyPI, made once on request and reused after.
//!
//! Every answer is either a usable interpreter or a reason a user can act on ("python3 not
//! found", "pip could not install uvloop: ..."), which callers print as one skip line.
//!
//! Invariant: nothing here installs anything unless asked ([`ensure_venv`]); the venv lives
//! only under the build directory (or `LOOPBENCH_PYTHON_VENV`), never in the user's site.

use std::path::{Path, PathBuf};
use std::time::Duration;

use launch::Launch;

/// Overrides where the virtual environment lives.
pub const VENV_ENV: &str = "LOOPBENCH_PYTHON_VENV";
/// Overrides which interpreter is used to find Python and create the venv.
pub const PYTHON_ENV: &str = "LOOPBENCH_PYTHON";
/// Name of the venv directory under the build directory.
pub const VENV_NAME: &str = "loopbench-python";

/// Time limit of a version check or an import check.
const CHECK_LIMIT: Duration = Duration::from_secs(20);
/// Time limit of `python -m venv`.
const VENV_LIMIT: Duration = Duration::from_secs(120);
/// Time limit of `pip install uvloop`.
const PIP_LIMIT: Duration = Duration::from_secs(300);

/// A Python interpreter that answered `--version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Python {
    /// The program to run (`python3`, or a path).
    pub interpreter: PathBuf,
    /// What it printed for `--version` (`Python 3.11.2`).
    pub version: String,
}

/// The virtual environment, as found or made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Venv {
    /// Its directory.
    pub dir: PathBuf,
    /// Its interpreter (`DIR/bin/python`).
    pub python: PathBuf,
    /// Whether `import uvloop` works in it.
    pub has_uvloop: bool,
}

/// Finds a Python 3 interpreter: `$LOOPBENCH_PYTHON`, else `python3`, else `python`.
pub fn find_python() -> Result<Python, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os(PYTHON_ENV) {
        Some(p) => vec![PathBuf::from(p)],
        None => vec!["python3".into(), "python".into()],
    };
    let mut why = Vec::new();
    for c in candidates {
        match version_of(&c) {
            Ok(version) if version.starts_with("Python 3") => {
                return Ok(Python {
                    interpreter: c,
                    version,
                })
            }
            Ok(version) => why.push(format!("{} is {version}", c.display())),
            Err(e) => why.push(format!("{}: {e}", c.display())),
        }
    }
    Err(format!(
        "no Python 3 interpreter found ({})",
        why.join("; ")
    ))
}

fn version_of(python: &Path) -> Result<String, String> {
    let out = Launch::program(python)
        .arg("--version")
        .time_limit(CHECK_LIMIT)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.ended.success() {
        return Err(format!("`--version` {}", out.ended));
    }
    let text = out.stdout_text() + &out.stderr_text();
    Ok(text.trim().to_string())
}

/// Where the venv lives: `$LOOPBENCH_PYTHON_VENV`, else `loopbench-python` in the Cargo
/// build directory this program runs from (found by its `CACHEDIR.TAG`), else
/// `target/loopbench-python` under the current directory.
pub fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(VENV_ENV) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().ok();
    let target = exe.as_deref().and_then(|e| {
        e.ancestors()
            .skip(1)
            .find(|d| d.join("CACHEDIR.TAG").is_file())
    });
    match target {
        Some(t) => t.join(VENV_NAME),
        None => PathBuf::from("target").join(VENV_NAME),
    }
}

/// The venv's interpreter path.
fn venv_python(dir: &Path) -> PathBuf {
    dir.join("bin").join("python")
}

/// Whether `python -c CODE` succeeds.
fn runs(python: &Path, code: &str) -> bool {
    Launch::program(python)
        .args(["-c", code])
        .time_limit(CHECK_LIMIT)
        .output()
        .is_ok_and(|o| o.ended.success())
}

/// The venv as it is now, if it exists and its interpreter runs.
pub fn existing_venv() -> Option<Venv> {
    let dir = venv_dir();
    let python = venv_python(&dir);
    if !python.exists() || !runs(&python, "import sys") {
        return None;
    }
    let has_uvloop = runs(&python, "import uvloop");
    Some(Venv {
        dir,
        python,
        has_uvloop,
    })
}

/// Makes sure the venv exists (creating it with the interpreter [`find_python`] finds) and,
/// when `with_uvloop`, that uvloop is installed in it (from PyPI, with pip). `progress`
/// hears one line before each slow step. Returns the venv, or why it cannot be had.
pub fn ensure_venv(with_uvloop: bool, progress: &mut dyn FnMut(&str)) -> Result<Venv, String> {
    if let Some(v) = existing_venv() {
        if v.has_uvloop || !with_uvloop {
            return Ok(v);
        }
    }
    let dir = venv_dir();
    let python = venv_python(&dir);
    if !python.exists() {
        let base = find_python()?;
        progress(&format!(
            "python: creating a virtual environment in {} ({})",
            dir.display(),
            base.version
        ));
        let out = Launch::program(&base.interpreter)
            .args(["-m", "venv"])
            .arg(&dir)
            .time_limit(VENV_LIMIT)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", base.interpreter.display()))?;
        if !out.ended.success() {
            return Err(format!(
                "`{} -m venv {}` {}: {} (on Debian: apt install python3-venv)",
                base.interpreter.display(),
                dir.display(),
                out.ended,
                last_line(&out.stderr_text())
            ));
        }
    }
    let mut venv = Venv {
        has_uvloop: runs(&python, "import uvloop"),
        dir,
        python,
    };
    if with_uvloop && !venv.has_uvloop {
        progress("python: installing uvloop from PyPI into it");
        let out = Launch::program(&venv.python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
            ])
            .arg("uvloop")
            .time_limit(PIP_LIMIT)
            .output()
            .map_err(|e| format!("cannot run pip: {e}"))?;
        if !out.ended.success() {
            return Err(format!(
                "pip could not install uvloop ({}): {}",
                out.ended,
                last_line(&out.stderr_text())
            ));
        }
        venv.has_uvloop = runs(&venv.python, "import uvloop");
        if !venv.has_uvloop {
            return Err("uvloop installed but `import uvloop` fails".into());
        }
    }
    Ok(venv)
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_venv_lives_in_the_build_directory() {
        // Test binaries run from target/debug/deps/: the CACHEDIR.TAG is in target/.
        let dir = venv_dir();
        assert!(dir.ends_with(VENV_NAME), "{}", dir.display());
        if std::env::var_os(VENV_ENV).is_none() {
            let parent = dir.parent().unwrap();
            assert!(
                parent.join("CACHEDIR.TAG").is_file() || parent.ends_with("target"),
                "{}",
                dir.display()
            );
        }
    }

    #[test]
    fn a_missing_interpreter_is_a_reason_not_a_panic() {
        let err = version_of(Path::new("/nonexistent/python3")).unwrap_err();
        assert!(!err.is_empty());
        assert_eq!(last_line("a\nb\n\n"), "b");
    }
}
