"""Twins of scenarios/src/tasks.rs (rules F1, F3-F6). The Rust scenarios' join handle is a
Task here; their AioFuture is asyncio.Future."""

import asyncio

from twinlib import check, eventually, join, run, yields


def starts_later():
    async def main():
        log = []

        async def task():
            log.append("in task")

        t = asyncio.create_task(task())
        log.append("creating task")
        await t
        return check({"order": log}, {"order": ["creating task", "in task"]})
    return run(main)


def join_set_once():
    async def main():
        async def foo():
            await asyncio.sleep(0.005)
            return "foo"

        t = asyncio.create_task(foo())
        await asyncio.sleep(0)
        pending_before = not t.done()
        got = await join(t)
        return check(
            {"pending_before_the_result": pending_before, "joined": got},
            {"pending_before_the_result": True, "joined": {"value": "foo"}},
        )
    return run(main)


def done_callback_via_loop():
    async def main():
        log = []
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: log.append("callback"))
        fut.set_result(1)
        log.append("set_result returned")
        await eventually(1, lambda: len(log) == 2)
        return check({"order": log}, {"order": ["set_result returned", "callback"]})
    return run(main)


def wake_is_scheduled():
    async def main():
        log = []
        fut = asyncio.get_running_loop().create_future()

        async def waiter():
            await fut
            log.append("awaiter resumed")

        w = asyncio.create_task(waiter())
        await asyncio.sleep(0.002)
        fut.set_result(7)
        log.append("set_result returned")
        await w
        return check({"order": log}, {"order": ["set_result returned", "awaiter resumed"]})
    return run(main)


def result_to_every_awaiter():
    async def main():
        async def the_result():
            await asyncio.sleep(0.005)
            return "the result"

        task = asyncio.create_task(the_result())
        awaiters = [asyncio.create_task(join(task)) for _ in range(3)]
        got = [await a for a in awaiters]
        await asyncio.sleep(0.002)
        got.append(await join(task))
        return check({"received": got}, {"received": [{"value": "the result"}] * 4})
    return run(main)


def await_finished():
    async def main():
        returning = [False]

        async def five():
            returning[0] = True
            return 5

        t = asyncio.create_task(five())
        await eventually(1, lambda: returning[0])
        await yields(5)
        return check({"joined": await join(t)}, {"joined": {"value": 5}})
    return run(main)


def coroutines_compose():
    async def main():
        log = []

        async def subtask(n):
            log.append(f"subtask {n} starts")
            await asyncio.sleep(0.002)
            await asyncio.sleep(0.002)
            log.append(f"subtask {n} ends")
            return n * 10

        async def other_task():
            log.append("other task runs")

        other = asyncio.create_task(other_task())
        log.append("caller starts")
        a = await subtask(1)
        b = await subtask(a)
        log.append(f"caller ends with {b}")
        await other
        return check({"order": log}, {"order": [
            "caller starts", "subtask 1 starts", "other task runs", "subtask 1 ends",
            "subtask 10 starts", "subtask 10 ends", "caller ends with 100"]})
    return run(main)


def spawn_from_callback():
    async def main():
        loop = asyncio.get_running_loop()
        log, keep = [], []

        async def task():
            log.append("task runs")

        def cb():
            keep.append(loop.create_task(task()))
            log.append("callback returns")

        loop.call_soon(cb)
        await eventually(1, lambda: len(log) >= 2)
        return check({"order": log}, {"order": ["callback returns", "task runs"]})
    return run(main)


def many_tasks():
    async def main():
        async def ident(i):
            return i

        tasks = [asyncio.create_task(ident(i)) for i in range(10_000)]
        await yields(10)
        wrong = []
        for i, t in enumerate(tasks):
            got = await join(t)
            if got != {"value": i} and len(wrong) < 5:
                wrong.append([i, got])
        return check({"wrong": wrong}, {"wrong": []})
    return run(main)


TWINS = {
    "tasks.starts_later": starts_later,
    "futures.join_set_once": join_set_once,
    "futures.done_callback_via_loop": done_callback_via_loop,
    "futures.wake_is_scheduled": wake_is_scheduled,
    "tasks.result_to_every_awaiter": result_to_every_awaiter,
    "tasks.await_finished": await_finished,
    "tasks.coroutines_compose": coroutines_compose,
    "tasks.spawn_from_callback": spawn_from_callback,
    "tasks.many_tasks": many_tasks,
}

KILLS = {
    "tasks.starts_later": ["call_soon_inline"],
    "futures.join_set_once": ["outcome_overwritten"],
    "futures.done_callback_via_loop": ["call_soon_inline"],
    "futures.wake_is_scheduled": ["call_soon_inline"],
    "tasks.result_to_every_awaiter": ["outcome_overwritten"],
    "tasks.await_finished": ["outcome_overwritten"],
    "tasks.coroutines_compose": ["short_sleeps_block", "call_soon_inline"],
    "tasks.spawn_from_callback": ["call_soon_inline"],
    "tasks.many_tasks": ["outcome_overwritten"],
}
