"""Asyncio echo server for `loopbench bench echo --server-cmd` and `loopbench load`.

From seed 000's asyncio streams echo server, without the per-message logging (it would
measure the logger). Usage: python3 asyncio_echo.py PORT [HOST]. Uses uvloop when
LOOPBENCH_UVLOOP=1 and uvloop is installed.
"""

import asyncio
import os
import sys


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(16384)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(host, port):
    server = await asyncio.start_server(echo, host, port, backlog=4096, reuse_address=True)
    addr = server.sockets[0].getsockname()
    print("listening on {}:{}".format(addr[0], addr[1]), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7878
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    if os.environ.get("LOOPBENCH_UVLOOP") == "1":
        import uvloop

        uvloop.install()
    try:
        asyncio.run(main(host, port))
    except KeyboardInterrupt:
        pass
