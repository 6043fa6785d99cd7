//! Probes of behaviour people choose runtimes by, each tagged with the closest rule: what
//! dropping a join handle does, panics, starvation by a task that never yields, cooperative
//! budgets, nested `block_on`, spawning from a plain thread, destructors at runtime drop, the
//! order new tasks first run in, cross-thread wake-up latency, I/O against timers, and another
//! runtime's types used inside this one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;

use futures::{AsyncReadExt, AsyncWriteExt};
use harness::net::bind_listener;
use harness::{Listener, Runtime, RuntimeHandle, TaskHandle};
use serde_json::json;

use crate::cancel::DropFlag;
use crate::support::{
    events, eventually, join_outcome, ms, new_log, on_one_worker, on_runtime, percentile, push,
    spin_until, us, within, yields,
};
use crate::Observation;

scenario! {
    /// C1 probe: dropping a join handle (not calling cancel) leaves the task running in asyncio.
    DropJoinHandle = "probe.drop_join_handle", "probe", "C1",
    "dropping a task's join handle: the task still completes (asyncio: only cancel() stops it)",
    timing: false, kills: ["drop_handle_cancels"], run: drop_join_handle
}

fn drop_join_handle<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let done = Arc::new(AtomicBool::new(false));
        let (d, h2) = (done.clone(), h.clone());
        let handle = h.spawn(async move {
            h2.sleep(Duration::from_millis(10)).await;
            d.store(true, Ordering::SeqCst);
        });
        drop(handle);
        let d = done.clone();
        let completed =
            eventually(&h, Duration::from_millis(300), || d.load(Ordering::SeqCst)).await;
        Observation::check(
            json!({ "task_completed": completed }),
            json!({ "task_completed": true }),
        )
    })
}

scenario! {
    /// F2 probe: a panic in an awaited task comes back as an error; the loop survives.
    PanicAwaited = "probe.panic_awaited", "probe", "F2",
    "an awaited task panics: join yields Panicked(\"boom\"); the next task still runs",
    timing: false, kills: ["panic_payload_lost", "panic_escapes"], run: panic_awaited
}

fn panic_awaited<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let bad = join_outcome(h.spawn(async { boom() })).await;
        let good = join_outcome(h.spawn(async { 1u8 })).await;
        Observation::check(
            json!({ "joined": bad, "next_task": good }),
            json!({ "joined": { "panicked": "boom" }, "next_task": { "value": 1 } }),
        )
    })
}

/// Panics with "boom" (a task body whose output type is `()`).
fn boom() {
    panic!("boom")
}

scenario! {
    /// F2 probe: a panic in a detached task does not take the loop down.
    PanicDetached = "probe.panic_detached", "probe", "F2",
    "a detached task panics: the runtime keeps running tasks and block_on returns",
    timing: false, kills: ["panic_escapes"], run: panic_detached
}

fn panic_detached<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        h.spawn(async { panic!("detached boom") }).detach();
        h.sleep(Duration::from_millis(10)).await;
        let after = join_outcome(h.spawn(async { 2u8 })).await;
        Observation::check(
            json!({ "next_task": after }),
            json!({ "next_task": { "value": 2 } }),
        )
    })
}

scenario! {
    /// L4 probe: a task that never yields, against a 10 ms timer.
    StarvedTimer = "probe.never_yield_vs_timer", "probe", "L4",
    "a task busy for 150 ms without awaiting: the 10 ms timer does not fire meanwhile (asyncio)",
    timing: false, kills: ["short_sleeps_block"], run: starved_timer
}

fn starved_timer<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let fired = Arc::new(AtomicBool::new(false));
        let armed = Arc::new(AtomicBool::new(false));
        let (f, a, h2) = (fired.clone(), armed.clone(), h.clone());
        h.spawn(async move {
            let sleep = h2.sleep(Duration::from_millis(10));
            a.store(true, Ordering::SeqCst);
            sleep.await;
            f.store(true, Ordering::SeqCst);
        })
        .detach();
        // Let the timer task start and register its timer; then start the busy task at once.
        let mut turns = 0;
        while !armed.load(Ordering::SeqCst) && turns < 1000 {
            h.yield_now().await;
            turns += 1;
        }
        h.yield_now().await;
        let f = fired.clone();
        let during = h
            .spawn(async move {
                let before = f.load(Ordering::SeqCst);
                (
                    before,
                    !before && spin_until(Duration::from_millis(150), || f.load(Ordering::SeqCst)),
                )
            })
            .await;
        let (fired_before, during) = match during {
            Ok((before, during)) => (before, Ok(during)),
            Err(e) => (false, Err(e)),
        };
        Observation::check(
            json!({ "fired_before_the_busy_task": fired_before, "fired_while_busy": during.unwrap_or(true) }),
            json!({ "fired_before_the_busy_task": false, "fired_while_busy": false }),
        )
    })
}

