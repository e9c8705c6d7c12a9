"""The event write against the write it replaced, on SQLite and PostgreSQL.

:func:`reference_append` is the write as it was before it was made faster (the ORM rows, the
statements built per call, the payloads read a row each, the validation always under the write
lock): the test oracle. Many generated appends (events of every kind from the example courses,
corrections, invalid events, idempotent retries, stale versions, panels) go to two courses made
from one document, one through each path; answers, errors, stored events, stored state and
audit entries must be the same. On SQLite a write validated from a snapshot before the lock is
used only when the course has not changed since; that case is forced here too.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from cllcds.domain import InputError, NotFoundError
from cllcds.services import AppendResult, ConflictError, Validator
from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor
from cllcds.store import Store
from cllcds.store import _store as store_module
from cllcds.store._models import AuditRow, CourseRow, EventRow
from cllcds.store._store import (
    AUDIT_CHAIN_LOCK,
    REQUEST_ID_CHARS,
    USERNAME_CHARS,
    _chain_hash,
    _event_record,
    _now,
)

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "courses").glob("*.json"))
ALICE = Actor("alice", "req-append")
#: Generated appends per database (each goes to both courses).
APPENDS = 120


# --------------------------------------------------------------------------- the oracle


def _reference_audit(
    store: Store,
    s: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    course_id: str | None = None,
) -> None:
    s.flush()
    if store.dialect == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_CHAIN_LOCK})
    prev = s.scalars(
        select(AuditRow.hash)
        .where(AuditRow.hash.is_not(None))
        .order_by(AuditRow.id.desc())
        .limit(1)
    ).first()
    row = AuditRow(
        at=_now(),
        actor=actor.username[:USERNAME_CHARS],
        action=action,
        entity=entity,
        entity_id=entity_id,
        course_id=course_id,
        before=before,
        after=after,
        request_id=actor.request_id[:REQUEST_ID_CHARS],
        prev_hash=prev,
    )
    row.hash = _chain_hash(row)
    s.add(row)
    s.flush()


def reference_append(
    store: Store,
    course_id: str,
    events: list[Mapping[str, Any]],
    expected_version: int | None,
    keys: list[str | None],
    hashes: list[str | None],
    actor: Actor,
    validate: Validator,
    audit_extra: Mapping[str, Any] | None = None,
) -> list[AppendResult]:
    """``Store._append_once`` as it was (the oracle)."""
    with store._write() as s:
        stmt = select(CourseRow).where(CourseRow.id == course_id)
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update()
        course = s.scalars(stmt).first()
        if course is None:
            raise NotFoundError("course", course_id, "give the id of a stored course")
        wanted = [k for k in keys if k is not None]
        if wanted:
            priors = list(
                s.scalars(
                    select(EventRow).where(
                        EventRow.course_id == course_id,
                        EventRow.idempotency_key.in_(wanted),
                    )
                )
            )
            if priors:
                by_key = {p.idempotency_key: p for p in priors}
                found = [by_key.get(k) for k in keys]
                if any(
                    p is None or p.request_hash != h for p, h in zip(found, hashes, strict=True)
                ):
                    raise InputError(
                        "Idempotency-Key",
                        wanted[0],
                        "this key was used for a different event: use a new key",
                    )
                return [
                    AppendResult(_event_record(p), p.course_version, replayed=True)
                    for p in found
                    if p is not None
                ]
        if expected_version is not None and expected_version != course.version:
            raise ConflictError("course", course_id, expected_version, course.version)
        payloads = list(
            s.scalars(
                select(EventRow.payload)
                .where(EventRow.course_id == course_id)
                .order_by(EventRow.seq)
            )
        )
        first_seq = len(payloads) + 1
        new: list[dict[str, Any]] = []
        for i, ev in enumerate(events):
            payload = dict(ev)
            payload.setdefault("id", f"ev-{first_seq + i}")
            new.append(payload)
        state = validate({**course.header, "events": [*payloads, *new]})
        old = course.version
        done = s.execute(
            update(CourseRow)
            .where(CourseRow.id == course_id, CourseRow.version == old)
            .values(version=old + len(new))
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError("course", course_id, expected_version, old + len(new))
        if state is not None:
            store._put_states(s, [(course_id, old + len(new), state)])
        results: list[AppendResult] = []
        now = _now()
        for i, payload in enumerate(new):
            seq, version = first_seq + i, old + i + 1
            row = store._event_row(course_id, seq, payload, actor, now, version, keys[i], hashes[i])
            s.add(row)
            action = "event.supersede" if payload.get("supersedes") is not None else "event.append"
            _reference_audit(
                store,
                s,
                actor,
                action,
                "event",
                f"{course_id}/{payload['id']}",
                {"version": version - 1},
                {"version": version, "seq": seq, "event": payload, **(audit_extra or {})},
                course_id=course_id,
            )
            s.flush()
            results.append(AppendResult(_event_record(row), version))
        return results


# ----------------------------------------------------------------------- generated appends


def _pool() -> list[dict[str, Any]]:
    """Every event of every example course (events of every kind)."""
    out: list[dict[str, Any]] = []
    for path in EXAMPLES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for ev in doc.get("events") or []:
            out.append({k: v for k, v in ev.items() if k not in ("id", "supersedes")})
    return out


def _course_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (EXAMPLES[0].parent / "escalating.json").read_text(encoding="utf-8")
    )
    doc.pop("as_of", None)
    doc["patient"]["id"] = f"p-{uuid.uuid4().hex[:10]}"
    return doc


def _requests(seed: int, start: dt.date) -> list[dict[str, Any]]:
    """Append requests: events of every kind re-dated into the course, notes dated before and
    after the last event, corrections, invalid events, panels, retries and stale versions."""
    rng = random.Random(seed)
    pool = _pool()
    out: list[dict[str, Any]] = []
    for n in range(APPENDS):
        roll = rng.random()
        ev = copy.deepcopy(rng.choice(pool))
        ev["date"] = (start + dt.timedelta(days=rng.randint(-3, 120))).isoformat()
        req: dict[str, Any] = {"events": [ev], "key": None, "version": "*"}
        if roll < 0.15:
            req["events"] = [
                {"date": ev["date"], "type": "note", "text": f"note {n} \u00e6\u00f8 \u2603"}
            ]
        elif roll < 0.25:
            req["events"][0]["supersedes"] = f"ev-{rng.randint(1, 6)}"
        elif roll < 0.32:
            req["events"][0]["type"] = rng.choice(["lab", "dose", "nonsense"])
            req["events"][0]["value"] = "not a number"
        elif roll < 0.40:
            req["events"].append(copy.deepcopy(rng.choice(pool)))
            req["events"][1]["date"] = ev["date"]
        elif roll < 0.47 and out:
            req = copy.deepcopy(out[-1])  # a retry (same key when it had one)
        elif roll < 0.52 and out:
            req = copy.deepcopy(out[-1])
            req["events"][0]["text"] = "another body"  # same key, other event
        elif roll < 0.58:
            req["version"] = "stale"
        if roll >= 0.40 and req["key"] is None and rng.random() < 0.5:
            req["key"] = f"k-{n}"
        out.append(req)
    return out


def _send(store: Store, course_id: str, req: Mapping[str, Any]) -> Any:
    version: int | None = None
    if req["version"] == "stale":
        version = cs.get_course(store, course_id)["version"] - 1
    try:
        results = cs.append_events(
            store,
            course_id,
            copy.deepcopy(req["events"]),
            expected_version=version,
            idempotency_key=req["key"],
            actor=ALICE,
        )
    except Exception as exc:
        return ["error", type(exc).__name__, _plain(str(exc), course_id)]
    return [(_plain(r.event, course_id), r.version, r.replayed) for r in results]


def _plain(value: Any, course_id: str) -> Any:
    """A record with what differs between two courses by design taken out: the course id
    and the time of recording."""
    if isinstance(value, dict):
        return {k: _plain(v, course_id) for k, v in value.items() if k not in ("recorded_at", "at")}
    if isinstance(value, list):
        return [_plain(v, course_id) for v in value]
    if isinstance(value, str):
        return value.replace(course_id, "COURSE")
    return value


def _stored(store: Store, course_id: str) -> dict[str, Any]:
    events = cs.list_events(store, course_id, limit=200).items
    record = store.course_state_record(course_id)
    audit = cs.audit_log(store, course_id, limit=500).items
    course = cs.get_course(store, course_id)
    return {
        "course": _plain({"version": course["version"], "document": course["document"]}, course_id),
        "events": _plain(events, course_id),
        "state": record["stored"],
        "version": record["version"],
        "audit": _plain([{k: v for k, v in a.items() if k != "id"} for a in audit], course_id),
    }


@pytest.mark.parametrize("seed", [14, 2026])
def test_generated_appends_match_the_reference_write(
    store: Store, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _course_doc()
    fast = cs.create_course(store, doc, ALICE)["id"]
    slow = cs.create_course(store, {**doc, "patient": doc["patient"]["id"]}, ALICE)["id"]
    fast_path = store._append_once

    def routed(course_id: str, *args: Any, **kwargs: Any) -> list[AppendResult]:
        if course_id == slow:
            return reference_append(store, course_id, *args, **kwargs)
        return fast_path(course_id, *args, **kwargs)

    monkeypatch.setattr(store, "_append_once", routed)
    outcomes = {"ok": 0, "error": 0}
    for req in _requests(seed, dt.date(2007, 1, 8)):
        got = _send(store, fast, req)
        want = _send(store, slow, req)
        assert got == want, req
        outcomes["error" if got[0] == "error" else "ok"] += 1
    assert outcomes["ok"] > 20  # both kinds were exercised
    assert outcomes["error"] > 5
    assert _stored(store, fast) == _stored(store, slow)
    assert cs.verify_audit(store)["ok"]


def test_a_course_changed_after_the_snapshot_is_validated_under_the_lock(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write whose snapshot went stale (another write landed before it took the lock) is
    validated again under the lock: its event gets the next place, the state is that of the
    course with both events."""
    doc = _course_doc()
    cid = cs.create_course(store, doc, ALICE)["id"]
    prepare = store._prepare_append
    landed: list[AppendResult] = []

    def then_another_write(course_id: str, *args: Any) -> Any:
        prepared = prepare(course_id, *args)
        if not landed:
            monkeypatch.setattr(store, "_prepare_append", lambda *_a: None)
            landed.append(
                cs.append_event(
                    store,
                    course_id,
                    {"date": "2007-01-09", "type": "note", "text": "first"},
                    expected_version=None,
                    idempotency_key=None,
                    actor=ALICE,
                )
            )
            monkeypatch.setattr(store, "_prepare_append", then_another_write)
        return prepared

    monkeypatch.setattr(store, "_prepare_append", then_another_write)
    second = cs.append_event(
        store,
        cid,
        {"date": "2007-01-10", "type": "note", "text": "second"},
        expected_version=None,
        idempotency_key=None,
        actor=ALICE,
    )
    assert (landed[0].event["seq"], landed[0].event["id"]) == (4, "ev-4")
    assert (second.event["seq"], second.event["id"], second.version) == (5, "ev-5", 5)
    course = cs.get_course(store, cid)
    assert [e["text"] for e in course["document"]["events"][3:]] == ["first", "second"]
    from cllcds.services._course import assess_course
    from cllcds.services._stored_state import encode_state

    stored = store.course_state_record(cid)["stored"]
    today = dt.date.today()
    assert stored["version"] == 5
    assert stored["state"] == encode_state(assess_course(course["document"], as_of=today))


