"""Web page timings: the course page of a course with a year of events, and the patient list.

The script builds a fresh SQLite database (a temp file), seeds it through the same use cases
a user goes through (``create_course``), builds the app as ``cllcds serve`` does (the API's
``create_app`` with the web router included), starts uvicorn on a loopback port in a thread,
signs in through the sign-in form, and times ``GET`` requests with one httpx client: the time
from sending the request to having the whole HTML body, server-side rendering included, over
loopback (a few hundred microseconds of it is HTTP).

* **course page, year of events**: a label course (3 → 10 → 30 mg, then 30 mg three times a
  week for 51 weeks) with a weekly panel (ANC, platelets, haemoglobin, lymphocytes) and a
  weekly CMV PCR: 416 events. *cold* is the first request after the course changed (load,
  validate, replay, charts, render); *warm* reuses the replayed state (the page caches the
  state, charts and timeline by course version), but still reads the course and renders.
* **patient list, 200 patients**: one 12-week course each (96 events). *cold* is the first
  list this server makes; *warm* the following ones.
* **patient list after a restart**: each round starts a new server process on the same
  database (``--restarts`` rounds), built as a ``cllcds serve`` worker is (``create_app``, then
  the start-up objects frozen out of the collector), and times its first patient list, then its
  next ones. Two
  kinds of round, interleaved: with the summaries stored with each course (migration 0004), and
  with them removed first (``DELETE FROM course_states``), which is what every restart cost
  before: every course is loaded, validated and replayed (and its summary stored again).
* **course state, one client**: ``GET /courses/{id}/state`` of the 52-week course, served from
  the stored state, and with the stored state removed before each request (computed as before).

Run: ``.venv/bin/python benchmarks/bench_web.py [--rounds 15] [--restarts 3] [--write]``; with
``--write`` the table replaces the "## Web pages" section of ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

from cllcds.api import Settings, create_app, current_user, require
from cllcds.api._app import settle_startup_objects
from cllcds.api._auth import get_store
from cllcds.domain import COURSE_FORMAT
from cllcds.services import _clinical_store as cs
from cllcds.services._course import course_state, load_course
from cllcds.services._repository import Actor, Role
from cllcds.store import Store
from cllcds.web import make_router
from cllcds.web._demo import _baseline, _cmv, _escalation_then_tiw, _panel, _patient

DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
SECTION = "## Web pages"
ACTOR = Actor("bench")


def course(pid: str, weeks: int, today: dt.date) -> dict[str, Any]:
    """A label course of ``weeks`` weeks ending yesterday, weekly panel and CMV PCR."""
    start = today - dt.timedelta(days=7 * weeks)
    events = _escalation_then_tiw(start, weeks - 1, today - dt.timedelta(days=1))
    for week in range(weeks):
        day = start + dt.timedelta(days=7 * week)
        events += _panel(day, 1.6 + 0.01 * (week % 7), 90 + week % 5, 10.5, 2.0)
        events.append(_cmv(day))
    return {
        "format": COURSE_FORMAT,
        "patient": _patient(pid, "female", "1950-01-01", 165, 65),
        "regimen": "alemtuzumab-iv-label",
        "start_date": start.isoformat(),
        "baseline": _baseline(start - dt.timedelta(days=3)),
        "events": events,
    }


def serve(store: Store, url: str) -> tuple[uvicorn.Server, threading.Thread, str]:
    app = create_app(Settings(database_url=url), store=store)
    if not any(getattr(r, "path", "") == "/app/" for r in app.routes):
        # An API app that does not mount the pages itself: include them as `serve` would.
        app.include_router(
            make_router(current_user=current_user, get_store=get_store, require=require)
        )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Accepted sockets inherit TCP_NODELAY from this one. asyncio sets it only on sockets it
    # made itself (proto IPPROTO_TCP), not on a pre-bound one: without it every response whose
    # headers and body go out in two writes waits ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def login(client: httpx.Client) -> None:
    """Sign in through the form as a browser does (its CSRF token first)."""
    page = client.get("/app/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    r = client.post(
        "/app/login",
        data={"username": "bench", "password": "bench-password", "login_csrf": token.group(1)},
    )
    assert r.status_code == 303, r.text[:300]


def first_list(url: str, warm: int) -> None:
    """In a fresh process: serve ``url``, sign in, time the first patient list and ``warm``
    more; print them as JSON (the parent starts one such process per restart)."""
    t0 = time.perf_counter()
    store = Store.open(url)
    server, thread, base = serve(store, url)
    settle_startup_objects()  # as a `cllcds serve` worker does once its app is built
    started = (time.perf_counter() - t0) * 1000
    try:
        with httpx.Client(base_url=base, timeout=300) as client:
            login(client)
            cpu0 = time.process_time()
            first = timed(client, "/app/")
            first_cpu = (time.process_time() - cpu0) * 1000
            after = [timed(client, "/app/") for _ in range(warm)]
            size = len(client.get("/app/").content)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        store.close()
    print(
        json.dumps(
            {
                "first": first,
                "first_cpu": first_cpu,
                "warm": after,
                "started": started,
                "size": size,
            }
        )
    )


def restarted(url: str, warm: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--first-list", url, "--rounds", str(warm)],
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def drop_states(url: str, course_id: str | None = None) -> None:
    """Remove the stored states (of one course, or all)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if course_id is None:
            conn.execute(sa.text("DELETE FROM course_states"))
        else:
            conn.execute(
                sa.text("DELETE FROM course_states WHERE course_id = :c"), {"c": course_id}
            )
    engine.dispose()


