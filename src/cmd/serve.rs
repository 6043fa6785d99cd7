//! `loopbench serve`: the echo server on one runtime or baseline, standalone (works with
//! `nc`); prints `listening on ADDR` (flushed) once it accepts, so an orchestrator can read
//! the port.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::Context;
use benches::echo::faults::Fault;
use benches::echo::{baselines, faults, server, LISTENING_PREFIX};
use harness::units::size_arg;
use harness::RuntimeConfig;

use crate::util::usage;

/// Arguments of `loopbench serve`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench serve --runtime tokio-ct                  listen on 127.0.0.1:7878\n  loopbench serve --runtime epoll-floor --addr 127.0.0.1:0\n  echo hello | nc -q1 127.0.0.1 7878\n\nBaselines: blocking, threads, threadpool, epoll-floor, uring-floor (see `loopbench bench echo --help`).\nEvery server reads into a buffer of --buffer bytes per connection (16 B to 1 MiB)."
)]
pub struct Args {
    /// Runtime id (see `loopbench list`) or baseline: blocking, threads, threadpool,
    /// epoll-floor, uring-floor.
    #[arg(long, required_unless_present = "fault")]
    pub runtime: Option<String>,
    /// Address to listen on, HOST:PORT; port 0 picks a free port (printed).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: String,
    /// Read buffer per connection, bytes (the same for every server; seed 000's 2048).
    #[arg(long, default_value = "2048", value_parser = size_arg(server::BUFFER_RANGE))]
    pub buffer: usize,
    /// A misbehaving server for the fault suite instead of a runtime: black-hole,
    /// half-echo, corrupt, reset[:DELAY], die[:DELAY], slow-reader[:DELAY].
    #[arg(long, hide = true)]
    pub fault: Option<Fault>,
}

/// Resolves `HOST:PORT`, or a usage error naming the expected form or keeping the
/// resolver's own message.
pub fn parse_addr(text: &str) -> anyhow::Result<SocketAddr> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(usage(format!(
            "invalid address '{text}': expected HOST:PORT, e.g. 127.0.0.1:7878"
        )));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(usage(format!(
            "invalid address '{text}': expected HOST:PORT with a port from 0 to 65535, e.g. \
             127.0.0.1:7878"
        )));
    }
    match text.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| usage(format!("cannot resolve '{host}': no address found"))),
        Err(e) => Err(usage(format!("cannot resolve '{host}': {e}"))),
    }
}

/// Ids `serve` and `bench` accept: compiled-in runtimes, then the baselines.
pub fn server_ids() -> Vec<&'static str> {
    let mut ids = runtimes::runtime_ids();
    ids.extend(baselines::IDS);
    ids
}

/// Runs `loopbench serve` until killed.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let id = args.runtime.as_deref().unwrap_or("threads").trim();
    if args.fault.is_none() && !server_ids().contains(&id) {
        return Err(usage(format!(
            "unknown runtime '{id}'; valid: {}",
            server_ids().join(", ")
        )));
    }
    let addr = parse_addr(&args.addr)?;
    if args.fault.is_none() && baselines::is_baseline(id) {
        baselines::preflight(id).with_context(|| format!("{id} cannot start"))?;
    }
    harness::proc::raise_nofile();
    let listener = harness::net::bind_listener(addr)?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{LISTENING_PREFIX}{local}")?;
        out.flush()?;
    }
    let buffer = args.buffer;
    let result = if let Some(fault) = args.fault {
        faults::serve(fault, listener, buffer)
    } else if baselines::is_baseline(id) {
        baselines::serve(id, listener, buffer).expect("baseline id checked above")
    } else {
        server::serve_on(id, listener, &RuntimeConfig::default(), buffer)
            .expect("runtime id checked above")
    };
    result.with_context(|| format!("echo server on {id} stopped"))?;
    Ok(ExitCode::SUCCESS)
}
