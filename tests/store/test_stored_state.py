"""The course state kept with the course (migration 0004) against the state recomputed from the
course document, on SQLite and PostgreSQL: after every kind of write, for every example course,
for another date, for an older engine, after a restart; a refresh never replaces a newer state.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cllcds.domain import InputError
from cllcds.services import _clinical_store as cs
from cllcds.services import _workflow as wf
from cllcds.services._course import assess_course
from cllcds.services._repository import Actor, ComputedState
from cllcds.services._stored_state import (
    course_state_json,
    course_summaries,
    encode_state,
    state_engine,
    state_summary,
)
from cllcds.store import Store

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "courses").glob("*.json"))
ALICE = Actor("alice", "req-state")
HEADER = ("format", "rule_sets", "patient", "regimen", "start_date", "baseline")


def _example(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    doc["patient"]["id"] = f"p-{uuid.uuid4().hex[:10]}"
    return doc


def _shift(value: Any, days: int) -> Any:
    """Every ISO date (or date-time) in a document moved by ``days``, the patient's kept."""
    if isinstance(value, dict):
        return {k: v if k == "patient" else _shift(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days) for v in value]
    if isinstance(value, str) and len(value) >= 10:
        try:
            day = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
        return (day + dt.timedelta(days=days)).isoformat() + value[10:]
    return value


def _ending_today(doc: dict[str, Any]) -> dict[str, Any]:
    """The course moved so that its last event is dated today (the write's own replay is then
    today's state: the path that reuses it)."""
    dates = [doc["start_date"], *(str(e["date"])[:10] for e in doc.get("events") or [])]
    last = max(dt.date.fromisoformat(d[:10]) for d in dates)
    moved: dict[str, Any] = _shift(doc, (dt.date.today() - last).days)
    return moved


def assert_stored_is_recomputed(store: Store, course_id: str) -> dict[str, Any]:
    """The state kept for a course is the one computed from its document for today, byte for
    byte, with the summary of that state; answers the recomputed state."""
    today = dt.date.today()
    course = cs.get_course(store, course_id)
    expected = assess_course(course["document"], as_of=today)
    record = store.course_state_record(course_id)
    stored = record["stored"]
    assert record["version"] == course["version"]
    assert stored is not None, "no state kept"
    assert (stored["version"], stored["as_of"], stored["engine"]) == (
        course["version"],
        today.isoformat(),
        state_engine(),
    )
    assert json.loads(stored["state"]) == expected
    assert stored["state"] == encode_state(expected)
    summary = store.course_summaries()[course_id]
    assert summary["version"] == course["version"]
    assert summary["summary"] == state_summary(expected)
    served = course_state_json(store, course_id)
    assert served.stored
    assert served.body == encode_state(expected).encode("utf-8")
    assert served.version == course["version"]
    return expected


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_course_is_stored_as_recomputed(store: Store, path: Path) -> None:
    for doc in (_example(path), _ending_today(_example(path))):
        course = cs.create_course(store, doc, ALICE)
        assert_stored_is_recomputed(store, course["id"])


@pytest.mark.parametrize(
    "name",
    [
        "dose-over-single-ceiling-corrected",  # a correction (supersedes)
        "febrile-neutropenia-hold",
        "cmv-preemptive-therapy",
        "adverse-event-grade3-resolved",  # a resolution
        "treatment-stopped",
        "autoimmune-haemolysis",
    ],
)
@pytest.mark.parametrize("ending_today", [False, True])
def test_each_appended_event_keeps_the_recomputed_state(
    store: Store, name: str, ending_today: bool
) -> None:
    doc = _example(next(p for p in EXAMPLES if p.stem == name))
    if ending_today:
        doc = _ending_today(doc)
    header = {k: doc[k] for k in HEADER if k in doc}
    course = cs.create_course(store, header, ALICE)
    assert_stored_is_recomputed(store, course["id"])
    for event in doc.get("events") or []:
        cs.append_event(
            store, course["id"], event, expected_version=None, idempotency_key=None, actor=ALICE
        )
        assert_stored_is_recomputed(store, course["id"])


