"""The replay's shortcuts give what the plain computations give (issue 14).

* The replay order: sorting by per-class tables and one key per event gives the order of the
  plain algorithm (sort by date, slot and type; ties by content), whatever the list order.
* The weekly dose window found through the date index sums the same doses, in the same order,
  as a scan of every dose.
* Grading each distinct value of a lab once per replay gives the state that grading every value
  afresh gives.
* Deciding the cytopenia rules by their predicates and writing only the decisions the state
  shows gives the state that writing every decision gives.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from cllcds.course import _findings, replay, state_document
from cllcds.course import _replay as engine
from cllcds.course._document import parse_course_reference
from cllcds.domain import Course, DocumentError, Event
from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
hostile = load_script("scripts/hostile_courses.py")


def _courses() -> list[tuple[str, Course]]:
    docs: list[tuple[str, Any]] = [
        (p.stem, json.loads(p.read_text(encoding="utf-8")))
        for p in sorted((ROOT / "examples" / "courses").glob("*.json"))
    ]
    docs += [(f"hostile:{name[:40]}", doc) for name, doc, _ in hostile.CASES]
    out = []
    for name, doc in docs:
        try:
            out.append((name, parse_course_reference(doc)))
        except DocumentError:
            continue
    return out


COURSES = _courses()


def _plain_order(course: Course, as_of: dt.date) -> list[Event]:
    """The replay order as the engine computed it before the class tables (the oracle)."""

    def slot(e: Event) -> tuple[int, dt.time]:
        if e.time is not None:
            return 1, e.time
        return (2 if e.type in engine._AFTER_TIMED else 0), dt.time.min

    events = sorted(
        (e for e in course.effective_events() if e.date <= as_of),
        key=lambda e: (e.date, slot(e), engine._TYPE_ORDER[e.type]),
    )
    out: list[Event] = []
    i = 0
    while i < len(events):
        j = i + 1
        key = (events[i].date, slot(events[i]), events[i].type)
        while j < len(events) and (events[j].date, slot(events[j]), events[j].type) == key:
            j += 1
        run = events[i:j]
        out.extend(run if len(run) == 1 else sorted(run, key=engine._content))
        i = j
    return out


@pytest.mark.parametrize(("name", "course"), COURSES, ids=[n for n, _ in COURSES])
def test_replay_order_is_the_plain_order(name: str, course: Course) -> None:
    as_of = engine._as_of(course)
    assert engine._sorted_events(course, as_of) == _plain_order(course, as_of)
    shuffled = list(course.events)
    random.Random(name).shuffle(shuffled)
    again = Course(
        course.patient,
        course.regimen_id,
        course.start_date,
        course.rule_sets,
        course.baseline,
        tuple(shuffled),
        course.as_of,
    )
    assert engine._sorted_events(again, as_of) == _plain_order(again, as_of)
    if course.as_of is None:  # as_of is the latest event's date: none is left out
        latest = engine._sorted_events(again, as_of, none_after=True)
        assert latest == _plain_order(again, as_of)


@pytest.mark.parametrize("reading", ["treatment-week", "rolling-7-days"])
def test_weekly_window_through_the_index_is_the_plain_sum(reading: str) -> None:
    rng = random.Random(reading)
    course = COURSES[0][1]
    settings = engine.EngineSettings(weekly_ceiling=reading)
    for _ in range(200):
        run = engine._Run(
            course=course,
            regimen=None,
            profile=None,
            settings=settings,
            as_of=course.start_date,
            ladder=None,
            baseline=None,
        )
        day = dt.date(2024, 1, 1)
        for _ in range(rng.randrange(1, 30)):
            day += dt.timedelta(days=rng.choice([0, 1, 1, 2, 3, 8]))
            run.doses.append((day, rng.choice([3.0, 10.0, 30.0, 0.1, 7.3]), None))
            run.dose_dates.append(day)
        run.week_anchor = run.doses[0][0]
        for k in range(-2, 12):
            probe = run.doses[0][0] + dt.timedelta(days=k * 3)
            lo, hi = run.week_bounds(probe)
            hi = min(hi, probe)
            for before in (False, True):
                plain = sum(
                    mg for d, mg, _ in run.doses if lo <= d <= hi and not (before and d == probe)
                )
                assert run.week_total(probe, before=before) == plain


@pytest.mark.parametrize(("name", "course"), COURSES, ids=[n for n, _ in COURSES])
def test_grading_each_value_once_gives_the_same_state(
    name: str, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    once = replay(course)
    monkeypatch.setattr(_findings, "GRADE_EACH_VALUE_ONCE", False)
    every = replay(course)
    assert repr(once) == repr(every)
    assert state_document(once) == state_document(every)


@pytest.mark.parametrize(("name", "course"), COURSES, ids=[n for n, _ in COURSES])
def test_deciding_first_gives_the_same_state(
    name: str, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cytopenia rules decided by their predicates, their decisions written only for the
    state, give the state that writing every decision as it is taken gives."""
    first = replay(course)
    monkeypatch.setattr(engine, "DECIDE_FIRST", False)
    every = replay(course)
    assert repr(first) == repr(every)
    assert state_document(first) == state_document(every)


