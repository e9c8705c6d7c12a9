"""/health latency while clients flood the sign-in with wrong passwords.

Starts ``uvicorn cllcds.api:app_from_env`` as a subprocess on a fresh SQLite file, measures
``GET /health`` every 50 ms for ``--seconds`` with no other load, then while ``--hammers``
threads post wrong passwords as fast as they can: once with the sign-in throttle switched off
(every attempt costs an argon2id check: the offloading alone), once with the default throttle
(5 failures per account, 20 per address in 5 minutes, then 429). Prints a Markdown table for
``docs/reliability.md``. Client and server share the machine.

Run: ``.venv/bin/python benchmarks/bench_reliability.py [--hammers 4] [--seconds 8]``
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor, Role
from cllcds.store import Store

PASSWORD = "correct horse battery"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "cllcds.api:app_from_env", "--factory",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env={**os.environ, "CLLCDS_DATABASE_URL": url, **env},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def _latencies(c: httpx.Client, seconds: float) -> list[float]:
    out: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        c.get("/health")
        out.append(time.perf_counter() - t0)
        time.sleep(0.05)
    return out


def _row(label: str, lat: list[float], codes: Counter[int]) -> str:
    p50 = statistics.median(lat) * 1000
    p95 = statistics.quantiles(lat, n=20)[-1] * 1000
    shown = ", ".join(f"{n}×{code}" for code, n in sorted(codes.items())) or "-"
    return f"| {label} | {len(lat)} | {p50:.1f} | {p95:.1f} | {max(lat) * 1000:.1f} | {shown} |"


def run(hammers: int, seconds: float) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, env in (
            ("no throttle (every attempt checked)", {
                "CLLCDS_LOGIN_ACCOUNT_FAILURES": "1000000",
                "CLLCDS_LOGIN_ADDRESS_FAILURES": "1000000"}),
            ("default throttle", {}),
        ):  # fmt: skip
            url = f"sqlite:///{Path(tmp) / (str(len(rows)) + '.db')}"
            store = Store.open(url)
            cs.add_user(store, "victim", PASSWORD, Role.VIEWER, Actor("bench"))
            store.close()
            port = _port()
            proc = _serve(url, port, env)
            base = f"http://127.0.0.1:{port}"
            try:
                with httpx.Client(base_url=base, timeout=60) as probe:
                    for _ in range(20):
                        probe.get("/health")
                    if not rows:
                        rows.append(_row("quiet", _latencies(probe, seconds), Counter()))
                    stop = threading.Event()
                    codes: Counter[int] = Counter()

                    def hammer(
                        n: int, base: str = base, stop: threading.Event = stop,
                        codes: Counter[int] = codes,
                    ) -> None:  # fmt: skip
                        with httpx.Client(base_url=base, timeout=60) as c:
                            i = 0
                            while not stop.is_set():
                                i += 1
                                body = {"username": f"victim{n}-{i % 3}", "password": "wrong"}
                                codes[c.post("/auth/token", json=body).status_code] += 1

                    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(hammers)]
                    for t in threads:
                        t.start()
                    time.sleep(0.5)
                    lat = _latencies(probe, seconds)
                    stop.set()
                    for t in threads:
                        t.join()
                    rows.append(_row(f"{hammers} clients, wrong passwords, {label}", lat, codes))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    print("| Load | Probes | p50 (ms) | p95 (ms) | max (ms) | Sign-in answers |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    print(f"\nload average: {os.getloadavg()}, cpus: {os.cpu_count()}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hammers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    run(a.hammers, a.seconds)
