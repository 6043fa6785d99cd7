//! The registry of live child groups and private directories: the watchdog that enforces
//! time limits, and the signal handler that cleans everything up when this process is
//! interrupted.
//!
//! Protocol: a [`crate::Running`] registers its group when it starts and deregisters it
//! just before it reaps the leader, under the registry's lock; the watchdog and the signal
//! handler signal only registered groups, under the same lock, so they never signal a
//! reaped (and so reusable) process group id.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};

/// How long interrupted children get between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_millis(1000);

/// One live child group.
struct Group {
    /// Its process group id (the leader's pid).
    pgid: Pid,
    /// When the watchdog kills it; `None`: no limit (or already killed).
    deadline: Option<Instant>,
    /// Set when the watchdog killed it at its deadline.
    timed_out: Arc<AtomicBool>,
}

/// Everything that must be cleaned up on an interrupt.
#[derive(Default)]
struct Registry {
    /// Live groups by key.
    groups: BTreeMap<u64, Group>,
    /// Private directories by key.
    dirs: BTreeMap<u64, PathBuf>,
    /// Whether the watchdog thread runs.
    watchdog: bool,
}

/// Next key for a group or directory.
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);
/// Whether an interrupt signal arrived.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn registry() -> &'static (Mutex<Registry>, Condvar) {
    static R: OnceLock<(Mutex<Registry>, Condvar)> = OnceLock::new();
    R.get_or_init(|| (Mutex::new(Registry::default()), Condvar::new()))
}

fn lock() -> MutexGuard<'static, Registry> {
    registry().0.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers a started group; starts the watchdog when it has a deadline.
pub(crate) fn register(pgid: Pid, deadline: Option<Instant>, timed_out: &Arc<AtomicBool>) -> u64 {
    if let Err(e) = install_signal_handlers() {
        eprintln!("loopbench: warning: cannot handle SIGINT/SIGTERM ({e}); an interrupt may leave child processes behind");
    }
    let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    let mut reg = lock();
    reg.groups.insert(
        key,
        Group {
            pgid,
            deadline,
            timed_out: Arc::clone(timed_out),
        },
    );
    if deadline.is_some() && !reg.watchdog {
        reg.watchdog = true;
        // If the thread cannot start, limits are still enforced by callers that poll; a
        // missing watchdog must not stop the child.
        let _ = std::thread::Builder::new()
            .name("launch-watchdog".into())
            .spawn(watchdog);
    }
    drop(reg);
    registry().1.notify_all();
    key
}

/// Removes a group whose leader is about to be reaped.
pub(crate) fn deregister(key: u64) {
    lock().groups.remove(&key);
}

/// Kills every group past its deadline; sleeps until the next deadline.
fn watchdog() {
    let (_, cv) = registry();
    let mut reg = lock();
    loop {
        let now = Instant::now();
        for g in reg.groups.values_mut() {
            if g.deadline.is_some_and(|d| d <= now) {
                g.deadline = None;
                g.timed_out.store(true, Ordering::SeqCst);
                let _ = rustix::process::kill_process_group(g.pgid, Signal::KILL);
            }
        }
        let next = reg.groups.values().filter_map(|g| g.deadline).min();
        reg = match next {
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                cv.wait_timeout(reg, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => cv.wait(reg).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

/// Whether this process was interrupted (SIGINT, SIGTERM or SIGHUP) and is cleaning up.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Hooks run after an interrupt has killed every child, just before the process exits.
type Hook = Box<dyn Fn() + Send + Sync>;

fn hooks() -> &'static Mutex<Vec<Hook>> {
    static H: OnceLock<Mutex<Vec<Hook>>> = OnceLock::new();
    H.get_or_init(|| Mutex::new(Vec::new()))
}

/// Runs `hook` when an interrupt has cleaned up, before the process exits (say where the
/// partial results are, for example). Hooks must not block.
pub fn on_interrupt(hook: impl Fn() + Send + Sync + 'static) {
    hooks()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Box::new(hook));
}

/// Handles SIGINT, SIGTERM and SIGHUP for the rest of the process's life: every live child
/// group gets SIGTERM, then SIGKILL after a grace period; private directories are removed;
/// the [`on_interrupt`] hooks run; the process exits with 128 + the signal number.
///
/// Installed by the first [`crate::Launch::spawn`] of the process (a process with no children
/// keeps the default dispositions); calling it again does nothing. Returns an error when the
/// handler cannot be installed.
pub fn install_signal_handlers() -> std::io::Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| start_signal_thread().map_err(|e| e.to_string()))
        .clone()
        .map_err(std::io::Error::other)
}

fn start_signal_thread() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("launch-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                clean_up_and_exit(sig);
            }
        })?;
    Ok(())
}

fn clean_up_and_exit(sig: i32) -> ! {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let mut reg = lock();
    for g in reg.groups.values() {
        let _ = rustix::process::kill_process_group(g.pgid, Signal::TERM);
    }
    let start = Instant::now();
    while start.elapsed() < GRACE && reg.groups.values().any(|g| leader_alive(g.pgid)) {
        drop(reg);
        std::thread::sleep(Duration::from_millis(10));
        reg = lock();
    }
    for g in reg.groups.values() {
        let _ = rustix::process::kill_process_group(g.pgid, Signal::KILL);
    }
    for dir in reg.dirs.values() {
        let _ = std::fs::remove_dir_all(dir);
    }
    // Keep the lock: nothing may start a child any more.
    for hook in hooks().lock().unwrap_or_else(|e| e.into_inner()).iter() {
        hook();
    }
    std::process::exit(128 + sig);
}

/// Whether a group's leader has not exited yet (it is not reaped here: its owner does that,
/// or the process's exit).
fn leader_alive(pgid: Pid) -> bool {
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    matches!(rustix::process::waitid(WaitId::Pid(pgid), opts), Ok(None))
}

/// A private temporary directory (`mkdtemp`, mode 0700) for a child's result files: removed
/// when dropped, and by the interrupt handler.
#[derive(Debug)]
pub struct PrivateDir {
    dir: tempfile::TempDir,
    key: u64,
}

impl PrivateDir {
    /// Creates one under the system's temporary directory, named `loopbench-PURPOSE-…`.
    pub fn new(purpose: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix(&format!("loopbench-{purpose}-"))
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create a private directory under {}: {e}",
                        std::env::temp_dir().display()
                    ),
                )
            })?;
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        lock().dirs.insert(key, dir.path().to_owned());
        Ok(Self { dir, key })
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A path inside it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        lock().dirs.remove(&self.key);
    }
}
