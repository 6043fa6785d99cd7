"""Twins of scenarios/src/probes.rs."""

import asyncio
import threading
import time

from twinlib import (bind_listener, check, deviates, drive, eventually, join, late_slack, ms, new_loop,
                     percentile, run, spin_until, us, within, yields)
import twinlib


def drop_join_handle():
    async def main():
        done = [False]

        async def body():
            await asyncio.sleep(0.01)
            done[0] = True

        handle = asyncio.create_task(body())
        del handle
        completed = await eventually(0.3, lambda: done[0])
        return check({"task_completed": completed}, {"task_completed": True})
    return run(main)


def panic_awaited():
    async def main():
        async def boom():
            raise Exception("boom")

        async def one():
            return 1

        bad = await join(asyncio.create_task(boom()))
        good = await join(asyncio.create_task(one()))
        return check({"joined": bad, "next_task": good},
                     {"joined": {"panicked": "boom"}, "next_task": {"value": 1}})
    return run(main)


def panic_detached():
    async def main():
        async def boom():
            raise Exception("detached boom")

        async def two():
            return 2

        keep = asyncio.create_task(boom())
        await asyncio.sleep(0.01)
        after = await join(asyncio.create_task(two()))
        del keep
        return check({"next_task": after}, {"next_task": {"value": 2}})
    return run(main)


def starved_timer():
    async def main():
        fired = [False]

        async def timer():
            await asyncio.sleep(0.01)
            fired[0] = True

        keep = asyncio.create_task(timer())
        await asyncio.sleep(0)
        await asyncio.sleep(0)

        async def busy():
            before = fired[0]
            return before, (not before) and spin_until(0.15, lambda: fired[0])

        before, during = await asyncio.create_task(busy())
        del keep
        return check({"fired_before_the_busy_task": before, "fired_while_busy": during},
                     {"fired_before_the_busy_task": False, "fired_while_busy": False})
    return run(main)


def starved_task():
    async def main():
        steps, stop, progress = [0], [False], [None]
        keep = []

        async def busy():
            before = steps[0]
            spin_until(0.1, lambda: False)
            progress[0] = steps[0] - before

        async def other():
            while not stop[0]:
                n = steps[0]
                steps[0] += 1
                if n == 10:
                    keep.append(asyncio.create_task(busy()))
                await asyncio.sleep(0)

        o = asyncio.create_task(other())
        measured = await eventually(2, lambda: progress[0] is not None)
        stop[0] = True
        await o
        p = progress[0] if measured else 0
        return check({"busy_task_ran": measured, "yielding_task_steps_meanwhile": p},
                     {"busy_task_ran": True, "yielding_task_steps_meanwhile": 0}).measure(
            "steps_of_other_task_during_busy", float(p) if measured else float("nan"), "count")
    return run(main)


def yield_alternates():
    async def main():
        log = []

        async def t(name):
            for _ in range(5):
                log.append(name)
                await asyncio.sleep(0)

        await within(2, asyncio.gather(t("a"), t("b")))
        return check({"order": log}, {"order": ["a", "b"] * 5})
    return run(main)


def coop_budget():
    async def main():
        loop = asyncio.get_running_loop()
        lsock = bind_listener()
        addr = lsock.getsockname()

        def writer():
            import socket
            c = socket.create_connection(addr)
            c.sendall(bytes([7]) * 8000)
            return c

        fut = loop.run_in_executor(None, writer)
        conn, _ = await loop.sock_accept(lsock)
        client = await fut
        reader, w = await asyncio.open_connection(sock=conn)
        ok, _ = await within(3, reader.readexactly(8))
        if not ok:
            return deviates("no data arrived", "8,000 bytes")
        await asyncio.sleep(0.02)
        forced, reads = 0, 1
        while reads < 1000:
            data, suspended = await drive(reader.read(8))
            forced += suspended
            if len(data) != 8:
                return deviates(f"a read returned {len(data)} bytes", "8 bytes per read")
            reads += 1
        w.close()
        client.close()
        return check({"pending_reads_while_data_was_ready": forced},
                     {"pending_reads_while_data_was_ready": 0}).measure("forced_yields_per_1000", float(forced), "count")
    return run(main)


def nested_block_on():
    async def main():
        async def inner_work():
            await asyncio.sleep(0.001)
            return 7

        async def t():
            inner = new_loop()
            try:
                v = inner.run_until_complete(inner_work())
                return "ran to completion" if v == 7 else {"returned": v}
            except RuntimeError:
                return "refused"
            finally:
                try:
                    inner.close()
                except RuntimeError:
                    pass

        nested = await asyncio.create_task(t())
        return check({"nested_block_on": nested}, {"nested_block_on": "refused"})
    return run(main)


def spawn_from_thread():
    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        deadline = loop.time() + 1.0

        async def task():
            # 9 when it runs before the loop's 1 s timer came due.
            got.set_result(9 if loop.time() < deadline else "after the 1 s timer")

        def plain():
            # Once the loop is blocked waiting (on the 1 s limit below).
            time.sleep(0.1)
            asyncio.run_coroutine_threadsafe(task(), loop)

        th = threading.Thread(target=plain)
        th.start()
        ok, v = await within(1.2, got)
        th.join()
        return check({"task_ran": ok and v == 9}, {"task_ran": True})
    return run(main)


def runtime_drop_cleanup():
    """Dropping the runtime is the end of asyncio.run: it cancels the tasks still pending,
    which runs their cleanup (finally blocks)."""
    dropped, started = [0], [0]
    keep = []

    async def pending_forever():
        try:
            started[0] += 1
            await asyncio.get_running_loop().create_future()
        finally:
            dropped[0] += 1

    async def main():
        for _ in range(3):
            keep.append(asyncio.create_task(pending_forever()))
        await eventually(1, lambda: started[0] == 3)

    run(main)
    return check({"destructors_run": dropped[0]}, {"destructors_run": 3})


