"""A real uvicorn server in a thread of the test process, on a free loopback port.

The API, web and store tests talk to the app over real HTTP through this one helper;
:func:`wait_healthy` waits for a ``cllcds serve`` started as a process.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def free_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port, for uvicorn to listen on.

    With TCP_NODELAY: asyncio sets it only on connections of sockets it makes itself
    (``proto=IPPROTO_TCP``), not on those accepted from a socket made here, and without it
    a response written in two parts waits ~40 ms for the client's delayed ACK. Linux copies
    the option to every accepted connection."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` (lifespan on) until the block ends; yields its base URL."""
    sock = free_socket()
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def wait_healthy(
    proc: subprocess.Popen[bytes], base: str, why: Callable[[], str] = lambda: "the server exited"
) -> None:
    """Return once the ``cllcds serve`` process ``proc`` answers ``GET /health`` at ``base``
    (at most 60 s); fail with ``why()`` if it exits first."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, why()
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