def timed_cpu(request: Any) -> tuple[float, float]:
    """Wall and CPU time (this process: the client and the in-process server) of a call."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    r = request()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if hasattr(r, "status_code"):
        assert r.status_code == 200, r.text[:300]
    return wall * 1000, cpu * 1000


def timed(client: httpx.Client, path: str) -> float:
    t0 = time.perf_counter()
    r = client.get(path)
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return elapsed * 1000


def bump(store: Store, course_id: str) -> None:
    """Record a note so that the course's cached state is stale (a cold page next time)."""
    cs.append_event(
        store,
        course_id,
        {"date": dt.date.today().isoformat(), "type": "note", "text": "bench"},
        expected_version=None,
        idempotency_key=None,
        actor=ACTOR,
    )


def validation_only(doc: Any) -> None:
    """The write check as it was before states were stored: parse and replay, nothing kept."""
    course_state(load_course(dict(doc)))


def time_writes(url: str, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """One note appended to a 12-week course through the store, interleaved: the write check
    that keeps today's state (dated today: its replay is today's state; dated yesterday: a
    second replay) against the check alone (as before). Each includes the durable commit."""
    store = Store.open(url)
    cid = next(c["id"] for c in cs.list_courses(store, limit=5).items if c["patient_id"] == "p000")
    today = dt.date.today()
    kinds = {
        "kept, dated today": (today, cs._dated(None, 1)),
        "kept, dated yesterday": (today - dt.timedelta(days=1), cs._dated(None, 1)),
        "check only, dated yesterday (before)": (today - dt.timedelta(days=1), validation_only),
    }
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    try:
        for _ in range(rounds):
            for kind, (day, check) in kinds.items():
                note = {"date": day.isoformat(), "type": "note", "text": "bench"}
                out[kind].append(
                    timed_cpu(
                        lambda note=note, check=check: store.append_events(
                            cid,
                            [note],
                            expected_version=None,
                            idempotency_key=None,
                            actor=ACTOR,
                            validate=check,
                        )
                    )
                )
    finally:
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=3, help="rounds of each restart kind")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    parser.add_argument("--first-list", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_list:
        first_list(args.first_list, args.rounds)
        return
    today = dt.date.today()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store.open(url)
        cs.add_user(store, "bench", "bench-password", Role.CLINICIAN, ACTOR)
        year = cs.create_course(store, course("year", 52, today), ACTOR)
        n_events = len(year["document"]["events"])
        t0 = time.perf_counter()
        for i in range(args.patients - 1):
            cs.create_course(store, course(f"p{i:03d}", 12, today), ACTOR)
        seed_s = time.perf_counter() - t0
        server, thread, base = serve(store, url)
        try:
            with httpx.Client(base_url=base, timeout=120) as client:
                login(client)
                page = f"/app/courses/{year['id']}"
                cold_course, warm_course = [], []
                for _ in range(args.rounds):
                    bump(store, year["id"])
                    cold_course.append(timed(client, page))
                    warm_course.append(timed(client, page))
                size_course = len(client.get(page).content)
                list_cold = [timed(client, "/app/")]  # the first request replays all courses
                list_warm = [timed(client, "/app/") for _ in range(args.rounds)]
                size_list = len(client.get("/app/").content)
                token = client.post(
                    "/auth/token", json={"username": "bench", "password": "bench-password"}
                ).json()["access_token"]
                api = {"Authorization": f"Bearer {token}"}
                state = f"/courses/{year['id']}/state"
                state_stored: list[tuple[float, float]] = []
                state_computed: list[tuple[float, float]] = []
                for _ in range(args.rounds):
                    state_stored.append(timed_cpu(lambda: client.get(state, headers=api)))
                    drop_states(url, year["id"])
                    state_computed.append(timed_cpu(lambda: client.get(state, headers=api)))
        finally:
            server.should_exit = True
            thread.join(timeout=20)
            store.close()
        stored_runs, removed_runs = [], []
        for _ in range(args.restarts):
            stored_runs.append(restarted(url, 3))
            drop_states(url)
            removed_runs.append(restarted(url, 3))
        writes = time_writes(url, args.rounds)

    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):.0f}"

    rows = [
        "| page | data | cold ms | warm ms | HTML kB |",
        "|---|---|---:|---:|---:|",
        f"| course page | 1 course, {n_events} events (52 weeks) | {med(cold_course)} | "
        f"{med(warm_course)} | {size_course / 1024:.0f} |",
        f"| patient list | {args.patients} patients (12-week courses) | {med(list_cold)} | "
        f"{med(list_warm)} | {size_list / 1024:.0f} |",
    ]
    table = "\n".join(rows)
    print(table)

    def span(xs: list[float]) -> str:
        return f"{min(xs):.0f} / {statistics.median(xs):.0f}"

    def span2(xs: list[tuple[float, float]]) -> str:
        return f"{span([w for w, _ in xs])} | {span([c for _, c in xs])}"

    restart_rows = [
        "",
        "| after a restart (new process) | first list ms, min / median | its CPU ms, "
        "min / median | next lists ms |",
        "|---|---:|---:|---:|",
        f"| summaries stored (this change) | {span([r['first'] for r in stored_runs])} | "
        f"{span([r['first_cpu'] for r in stored_runs])} | "
        f"{med([w for r in stored_runs for w in r['warm']])} |",
        f"| summaries removed (every course replayed, as before) | "
        f"{span([r['first'] for r in removed_runs])} | "
        f"{span([r['first_cpu'] for r in removed_runs])} | "
        f"{med([w for r in removed_runs for w in r['warm']])} |",
        "",
        "| GET /courses/{id}/state, 416 events, one client | ms, min / median | "
        "CPU ms, min / median |",
        "|---|---:|---:|",
        f"| stored state | {span2(state_stored)} |",
        f"| stored state removed (computed, as before) | {span2(state_computed)} |",
        "",
        "| one event written (store, 12-week course, durable commit) | ms, min / median | "
        "CPU ms, min / median |",
        "|---|---:|---:|",
        *(f"| {kind} | {span2(xs)} |" for kind, xs in writes.items()),
    ]
    print("\n".join(restart_rows))
    print(f"({args.restarts} restarts of each kind, interleaved)")
    table += "\n" + "\n".join(restart_rows)
    print(f"(seeding {args.patients - 1} courses through create_course took {seed_s:.1f} s)")
    if args.write:
        write(table, args.rounds)


def write(table: str, rounds: int) -> None:
    text = DOCS.read_text(encoding="utf-8")
    body = f"""{SECTION} (`benchmarks/bench_web.py`)

Time to the whole HTML body of a page, over loopback with one client, on SQLite (median of
{rounds} requests; the cold patient list is one request). The app is built as `cllcds serve`
builds it (API app with the web router). Python {platform.python_version()}.

{table}

*Cold* means the first view after an event is recorded: the state kept with the course (it
was computed when the event was written) is read, the course is validated again for the charts
(the chart series come from the validated events, in canonical units), five SVG charts and the
timeline are built, and the page is rendered. *Warm* reuses the charts and timeline from the
page's caches, keyed by the course's version. The patient list reads each course's summary as
stored with its version (migration 0004): no course is replayed, also after a restart; a
course written before today (or by another engine) is assessed once on its first list of the
day and its summary kept. The comparator removes the stored summaries first, which is what
every restart cost before: every course loaded, validated and replayed.
"""
    # Up to the next heading of any level: dated subsections are kept.
    pattern = re.compile(rf"^{re.escape(SECTION)}.*?(?=^#{{2,}} |\Z)", re.S | re.M)
    text = pattern.sub(body + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + body
    DOCS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
