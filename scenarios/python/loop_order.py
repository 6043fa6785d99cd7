"""Twins of scenarios/src/loop_order.rs (rules L1-L7, L9)."""

import asyncio
import logging
import threading
import time
import warnings

from twinlib import (check, deviates, eventually, ms, ms1, late_slack, new_loop, run, spin_until,
                     within, yields)


def run_until_complete():
    loop = new_loop()
    other_done = [False]

    async def part():
        return 41

    async def body():
        await asyncio.sleep(0.002)
        v = await asyncio.ensure_future(part())

        async def outlives():
            await asyncio.sleep(0.3)
            other_done[0] = True
        body.keep = asyncio.ensure_future(outlives())
        return v + 1

    started = time.monotonic()
    try:
        value = {"value": loop.run_until_complete(body())}
    except Exception as e:  # noqa: BLE001
        value = {"panicked": str(e)}
    returned_after = time.monotonic() - started
    waited = other_done[0]
    loop.close()
    return check(
        {"returned": value, "waited_for_the_other_task": waited},
        {"returned": {"value": 42}, "waited_for_the_other_task": False},
    ).measure("block_on_returned_after", ms(returned_after), "ms")


def run_forever_stop():
    loop = new_loop()
    runs = [0] * 8

    def bump(i):
        runs[i] += 1

    for i in range(5):
        loop.call_soon(bump, i)

    def queue_three():
        for i in range(5, 8):
            loop.call_soon(bump, i)

    def stop_cb():
        loop.stop()
        loop.call_soon(queue_three)

    loop.call_soon(stop_cb)
    # A bound on the first run: a stop that never lands must not hang the cell.
    guard = loop.call_later(2, loop.stop)
    loop.run_forever()
    guard.cancel()
    before_stop = sum(runs[:5])

    async def second():
        await eventually(1, lambda: all(x > 0 for x in runs))
        await yields(20)
        return list(runs)

    counts = loop.run_until_complete(second())
    loop.close()
    return check(
        {"queued_before_stop_ran_by_return": before_stop, "runs_of_each": counts},
        {"queued_before_stop_ran_by_return": 5, "runs_of_each": [1] * 8},
    )


def call_soon_fifo():
    async def main():
        loop = asyncio.get_running_loop()
        log = []
        for i in range(20):
            loop.call_soon(log.append, i)
        await eventually(2, lambda: len(log) >= 20)
        await yields(5)
        return check({"order": log}, {"order": list(range(20))})
    return run(main)


def call_soon_one_at_a_time():
    async def main():
        loop = asyncio.get_running_loop()
        started, finished, overlapped = [0], [0], [False]

        def cb(i):
            started[0] += 1
            if i == 0 and spin_until(0.1, lambda: started[0] > 1):
                overlapped[0] = True
            finished[0] += 1

        for i in range(4):
            loop.call_soon(cb, i)
        all_ran = await eventually(2, lambda: finished[0] == 4)
        return check(
            {"all_ran": all_ran, "one_started_while_another_ran": overlapped[0]},
            {"all_ran": True, "one_started_while_another_ran": False},
        )
    return run(main)


def call_soon_not_nested():
    async def main():
        loop = asyncio.get_running_loop()
        log = []

        def outer():
            log.append("outer starts")
            loop.call_soon(log.append, "inner runs")
            log.append("outer ends")

        loop.call_soon(outer)
        await eventually(1, lambda: len(log) >= 3)
        return check({"order": log}, {"order": ["outer starts", "outer ends", "inner runs"]})
    return run(main)


def call_soon_before_timer():
    async def main():
        loop = asyncio.get_running_loop()
        log = []
        # Due 50 ms after it is armed (as in the Rust scenario): the callback is queued well
        # before, then the loop is held past the deadline, so both are ready at the next turn.
        due = time.monotonic() + 0.050
        loop.call_later(0.050, log.append, "call_later")
        await asyncio.sleep(0)
        loop.call_soon(log.append, "call_soon")
        queued_before_due = time.monotonic() < due
        time.sleep(max(0.0, due - time.monotonic()) + 0.003)
        await eventually(2, lambda: len(log) >= 2)
        return check(
            {"order": log, "queued_before_due": queued_before_due},
            {"order": ["call_soon", "call_later"], "queued_before_due": True},
        )
    return run(main)


