//! Tests of asyncio's loop API: call_soon order, timers, stop/restart, cross-thread wake,
//! debug mode.

use std::time::{Duration, Instant};

use harness::RuntimeHandle;

use super::super::{DebugReport, Evloop};
use super::{on_both_drivers, Log, TestLoop, SLACK};

fn call_soon_runs_in_fifo_order_never_nested<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let log: Log<&str> = Default::default();
    let el = ev.event_loop().clone();
    for name in ["a", "b", "c"] {
        let (log, el) = (log.clone(), el.clone());
        ev.event_loop().call_soon(move || {
            log.borrow_mut().push(name);
            let inner = log.clone();
            // Queued from inside a callback: runs after every callback queued before it.
            el.call_soon(move || inner.borrow_mut().push("inner"));
        });
    }
    let el2 = el.clone();
    ev.event_loop()
        .call_soon(move || el2.call_soon(move || el.stop()));
    ev.event_loop().run_forever();
    assert_eq!(*log.borrow(), ["a", "b", "c", "inner", "inner", "inner"]);
}

fn call_soon_runs_before_a_timer_with_positive_delay<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let log: Log<&str> = Default::default();
    let l = log.clone();
    ev.event_loop()
        .call_later(Duration::from_millis(1), move || {
            l.borrow_mut().push("later")
        });
    let l = log.clone();
    ev.event_loop()
        .call_soon(move || l.borrow_mut().push("soon"));
    ev.event_loop().run_until_complete(async {
        super::super::Sleep::after(Duration::from_millis(20)).await;
    });
    assert_eq!(*log.borrow(), ["soon", "later"]);
}

fn timers_fire_in_order_never_early_and_cancel<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let log: Log<(u32, Instant, Instant)> = Default::default();
    let start = ev.event_loop().time();
    for (n, us) in [(3u32, 3000u64), (1, 300), (2, 1500), (4, 4000)] {
        let due = start + Duration::from_micros(us);
        let l = log.clone();
        ev.event_loop()
            .call_at(due, move || l.borrow_mut().push((n, due, Instant::now())));
    }
    let l = log.clone();
    let cancelled = ev
        .event_loop()
        .call_later(Duration::from_micros(2000), move || {
            l.borrow_mut().push((99, start, start))
        });
    assert!(cancelled.cancel());
    assert!(!cancelled.cancel());
    let el = ev.event_loop().clone();
    ev.event_loop()
        .call_later(Duration::from_millis(10), move || el.stop());
    ev.event_loop().run_forever();
    let log = log.borrow();
    let order: Vec<u32> = log.iter().map(|e| e.0).collect();
    assert_eq!(order, [1, 2, 3, 4]);
    for (n, due, ran) in log.iter() {
        assert!(ran >= due, "timer {n} ran {:?} early", *due - *ran);
        assert!(*ran < *due + SLACK, "timer {n} ran {:?} late", *ran - *due);
    }
}

fn sleep_is_never_early_with_sub_millisecond_deadlines<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let h = ev.event_loop().handle();
    ev.event_loop().run_until_complete(async move {
        for us in [50u64, 250, 700, 1300] {
            let start = Instant::now();
            h.sleep(Duration::from_micros(us)).await;
            let took = start.elapsed();
            assert!(
                took >= Duration::from_micros(us),
                "{us} µs sleep took {took:?}"
            );
            assert!(took < SLACK);
            let deadline = Instant::now() + Duration::from_micros(us);
            h.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
        }
    });
    assert_eq!(ev.event_loop().census().1, 0, "no timer left behind");
}

fn stop_lets_queued_callbacks_run_and_restart_loses_nothing<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let log: Log<u32> = Default::default();
    let el = ev.event_loop().clone();
    let (l, e) = (log.clone(), el.clone());
    ev.event_loop().call_soon(move || {
        l.borrow_mut().push(1);
        e.stop();
        // Queued after stop(): must survive into the next run.
        let l2 = l.clone();
        e.call_soon(move || l2.borrow_mut().push(3));
    });
    let l = log.clone();
    ev.event_loop().call_soon(move || l.borrow_mut().push(2)); // already queued when stop() is called
    ev.event_loop().run_forever();
    assert_eq!(*log.borrow(), [1, 2]);
    // stop() before run_forever: the next run does one iteration and returns.
    ev.event_loop().stop();
    ev.event_loop().run_forever();
    assert_eq!(*log.borrow(), [1, 2, 3]);
    // And the loop still runs normally afterwards.
    assert_eq!(ev.event_loop().run_until_complete(async { 7 }), 7);
}

fn call_soon_threadsafe_wakes_a_loop_blocked_waiting_for_io<L: TestLoop>() {
    let Some(ev) = L::new_loop() else { return };
    let handle = ev.event_loop().handle();
    let log: std::sync::Arc<std::sync::Mutex<Vec<&str>>> = Default::default();
    let (l, h) = (log.clone(), handle.clone());
    let thread = std::thread::spawn(move || {
        // Give the loop time to block: nothing else (no timer, no I/O) can wake it.
        std::thread::sleep(Duration::from_millis(50));
        let h2 = h.clone();
        h.call_soon_threadsafe(move || {
            l.lock().unwrap().push("from thread");
            h2.stop();
        });
    });
    ev.event_loop().run_forever();
    thread.join().unwrap();
    assert_eq!(*log.lock().unwrap(), ["from thread"]);
}

fn debug_mode_reports_slow_callbacks_and_never_polled_tasks<L: TestLoop>() {
    let builder = Evloop::builder()
        .debug(true)
        .slow_threshold(Duration::from_millis(20));
    let Some(ev) = L::from_builder(builder) else {
        return;
    };
    ev.event_loop()
        .call_soon(|| std::thread::sleep(Duration::from_millis(60)));
    ev.event_loop().call_soon(|| {});
    let el = ev.event_loop().clone();
    ev.event_loop().call_soon(move || el.stop());
    ev.event_loop().run_forever();
    let reports = ev.event_loop().handle().debug_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        matches!(reports[0], DebugReport::SlowCallback { elapsed, .. } if elapsed >= Duration::from_millis(60)),
        "{reports:?}"
    );

    let handle = ev.event_loop().handle();
    ev.event_loop()
        .run_until_complete(handle.spawn(async {
            std::thread::sleep(Duration::from_millis(60));
        }))
        .unwrap();
    let reports = ev.event_loop().handle().debug_reports();
    assert!(
        matches!(reports.last(), Some(DebugReport::SlowTaskPoll { .. })),
        "{reports:?}"
    );

    let never = handle.spawn(async {});
    drop(ev);
    let reports = handle.debug_reports();
    assert!(
        matches!(reports.last(), Some(DebugReport::NeverPolled { .. })),
        "{reports:?}"
    );
    let outcome = futures::executor::block_on(never);
    assert_eq!(outcome, Err(harness::JoinError::Cancelled));
}

on_both_drivers!(
    call_soon_runs_in_fifo_order_never_nested,
    call_soon_runs_before_a_timer_with_positive_delay,
    timers_fire_in_order_never_early_and_cancel,
    sleep_is_never_early_with_sub_millisecond_deadlines,
    stop_lets_queued_callbacks_run_and_restart_loses_nothing,
    call_soon_threadsafe_wakes_a_loop_blocked_waiting_for_io,
    debug_mode_reports_slow_callbacks_and_never_polled_tasks,
);
