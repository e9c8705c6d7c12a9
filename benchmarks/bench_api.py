"""REST API under load on loopback: ``cllcds serve --workers 2`` on SQLite and PostgreSQL,
driven by a lean load generator on the same machine.

For each database, and each code tree (this one and, with ``--baseline-src``, another checkout
such as ``main``: the before/after comparison in the same run, each on its own database), the
script

1. migrates a fresh database (a temporary SQLite file; a fresh schema in the PostgreSQL named by
   ``--pg-url``) and creates a clinician and one course per client (the example course:
   baseline and three events), in a subprocess running that code tree;
2. starts ``cllcds serve --workers N --no-access-log`` as a user runs it (same code tree), gets
   a bearer token from ``POST /auth/token``;
3. runs the phases in ``--rounds`` interleaved rounds (round by round, phase by phase, tree by
   tree, all servers up at once, so that a change in the machine's load falls on every tree
   alike), each after a short warm-up, every client on its own keep-alive connection sending
   its next request as soon as the answer arrives:

   * ``GET state`` (``--clients``, default 16): ``GET /courses/{id}/state``;
   * ``GET state`` at ``--many`` clients (default 200): the same with many connections;
   * ``POST event`` (``--clients``): a note with ``If-Match: *`` and a fresh
     ``Idempotency-Key``, validated with the whole course, committed durably and audited; each
     client writes to its own course (last in each round: the courses grow with it).

The load generator is one asyncio process speaking HTTP/1.1 over raw sockets (no HTTP library:
it writes a request and reads status, headers and ``Content-Length`` bytes), so that it takes as
little as possible of the CPUs it shares with the server; its own CPU time per phase is
reported (``gen CPU``: CPU seconds per wall second, 1.0 = one core), with the server's
(``srv CPU``; ``srv ms/req``: the server processes' CPU milliseconds per request, without
the database server's), and the load average. A request counts as an error when the status is
not the expected one (200 / 201) or the connection fails (then the client reconnects).

Run: ``.venv/bin/python benchmarks/bench_api.py [--quick] [--skip-pg] [--workers 2]
[--clients 16] [--many 200] [--seconds 10] [--rounds 3] [--phases get,many,post]
[--baseline-src /work/apiload-base/src]``.
It prints a Markdown table for ``docs/performance.md`` and the goals met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "courses" / "escalating.json"
PASSWORD = "benchmark-password"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: The issue's goals: (phase, minimum req/s, maximum p99 ms, errors allowed).
GOALS = {
    "GET state": (400.0, 100.0),
    "POST event": (150.0, None),
    "GET state (many)": (None, 2000.0),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ set-up


def setup_main(url: str, courses: int) -> None:
    """Subprocess entry (``--setup-only``): migrate, a clinician, ``courses`` courses; print
    the course ids as JSON. Runs in the code tree under test (``PYTHONPATH``)."""
    from cllcds.services import _clinical_store as cs  # noqa: PLC0415
    from cllcds.services._repository import Actor, Role  # noqa: PLC0415
    from cllcds.store import Store  # noqa: PLC0415

    store = Store.open(url)
    cs.add_user(store, "bench", PASSWORD, Role.CLINICIAN, Actor("bench"))
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    ids = []
    for i in range(courses):
        d = {**doc, "patient": {**doc["patient"], "id": f"bench-{i}"}}
        ids.append(cs.create_course(store, d, Actor("bench"))["id"])
    store.close()
    print(json.dumps(ids))


def tree_env(src: Path | None, url: str) -> dict[str, str]:
    env = {**os.environ, "CLLCDS_DATABASE_URL": url}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    return env


def setup(src: Path | None, url: str, courses: int) -> list[str]:
    cmd = [sys.executable, __file__, "--setup-only", url, "--many", str(courses)]
    out = subprocess.run(cmd, env=tree_env(src, url), check=True, capture_output=True, text=True)
    ids: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def auth_micro(url: str, database: str, n: int) -> list[dict[str, Any]]:
    """In one process, per call: the token lookup as ``main`` does it (an ORM session joining
    the token and the account), the same through this tree's single statement, and a cache hit
    (the auth epoch read and a dictionary lookup); and the patient team check."""
    import datetime as dt  # noqa: PLC0415

    from sqlalchemy import select  # noqa: PLC0415

    from cllcds.services import _clinical_store as cs  # noqa: PLC0415
    from cllcds.services._repository import Actor, Role  # noqa: PLC0415
    from cllcds.store import Store  # noqa: PLC0415
    from cllcds.store._models import TokenRow, UserRow  # noqa: PLC0415

    store = Store.open(url)
    cs.add_user(store, "micro", PASSWORD, Role.CLINICIAN, Actor("bench"))
    token, _csrf, _exp = cs.issue_token(store, "micro", "bearer", dt.timedelta(hours=1))
    digest = cs.token_digest(token)
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    doc["patient"]["id"] = "micro-1"
    cs.create_course(store, doc, Actor("bench"))

    def orm_lookup() -> None:  # main's Store.token_user
        with store._reading() as s:
            s.execute(
                select(TokenRow, UserRow)
                .join(UserRow, UserRow.username == TokenRow.username)
                .where(TokenRow.token_hash == digest, TokenRow.kind == "bearer")
            ).first()

    def timed(func: Any) -> float:
        func()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(n):
                func()
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        return best

    rows = [
        ("token: ORM session + join (main)", orm_lookup),
        ("token: one statement, uncached", lambda: store._token_user(digest, "bearer")),
        ("token: cached (epoch read + dict)", lambda: store.token_user(digest, "bearer")),
        ("auth epoch read alone", store.auth_epoch),
        ("patient team check", lambda: store.patient_team("micro-1")),
    ]
    out = [{"database": database, "what": label, "us": timed(f)} for label, f in rows]
    store.close()
    return out


# ------------------------------------------------------------------------ a lean client


class HttpError(Exception):
    """The server answered something this client does not read, or closed the connection."""


class Conn:
    """One HTTP/1.1 keep-alive connection: a request out, status and body back."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        chunked, keep = False, True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                keep = False
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                body += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length >= 0:
            body = await self.reader.readexactly(length)
        else:
            raise HttpError("no Content-Length")
        if not keep:
            self.close()
        return status, body