def check_deadlines(fired):
    early, late, worst = [], [], 0.0
    for d, elapsed in fired:
        due = d / 1e3
        if elapsed < due:
            early.append({"delay_ms": d, "fired_at_ms": ms1(elapsed)})
        elif elapsed > due + late_slack(due):
            late.append({"delay_ms": d, "fired_at_ms": ms1(elapsed)})
        else:
            worst = max(worst, ms(elapsed - due))
    return check(
        {"fired": len(fired), "early": early, "late": late},
        {"fired": 3, "early": [], "late": []},
    ).measure("max_lateness", worst, "ms")


def call_later_not_early():
    async def main():
        loop = asyncio.get_running_loop()
        log = []
        for d in [25, 5, 15]:
            start = time.monotonic()
            loop.call_later(d / 1e3, lambda d=d, s=start: log.append((d, time.monotonic() - s)))
        await eventually(3, lambda: len(log) == 3)
        return check_deadlines(log)
    return run(main)


def call_at_not_early():
    async def main():
        loop = asyncio.get_running_loop()
        log = []
        start = time.monotonic()
        base = loop.time()
        for d in [15, 25, 5]:
            loop.call_at(base + d / 1e3, lambda d=d: log.append((d, time.monotonic() - start)))
        await eventually(3, lambda: len(log) == 3)
        return check_deadlines(log)
    return run(main)


def time_monotonic():
    async def main():
        loop = asyncio.get_running_loop()
        backwards = 0
        last = loop.time()
        for _ in range(200):
            await asyncio.sleep(0)
            t = loop.time()
            if t < last:
                backwards += 1
            last = t
        short = []
        for d in [1, 5, 10]:
            before = loop.time()
            await asyncio.sleep(d / 1e3)
            advanced = max(0.0, loop.time() - before)
            if advanced < d / 1e3:
                short.append({"sleep_ms": d, "advanced_ms": ms1(advanced)})
        return check(
            {"steps_backwards": backwards, "sleeps_the_clock_did_not_cover": short},
            {"steps_backwards": 0, "sleeps_the_clock_did_not_cover": []},
        )
    return run(main)


def call_soon_threadsafe_wakes():
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        # The 1 s timer the loop is blocked on; the callback says whether it came first.
        deadline = loop.time() + 1.0

        def arrive(sent):
            if not fut.done():
                fut.set_result((sent, loop.time() < deadline))

        def send():
            time.sleep(0.02)
            loop.call_soon_threadsafe(arrive, time.monotonic())

        th = threading.Thread(target=send)
        th.start()
        # The loop's only other business: a 1 s timer.
        ok, got = await within(1.2, fut)
        th.join()
        sent, first = got if ok else (None, False)
        obs = check(
            {"callback_ran_before_the_1s_timer": first},
            {"callback_ran_before_the_1s_timer": True},
        )
        if ok:
            obs.measure("wakeup_latency", ms(time.monotonic() - sent), "ms")
        return obs
    return run(main)


def progress_without_run():
    loop = new_loop()
    task_ran, callback_ran = [False], [False]

    async def task():
        task_ran[0] = True

    def set_cb():
        callback_ran[0] = True

    loop.create_task(task())
    loop.call_soon(set_cb)
    spin_until(0.05, lambda: task_ran[0] and callback_ran[0])
    before = (task_ran[0], callback_ran[0])

    async def next_run():
        return await eventually(1, lambda: task_ran[0] and callback_ran[0])

    in_run = loop.run_until_complete(next_run())
    loop.close()
    return check(
        {"task_ran_without_a_run": before[0], "callback_ran_without_a_run": before[1],
         "both_ran_in_the_next_run": in_run},
        {"task_ran_without_a_run": False, "callback_ran_without_a_run": False,
         "both_ran_in_the_next_run": True},
    )