def test_every_kind_of_write_keeps_the_recomputed_state(store: Store) -> None:
    doc = _ending_today(_example(next(p for p in EXAMPLES if p.stem == "neutropenia-hold")))
    events = doc.pop("events")
    course = cs.create_course(store, {**doc, "events": events[:6]}, ALICE)
    cid = course["id"]
    assert_stored_is_recomputed(store, cid)
    # several events at once (a panel): one write, one new version
    cs.append_events(
        store, cid, events[6:10], expected_version=None, idempotency_key="panel", actor=ALICE
    )
    assert_stored_is_recomputed(store, cid)
    # the same request again (idempotent replay): nothing new, the state stays
    cs.append_events(
        store, cid, events[6:10], expected_version=None, idempotency_key="panel", actor=ALICE
    )
    assert_stored_is_recomputed(store, cid)
    for event in events[10:]:
        cs.append_event(store, cid, event, expected_version=None, idempotency_key=None, actor=ALICE)
    assert_stored_is_recomputed(store, cid)
    stored_events = cs.get_course(store, cid)["document"]["events"]
    lab = next(e for e in stored_events if e["type"] == "lab")
    # a correction of a lab value
    corrected = {**{k: v for k, v in lab.items() if k != "id"}, "supersedes": lab["id"]}
    corrected["value"] = 0.3
    cs.append_event(store, cid, corrected, expected_version=None, idempotency_key=None, actor=ALICE)
    before = assert_stored_is_recomputed(store, cid)
    # a retraction (a note superseding an entry, as the web's retract does)
    dose = next(e for e in stored_events if e["type"] == "dose")
    note = {
        "date": dt.date.today().isoformat(),
        "type": "note",
        "text": f"Retracted {dose['id']}",
        "supersedes": dose["id"],
    }
    cs.append_event(
        store,
        cid,
        note,
        expected_version=None,
        idempotency_key=None,
        actor=ALICE,
        audit_extra={"reason": "wrong patient", "retracted": True},
    )
    after = assert_stored_is_recomputed(store, cid)
    assert after["cumulative_dose_mg"] != before["cumulative_dose_mg"]
    # an edit of the patient record: every course of the patient gets a new version
    second = cs.create_course(store, {**doc, "patient": doc["patient"]["id"]}, ALICE)
    patient = {**doc["patient"], "weight_kg": 61}
    wf.update_patient(store, doc["patient"]["id"], patient, ALICE)
    for c in (cid, second["id"]):
        assert_stored_is_recomputed(store, c)
        assert cs.get_course(store, c)["document"]["patient"]["weight_kg"] == 61
    # a refused write leaves the stored state as it was
    version = cs.get_course(store, cid)["version"]
    with pytest.raises(InputError):
        cs.append_event(
            store,
            cid,
            {"date": "not a date", "type": "note", "text": "x"},
            expected_version=None,
            idempotency_key=None,
            actor=ALICE,
        )
    assert store.course_state_record(cid)["stored"]["version"] == version
    assert_stored_is_recomputed(store, cid)


def test_a_course_starting_today_keeps_its_state(store: Store) -> None:
    doc = _example(next(p for p in EXAMPLES if p.stem == "escalating"))
    doc["start_date"] = dt.date.today().isoformat()
    doc["baseline"] = _shift(doc["baseline"], (dt.date.today() - dt.date(2007, 1, 1)).days)
    course = cs.create_course(store, {k: doc[k] for k in HEADER if k in doc}, ALICE)
    assert_stored_is_recomputed(store, course["id"])


def test_another_date_is_computed_fresh_and_not_stored(store: Store) -> None:
    doc = _example(next(p for p in EXAMPLES if p.stem == "cmv-preemptive-therapy"))
    course = cs.create_course(store, doc, ALICE)
    kept = store.course_state_record(course["id"])["stored"]
    for day in (
        dt.date.fromisoformat(doc["start_date"]) + dt.timedelta(days=20),
        dt.date(2020, 1, 1),
    ):
        served = course_state_json(store, course["id"], day)
        assert not served.stored
        assert json.loads(served.body) == assess_course(course["document"], as_of=day)
        assert cs.stored_course_state(store, course["id"], as_of=day) == json.loads(served.body)
        assert store.course_state_record(course["id"])["stored"] == kept
    # before the start date: refused as before
    with pytest.raises(InputError) as err:
        course_state_json(store, course["id"], dt.date(2000, 1, 1))
    assert err.value.field == "--as-of"
    # without a date, stored_course_state keeps answering the course's own date
    assert cs.stored_course_state(store, course["id"]) == assess_course(course["document"])


def test_a_course_starting_after_today_keeps_no_state(store: Store) -> None:
    doc = _example(next(p for p in EXAMPLES if p.stem == "escalating"))
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    header = {k: doc[k] for k in HEADER if k in doc and k != "baseline"}
    course = cs.create_course(store, {**header, "start_date": tomorrow.isoformat()}, ALICE)
    assert store.course_state_record(course["id"])["stored"] is None
    with pytest.raises(InputError) as err:
        course_state_json(store, course["id"])
    assert err.value.field == "--as-of"
    found = course_summaries(store, cs.list_courses(store, limit=1000).items)
    assert isinstance(found[course["id"]], InputError)


def _set_stored(store: Store, course_id: str, **values: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE course_states SET "
                + ", ".join(f"{k} = :{k}" for k in values)
                + " WHERE course_id = :cid"
            ),
            {**values, "cid": course_id},
        )