def get(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").encode()


def post(path: str, token: str, body: bytes, key: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"If-Match: *\r\nIdempotency-Key: {key}\r\n\r\n"
    ).encode() + body


NOTE = json.dumps({"date": "2007-01-09", "type": "note", "text": "bench"}).encode()


# ------------------------------------------------------------------------------ phases


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the uvicorn workers), from /proc."""
    total = 0.0
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(stat[11]) + int(stat[12])) / CLK_TCK
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += proc_cpu(int(child))
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    per_client: list[int] = field(default_factory=list)
    first_error: str = ""


async def run_phase(
    port: int, token: str, course_ids: list[str], seconds: float, write: bool
) -> tuple[Result, float]:
    result = Result(per_client=[0] * len(course_ids))
    deadline = time.perf_counter() + seconds
    start = asyncio.Event()

    async def client(i: int, cid: str) -> None:
        conn = Conn("127.0.0.1", port)
        want = 201 if write else 200
        await start.wait()
        while time.perf_counter() < deadline:
            raw = (
                post(f"/courses/{cid}/events", token, NOTE, uuid.uuid4().hex)
                if write
                else get(f"/courses/{cid}/state", token)
            )
            t0 = time.perf_counter()
            try:
                status, body = await conn.request(raw)
                ok = status == want
                if not ok and not result.first_error:
                    result.first_error = f"{status} {body[:200]!r}"
            except (OSError, asyncio.IncompleteReadError, HttpError, ValueError) as exc:
                ok = False
                conn.close()
                if not result.first_error:
                    result.first_error = repr(exc)
            result.latencies.append(time.perf_counter() - t0)
            result.requests += 1
            result.per_client[i] += 1
            result.errors += not ok
        conn.close()

    tasks = [asyncio.create_task(client(i, cid)) for i, cid in enumerate(course_ids)]
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return result, time.perf_counter() - t0


def measure(
    label: str, port: int, server_pid: int, token: str, ids: list[str], seconds: float,
    warmup: float, write: bool,
) -> dict[str, Any]:  # fmt: skip
    asyncio.run(run_phase(port, token, ids, warmup, write))
    load0 = os.getloadavg()[0]
    gen0, srv0 = own_cpu(), proc_cpu(server_pid)
    res, elapsed = asyncio.run(run_phase(port, token, ids, seconds, write))
    gen1, srv1 = own_cpu(), proc_cpu(server_pid)
    return {
        "phase": label,
        "clients": len(ids),
        "requests": res.requests,
        "errors": res.errors,
        "rps": res.requests / elapsed,
        "p50": percentile(res.latencies, 0.50) * 1000,
        "p95": percentile(res.latencies, 0.95) * 1000,
        "p99": percentile(res.latencies, 0.99) * 1000,
        "per_client": res.per_client,
        "min_per_client": min(res.per_client),
        "gen_cpu": (gen1 - gen0) / elapsed,
        "srv_cpu": (srv1 - srv0) / elapsed,
        "srv_ms": (srv1 - srv0) / max(res.requests, 1) * 1000,
        "load0": load0,
        "load1": os.getloadavg()[0],
        "load": f"{load0:.1f}-{os.getloadavg()[0]:.1f}",
        "first_error": res.first_error,
    }


@contextlib.contextmanager
def serve(src: Path | None, url: str, workers: int) -> Iterator[tuple[int, int]]:
    port = free_port()
    cllcds = str(Path(sys.executable).with_name("cllcds"))
    cmd = [cllcds, "serve", "--port", str(port), "--workers", str(workers), "--no-access-log"]
    proc = subprocess.Popen(cmd, env=tree_env(src, url), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            with contextlib.suppress(OSError, HttpError, asyncio.IncompleteReadError):
                if asyncio.run(_once(port, b"GET /health HTTP/1.1\r\nHost: b\r\n\r\n"))[0] == 200:
                    break
            time.sleep(0.2)
        time.sleep(1.0 * workers)  # every worker up, not only the first
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


async def _once(port: int, raw: bytes) -> tuple[int, bytes]:
    conn = Conn("127.0.0.1", port)
    try:
        return await conn.request(raw)
    finally:
        conn.close()


def token_for(port: int) -> str:
    creds = json.dumps({"username": "bench", "password": PASSWORD}).encode()
    raw = (
        "POST /auth/token HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(creds)}\r\n\r\n"
    ).encode() + creds
    status, body = asyncio.run(_once(port, raw))
    assert status == 200, body
    token: str = json.loads(body)["access_token"]
    return token


@dataclass
class Target:
    """One code tree served on its own database, ready to be driven."""

    tree: str
    port: int
    pid: int
    token: str
    ids: list[str]


def run_database(
    database: str, trees: list[tuple[str, Path | None]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Every tree on a database of its own, all servers up at once; the phases interleaved
    (round by round, phase by phase, tree by tree) so that a change in the machine's load
    falls on every tree alike. Answers one row per tree, phase and round."""
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        targets = []
        for tree, src in trees:
            if database == "SQLite":
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="cllcds-bench-"))
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                url = stack.enter_context(pg_schema(args.pg_url))
            ids = setup(src, url, max(args.clients, args.many))
            port, pid = stack.enter_context(serve(src, url, args.workers))
            targets.append(Target(tree, port, pid, token_for(port), ids))
        phases = {
            "get": ("GET state", args.clients, False),
            "many": ("GET state (many)", args.many, False),
            "post": ("POST event", args.clients, True),
        }
        for rnd in range(1, args.rounds + 1):
            for name in args.phases.split(","):
                label, clients, write = phases[name.strip()]
                for t in targets:
                    row = measure(
                        label, t.port, t.pid, t.token, t.ids[:clients], args.seconds,
                        args.warmup, write,
                    )  # fmt: skip
                    rows.append({"tree": t.tree, "database": database, "round": rnd, **row})
                    print(_line(rows[-1]), file=sys.stderr, flush=True)
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per tree, database and phase: the round with the median req/s (its latencies), the
    req/s range over the rounds, the median server CPU per request, the total requests and
    errors, the fewest requests any client completed over all rounds, the load range."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["tree"], r["database"], r["phase"]), []).append(r)
    out = []
    for group in groups.values():
        ordered = sorted(group, key=lambda r: r["rps"])
        median = dict(ordered[len(ordered) // 2])
        median["rps_range"] = f"{ordered[0]['rps']:.0f}-{ordered[-1]['rps']:.0f}"
        median["requests"] = sum(r["requests"] for r in group)
        median["errors"] = sum(r["errors"] for r in group)
        # Requests per client over all rounds (a client keeps its course from round to round).
        median["min_per_client"] = min(
            sum(counts) for counts in zip(*(r["per_client"] for r in group), strict=True)
        )
        median["srv_ms"] = sorted(r["srv_ms"] for r in group)[len(group) // 2]
        median["first_error"] = next((r["first_error"] for r in group if r["first_error"]), "")
        loads = [r["load0"] for r in group] + [r["load1"] for r in group]
        median["load"] = f"{min(loads):.1f}-{max(loads):.1f}"
        out.append(median)
    return out


def _line(r: dict[str, Any]) -> str:
    return (
        f"| {r['tree']} | {r['database']} | {r['phase']} | {r['clients']} | {r['requests']} | "
        f"{r['errors']} | {r['rps']:.0f}{_range(r)} | {r['p50']:.1f} | {r['p95']:.1f} | "
        f"{r['p99']:.1f} | "
        f"{r['min_per_client']} | {r['gen_cpu']:.2f} | {r['srv_cpu']:.2f} | {r['srv_ms']:.1f} | "
        f"{r['load']} |"
    )


def _range(r: dict[str, Any]) -> str:
    if "rps_range" in r:
        return f" ({r['rps_range']})"
    return f" (round {r['round']})" if "round" in r else ""


def goal(r: dict[str, Any]) -> str:
    min_rps, max_p99 = GOALS[r["phase"]]
    ok = r["errors"] == 0
    ok = ok and (min_rps is None or r["rps"] >= min_rps)
    ok = ok and (max_p99 is None or r["p99"] < max_p99)
    return "met" if ok else "NOT met"


@contextlib.contextmanager
def pg_schema(pg_url: str) -> Iterator[str]:
    import sqlalchemy as sa  # noqa: PLC0415

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="clients in the 16-client phases")
    parser.add_argument("--many", type=int, default=200, help="clients in the many-client phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per phase and round")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per phase")
    parser.add_argument("--workers", type=int, default=2, help="cllcds serve --workers")
    parser.add_argument("--pg-url", default=os.environ.get("CLLCDS_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--skip-pg", action="store_true", help="SQLite only")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also run another checkout's src/ (e.g. a worktree of main) as the comparator",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s phases")
    parser.add_argument(
        "--phases", default="get,many,post", help="which phases, in order (get, many, post)"
    )
    parser.add_argument(
        "--auth-micro", action="store_true", help="only the in-process token lookup timings"
    )
    parser.add_argument("--setup-only", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup_only:
        setup_main(args.setup_only, args.many)
        return
    if args.auth_micro:
        micro: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="cllcds-bench-") as tmp:
            micro += auth_micro(f"sqlite:///{Path(tmp) / 'micro.db'}", "SQLite", 500)
        if not args.skip_pg:
            with pg_schema(args.pg_url) as url:
                micro += auth_micro(url, "PostgreSQL", 500)
        print(f"load average {os.getloadavg()[0]:.1f}; best of 3 x 500 calls\n")
        print("| database | step | µs per call |\n|---|---|---:|")
        for m in micro:
            print(f"| {m['database']} | {m['what']} | {m['us']:.0f} |")
        return
    if args.quick:
        args.seconds, args.warmup, args.rounds = 5.0, 1.0, 1

    trees: list[tuple[str, Path | None]] = []
    if args.baseline_src is not None:
        trees.append(("baseline", args.baseline_src.resolve()))
    trees.append(("this", None))
    rows: list[dict[str, Any]] = []
    header = (
        "| code | database | phase | clients | requests | errors | req/s | p50 ms | p95 ms | "
        "p99 ms | min/client | gen CPU | srv CPU | srv ms/req | load avg |"
    )
    print(header, file=sys.stderr)
    for database in ("SQLite", "PostgreSQL"):
        if (database == "SQLite" and args.skip_sqlite) or (database != "SQLite" and args.skip_pg):
            continue
        rows += run_database(database, trees, args)
    rows = summarise(rows)

    print(
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"cllcds serve --workers {args.workers}, {args.rounds} interleaved round(s) of "
        f"{args.seconds:g} s per phase after {args.warmup:g} s warm-up (req/s: the median "
        "round, its latencies, and the range over the rounds); load generator: one asyncio "
        "process, raw HTTP/1.1 keep-alive"
        + (f"; baseline = {args.baseline_src}" if args.baseline_src else "")
        + "\n"
    )
    print(header + " goal |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(f"{_line(r)} {goal(r)} |")
    for r in rows:
        if r["first_error"]:
            print(f"\n{r['tree']} {r['database']} {r['phase']}: first error {r['first_error']}")


if __name__ == "__main__":
    main()
