"""Sign-in throttling per account and per client address, and the argon2 work off the loop.

Failures are counted in a sliding window per account and per address (in this process: with
``--workers N`` each worker counts its own, so the limits are per worker). Once a key reaches
its limit, every attempt for it is answered 429 with ``Retry-After`` without checking the
password, until the oldest failure leaves the window. Password checks (argon2id, deliberately
slow) run in a worker thread under a small capacity limit, so failed sign-ins can neither block
the event loop nor take every core from the other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

#: Named defaults, no source: failures allowed in the window before a key is throttled.
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW_S = 300.0
#: How many argon2 checks may run at once in one process (each uses several threads itself).
PASSWORD_CHECKS = 1
#: The niceness of the password-check threads (Linux: per thread, inherited by argon2's lane
#: threads): under a flood of sign-ins the rest of the service keeps the CPU it needs.
PASSWORD_NICE = 10


@dataclass
class Throttle:
    """Sliding-window failure counts per account and per address."""

    account_failures: int = ACCOUNT_FAILURES
    address_failures: int = ADDRESS_FAILURES
    window_s: float = WINDOW_S
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        return [
            (f"account:{username.lower()}", self.account_failures),
            (f"address:{address}", self.address_failures),
        ]

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until an attempt for this account from this address is allowed (0: now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(username, address):
                times = self._prune(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str) -> bool:
        """Count a failure; ``True`` when it makes the account or the address throttled."""
        now = self.clock()
        hit = False
        with self._lock:
            for key, limit in self._keys(username, address):
                times = self._prune(key, now)
                times.append(now)
                self._failures[key] = times
                hit = hit or len(times) == limit
            if len(self._failures) > 100_000:  # bounded memory under a spray of names
                oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
                for key in oldest[: len(oldest) // 2]:
                    del self._failures[key]
        return hit

    def succeeded(self, username: str) -> None:
        """A correct password clears the account's failures (not the address's)."""
        with self._lock:
            self._failures.pop(f"account:{username.lower()}", None)


def _lower_priority() -> None:
    # Not Linux, or not permitted: run at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSWORD_NICE)


class PasswordChecks:
    """Run password checks on their own low-priority threads, at most ``limit`` at once."""

    def __init__(self, limit: int = PASSWORD_CHECKS) -> None:
        self.limit = limit
        self._executor = ThreadPoolExecutor(
            max_workers=limit, thread_name_prefix="cllcds-password", initializer=_lower_priority
        )

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(func, *args))

    def close(self) -> None:
        """Stop the threads (when the app shuts down)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
