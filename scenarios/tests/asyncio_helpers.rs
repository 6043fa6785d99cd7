//! Unit tests of the asyncio helpers (`scenarios::asyncio`) on one runtime (tokio-ct):
//! gather order, wait done/pending, wait_for timeout, as_completed order, Queue bounds.

use std::time::Duration;

use futures::StreamExt;
use harness::{Runtime, RuntimeConfig, RuntimeHandle};
use runtimes::tokio_rt::TokioCt;
use scenarios::asyncio::combinators::{as_completed, gather, wait, wait_for, TimedOut};
use scenarios::asyncio::sync::Queue;

fn rt() -> TokioCt {
    TokioCt::build(&RuntimeConfig::default()).expect("runtime")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn gather_keeps_argument_order() {
    let rt = rt();
    let h = rt.handle();
    let got = rt.block_on(async move {
        let futs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|d| {
                let h2 = h.clone();
                async move {
                    h2.sleep(ms(d)).await;
                    d
                }
            })
            .collect();
        gather(&h, futs).await
    });
    assert_eq!(got, vec![Ok(30), Ok(10), Ok(20)]);
}

#[test]
fn wait_splits_done_and_pending_and_wait_for_times_out() {
    let rt = rt();
    let h = rt.handle();
    rt.block_on(async move {
        let tasks: Vec<_> = [5u64, 300]
            .into_iter()
            .map(|d| {
                let h2 = h.clone();
                h.spawn(async move {
                    h2.sleep(ms(d)).await;
                    d
                })
            })
            .collect();
        let w = wait(&h, tasks, Some(ms(50))).await;
        assert_eq!(w.done, vec![(0, Ok(5))]);
        assert_eq!(w.pending.len(), 1);
        let h2 = h.clone();
        let r = wait_for(&h, async move { h2.sleep(ms(500)).await }, ms(10)).await;
        assert_eq!(r, Err(TimedOut));
    });
}

#[test]
fn as_completed_yields_in_completion_order() {
    let rt = rt();
    let h = rt.handle();
    let got: Vec<_> = rt.block_on(async move {
        let tasks: Vec<_> = [40u64, 10, 25]
            .into_iter()
            .map(|d| {
                let h2 = h.clone();
                h.spawn(async move {
                    h2.sleep(ms(d)).await;
                    d
                })
            })
            .collect();
        as_completed(tasks).map(|r| r.unwrap()).collect().await
    });
    assert_eq!(got, vec![10, 25, 40]);
}

#[test]
fn queue_is_bounded_and_fifo() {
    let rt = rt();
    let h = rt.handle();
    rt.block_on(async move {
        let q = std::sync::Arc::new(Queue::new(2));
        q.put(1).await;
        q.put(2).await;
        assert!(q.full());
        assert_eq!(q.put_nowait(3), Err(3));
        let q2 = q.clone();
        let putter = h.spawn(async move { q2.put(3).await });
        h.sleep(ms(5)).await;
        assert_eq!(q.qsize(), 2, "the third put waits while full");
        assert_eq!(q.get().await, 1);
        putter.await.unwrap();
        assert_eq!((q.get().await, q.get().await), (2, 3));
        assert_eq!(q.get_nowait(), None);
    });
}
