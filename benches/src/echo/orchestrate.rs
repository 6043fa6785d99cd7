//! `bench echo`: for each point (server × connection count × repeat) a fresh server process
//! and a fresh load-generator process, the server sampled from `/proc` around the measured
//! window the load generator announces. Servers are interleaved within each repeat
//! (A B C A B C …) so drift hits them all alike.
//!
//! Invariant: a point whose server fails to start, crashes or hangs becomes a run with a
//! warning saying so (and `duration_s` 0 when nothing was measured); the benchmark goes on.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::results::{EchoRun, ResultsFile};
use indicatif::{ProgressBar, ProgressStyle};
use launch::{Launch, PrivateDir, Running};

use crate::echo::plan::{LoadMode, FD_MARGIN};
use crate::echo::{proc, LISTENING_PREFIX};

/// Prefix of the load generator's progress lines on stdout.
pub const EVENT_PREFIX: &str = "loopbench-load: ";
/// How long a server may take to start accepting.
const SERVER_START_LIMIT: Duration = Duration::from_secs(10);
/// Extra time a load process gets beyond its plan before it is killed as hung.
const LOAD_SLACK: Duration = Duration::from_secs(30);
/// Lines of a child's stderr kept for a failure message.
const STDERR_TAIL: usize = 4;

/// Which server a point runs.
#[derive(Clone, Debug)]
pub enum ServerSpec {
    /// `loopbench serve --runtime ID` (a runtime or a baseline).
    Builtin(String),
    /// An outside command; `{port}` in it is replaced by a free port.
    Command {
        /// Name recorded as the run's `runtime`.
        name: String,
        /// Shell command line.
        cmd: String,
    },
}

impl ServerSpec {
    /// The name recorded in results.
    pub fn name(&self) -> &str {
        match self {
            ServerSpec::Builtin(id) => id,
            ServerSpec::Command { name, .. } => name,
        }
    }
}

/// A whole `bench echo` invocation.
#[derive(Clone, Debug)]
pub struct BenchPlan {
    /// The `loopbench` executable (runs `serve` and `load`).
    pub exe: PathBuf,
    /// Servers, in interleaving order.
    pub servers: Vec<ServerSpec>,
    /// Connection counts.
    pub connections: Vec<u64>,
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Open loop: offered total rate.
    pub rate: Option<f64>,
    /// Closed loop: messages in flight per connection.
    pub pipeline: u32,
    /// Message size in bytes.
    pub size: usize,
    /// Warm-up per point.
    pub warmup: Duration,
    /// Measured duration per point.
    pub duration: Duration,
    /// Connections opened per second.
    pub connect_rate: f64,
    /// Repeats of the whole matrix.
    pub repeat: u32,
    /// Pin server and load generator to separate CPUs.
    pub pin: bool,
    /// No progress bar.
    pub quiet: bool,
}

/// What a benchmark produced.
#[derive(Debug)]
pub struct BenchOutcome {
    /// Every point, in the order run.
    pub runs: Vec<EchoRun>,
    /// What was done about pinning, for the environment record.
    pub pinning: Option<String>,
}

/// Why a benchmark could not start.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Our open-file limit (inherited by both children) is too low.
    #[error("{0}")]
    FdLimit(String),
}

