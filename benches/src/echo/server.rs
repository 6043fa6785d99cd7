//! The echo server, written once over `harness::Runtime`: the harness binds the listener
//! (identical socket options for every runtime), the runtime adopts it, and each accepted
//! connection gets a spawned task that reads into one reused buffer and writes it all back.

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use harness::{Listener, Runtime, RuntimeConfig, RuntimeHandle, Stream, TaskHandle};

/// Read buffer per connection.
pub const BUFFER_SIZE: usize = 16 * 1024;

/// Pause after an accept error such as "too many open files", so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Serves echo on `listener` with runtime `R` until the process ends; returns only when the
/// runtime cannot be built or cannot adopt the listener.
pub fn serve<R: Runtime>(listener: TcpListener, config: &RuntimeConfig) -> io::Result<()> {
    let runtime = R::build(config)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot build runtime {}: {e}", R::ID)))?;
    let handle = runtime.handle();
    runtime.block_on(accept_loop(handle, listener))
}

async fn accept_loop<H: RuntimeHandle>(handle: H, listener: TcpListener) -> io::Result<()> {
    let mut listener = handle.adopt_listener(listener)?;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => handle.spawn(echo_connection(stream)).detach(),
            Err(_) => handle.sleep(ACCEPT_ERROR_PAUSE).await,
        }
    }
}

/// Echoes everything read on `stream` until end-of-stream or an error.
pub async fn echo_connection<S: Stream>(mut stream: S) {
    let mut buf = vec![0u8; BUFFER_SIZE];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // futures-io streams may buffer writes (compio's compat stream does): flush, which
        // is free on the unbuffered ones.
        if stream.write_all(&buf[..n]).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}

/// [`serve`] on the compiled-in runtime `id`; `None` when `id` is not one. (The server's
/// code for every runtime is generated here, in this crate, with the benchmarks' code
/// generation settings.)
pub fn serve_on(id: &str, listener: TcpListener, config: &RuntimeConfig) -> Option<io::Result<()>> {
    struct Serve<'a>(TcpListener, &'a RuntimeConfig);
    impl runtimes::RuntimeVisitor for Serve<'_> {
        type Output = io::Result<()>;
        fn visit<R: Runtime>(self) -> Self::Output {
            serve::<R>(self.0, self.1)
        }
    }
    runtimes::with_runtime(id, Serve(listener, config))
}
