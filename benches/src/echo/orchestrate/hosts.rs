//! A point over several hosts (`bench echo --hosts`), through the OpenSSH client only, no
//! daemon of our own (as Tsung, locust-swarm and Gatling's scale-out do): each load agent
//! runs `loopbench load` on one shard of the point (`--shard I/N`), all with the same measured
//! window (`--start-at`, corrected by each host's clock offset); the server runs here or on
//! `--server-host` (`loopbench serve` over SSH). Each agent's result file is fetched over
//! SSH and the shards are merged by [`loadgen::merge`], the one place that merges.
//!
//! Remote commands are POSIX `sh` scripts. Each keeps the SSH session's stdin open and
//! kills its `loopbench` when stdin closes, so a remote process ends with its SSH client,
//! however that ends (its time limit included). Plans and results travel in a `mktemp -d`
//! directory on the agent, removed when the result is fetched.
//!
//! Invariant: a host that fails (SSH refused, no result, a time-out) makes the point
//! `partial` (its shard is missing, the others are merged) or `failed` (no shard), with the
//! host and the reason; per-host figures stay in the run's `hosts`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::proc;
use harness::results::{EchoRun, HostRun, ResultsFile, RunStatus};
use launch::{Launch, PrivateDir, Running};
use loadgen::merge::{self, ShardRun};
use loadgen::plan::unix_now;
use loadgen::{LoadPlan, Shard};

use super::point::{failed, load_plan};
use super::server::{self, keep_tail, ServerSpec};
use super::{Bench, Point};
use crate::echo::LISTENING_PREFIX;

/// Prefix of the lines the remote scripts print themselves.
const REMOTE_PREFIX: &str = "loopbench-remote: ";
/// Exchanges of the clock-offset measurement (the one with the smallest round trip counts).
const CLOCK_ROUNDS: usize = 5;
/// Time allowed for one short SSH command (clock, fetch).
const SSH_SHORT: Duration = Duration::from_secs(30);
/// Time allowed for SSH sessions to start before the agreed window (on top of the warm-up
/// and the connecting).
const START_MARGIN: Duration = Duration::from_secs(2);
/// Extra time a remote load gets beyond its plan before it is killed as hung.
const LOAD_SLACK: Duration = Duration::from_secs(30);

/// Where a benchmark runs when it spans several hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts {
    /// Load agents, SSH destinations (`user@host`): one shard each.
    pub agents: Vec<String>,
    /// The server's host (SSH destination); `None`: here.
    pub server: Option<String>,
    /// The `loopbench` executable on the remote hosts.
    pub remote_exe: String,
    /// An OpenSSH client configuration file (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
}

impl Hosts {
    /// Parses a comma-separated list of SSH destinations; the error names the bad one.
    pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
        let list: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
        for h in &list {
            check_destination(h)?;
        }
        Ok(list)
    }

    /// `ssh` running `script` on `host` (no terminal, never a password prompt).
    fn ssh(&self, settings_exe: &std::path::Path, host: &str, script: &str) -> Launch {
        let mut l = Launch::program("ssh").guard(settings_exe).args([
            "-T",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
        ]);
        if let Some(c) = &self.ssh_config {
            l = l.arg("-F").arg(c);
        }
        l.arg("--").arg(host).arg(script)
    }
}

/// An SSH destination we accept: `[user@]host`, no spaces, not an option.
pub fn check_destination(h: &str) -> Result<(), String> {
    if h.is_empty() || h.starts_with('-') || h.contains(char::is_whitespace) || h.contains('\'') {
        return Err(format!(
            "invalid host '{h}': expected an SSH destination, user@host or host"
        ));
    }
    Ok(())
}

/// The host part of an SSH destination (`user@[::1]` gives `::1`).
pub fn host_part(dest: &str) -> &str {
    let h = dest.rsplit_once('@').map_or(dest, |(_, h)| h);
    h.trim_start_matches('[').trim_end_matches(']')
}

