"""The audit chain's appends on PostgreSQL, made by the database (migration 0006).

The entry's hash is taken inside ``cllcds_audit_append`` over the text the store makes, with the
previous hash put in place of a placeholder. These tests hold it to the Python definition that
``cllcds audit verify`` recomputes: awkward content, and many writers at once (the lock and the
new snapshot after it are what keep the chain one chain).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor
from cllcds.store import Store
from cllcds.store._models import AuditRow
from cllcds.store._store import _chain_hash

AWKWARD = 'æ "q" \\ \u2603 \U0001f600 1e-7 \t </script> cllcds-prev-hash-0 null'


def _entries(store: Store) -> list[AuditRow]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(AuditRow.__table__).order_by(AuditRow.id)).all()
    return [AuditRow(**row._mapping) for row in rows]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _assert_one_chain(store: Store) -> None:
    entries = _entries(store)
    assert entries
    prev = None
    for entry in entries:
        assert entry.prev_hash == prev
        assert entry.hash == _chain_hash(entry)  # the Python definition of the hash
        prev = entry.hash
    assert store.verify_audit()["ok"]


@pytest.fixture
def pg(store: Store) -> Store:
    if store.dialect != "postgresql":
        pytest.skip("SQLite appends to the chain from the store's own code")
    return store


def test_the_databases_hash_is_the_python_hash(pg: Store, course_doc: dict[str, Any]) -> None:
    """Non-ASCII text, quotes, backslashes, tabs, a look-alike of the placeholder and ``null``
    in an entry, the first entry (no previous hash) and the ones after it."""
    course_doc["patient"]["name"] = AWKWARD
    course_doc["events"].append({"date": course_doc["start_date"], "type": "note",
                                 "text": AWKWARD})  # fmt: skip
    actor = Actor("ålice-\u2603", 'req "1"')
    cid = cs.create_course(pg, course_doc, actor)["id"]
    cs.append_event(pg, cid, {"date": course_doc["start_date"], "type": "note", "text": AWKWARD},
                    expected_version=None, idempotency_key=None, actor=actor)  # fmt: skip
    _assert_one_chain(pg)
    assert any(AWKWARD in _strings(e.after) for e in _entries(pg))  # the text was hashed


def test_many_writers_at_once_make_one_chain(pg: Store, course_doc: dict[str, Any]) -> None:
    """Eight threads, each appending to its own course: every entry links to the one before it
    in the order they were committed, and each hash is the Python one."""
    courses = []
    for i in range(8):
        doc = {**course_doc, "patient": {**course_doc["patient"], "id": f"p-audit-{i}"}}
        courses.append(cs.create_course(pg, doc, Actor("alice"))["id"])
    before = len(_entries(pg))
    errors: list[BaseException] = []
    start = threading.Barrier(len(courses))

    def writer(cid: str) -> None:
        try:
            start.wait()
            for n in range(6):
                cs.append_event(pg, cid, {"date": course_doc["start_date"], "type": "note",
                                          "text": f"note {n}"},
                                expected_version=None, idempotency_key=None,
                                actor=Actor("alice"))  # fmt: skip
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(cid,)) for cid in courses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(_entries(pg)) == before + len(courses) * 6
    _assert_one_chain(pg)
