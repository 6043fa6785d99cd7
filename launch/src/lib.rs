//! The one way loopbench starts a child process.
//!
//! Every child — a conformance cell, an echo server, the load generator, a micro execution
//! under valgrind, a stage of the default run, an outside server command — is started by a
//! [`Launch`], and so:
//! - runs in **its own process group**, as its leader: the child and anything it starts
//!   without this module (a shell's children, say) are signalled together, and a terminal's
//!   Ctrl-C reaches only loopbench itself, which then cleans up;
//! - gets a **parent-death signal** (`PR_SET_PDEATHSIG` = `SIGKILL`): if this process dies,
//!   however it dies (`kill -9` included), the kernel kills the child. A loopbench child sets
//!   it itself, first thing in `main` ([`child_init`]); an outside program is started through
//!   the guard, `loopbench __exec -- PROGRAM ARGS` ([`exec_guarded`]), which sets it and then
//!   `exec`s the program: the signal survives the `exec`;
//! - has a **time limit**, enforced by a watchdog thread whatever the caller is blocked on
//!   (a pipe read, a wait): past it the group is killed and the wait reports
//!   [`Ended::TimedOut`];
//! - is **killed with its group and reaped** when its [`Running`] is dropped (error paths
//!   included), and when this process gets SIGINT, SIGTERM or SIGHUP
//!   ([`install_signal_handlers`]: the groups get SIGTERM, then SIGKILL after a grace
//!   period; private directories are removed; the process exits with 128 + the signal).
//!
//! Result files travel through a [`PrivateDir`] (a fresh `mkdtemp` directory, mode 0700,
//! removed on drop and on interrupt), never a predictable `/tmp` name.
//!
//! Invariant: a group is signalled only while its leader is unreaped (a zombie at worst), so
//! its id cannot have been reused: a wait first observes the exit with `WNOWAIT`, then kills
//! the group's stragglers, then deregisters it, then reaps.
//!
//! Invariant: Linux sends the parent-death signal when the *thread* that started the child
//! ends, so children are started from threads that outlive them (in loopbench, the main
//! thread).

#![forbid(unsafe_code)]

mod guard;
mod registry;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};

pub use guard::{child_init, exec_guarded, set_guard, GUARD_SUBCOMMAND};
pub use registry::{install_signal_handlers, interrupted, on_interrupt, PrivateDir};

/// Environment variable carrying the launching process's id to a child, which then asks
/// for the parent-death signal and checks it was not orphaned before it could.
pub const PARENT_ENV: &str = "LOOPBENCH_PARENT_PID";

/// Exit status of a child that found its parent already gone at start.
pub const EXIT_ORPHANED: i32 = 125;
/// Exit status of the guard when the program cannot be executed (as a shell's 127).
pub const EXIT_CANNOT_EXEC: i32 = 127;

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited (normally or by a signal) on its own, or was killed by its owner.
    Exited(ExitStatus),
    /// It ran past its time limit and was killed with its group.
    TimedOut(Duration),
}

impl Ended {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        matches!(self, Ended::Exited(st) if st.success())
    }

    /// Its exit code, when it exited normally.
    pub fn code(&self) -> Option<i32> {
        match self {
            Ended::Exited(st) => st.code(),
            Ended::TimedOut(_) => None,
        }
    }

    /// The signal that ended it, when one did (not for a time-out).
    pub fn signal(&self) -> Option<i32> {
        match self {
            Ended::Exited(st) => st.signal(),
            Ended::TimedOut(_) => None,
        }
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::TimedOut(limit) => write!(
                f,
                "ran past its time limit of {} and was killed",
                format_limit(*limit)
            ),
            Ended::Exited(st) => match (st.code(), st.signal()) {
                (Some(code), _) => write!(f, "exited with status {code}"),
                (None, Some(sig)) => write!(f, "was killed by {} ({sig})", signal_name(sig)),
                (None, None) => write!(f, "ended ({st})"),
            },
        }
    }
}

fn format_limit(limit: Duration) -> String {
    if limit.as_secs_f64() >= 1.0 {
        format!("{:.0} s", limit.as_secs_f64())
    } else {
        format!("{} ms", limit.as_millis())
    }
}