/// `text` as one word for `sh`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The script line that runs `command` (already quoted) in the background and kills it
/// when the session's stdin closes, then waits for it (its status is the script's).
fn tied_to_stdin(command: &str) -> String {
    format!(
        "exec 3<&0\n{command} </dev/null &\np=$!\n{{ cat <&3; kill $p; }} >/dev/null 2>&1 &\n\
         wait $p\n"
    )
}

/// A remote host's clock minus ours and the round trip it was measured over, ms.
fn clock_offset(hosts: &Hosts, exe: &std::path::Path, host: &str) -> Result<(f64, f64), String> {
    let mut child = hosts
        .ssh(exe, host, "while read -r _; do date +%s.%N; done")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .time_limit(SSH_SHORT)
        .spawn()
        .map_err(|e| e.to_string())?;
    let tail = Arc::new(Mutex::new(Vec::new()));
    keep_tail(child.stderr(), Arc::clone(&tail));
    let (Some(mut stdin), Some(stdout)) = (child.stdin(), child.stdout()) else {
        return Err("ssh has no pipes".into());
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut best: Option<(f64, f64)> = None;
    let mut problem = None;
    for _ in 0..CLOCK_ROUNDS {
        let t0 = unix_now();
        if writeln!(stdin, "t").and_then(|()| stdin.flush()).is_err() {
            break;
        }
        let Some(Ok(line)) = lines.next() else { break };
        let t1 = unix_now();
        match line.trim().parse::<f64>() {
            Ok(remote) => {
                let (offset, rtt) = ((remote - (t0 + t1) / 2.0) * 1e3, (t1 - t0) * 1e3);
                if best.is_none_or(|(_, r)| rtt < r) {
                    best = Some((offset, rtt));
                }
            }
            Err(_) => {
                problem = Some(format!("`date +%s.%N` printed '{}'", line.trim()));
                break;
            }
        }
    }
    drop(stdin);
    let ended = child.wait_for(Duration::from_secs(5)).ok().flatten();
    match (best, problem) {
        (Some(b), None) => Ok(b),
        (_, Some(p)) => Err(format!("cannot read the clock of {host}: {p}")),
        (None, None) => {
            std::thread::sleep(Duration::from_millis(20));
            let tail = tail.lock().map(|t| t.join(" | ")).unwrap_or_default();
            Err(format!(
                "cannot reach {host} over ssh ({}){}",
                ended.map_or("no answer".to_string(), |e| format!("ssh {e}")),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            ))
        }
    }
}

/// `loopbench serve` on a remote host, tied to its SSH session.
struct RemoteServer {
    child: Running,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl RemoteServer {
    /// Closes the session's stdin (the remote script then kills the server) and ends ssh.
    fn stop(mut self) -> Option<launch::Ended> {
        drop(self.stdin.take());
        let ended = self.child.wait_for(Duration::from_secs(5)).ok().flatten();
        ended.or_else(|| self.child.kill().ok())
    }
}

fn start_remote_server(
    bench: &Bench,
    hosts: &Hosts,
    host: &str,
    spec: &ServerSpec,
) -> Result<RemoteServer, String> {
    let settings = &bench.settings;
    let ServerSpec::Builtin(id) = spec else {
        return Err(format!(
            "--server-host runs built-in servers only ({} is an outside command)",
            spec.name()
        ));
    };
    let ip = host_part(host);
    let listen = if ip.contains(':') {
        format!("[{ip}]:0")
    } else {
        format!("{ip}:0")
    };
    let cmd = format!(
        "{} serve --runtime {} --addr {} --buffer {}",
        quote(&hosts.remote_exe),
        quote(id),
        quote(&listen),
        settings.buffer
    );
    let mut child = hosts
        .ssh(&settings.exe, host, &tied_to_stdin(&cmd))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let tail = Arc::new(Mutex::new(Vec::new()));
    keep_tail(child.stderr(), Arc::clone(&tail));
    let stdin = child.stdin();
    let stdout = child.stdout();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Some(out) = stdout else { return };
        let mut lines = BufReader::new(out).lines();
        let _ = tx.send(lines.next().and_then(Result::ok));
        for _ in lines {}
    });
    let limit = settings.start_timeout + SSH_SHORT;
    let line = rx.recv_timeout(limit).ok().flatten();
    let addr = line
        .as_deref()
        .and_then(|l| l.strip_prefix(LISTENING_PREFIX))
        .and_then(|a| a.trim().parse().ok());
    let server = RemoteServer {
        child,
        stdin,
        addr: "127.0.0.1:0".parse().expect("static address"),
    };
    match addr {
        Some(addr) => Ok(RemoteServer { addr, ..server }),
        None => {
            let ended = server.stop();
            std::thread::sleep(Duration::from_millis(20));
            let tail = tail.lock().map(|t| t.join(" | ")).unwrap_or_default();
            Err(format!(
                "server {id} on {host} did not start ({}){}",
                ended.map_or("no answer".into(), |e| format!("ssh {e}")),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            ))
        }
    }
}

