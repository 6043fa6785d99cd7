"""Asyncio echo server, the seeds' server for `loopbench bench echo|equal|capacity --with-python`
(names `asyncio` and `uvloop`), `--server NAME=CMD` and `loopbench load`.

From seed 000's asyncio streams echo server, without the per-message logging (it would
measure the logger), reading at most BUFFER bytes at a time (seed 000's BUFFER_SIZE, 2048, by
default; loopbench passes its `--buffer`).

Usage: python3 asyncio_echo.py PORT [HOST] [--buffer BYTES] [--uvloop]
`--uvloop` (or LOOPBENCH_UVLOOP=1) runs it on uvloop, which must be installed.
"""

import argparse
import asyncio
import os


def parse_args():
    p = argparse.ArgumentParser(description="asyncio echo server")
    p.add_argument("port", type=int, nargs="?", default=7878)
    p.add_argument("host", nargs="?", default="127.0.0.1")
    p.add_argument("--buffer", type=int, default=2048)
    p.add_argument("--uvloop", action="store_true")
    return p.parse_args()


def make_echo(buffer):
    async def echo(reader, writer):
        try:
            while True:
                data = await reader.read(buffer)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    return echo


async def main(host, port, buffer):
    server = await asyncio.start_server(
        make_echo(buffer), host, port, backlog=4096, reuse_address=True
    )
    addr = server.sockets[0].getsockname()
    print("listening on {}:{}".format(addr[0], addr[1]), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = parse_args()
    if args.uvloop or os.environ.get("LOOPBENCH_UVLOOP") == "1":
        import uvloop

        uvloop.install()
    try:
        asyncio.run(main(args.host, args.port, args.buffer))
    except KeyboardInterrupt:
        pass
