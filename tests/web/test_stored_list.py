"""The patient list from the stored summaries, over real HTTP on SQLite and PostgreSQL: after a
restart (a new store and app on the same database) it shows what it shows when every course is
assessed again, and it assesses none; the summary gives the list what the whole state gives."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cllcds.api import Settings, create_app, current_user, require
from cllcds.api._auth import get_store
from cllcds.services import _clinical_store as cs
from cllcds.services import _stored_state
from cllcds.services._course import assess_course
from cllcds.services._repository import Actor
from cllcds.store import Store
from cllcds.web import _views, make_router, seed_demo
from live_server import serving
from pgtools import drop_pg_schema, new_pg_schema

from .conftest import PASSWORDS, web_login

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "courses").glob("*.json"))
ACTOR = Actor("test-setup")


@contextmanager
def _serving(url: str) -> Iterator[str]:
    """A server on ``url`` with a store of its own (a restart each time), as ``serve`` runs."""
    store = Store.open(url)
    app = create_app(Settings(database_url=url), store=store)
    if not any(getattr(r, "path", "") == "/app/" for r in app.routes):
        app.include_router(
            make_router(current_user=current_user, get_store=get_store, require=require)
        )
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        store.close()


def _listing(base_url: str) -> str:
    """The patient list's content: the counts line and the table (no session tokens)."""
    with httpx.Client(base_url=base_url, timeout=60) as c:
        assert web_login(c, "demo", PASSWORDS["demo"]).status_code == 303
        html = c.get("/app/").text
    head = re.search(r'<p class="muted">.*?</p>', html, re.S)
    table = re.search(r'<table class="grid patients.*?</table>', html, re.S)
    assert head, html[:500]
    assert table, html[:500]
    return head.group(0) + table.group(0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'list.db'}"
        return
    schema, url = new_pg_schema("l")
    yield url
    drop_pg_schema(schema)


def _seed(url: str) -> None:
    store = Store.open(url)
    try:
        seed_demo(store, passwords=PASSWORDS)
        for path in EXAMPLES[::6]:
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc.pop("as_of", None)
            doc["patient"]["id"] = f"x-{path.stem}"
            cs.create_course(store, doc, ACTOR)
        # a course that starts tomorrow: the list says it cannot be assessed yet
        doc = json.loads(EXAMPLES[0].read_text(encoding="utf-8"))
        header = {k: doc[k] for k in ("format", "patient", "regimen")}
        header["patient"]["id"] = f"x-later-{uuid.uuid4().hex[:6]}"
        header["start_date"] = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        cs.create_course(store, header, ACTOR)
    finally:
        store.close()


def test_list_after_restart_is_the_recomputed_list_without_a_replay(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(database)
    with _serving(database) as base:
        first = _listing(base)
    assessed: list[int] = []
    original: Callable[..., Any] = _stored_state.assess_course

    def counted(*args: Any, **kwargs: Any) -> Any:
        assessed.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_stored_state, "assess_course", counted)
    with _serving(database) as base:
        restarted = _listing(base)
        # only the course that starts tomorrow has no stored state (it cannot be assessed)
        assert len(assessed) == 1
        engine = sa.create_engine(database)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM course_states"))
        engine.dispose()
        recomputed = _listing(base)
        assert len(assessed) > 10
    assert "Cannot assess" in restarted
    assert restarted.count('class="patient-link">x-') == len(EXAMPLES[::6]) + 1
    assert restarted == recomputed
    assert restarted == first


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_summary_gives_the_list_what_the_state_gives(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    start = dt.date.fromisoformat(doc["start_date"])
    for offset in (0, 3, 9, 30, 120):
        day = start + dt.timedelta(days=offset)
        state = assess_course(doc, as_of=day)
        summary = _stored_state.state_summary(state)
        assert json.loads(json.dumps(summary)) == summary  # stored as JSON unchanged
        assert _views.badges(summary) == _views.badges(state)
        assert _views.due_today(summary, day) == _views.due_today(state, day)
        assert _views.overdue(summary, day) == _views.overdue(state, day)
        for later in (day + dt.timedelta(days=1), day + dt.timedelta(days=15)):
            assert _views.overdue(summary, later) == _views.overdue(state, later)