def spawn_order_from_task():
    async def main():
        log = []

        async def t(i):
            log.append(i)

        tasks = [asyncio.create_task(t(i)) for i in range(5)]
        for x in tasks:
            await x
        return check({"order": log}, {"order": [0, 1, 2, 3, 4]})
    return run(main)


def spawn_order_from_thread():
    async def main():
        loop = asyncio.get_running_loop()
        log, sent = [], [False]

        async def t(i):
            log.append(i)

        def plain():
            for i in range(10):
                asyncio.run_coroutine_threadsafe(t(i), loop)
            sent[0] = True

        th = threading.Thread(target=plain)
        th.start()
        spin_until(0.2, lambda: sent[0])
        th.join()
        await eventually(2, lambda: len(log) >= 10)
        return check({"order": log}, {"order": list(range(10))})
    return run(main)


def wakeup_latency():
    async def main():
        loop = asyncio.get_running_loop()
        samples, slow = [], 0
        for _ in range(30):
            fut = loop.create_future()

            def send(fut=fut):
                time.sleep(0.002)
                sent = time.monotonic()
                loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(sent))

            th = threading.Thread(target=send)
            th.start()
            ok, sent = await within(1, fut)
            if ok:
                latency = time.monotonic() - sent
                slow += latency > 0.25
                samples.append(us(latency))
            th.join()
        return check({"woken": len(samples), "woken_later_than_250ms": slow},
                     {"woken": 30, "woken_later_than_250ms": 0}).measure(
            "wakeup_p50", percentile(samples, 50), "us").measure("wakeup_p99", percentile(samples, 99), "us")
    return run(main)


def io_vs_timer():
    async def main():
        hot_for = 0.3
        lsock = bind_listener()
        addr = lsock.getsockname()
        accepted = asyncio.get_running_loop().create_future()
        server = await asyncio.start_server(lambda r, w: accepted.set_result((r, w)), sock=lsock)
        ok, conn = await within(3, asyncio.open_connection(*addr))
        if not ok:
            return deviates("connect failed", "a connection")
        creader, cwriter = conn
        ok, sconn = await within(3, accepted)
        if not ok:
            return deviates("no connection accepted", "a connection")
        sreader, swriter = sconn
        started = time.monotonic()

        async def writer():
            chunk = b"\x01" * 4096
            while time.monotonic() - started < hot_for:
                cwriter.write(chunk)
                await cwriter.drain()
                await asyncio.sleep(0)

        async def reader():
            total = 0
            while time.monotonic() - started < hot_for:
                data = await sreader.read(64 * 1024)
                if not data:
                    break
                total += len(data)
                await asyncio.sleep(0)
            return total

        w = asyncio.create_task(writer())
        r = asyncio.create_task(reader())
        timer_started = time.monotonic()
        fired, _ = await within(2, asyncio.sleep(0.01))
        after = time.monotonic() - timer_started
        await within(2, w)
        _, read_bytes = await within(2, r)
        read_bytes = read_bytes or 0
        cwriter.close()
        swriter.close()
        server.close()
        return check({"timer_fired": fired, "within_slack": after <= 0.01 + late_slack(0.01), "reader_got_data": read_bytes > 0},
                     {"timer_fired": True, "within_slack": True, "reader_got_data": True}).measure(
            "timer_fired_after", ms(after), "ms").measure("bytes_read_meanwhile", float(read_bytes), "bytes")
    return run(main)


TWINS = {
    "probe.drop_join_handle": drop_join_handle,
    "probe.panic_awaited": panic_awaited,
    "probe.panic_detached": panic_detached,
    "probe.never_yield_vs_timer": starved_timer,
    "probe.never_yield_vs_task": starved_task,
    "probe.yield_alternates": yield_alternates,
    "probe.coop_budget": coop_budget,
    "probe.nested_block_on": nested_block_on,
    "probe.spawn_from_plain_thread": spawn_from_thread,
    "probe.runtime_drop_cleanup": runtime_drop_cleanup,
    "probe.spawn_order_from_task": spawn_order_from_task,
    "probe.spawn_order_from_thread": spawn_order_from_thread,
    "probe.wakeup_latency": wakeup_latency,
    "probe.io_vs_timer": io_vs_timer,
}

KILLS = {
    "probe.drop_join_handle": ["drop_handle_cancels"],
    "probe.panic_awaited": ["panic_payload_lost"],
    "probe.panic_detached": ["outcome_overwritten"],
    "probe.never_yield_vs_timer": ["short_sleeps_block"],
    "probe.never_yield_vs_task": ["lifo_ready_queue"],
    "probe.yield_alternates": ["lifo_ready_queue"],
    "probe.coop_budget": ["forced_yield"],
    "probe.nested_block_on": ["nested_run_allowed"],
    "probe.spawn_from_plain_thread": ["lost_wakeup"],
    "probe.runtime_drop_cleanup": ["shutdown_leaks_tasks"],
    "probe.spawn_order_from_task": ["lifo_ready_queue"],
    "probe.spawn_order_from_thread": ["lifo_ready_queue"],
    "probe.wakeup_latency": ["lost_wakeup"],
    "probe.io_vs_timer": ["timers_late"],
}

_FOREIGN = ("tokio's {} is a Rust type bound to tokio's reactor; asyncio has no second runtime "
            "whose awaitables could be borrowed (any awaitable runs on any asyncio loop, rule X1)")
UNSUPPORTED = {
    "probe.foreign_tokio_sleep": _FOREIGN.format("sleep"),
    "probe.foreign_tokio_tcp": _FOREIGN.format("TcpStream"),
}
