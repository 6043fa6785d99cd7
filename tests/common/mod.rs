//! Helpers the end-to-end tests share: running the `loopbench` binary with every process
//! of the run marked (an environment variable its children inherit), finding processes
//! that survived it, checking output files are whole, and starting servers.
//!
//! A run is marked with `LOOPBENCH_TEST_MARK=<unique>`; every descendant inherits it (the
//! launcher passes the environment through, and so does the guard and `sh -c`), so after
//! the run `/proc/*/environ` tells exactly which processes of *that* run are left, whatever
//! process group they moved to or parent they were re-parented to.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The variable that marks every process of a test run.
pub const MARK_ENV: &str = "LOOPBENCH_TEST_MARK";

/// The binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_loopbench")
}

/// A command for the binary.
pub fn loopbench() -> Command {
    Command::new(exe())
}

/// A fresh mark, unique in this machine for this test process.
pub fn new_mark() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a marked run did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Its mark.
    pub mark: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Outcome {
    /// The lines of stderr that are not blank.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Asserts the exit code, that stderr is exactly one line containing every one of
    /// `needles`, and that no process of the run survives it.
    pub fn expect(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.code, Some(code), "exit code; {self:#?}");
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "stderr is not one line: {self:#?}");
        for n in needles {
            assert!(
                lines[0].contains(n),
                "stderr lacks {n:?}: {:?}\nstdout: {}",
                lines[0],
                self.stdout
            );
        }
        assert_no_survivors(&self.mark);
    }
}

/// Runs `loopbench ARGS` marked, to completion (killed after `limit`), and returns what it
/// did.
pub fn run_marked(args: &[&str], limit: Duration) -> Outcome {
    let mark = new_mark();
    let start = Instant::now();
    let mut child = loopbench()
        .args(args)
        .env(MARK_ENV, &mark)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loopbench");
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            kill_marked(&mark);
            panic!("loopbench {args:?} ran past {limit:?}: hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        mark,
        elapsed: start.elapsed(),
    }
}

fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let _ = std::io::Read::read_to_string(&mut p, &mut s);
        }
        s
    })
}

/// Live processes (not zombies) whose environment holds `MARK_ENV=mark`, with their
/// command lines.
pub fn marked(mark: &str) -> Vec<(u32, String)> {
    let needle = format!("{MARK_ENV}={mark}\0");
    processes()
        .into_iter()
        .filter(|(pid, _, _)| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| {
                    let env = String::from_utf8_lossy(&env).into_owned() + "\0";
                    env.contains(&needle)
                })
                .unwrap_or(false)
        })
        .map(|(pid, _, cmd)| (pid, cmd))
        .collect()
}

/// Asserts that within 2 s no process of the run marked `mark` is left.
pub fn assert_no_survivors(mark: &str) {
    let start = Instant::now();
    loop {
        let left = marked(mark);
        if left.is_empty() {
            return;
        }
        if start.elapsed() > Duration::from_secs(2) {
            kill_marked(mark);
            panic!("processes of the run survived it by 2 s: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_marked(mark: &str) {
    for (pid, _) in marked(mark) {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// `(pid, ppid, command line)` of every live process.
pub fn processes() -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised name: state, ppid, ...
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        if rest.first() == Some(&"Z") {
            continue;
        }
        let Some(ppid) = rest.get(1).and_then(|p| p.parse().ok()) else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        out.push((pid, ppid, cmd));
    }
    out
}

/// Every live descendant of `root`.
pub fn descendants(root: u32) -> Vec<(u32, String)> {
    let all = processes();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid, cmd) in &all {
            if *ppid == p {
                found.push((*pid, cmd.clone()));
                frontier.push(*pid);
            }
        }
    }
    found
}

/// Waits up to `limit` until `root` has descendants whose command lines contain each of
/// `needles`; returns them.
pub fn wait_for_descendants(root: u32, needles: &[&str], limit: Duration) -> Vec<(u32, String)> {
    let start = Instant::now();
    loop {
        let d = descendants(root);
        if needles
            .iter()
            .all(|n| d.iter().any(|(_, cmd)| cmd.contains(n)))
        {
            return d;
        }
        assert!(
            start.elapsed() < limit,
            "descendants of {root} never included {needles:?}: {d:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is alive (and not a zombie).
pub fn alive(pid: u32) -> bool {
    processes().iter().any(|(p, _, _)| *p == pid)
}

/// Asserts that `path` either does not exist or is a whole results file, and that no
/// temporary file of an atomic write is left beside it.
pub fn assert_whole_or_absent(path: &Path) {
    if path.exists() {
        harness::results::ResultsFile::load(path)
            .unwrap_or_else(|e| panic!("{} is half-written: {e}", path.display()));
    }
    if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
        }
    }
}

/// A `loopbench serve` child (a runtime, a baseline or `--fault KIND`), killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `loopbench serve ARGS --addr 127.0.0.1:0` and reads the port it got.
    pub fn start(args: &[&str]) -> Server {
        let mut child = loopbench()
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve {args:?}: unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    /// A fault server of `kind`.
    pub fn fault(kind: &str) -> Server {
        Self::start(&["--fault", kind])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command line of a fault server for `--server-cmd`.
pub fn fault_cmd(kind: &str) -> String {
    format!("{} serve --fault {kind} --addr 127.0.0.1:{{port}}", exe())
}