@pytest.mark.parametrize(
    "stale",
    [
        {"engine": "0/0.0.0/older-engine"},
        {"as_of": "2020-01-01"},
        {"version": 1},
    ],
    ids=["engine", "date", "version"],
)
def test_a_stale_stored_state_is_never_served(store: Store, stale: dict[str, Any]) -> None:
    doc = _example(next(p for p in EXAMPLES if p.stem == "neutropenia-hold"))
    course = cs.create_course(store, doc, ALICE)
    cid = course["id"]
    bogus = json.dumps({"format": "cllcds.state/1", "status": "bogus"})
    bogus_summary = json.dumps({"status": "bogus"})
    _set_stored(store, cid, state=bogus, summary=bogus_summary, **stale)
    served = course_state_json(store, cid)
    assert not served.stored
    assert json.loads(served.body) == assess_course(course["document"], as_of=dt.date.today())
    summaries = course_summaries(store, [course])
    assert summaries[cid] == state_summary(json.loads(served.body))
    # the refresh kept today's state of the current version and this engine
    assert_stored_is_recomputed(store, cid)


def test_a_refresh_never_replaces_a_newer_state(store: Store) -> None:
    doc = _example(next(p for p in EXAMPLES if p.stem == "escalating"))
    course = cs.create_course(store, doc, ALICE)
    cid = course["id"]
    kept = store.course_state_record(cid)["stored"]
    old = ComputedState("2099-01-01", state_engine(), "{}", {})
    assert store.put_course_states([(cid, course["version"] - 1, old)]) == 0
    older_day = ComputedState("2000-01-01", state_engine(), "{}", {})
    assert store.put_course_states([(cid, course["version"], older_day)]) == 0
    same = ComputedState(kept["as_of"], kept["engine"], "{}", {})
    assert store.put_course_states([(cid, course["version"], same)]) == 0
    assert store.course_state_record(cid)["stored"] == kept
    other_engine = ComputedState(kept["as_of"], "0/other", "{}", {})
    assert store.put_course_states([(cid, course["version"], other_engine)]) == 1
    _set_stored(store, cid, engine=state_engine(), state=kept["state"])


def test_concurrent_refreshes_keep_one_current_state(store: Store) -> None:
    doc = _example(next(p for p in EXAMPLES if p.stem == "cytopenia-second-occurrence"))
    course = cs.create_course(store, doc, ALICE)
    cid = course["id"]
    _set_stored(store, cid, as_of="2020-01-01")
    bodies: list[bytes] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            bodies.append(course_state_json(store, cid).body)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def write() -> None:
        try:
            cs.append_event(
                store,
                cid,
                {"date": doc["start_date"], "type": "note", "text": "ward round"},
                expected_version=None,
                idempotency_key=None,
                actor=ALICE,
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert_stored_is_recomputed(store, cid)


def test_a_restarted_store_serves_what_was_stored(database_url: str) -> None:
    first = Store.open(database_url)
    try:
        ids = [cs.create_course(first, _example(p), ALICE)["id"] for p in EXAMPLES[:6]]
    finally:
        first.close()
    second = Store.open(database_url)
    try:
        listed = cs.list_courses(second, limit=100).items
        summaries = course_summaries(second, listed)
        for cid in ids:
            expected = assert_stored_is_recomputed(second, cid)
            assert summaries[cid] == state_summary(expected)
    finally:
        second.close()


def test_states_removed_are_recomputed_and_kept_again(store: Store) -> None:
    """A database migrated from 0003 has no stored state: the first read computes and keeps."""
    ids = [cs.create_course(store, _example(p), ALICE)["id"] for p in EXAMPLES[6:10]]
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM course_states"))
    listed = [c for c in cs.list_courses(store, limit=1000).items if c["id"] in ids]
    summaries = course_summaries(store, listed)
    for cid in ids:
        expected = assert_stored_is_recomputed(store, cid)
        assert summaries[cid] == state_summary(expected)


def test_a_write_parses_once_and_replays_once_when_its_last_event_is_today(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cllcds.services import _stored_state

    calls = {"parse": 0, "replay": 0}
    parse, replay = _stored_state.load_course, _stored_state.course_state

    def counted_parse(*args: Any, **kwargs: Any) -> Any:
        calls["parse"] += 1
        return parse(*args, **kwargs)

    def counted_replay(*args: Any, **kwargs: Any) -> Any:
        calls["replay"] += 1
        return replay(*args, **kwargs)

    monkeypatch.setattr(_stored_state, "load_course", counted_parse)
    monkeypatch.setattr(_stored_state, "course_state", counted_replay)
    example = next(p for p in EXAMPLES if p.stem == "febrile-neutropenia-hold")
    today = cs.create_course(store, _ending_today(_example(example)), ALICE)
    assert calls == {"parse": 1, "replay": 1}
    past = cs.create_course(store, _example(example), ALICE)
    assert calls == {"parse": 2, "replay": 3}  # validation on its own date, then today
    monkeypatch.undo()
    for course in (today, past):
        assert_stored_is_recomputed(store, course["id"])
