"""Shared scaffolding of the Python twins: the observation shape of the Rust scenarios
(scenarios/src/lib.rs, "The cell protocol"), the loop under test (asyncio or uvloop, or a
mutant of asyncio's), and the helpers the Rust scenarios use (support.rs), in asyncio.

Invariant: a twin decides pass/deviates on orders, counts and values, exactly like its Rust
scenario, with the same JSON shape for `observed` and `expected`; timing figures go into
measurements and decide only where the rule is about time.
"""

import asyncio
import math
import socket
import time

# The loop factory a twin runs on: set by twin.py before the twin runs.
LOOP_FACTORY = asyncio.new_event_loop
LOOP_NAME = "asyncio"


class Obs(dict):
    """An observation: {"verdict": ..., "measurements": [...]}."""

    def measure(self, name, value, unit):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            value = None
        self["measurements"].append({"name": name, "value": value, "unit": unit})
        return self


def passed():
    return Obs(verdict={"kind": "pass"}, measurements=[])


def deviates(observed, expected):
    return Obs(
        verdict={"kind": "deviates", "observed": observed, "expected": expected},
        measurements=[],
    )


def unsupported(reason):
    return Obs(verdict={"kind": "unsupported", "reason": reason}, measurements=[])


def check(observed, expected):
    return passed() if observed == expected else deviates(observed, expected)


def new_loop():
    return LOOP_FACTORY()


def run(main, debug=False):
    """asyncio.run(main()) on the loop under test: the loop is closed as asyncio.run closes
    it (remaining tasks cancelled, async generators and the default executor shut down)."""
    with asyncio.Runner(debug=debug, loop_factory=new_loop) as runner:
        return runner.run(main())


# --- time --------------------------------------------------------------------------------

def ms(seconds):
    return seconds * 1e3


def us(seconds):
    return seconds * 1e6


def ms1(seconds):
    return round(seconds * 1e4) / 10.0


def late_slack(delay):
    """Generous lateness bound (support.rs late_slack): 10 x delay, at least 100 ms."""
    return max(delay * 10, 0.1)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    rank = math.ceil((p / 100.0) * len(values))
    return values[min(max(rank, 1), len(values)) - 1]


def spin_until(limit, done):
    """Busy-waits (holding the thread, never awaiting) until done() or limit seconds."""
    start = time.monotonic()
    while True:
        if done():
            return True
        if time.monotonic() - start >= limit:
            return False


# --- the loop ----------------------------------------------------------------------------

async def eventually(limit, cond):
    """Awaits cond() by sleeping in 1 ms steps for at most limit seconds."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start >= limit:
            return False
        await asyncio.sleep(0.001)
    return True


async def yields(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def within(limit, aw):
    """(True, value) when aw finishes within limit seconds, else (False, None); aw is
    cancelled on the time-out (the Rust `within` drops its future)."""
    fut = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait([fut], timeout=limit)
    if fut in done:
        return True, fut.result()
    fut.cancel()
    return False, None


def outcome_of(task):
    """A finished task's outcome in the cell protocol's shape."""
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    if exc is not None:
        return {"panicked": str(exc)}
    return {"value": task.result()}


async def join(aw):
    """Awaits aw: {"value": v}, "cancelled" or {"panicked": message} (asyncio raises the
    task's exception in the awaiter, rule F2)."""
    try:
        return {"value": await aw}
    except asyncio.CancelledError:
        return "cancelled"
    except Exception as e:  # noqa: BLE001 - the task's error is the observation
        return {"panicked": str(e)}


async def drive(aw):
    """Awaits aw step by step: (result, how many times it suspended)."""
    it = aw.__await__()
    suspended = 0
    while True:
        try:
            yielded = it.send(None)
        except StopIteration as stop:
            return stop.value, suspended
        suspended += 1
        if yielded is None:
            await asyncio.sleep(0)
        else:
            await asyncio.wait([yielded])


def first_step_ready(aw):
    """Steps aw once: (ready, iterator). ready is whether it completed without suspending."""
    it = aw.__await__()
    try:
        y = it.send(None)
    except StopIteration:
        return True, None, None
    return False, it, y


async def finish(it, yielded):
    """Finishes an awaitable stepped by first_step_ready."""
    while True:
        if yielded is None:
            await asyncio.sleep(0)
        else:
            await asyncio.wait([yielded])
        try:
            yielded = it.send(None)
        except StopIteration as stop:
            return stop.value


# --- sockets -----------------------------------------------------------------------------

LISTEN_BACKLOG = 1024


def bind_listener():
    """A listening socket on 127.0.0.1:0, as harness::net::bind_listener makes it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setblocking(False)
    s.bind(("127.0.0.1", 0))
    s.listen(LISTEN_BACKLOG)
    return s


def kernel_tcp_buffer_max():
    def max_of(path):
        with open(path) as f:
            return int(f.read().split()[2])

    try:
        return max_of("/proc/sys/net/ipv4/tcp_wmem") + max_of("/proc/sys/net/ipv4/tcp_rmem")
    except (OSError, ValueError, IndexError):
        return None


def resident_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return None
