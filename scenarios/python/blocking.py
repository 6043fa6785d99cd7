"""Twins of scenarios/src/blocking.rs (rules T1-T3, F2): run_in_executor with a
ThreadPoolExecutor of the Rust scenario's blocking_threads."""

import asyncio
import concurrent.futures
import threading
import time

from twinlib import LOOP_NAME, check, deviates, eventually, join, ms, new_loop, run, spin_until, within
import twinlib


def _with_pool(n, body):
    async def main():
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=n)
        asyncio.get_running_loop().set_default_executor(pool)
        return await body()
    return run(main)


class _Peak:
    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.threads = set()

    def enter(self):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.get_ident())
            return self.running

    def leave(self):
        with self.lock:
            self.running -= 1


def pool_limit():
    async def body():
        loop = asyncio.get_running_loop()
        p = _Peak()

        def job():
            p.enter()
            time.sleep(0.03)
            p.leave()

        jobs = [loop.run_in_executor(None, job) for _ in range(6)]
        ok = 0
        for j in jobs:
            ok += isinstance(await join(j), dict) and "value" in await join(j)
        return check({"completed": ok, "peak_concurrency": p.peak},
                     {"completed": 6, "peak_concurrency": 2}).measure("peak_concurrency", float(p.peak), "count")
    return _with_pool(2, body)


def loop_not_stalled():
    async def main():
        loop = asyncio.get_running_loop()
        caller = threading.get_ident()

        def job():
            time.sleep(0.1)
            return threading.get_ident() != caller

        j = loop.run_in_executor(None, job)
        ticks = 0
        while True:
            tick = asyncio.ensure_future(asyncio.sleep(0.005))
            done, _ = await asyncio.wait([j, tick], return_when=asyncio.FIRST_COMPLETED)
            if j in done:
                tick.cancel()
                break
            ticks += 1
        return check({"at_least_5_ticks": ticks >= 5, "job": await join(j)},
                     {"at_least_5_ticks": True, "job": {"value": True}}).measure("ticks_during_job", float(ticks), "count")
    return run(main)


def blocking_panic():
    async def main():
        loop = asyncio.get_running_loop()

        def boom():
            raise Exception("boom in pool")

        failed = await join(loop.run_in_executor(None, boom))
        after = await join(loop.run_in_executor(None, lambda: 3))
        return check({"joined": failed, "next_job": after},
                     {"joined": {"panicked": "boom in pool"}, "next_job": {"value": 3}})
    return run(main)


def pool_saturation():
    async def body():
        loop = asyncio.get_running_loop()
        p = _Peak()
        start = time.monotonic()
        # The first 50 jobs hold until a 51st job runs beside them (or for at most 1 s):
        # a pool that ignores its size is caught however slowly Python starts its threads
        # (10 ms jobs alone let a thread-per-call executor stay under 50 on a loaded machine,
        # where starting a thread took longer than a job), and a bounded pool costs 1 s more.
        exceeded = threading.Event()

        def job(held):
            if p.enter() > 50:
                exceeded.set()
            if held:
                exceeded.wait(1.0)
            else:
                time.sleep(0.01)
            p.leave()

        jobs = [loop.run_in_executor(None, job, i < 50) for i in range(1000)]
        completed = 0
        for j in jobs:
            completed += "value" in await join(j)
        total = time.monotonic() - start
        return check({"completed": completed, "peak_within_the_bound": p.peak <= 50},
                     {"completed": 1000, "peak_within_the_bound": True}).measure(
            "peak_concurrency", float(p.peak), "count").measure(
            "threads_used", float(len(p.threads)), "count").measure("total", ms(total), "ms")
    return _with_pool(50, body)


def drop_waits_for_job():
    """Dropping the runtime is the end of asyncio.run: it waits for the default executor."""
    started, finished = [False], [False]

    def job():
        started[0] = True
        time.sleep(0.3)
        finished[0] = True

    async def main():
        asyncio.get_running_loop().run_in_executor(None, job)
        await eventually(2, lambda: started[0])

    runner = asyncio.Runner(loop_factory=twinlib.new_loop)
    runner.run(main())
    dropping = time.monotonic()
    runner.close()  # what asyncio.run does on its way out
    drop_took = time.monotonic() - dropping
    finished_at_drop = finished[0]
    later = spin_until(1, lambda: finished[0])
    return check({"job_finished_when_drop_returned": finished_at_drop, "job_finished_within_1s": later},
                 {"job_finished_when_drop_returned": True, "job_finished_within_1s": True}).measure(
        "drop_took", ms(drop_took), "ms")


def from_plain_thread():
    async def main():
        loop = asyncio.get_running_loop()
        box = []

        def plain():
            # asyncio's way in from a plain thread: hand the loop a coroutine that starts the job.
            async def start():
                return loop.run_in_executor(None, lambda: (time.sleep(0.02), 42)[1])
            box.append(asyncio.run_coroutine_threadsafe(start(), loop))

        th = threading.Thread(target=plain)
        th.start()
        th.join()
        waiting = time.monotonic()
        ok, got = await within(1, join(asyncio.wrap_future(box[0])))
        if ok and "value" in got:
            ok, got = await within(1, join(got["value"]))
        waited = time.monotonic() - waiting
        return check({"joined": got if ok else "no result within 1 s", "resumed_later_than_500ms": waited > 0.5},
                     {"joined": {"value": 42}, "resumed_later_than_500ms": False}).measure("waited", ms(waited), "ms")
    return run(main)


TWINS = {
    "blocking.pool_limit": pool_limit,
    "blocking.loop_not_stalled": loop_not_stalled,
    "blocking.panic_is_error": blocking_panic,
    "blocking.pool_saturation": pool_saturation,
    "blocking.drop_waits_for_job": drop_waits_for_job,
    "blocking.from_plain_thread": from_plain_thread,
}

KILLS = {
    "blocking.pool_limit": ["blocking_unbounded", "blocking_inline"],
    "blocking.loop_not_stalled": ["blocking_inline"],
    "blocking.panic_is_error": ["panic_payload_lost"],
    "blocking.pool_saturation": ["blocking_unbounded"],
    "blocking.drop_waits_for_job": ["shutdown_abandons_jobs"],
    "blocking.from_plain_thread": ["lost_wakeup"],
}