def test_a_snapshot_of_the_current_version_is_validated_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: the write validates before the lock and not again under it; PostgreSQL: under
    the course's row lock only."""
    cid = cs.create_course(store, _course_doc(), ALICE)["id"]
    calls = []
    validated = store_module.Store._append_once

    def counting(self: Store, course_id: str, events: Any, ev: Any, keys: Any, hashes: Any,
                 actor: Actor, validate: Validator, *rest: Any) -> Any:  # fmt: skip
        def counted(doc: Mapping[str, Any]) -> Any:
            calls.append(len(doc["events"]))
            return validate(doc)

        return validated(self, course_id, events, ev, keys, hashes, actor, counted, *rest)

    monkeypatch.setattr(store_module.Store, "_append_once", counting)
    cs.append_event(
        store,
        cid,
        {"date": "2007-01-09", "type": "note", "text": "once"},
        expected_version=3,
        idempotency_key=None,
        actor=ALICE,
    )
    assert calls == [4]


def test_the_payload_array_is_the_rows(store: Store) -> None:
    """The payloads a write reads (one JSON array on PostgreSQL) are those ``get_course`` reads
    row by row: same values, same key order, every example course and some awkward text."""
    for path in EXAMPLES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc.pop("as_of", None)
        doc["patient"]["id"] = f"p-{uuid.uuid4().hex[:10]}"
        doc["events"] = [*doc.get("events", []), {"date": doc["start_date"], "type": "note",
                         "text": "\u00e6 \"q\" \\ \u2603 \U0001f600 1e-7 \t"}]  # fmt: skip
        cid = cs.create_course(store, doc, ALICE)["id"]
        with store.engine.connect() as conn:
            rows = list(
                conn.execute(
                    sa.select(EventRow.payload)
                    .where(EventRow.course_id == cid)
                    .order_by(EventRow.seq)
                ).scalars()
            )
            got = store._payloads(conn, cid)
        assert got == rows
        assert [list(p) for p in got] == [list(p) for p in rows]  # key order too
        assert json.dumps(got) == json.dumps(rows)


def test_a_damaged_stored_payload_is_not_read_as_other_events(store: Store) -> None:
    """SQLite keeps payloads as unchecked text. A text damaged into two JSON objects side by
    side must fail the write's read, as it fails the row-by-row read, instead of combining
    with the texts around it into a different list of events."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL's json column refuses a damaged text when it is written")
    cid = cs.create_course(store, _course_doc(), ALICE)["id"]
    damaged = '{"date": "2007-01-09", "type": "note", "text": "a"}, {"date": "2007-01-09"}'
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET payload = :p WHERE course_id = :c AND seq = 2"),
            {"p": damaged, "c": cid},
        )
    with store.engine.connect() as conn:
        with pytest.raises(ValueError, match="Extra data"):
            conn.execute(
                sa.select(EventRow.payload).where(EventRow.course_id == cid)
            ).scalars().all()
        with pytest.raises(ValueError, match="Extra data"):
            store._payloads(conn, cid)