/// A signal's usual name (`SIGSEGV`), or `signal` for an uncommon one.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// What a child printed and how it ended ([`Launch::output`]).
#[derive(Debug)]
pub struct Output {
    /// How it ended.
    pub ended: Ended,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A child process to start; see the module docs for what every child gets.
#[derive(Debug)]
pub struct Launch {
    /// The program and its arguments, as given.
    program: OsString,
    args: Vec<OsString>,
    /// Whether the program is a loopbench binary (it calls [`child_init`] itself) or an
    /// outside program (started through the guard, when one is known).
    loopbench: bool,
    /// The guard executable for an outside program; `None`: the one [`set_guard`] named.
    guard: Option<PathBuf>,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    limit: Option<Duration>,
    cpu: Option<usize>,
}

impl Launch {
    /// A loopbench binary (`exe`), which asks for the parent-death signal itself.
    pub fn loopbench(exe: impl AsRef<OsStr>) -> Self {
        Self::new(exe.as_ref(), true)
    }

    /// An outside program (looked up in `PATH` as `Command` does), started through the
    /// guard so it gets the parent-death signal. Without a known guard (no [`set_guard`] in
    /// this process, e.g. a library test) it still gets its own group, the time limit and
    /// cleanup on drop and on signals, but not the parent-death signal.
    pub fn program(program: impl AsRef<OsStr>) -> Self {
        Self::new(program.as_ref(), false)
    }

    /// A shell command line, `sh -c 'exec LINE'` (the shell replaces itself with the command,
    /// so the recorded pid is the command's).
    pub fn shell(line: &str) -> Self {
        Self::program("sh").arg("-c").arg(format!("exec {line}"))
    }

