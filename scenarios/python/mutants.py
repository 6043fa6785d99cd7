"""Deliberately broken asyncio loops (the twins' mutants): each is CPython's default loop,
or the asyncio module, with one fault monkey-patched in. A twin that passes on every one of
them would be unable to fail; each twin declares the mutants it kills (`KILLS` in its group
file) and the kill test (tests/twins.rs, `twin.py --kills`) proves every declaration.

Only asyncio is mutated: the twins are the same code on uvloop."""

import asyncio
import asyncio.runners
import concurrent.futures
import threading
import time
from asyncio import events


def _base():
    return asyncio.SelectorEventLoop


def loop_class(overrides):
    return type("MutantLoop", (_base(),), overrides)


# --- loop faults -------------------------------------------------------------------------

def _lifo_call_soon(self, callback, args, context):
    handle = events.Handle(callback, args, self, context)
    self._ready.appendleft(handle)
    return handle


def _inline_call_soon(self, callback, *args, context=None):
    if self.is_running():
        if context is not None:
            context.run(callback, *args)
        else:
            callback(*args)
        return events.Handle(lambda: None, (), self)
    return _base().call_soon(self, callback, *args, context=context)


_POOL = None


def _parallel_call_soon(self, callback, *args, context=None):
    global _POOL
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Future) or getattr(callback, "__module__", "").startswith("asyncio"):
        return _base().call_soon(self, callback, *args, context=context)
    if _POOL is None:
        # Workers started up front, so callbacks start at once, side by side.
        _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=8)
        for f in [_POOL.submit(time.sleep, 0.01) for _ in range(8)]:
            f.result()
    _POOL.submit(callback, *args)
    return events.Handle(lambda: None, (), self)


def _early_call_at(self, when, callback, *args, context=None):
    ahead = when - self.time()
    if ahead >= 0.002:
        when -= ahead * 3 / 4
    return _base().call_at(self, when, callback, *args, context=context)


def _late_call_at(self, when, callback, *args, context=None):
    return _base().call_at(self, when + 0.3, callback, *args, context=context)


def _insertion_order_call_at(self, when, callback, *args, context=None):
    last = getattr(self, "_mutant_last_when", when)
    when = max(when, last)
    self._mutant_last_when = when
    return _base().call_at(self, when, callback, *args, context=context)


def _stop_drops_queued(self):
    _base().run_forever(self)
    self._ready.clear()


def _call_soon_as_timer(self, callback, *args, context=None):
    return self.call_later(0.1, callback, *args, context=context)


def _lost_wakeup(self, callback, *args, context=None):
    # The wake-up is lost: the callback is queued but the loop's selector is not woken; a
    # wake-up arrives 1.2 s later (so the loop never hangs for good, only late).
    handle = self._call_soon(callback, args, context)
    t = threading.Timer(1.2, self._write_to_self)
    t.daemon = True
    t.start()
    return handle


def _clock_steps_back(self):
    self._mutant_calls = getattr(self, "_mutant_calls", 0) + 1
    t = time.monotonic()
    return t - 0.005 if self._mutant_calls % 7 == 0 else t


def _nested_run_allowed(self):
    if self.is_closed():
        raise RuntimeError("Event loop is closed")


def _no_debug(self, enabled):
    self._debug = False


def _inline_executor(self, executor, func, *args):
    fut = self.create_future()
    try:
        fut.set_result(func(*args))
    except Exception as e:  # noqa: BLE001
        fut.set_exception(e)
    return fut


def _unbounded_executor(self, executor, func, *args):
    cf = concurrent.futures.Future()

    def work():
        try:
            cf.set_result(func(*args))
        except Exception as e:  # noqa: BLE001
            cf.set_exception(e)

    threading.Thread(target=work, daemon=True).start()
    return asyncio.wrap_future(cf, loop=self)


async def _abandoning_shutdown(self, timeout=None):
    executor = self._default_executor
    self._executor_shutdown_called = True
    if executor is not None:
        executor.shutdown(wait=False)


# --- task faults (a task factory) --------------------------------------------------------

class _IgnoresCancel(asyncio.Task):
    """Ignores the first cancel() (cancellation lost at the next suspension point)."""

    def cancel(self, msg=None):
        if not getattr(self, "_mutant_ignored", False):
            self._mutant_ignored = True
            return False
        return super().cancel(msg)