scenario! {
    /// L3 probe: a task that never yields, against another task that keeps yielding.
    StarvedTask = "probe.never_yield_vs_task", "probe", "L3",
    "a task busy for 100 ms without awaiting: a yielding task makes no progress meanwhile (asyncio)",
    timing: false, kills: ["lifo_ready_queue"], run: starved_task
}

/// How long the yielding task of [`starved_task`] keeps yielding at most, by its own clock.
/// It stops as soon as the busy task has reported (a count); this bound only ends it on a
/// runtime where the busy task never gets a turn, and on one that reads its timers only when
/// it parks (monoio: no timer can fire while a task is always ready), so the scenario records
/// an observation instead of hanging.
const YIELDER_BOUND: Duration = Duration::from_secs(2);

fn starved_task<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let steps = Arc::new(AtomicUsize::new(0));
        let progress = Arc::new(AtomicUsize::new(usize::MAX));
        let (s, p, h2) = (steps.clone(), progress.clone(), h.clone());
        // The yielding task spawns the busy one itself, so both start on the same worker
        // (where a scheduler has several): the question is whether the yielding task still
        // gets turns while its neighbour holds the thread. It yields until the busy task has
        // reported, and says whether that happened within its bound.
        let other = h.spawn(async move {
            let start = Instant::now();
            while p.load(Ordering::SeqCst) == usize::MAX {
                if start.elapsed() >= YIELDER_BOUND {
                    return false;
                }
                let n = s.fetch_add(1, Ordering::SeqCst);
                if n == 10 {
                    let (s, p) = (s.clone(), p.clone());
                    h2.spawn(async move {
                        let before = s.load(Ordering::SeqCst);
                        spin_until(Duration::from_millis(100), || false);
                        p.store(s.load(Ordering::SeqCst) - before, Ordering::SeqCst);
                    })
                    .detach();
                }
                h2.yield_now().await;
            }
            true
        });
        // The join needs no timer; `within` only guards a runtime that never runs the
        // yielding task at all.
        let measured = matches!(within(&h, YIELDER_BOUND * 2, other).await, Some(Ok(true)));
        let progress = progress.load(Ordering::SeqCst);
        Observation::check(
            json!({ "busy_task_ran": measured, "yielding_task_steps_meanwhile": if measured { progress } else { 0 } }),
            json!({ "busy_task_ran": true, "yielding_task_steps_meanwhile": 0 }),
        )
        .measure(
            "steps_of_other_task_during_busy",
            if measured { progress as f64 } else { f64::NAN },
            "count",
        )
    })
}

scenario! {
    /// L3 probe: two tasks that yield take turns.
    YieldAlternates = "probe.yield_alternates", "probe", "L3",
    "two tasks that each yield 5 times take strict turns: a b a b ... (one worker)",
    timing: false, kills: ["lifo_ready_queue"], run: yield_alternates
}

fn yield_alternates<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let (l, h2) = (log.clone(), h.clone());
                h.spawn(async move {
                    for _ in 0..5 {
                        push(&l, name);
                        h2.yield_now().await;
                    }
                })
            })
            .collect();
        let _ = within(&h, Duration::from_secs(2), async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
        let expected: Vec<&str> = (0..5).flat_map(|_| ["a", "b"]).collect();
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": expected }),
        )
    })
}

scenario! {
    /// L3 probe: cooperative budgets; asyncio never suspends a read that has data ready.
    CoopBudget = "probe.coop_budget", "probe", "L3",
    "1,000 reads of 8 bytes from the runtime's own TCP stream with 8,000 bytes buffered: no forced yield (asyncio never suspends a ready read)",
    timing: false, kills: ["forced_yield"], run: coop_budget
}

