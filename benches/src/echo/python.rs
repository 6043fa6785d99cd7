//! The seeds' Python servers, ready to run beside the Rust ones: `asyncio` (the asyncio
//! streams echo server of seed 000, on the venv's or the system's Python) and `uvloop` (the
//! same on uvloop, installed from PyPI into the venv under `target/` on request; see
//! `harness::python`). The script ships inside the binary and is written to a private
//! directory for the run.

use std::sync::Arc;

use launch::PrivateDir;

use crate::echo::orchestrate::ServerSpec;

/// The server script.
const SCRIPT: &str = include_str!("../../servers/asyncio_echo.py");

/// The Python servers of a run, and why any of them is missing.
#[derive(Debug)]
pub struct PythonServers {
    /// `asyncio`, `uvloop`, as far as available; each keeps the script's private directory
    /// for as long as it exists.
    pub specs: Vec<ServerSpec>,
    /// One line per server left out, with the reason (a skip line to print).
    pub skipped: Vec<String>,
}

/// Finds (or makes, when `install` is set) what the Python servers need; `progress` hears
/// the slow steps.
pub fn python_servers(install: bool, progress: &mut dyn FnMut(&str)) -> PythonServers {
    let mut out = PythonServers {
        specs: Vec::new(),
        skipped: Vec::new(),
    };
    let venv = if install {
        harness::python::ensure_venv(true, progress)
    } else {
        harness::python::existing_venv()
            .filter(|v| v.has_uvloop)
            .ok_or_else(|| {
                "no virtual environment with uvloop yet (--with-python makes one)".to_string()
            })
    };
    let (python, uvloop) = match venv {
        Ok(v) => (v.python, Ok(())),
        Err(why) => match harness::python::find_python() {
            Ok(p) => (p.interpreter, Err(why)),
            Err(no_python) => {
                out.skipped
                    .push(format!("asyncio and uvloop skipped: {no_python}"));
                return out;
            }
        },
    };
    let dir = match PrivateDir::new("python") {
        Ok(d) => d,
        Err(e) => {
            out.skipped.push(format!("asyncio and uvloop skipped: {e}"));
            return out;
        }
    };
    let script = dir.file("asyncio_echo.py");
    if let Err(e) = std::fs::write(&script, SCRIPT) {
        out.skipped.push(format!(
            "asyncio and uvloop skipped: cannot write {}: {e}",
            script.display()
        ));
        return out;
    }
    let base = format!(
        "{} {} {{port}} --buffer {{buffer}}",
        shell_quote(&python.to_string_lossy()),
        shell_quote(&script.to_string_lossy())
    );
    let files = Some(Arc::new(dir));
    out.specs.push(ServerSpec::Command {
        name: "asyncio".into(),
        cmd: base.clone(),
        files: files.clone(),
    });
    match uvloop {
        Ok(()) => out.specs.push(ServerSpec::Command {
            name: "uvloop".into(),
            cmd: format!("{base} --uvloop"),
            files,
        }),
        Err(why) => out.skipped.push(format!("uvloop skipped: {why}")),
    }
    out
}

/// `text` quoted for `sh` when it needs it.
fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/usr/bin/python3"), "/usr/bin/python3");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
