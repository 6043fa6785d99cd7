//! Timers (rule L4): `sleep(0)`, the real resolution of short sleeps, deadline order, many
//! concurrent timers, and a cancelled timer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Runtime, RuntimeHandle, TaskHandle};

use crate::support::{
    events, eventually, late_slack, ms, new_log, on_runtime, percentile, push, us,
};
use crate::Observation;

scenario! {
    /// L4 probe: asyncio's `sleep(0)` is a bare yield: it suspends once.
    SleepZeroSuspends = "timers.sleep_zero_suspends", "timers", "L4",
    "sleep(0) suspends the task once (asyncio's idiom to yield), not ready on first poll",
    timing: false, run: sleep_zero_suspends
}

fn sleep_zero_suspends<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let mut s = Box::pin(h.sleep(Duration::ZERO));
        let first = futures::poll!(s.as_mut());
        if first.is_pending() {
            s.await;
        }
        if first.is_ready() {
            Observation::deviates(
                "sleep(0) was ready on its first poll: it never yields to other tasks",
                "sleep(0) suspends once",
            )
        } else {
            Observation::pass()
        }
    })
}

scenario! {
    /// L4 probe: how long short sleeps really take (figures, not verdicts).
    SleepResolution = "timers.sleep_resolution", "timers", "L4",
    "real duration of sleep(0), sleep(100 us), sleep(1 ms): median and p99; none early",
    timing: true, run: sleep_resolution
}

fn sleep_resolution<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let mut obs = Observation::pass();
        let mut early = Vec::new();
        for (name, d, n) in [
            ("sleep_0", Duration::ZERO, 200),
            ("sleep_100us", Duration::from_micros(100), 100),
            ("sleep_1ms", Duration::from_millis(1), 100),
        ] {
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                let t0 = Instant::now();
                h.sleep(d).await;
                let took = t0.elapsed();
                if took < d {
                    early.push(format!("{name} took {:.1} us", us(took)));
                }
                samples.push(us(took));
            }
            obs = obs
                .measure(&format!("{name}_p50"), percentile(&mut samples, 50.0), "us")
                .measure(&format!("{name}_p99"), percentile(&mut samples, 99.0), "us");
        }
        if !early.is_empty() {
            let m = obs.measurements;
            obs = Observation::deviates(early.join("; "), "no sleep ends before its duration");
            obs.measurements = m;
        }
        obs
    })
}

scenario! {
    /// L4: timers with distinct deadlines fire in deadline order, whatever the creation order.
    DeadlineOrder = "timers.deadline_order", "timers", "L4",
    "timers created for 80, 60, 40, 20 ms fire in deadline order (20 ms apart)",
    timing: false, run: deadline_order
}

fn deadline_order<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let log = new_log();
        let base = h.now();
        for d in [80u64, 60, 40, 20] {
            let (l, h2) = (log.clone(), h.clone());
            h.spawn(async move {
                h2.sleep_until(base + Duration::from_millis(d)).await;
                push(&l, d);
            })
            .detach();
        }
        let l = log.clone();
        eventually(&h, Duration::from_secs(3), || events(&l).len() == 4).await;
        Observation::expect_eq(events(&log), vec![20, 40, 60, 80])
    })
}

scenario! {
    /// L4: many concurrent timers, none early.
    ManyTimers = "timers.many_not_early", "timers", "L4",
    "200 concurrent sleeps of 1..=50 ms: none ends early, none beyond generous slack",
    timing: true, run: many_timers
}

fn many_timers<R: Runtime>() -> Observation {
    on_runtime::<R, _, _>(|h| async move {
        let log = new_log();
        for i in 0..200u64 {
            let (l, h2) = (log.clone(), h.clone());
            let d = Duration::from_millis(1 + i % 50);
            h.spawn(async move {
                let t0 = Instant::now();
                h2.sleep(d).await;
                push(&l, (d, t0.elapsed()));
            })
            .detach();
        }
        let l = log.clone();
        eventually(&h, Duration::from_secs(3), || events(&l).len() == 200).await;
        let fired = events(&log);
        let early = fired.iter().filter(|(d, e)| e < d).count();
        let late = fired
            .iter()
            .filter(|(d, e)| *e > *d + late_slack(*d))
            .count();
        let mut lateness: Vec<f64> = fired
            .iter()
            .map(|(d, e)| ms(e.saturating_sub(*d)))
            .collect();
        let obs = if fired.len() != 200 || early > 0 || late > 0 {
            Observation::deviates(
                format!("{} fired, {early} early, {late} beyond slack", fired.len()),
                "200 fired, none early",
            )
        } else {
            Observation::pass()
        };
        obs.measure("lateness_p50", percentile(&mut lateness, 50.0), "ms")
            .measure("lateness_p99", percentile(&mut lateness, 99.0), "ms")
    })
}

scenario! {
    /// C1 (timers): a cancelled timer task never fires.
    CancelledTimer = "timers.cancelled_never_fires", "timers", "C1",
    "a task sleeping 20 ms, aborted after 5 ms, never runs its callback",
    timing: false, run: cancelled_timer
}

fn cancelled_timer<R: Runtime>() -> Observation {
    if let Some(o) = crate::support::lacking::<R>(&[harness::Capability::TaskAbort]) {
        return o;
    }
    on_runtime::<R, _, _>(|h| async move {
        let fired = Arc::new(AtomicBool::new(false));
        let (f, h2) = (fired.clone(), h.clone());
        let mut t = h.spawn(async move {
            h2.sleep(Duration::from_millis(20)).await;
            f.store(true, Ordering::SeqCst);
        });
        h.sleep(Duration::from_millis(5)).await;
        t.abort();
        let joined = t.await;
        h.sleep(Duration::from_millis(40)).await;
        let fired = fired.load(Ordering::SeqCst);
        Observation::expect_eq((fired, joined.is_err()), (false, true))
    })
}
