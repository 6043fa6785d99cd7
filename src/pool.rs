//! Cells in parallel, with the invariant that a timing-sensitive cell never shares the CPU.
//!
//! Most conformance cells spend their time waiting (a sleep, a wake-up from another thread),
//! so running a few at once shortens a matrix without changing what a cell sees. A cell whose
//! scenario measures time (`ScenarioDef::timing_sensitive`) runs alone: every cell started
//! before it has finished, and none starts until it has. The cells that share run first and
//! the alone ones after them, so the running cells drain once, not before each alone cell (on
//! 2 cores, `conformance --twin-mutants --jobs 4`: 27.8 s with them in item order).
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

/// The default number of cells at once: twice the machine's cores (2 when unknown, at most
/// 64). The cells mostly wait, and those that measure time run alone anyway: on 2 cores the
/// default matrix (`conformance --runtime all`, 1,023 cells) took 52.5 s at 2 at once and
/// 40.5 s at 4, with the same verdicts (0 fail; 85 or 86 differs either way, one uvloop
/// timer cell varying from run to run).
pub fn default_jobs() -> usize {
    (2 * std::thread::available_parallelism().map_or(1, NonZeroUsize::get)).min(64)
}

/// Runs `work` on every item with up to `jobs` at once, an item for which `alone` is true
/// with nothing else running: first the others (started in item order), then those one by
/// one (in item order). `done` sees each result on this thread as it completes (in
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
    let (alone, shared): (Vec<usize>, Vec<usize>) = if jobs <= 1 {
        ((0..items.len()).collect(), Vec::new())
    } else {
        (0..items.len()).partition(|&i| alone(&items[i]))
    };
    if !shared.is_empty() {
        run_segment(items, &shared, jobs, &work, &mut done, &mut out)?;
    }
    for i in alone {
        crate::util::yield_if_interrupted();
        let value = work(&items[i]).inspect_err(|_| crate::util::yield_if_interrupted())?;
        done(&items[i], &value)?;
        out[i] = Some(value);
    }
    Ok(out
        .into_iter()
        .map(|v| v.expect("every item ran"))
        .collect())
}

/// The items at `indices` (started in that order) on up to `jobs` threads.
fn run_segment<I, T, E>(
    items: &[I],
    indices: &[usize],
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
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<T, E>)>();
    let mut first_error = None;
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(indices.len()) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                crate::util::yield_if_interrupted();
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Some(&i) = indices.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    break;
                };
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
    fn the_alone_items_run_after_the_others_one_by_one_in_item_order() {
        let items: Vec<u32> = (0..30).collect();
        let started = Mutex::new(Vec::new());
        let out = run_ordered(
            &items,
            4,
            |i| i % 5 == 0,
            |&i| {
                started.lock().unwrap().push(i);
                Ok::<_, ()>(i)
            },
            |_, _| Ok(()),
        )
        .unwrap();
        assert_eq!(out, items);
        let started = started.into_inner().unwrap();
        let (shared, alone) = started.split_at(24);
        assert!(shared.iter().all(|i| i % 5 != 0), "{started:?}");
        assert_eq!(alone, [0, 5, 10, 15, 20, 25]);
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