def test_ctcae_grade_is_the_grade_of_grading_grade() -> None:
    """Every graded lab in every accepted unit, over values around every band edge: the grade
    alone is the grade the full grading gives."""
    from cllcds.domain import InputError, LabCode, LabResult, ToxicityScale
    from cllcds.rules import grading

    day = dt.date(2024, 1, 8)
    values = [0.0, 0.05, 0.1, 0.2, 0.25, 0.3, 0.45, 0.5, 0.55, 0.8, 1.0, 1.2, 1.5, 1.9, 2.0]
    values += [2.5, 3.0, 3.3, 4.0, 4.5, 5.0, 6.2, 6.5, 7.9, 8.0, 8.5, 10.0, 12.0, 13.5, 20.0]
    values += [24.9, 25.0, 49.0, 50.0, 74.0, 75.0, 80.0, 99.0, 100.0, 149.0, 150.0, 200.0]
    values += [499.0, 500.0, 800.0, 999.0, 1000.0, 1500.0, 2000.0, 50000.0, 150000.0]
    checked = 0
    for code in LabCode:
        if not code.graded:
            continue
        for unit in code.accepted_units:
            for v in values:
                try:
                    r = LabResult.of(code, v, unit, date=day)
                except InputError:
                    continue
                full = grading.grade(r, ToxicityScale.CTCAE_5)
                expected = None if full.grade is None else int(full.grade)
                assert _findings.ctcae_grade(r) == expected, (code, unit, v)
                checked += 1
    assert checked > 300


def test_every_event_class_has_its_branch() -> None:
    """The replay finds each event's handler by its class (once per class): every event type
    but a note (and a resolution, read before the replay) has a branch, the first it is of."""
    from cllcds.domain import EventType
    from cllcds.domain._course import _EVENT_TYPE

    for cls, event_type in _EVENT_TYPE.items():
        handler = engine._handler(cls)
        if event_type in (EventType.NOTE, EventType.RESOLVED):
            assert handler is engine._ignore
            continue
        assert handler is not engine._ignore, cls
        first = next(h for types, h in engine._BRANCHES if issubclass(cls, types))
        assert handler is first


def test_lab_results_of_one_draw_in_content_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results of one day and slot sorted by code and value with the other keys (the content
    key only for results sharing both): the plain order (every tie by the full content key),
    whatever the list order."""
    from cllcds.domain import LabEvent, LabResult, Patient

    rng = random.Random(14)
    start = dt.date(2024, 1, 8)
    codes = [("ANC", "10*9/L"), ("PLT", "10*9/L"), ("ALC", "10*9/L"), ("HGB", "g/dL")]
    for n in range(200):
        events: list[Event] = []
        for k in range(rng.randrange(2, 12)):
            code, unit = rng.choice(codes)
            value = rng.choice([2, 2.0, 2.5, 9.5, 10, 10.0, 15.0])
            day = start + dt.timedelta(days=rng.choice([0, 0, 1]))
            ident = rng.choice([None, f"e{k}", "a"])
            sup = rng.choice([None, None, "x"])
            result = LabResult.of(code, value, unit, date=day)
            events.append(LabEvent(date=day, result=result, id=ident, supersedes=sup, index=k))
        rng.shuffle(events)
        course = Course(Patient("p1"), "alemtuzumab-iv-label", start, events=tuple(events))
        as_of = start + dt.timedelta(days=2)
        fast = engine._sorted_events(course, as_of)
        assert fast == _plain_order(course, as_of), n
        monkeypatch.setattr(engine, "INTEGER_KEYS", False)
        assert engine._sorted_events(course, as_of) == fast, n  # by the key tuples
        monkeypatch.setattr(engine, "LAB_KEY_IN_ORDER", False)
        assert engine._sorted_events(course, as_of) == fast, n
        monkeypatch.setattr(engine, "LAB_KEY_IN_ORDER", True)
        monkeypatch.setattr(engine, "INTEGER_KEYS", True)


@pytest.mark.parametrize(("name", "course"), COURSES[:20], ids=[n for n, _ in COURSES[:20]])
def test_tied_notes_in_any_order_give_the_state_of_the_content_order(
    name: str, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notes the replay ignores are not put in content order when they tie (same day, slot
    and class; many notes on one day made every write of a long course pay a content key per
    note): in any list order they give the state of the content-sorted order."""
    from cllcds.domain import Note

    days = sorted({e.date for e in course.events}) or [course.start_date]
    notes = [Note(date=days[k % len(days)], id=f"n{k}", text=f"note {k % 3}") for k in range(24)]
    mixed = [*course.events, *notes]
    random.Random(name).shuffle(mixed)
    with_notes = Course(
        course.patient,
        course.regimen_id,
        course.start_date,
        course.rule_sets,
        course.baseline,
        tuple(mixed),
        course.as_of,
    )
    assert engine._inert(Note)
    fast = replay(with_notes)
    monkeypatch.setattr(engine, "_inert", lambda cls: False)
    sorted_by_content = replay(with_notes)
    assert repr(fast) == repr(sorted_by_content)
    assert state_document(fast) == state_document(sorted_by_content)
