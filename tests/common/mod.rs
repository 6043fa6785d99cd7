//! Process helpers shared by the end-to-end tests: the live process table, the descendants
//! of a process, and runs of `loopbench` tagged so that every process of the run — direct
//! children, their children, anything re-parented to PID 1 — can be found afterwards.
//!
//! A tagged run carries `LOOPBENCH_TEST_RUN=<tag>` in its environment; the launcher passes
//! the environment on, so every process of the run has it in `/proc/PID/environ` (which
//! does not change when a process is re-parented or moves to another process group).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The variable that tags every process of a run.
pub const TAG_ENV: &str = "LOOPBENCH_TEST_RUN";

/// The `loopbench` binary under test.
pub fn loopbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loopbench"))
}

/// `(pid, ppid, command line)` of every live (not zombie) process.
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

/// Sends signal `sig` to `pid` (with kill(1): the tests use no `unsafe`).
pub fn signal(pid: u32, sig: i32) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid}");
}

/// Sends `sig` to `parent`, reaps it, and asserts every process in `children` is gone
/// within 2 s.
pub fn kill_and_expect_no_survivor(mut parent: Child, sig: i32, children: &[(u32, String)]) {
    signal(parent.id(), sig);
    let _ = parent.wait();
    let start = Instant::now();
    loop {
        let left: Vec<_> = children.iter().filter(|(p, _)| alive(*p)).collect();
        if left.is_empty() {
            return;
        }
        if start.elapsed() > Duration::from_secs(2) {
            for (p, _) in &left {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!("survived the parent by 2 s: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh tag for one run (unique in this test process and across test processes).
pub fn new_tag(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `loopbench` with `args`, tagged with `tag`, output captured.
pub fn tagged(tag: &str, args: &[&str]) -> Command {
    let mut cmd = loopbench();
    cmd.args(args)
        .env(TAG_ENV, tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Live processes whose environment carries `tag`.
pub fn tagged_processes(tag: &str) -> Vec<(u32, String)> {
    let needle = format!("{TAG_ENV}={tag}");
    processes()
        .into_iter()
        .filter(|(pid, _, _)| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
        })
        .map(|(pid, _, cmd)| (pid, cmd))
        .collect()
}

/// Asserts that within 2 s no process of the run tagged `tag` is left (killing any that
/// is, so one failure does not leak into other tests).
pub fn assert_no_survivor(tag: &str) {
    let start = Instant::now();
    loop {
        let left = tagged_processes(tag);
        if left.is_empty() {
            return;
        }
        if start.elapsed() > Duration::from_secs(2) {
            for (p, _) in &left {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!("processes of run {tag} survived it by 2 s: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one tagged run did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `loopbench args` tagged, in `cwd`, with a time limit (a hang fails the test
/// instead of hanging it), then asserts no process of the run survives.
pub fn run(args: &[&str], cwd: &Path, limit: Duration) -> Run {
    let tag = new_tag("run");
    let child = tagged(&tag, args)
        .current_dir(cwd)
        .spawn()
        .expect("loopbench starts");
    let out = wait_with_limit(child, limit, &format!("loopbench {}", args.join(" ")));
    assert_no_survivor(&tag);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits for `child` (output piped) at most `limit`; past it kills it and fails.
pub fn wait_with_limit(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`{what}` hung: still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts stderr is exactly one line, starting `loopbench: error: ` when `error`, and
/// containing every one of `needles`.
pub fn assert_one_line(stderr: &str, error: bool, needles: &[&str]) {
    assert_eq!(
        stderr.lines().count(),
        1,
        "not one line on stderr: {stderr:?}"
    );
    if error {
        assert!(stderr.starts_with("loopbench: error: "), "{stderr:?}");
    }
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in {stderr:?}");
    }
}

/// Asserts `dir` (recursively) holds no half-written file: no temporary file of an atomic
/// write, and every `.json` is a whole results file.
pub fn assert_no_partial_file(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            assert_no_partial_file(&path);
            continue;
        }
        assert!(
            !name.ends_with(".tmp") && !name.starts_with(".loopbench-probe"),
            "left behind: {}",
            path.display()
        );
        if name.ends_with(".json") {
            if let Err(e) = harness::results::ResultsFile::load(&path) {
                panic!("half-written results file {}: {e}", path.display());
            }
        }
    }
}

/// The binary under test, as a path (for command lines handed to `--server-cmd`).
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_loopbench")
}

/// What a tagged run did, with its tag and wall time.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Its tag.
    pub tag: String,
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
        assert_no_survivor(&self.tag);
    }
}

/// Runs `loopbench ARGS` tagged, to completion (killed after `limit`, which fails the
/// test), and returns what it did; survivors are checked by [`Outcome::expect`].
pub fn run_marked(args: &[&str], limit: Duration) -> Outcome {
    let tag = new_tag("marked");
    let start = Instant::now();
    let child = tagged(&tag, args).spawn().expect("start loopbench");
    let out = wait_with_limit(child, limit, &format!("loopbench {}", args.join(" ")));
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        tag,
        elapsed: start.elapsed(),
    }
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

/// The load generator's I/O paths (`--io`) the load tests run on: both where io_uring can
/// be set up here, else epoll alone (saying why on stderr).
pub fn client_ios() -> Vec<&'static str> {
    match loadgen::choose_io(Some(loadgen::ClientIo::Uring)) {
        Ok(_) => vec!["epoll", "uring"],
        Err(e) => {
            eprintln!("the io_uring path is not tested here: {e}");
            vec!["epoll"]
        }
    }
}
