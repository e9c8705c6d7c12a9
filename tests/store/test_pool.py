"""PostgreSQL connections are pinged only after they sat idle; a connection the server ended
while it was idle (a restart, an idle timeout) is replaced before a request sees it."""

from __future__ import annotations

from collections.abc import Iterator

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
