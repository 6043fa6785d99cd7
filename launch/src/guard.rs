//! The child's side: asking for the parent-death signal at start ([`child_init`]), and the
//! guard that gives an outside program the same ([`exec_guarded`], `loopbench __exec`).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use rustix::process::Signal;

use crate::{EXIT_CANNOT_EXEC, EXIT_ORPHANED, PARENT_ENV};

/// The hidden subcommand that runs the guard: `loopbench __exec -- PROGRAM ARGS…`.
pub const GUARD_SUBCOMMAND: &str = "__exec";

static GUARD: OnceLock<PathBuf> = OnceLock::new();

/// Names the loopbench binary that guards outside programs (normally this process's own
/// executable, set once at the start of `main`).
pub fn set_guard(exe: PathBuf) {
    let _ = GUARD.set(exe);
}

pub(crate) fn guard_exe() -> Option<PathBuf> {
    GUARD.get().cloned()
}

/// Call first thing in a loopbench `main`: when started by a [`crate::Launch`] (the
/// [`PARENT_ENV`] variable names the parent), asks the kernel to SIGKILL this process when
/// the parent dies, then checks the parent did not die before that request (this process
/// would have been re-parented): then it exits at once with [`EXIT_ORPHANED`].
pub fn child_init() {
    let Some(expected) = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    if rustix::process::set_parent_process_death_signal(Some(Signal::KILL)).is_err() {
        return;
    }
    let parent = rustix::process::getppid().map(|p| p.as_raw_pid());
    if parent != Some(expected) {
        std::process::exit(EXIT_ORPHANED);
    }
}

/// The guard (`loopbench __exec -- PROGRAM ARGS…`, `args` being what follows `__exec`):
/// [`child_init`], then replaces this process with PROGRAM, which keeps the parent-death
/// signal, the process group and the pid. The parent's id is removed from PROGRAM's
/// environment, so a loopbench that PROGRAM starts in turn (through a shell, say) does not
/// take PROGRAM's parent for its own. Returns only on failure, with the exit status.
pub fn exec_guarded(args: &[OsString]) -> i32 {
    child_init();
    let args = match args.first() {
        Some(a) if a == "--" => &args[1..],
        _ => args,
    };
    let Some((program, rest)) = args.split_first() else {
        eprintln!("loopbench: error: {GUARD_SUBCOMMAND} needs a program to run");
        return 2;
    };
    let err = std::process::Command::new(program)
        .args(rest)
        .env_remove(PARENT_ENV)
        .exec();
    eprintln!(
        "loopbench: error: cannot run {}: {err}",
        program.to_string_lossy()
    );
    EXIT_CANNOT_EXEC
}