/// Runs the whole matrix; `after_point` sees each run as it completes (to save partial
/// results, for example).
pub fn run(
    plan: &BenchPlan,
    after_point: &mut dyn FnMut(&[EchoRun]),
) -> Result<BenchOutcome, BenchError> {
    let max_conns = plan.connections.iter().copied().max().unwrap_or(1);
    let (soft, hard) = proc::raise_nofile();
    if soft < max_conns + FD_MARGIN {
        return Err(BenchError::FdLimit(proc::nofile_too_low(
            "each benchmark process",
            soft,
            hard,
            max_conns,
            max_conns + FD_MARGIN,
        )));
    }
    let pins = if plan.pin { pin_cpus() } else { None };
    let pinning = match (&pins, plan.pin) {
        (Some((s, c)), true) => Some(format!(
            "server cpu {s}, load generator cpu {c} (sched_setaffinity, inherited at spawn)"
        )),
        (None, true) => Some("not pinned: fewer than 2 CPUs available".to_string()),
        _ => None,
    };
    let total = plan.servers.len() as u64 * plan.connections.len() as u64 * u64::from(plan.repeat);
    let bar = if plan.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "bench echo [{bar:30}] {pos}/{len} · {elapsed} elapsed · ~{eta} left · {wide_msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let mut runs = Vec::new();
    for repeat in 0..plan.repeat {
        for &conns in &plan.connections {
            for server in &plan.servers {
                bar.set_message(format!(
                    "{} x {conns} (repeat {}/{})",
                    server.name(),
                    repeat + 1,
                    plan.repeat
                ));
                let mut run = run_point(plan, server, conns, pins);
                run.repeat = repeat;
                runs.push(run);
                after_point(&runs);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    Ok(BenchOutcome { runs, pinning })
}

/// The first two CPUs this process may use: (server, load generator).
fn pin_cpus() -> Option<(usize, usize)> {
    let set = rustix::thread::sched_getaffinity(None).ok()?;
    let mut cpus = (0..rustix::thread::CpuSet::MAX_CPU).filter(|c| set.is_set(*c));
    Some((cpus.next()?, cpus.next()?))
}

/// A point that measured nothing, with the reason.
fn failed_point(plan: &BenchPlan, name: &str, conns: u64, why: String) -> EchoRun {
    EchoRun {
        runtime: name.to_string(),
        connections: conns,
        mode: plan.mode.as_str().to_string(),
        offered_rate: plan.rate.filter(|_| plan.mode == LoadMode::Open),
        pipeline: u64::from(plan.pipeline),
        message_size: plan.size as u64,
        warnings: vec![format!("nothing measured: {why}")],
        ..EchoRun::default()
    }
}

/// A running server process.
struct ServerProcess {
    /// The process (for `sh -c`, replaced by the command through `exec`); dropping it
    /// kills it with its process group.
    child: Running,
    /// Where it accepts.
    addr: SocketAddr,
    /// Last lines of its stderr, kept by a draining thread.
    stderr: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().map(|l| l.clone()).unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; stderr: {}", lines.join(" | "))
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
    }
}

fn start_server(
    plan: &BenchPlan,
    spec: &ServerSpec,
    cpu: Option<usize>,
) -> Result<ServerProcess, String> {
    let stderr = Arc::new(Mutex::new(Vec::new()));
    match spec {
        ServerSpec::Builtin(id) => {
            let mut child = Launch::loopbench(&plan.exe)
                .args(["serve", "--runtime", id, "--addr", "127.0.0.1:0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .pin_cpu(cpu)
                .spawn()
                .map_err(|e| e.to_string())?;
            keep_tail(child.stderr(), Arc::clone(&stderr));
            let (tx, rx) = mpsc::channel();
            let stdout = child.stdout();
            std::thread::spawn(move || {
                let Some(out) = stdout else { return };
                let mut lines = BufReader::new(out).lines();
                let first = lines.next().and_then(Result::ok);
                let _ = tx.send(first);
                for _ in lines {}
            });
            let line = rx.recv_timeout(SERVER_START_LIMIT).ok().flatten();
            let addr = line
                .as_deref()
                .and_then(|l| l.strip_prefix(LISTENING_PREFIX))
                .and_then(|a| a.trim().parse().ok());
            let mut server = ServerProcess {
                child,
                addr: "127.0.0.1:0".parse().expect("static address"),
                stderr,
            };
            match addr {
                Some(addr) => {
                    server.addr = addr;
                    Ok(server)
                }
                None => {
                    std::thread::sleep(Duration::from_millis(50));
                    let why = match server.child.try_wait() {
                        Ok(Some(st)) => format!("server exited at start ({st})"),
                        _ => format!(
                            "server did not print `{LISTENING_PREFIX}ADDR` within {:?}",
                            SERVER_START_LIMIT
                        ),
                    };
                    let why = why + &server.stderr_tail();
                    server.stop();
                    Err(why)
                }
            }
        }
        ServerSpec::Command { cmd, .. } => {
            let port = free_port().map_err(|e| format!("cannot find a free port: {e}"))?;
            let line = cmd.replace("{port}", &port.to_string());
            let mut child = Launch::shell(&line)
                .guard(&plan.exe)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .pin_cpu(cpu)
                .spawn()
                .map_err(|e| e.to_string())?;
            keep_tail(child.stderr(), Arc::clone(&stderr));
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut server = ServerProcess {
                child,
                addr,
                stderr,
            };
            let deadline = Instant::now() + SERVER_START_LIMIT;
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Ok(server);
                }
                let exited = server.child.try_wait().ok().flatten();
                if exited.is_some() || Instant::now() >= deadline {
                    let why = match exited {
                        Some(st) => format!("`{line}` exited at start ({st})"),
                        None => format!("`{line}` did not accept on port {port} within 10 s"),
                    } + &server.stderr_tail();
                    server.stop();
                    return Err(why);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A port free right now on 127.0.0.1.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Drains a child's stderr in the background, keeping the last lines.
fn keep_tail(pipe: Option<impl Read + Send + 'static>, tail: Arc<Mutex<Vec<String>>>) {
    let Some(pipe) = pipe else { return };
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if line.trim().is_empty() {
                continue;
            }
            if let Ok(mut t) = tail.lock() {
                if t.len() == STDERR_TAIL {
                    t.remove(0);
                }
                t.push(line);
            }
        }
    });
}

/// Samples of the server taken around the measured window.
#[derive(Default)]
struct ServerSamples {
    /// Server CPU time when the window started.
    cpu_start: Option<Duration>,
    /// Server CPU time when the window ended.
    cpu_end: Option<Duration>,
    /// Server RSS when the window ended (connections still open).
    rss_end: Option<u64>,
}

fn run_point(
    plan: &BenchPlan,
    spec: &ServerSpec,
    conns: u64,
    pins: Option<(usize, usize)>,
) -> EchoRun {
    let name = spec.name();
    let mut server = match start_server(plan, spec, pins.map(|p| p.0)) {
        Ok(s) => s,
        Err(why) => return failed_point(plan, name, conns, why),
    };
    let pid = server.pid();
    if let Ok((soft, hard)) = proc::nofile_limit_of(pid) {
        if soft < conns + FD_MARGIN {
            server.stop();
            let why = proc::nofile_too_low("the server", soft, hard, conns, conns + FD_MARGIN);
            return failed_point(plan, name, conns, why);
        }
    }
    let rss_before = proc::rss_bytes(pid).ok();
    let dir = match PrivateDir::new("echo") {
        Ok(d) => d,
        Err(e) => {
            server.stop();
            return failed_point(plan, name, conns, e.to_string());
        }
    };
    let json = dir.file("load.json");
    let mut args: Vec<String> = vec![
        "load".into(),
        "--target".into(),
        server.addr.to_string(),
        "--connections".into(),
        conns.to_string(),
        "--mode".into(),
        plan.mode.as_str().into(),
        "--size".into(),
        plan.size.to_string(),
        "--warmup".into(),
        format!("{}ms", plan.warmup.as_millis()),
        "--duration".into(),
        format!("{}ms", plan.duration.as_millis()),
        "--connect-rate".into(),
        plan.connect_rate.to_string(),
        "--label".into(),
        name.to_string(),
        "--json".into(),
        json.display().to_string(),
    ];
    match plan.mode {
        LoadMode::Open => args.extend(["--rate".into(), plan.rate.unwrap_or(1.0).to_string()]),
        LoadMode::Closed => args.extend(["--pipeline".into(), plan.pipeline.to_string()]),
    }
    let limit = Duration::from_secs_f64(conns as f64 / plan.connect_rate)
        + plan.warmup
        + plan.duration
        + LOAD_SLACK;
    let load = Launch::loopbench(&plan.exe)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .pin_cpu(pins.map(|p| p.1))
        .time_limit(limit)
        .spawn();
    let mut load = match load {
        Ok(c) => c,
        Err(e) => {
            server.stop();
            return failed_point(
                plan,
                name,
                conns,
                format!("cannot start the load generator: {e}"),
            );
        }
    };
    let load_err = Arc::new(Mutex::new(Vec::new()));
    keep_tail(load.stderr(), Arc::clone(&load_err));
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = load.stdout();
    std::thread::spawn(move || {
        let Some(out) = stdout else { return };
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });

    let deadline = Instant::now() + limit;
    let mut samples = ServerSamples::default();
    let mut hung = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => match line.strip_prefix(EVENT_PREFIX).map(str::trim) {
                Some("measure-start") => samples.cpu_start = proc::process_cpu(pid).ok(),
                Some("measure-end") => {
                    samples.cpu_end = proc::process_cpu(pid).ok();
                    samples.rss_end = proc::rss_bytes(pid).ok();
                }
                _ => {}
            },
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                hung = true;
                let _ = load.kill();
                break;
            }
        }
    }
    let load_status = load.wait().ok();
    hung |= load.timed_out();
    let server_died = server.child.try_wait().ok().flatten();
    let server_tail = server.stderr_tail();
    server.stop();

    let mut run = match ResultsFile::load(&json)
        .ok()
        .and_then(|f| f.runs.into_iter().next())
    {
        Some(run) => run,
        None => {
            let tail = load_err.lock().map(|l| l.join(" | ")).unwrap_or_default();
            let why = if hung {
                format!(
                    "load generator hung (killed after {:.0} s)",
                    limit.as_secs_f64()
                )
            } else {
                format!(
                    "load generator failed ({}){}",
                    load_status.map(|s| s.to_string()).unwrap_or_default(),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(": {tail}")
                    }
                )
            };
            let mut run = failed_point(plan, name, conns, why);
            if let Some(st) = server_died {
                run.warnings
                    .push(format!("server exited during the run ({st}){server_tail}"));
            }
            return run;
        }
    };
    run.runtime = name.to_string();
    if let Some(st) = server_died {
        run.warnings
            .push(format!("server exited during the run ({st}){server_tail}"));
    }
    let messages = run.throughput_msgs_per_s * run.duration_s;
    if let (Some(c0), Some(c1)) = (samples.cpu_start, samples.cpu_end) {
        if messages >= 1.0 && server_died.is_none() {
            run.server_cpu_us_per_msg = Some((c1 - c0).as_secs_f64() * 1e6 / messages);
        }
    }
    if server_died.is_none() {
        run.server_rss_bytes = samples.rss_end;
        if let (Some(before), Some(after)) = (rss_before, samples.rss_end) {
            if run.established > 0 {
                run.rss_per_connection_bytes =
                    Some((after as f64 - before as f64) / run.established as f64);
            }
        }
    }
    run
}
