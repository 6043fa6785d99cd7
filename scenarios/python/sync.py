"""Twins of scenarios/src/sync.rs (rules S1-S5): asyncio's own Lock, Event, Condition,
Semaphore and Queue (the Rust scenarios' crate::asyncio::sync is written after them).
How many wait is read from the primitives' `_waiters` (CPython asyncio/locks.py, queues.py)."""

import asyncio

from twinlib import check, eventually, join, run, within, yields


def _waiting(prim):
    return len(prim._waiters or ())


def lock_fifo():
    async def main():
        lock = asyncio.Lock()
        queued, acquired = [], []
        holders, peak = [0], [0]
        await lock.acquire()

        async def waiter(i):
            queued.append(i)
            await lock.acquire()
            holders[0] += 1
            peak[0] = max(peak[0], holders[0])
            acquired.append(i)
            await asyncio.sleep(0)
            holders[0] -= 1
            lock.release()

        tasks = [asyncio.create_task(waiter(i)) for i in range(5)]
        await eventually(1, lambda: _waiting(lock) == 5)
        lock.release()
        await within(2, asyncio.gather(*tasks))
        return check({"queued": queued, "acquired": acquired, "peak_holders": peak[0]},
                     {"queued": [0, 1, 2, 3, 4], "acquired": [0, 1, 2, 3, 4], "peak_holders": 1})
    return run(main)


def event_wakes_all():
    async def main():
        ev = asyncio.Event()
        waiting, resumed = [], []

        async def w(i):
            waiting.append(i)
            await ev.wait()
            resumed.append(i)

        tasks = [asyncio.create_task(w(i)) for i in range(3)]
        await eventually(1, lambda: _waiting(ev) == 3)
        ev.set()
        await within(2, asyncio.gather(*tasks))
        again = ev.wait()
        try:
            again.send(None)
            immediate = False
        except StopIteration:
            immediate = True
        finally:
            again.close()
        return check({"waited": waiting, "resumed": resumed, "wait_on_set_is_immediate": immediate},
                     {"waited": waiting, "resumed": waiting, "wait_on_set_is_immediate": True})
    return run(main)


def condition_notify():
    async def main():
        cond = asyncio.Condition()
        waiting, woken, held = [], [], [0]

        async def w(i):
            async with cond:
                waiting.append(i)
                await cond.wait()
                if cond.locked():
                    held[0] += 1
                woken.append(i)

        tasks = [asyncio.create_task(w(i)) for i in range(5)]
        await eventually(1, lambda: _waiting(cond) == 5)
        counts = []
        for n in [1, 2]:
            async with cond:
                cond.notify(n)
            target = (counts[-1] if counts else 0) + n
            await eventually(1, lambda: len(woken) >= target)
            await yields(20)
            counts.append(len(woken))
        async with cond:
            cond.notify_all()
        await within(2, asyncio.gather(*tasks))
        counts.append(len(woken))
        return check({"woken_after_each_notify": counts, "waited": waiting, "woken": woken, "held_the_lock": held[0]},
                     {"woken_after_each_notify": [1, 3, 5], "waited": waiting, "woken": waiting, "held_the_lock": 5})
    return run(main)


async def _peak_under(acquire, release):
    running, peak = [0], [0]

    async def job():
        await acquire()
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.01)
        running[0] -= 1
        release()

    await within(3, asyncio.gather(*(job() for _ in range(6))))
    return peak[0]


def semaphore_limit():
    async def main():
        sem = asyncio.Semaphore(2)
        peak = await _peak_under(sem.acquire, sem.release)
        return check({"peak_holders": peak}, {"peak_holders": 2})
    return run(main)


def queue_fifo_bounds():
    async def main():
        q = asyncio.Queue(2)
        await q.put(1)
        await q.put(2)
        log = []

        async def putter():
            log.append("putter waits")
            await q.put(3)
            log.append("put 3 done")

        p = asyncio.create_task(putter())
        await asyncio.sleep(0.005)
        log.append("get")
        a = await q.get()
        await p
        b = await q.get()
        c = await q.get()

        async def getter():
            log.append("getter waits")
            v = await q.get()
            log.append("get on empty done")
            return v

        g = asyncio.create_task(getter())
        await asyncio.sleep(0.005)
        log.append("put 4")
        await q.put(4)
        d = await g
        return check({"items": [a, b, c, d], "order": log},
                     {"items": [1, 2, 3, 4],
                      "order": ["putter waits", "get", "put 3 done", "getter waits", "put 4", "get on empty done"]})
    return run(main)


