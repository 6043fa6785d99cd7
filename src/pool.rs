//! Cells in parallel, with the invariant that a timing-sensitive cell never shares the CPU.
//!
//! Most conformance cells spend their time waiting (a sleep, a wake-up from another thread),
//! so running a few at once shortens a matrix without changing what a cell sees. A cell whose
//! scenario measures time (`ScenarioDef::timing_sensitive`) or is a harness self-test runs
//! alone: every cell started before it has finished, and none starts until it has.
//!
//! [`run_ordered`] keeps the callers' one-at-a-time shape: results come back in item order,
//! and `done` (the progress bar, the journal) runs on the calling thread as each item
//! completes. The first error stops new items from starting and is returned once the items
//! already running have finished. After an interrupt (SIGINT/SIGTERM) no item starts and no
//! error is returned: the threads wait for the interrupt handler to end the process, so a
//! child killed by the interrupt is never reported as a failure.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// The default number of cells at once: the machine's cores (1 when unknown).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Runs `work` on every item with up to `jobs` at once, an item for which `alone` is true
/// with nothing else running; `done` sees each result on this thread as it completes (in
/// completion order). Returns the results in item order, or the first error.
pub fn run_ordered<I, T, E>(
    items: &[I],
    jobs: usize,
    alone: impl Fn(&I) -> bool,
    work: impl Fn(&I) -> Result<T, E> + Sync,
    mut done: impl FnMut(&I, &T) -> Result<(), E>,
) -> Result<Vec<T>, E>
where
    I: Sync,
    T: Send,
    E: Send,
{
    let mut out: Vec<Option<T>> = Vec::with_capacity(items.len());
    out.resize_with(items.len(), || None);
    let mut start = 0;
    while start < items.len() {
        if alone(&items[start]) || jobs <= 1 {
            crate::util::yield_if_interrupted();
            let value = work(&items[start]).inspect_err(|_| crate::util::yield_if_interrupted())?;
            done(&items[start], &value)?;
            out[start] = Some(value);
            start += 1;
            continue;
        }
        // The longest run of items that may share the CPU, from `start`.
        let end = (start..items.len())
            .find(|&i| alone(&items[i]))
            .unwrap_or(items.len());
        run_segment(items, start, end, jobs, &work, &mut done, &mut out)?;
        start = end;
    }
    Ok(out
        .into_iter()
        .map(|v| v.expect("every item ran"))
        .collect())
}

/// Items `start..end` on up to `jobs` threads.
fn run_segment<I, T, E>(
    items: &[I],
    start: usize,
    end: usize,
    jobs: usize,
    work: &(impl Fn(&I) -> Result<T, E> + Sync),
    done: &mut impl FnMut(&I, &T) -> Result<(), E>,
    out: &mut [Option<T>],
) -> Result<(), E>
where
    I: Sync,
    T: Send,
    E: Send,
{
    let next = AtomicUsize::new(start);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<T, E>)>();
    let mut first_error = None;
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(end - start) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                crate::util::yield_if_interrupted();
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= end {
                    break;
                }
                if tx.send((i, work(&items[i]))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            if result.is_err() {
                crate::util::yield_if_interrupted();
            }
            let handled = result.and_then(|value| {
                done(&items[i], &value)?;
                out[i] = Some(value);
                Ok(())
            });
            if let Err(e) = handled {
                stop.store(true, Ordering::SeqCst);
                first_error.get_or_insert(e);
            }
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::run_ordered;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    #[test]
    fn results_in_item_order_and_done_once_each() {
        let items: Vec<u32> = (0..50).collect();
        let mut seen = Vec::new();
        let out = run_ordered(
            &items,
            4,
            |_| false,
            |&i| {
                std::thread::sleep(std::time::Duration::from_micros(u64::from(50 - i) * 20));
                Ok::<_, ()>(i * 2)
            },
            |&i, &v| {
                assert_eq!(v, i * 2);
                seen.push(i);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        seen.sort_unstable();
        assert_eq!(seen, items);
    }

    #[test]
    fn an_alone_item_never_overlaps_another_and_jobs_bound_the_rest() {
        let items: Vec<u32> = (0..40).collect();
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let alone_running = AtomicBool::new(false);
        let overlaps = Mutex::new(Vec::new());
        let alone = |i: &u32| i % 7 == 3;
        run_ordered(
            &items,
            3,
            alone,
            |i| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                if alone(i) {
                    alone_running.store(true, Ordering::SeqCst);
                }
                let overlapped_at_start = alone_running.load(Ordering::SeqCst) && now != 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
                let overlapped_at_end =
                    alone_running.load(Ordering::SeqCst) && running.load(Ordering::SeqCst) != 1;
                if overlapped_at_start || overlapped_at_end {
                    overlaps.lock().unwrap().push(*i);
                }
                if alone(i) {
                    alone_running.store(false, Ordering::SeqCst);
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            },
            |_, _| Ok(()),
        )
        .unwrap();
        assert!(overlaps.lock().unwrap().is_empty(), "{overlaps:?}");
        assert!(most.load(Ordering::SeqCst) > 1, "never ran two at once");
        assert!(most.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn the_first_error_stops_new_items() {
        let items: Vec<u32> = (0..200).collect();
        let started = AtomicUsize::new(0);
        let err = run_ordered(
            &items,
            2,
            |_| false,
            |&i| {
                started.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(1));
                if i == 5 {
                    Err(format!("item {i}"))
                } else {
                    Ok(i)
                }
            },
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err, "item 5");
        assert!(started.load(Ordering::SeqCst) < 200);
    }

    #[test]
    fn an_error_from_done_is_returned() {
        let items = [1, 2, 3];
        let err = run_ordered(
            &items,
            2,
            |_| false,
            |&i| Ok::<_, String>(i),
            |&i, _| {
                if i == 2 {
                    Err("journal".to_string())
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(err, "journal");
    }
}
