"""The store on SQLite and PostgreSQL: validation before commit, versions, idempotency, audit."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from cllcds.domain import DocumentError, InputError, NotFoundError
from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor, ConflictError, DuplicateError, Role
from cllcds.store import Store

ALICE = Actor("alice", "req-1")
DOSE_10 = {
    "date": "2007-01-09",
    "type": "dose",
    "drug": "alemtuzumab",
    "dose_mg": 10,
    "route": "iv",
}


def test_sqlite_pragmas(tmp_path: Any) -> None:
    s = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    s.close()


def test_migrations_are_idempotent(database_url: str) -> None:
    Store.open(database_url).close()
    s = Store.open(database_url)
    with s.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0006"
    s.close()


def test_create_course_and_state(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ALICE)
    assert course["version"] == 3
    assert [e["id"] for e in course["document"]["events"]] == ["ev-1", "ev-2", "ev-3"]
    assert cs.get_patient(store, course_doc["patient"]["id"])["patient"] == course_doc["patient"]
    state = cs.stored_course_state(store, course["id"])
    assert state["format"] == "cllcds.state/1"
    assert state["next_dose"]["dose_mg"] == 10


def test_append_bumps_version_and_audits(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ALICE)
    res = cs.append_event(
        store, course["id"], DOSE_10, expected_version=3, idempotency_key=None, actor=ALICE
    )
    assert (res.version, res.event["seq"], res.replayed) == (4, 4, False)
    assert cs.get_course(store, course["id"])["version"] == 4
    entries = cs.audit_log(store, course["id"]).items
    assert [e["action"] for e in entries] == ["course.create", "event.append"]
    last = entries[-1]
    assert last["actor"] == "alice"
    assert last["request_id"] == "req-1"
    assert last["before"] == {"version": 3}
    assert last["after"]["version"] == 4
    assert last["after"]["event"]["dose_mg"] == 10
    assert last["at"].endswith("Z")


def test_stale_version_is_refused(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ALICE)
    cs.append_event(
        store, course["id"], DOSE_10, expected_version=3, idempotency_key=None, actor=ALICE
    )
    with pytest.raises(ConflictError) as err:
        cs.append_event(
            store, course["id"], DOSE_10, expected_version=3, idempotency_key=None, actor=ALICE
        )
    assert err.value.actual == 4
    assert cs.list_events(store, course["id"]).total == 4


def test_invalid_event_never_enters_the_store(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ALICE)
    bad = {"date": "2007-01-10", "type": "lab", "code": "PLT", "value": 150000, "unit": "10*9/L"}
    with pytest.raises(DocumentError) as err:
        cs.append_event(
            store, course["id"], bad, expected_version=3, idempotency_key=None, actor=ALICE
        )
    assert err.value.problems[0].field.startswith("events[3]")
    after = cs.get_course(store, course["id"])
    assert after["version"] == 3
    assert len(after["document"]["events"]) == 3
    assert len(cs.audit_log(store, course["id"]).items) == 1


def test_idempotency_key(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ALICE)
    first = cs.append_event(
        store, course["id"], DOSE_10, expected_version=3, idempotency_key="k-1", actor=ALICE
    )
    again = cs.append_event(
        store, course["id"], DOSE_10, expected_version=3, idempotency_key="k-1", actor=ALICE
    )
    assert again.replayed
    assert again.event == first.event
    assert cs.list_events(store, course["id"]).total == 4
    other = {**DOSE_10, "dose_mg": 30}
    with pytest.raises(InputError) as err:
        cs.append_event(
            store, course["id"], other, expected_version=None, idempotency_key="k-1", actor=ALICE
        )
    assert err.value.field == "Idempotency-Key"


def test_correction_supersedes(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ALICE)
    wrong = {"date": "2007-01-09", "type": "lab", "code": "ANC", "value": 0.2, "unit": "10*9/L"}
    r1 = cs.append_event(
        store, course["id"], wrong, expected_version=3, idempotency_key=None, actor=ALICE
    )
    fixed = {**wrong, "value": 2.0, "supersedes": r1.event["id"]}
    r2 = cs.append_event(
        store, course["id"], fixed, expected_version=4, idempotency_key=None, actor=ALICE
    )
    assert r2.event["supersedes"] == r1.event["id"]
    events = cs.get_course(store, course["id"])["document"]["events"]
    assert events[3]["value"] == 0.2  # nothing is edited in place
    assert events[4]["supersedes"] == "ev-4"
    assert cs.audit_log(store, course["id"]).items[-1]["action"] == "event.supersede"
    bad = {**wrong, "supersedes": "no-such-event"}
    with pytest.raises(DocumentError) as err:
        cs.append_event(
            store, course["id"], bad, expected_version=5, idempotency_key=None, actor=ALICE
        )
    assert err.value.problems[0].field == "events[5].supersedes"


def test_concurrent_writers_lose_no_update(store: Store, course_doc: dict[str, Any]) -> None:
    """Eight threads append at the same version: exactly one wins, the rest are refused."""
    course = cs.create_course(store, course_doc, ALICE)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def writer(i: int) -> None:
        barrier.wait()
        event = {"date": "2007-01-09", "type": "note", "text": f"writer {i}"}
        try:
            cs.append_event(
                store, course["id"], event, expected_version=3, idempotency_key=None, actor=ALICE
            )
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert cs.get_course(store, course["id"])["version"] == 4
    assert cs.list_events(store, course["id"]).total == 4


def test_pagination(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ALICE)
    for i in range(4):
        note = {"date": "2007-01-09", "type": "note", "text": f"n{i}"}
        cs.append_event(
            store, course["id"], note, expected_version=None, idempotency_key=None, actor=ALICE
        )
    p1 = cs.list_events(store, course["id"], limit=5, offset=0)
    p2 = cs.list_events(store, course["id"], limit=5, offset=5)
    assert (p1.total, p1.next_offset, p2.next_offset) == (7, 5, None)
    assert [e["seq"] for e in p1.items + p2.items] == list(range(1, 8))


def test_patients_and_lookups(store: Store, course_doc: dict[str, Any]) -> None:
    patient = {"id": "p-only", "sex": "male"}
    cs.create_patient(store, patient, ALICE)
    with pytest.raises(DuplicateError):
        cs.create_patient(store, patient, ALICE)
    with pytest.raises(DocumentError) as err:
        cs.create_patient(store, {"id": "p2", "sex": "robot"}, ALICE)
    assert err.value.problems[0].field == "patient.sex"
    with pytest.raises(NotFoundError):
        cs.get_course(store, "nope")
    course_doc["patient"] = "p-only"
    course = cs.create_course(store, course_doc, ALICE)
    assert course["patient_id"] == "p-only"
    assert cs.list_courses(store, "p-only").total == 1


def test_users_and_tokens(store: Store) -> None:
    import datetime as dt

    cs.add_user(store, "vic", "longpassword", Role.VIEWER, ALICE)
    with pytest.raises(DuplicateError):
        cs.add_user(store, "vic", "longpassword", Role.VIEWER, ALICE)
    with pytest.raises(InputError):
        cs.add_user(store, "x", "short", Role.VIEWER, ALICE)
    assert cs.authenticate(store, "vic", "longpassword") is not None
    assert cs.authenticate(store, "vic", "wrong-password") is None
    assert cs.authenticate(store, "nobody", "longpassword") is None
    assert store.user_password_hash(
        "vic",
    ).startswith("$argon2id$")  # type: ignore[union-attr]
    token, csrf, _ = cs.issue_token(store, "vic", "bearer", dt.timedelta(hours=1))
    assert csrf is None
    assert cs.resolve_token(store, token, "bearer")["role"] == "viewer"  # type: ignore[index]
    assert cs.resolve_token(store, token, "session") is None
    expired, _, _ = cs.issue_token(store, "vic", "bearer", dt.timedelta(seconds=-1))
    assert cs.resolve_token(store, expired, "bearer") is None
    cs.set_user_disabled(store, "vic", True, ALICE)
    assert cs.resolve_token(store, token, "bearer") is None
    assert cs.authenticate(store, "vic", "longpassword") is None
    actions = [e["action"] for e in cs.audit_log(store, entity="user").items]
    assert actions == ["user.create", "user.disable"]


def test_concurrent_courses_for_one_new_patient(store: Store, course_doc: dict[str, Any]) -> None:
    """Two courses started at once for a patient not yet registered: both are stored."""
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def start() -> None:
        barrier.wait()
        ids.append(cs.create_course(store, course_doc, ALICE)["id"])

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 4
    assert cs.list_courses(store, course_doc["patient"]["id"]).total == 4


def test_a_jwt_is_remembered_across_store_instances(database_url: str) -> None:
    """The CDS Hooks replay check: two stores (two worker processes) on one database."""
    a, b = Store.open(database_url), Store.open(database_url)
    try:
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        assert a.remember_jwt("https://ehr.test|jti-1", soon)
        assert not b.remember_jwt("https://ehr.test|jti-1", soon)  # a replay at the other
        assert not a.remember_jwt("https://ehr.test|jti-1", soon)
        assert b.remember_jwt("https://ehr.test|jti-2", soon)
        # expired entries are purged, so the same key may be recorded again after expiry
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        assert a.remember_jwt("https://ehr.test|old", past)
        assert b.remember_jwt("https://ehr.test|old", soon)
    finally:
        a.close()
        b.close()