def queue_getters_fifo():
    async def main():
        q = asyncio.Queue(10)
        waiting, resumed = [], []

        async def getter(i):
            waiting.append(i)
            item = await q.get()
            resumed.append([i, item])

        gs = [asyncio.create_task(getter(i)) for i in range(3)]
        await eventually(1, lambda: len(waiting) == 3)
        await yields(3)
        for item in [100, 101, 102]:
            await q.put(item)
        await within(2, asyncio.gather(*gs))
        expected = [[i, item] for i, item in zip(waiting, [100, 101, 102])]
        return check({"waited": waiting, "resumed_with": resumed},
                     {"waited": waiting, "resumed_with": expected})
    return run(main)


def semaphore_fifo():
    async def main():
        sem = asyncio.Semaphore(1)
        queued, admitted = [], []
        await sem.acquire()

        async def w(i):
            queued.append(i)
            await sem.acquire()
            admitted.append(i)
            sem.release()

        tasks = [asyncio.create_task(w(i)) for i in range(4)]
        await eventually(1, lambda: _waiting(sem) == 4)
        sem.release()
        await within(2, asyncio.gather(*tasks))
        return check({"queued": queued, "admitted": admitted},
                     {"queued": [0, 1, 2, 3], "admitted": [0, 1, 2, 3]})
    return run(main)


def lock_waiter_cancelled():
    async def main():
        lock = asyncio.Lock()
        acquired = []
        await lock.acquire()

        async def waiter(name):
            await lock.acquire()
            acquired.append(name)
            lock.release()

        a = asyncio.create_task(waiter("a"))
        await eventually(1, lambda: _waiting(lock) == 1)
        b = asyncio.create_task(waiter("b"))
        await eventually(1, lambda: _waiting(lock) == 2)
        a.cancel()
        _, a_joined = await within(1, join(a))
        lock.release()
        await within(1, b)
        await yields(10)
        return check({"a": a_joined, "acquired": acquired, "lock_free_at_the_end": not lock.locked()},
                     {"a": "cancelled", "acquired": ["b"], "lock_free_at_the_end": True})
    return run(main)


TWINS = {
    "sync.lock_fifo": lock_fifo,
    "sync.lock_waiter_cancelled": lock_waiter_cancelled,
    "sync.event_wakes_all": event_wakes_all,
    "sync.condition_notify": condition_notify,
    "sync.semaphore_limit": semaphore_limit,
    "sync.semaphore_fifo": semaphore_fifo,
    "sync.queue_fifo_bounds": queue_fifo_bounds,
    "sync.queue_getters_fifo": queue_getters_fifo,
}

KILLS = {
    "sync.lock_fifo": ["lifo_ready_queue"],
    "sync.lock_waiter_cancelled": ["cancel_ignored"],
    "sync.event_wakes_all": ["lifo_ready_queue"],
    "sync.condition_notify": ["lifo_ready_queue"],
    "sync.semaphore_limit": ["short_sleeps_block"],
    "sync.semaphore_fifo": ["lifo_ready_queue"],
    "sync.queue_fifo_bounds": ["short_sleeps_block"],
    "sync.queue_getters_fifo": ["lifo_ready_queue"],
}

_RUST_TYPE = ("a Rust library type ({}) on this runtime; asyncio's own counterpart, {}, is "
              "checked by the twin of {}")
UNSUPPORTED = {
    "sync.tokio_semaphore_limit": _RUST_TYPE.format("tokio::sync::Semaphore", "asyncio.Semaphore", "sync.semaphore_limit"),
    "sync.async_lock_semaphore_limit": _RUST_TYPE.format("async_lock::Semaphore", "asyncio.Semaphore", "sync.semaphore_limit"),
    "sync.tokio_mpsc_bounded": _RUST_TYPE.format("tokio::sync::mpsc", "asyncio.Queue", "sync.queue_fifo_bounds"),
}
