//! `bench echo --hosts` end to end on "hosts" made here: network namespaces joined by veth
//! pairs through a bridge, addresses from 198.18.0.0/15 (reserved for network benchmarking)
//! only inside namespaces this test makes, one for the controller, one for the server, two
//! for load agents, each host running Debian's OpenSSH server on its address with a host key
//! and a client key made for the test. 2,000 connections in all, one shard per agent.
//!
//! Asserts: merged message count = the sum of the shards'; merged p99 = the p99 of the union
//! of the values the shards recorded (their histograms decoded here and re-recorded value by
//! value); every shard complete with every byte verified (no mismatch, no error); the
//! server's kernel saw established connections from every agent address (`ss` in the
//! server's namespace during the run); every clock offset within half its round trip (all
//! namespaces share one clock, so the true offset is 0).
//!
//! Skips, saying why, where namespaces cannot be made (not root, no `ip netns`) or OpenSSH
//! is missing (`.ci/run` installs openssh-server and openssh-client). The sshd instances and
//! every process left in the namespaces are killed, and the namespaces removed, on every
//! exit path (the lab's `Drop`, panics included).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use harness::results::{ResultsFile, RunStatus};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use launch::{Launch, Running};

const SSHD: &str = "/usr/sbin/sshd";
const SERVER: &str = "198.18.0.2";
const AGENTS: [&str; 2] = ["198.18.0.3", "198.18.0.4"];
const CONTROLLER: &str = "198.18.0.1";
const CONNECTIONS: u64 = 2000;

/// Runs a short command; its stdout, or what went wrong.
fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Launch::program(program)
        .args(args)
        .time_limit(Duration::from_secs(30))
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.ended.success() {
        Ok(out.stdout_text())
    } else {
        Err(format!(
            "`{program} {}` {}: {}",
            args.join(" "),
            out.ended,
            out.stderr_text().trim()
        ))
    }
}

/// The namespaces, the sshd processes and the files of one test run.
struct Lab {
    prefix: String,
    /// Namespaces made so far (removed in reverse order).
    namespaces: Vec<String>,
    sshds: Vec<Running>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn ns(&self, role: &str) -> String {
        format!("{}{role}", self.prefix)
    }

    fn add_ns(&mut self, role: &str) -> Result<String, String> {
        let name = self.ns(role);
        sh("ip", &["netns", "add", &name])?;
        self.namespaces.push(name.clone());
        sh("ip", &["-n", &name, "link", "set", "lo", "up"])?;
        Ok(name)
    }

    /// A namespace for `role` with `addr`, joined to the hub's bridge by a veth pair.
    fn add_host(&mut self, role: &str, addr: &str) -> Result<(), String> {
        let ns = self.add_ns(role)?;
        let hub = self.ns("h");
        let (inner, outer) = (
            format!("{}{role}0", self.prefix),
            format!("{}{role}1", self.prefix),
        );
        sh(
            "ip",
            &[
                "link", "add", &inner, "netns", &ns, "type", "veth", "peer", "name", &outer,
                "netns", &hub,
            ],
        )?;
        sh(
            "ip",
            &["-n", &hub, "link", "set", &outer, "master", "br0", "up"],
        )?;
        sh(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                &inner,
            ],
        )?;
        sh("ip", &["-n", &ns, "link", "set", &inner, "up"])?;
        Ok(())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// sshd on `addr` inside `role`'s namespace, with a private tmpfs on /run (its
    /// privilege-separation directory) in that namespace's own mount namespace.
    fn start_sshd(&mut self, role: &str, addr: &str) -> Result<(), String> {
        let cfg = self.path(&format!("sshd-{role}.conf"));
        let text = format!(
            "ListenAddress {addr}\nPort 22\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n\
             MaxStartups 100:30:200\nMaxSessions 100\nLogLevel ERROR\n",
            hk = self.path("host_key").display(),
            ak = self.path("authorized_keys").display(),
        );
        std::fs::write(&cfg, text).map_err(|e| e.to_string())?;
        let line = format!(
            "mount -t tmpfs -o mode=0755 loopbench-test /run && mkdir /run/sshd && exec {SSHD} \
             -D -e -f {}",
            cfg.display()
        );
        let child = Launch::program("ip")
            .args(["netns", "exec", &self.ns(role), "sh", "-c", &line])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .time_limit(Duration::from_secs(600))
            .spawn()
            .map_err(|e| e.to_string())?;
        self.sshds.push(child);
        Ok(())
    }

