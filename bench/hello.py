"""The bare response for the ratio: a hello-world RSGI app on the server's own HTTP stack.

Same listener class (embedded granian, same settings), same uvloop loop, one process: the only
difference to the account server is the application behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import uvloop

from nats_account_server.http.listener import Listener

BODY = b"Hello, World!"
HEADERS = [("content-type", "text/plain")]


class Hello:
    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        proto.response_bytes(200, HEADERS, BODY)


async def serve(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    listener = Listener(Hello(), "127.0.0.1", port)
    await listener.start()
    print(f"hello listening on port {port}", flush=True)
    await stop.wait()
    await listener.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