/// One agent's SSH session running its shard.
struct Agent {
    host: String,
    shard: Shard,
    offset: Option<(f64, f64)>,
    /// Why it has no run, once known.
    error: Option<String>,
    child: Option<Running>,
    stdin: Option<ChildStdin>,
    /// The remote directory and the lines it printed, once its stdout ends.
    reader: Option<std::thread::JoinHandle<Option<String>>>,
    tail: Arc<Mutex<Vec<String>>>,
}

/// Sleeps until the Unix time `t` (our clock).
fn sleep_until(t: f64) {
    let left = t - unix_now();
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
}

/// Runs `p` on `spec` with load from every agent of `hosts`.
pub(super) fn run(bench: &Bench, hosts: &Hosts, spec: &ServerSpec, p: &Point) -> EchoRun {
    let settings = &bench.settings;
    let n = hosts.agents.len() as u32;
    // Clock offsets first: they shift each agent's --start-at.
    let mut records: Vec<HostRun> = Vec::new();
    let mut agents: Vec<Agent> = Vec::new();
    for (i, host) in hosts.agents.iter().enumerate() {
        let (offset, error) = match clock_offset(hosts, &settings.exe, host) {
            Ok(o) => (Some(o), None),
            Err(e) => (None, Some(e)),
        };
        agents.push(Agent {
            host: host.clone(),
            shard: Shard {
                index: i as u32,
                count: n,
            },
            offset,
            error,
            child: None,
            stdin: None,
            reader: None,
            tail: Arc::new(Mutex::new(Vec::new())),
        });
    }
    let server_offset = hosts
        .server
        .as_deref()
        .map(|h| clock_offset(hosts, &settings.exe, h));
    if let (Some(h), Some(Err(e))) = (&hosts.server, &server_offset) {
        let why = format!("server host {h}: {e}");
        return failed(bench, spec, p, why);
    }

    // The server: remote, or here on --listen.
    let mut local = None;
    let mut remote = None;
    let target = match &hosts.server {
        Some(h) => match start_remote_server(bench, hosts, h, spec) {
            Ok(s) => {
                let a = s.addr;
                remote = Some(s);
                a
            }
            Err(why) => return failed(bench, spec, p, why),
        },
        None => match server::start(settings, spec, None) {
            Ok(s) => {
                let a = s.addr;
                local = Some(s);
                a
            }
            Err(why) => return failed(bench, spec, p, why),
        },
    };
    let whole = LoadPlan {
        threads: settings.threads.unwrap_or(0),
        ..load_plan(target, spec, p, settings)
    };
    let biggest = Shard { index: 0, count: n }.share(p.connections);
    let connecting = Duration::from_secs_f64(1.2 * biggest as f64 / settings.connect_rate);
    let lead = START_MARGIN + connecting + p.warmup;
    let start_at = unix_now() + lead.as_secs_f64();
    let limit = lead + p.duration + whole.connect_timeout + LOAD_SLACK;

    for a in agents.iter_mut().filter(|a| a.error.is_none()) {
        let mut plan = match whole.shard_of(a.shard) {
            Ok(plan) => plan,
            Err(e) => {
                a.error = Some(e.to_string());
                continue;
            }
        };
        // Their clock is ahead by the offset: the same moment reads that much later there.
        plan.start_at = Some(start_at + a.offset.map_or(0.0, |o| o.0) / 1e3);
        let json = match serde_json::to_string(&plan) {
            Ok(j) => j,
            Err(e) => {
                a.error = Some(format!("cannot write the plan: {e}"));
                continue;
            }
        };
        let load = format!(
            "{} load --plan \"$d/plan.json\" --json \"$d/load.json\"",
            quote(&hosts.remote_exe)
        );
        let script = format!(
            "d=$(mktemp -d) || exit 2\nprintf '%s\\n' {} > \"$d/plan.json\" || exit 2\n\
             echo \"{REMOTE_PREFIX}dir $d\"\n{}",
            quote(&json),
            tied_to_stdin(&load)
        );
        let spawned = hosts
            .ssh(&settings.exe, &a.host, &script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .time_limit(limit)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                a.error = Some(e.to_string());
                continue;
            }
        };
        keep_tail(child.stderr(), Arc::clone(&a.tail));
        a.stdin = child.stdin();
        let stdout = child.stdout();
        a.reader = Some(std::thread::spawn(move || {
            let out = stdout?;
            let mut dir = None;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(d) = line
                    .strip_prefix(REMOTE_PREFIX)
                    .and_then(|l| l.strip_prefix("dir "))
                {
                    dir = Some(d.trim().to_string());
                }
            }
            dir
        }));
        a.child = Some(child);
    }

    // A server here is sampled over the agreed window, by our clock.
    let (mut cpu0, mut cpu1, mut rss_end) = (None, None, None);
    let rss_before = local.as_ref().and_then(|s| proc::rss_bytes(s.pid()).ok());
    if let Some(s) = &local {
        sleep_until(start_at);
        cpu0 = proc::process_cpu(s.pid()).ok();
        sleep_until(start_at + p.duration.as_secs_f64());
        cpu1 = proc::process_cpu(s.pid()).ok();
        rss_end = proc::rss_bytes(s.pid()).ok();
    }

    let dir = PrivateDir::new("hosts");
    let mut runs: Vec<(usize, EchoRun)> = Vec::new();
    for (i, a) in agents.iter_mut().enumerate() {
        let Some(mut child) = a.child.take() else {
            continue;
        };
        let ended = child.wait();
        drop(a.stdin.take());
        let remote_dir = a.reader.take().and_then(|r| r.join().ok()).flatten();
        let timed_out = child.timed_out();
        let result = match (&remote_dir, &dir) {
            (Some(d), Ok(local_dir)) => fetch(bench, hosts, &a.host, d, local_dir, i),
            (None, _) => Err("no remote directory".to_string()),
            (_, Err(e)) => Err(e.to_string()),
        };
        match result {
            Ok(run) => runs.push((i, run)),
            Err(why) => {
                std::thread::sleep(Duration::from_millis(20));
                let tail = a.tail.lock().map(|t| t.join(" | ")).unwrap_or_default();
                let how = if timed_out {
                    format!("killed after {}", harness::units::format_duration(limit))
                } else {
                    ended.map_or_else(|e| e.to_string(), |e| format!("ssh {e}"))
                };
                a.error = Some(format!(
                    "no result ({how}; {why}){}",
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(": {tail}")
                    }
                ));
            }
        }
    }
    let server_died = local
        .as_mut()
        .and_then(|s| s.child.try_wait().ok().flatten());
    if let Some(s) = local {
        s.stop();
    }
    if let Some(s) = remote {
        s.stop();
    }

    let missing: Vec<String> = agents
        .iter()
        .filter_map(|a| a.error.as_ref().map(|e| format!("{}: {e}", a.host)))
        .collect();
    let shards: Vec<ShardRun<'_>> = runs
        .iter()
        .map(|(i, r)| ShardRun {
            host: &agents[*i].host,
            run: r,
        })
        .collect();
    let mut merged = if shards.is_empty() {
        failed(bench, spec, p, missing.join("; "))
    } else {
        match merge::merge(spec.name(), &shards, &missing) {
            Ok(m) => m,
            Err(why) => failed(bench, spec, p, why),
        }
    };
    if let Some(st) = server_died {
        let note = format!("server {st} during the run");
        if merged.status != RunStatus::Failed {
            merged.status = RunStatus::Partial;
        }
        merged.status_reason = Some(match merged.status_reason.take() {
            Some(r) => format!("{note}; {r}"),
            None => note.clone(),
        });
        merged.warnings.insert(0, note);
    } else if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let m = merged.measured_messages.unwrap_or(0) as f64;
        if m >= 1.0 {
            merged.server_cpu_us_per_msg = Some(c1.saturating_sub(c0).as_secs_f64() * 1e6 / m);
        }
        merged.server_rss_bytes = rss_end;
        if let (Some(b), Some(e)) = (rss_before, rss_end) {
            if merged.established > 0 {
                merged.rss_per_connection_bytes =
                    Some((e as f64 - b as f64) / merged.established as f64);
            }
        }
    }
    merged.start_at = Some(start_at);
    if let (Some(h), Some(Ok((o, r)))) = (&hosts.server, server_offset) {
        records.push(HostRun {
            host: h.clone(),
            role: "server".into(),
            clock_offset_ms: Some(o),
            clock_rtt_ms: Some(r),
            ..HostRun::default()
        });
    }
    for (i, a) in agents.iter().enumerate() {
        records.push(HostRun {
            host: a.host.clone(),
            role: "agent".into(),
            shard: Some(a.shard.to_string()),
            clock_offset_ms: a.offset.map(|o| o.0),
            clock_rtt_ms: a.offset.map(|o| o.1),
            run: runs
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, r)| Box::new(r.clone())),
            error: a.error.clone(),
        });
    }
    merged.hosts = records;
    merged
}