    fn new(program: &OsStr, loopbench: bool) -> Self {
        Self {
            program: program.to_owned(),
            args: Vec::new(),
            loopbench,
            guard: None,
            env: Vec::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            limit: None,
            cpu: None,
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// The child's working directory.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's stdin (default: null).
    pub fn stdin(mut self, cfg: Stdio) -> Self {
        self.stdin = Some(cfg);
        self
    }

    /// The child's stdout (default: inherited).
    pub fn stdout(mut self, cfg: Stdio) -> Self {
        self.stdout = Some(cfg);
        self
    }

    /// The child's stderr (default: inherited).
    pub fn stderr(mut self, cfg: Stdio) -> Self {
        self.stderr = Some(cfg);
        self
    }

    /// Kills the child (with its group) once it has run this long.
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Pins the child to one CPU (`None`: no pinning). The affinity is set on the calling
    /// thread around the start and inherited, so the child never runs elsewhere.
    pub fn pin_cpu(mut self, cpu: Option<usize>) -> Self {
        self.cpu = cpu;
        self
    }

    /// Uses `exe` (a loopbench binary) as the guard for an outside program.
    pub fn guard(mut self, exe: impl AsRef<Path>) -> Self {
        self.guard = Some(exe.as_ref().to_owned());
        self
    }

    /// A short description for error messages: the program and its first arguments.
    pub fn describe(&self) -> String {
        let mut words = vec![self.program.to_string_lossy().into_owned()];
        words.extend(
            self.args
                .iter()
                .take(3)
                .map(|a| a.to_string_lossy().into_owned()),
        );
        if self.args.len() > 3 {
            words.push("…".into());
        }
        words.join(" ")
    }

    fn command(self) -> (Command, Option<Duration>, Option<usize>) {
        let guard = if self.loopbench {
            None
        } else {
            self.guard.clone().or_else(guard::guard_exe)
        };
        let mut cmd = match &guard {
            Some(exe) => {
                let mut c = Command::new(exe);
                c.arg(GUARD_SUBCOMMAND).arg("--").arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args);
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if self.loopbench || guard.is_some() {
            cmd.env(PARENT_ENV, std::process::id().to_string());
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.stdin(self.stdin.unwrap_or_else(Stdio::null));
        if let Some(s) = self.stdout {
            cmd.stdout(s);
        }
        if let Some(s) = self.stderr {
            cmd.stderr(s);
        }
        cmd.process_group(0);
        (cmd, self.limit, self.cpu)
    }

    /// Starts the child. Call from a thread that outlives it (see the module docs).
    pub fn spawn(self) -> io::Result<Running> {
        let what = self.describe();
        let (mut cmd, limit, cpu) = self.command();
        let child = with_affinity(cpu, || cmd.spawn())
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start `{what}`: {e}")))?;
        let pgid = Pid::from_child(&child);
        let timed_out = Arc::new(AtomicBool::new(false));
        let key = registry::register(pgid, limit.map(|l| Instant::now() + l), &timed_out);
        Ok(Running {
            child,
            pgid,
            key,
            limit,
            timed_out,
            ended: None,
        })
    }

    /// Starts the child with stdout and stderr captured, waits for it (within its time
    /// limit) and returns what it printed.
    pub fn output(self) -> io::Result<Output> {
        let mut running = self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let out = drain(running.stdout());
        let err = drain(running.stderr());
        let ended = running.wait()?;
        Ok(Output {
            ended,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    }

    /// Starts the child with the parent's stdout and stderr and waits for it (within its
    /// time limit).
    pub fn status(self) -> io::Result<Ended> {
        self.spawn()?.wait()
    }
}

/// Reads a pipe to its end on a thread of its own.
fn drain(pipe: Option<impl io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs `f` with the calling thread pinned to `cpu`, then restores its affinity.
fn with_affinity<T>(cpu: Option<usize>, f: impl FnOnce() -> T) -> T {
    let Some(cpu) = cpu else { return f() };
    let old = rustix::thread::sched_getaffinity(None).ok();
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    let _ = rustix::thread::sched_setaffinity(None, &set);
    let out = f();
    if let Some(old) = old {
        let _ = rustix::thread::sched_setaffinity(None, &old);
    }
    out
}

/// A started child. Dropping it kills its group and reaps it.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// The child's process group (its own pid).
    pgid: Pid,
    /// Its entry in the registry of live groups.
    key: u64,
    limit: Option<Duration>,
    /// Set by the watchdog when it killed the group at the time limit.
    timed_out: Arc<AtomicBool>,
    /// How it ended, once reaped.
    ended: Option<Ended>,
}

impl Running {
    /// The child's process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Takes the child's stdin pipe, if it was piped.
    pub fn stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Takes the child's stdout pipe, if it was piped.
    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Takes the child's stderr pipe, if it was piped.
    pub fn stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// How it ended, if it has; never blocks.
    pub fn try_wait(&mut self) -> io::Result<Option<Ended>> {
        if let Some(e) = self.ended {
            return Ok(Some(e));
        }
        let opts = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
        match waitid_retry(self.pgid, opts)? {
            Some(()) => self.reap().map(Some),
            None => Ok(None),
        }
    }

    /// Waits until it ends (at the latest at its time limit).
    pub fn wait(&mut self) -> io::Result<Ended> {
        if let Some(e) = self.ended {
            return Ok(e);
        }
        waitid_retry(self.pgid, WaitIdOptions::EXITED | WaitIdOptions::NOWAIT)?;
        self.reap()
    }

    /// Waits at most `patience` for it to end; `None` if it is still running.
    pub fn wait_for(&mut self, patience: Duration) -> io::Result<Option<Ended>> {
        let deadline = Instant::now() + patience;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(e) = self.try_wait()? {
                return Ok(Some(e));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Kills it and its group now and reaps it.
    pub fn kill(&mut self) -> io::Result<Ended> {
        if let Some(e) = self.ended {
            return Ok(e);
        }
        let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
        self.wait()
    }

    /// Whether the watchdog killed it at its time limit.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    /// The leader has exited and is not reaped yet: kill what is left of its group,
    /// deregister it, reap it.
    fn reap(&mut self) -> io::Result<Ended> {
        let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
        registry::deregister(self.key);
        let status = self.child.wait()?;
        let ended = match (self.timed_out(), self.limit) {
            (true, Some(limit)) => Ended::TimedOut(limit),
            _ => Ended::Exited(status),
        };
        self.ended = Some(ended);
        Ok(ended)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.ended.is_none() {
            let _ = self.kill();
        }
    }
}

/// `waitid(P_PID, pid, opts)`, retried on `EINTR`; `Some(())` once the child has exited.
fn waitid_retry(pid: Pid, opts: WaitIdOptions) -> io::Result<Option<()>> {
    loop {
        match rustix::process::waitid(WaitId::Pid(pid), opts) {
            Ok(Some(_)) => return Ok(Some(())),
            Ok(None) => return Ok(None),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
