"""Twins of scenarios/src/net.rs (rules N1-N6, C2 on I/O): asyncio streams
(start_server, open_connection, StreamReader/StreamWriter) on listeners made like
harness::net::bind_listener makes them."""

import asyncio
import socket

from twinlib import (bind_listener, check, deviates, kernel_tcp_buffer_max, resident_bytes, run,
                     within)
import time

STEP = 3


async def _echo(reader, writer):
    try:
        while True:
            data = await reader.read(16 * 1024)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    writer.close()


async def _echo_server():
    lsock = bind_listener()
    server = await asyncio.start_server(_echo, sock=lsock)
    return lsock.getsockname(), server


async def _connect(addr):
    ok, conn = await within(STEP, asyncio.open_connection(*addr))
    return conn if ok else None


def echo_roundtrip():
    async def main():
        addr, server = await _echo_server()
        conn = await _connect(addr)
        if conn is None:
            return deviates("connect did not finish within 3 s", "connect finishes")
        reader, writer = conn
        data = bytes((i * 7 % 251) for i in range(4 << 20))
        back = bytearray()

        async def send():
            writer.write(data)
            await writer.drain()
            return True

        async def receive():
            while len(back) < len(data):
                chunk = await reader.read(64 * 1024)
                if not chunk:
                    break
                back.extend(chunk)

        ok, res = await within(STEP, asyncio.gather(send(), receive()))
        wrote = ok and res[0] is True
        first = next((i for i, (a, b) in enumerate(zip(back, data)) if a != b), None)
        writer.close()
        server.close()
        return check({"write_completed": wrote, "bytes_back": len(back), "first_wrong_byte": first},
                     {"write_completed": True, "bytes_back": len(data), "first_wrong_byte": None})
    return run(main)


def concurrent_clients():
    async def main():
        addr, server = await _echo_server()
        conns = []
        for _ in range(50):
            c = await _connect(addr)
            if c is None:
                return deviates("connect did not finish within 3 s", "connect finishes")
            conns.append(c)
        ok = [0]

        async def client(i, reader, writer):
            msg = f"hello {i:03}".encode()
            try:
                writer.write(msg)
                await writer.drain()
                if await reader.readexactly(len(msg)) == msg:
                    ok[0] += 1
            except (OSError, asyncio.IncompleteReadError):
                pass

        await within(STEP, asyncio.gather(*(client(i, r, w) for i, (r, w) in enumerate(conns))))
        server.close()
        return check({"clients_served": ok[0]}, {"clients_served": 50})
    return run(main)


def accept_backlog():
    async def main():
        loop = asyncio.get_running_loop()
        lsock = bind_listener()
        addr = lsock.getsockname()
        clients = []
        for _ in range(100):
            c = socket.socket()
            c.connect(addr)
            clients.append(c)
        served = [0]
        all_served = loop.create_future()

        async def answer(reader, writer):
            served[0] += 1
            if served[0] == 100 and not all_served.done():
                all_served.set_result(None)
            writer.write(b"ok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, sock=lsock)
        await within(STEP, all_served)

        def read_all():
            n = 0
            for c in clients:
                c.settimeout(2)
                try:
                    buf = b""
                    while len(buf) < 2:
                        part = c.recv(2 - len(buf))
                        if not part:
                            break
                        buf += part
                    n += buf == b"ok"
                except OSError:
                    pass
                c.close()
            return n

        answered = await loop.run_in_executor(None, read_all)
        server.close()
        return check({"accepted": served[0], "answered": answered}, {"accepted": 100, "answered": 100})
    return run(main)


def half_close():
    async def main():
        lsock = bind_listener()
        addr = lsock.getsockname()
        done = asyncio.get_running_loop().create_future()
        got = asyncio.get_running_loop().create_future()

        async def handle(reader, writer):
            data = await reader.read()
            writer.write(f"got {len(data)} bytes, bye".encode())
            await writer.drain()
            writer.write_eof()
            await done
            got.set_result(data.decode())
            writer.close()

        server = await asyncio.start_server(handle, sock=lsock)
        conn = await _connect(addr)
        if conn is None:
            return deviates("connect did not finish within 3 s", "connect finishes")
        reader, writer = conn
        writer.write(b"request")
        await writer.drain()
        writer.write_eof()
        ok, reply = await within(STEP, reader.read())
        done.set_result(None)
        ok_s, server_got = await within(STEP, got)
        writer.close()
        server.close()
        return check({"server_read_until_eof": server_got if ok_s else None,
                      "client_got": (reply or b"").decode(errors="replace"), "client_saw_eof": ok},
                     {"server_read_until_eof": "request", "client_got": "got 7 bytes, bye", "client_saw_eof": True})
    return run(main)


def close_shuts_write():
    """asyncio's close() of a stream (StreamWriter.close) closes the whole connection: the
    client's view is the same, the reply then end-of-stream."""
    async def main():
        lsock = bind_listener()
        addr = lsock.getsockname()

        async def handle(reader, writer):
            writer.write(b"reply")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, sock=lsock)
        conn = await _connect(addr)
        if conn is None:
            return deviates("connect did not finish within 3 s", "connect finishes")
        reader, writer = conn
        ok, got = await within(STEP, reader.read())
        writer.close()
        server.close()
        return check({"client_got": (got or b"").decode(errors="replace"), "client_saw_eof": ok},
                     {"client_got": "reply", "client_saw_eof": True})
    return run(main)


