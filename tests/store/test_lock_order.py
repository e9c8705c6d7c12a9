"""Writers take their locks in one order on PostgreSQL, so none can deadlock another.

An edit of a patient rewrites every course of the patient; an event append locks its course
and then the audit chain. Before the lock order (patient, courses in id order, audit lock
last) the edit took the audit lock between two course rows, so an append to the second course
waited for the audit lock the edit held while the edit waited for that course: PostgreSQL
aborted one of them with a deadlock error. The interleaving is forced: the append holds its
course (inside its validation) until the edit is seen waiting for a lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import sqlalchemy as sa

from cllcds.services import _clinical_store as cs
from cllcds.services import _workflow as wf
from cllcds.services._repository import Actor, ComputedState
from cllcds.store import Store
from pgtools import PG_URL, drop_pg_schema, new_pg_schema

ALICE = Actor("alice", "req-lock")
BOB = Actor("bob", "req-lock")
WAIT_S = 15.0


@pytest.fixture
def pg_store() -> Iterator[tuple[Store, str]]:
    """A store on a fresh PostgreSQL schema whose connections carry a name of their own (to
    find them in ``pg_stat_activity``)."""
    schema, url = new_pg_schema("lock")
    app = f"cllcds_lock_{uuid.uuid4().hex[:8]}"
    s = Store.open(f"{url}&application_name={app}")
    yield s, app
    s.close()
    drop_pg_schema(schema)


def _wait_for_lock_wait(app: str) -> None:
    """Return once a connection named ``app`` waits for a lock (the edit, blocked)."""
    engine = sa.create_engine(PG_URL)
    try:
        deadline = time.monotonic() + WAIT_S
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                waiting = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = :app AND wait_event_type = 'Lock'"
                    ),
                    {"app": app},
                ).scalar()
                conn.rollback()
                if waiting:
                    return
                time.sleep(0.01)
        raise AssertionError("the patient edit never waited for the course lock")
    finally:
        engine.dispose()


def _run(*jobs: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrap(job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except BaseException as exc:  # reported by the test
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(job)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
        assert not t.is_alive(), "a writer is still waiting (deadlocked)"
    return errors


def _patient_with_two_courses(store: Store, doc: dict[str, Any]) -> tuple[str, list[str]]:
    first = cs.create_course(store, doc, ALICE)
    second = cs.create_course(store, doc, ALICE)
    return str(doc["patient"]["id"]), [first["id"], second["id"]]


@pytest.mark.parametrize("held", [0, 1])
def test_patient_edit_and_append_do_not_deadlock(
    pg_store: tuple[Store, str], course_doc: dict[str, Any], held: int
) -> None:
    """The append holds course ``held`` (first or second created) while the edit runs; both
    complete, each course gets both writes, and the audit chain stays whole."""
    store, app = pg_store
    pid, courses = _patient_with_two_courses(store, course_doc)
    target = courses[held]
    locked, go_on = threading.Event(), threading.Event()

    def hold_then_validate(doc: Mapping[str, Any]) -> ComputedState | None:
        locked.set()  # the course row is locked by now
        assert go_on.wait(WAIT_S)
        return cs._validate_document(doc)

    def append() -> None:
        note = {"date": "2007-01-09", "type": "note", "text": "while the record changes"}
        store.append_events(
            target,
            [note],
            expected_version=None,
            idempotency_key=None,
            actor=BOB,
            validate=hold_then_validate,
        )

    edited = {**course_doc["patient"], "weight_kg": 71}

    def edit() -> None:
        assert locked.wait(WAIT_S)
        wf.update_patient(store, pid, edited, ALICE)

    def release() -> None:
        try:
            _wait_for_lock_wait(app)
        finally:
            go_on.set()

    errors = _run(append, edit, release)
    assert errors == []
    for cid in courses:
        course = cs.get_course(store, cid)
        assert course["document"]["patient"] == edited
        assert course["version"] == (5 if cid == target else 4)
        kept = store.course_state_record(cid)  # written with the version, in its transaction
        assert kept["version"] == course["version"]
        assert kept["stored"] is not None
        assert kept["stored"]["version"] == course["version"]
    assert store.verify_audit()["ok"]


def _round(store: Store, pid: str, courses: list[str], record: dict[str, Any], n: int) -> None:
    """A patient edit, an append to each course and a care-team change, started at once."""
    barrier = threading.Barrier(2 + len(courses))

    def edit() -> None:
        barrier.wait()
        wf.update_patient(store, pid, record, ALICE)

    def append(cid: str) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            note = {"date": "2007-01-09", "type": "note", "text": f"round {n}"}
            cs.append_event(
                store, cid, note, expected_version=None, idempotency_key=None, actor=BOB
            )

        return run

    def team() -> None:
        barrier.wait()
        cs.set_patient_team(store, pid, f"team-{n}", ALICE)

    assert _run(edit, team, *(append(cid) for cid in courses)) == []


def test_concurrent_edits_appends_and_team_changes_complete(
    pg_store: tuple[Store, str], course_doc: dict[str, Any]
) -> None:
    """Repeated rounds of a patient edit, an append to each course and a care-team change, all
    at once: every write completes (none is a deadlock victim) and none is lost."""
    store, _ = pg_store
    pid, courses = _patient_with_two_courses(store, course_doc)
    rounds = 4
    for n in range(rounds):
        _round(store, pid, courses, {**course_doc["patient"], "weight_kg": 60 + n}, n)
    for cid in courses:
        course = cs.get_course(store, cid)
        assert course["version"] == 3 + 2 * rounds
        assert course["document"]["patient"]["weight_kg"] == 60 + rounds - 1
    assert store.patient_team(pid) == f"team-{rounds - 1}"
    assert store.verify_audit()["ok"]