fn coop_budget<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let std_listener = match bind_listener("127.0.0.1:0".parse().expect("addr")) {
            Ok(l) => l,
            Err(e) => return Observation::deviates(format!("bind: {e}"), "no I/O error"),
        };
        let addr = match std_listener.local_addr() {
            Ok(a) => a,
            Err(e) => return Observation::deviates(format!("addr: {e}"), "no I/O error"),
        };
        let mut listener = match h.adopt_listener(std_listener) {
            Ok(l) => l,
            Err(e) => return Observation::deviates(format!("adopt: {e}"), "no I/O error"),
        };
        let writer = std::thread::spawn(move || -> std::io::Result<std::net::TcpStream> {
            use std::io::Write;
            let mut c = std::net::TcpStream::connect(addr)?;
            c.write_all(&[7u8; 8000])?;
            Ok(c)
        });
        let Some(Ok((mut s, _))) = within(&h, Duration::from_secs(3), listener.accept()).await
        else {
            return Observation::deviates("no connection accepted", "a connection");
        };
        let Ok(Ok(_client)) = writer.join() else {
            return Observation::deviates("the writer failed", "8,000 bytes written");
        };
        // Let all 8,000 bytes arrive before reading.
        let mut probe = [0u8; 8];
        if within(&h, Duration::from_secs(3), s.read_exact(&mut probe))
            .await
            .is_none()
        {
            return Observation::deviates("no data arrived", "8,000 bytes");
        }
        h.sleep(Duration::from_millis(20)).await;
        let mut forced = 0usize;
        let mut reads = 1usize;
        let mut buf = [0u8; 8];
        while reads < 1000 {
            let mut fut = s.read(&mut buf);
            let mut fut = std::pin::Pin::new(&mut fut);
            let n = std::future::poll_fn(|cx| {
                let p = fut.as_mut().poll(cx);
                if p.is_pending() {
                    forced += 1;
                }
                p
            })
            .await;
            match n {
                Ok(8) => reads += 1,
                other => {
                    return Observation::deviates(
                        format!("a read returned {other:?}"),
                        "8 bytes per read",
                    )
                }
            }
        }
        Observation::check(
            json!({ "pending_reads_while_data_was_ready": forced }),
            json!({ "pending_reads_while_data_was_ready": 0 }),
        )
        .measure("forced_yields_per_1000", forced as f64, "count")
    })
}

scenario! {
    /// L1 probe: run_until_complete inside a running loop is refused (asyncio: RuntimeError).
    NestedBlockOn = "probe.nested_block_on", "probe", "L1",
    "a fresh runtime's block_on called inside a task is refused with an error (asyncio: RuntimeError)",
    timing: false, kills: ["nested_run_allowed"], run: nested_block_on
}

fn nested_block_on<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let t = h.spawn(async {
            std::panic::catch_unwind(|| {
                let inner = R::build(&harness::RuntimeConfig::default())
                    .map_err(|e| format!("build: {e}"))?;
                let ih = inner.handle();
                let v = inner.block_on(async move {
                    ih.sleep(Duration::from_millis(1)).await;
                    7
                });
                drop(inner);
                Ok::<_, String>(v)
            })
        });
        let nested = match t.await {
            Ok(Err(_refusal)) => json!("refused"),
            Ok(Ok(Ok(7))) => json!("ran to completion"),
            Ok(Ok(Ok(v))) => json!({ "returned": v }),
            Ok(Ok(Err(e))) => json!({ "error": e }),
            Err(e) => json!({ "task": e.to_string() }),
        };
        Observation::check(
            json!({ "nested_block_on": nested }),
            json!({ "nested_block_on": "refused" }),
        )
    })
}

scenario! {
    /// L6 probe: spawning from a plain thread through the handle.
    SpawnFromThread = "probe.spawn_from_plain_thread", "probe", "L6",
    "a plain thread spawns a task through the handle while the loop waits on a 1 s timer: it runs",
    timing: false, kills: ["lost_wakeup"], run: spawn_from_thread
}

fn spawn_from_thread<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let (tx, rx) = futures::channel::oneshot::channel::<u8>();
        let h2 = h.clone();
        let thread = std::thread::spawn(move || {
            // Once the loop is waiting: a spawn that lands before it parks needs no wake-up,
            // and would let a loop that loses cross-thread wake-ups pass.
            std::thread::sleep(Duration::from_millis(100));
            h2.spawn(async move {
                let _ = tx.send(9);
            })
            .detach();
        });
        let got = within(&h, Duration::from_secs(1), rx).await;
        let _ = thread.join();
        Observation::check(
            json!({ "task_ran": matches!(got, Some(Ok(9))) }),
            json!({ "task_ran": true }),
        )
    })
}

scenario! {
    /// C6 probe: destructors of tasks still pending when the runtime is dropped.
    RuntimeDropCleanup = "probe.runtime_drop_cleanup", "probe", "C6",
    "dropping the runtime with 3 pending tasks runs their destructors (asyncio: pending tasks destroyed)",
    timing: false, kills: ["shutdown_leaks_tasks"], run: runtime_drop_cleanup
}