def _factory(wrap):
    def factory(loop, coro, **kwargs):
        # The first task is the twin's main (asyncio.run's): it reports the observation.
        if not getattr(loop, "_mutant_main_seen", False):
            loop._mutant_main_seen = True
            return asyncio.Task(coro, loop=loop, **kwargs)
        return asyncio.Task(wrap(coro), loop=loop, **kwargs)

    return factory


async def _lose_payload(coro):
    try:
        return await coro
    except Exception:  # noqa: BLE001
        raise RuntimeError("task failed") from None


async def _overwrite(coro):
    await coro
    return None


def _task_factory_loop(factory, extra=None):
    def init(self, *a, **k):
        _base().__init__(self, *a, **k)
        self.set_task_factory(factory)

    return loop_class({"__init__": init, **(extra or {})})


def _payload_losing_executor(self, executor, func, *args):
    def lose():
        try:
            return func(*args)
        except Exception:  # noqa: BLE001
            raise RuntimeError("task failed") from None

    return _base().run_in_executor(self, executor, lose)


# --- module faults -----------------------------------------------------------------------

_real_sleep = asyncio.sleep


async def _sleep_zero_ready(delay, result=None):
    if delay <= 0:
        return result
    return await _real_sleep(delay, result)


async def _short_sleeps_block(delay, result=None):
    if 0 < delay < 0.05:
        time.sleep(delay)
        return result
    return await _real_sleep(delay, result)


async def _short_sleeps_skip(delay, result=None):
    if 0 < delay < 0.05:
        return await _real_sleep(0, result)
    return await _real_sleep(delay, result)


def _patch_sleep(fn):
    asyncio.sleep = fn
    asyncio.tasks.sleep = fn


class _DroppingHandle:
    """What `create_task` returns under drop_handle_cancels: dropping it cancels the task."""

    def __init__(self, task):
        self._task = task

    def __getattr__(self, name):
        return getattr(self._task, name)

    def __await__(self):
        return self._task.__await__()

    def __del__(self):
        self._task.cancel()


def _patch_create_task():
    real = asyncio.create_task

    def create_task(coro, **kwargs):
        return _DroppingHandle(real(coro, **kwargs))

    asyncio.create_task = create_task


def _patch_streams(name):
    sw, sr = asyncio.StreamWriter, asyncio.StreamReader
    if name == "close_ignored":
        sw.close = lambda self: None
    elif name == "half_close_ignored":
        sw.write_eof = lambda self: None
    elif name == "no_backpressure":
        async def drain(self):
            return None
        sw.drain = drain
    elif name == "partial_write_lost":
        real = sw.write
        sw.write = lambda self, data: real(self, bytes(data)[: 256 * 1024])
    elif name == "eof_not_sticky":
        real_read = sr.read

        async def read(self, n=-1):
            if getattr(self, "_mutant_eof_seen", False):
                await asyncio.get_running_loop().create_future()
            data = await real_read(self, n)
            if not data:
                self._mutant_eof_seen = True
            return data
        sr.read = read
    elif name == "forced_yield":
        real_read = sr.read

        async def read(self, n=-1):
            self._mutant_reads = getattr(self, "_mutant_reads", 0) + 1
            if self._mutant_reads % 32 == 0:
                await _real_sleep(0)
            return await real_read(self, n)
        sr.read = read
    elif name == "connect_error_ignored":
        real_open = asyncio.open_connection

        async def open_connection(*a, **k):
            try:
                return await real_open(*a, **k)
            except OSError:
                await asyncio.get_running_loop().create_future()
        asyncio.open_connection = open_connection
        asyncio.streams.open_connection = open_connection
    elif name == "listener_leaked":
        asyncio.base_events.Server.close = lambda self: None
    elif name == "accept_drops_excess":
        real_start = asyncio.start_server

        async def start_server(cb, *a, **k):
            count = [0]

            async def limited(reader, writer):
                count[0] += 1
                if count[0] > 32:
                    writer.transport.abort()
                    return
                res = cb(reader, writer)
                if asyncio.iscoroutine(res):
                    await res
            return await real_start(limited, *a, **k)
        asyncio.start_server = start_server


# Mutants whose kill is seen in time, as a timer ending too early: another cell's load delays
# everything and can hide it, so their kill cells run alone (loopbench conformance
# --twin-mutants). A late timer is not hidden by load.
TIMING = {"timers_early"}


# name -> (what is broken, how to install it: returns the loop factory)
def _loop(overrides):
    return lambda: loop_class(overrides)


