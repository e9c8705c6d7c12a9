"""Durability: SIGKILL the server while event writes are in flight; nothing acknowledged is lost.

A real uvicorn subprocess on SQLite (WAL, synchronous=FULL) and on PostgreSQL. Clients post
notes, each with its own Idempotency-Key, and remember which requests were acknowledged (201).
The server is killed mid-flight, restarted on the same database, and then: every acknowledged
event is there exactly once; every course's version equals its number of events, with
sequence numbers 1..n and one audit entry per write; and retrying every unacknowledged request
with its key records each at most once, so afterwards every request is there exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor, Role
from cllcds.store import Store
from live_server import wait_healthy

from .conftest import PASSWORD, drop_pg_schema, free_socket, new_pg_schema

CLIENTS = 12
COURSES = 3
MIN_ACKED = 20  # acknowledged writes before the kill: enough to mean something
KILL_DEADLINE_S = 60.0  # on a loaded machine the first writes can take a while


class Server:
    """A uvicorn subprocess serving the app on ``url``."""

    def __init__(self, url: str, port: int, log: Path) -> None:
        self.url = url
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "CLLCDS_DATABASE_URL": self.url}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "cllcds.api:app_from_env",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(self.proc, self.base, self.log.read_text)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'durable.db'}"
        return
    schema, url = new_pg_schema()
    yield url
    drop_pg_schema(schema)


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_write(durable_url: str, tmp_path: Path) -> None:
    store = Store.open(durable_url)
    cs.add_user(store, "writer", PASSWORD, Role.CLINICIAN, Actor("setup"))
    doc_template = {
        "format": "cllcds.course/1",
        "regimen": "alemtuzumab-iv-label",
        "start_date": "2007-01-08",
    }
    course_ids = []
    for i in range(COURSES):
        doc = {**doc_template, "patient": {"id": f"dur-{i}"}}
        course_ids.append(cs.create_course(store, doc, Actor("setup"))["id"])
    store.close()

    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    server = Server(durable_url, port, tmp_path / "server.log")
    server.start()
    try:
        token = httpx.post(
            f"{server.base}/auth/token", json={"username": "writer", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "If-Match": "*"}
        acked: dict[str, str] = {}  # key -> course
        sent: dict[str, tuple[str, dict[str, Any]]] = {}  # key -> (course, body)
        lock = threading.Lock()
        stop = threading.Event()

        def client(n: int) -> None:
            with httpx.Client(base_url=server.base, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    key = f"c{n}-{i}"
                    cid = course_ids[(n + i) % COURSES]
                    body = {"date": "2007-01-09", "type": "note", "text": key}
                    with lock:
                        sent[key] = (cid, body)
                    try:
                        r = c.post(
                            f"/courses/{cid}/events",
                            json=body,
                            headers={**headers, "Idempotency-Key": key},
                        )
                    except httpx.TransportError:
                        return  # the server died under us: outcome unknown
                    if r.status_code == 201:
                        with lock:
                            acked[key] = cid
                    else:
                        raise AssertionError(r.text)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        # Kill mid-flight once enough writes are acknowledged (not after a fixed time: on a
        # loaded machine a fixed delay can end before the first write is answered).
        deadline = time.monotonic() + KILL_DEADLINE_S
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= MIN_ACKED:
                    break
            time.sleep(0.01)
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert len(acked) > 10, "too few writes before the kill to mean anything"

        server.start()
        with httpx.Client(base_url=server.base, timeout=30, headers=headers) as c:

            def texts(cid: str) -> list[str]:
                items: list[dict[str, Any]] = []
                offset: int | None = 0
                while offset is not None:
                    page = c.get(f"/courses/{cid}/events", params={"limit": 200, "offset": offset})
                    assert page.status_code == 200, page.text
                    items.extend(page.json()["items"])
                    offset = page.json()["next_offset"]
                assert [e["seq"] for e in items] == list(range(1, len(items) + 1))
                assert c.get(f"/courses/{cid}").json()["version"] == len(items)
                return [e["event"]["text"] for e in items]

            stored = {cid: texts(cid) for cid in course_ids}
            for key, cid in acked.items():
                assert stored[cid].count(key) == 1, f"acknowledged {key} lost or doubled"
            all_texts = [t for ts in stored.values() for t in ts]
            assert len(all_texts) == len(set(all_texts)), "an event was recorded twice"

            # Retry everything not acknowledged with its key: recorded at most once.
            for key, (cid, body) in sent.items():
                if key in acked:
                    continue
                r = c.post(f"/courses/{cid}/events", json=body, headers={"Idempotency-Key": key})
                assert r.status_code == 201, r.text
            after = {cid: texts(cid) for cid in course_ids}
            every = sorted(t for ts in after.values() for t in ts)
            assert every == sorted(sent)
    finally:
        server.stop()

    check = Store.open(durable_url)
    with check.engine.connect() as conn:
        if check.dialect == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        writes = conn.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'event.append'")
        ).scalar()
        events = conn.execute(sa.text("SELECT count(*) FROM events")).scalar()
    check.close()
    assert writes == events == len(sent)
