"""``cllcds serve --workers N``: worker processes with a listening socket each.

uvicorn's own ``--workers`` shares one listening socket between its worker processes, and the
worker that accepts first takes the whole burst: 16 keep-alive clients were counted 15/1 and
16/0 on two workers, so one process (one GIL, one core) served nearly every request
(docs/performance.md, REST API). Here each worker binds its own socket to the same address
with ``SO_REUSEPORT``, and the kernel spreads new connections over them. Linux only (elsewhere
``cllcds serve`` uses uvicorn's workers).

The supervisor first binds the address without ``SO_REUSEPORT``: that fails while anything
listens there, so a second server cannot silently share the port with this one. It restarts
a worker that dies, gives up when workers keep dying at start-up, and on SIGINT or SIGTERM
asks every worker to finish its requests and stop.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from multiprocessing.process import BaseProcess
from typing import Any

BACKLOG = 2048
"""Each worker's listen backlog (uvicorn's default)."""
QUICK_EXIT_S = 10.0
"""A worker that exits sooner than this after its start counts as failing to start."""
QUICK_EXITS_ALLOWED = 3
"""Consecutive quick exits after which the supervisor stops (the server cannot start)."""
STOP_WAIT_S = 15.0
"""How long the supervisor waits for the workers to finish before killing them."""


def reuse_port_available() -> bool:
    """Whether the kernel spreads connections over sockets bound with ``SO_REUSEPORT``."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given: asyncio turns Nagle off (TCP_NODELAY) only on connections of a socket whose
    # proto is IPPROTO_TCP; without it a response written in two parts waits for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(app: str, host: str, port: int, options: Mapping[str, Any]) -> None:
    import uvicorn  # noqa: PLC0415 - in the worker process only

    sock = _socket(host, port, reuse_port=True)
    sock.listen(BACKLOG)
    config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(app: str, host: str, port: int, workers: int, options: Mapping[str, Any]) -> int:
    """Run ``workers`` uvicorn servers of the application factory ``app`` on ``host:port``
    until SIGINT or SIGTERM; answers the exit status."""
    try:
        _socket(host, port, reuse_port=False).close()
    except OSError as exc:
        print(f"cllcds serve: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    context = multiprocessing.get_context("spawn")
    stop: list[int] = []

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(
            target=_worker, args=(app, host, port, dict(options)), name="cllcds-worker"
        )
        process.start()
        return process, time.monotonic()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        running = [start() for _ in range(workers)]
        quick_exits = 0
        while not stop:
            time.sleep(0.2)
            for i, (process, started) in enumerate(running):
                if process.is_alive() or stop:
                    continue
                quick_exits = quick_exits + 1 if time.monotonic() - started < QUICK_EXIT_S else 0
                print(
                    f"cllcds serve: worker {process.pid} exited with status {process.exitcode}",
                    file=sys.stderr,
                )
                if quick_exits >= QUICK_EXITS_ALLOWED:
                    print(
                        "cllcds serve: the workers keep failing to start; stopping", file=sys.stderr
                    )
                    stop.append(0)
                    status = 1
                    break
                running[i] = start()
        for process, _ in running:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for process, _ in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status
