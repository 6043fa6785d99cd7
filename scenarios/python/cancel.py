"""Twins of scenarios/src/cancel.rs (rules C1-C6). A Rust destructor of a cancelled
future is a `finally:` block here (asyncio throws CancelledError into the coroutine)."""

import asyncio
import time

from twinlib import bind_listener, check, deviates, eventually, join, ms1, outcome_of, run, within, yields


def abort_at_suspension():
    async def main():
        steps = [0]

        async def ticking():
            while True:
                steps[0] += 1
                await asyncio.sleep(0.002)

        t = asyncio.create_task(ticking())
        await eventually(1, lambda: steps[0] >= 2)
        t.cancel()
        _, joined = await within(1, join(t))
        at_join = steps[0]
        await asyncio.sleep(0.02)
        return check(
            {"joined": joined, "steps_after_cancel": steps[0] - at_join},
            {"joined": "cancelled", "steps_after_cancel": 0},
        )
    return run(main)


def abort_finished():
    async def main():
        returning = [False]

        async def done():
            returning[0] = True
            return "done"

        t = asyncio.create_task(done())
        await eventually(1, lambda: returning[0])
        await yields(20)
        t.cancel()
        return check({"joined": await join(t)}, {"joined": {"value": "done"}})
    return run(main)


def cancel_before_start():
    async def main():
        ran, dropped = [False], [False]

        async def body():
            try:
                ran[0] = True
            finally:
                dropped[0] = True

        c = body()
        t = asyncio.create_task(c)
        t.cancel()
        _, joined = await within(1, join(t))
        await yields(10)
        # What the task captured is dropped: its coroutine is closed, never started.
        dropped[0] = dropped[0] or c.cr_frame is None
        return check(
            {"joined": joined, "body_ran": ran[0], "captured_state_dropped": dropped[0]},
            {"joined": "cancelled", "body_ran": False, "captured_state_dropped": True},
        )
    return run(main)


def cleanup_runs():
    async def main():
        dropped, started = [False], [False]

        async def guarded():
            try:
                started[0] = True
                await asyncio.sleep(10)
            finally:
                dropped[0] = True

        t = asyncio.create_task(guarded())
        await eventually(1, lambda: started[0])
        t.cancel()
        await within(1, join(t))
        ran = await eventually(0.5, lambda: dropped[0])
        return check({"cleanup_ran": ran}, {"cleanup_ran": True})
    return run(main)


def _limited(coro_fn, limit):
    async def go():
        try:
            return {"value": await asyncio.wait_for(coro_fn(), limit)}
        except asyncio.TimeoutError:
            return "timed_out"
    return go()


def wait_for_scenario():
    async def main():
        async def fast():
            await asyncio.sleep(0.002)
            return 7

        dropped = [False]

        async def slow():
            try:
                await asyncio.sleep(10)
                return 8
            finally:
                dropped[0] = True

        async def zero():
            await asyncio.sleep(0)
            return 9

        f = await _limited(fast, 0.5)
        started = time.monotonic()
        ok, s = await within(2, _limited(slow, 0.02))
        slow_after = time.monotonic() - started
        ok_z, z = await within(2, _limited(zero, 0))
        observed = {"fast": f, "slow": s if ok else "no time-out within 2 s",
                    "slow_timed_out_before_the_limit": slow_after < 0.02,
                    "slow_cleanup_ran": dropped[0],
                    "zero_limit": z if ok_z else "no time-out within 2 s"}
        if slow_after < 0.02:
            # How early, so a difference can be told from a broken time limit.
            observed["slow_early_by_ms"] = round((0.02 - slow_after) * 1e3, 3)
        return check(
            observed,
            {"fast": {"value": 7}, "slow": "timed_out", "slow_timed_out_before_the_limit": False,
             "slow_cleanup_ran": True, "zero_limit": "timed_out"},
        ).measure("slow_timed_out_after", ms1(slow_after), "ms")
    return run(main)


def _sleepers(delays):
    async def sleeper(d):
        await asyncio.sleep(d / 1e3)
        return d
    return [asyncio.ensure_future(sleeper(d)) for d in delays]


def wait_done_pending():
    async def main():
        tasks = _sleepers([5, 200])
        done, pending = await asyncio.wait(tasks, timeout=0.06)
        done_l = [[i, outcome_of(t)] for i, t in enumerate(tasks) if t in done]
        pending_idx = [i for i, t in enumerate(tasks) if t in pending]
        later = [await join(tasks[i]) for i in pending_idx]
        return check(
            {"done": done_l, "pending": pending_idx, "pending_later": later},
            {"done": [[0, {"value": 5}]], "pending": [1], "pending_later": [{"value": 200}]},
        )
    return run(main)


def gather_order():
    async def main():
        async def job(d):
            await asyncio.sleep(d / 1e3)
            return d

        got = await asyncio.gather(*(job(d) for d in [30, 10, 20]), return_exceptions=True)
        got = [{"panicked": str(g)} if isinstance(g, BaseException) else {"value": g} for g in got]
        return check({"results": got}, {"results": [{"value": 30}, {"value": 10}, {"value": 20}]})
    return run(main)


def as_completed_order():
    async def main():
        got = []
        for aw in asyncio.as_completed(_sleepers([60, 20, 40])):
            got.append(await join(aw))
        return check({"order": got}, {"order": [{"value": 20}, {"value": 40}, {"value": 60}]})
    return run(main)


def cancel_while_reading():
    async def main():
        loop = asyncio.get_running_loop()
        lsock = bind_listener()
        addr = lsock.getsockname()
        reading = [False]

        async def server():
            conn, _ = await loop.sock_accept(lsock)
            reader, writer = await asyncio.open_connection(sock=conn)
            try:
                reading[0] = True
                return await reader.read(16)
            finally:
                # The stream's owner closes it on the way out (Rust: the socket's destructor).
                writer.close()

        srv = asyncio.create_task(server())
        ok, conn = await within(3, asyncio.open_connection(*addr))
        if not ok:
            return deviates("connect failed", "a connection")
        creader, cwriter = conn
        await eventually(2, lambda: reading[0])
        await yields(5)
        srv.cancel()
        _, joined = await within(2, join(srv))
        ok, data = await within(2, creader.read(1))
        peer = ("end-of-stream" if data == b"" else {"bytes": len(data)}) if ok else "nothing within 2 s"
        cwriter.close()
        lsock.close()
        return check({"joined": joined, "peer_reads": peer},
                     {"joined": "cancelled", "peer_reads": "end-of-stream"})
    return run(main)


TWINS = {
    "cancel.abort_at_suspension": abort_at_suspension,
    "cancel.abort_finished_noop": abort_finished,
    "cancel.cancel_before_start": cancel_before_start,
    "cancel.cleanup_runs": cleanup_runs,
    "cancel.wait_for": wait_for_scenario,
    "cancel.wait_done_pending": wait_done_pending,
    "cancel.gather_order": gather_order,
    "cancel.as_completed_order": as_completed_order,
    "cancel.cancel_while_reading": cancel_while_reading,
}

KILLS = {
    "cancel.abort_at_suspension": ["cancel_ignored"],
    "cancel.abort_finished_noop": ["outcome_overwritten"],
    "cancel.cancel_before_start": ["cancel_ignored"],
    "cancel.cleanup_runs": ["cancel_ignored"],
    "cancel.wait_for": ["timers_early"],
    "cancel.wait_done_pending": ["timers_insertion_order"],
    "cancel.gather_order": ["outcome_overwritten"],
    "cancel.as_completed_order": ["timers_insertion_order"],
    "cancel.cancel_while_reading": ["cancel_ignored"],
}
