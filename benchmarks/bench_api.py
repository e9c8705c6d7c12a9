"""REST API throughput and latency on loopback: GET course state and POST event, SQLite vs
PostgreSQL, under concurrent clients.

For each database the script migrates a fresh database (a temp SQLite file; a fresh schema in
the PostgreSQL named by ``--pg-url``), creates a clinician and one course per client (the
example course: baseline, three events), starts ``uvicorn cllcds.api:app_from_env`` as a
subprocess (the same app ``cllcds serve`` runs) and drives it with ``--clients`` concurrent
httpx async clients for ``--seconds`` per phase:

* ``GET /courses/{id}/state``: load the course, validate, replay, answer ``cllcds.state/1``;
* ``POST /courses/{id}/events``: a note with ``If-Match: *`` and a fresh ``Idempotency-Key``,
  validated with the whole course, committed durably (WAL + synchronous=FULL / PostgreSQL
  fsync), audited. Each client writes to its own course (many clinicians, many courses).

Run: ``.venv/bin/python benchmarks/bench_api.py [--clients 16] [--seconds 10] [--workers 1]``;
it prints a Markdown table for ``docs/performance.md``. Client and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor, Role
from cllcds.store import Store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "courses" / "escalating.json"
PASSWORD = "benchmark-password"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def setup(url: str, clients: int) -> list[str]:
    store = Store.open(url)
    cs.add_user(store, "bench", PASSWORD, Role.CLINICIAN, Actor("bench"))
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    ids = []
    for i in range(clients):
        d = {**doc, "patient": {**doc["patient"], "id": f"bench-{i}"}}
        ids.append(cs.create_course(store, d, Actor("bench"))["id"])
    store.close()
    return ids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def phase(
    base: str, token: str, course_ids: list[str], seconds: float, write: bool
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def client(cid: str) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as c:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                if write:
                    r = await c.post(
                        f"/courses/{cid}/events",
                        json={"date": "2007-01-09", "type": "note", "text": "bench"},
                        headers={"If-Match": "*", "Idempotency-Key": uuid.uuid4().hex},
                    )
                    ok = r.status_code == 201
                else:
                    r = await c.get(f"/courses/{cid}/state")
                    ok = r.status_code == 200
                latencies.append(time.perf_counter() - t0)
                errors += not ok

    t0 = time.perf_counter()
    await asyncio.gather(*(client(cid) for cid in course_ids))
    elapsed = time.perf_counter() - t0
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
    }


def run_backend(name: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    course_ids = setup(url, args.clients)
    port = free_port()
    env = {**os.environ, "CLLCDS_DATABASE_URL": url}
    cmd = [
        sys.executable, "-m", "uvicorn", "cllcds.api:app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/auth/token", json={"username": "bench", "password": PASSWORD}
        ).json()["access_token"]
        rows = []
        for label, write in (("GET state", False), ("POST event", True)):
            asyncio.run(phase(base, token, course_ids, 1.0, write))  # warm-up
            res = asyncio.run(phase(base, token, course_ids, args.seconds, write))
            rows.append({"database": name, "operation": label, **res})
        return rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg-url", default=os.environ.get("CLLCDS_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cllcds-bench-") as tmp:
        rows += run_backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args)
    if not args.skip_pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            rows += run_backend(
                "PostgreSQL", f"{args.pg_url}?options=-csearch_path%3D{schema}", args
            )
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()

    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {args.clients} clients, {args.seconds:g} s per phase, "
        f"{args.workers} uvicorn worker(s)\n"
    )
    print("| database | operation | requests | errors | req/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['database']} | {r['operation']} | {r['requests']} | {r['errors']} | "
            f"{r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} |"
        )


if __name__ == "__main__":
    main()