MUTANTS = {
    "lifo_ready_queue": ("call_soon queues at the front (LIFO ready queue)", _loop({"_call_soon": _lifo_call_soon})),
    "call_soon_inline": ("call_soon runs its callback at once, inside the caller (done-callbacks and task steps synchronous)", _loop({"call_soon": _inline_call_soon})),
    "callbacks_in_parallel": ("plain call_soon callbacks run on their own threads, at once, even with the loop stopped", _loop({"call_soon": _parallel_call_soon})),
    "call_soon_as_timer": ("call_soon callbacks wait 100 ms, as timers (a timer due sooner runs first)", _loop({"call_soon": _call_soon_as_timer})),
    "timers_early": ("timers fire at a quarter of their delay (delays >= 2 ms)", _loop({"call_at": _early_call_at})),
    "timers_late": ("timers fire 300 ms late", _loop({"call_at": _late_call_at})),
    "timers_insertion_order": ("a timer never fires before one created earlier (insertion order)", _loop({"call_at": _insertion_order_call_at})),
    "stop_drops_queued": ("stop() drops the callbacks already queued", _loop({"run_forever": _stop_drops_queued})),
    "lost_wakeup": ("call_soon_threadsafe does not wake the loop (a wake-up comes 1.2 s later)", _loop({"call_soon_threadsafe": _lost_wakeup})),
    "clock_steps_back": ("loop.time() steps back 5 ms on every 7th reading", _loop({"time": _clock_steps_back})),
    "nested_run_allowed": ("run_until_complete inside a running loop is not refused", _loop({"_check_running": _nested_run_allowed})),
    "debug_silent": ("debug mode cannot be switched on", _loop({"set_debug": _no_debug})),
    "blocking_inline": ("run_in_executor runs the function inline on the loop's thread", _loop({"run_in_executor": _inline_executor})),
    "blocking_unbounded": ("run_in_executor ignores the pool's size (a thread per call)", _loop({"run_in_executor": _unbounded_executor})),
    "shutdown_abandons_jobs": ("closing the loop does not wait for the executor's jobs", _loop({"shutdown_default_executor": _abandoning_shutdown})),
    "cancel_ignored": ("the first Task.cancel() of each task is ignored", lambda: _task_factory_loop(lambda loop, coro, **k: _IgnoresCancel(coro, loop=loop, **k))),
    "panic_payload_lost": ("a task's (or an executor job's) exception is replaced by RuntimeError('task failed')", lambda: _task_factory_loop(_factory(_lose_payload), {"run_in_executor": _payload_losing_executor})),
    "outcome_overwritten": ("a task's result is replaced by None", lambda: _task_factory_loop(_factory(_overwrite))),
    "sleep_zero_ready": ("asyncio.sleep(0) returns without yielding", None),
    "short_sleeps_block": ("asyncio.sleep(d < 50 ms) blocks the thread (time.sleep)", None),
    "short_sleeps_skip": ("asyncio.sleep(d < 50 ms) only yields once, like sleep(0)", None),
    "shutdown_leaks_tasks": ("asyncio.run does not cancel the tasks left pending", None),
    "drop_handle_cancels": ("dropping create_task's result cancels the task", None),
    "half_close_ignored": ("StreamWriter.write_eof() does nothing", None),
    "close_ignored": ("StreamWriter.close() does nothing", None),
    "no_backpressure": ("StreamWriter.drain() never waits", None),
    "partial_write_lost": ("StreamWriter.write keeps only the first 256 KiB of each call", None),
    "eof_not_sticky": ("after end-of-stream, the next read never returns", None),
    "forced_yield": ("StreamReader.read suspends once every 32 reads, data ready or not", None),
    "connect_error_ignored": ("open_connection to a closed port never returns", None),
    "listener_leaked": ("Server.close() does nothing: the listener stays open", None),
    "accept_drops_excess": ("the server aborts every connection after the 32nd", None),
}


def install(name):
    """Installs mutant `name`; returns the loop factory (a class to call)."""
    what, make = MUTANTS[name]
    if make is not None:
        return make()
    if name == "sleep_zero_ready":
        _patch_sleep(_sleep_zero_ready)
    elif name == "short_sleeps_block":
        _patch_sleep(_short_sleeps_block)
    elif name == "short_sleeps_skip":
        _patch_sleep(_short_sleeps_skip)
    elif name == "shutdown_leaks_tasks":
        asyncio.runners._cancel_all_tasks = lambda loop: None
    elif name == "drop_handle_cancels":
        _patch_create_task()
    else:
        _patch_streams(name)
    return _base()
