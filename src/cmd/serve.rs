//! `loopbench serve`: the echo server on one runtime or baseline, standalone (works with
//! `nc`); prints `listening on ADDR` (flushed) once it accepts, so an orchestrator can read
//! the port.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::Context;
use benches::echo::{baselines, server, LISTENING_PREFIX};
use harness::RuntimeConfig;

use crate::util::usage;

/// Arguments of `loopbench serve`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  loopbench serve --runtime tokio-ct                  listen on 127.0.0.1:7878\n  loopbench serve --runtime epoll-floor --addr 127.0.0.1:0\n  echo hello | nc -q1 127.0.0.1 7878\n\nBaselines: blocking, threads, threadpool, epoll-floor, uring-floor (see `loopbench bench echo --help`)."
)]
pub struct Args {
    /// Runtime id (see `loopbench list`) or baseline: blocking, threads, threadpool,
    /// epoll-floor, uring-floor.
    #[arg(long)]
    pub runtime: String,
    /// Address to listen on, HOST:PORT; port 0 picks a free port (printed).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: String,
}

/// Resolves `HOST:PORT`, or a usage error naming the expected form.
pub fn parse_addr(text: &str) -> anyhow::Result<SocketAddr> {
    text.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            usage(format!(
                "invalid address '{text}': expected HOST:PORT, e.g. 127.0.0.1:7878"
            ))
        })
}

/// Ids `serve` and `bench` accept: compiled-in runtimes, then the baselines.
pub fn server_ids() -> Vec<&'static str> {
    let mut ids = runtimes::runtime_ids();
    ids.extend(baselines::IDS);
    ids
}

/// Runs `loopbench serve` until killed.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let id = args.runtime.trim();
    if !server_ids().contains(&id) {
        return Err(usage(format!(
            "unknown runtime '{id}'; valid: {}",
            server_ids().join(", ")
        )));
    }
    let addr = parse_addr(&args.addr)?;
    if baselines::is_baseline(id) {
        baselines::preflight(id).with_context(|| format!("{id} cannot start"))?;
    }
    benches::echo::proc::raise_nofile();
    let listener = harness::net::bind_listener(addr)?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{LISTENING_PREFIX}{local}")?;
        out.flush()?;
    }
    let result = if baselines::is_baseline(id) {
        baselines::serve(id, listener).expect("baseline id checked above")
    } else {
        server::serve_on(id, listener, &RuntimeConfig::default()).expect("runtime id checked above")
    };
    result.with_context(|| format!("echo server on {id} stopped"))?;
    Ok(ExitCode::SUCCESS)
}