/// Fetches an agent's result (and removes its remote directory).
fn fetch(
    bench: &Bench,
    hosts: &Hosts,
    host: &str,
    remote_dir: &str,
    local: &PrivateDir,
    i: usize,
) -> Result<EchoRun, String> {
    let d = quote(remote_dir);
    let script = format!("cat -- {d}/load.json; rc=$?; rm -rf -- {d}; exit $rc");
    let out = hosts
        .ssh(&bench.settings.exe, host, &script)
        .time_limit(SSH_SHORT)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.ended.success() {
        return Err(format!(
            "fetching the result: ssh {}: {}",
            out.ended,
            out.stderr_text().trim()
        ));
    }
    let path = local.file(&format!("agent-{i}.json"));
    std::fs::write(&path, &out.stdout).map_err(|e| e.to_string())?;
    let file = ResultsFile::load(&path).map_err(|e| format!("its result: {e}"))?;
    file.runs
        .into_iter()
        .next()
        .ok_or_else(|| "its result has no run".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_and_quoting() {
        assert_eq!(host_part("root@198.18.0.2"), "198.18.0.2");
        assert_eq!(host_part("u@[::1]"), "::1");
        assert_eq!(host_part("h"), "h");
        assert_eq!(
            Hosts::parse_list("a@h1, h2").unwrap(),
            vec!["a@h1".to_string(), "h2".to_string()]
        );
        for bad in ["", "-oProxyCommand=x", "a b", "a,,b"] {
            assert!(Hosts::parse_list(bad).is_err(), "{bad}");
        }
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
