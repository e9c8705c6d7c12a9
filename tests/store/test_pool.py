"""PostgreSQL connections are pinged only after they sat idle; a connection the server ended
while it was idle (a restart, an idle timeout) is replaced before a request sees it. SQLite
writers of several stores (worker processes) take turns on a file lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cllcds.services import Actor, Role
from cllcds.store import Store, _engine
from pgtools import drop_pg_schema, new_pg_schema


@pytest.fixture
def pg_store() -> Iterator[Store]:
    schema, url = new_pg_schema()
    s = Store.open(url)
    yield s
    s.close()
    drop_pg_schema(schema)


def _end_pool_connections(store: Store) -> int:
    """Terminate, from outside, every server process serving this store's pool."""
    pids = []
    for _ in range(3):  # check out several, so the pool holds more than one
        with store.engine.connect() as conn:
            pids.append(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
    killer = sa.create_engine(store.engine.url)
    with killer.begin() as conn:
        ended = sum(
            bool(conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar())
            for pid in set(pids)
        )
    killer.dispose()
    return ended


def test_idle_connection_ended_by_the_server_is_replaced(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_store.create_user("nina", "x" * 20, Role.VIEWER, Actor("test"))
    assert _end_pool_connections(pg_store) >= 1
    monkeypatch.setattr(_engine, "PG_PING_AFTER_IDLE_S", 0.0)  # every pooled one is "idle"
    assert pg_store.get_user("nina")["role"] == "viewer"
    assert pg_store.user_teams("nina") == []
    assert pg_store.auth_epoch() is not None


def test_sqlite_writers_of_two_stores_take_turns(tmp_path: Path) -> None:
    """Two stores on one SQLite file (as two worker processes have) exclude each other's
    writers with the file lock, and both writes land."""
    url = f"sqlite:///{tmp_path / 'cllcds.db'}"
    a, b = Store.open(url), Store.open(url)
    released = threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with b._write_lock:
            seen.append(released.is_set())

    try:
        with a._write_lock:
            thread = threading.Thread(target=other)
            thread.start()
            time.sleep(0.3)  # long enough for the other writer to be waiting
            released.set()
        thread.join(timeout=10)
        assert seen == [True]  # it entered only after the first writer left
        a.create_user("w1", "x" * 20, Role.VIEWER, Actor("test"))
        b.create_user("w2", "x" * 20, Role.VIEWER, Actor("test"))
        assert {u["username"] for u in a.list_users()} == {"w1", "w2"}
        assert (tmp_path / "cllcds.db-writelock").is_file()
    finally:
        a.close()
        b.close()