def eof_after_short_read():
    async def main():
        lsock = bind_listener()
        addr = lsock.getsockname()
        go = asyncio.get_running_loop().create_future()
        keep = []

        async def handle(reader, writer):
            await go
            writer.write(b"hello")
            await writer.drain()
            writer.write_eof()
            keep.append(writer)

        server = await asyncio.start_server(handle, sock=lsock)
        conn = await _connect(addr)
        if conn is None:
            return deviates("connect did not finish within 3 s", "connect finishes")
        reader, writer = conn
        first = asyncio.ensure_future(reader.read(64))
        await asyncio.sleep(0)
        go.set_result(None)
        reads = []
        ok, data = await within(STEP, first)
        reads.append(len(data) if ok else "no data within the limit")
        for _ in range(2):
            ok, data = await within(STEP, reader.read(64))
            reads.append(len(data) if ok else "no end-of-stream within the limit")
        writer.close()
        server.close()
        return check({"reads": reads}, {"reads": [5, 0, 0]})
    return run(main)


def backpressure():
    async def main():
        limit, chunk_n = 64 << 20, 64 * 1024
        lsock = bind_listener()
        addr = lsock.getsockname()
        written = [0]
        finished = asyncio.get_running_loop().create_future()

        async def handle(reader, writer):
            chunk = b"x" * chunk_n
            try:
                while written[0] < limit:
                    writer.write(chunk)
                    await writer.drain()
                    written[0] += len(chunk)
                writer.close()
                finished.set_result(True)
            except OSError:
                finished.set_result(False)

        server = await asyncio.start_server(handle, sock=lsock)
        rss_before = resident_bytes()
        conn = await _connect(addr)
        if conn is None:
            return deviates("connect did not finish within 3 s", "connect finishes")
        reader, writer = conn
        last, start = None, time.monotonic()
        while time.monotonic() - start < 2:
            await asyncio.sleep(0.03)
            if written[0] == last:
                break
            last = written[0]
        stalled_at = written[0]
        rss_after = resident_bytes()
        growth = max(0, rss_after - rss_before) if rss_before and rss_after else 0
        kernel_bound = (kernel_tcp_buffer_max() or (8 << 20)) + chunk_n
        total = [0]

        async def drain_all():
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    return
                total[0] += len(data)

        ok, _ = await within(10, drain_all())
        ok_w, done = await within(STEP, finished)
        writer.close()
        server.close()
        return check({"stalled_within_kernel_buffers": stalled_at <= kernel_bound,
                      "process_grew_by_more_than_16_mib": growth > 16 << 20,
                      "drained_all": ok and total[0] == limit, "writer_finished": ok_w and done is True},
                     {"stalled_within_kernel_buffers": True, "process_grew_by_more_than_16_mib": False,
                      "drained_all": True, "writer_finished": True}).measure(
            "bytes_accepted_at_stall", float(stalled_at), "bytes").measure(
            "kernel_buffer_bound", float(kernel_bound), "bytes").measure("rss_growth_at_stall", float(growth), "bytes")
    return run(main)


