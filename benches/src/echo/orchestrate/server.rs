//! Which server a point runs ([`ServerSpec`]) and starting it as a child process: a built-in
//! one as `loopbench serve --runtime ID --buffer N --addr 127.0.0.1:0` (it prints the port it
//! got), an outside command through the launcher's guard with `{port}` (and `{buffer}`, when
//! it takes one) replaced, ready once it accepts a connection.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use launch::{Launch, PrivateDir, Running};

use super::Settings;
use crate::echo::LISTENING_PREFIX;

/// Lines of a child's stderr kept for a failure message.
const STDERR_TAIL: usize = 4;

/// Which server a point runs.
#[derive(Clone, Debug)]
pub enum ServerSpec {
    /// `loopbench serve --runtime ID` (a runtime or a baseline).
    Builtin(String),
    /// An outside command; `{port}` in it is replaced by a free port, `{buffer}` by the
    /// buffer size.
    Command {
        /// Name recorded as the run's `runtime`.
        name: String,
        /// Shell command line.
        cmd: String,
        /// Files the command runs (the seeds' Python servers' script), kept as long as any
        /// copy of the spec: a spec can never outlive what it starts.
        files: Option<Arc<PrivateDir>>,
    },
}

/// Two specs are equal when they start the same server (where their files live aside).
impl PartialEq for ServerSpec {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ServerSpec::Builtin(a), ServerSpec::Builtin(b)) => a == b,
            (
                ServerSpec::Command { name, cmd, .. },
                ServerSpec::Command {
                    name: n2, cmd: c2, ..
                },
            ) => name == n2 && cmd == c2,
            _ => false,
        }
    }
}

impl Eq for ServerSpec {}

impl ServerSpec {
    /// The name recorded in results.
    pub fn name(&self) -> &str {
        match self {
            ServerSpec::Builtin(id) => id,
            ServerSpec::Command { name, .. } => name,
        }
    }

    /// `NAME=CMD` (the `--server` flag): a named outside server.
    pub fn parse_named(text: &str) -> Result<ServerSpec, String> {
        let (name, cmd) = text.split_once('=').ok_or_else(|| {
            format!("'{text}': expected NAME=COMMAND, e.g. asyncio='python3 server.py {{port}}'")
        })?;
        let name = name.trim();
        if name.is_empty() || name.contains([',', ' ']) {
            return Err(format!(
                "'{name}': a server name must be non-empty, without spaces or commas"
            ));
        }
        Self::command(name, cmd.trim())
    }

    /// An outside server `name` run by `cmd`, which must contain `{port}`.
    pub fn command(name: &str, cmd: &str) -> Result<ServerSpec, String> {
        if !cmd.contains("{port}") {
            return Err(format!(
                "the command of server '{name}' must contain {{port}} (replaced by the port to \
                 listen on)"
            ));
        }
        Ok(ServerSpec::Command {
            name: name.to_string(),
            cmd: cmd.to_string(),
            files: None,
        })
    }

    /// The read buffer per connection the server is started with, when loopbench sets it.
    pub fn buffer_bytes(&self, settings: &Settings) -> Option<u64> {
        match self {
            ServerSpec::Builtin(_) => Some(settings.buffer as u64),
            ServerSpec::Command { cmd, .. } => {
                cmd.contains("{buffer}").then_some(settings.buffer as u64)
            }
        }
    }
}

/// A running server process.
pub(crate) struct ServerProcess {
    /// The process (for `sh -c`, replaced by the command through `exec`); dropping it
    /// kills it with its process group.
    pub child: Running,
    /// Where it accepts.
    pub addr: SocketAddr,
    /// Last lines of its stderr, kept by a draining thread.
    stderr: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `; stderr: …` with its last lines, or nothing.
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().map(|l| l.clone()).unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; stderr: {}", lines.join(" | "))
        }
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
    }
}

/// Starts `spec` (pinned to `cpu`) and waits until it accepts; the error says why not.
pub(crate) fn start(
    settings: &Settings,
    spec: &ServerSpec,
    cpu: Option<usize>,
) -> Result<ServerProcess, String> {
    start_under(settings, spec, cpu, &[])
}

/// [`start`], a built-in server run by the program and arguments of `under` when it is not
/// empty (`valgrind --tool=callgrind …`), which then gets the `loopbench serve` command line.
pub(crate) fn start_under(
    settings: &Settings,
    spec: &ServerSpec,
    cpu: Option<usize>,
    under: &[std::ffi::OsString],
) -> Result<ServerProcess, String> {
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let limit = settings.start_timeout;
    match spec {
        ServerSpec::Builtin(id) => {
            let listen = SocketAddr::new(settings.listen, 0).to_string();
            let launch = match under.split_first() {
                None => Launch::loopbench(&settings.exe),
                Some((program, args)) => Launch::program(program)
                    .guard(&settings.exe)
                    .args(args)
                    .arg(&settings.exe),
            };
            let mut child = launch
                .args(["serve", "--runtime", id, "--addr", &listen])
                .args(["--buffer", &settings.buffer.to_string()])
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
            let line = rx.recv_timeout(limit).ok().flatten();
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
                    let ended = server
                        .child
                        .wait_for(Duration::from_millis(200))
                        .ok()
                        .flatten();
                    let why = match ended {
                        Some(st) => format!("server {id} {st} at start"),
                        None => format!(
                            "server {id} did not print `{LISTENING_PREFIX}ADDR` within {}",
                            harness::units::format_duration(limit)
                        ),
                    };
                    // Let the stderr thread catch the last lines.
                    std::thread::sleep(Duration::from_millis(20));
                    let why = why + &server.stderr_tail();
                    server.stop();
                    Err(why)
                }
            }
        }
        ServerSpec::Command { cmd, name, .. } => {
            let port = free_port().map_err(|e| format!("cannot find a free port: {e}"))?;
            let line = cmd
                .replace("{port}", &port.to_string())
                .replace("{buffer}", &settings.buffer.to_string());
            let mut child = Launch::shell(&line)
                .guard(&settings.exe)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .pin_cpu(cpu)
                .spawn()
                .map_err(|e| e.to_string())?;
            keep_tail(child.stderr(), Arc::clone(&stderr));
            let addr = SocketAddr::new(settings.listen, port);
            let mut server = ServerProcess {
                child,
                addr,
                stderr,
            };
            let deadline = Instant::now() + limit;
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Ok(server);
                }
                let exited = server.child.try_wait().ok().flatten();
                if exited.is_some() || Instant::now() >= deadline {
                    std::thread::sleep(Duration::from_millis(20));
                    let why = match exited {
                        Some(st) => format!("server {name} (`{line}`) {st} at start"),
                        None => format!(
                            "server {name} (`{line}`) did not accept on port {port} within {}",
                            harness::units::format_duration(limit)
                        ),
                    } + &server.stderr_tail();
                    server.stop();
                    return Err(why);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A port free right now on every local address.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("0.0.0.0:0")?.local_addr()?.port())
}

/// Drains a child's stderr in the background, keeping the last lines.
pub(crate) fn keep_tail(pipe: Option<impl Read + Send + 'static>, tail: Arc<Mutex<Vec<String>>>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_servers() {
        let s = ServerSpec::parse_named("asyncio=python3 s.py {port}").unwrap();
        assert_eq!(s.name(), "asyncio");
        assert!(ServerSpec::parse_named("python3 s.py {port}").is_err());
        assert!(ServerSpec::parse_named("a=python3 s.py")
            .unwrap_err()
            .contains("{port}"));
        assert!(ServerSpec::parse_named("=x {port}").is_err());
    }
}