fn runtime_drop_cleanup<R: Runtime>() -> Observation {
    let rt = match crate::build::<R>() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    let h = rt.handle();
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let s = started.clone();
        let flag = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let own_handle = h.clone();
        h.spawn(async move {
            let _guard = CountOnDrop(d, DropFlag(flag));
            // Tasks commonly hold a runtime handle (to spawn or sleep); holding one must not
            // keep the runtime, and so the task, alive after the runtime is dropped.
            let _handle = own_handle;
            s.fetch_add(1, Ordering::SeqCst);
            futures::future::pending::<()>().await;
        })
        .detach();
    }
    let (h2, s) = (h.clone(), started.clone());
    rt.block_on(async move {
        eventually(&h2, Duration::from_secs(1), || {
            s.load(Ordering::SeqCst) == 3
        })
        .await;
    });
    drop(h);
    drop(rt);
    Observation::check(
        json!({ "destructors_run": dropped.load(Ordering::SeqCst) }),
        json!({ "destructors_run": 3 }),
    )
}

/// Counts a drop.
struct CountOnDrop(Arc<AtomicUsize>, #[allow(dead_code)] DropFlag);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

scenario! {
    /// L3 probe: the order in which tasks spawned from a task first run (one worker).
    SpawnOrderFromTask = "probe.spawn_order_from_task", "probe", "L3",
    "5 tasks spawned from a task first run in spawn order (one worker thread)",
    timing: false, kills: ["lifo_ready_queue"], run: spawn_order_from_task
}

fn spawn_order_from_task<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let l = log.clone();
                h.spawn(async move { push(&l, i) })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": [0, 1, 2, 3, 4] }),
        )
    })
}

scenario! {
    /// L3 probe: the order in which tasks spawned from a plain thread first run (one worker).
    SpawnOrderFromThread = "probe.spawn_order_from_thread", "probe", "L3",
    "10 tasks spawned from a plain thread while the loop is busy first run in spawn order (one worker thread)",
    timing: false, kills: ["lifo_ready_queue"], run: spawn_order_from_thread
}

fn spawn_order_from_thread<R: Runtime>() -> Observation {
    on_one_worker::<R, _, _>(|h| async move {
        let log = new_log();
        let sent = Arc::new(AtomicBool::new(false));
        let (l, s, h2) = (log.clone(), sent.clone(), h.clone());
        let thread = std::thread::spawn(move || {
            for i in 0..10 {
                let l = l.clone();
                h2.spawn(async move { push(&l, i) }).detach();
            }
            s.store(true, Ordering::SeqCst);
        });
        // Keep the loop busy while the thread spawns, so all ten wait together.
        spin_until(Duration::from_millis(200), || sent.load(Ordering::SeqCst));
        let _ = thread.join();
        let l = log.clone();
        eventually(&h, Duration::from_secs(2), || events(&l).len() >= 10).await;
        Observation::check(
            json!({ "order": events(&log) }),
            json!({ "order": (0..10).collect::<Vec<_>>() }),
        )
    })
}

scenario! {
    /// L6 measurement: wake-up latency of a task woken from another thread.
    WakeupLatency = "probe.wakeup_latency", "probe", "L6",
    "latency from a plain thread's send to the woken task running (30 samples): each within 250 ms; p50/p99",
    timing: true, kills: ["lost_wakeup"], run: wakeup_latency
}

fn wakeup_latency<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let mut samples = Vec::new();
        let mut slow = 0;
        for _ in 0..30 {
            let (tx, rx) = futures::channel::oneshot::channel::<Instant>();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                let _ = tx.send(Instant::now());
            });
            if let Some(Ok(sent)) = within(&h, Duration::from_secs(1), rx).await {
                let latency = sent.elapsed();
                if latency > Duration::from_millis(250) {
                    slow += 1;
                }
                samples.push(us(latency));
            }
            let _ = thread.join();
        }
        let n = samples.len();
        Observation::check(
            json!({ "woken": n, "woken_later_than_250ms": slow }),
            json!({ "woken": 30, "woken_later_than_250ms": 0 }),
        )
        .measure("wakeup_p50", percentile(&mut samples, 50.0), "us")
        .measure("wakeup_p99", percentile(&mut samples, 99.0), "us")
    })
}

scenario! {
    /// L4 probe: a socket that is always readable against a 10 ms timer on one thread.
    IoVsTimer = "probe.io_vs_timer", "probe", "L4",
    "for 300 ms a writer task keeps a socket readable and a reader task drains it; a 10 ms timer on the same loop still fires within slack (one worker)",
    timing: true, kills: ["io_starves_timers"], run: io_vs_timer
}