def graceful_close():
    async def main():
        lsock = bind_listener()
        addr = lsock.getsockname()
        server = await asyncio.start_server(_echo, sock=lsock)
        conn = await _connect(addr)
        if conn is None:
            return deviates("connect did not finish within 3 s", "connect finishes")
        reader, writer = conn
        writer.write(b"ping")
        await writer.drain()
        ok, _ = await within(STEP, reader.readexactly(4))
        if not ok:
            return deviates("echo did not finish within 3 s", "echo finishes")
        server.close()
        await asyncio.sleep(0)
        try:
            ok, c2 = await within(STEP, asyncio.open_connection(*addr))
            refused = not ok
        except OSError:
            refused = True
        writer.write(b"pong")
        await writer.drain()
        ok, buf = await within(STEP, reader.readexactly(4))
        writer.close()
        return check({"new_connect_refused": refused, "open_connection_echoed": ok and buf == b"pong"},
                     {"new_connect_refused": True, "open_connection_echoed": True})

    async def guarded():
        try:
            return await main()
        except OSError as e:
            return deviates(f"I/O error: {e}", "no I/O error")
    return run(guarded)


def connect_refused():
    async def main():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        addr = s.getsockname()
        s.close()
        try:
            ok, _ = await within(2, asyncio.open_connection(*addr))
            outcome = "connected" if ok else "still pending after 2 s"
        except OSError:
            outcome = "error"
        return check({"connect": outcome}, {"connect": "error"})
    return run(main)


def read_with_time_limit():
    async def main():
        addr, server = await _echo_server()
        conn = await _connect(addr)
        if conn is None:
            return deviates("connect did not finish within 3 s", "connect finishes")
        reader, writer = conn
        start = time.monotonic()
        try:
            await asyncio.wait_for(reader.read(4), 0.03)
            timed_out = False
        except asyncio.TimeoutError:
            timed_out = True
        after = time.monotonic() - start
        writer.write(b"ping")
        await writer.drain()
        ok, buf = await within(STEP, reader.readexactly(4))
        writer.close()
        server.close()
        observed = {"timed_out": timed_out, "before_the_limit": after < 0.03,
                    "still_echoes": ok and buf == b"ping"}
        if after < 0.03:
            # How early, so a difference can be told from a broken time limit.
            observed["early_by_ms"] = round((0.03 - after) * 1e3, 3)
        return check(observed,
                     {"timed_out": True, "before_the_limit": False, "still_echoes": True}).measure(
            "timed_out_after", after * 1e3, "ms")
    return run(main)


TWINS = {
    "net.echo_roundtrip": echo_roundtrip,
    "net.concurrent_clients": concurrent_clients,
    "net.accept_backlog": accept_backlog,
    "net.half_close": half_close,
    "net.close_shuts_write": close_shuts_write,
    "net.eof_after_short_read": eof_after_short_read,
    "net.backpressure": backpressure,
    "net.graceful_close": graceful_close,
    "net.connect_refused": connect_refused,
    "net.read_with_time_limit": read_with_time_limit,
}

KILLS = {
    "net.echo_roundtrip": ["partial_write_lost"],
    "net.concurrent_clients": ["accept_drops_excess"],
    "net.accept_backlog": ["accept_drops_excess"],
    "net.half_close": ["half_close_ignored"],
    "net.close_shuts_write": ["close_ignored"],
    "net.eof_after_short_read": ["eof_not_sticky"],
    "net.backpressure": ["no_backpressure"],
    "net.graceful_close": ["listener_leaked"],
    "net.connect_refused": ["connect_error_ignored"],
    "net.read_with_time_limit": ["timers_early"],
}
