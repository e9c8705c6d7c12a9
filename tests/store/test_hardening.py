"""Store hardening on SQLite and PostgreSQL: the audit log is append-only in the database and
hash-chained, writes of several events are atomic, course creation is idempotent, the same
values are accepted and refused on both databases, and the last admin stays enabled."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
import sqlalchemy as sa

from cllcds.cli import main
from cllcds.domain import InputError
from cllcds.services import _clinical_store as cs
from cllcds.services._limits import DATE_CHARS, ID_CHARS, DatePolicy
from cllcds.services._repository import Actor, Role
from cllcds.store import Store

ACTOR = Actor("tester", "req-1")


def _lab(day: str, code: str, value: float, unit: str) -> dict[str, Any]:
    return {"date": day, "type": "lab", "code": code, "value": value, "unit": unit}


def test_audit_log_refuses_update_and_delete_in_the_database(
    store: Store, course_doc: dict[str, Any]
) -> None:
    cs.create_course(store, course_doc, ACTOR)
    for statement in (
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert cs.verify_audit(store)["ok"] is True


def test_hash_chain_detects_a_changed_entry(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ACTOR)
    cs.append_event(
        store,
        course["id"],
        {"date": "2007-01-09", "type": "note", "text": "seen"},
        expected_version=course["version"],
        idempotency_key=None,
        actor=ACTOR,
    )
    good = cs.verify_audit(store)
    assert good["ok"] is True
    assert good["chained"] == good["entries"] >= 3
    # Someone with the database owner's rights removes the trigger and edits history.
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_change ON audit_log")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql(
            "UPDATE audit_log SET actor = 'mallory' WHERE id = (SELECT min(id) FROM audit_log)"
        )
    bad = cs.verify_audit(store)
    assert bad["ok"] is False
    assert "does not match its hash" in bad["problems"][0]


def test_a_lab_panel_is_stored_whole_or_not_at_all(
    store: Store, course_doc: dict[str, Any]
) -> None:
    course = cs.create_course(store, course_doc, ACTOR)
    day = "2007-01-10"
    panel = [
        _lab(day, "anc", 1.2, "10*9/L"),
        _lab(day, "plt", 90, "10*9/L"),
        _lab(day, "hgb", 10.1, "g/dL"),
        _lab(day, "wbc", 5.0, "10*9/L"),
        _lab(day, "alc", 3.0, "10*9/L"),
        _lab(day, "plt", -5, "10*9/L"),  # the sixth is invalid
    ]
    with pytest.raises(InputError):
        cs.append_events(
            store,
            course["id"],
            panel,
            expected_version=course["version"],
            idempotency_key="panel-1",
            actor=ACTOR,
        )
    after = cs.get_course(store, course["id"])
    assert after["version"] == course["version"]
    assert len(after["document"]["events"]) == len(course["document"]["events"])
    results = cs.append_events(
        store,
        course["id"],
        panel[:5],
        expected_version=course["version"],
        idempotency_key="panel-2",
        actor=ACTOR,
    )
    assert [r.version for r in results] == [course["version"] + i for i in range(1, 6)]
    again = cs.append_events(
        store,
        course["id"],
        panel[:5],
        expected_version=course["version"],
        idempotency_key="panel-2",
        actor=ACTOR,
    )
    assert all(r.replayed for r in again)
    assert cs.get_course(store, course["id"])["version"] == course["version"] + 5


def test_course_creation_is_idempotent_per_key(store: Store, course_doc: dict[str, Any]) -> None:
    first = cs.create_course(store, course_doc, ACTOR, idempotency_key="k-1")
    again = cs.create_course(store, course_doc, ACTOR, idempotency_key="k-1")
    assert again["id"] == first["id"]
    assert again["replayed"] is True
    assert cs.list_courses(store, course_doc["patient"]["id"]).total == 1
    other = dict(course_doc, start_date="2007-01-09")
    with pytest.raises(InputError, match="different course"):
        cs.create_course(store, other, ACTOR, idempotency_key="k-1")


@pytest.mark.parametrize(
    ("length", "stored"),
    [(96, True), (ID_CHARS, True), (ID_CHARS + 1, False)],
)
def test_event_ids_up_to_the_limit_on_both_databases(
    store: Store, course_doc: dict[str, Any], length: int, stored: bool
) -> None:
    course = cs.create_course(store, course_doc, ACTOR)
    event = {"id": "e" * length, "date": "2007-01-09", "type": "note", "text": "x"}

    def append() -> Any:
        return cs.append_event(
            store,
            course["id"],
            event,
            expected_version=None,
            idempotency_key=None,
            actor=ACTOR,
        )

    if stored:
        assert append().event["id"] == event["id"]
        assert cs.get_course(store, course["id"])["document"]["events"][-1]["id"] == event["id"]
    else:
        with pytest.raises(InputError):
            append()
        assert cs.get_course(store, course["id"])["version"] == course["version"]


def test_long_date_strings_are_refused_alike(store: Store, course_doc: dict[str, Any]) -> None:
    course = cs.create_course(store, course_doc, ACTOR)
    stamp = "2007-01-09T10:00:00.123456+01:00"
    assert len(stamp) == DATE_CHARS
    ok = cs.append_event(
        store,
        course["id"],
        {"date": stamp, "type": "note", "text": "x"},
        expected_version=None,
        idempotency_key=None,
        actor=ACTOR,
    )
    assert ok.event["date"] == stamp
    for longer in (stamp + "0", "2007-01-09T10:00:00.123456789+01:00"):
        with pytest.raises(InputError):
            cs.append_event(
                store,
                course["id"],
                {"date": longer, "type": "note", "text": "x"},
                expected_version=None,
                idempotency_key=None,
                actor=ACTOR,
            )


def test_event_dates_beyond_the_horizon_are_refused(
    store: Store, course_doc: dict[str, Any]
) -> None:
    course = cs.create_course(store, course_doc, ACTOR)
    policy = DatePolicy(today=dt.date(2007, 1, 12))
    for day, fix in (("2062-01-02", "after 2007-01-13"), ("2007-02-01", "after 2007-01-13")):
        with pytest.raises(InputError, match=fix):
            cs.append_event(
                store,
                course["id"],
                {"date": day, "type": "note", "text": "typo"},
                expected_version=None,
                idempotency_key=None,
                actor=ACTOR,
                dates=policy,
            )
    with pytest.raises(InputError, match="course starts on 2007-01-08"):
        cs.append_event(
            store,
            course["id"],
            {"date": "1997-01-09", "type": "note", "text": "typo"},
            expected_version=None,
            idempotency_key=None,
            actor=ACTOR,
            dates=policy,
        )
    assert cs.get_course(store, course["id"])["version"] == course["version"]


def test_the_last_admin_cannot_be_disabled(store: Store) -> None:
    cs.add_user(store, "root", "a-long-password", Role.ADMIN, ACTOR)
    with pytest.raises(InputError, match="last enabled admin"):
        cs.set_user_disabled(store, "root", True, ACTOR)
    cs.add_user(store, "root2", "a-long-password", Role.ADMIN, ACTOR)
    assert cs.set_user_disabled(store, "root", True, ACTOR)["disabled"] is True
    with pytest.raises(InputError, match="last enabled admin"):
        cs.set_user_disabled(store, "root2", True, ACTOR)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_users_enable_and_audit_verify(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    url = ["--database-url", database_url]
    assert (
        _run(["users", "add", "kim", "--role", "viewer", "--password-stdin", *url], capsys)[0] == 0
    )
    assert _run(["users", "disable", "kim", *url], capsys)[0] == 0
    code, out, _ = _run(["users", "enable", "kim", *url], capsys)
    assert code == 0
    assert "enabled kim" in out
    store = Store.open(database_url)
    assert store.get_user("kim")["disabled"] is False
    store.close()
    code, out, _ = _run(["audit", "verify", "--format", "json", *url], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["ok"] is True
    assert result["entries"] == 3  # create, disable, enable