fn io_vs_timer<R: Runtime>() -> Observation {
    const HOT_FOR: Duration = Duration::from_millis(300);
    on_one_worker::<R, _, _>(|h| async move {
        let std_listener = match bind_listener("127.0.0.1:0".parse().expect("addr")) {
            Ok(l) => l,
            Err(e) => return Observation::deviates(format!("bind: {e}"), "no I/O error"),
        };
        let Ok(addr) = std_listener.local_addr() else {
            return Observation::deviates("no local address", "no I/O error");
        };
        let Ok(mut listener) = h.adopt_listener(std_listener) else {
            return Observation::deviates("adopt failed", "no I/O error");
        };
        let Some(Ok(mut client)) = within(&h, Duration::from_secs(3), h.connect(addr)).await else {
            return Observation::deviates("connect failed", "a connection");
        };
        let Some(Ok((mut server, _))) = within(&h, Duration::from_secs(3), listener.accept()).await
        else {
            return Observation::deviates("no connection accepted", "a connection");
        };
        let started = Instant::now();
        let h2 = h.clone();
        let writer = h.spawn(async move {
            let chunk = [1u8; 4096];
            while started.elapsed() < HOT_FOR {
                if client.write_all(&chunk).await.is_err() {
                    break;
                }
                h2.yield_now().await;
            }
        });
        let h2 = h.clone();
        let reader = h.spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            while started.elapsed() < HOT_FOR {
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n as u64,
                }
                h2.yield_now().await;
            }
            total
        });
        let timer_started = Instant::now();
        let fired = within(
            &h,
            Duration::from_secs(2),
            h.sleep(Duration::from_millis(10)),
        )
        .await
        .is_some();
        let after = timer_started.elapsed();
        let _ = within(&h, Duration::from_secs(2), writer).await;
        let read = within(&h, Duration::from_secs(2), reader).await;
        let slack = crate::support::late_slack(Duration::from_millis(10));
        let read_bytes = match read {
            Some(Ok(n)) => n,
            _ => 0,
        };
        Observation::check(
            json!({ "timer_fired": fired, "within_slack": after <= Duration::from_millis(10) + slack, "reader_got_data": read_bytes > 0 }),
            json!({ "timer_fired": true, "within_slack": true, "reader_got_data": true }),
        )
        .measure("timer_fired_after", ms(after), "ms")
        .measure("bytes_read_meanwhile", read_bytes as f64, "bytes")
    })
}

scenario! {
    /// X1 probe: tokio's timer used inside this runtime.
    ForeignTokioSleep = "probe.foreign_tokio_sleep", "probe", "X1",
    "a task awaits tokio::time::sleep(1 ms) on this runtime: it completes (on tokio), or the panic is recorded and the loop goes on",
    timing: false, kills: ["panic_payload_lost"], run: foreign_tokio_sleep
}

fn foreign_tokio_sleep<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let t = h.spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            "slept"
        });
        let joined = match within(&h, Duration::from_secs(2), join_outcome(t)).await {
            Some(v) => v,
            None => json!("still pending after 2 s"),
        };
        yields(&h, 2).await;
        let next = join_outcome(h.spawn(async { 1u8 })).await;
        Observation::check(
            json!({ "joined": joined, "next_task": next }),
            json!({ "joined": { "value": "slept" }, "next_task": { "value": 1 } }),
        )
    })
}

scenario! {
    /// X1 probe: tokio's TcpStream used inside this runtime.
    ForeignTokioTcp = "probe.foreign_tokio_tcp", "probe", "X1",
    "a task connects a tokio::net::TcpStream on this runtime: it works (on tokio), or the panic is recorded and the loop goes on",
    timing: false, kills: ["panic_payload_lost"], run: foreign_tokio_tcp
}

fn foreign_tokio_tcp<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskPanicJoin]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => return Observation::deviates(format!("bind: {e}"), "no I/O error"),
        };
        let Ok(addr) = listener.local_addr() else {
            return Observation::deviates("no local address", "no I/O error");
        };
        let t = h.spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            tokio::io::AsyncWriteExt::write_all(&mut s, b"hi")
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>("connected")
        });
        let joined = match within(&h, Duration::from_secs(2), join_outcome(t)).await {
            Some(v) => v,
            None => json!("still pending after 2 s"),
        };
        drop(listener);
        let next = join_outcome(h.spawn(async { 1u8 })).await;
        Observation::check(
            json!({ "joined": joined, "next_task": next }),
            json!({ "joined": { "value": { "Ok": "connected" } }, "next_task": { "value": 1 } }),
        )
    })
}
