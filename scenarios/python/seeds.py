"""Twins of scenarios/src/seeds.rs: the seed programs themselves, in asyncio, with the same
scaled-down durations as the Rust replay; each prints into a transcript. Where a seed prints
a Python repr the Rust replay prints its Rust form (`"the result"`, `["item 0", ...]`), the
twin prints the same line, so the two transcripts compare."""

import asyncio
import concurrent.futures
import threading
import time

from twinlib import check, join, ms1, run


def _rs(s):
    """A Rust `{:?}` of a string."""
    return '"' + s + '"'


def seed_tasks():
    async def main():
        t = []
        t.append("creating task")

        async def task_func():
            t.append("in task_func")
            return "the result"

        task = asyncio.ensure_future(task_func())
        t.append("waiting for task")
        v = await task
        t.append("task completed")
        t.append(f"return value: {_rs(v)}")
        return check({"printed": t}, {"printed": [
            "creating task", "waiting for task", "in task_func", "task completed",
            'return value: "the result"']})
    return run(main)


def seed_callbacks():
    async def main():
        loop = asyncio.get_running_loop()
        t, early = [], []
        start = time.monotonic()
        t.append("registering callbacks")

        def success(msg, due):
            def cb():
                if time.monotonic() - start < due:
                    early.append({"line": msg, "at_ms": ms1(time.monotonic() - start)})
                t.append(f"Success - {msg}")
            return cb

        loop.call_soon(success("Call soon", 0))
        loop.call_later(0.02, success("Call later 2 sec", 0.02))
        loop.call_later(0.04, success("Call later 3 sec", 0.04))
        loop.call_at(loop.time() + 3600, success("Network connect", 3600))
        await asyncio.sleep(0.06)
        return check({"printed": t, "before_their_delay": early}, {"printed": [
            "registering callbacks", "Success - Call soon", "Success - Call later 2 sec",
            "Success - Call later 3 sec"], "before_their_delay": []})
    return run(main)


def seed_future():
    async def main():
        t = []
        future = asyncio.get_running_loop().create_future()

        async def slow_operation(f):
            await asyncio.sleep(0.01)
            f.set_result("Future is done!")

        start = time.monotonic()
        keep = asyncio.ensure_future(slow_operation(future))
        await future
        waited = time.monotonic() - start
        t.append(future.result())
        del keep
        observed = {"printed": t, "main_resumed_before_the_10ms_sleep": waited < 0.01}
        if waited < 0.01:
            # How early, so a difference can be told from a broken sleep.
            observed["early_by_ms"] = round((0.01 - waited) * 1e3, 3)
        return check(observed,
                     {"printed": ["Future is done!"], "main_resumed_before_the_10ms_sleep": False})
    return run(main)


def seed_future_exception():
    async def main():
        t = []
        future = asyncio.get_running_loop().create_future()
        before = future.done()
        future.set_exception(Exception(":("))
        after = future.done()
        t.append(str(future.exception()))
        try:
            future.result()
            raised = False
        except Exception:  # noqa: BLE001
            raised = True

        async def waiter():
            try:
                return {"Ok": await future}
            except Exception as e:  # noqa: BLE001
                return {"Err": str(e)}

        awaited = await join(asyncio.ensure_future(waiter()))
        return check({"done_before": before, "done_after": after, "printed": t, "result_raised": raised,
                      "awaiting_task_got": awaited},
                     {"done_before": False, "done_after": True, "printed": [":("], "result_raised": True,
                      "awaiting_task_got": {"value": {"Err": ":("}}})
    return run(main)


async def _get_item(i, unit):
    await asyncio.sleep(unit * i)
    return f"item {i}"


def seed_gather():
    async def main():
        t = ["getting items"]
        coros = [_get_item(i, 0.01) for i in range(4)]
        t.append("waiting for tasks to complete")
        results = await asyncio.gather(*coros)
        t.append("results: [" + ", ".join(_rs(r) for r in results) + "]")
        return check({"printed": t}, {"printed": [
            "getting items", "waiting for tasks to complete",
            'results: ["item 0", "item 1", "item 2", "item 3"]']})
    return run(main)


def seed_wait_timeout():
    async def main():
        t = ["getting items"]
        unit = 0.1
        tasks = [asyncio.ensure_future(_get_item(i, unit)) for i in range(4)]
        t.append("waiting 2 seconds for tasks to complete")
        completed, pending = await asyncio.wait(tasks, timeout=unit * 3 / 2)
        results = sorted(c.result() for c in completed)
        t.append("results: [" + ", ".join(_rs(r) for r in results) + "]")
        cancelled = 0
        if pending:
            t.append("canceling remaining tasks")
            for p in pending:
                p.cancel()
            for p in pending:
                cancelled += (await join(p)) == "cancelled"
        t.append(f"{cancelled} cancelled")
        return check({"printed": t}, {"printed": [
            "getting items", "waiting 2 seconds for tasks to complete",
            'results: ["item 0", "item 1"]', "canceling remaining tasks", "2 cancelled"]})
    return run(main)