    /// `ssh` from the controller's namespace with the test's client configuration.
    fn ssh_from_controller(&self, host: &str, command: &str) -> Result<String, String> {
        let cfg = self.path("ssh_config");
        let cfg = cfg.to_string_lossy();
        sh(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns("c"),
                "ssh",
                "-F",
                &cfg,
                &format!("root@{host}"),
                command,
            ],
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for s in &mut self.sshds {
            let _ = s.kill();
        }
        for ns in self.namespaces.iter().rev() {
            // Whatever our run left inside (sshd sessions, a remote loopbench): by pid.
            if let Ok(pids) = sh("ip", &["netns", "pids", ns]) {
                for pid in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                }
            }
            let _ = sh("ip", &["netns", "del", ns]);
        }
    }
}

/// Why the test cannot run here, if it cannot.
fn cannot_run() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root: network namespaces cannot be made".into());
    }
    if !Path::new(SSHD).exists() {
        return Some(format!(
            "{SSHD} missing (Debian's openssh-server; .ci/run installs it)"
        ));
    }
    for tool in ["ssh", "ssh-keygen", "ss"] {
        if sh(tool, &["-V"]).is_err() && sh("sh", &["-c", &format!("command -v {tool}")]).is_err() {
            return Some(format!("`{tool}` missing (openssh-client / iproute2)"));
        }
    }
    let probe = format!("lbp{}", std::process::id());
    match sh("ip", &["netns", "add", &probe]) {
        Ok(_) => {
            let _ = sh("ip", &["netns", "del", &probe]);
            None
        }
        Err(e) => Some(format!("network namespaces cannot be made here: {e}")),
    }
}