def threadsafe_order():
    async def main():
        loop = asyncio.get_running_loop()
        log, sent = [], [False]

        def sender():
            for i in range(10):
                loop.call_soon_threadsafe(log.append, i)
            sent[0] = True

        th = threading.Thread(target=sender)
        th.start()
        spin_until(0.2, lambda: sent[0])
        th.join()
        await eventually(2, lambda: len(log) >= 10)
        return check({"order": log}, {"order": list(range(10))})
    return run(main)


class _Reports(logging.Handler):
    """Counts what asyncio's debug mode reports about slow steps (logger 'asyncio')."""

    def __init__(self):
        super().__init__()
        self.slow = 0

    def emit(self, record):
        if record.getMessage().startswith("Executing"):
            self.slow += 1


def _debug_loop():
    loop = new_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 0.02
    return loop


def debug_slow_callback():
    reports = _Reports()
    logging.getLogger("asyncio").addHandler(reports)
    loop = _debug_loop()

    async def quick():
        return 1

    async def slow():
        time.sleep(0.06)

    async def body():
        for _ in range(3):
            await loop.create_task(quick())
        await loop.create_task(slow())

    loop.run_until_complete(body())
    loop.close()
    return check({"reports": reports.slow}, {"reports": 1})


def debug_never_polled():
    """asyncio's form of "created but never awaited or polled": a coroutine object that is
    created and dropped unawaited (asyncio warns 'coroutine ... was never awaited', with the
    origin in debug mode) beside 3 tasks that ran."""
    loop = _debug_loop()
    caught = []

    async def quick():
        return 1

    async def never():
        return 2

    async def body():
        for _ in range(3):
            await loop.create_task(quick())
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            c = never()
            del c
            await asyncio.sleep(0.001)
            # Debug mode's part: the warning says where the coroutine was created.
            caught.extend(
                x for x in w
                if "was never awaited" in str(x.message) and "Coroutine created at" in str(x.message)
            )

    loop.run_until_complete(body())
    loop.close()
    return check({"reports": len(caught)}, {"reports": 1})


TWINS = {
    "loop.run_until_complete": run_until_complete,
    "loop.run_forever_stop": run_forever_stop,
    "loop.call_soon_fifo": call_soon_fifo,
    "loop.call_soon_one_at_a_time": call_soon_one_at_a_time,
    "loop.call_soon_not_nested": call_soon_not_nested,
    "loop.call_soon_before_timer": call_soon_before_timer,
    "loop.call_later_not_early": call_later_not_early,
    "loop.call_at_not_early": call_at_not_early,
    "loop.time_monotonic": time_monotonic,
    "loop.call_soon_threadsafe_wakes": call_soon_threadsafe_wakes,
    "loop.progress_without_run": progress_without_run,
    "loop.call_soon_threadsafe_order": threadsafe_order,
    "loop.debug_slow_callback": debug_slow_callback,
    "loop.debug_never_polled": debug_never_polled,
}

KILLS = {
    "loop.run_until_complete": ["outcome_overwritten"],
    "loop.run_forever_stop": ["stop_drops_queued"],
    "loop.call_soon_fifo": ["lifo_ready_queue"],
    "loop.call_soon_one_at_a_time": ["callbacks_in_parallel"],
    "loop.call_soon_not_nested": ["call_soon_inline"],
    "loop.call_soon_before_timer": ["call_soon_as_timer"],
    "loop.call_later_not_early": ["timers_early"],
    "loop.call_at_not_early": ["timers_early"],
    "loop.time_monotonic": ["clock_steps_back"],
    "loop.call_soon_threadsafe_wakes": ["lost_wakeup"],
    "loop.progress_without_run": ["callbacks_in_parallel"],
    "loop.call_soon_threadsafe_order": ["lifo_ready_queue"],
    "loop.debug_slow_callback": ["debug_silent"],
    "loop.debug_never_polled": ["debug_silent"],
}