def seed_lock():
    async def main():
        loop = asyncio.get_running_loop()
        t = []
        lock = asyncio.Lock()
        t.append("acquiring the lock before starting coroutines")
        await lock.acquire()
        t.append(f"lock acquired: {lock.locked()}")

        def unlock():
            t.append("callback releasing lock")
            lock.release()

        loop.call_later(0.02, unlock)
        t.append("waiting for coroutines")

        async def coro(name):
            t.append(f"{name} waiting for the lock")
            async with lock:
                t.append(f"{name} acquired lock")
            t.append(f"{name} released lock")

        await asyncio.wait([asyncio.ensure_future(coro("coro1")), asyncio.ensure_future(coro("coro2"))])
        return check({"printed": t}, {"printed": [
            "acquiring the lock before starting coroutines", "lock acquired: True",
            "waiting for coroutines", "coro1 waiting for the lock", "coro2 waiting for the lock",
            "callback releasing lock", "coro1 acquired lock", "coro1 released lock",
            "coro2 acquired lock", "coro2 released lock"]})
    return run(main)


def seed_event():
    async def main():
        loop = asyncio.get_running_loop()
        t = []
        event = asyncio.Event()
        t.append(f"event start state: {event.is_set()}")

        def set_event():
            t.append("setting event in callback")
            event.set()

        loop.call_later(0.02, set_event)

        async def coro(name):
            t.append(f"{name} waiting for event")
            await event.wait()
            t.append(f"{name} triggered")

        await asyncio.wait([asyncio.ensure_future(coro("coro1")), asyncio.ensure_future(coro("coro2"))])
        t.append(f"event end state: {event.is_set()}")
        return check({"printed": t}, {"printed": [
            "event start state: False", "coro1 waiting for event", "coro2 waiting for event",
            "setting event in callback", "coro1 triggered", "coro2 triggered", "event end state: True"]})
    return run(main)


CONDITION_LINES = [
    "starting manipulate_condition",
    "consumer 4 is waiting", "consumer 1 is waiting", "consumer 0 is waiting",
    "consumer 2 is waiting", "consumer 3 is waiting",
    "notifying 1 consumers", "consumer 4 triggered", "ending consumer 4",
    "notifying 2 consumers", "consumer 1 triggered", "ending consumer 1",
    "consumer 0 triggered", "ending consumer 0",
    "notifying remaining consumers", "ending manipulate_condition",
    "consumer 2 triggered", "ending consumer 2", "consumer 3 triggered", "ending consumer 3",
]


def seed_condition():
    async def main():
        t = []
        cond = asyncio.Condition()

        async def manipulate_condition():
            t.append("starting manipulate_condition")
            await asyncio.sleep(0.03)
            for i in range(1, 3):
                async with cond:
                    t.append(f"notifying {i} consumers")
                    cond.notify(n=i)
                await asyncio.sleep(0.03)
            async with cond:
                t.append("notifying remaining consumers")
                cond.notify_all()
            t.append("ending manipulate_condition")

        async def consumer(n):
            async with cond:
                t.append(f"consumer {n} is waiting")
                await cond.wait()
                t.append(f"consumer {n} triggered")
            t.append(f"ending consumer {n}")

        m = asyncio.ensure_future(manipulate_condition())
        consumers = [asyncio.ensure_future(consumer(n)) for n in [4, 1, 0, 2, 3]]
        await asyncio.wait(consumers)
        await m
        return check({"printed": t}, {"printed": CONDITION_LINES})
    return run(main)


def seed_executor_gather():
    async def main():
        loop = asyncio.get_running_loop()
        t = []
        loop_thread = threading.get_ident()
        lock = threading.Lock()
        running, peak, threads = [0], [0], set()
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=3)

        def job(n):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                threads.add(threading.get_ident())
            time.sleep(0.02)
            with lock:
                running[0] -= 1
            return n * n

        t.append("creating executor tasks")
        blocking = [loop.run_in_executor(executor, job, i) for i in range(6)]
        t.append("waiting for tasks to complete")
        results = await asyncio.gather(*blocking)
        t.append(f"results: {results}")
        executor.shutdown(wait=False)
        return check({"printed": t, "a_job_ran_on_the_loop_thread": loop_thread in threads, "jobs_at_once": peak[0]},
                     {"printed": ["creating executor tasks", "waiting for tasks to complete",
                                  "results: [0, 1, 4, 9, 16, 25]"],
                      "a_job_ran_on_the_loop_thread": False, "jobs_at_once": 3})
    return run(main)


TWINS = {
    "seed.tasks": seed_tasks,
    "seed.callbacks": seed_callbacks,
    "seed.future": seed_future,
    "seed.future_exception": seed_future_exception,
    "seed.gather": seed_gather,
    "seed.wait_timeout_cancel": seed_wait_timeout,
    "seed.lock": seed_lock,
    "seed.event": seed_event,
    "seed.condition": seed_condition,
    "seed.executor_gather": seed_executor_gather,
}

KILLS = {
    "seed.tasks": ["call_soon_inline"],
    "seed.callbacks": ["timers_early"],
    "seed.future": ["timers_early"],
    "seed.future_exception": ["outcome_overwritten"],
    "seed.gather": ["outcome_overwritten"],
    "seed.wait_timeout_cancel": ["timers_insertion_order"],
    "seed.lock": ["lifo_ready_queue"],
    "seed.event": ["lifo_ready_queue"],
    "seed.condition": ["lifo_ready_queue"],
    "seed.executor_gather": ["blocking_inline", "blocking_unbounded"],
}