/// Removes this test's namespaces left by a run that was killed before its `Drop` (their
/// test process, named in the namespace, is gone), with whatever still runs inside them.
fn remove_stale_namespaces() {
    let Ok(list) = sh("ip", &["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix("lbh") else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let role = &rest[pid.len()..];
        if pid.is_empty() || !["c", "s", "a", "b", "h"].contains(&role) {
            continue;
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let stale = Lab {
            prefix: String::new(),
            namespaces: vec![name.to_string()],
            sshds: Vec::new(),
            dir: match tempfile::tempdir() {
                Ok(d) => d,
                Err(_) => return,
            },
        };
        drop(stale);
    }
}

fn build_lab() -> Result<Lab, String> {
    remove_stale_namespaces();
    let mut lab = Lab {
        prefix: format!("lbh{}", std::process::id()),
        namespaces: Vec::new(),
        sshds: Vec::new(),
        dir: tempfile::tempdir().map_err(|e| e.to_string())?,
    };
    let hub = lab.add_ns("h")?;
    sh("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
    sh("ip", &["-n", &hub, "link", "set", "br0", "up"])?;
    lab.add_host("c", CONTROLLER)?;
    lab.add_host("s", SERVER)?;
    lab.add_host("a", AGENTS[0])?;
    lab.add_host("b", AGENTS[1])?;

    for key in ["host_key", "client_key"] {
        let p = lab.path(key).to_string_lossy().into_owned();
        sh(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "loopbench-test",
                "-f",
                &p,
            ],
        )?;
    }
    let read = |name: &str| std::fs::read_to_string(lab.path(name)).map_err(|e| e.to_string());
    std::fs::write(lab.path("authorized_keys"), read("client_key.pub")?)
        .map_err(|e| e.to_string())?;
    let host_pub = read("host_key.pub")?;
    let mut words = host_pub.split_whitespace();
    let (kind, key) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let all = [SERVER, AGENTS[0], AGENTS[1]].join(",");
    std::fs::write(lab.path("known_hosts"), format!("{all} {kind} {key}\n"))
        .map_err(|e| e.to_string())?;
    let client_cfg = format!(
        "Host 198.18.*\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
         UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  \
         BatchMode yes\n  LogLevel ERROR\n",
        lab.path("client_key").display(),
        lab.path("known_hosts").display()
    );
    std::fs::write(lab.path("ssh_config"), client_cfg).map_err(|e| e.to_string())?;

    lab.start_sshd("s", SERVER)?;
    lab.start_sshd("a", AGENTS[0])?;
    lab.start_sshd("b", AGENTS[1])?;
    for host in [SERVER, AGENTS[0], AGENTS[1]] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match lab.ssh_from_controller(host, "echo ok") {
                Ok(out) if out.trim() == "ok" => break,
                Ok(out) => return Err(format!("ssh {host} printed '{out}'")),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
    Ok(lab)
}

/// Peers (addresses) of established TCP connections in the server's namespace, except SSH.
fn server_peers(lab: &Lab) -> BTreeSet<String> {
    let Ok(out) = sh(
        "ip",
        &[
            "netns",
            "exec",
            &lab.ns("s"),
            "ss",
            "-tnH",
            "state",
            "established",
        ],
    ) else {
        return BTreeSet::new();
    };
    out.lines()
        .filter_map(|l| {
            let addrs: Vec<&str> = l.split_whitespace().filter(|w| w.contains(':')).collect();
            let (local, peer) = (addrs.first()?, addrs.get(1)?);
            let port = local.rsplit_once(':')?.1;
            (port != "22").then(|| peer.rsplit_once(':').map(|(ip, _)| ip.to_string()))?
        })
        .collect()
}

fn decode(text: &str) -> Histogram<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("histogram is base64");
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("histogram is HdrHistogram V2")
}

/// The p99 of every value the shards recorded, re-recorded one by one (not `add`).
fn union_p99(texts: &[&str]) -> (u64, u64) {
    let mut union = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for t in texts {
        for v in decode(t).iter_recorded() {
            union
                .record_n(v.value_iterated_to(), v.count_at_value())
                .unwrap();
        }
    }
    (union.value_at_quantile(0.99), union.len())
}

#[test]
fn two_agents_over_ssh_merge_into_one_run() {
    if let Some(why) = cannot_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let lab = build_lab().unwrap_or_else(|e| panic!("cannot build the test hosts: {e}"));
    let exe = env!("CARGO_BIN_EXE_loopbench");
    let json = lab.path("results.json");
    let hosts = AGENTS.map(|a| format!("root@{a}")).join(",");
    let mut bench = Launch::program("ip")
        .args(["netns", "exec", &lab.ns("c"), exe, "bench", "echo"])
        .args([
            "--runtime",
            "epoll-floor",
            "--connections",
            &CONNECTIONS.to_string(),
        ])
        .args(["--duration", "2s", "--warmup", "500ms", "--quiet"])
        .args([
            "--hosts",
            &hosts,
            "--server-host",
            &format!("root@{SERVER}"),
        ])
        .args(["--remote-loopbench", exe, "--ssh-config"])
        .arg(lab.path("ssh_config"))
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .time_limit(Duration::from_secs(240))
        .spawn()
        .expect("bench starts");
    let drain = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = p {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(bench.stdout().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(bench.stderr().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let mut peers = BTreeSet::new();
    let ended = loop {
        if let Some(e) = bench.try_wait().unwrap() {
            break e;
        }
        peers.extend(server_peers(&lab));
        std::thread::sleep(Duration::from_millis(250));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    eprintln!("{out}\n{err}");
    assert!(ended.success(), "bench {ended}: {out}\n{err}");

    let file = ResultsFile::load(&json).expect("results file");
    assert_eq!(file.runs.len(), 1);
    let run = &file.runs[0];
    assert_eq!(run.status, RunStatus::Complete, "{:?}", run.status_reason);
    assert_eq!(run.connections, CONNECTIONS);
    assert_eq!(run.established, CONNECTIONS);
    let agents: Vec<_> = run.hosts.iter().filter(|h| h.role == "agent").collect();
    assert_eq!(agents.len(), 2);
    assert_eq!(run.hosts.iter().filter(|h| h.role == "server").count(), 1);
    let mut sum_messages = 0;
    let mut sum_established = 0;
    let mut texts = Vec::new();
    let mut raw_texts = Vec::new();
    for (i, h) in agents.iter().enumerate() {
        let shard = h
            .run
            .as_deref()
            .unwrap_or_else(|| panic!("{}: {:?}", h.host, h.error));
        assert_eq!(shard.shard.as_deref(), Some(format!("{i}/2").as_str()));
        assert_eq!(
            shard.status,
            RunStatus::Complete,
            "{}: {:?}",
            h.host,
            shard.status_reason
        );
        assert_eq!(shard.errors.mismatches, 0, "{}", h.host);
        assert_eq!(shard.errors.total(), 0, "{}: {:?}", h.host, shard.errors);
        assert_eq!(shard.established, CONNECTIONS / 2);
        let m = shard.measured_messages.expect("shard message count");
        assert!(m > 0);
        sum_messages += m;
        sum_established += shard.established;
        texts.push(shard.histogram.as_deref().expect("shard histogram"));
        raw_texts.push(shard.histogram_raw.as_deref().expect("shard raw histogram"));
    }
    for h in &run.hosts {
        let (o, r) = (h.clock_offset_ms.unwrap(), h.clock_rtt_ms.unwrap());
        // One clock for all: the remote reading lies within the exchange.
        assert!(
            o.abs() <= r / 2.0 + 1e-3,
            "{}: offset {o} ms, rtt {r} ms",
            h.host
        );
    }
    let merged_messages = run.measured_messages.expect("merged message count");
    assert_eq!(merged_messages, sum_messages);
    assert_eq!(run.established, sum_established);
    let (p99, n) = union_p99(&texts);
    assert_eq!(
        n, merged_messages,
        "every measured echo is in the histograms"
    );
    assert_eq!(run.latency_us.p99, p99 as f64);
    assert_eq!(run.latency_raw_us.p99, union_p99(&raw_texts).0 as f64);
    assert_eq!(
        decode(run.histogram.as_deref().unwrap()).len(),
        merged_messages
    );
    // The report keeps every host beside the merged figures.
    let report = lab.path("report");
    let out = Launch::program(exe)
        .arg("report")
        .arg("--input")
        .arg(&json)
        .arg("--out")
        .arg(&report)
        .time_limit(Duration::from_secs(120))
        .output()
        .expect("report runs");
    assert!(
        out.ended.success(),
        "report {}: {}",
        out.ended,
        out.stderr_text()
    );
    let html = std::fs::read_to_string(report.join("index.html")).expect("report page");
    assert!(html.contains("id=\"echo-hosts\""));
    for a in AGENTS {
        assert!(html.contains(&format!("root@{a}")), "{a} in the report");
    }
    let want: BTreeSet<String> = AGENTS.iter().map(|a| a.to_string()).collect();
    assert!(want.is_subset(&peers), "server saw {peers:?}");
    eprintln!(
        "hosts test: {} connections, merged {merged_messages} messages = {} + {}, merged p99 \
         {} us = union p99 {p99} us (shard p99s {} / {} us), server saw {:?}, clock offsets {:?} ms",
        run.established,
        agents[0].run.as_ref().unwrap().measured_messages.unwrap(),
        agents[1].run.as_ref().unwrap().measured_messages.unwrap(),
        run.latency_us.p99,
        agents[0].run.as_ref().unwrap().latency_us.p99,
        agents[1].run.as_ref().unwrap().latency_us.p99,
        peers,
        run.hosts
            .iter()
            .map(|h| (h.host.clone(), h.clock_offset_ms.unwrap()))
            .collect::<Vec<_>>()
    );
}
