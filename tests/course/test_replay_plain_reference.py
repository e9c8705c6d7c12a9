"""The replay with every shortcut gives the state of the plain computation (issue 14).

Each shortcut of the replay has a switch that turns it back into the plain computation it
replaces (:data:`PLAIN` lists them, the one place the plain engine is defined). The full state
(``repr`` of :class:`CourseState`, every decision with its rationale and citation, and the
``cllcds.state/1`` JSON) must be identical with the shortcuts and without, for the example
courses, the hostile courses, the benchmark courses, generated documents and variants of each
(other lab and CMV values, events removed, the events in reverse order), under both readings of
the weekly ceiling.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cllcds.course import _findings, parse_course, replay, state_document
from cllcds.course import _replay as engine
from cllcds.domain import (
    Citation,
    Course,
    Decision,
    DecisionStatus,
    DocumentError,
    InputError,
    LabCode,
    LabResult,
    Patient,
    ToxicityScale,
)
from cllcds.domain._decision import make_decision
from cllcds.rules import grading
from cllcds.rules.grading import Grade
from course_documents import courses
from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


hostile = load_script("scripts/hostile_courses.py")
bench_replay = load_script("benchmarks/bench_replay.py")

PLAIN: list[tuple[object, str, bool]] = [
    (engine, "LAB_KEY_IN_ORDER", False),  # every tie of the replay order by its content key
    (engine, "INTEGER_KEYS", False),  # the replay order by key tuples
    (engine, "WEEK_OF_NEWEST", False),  # the week of a new dose by a scan of its window
    (engine, "READ_AHEAD_WHEN_NEEDED", False),  # the whole course read ahead before the loop
    (engine, "DECIDE_FIRST", False),  # every cytopenia decision written as it is taken
    (_findings, "GRADE_EACH_VALUE_ONCE", False),  # every value of a lab graded in full
    (engine, "DECISIONS_DIRECT", False),  # the state's decisions made by Decision(...)
    (_findings, "CMV_ONE_TEST_A_DAY", False),  # the CMV tests sorted always
]
"""The switches that turn the replay's shortcuts into the plain computations."""

READINGS = ("treatment-week", "rolling-7-days")


def _variants(doc: Any) -> Iterator[Any]:
    """The document, then other lab and CMV values, single events removed, the first half of
    the events and the events in reverse order."""
    yield doc
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list) or not events:
        return
    for factor in (0.3, 0.6, 1.5, 3):
        other = copy.deepcopy(doc)
        for e in other["events"]:
            value = e.get("value") if isinstance(e, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                e["value"] = round(value * factor, 3)
        yield other
    for i in range(0, len(events), max(1, len(events) // 3)):
        other = copy.deepcopy(doc)
        del other["events"][i]
        yield other
    yield {**doc, "events": events[: len(events) // 2]}
    yield {**doc, "events": list(reversed(events))}


def _states(course: Course) -> list[tuple[str, Any]]:
    out = []
    for reading in READINGS:
        state = replay(course, engine.EngineSettings(weekly_ceiling=reading))
        out.append((repr(state), json.dumps(state_document(state), sort_keys=True, default=str)))
    return out


def _plain_states(course: Course, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    with monkeypatch.context() as m:
        for module, name, value in PLAIN:
            m.setattr(module, name, value)
        return _states(course)


def _check(doc: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    """Compare every variant of ``doc``; the number of courses replayed."""
    n = 0
    for variant in _variants(doc):
        try:
            course = parse_course(variant)
        except DocumentError:
            continue
        assert _states(course) == _plain_states(course, monkeypatch), variant
        n += 1
    return n


def _documents() -> list[tuple[str, Any]]:
    docs: list[tuple[str, Any]] = [
        (p.stem, json.loads(p.read_text(encoding="utf-8")))
        for p in sorted((ROOT / "examples" / "courses").glob("*.json"))
    ]
    docs += [(f"hostile:{name[:40]}", doc) for name, doc, _ in hostile.CASES]
    docs += [(f"bench:{name}", bench_replay.document(name)) for name in bench_replay.COURSES]
    return docs


DOCUMENTS = _documents()


@pytest.mark.parametrize(("name", "doc"), DOCUMENTS, ids=[n for n, _ in DOCUMENTS])
def test_the_state_is_the_plain_state(name: str, doc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(doc, monkeypatch)


@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(courses())
def test_the_state_of_generated_courses_is_the_plain_state(doc: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _check(doc, monkeypatch)


def test_plain_switches_exist() -> None:
    """Each switch names a module constant that is on (a renamed switch would make the
    comparison above compare the fast engine with itself)."""
    for module, name, value in PLAIN:
        assert getattr(module, name) is (not value), name


@pytest.mark.parametrize("reading", READINGS)
def test_week_of_the_newest_dose_is_the_week_total(reading: str) -> None:
    """The week of each new dose (kept while it holds) sums what :meth:`week_total` sums, for
    dose sequences with gaps (new anchors), several doses a day and both readings."""
    rng = random.Random(reading)
    course = Course(Patient("p1"), "alemtuzumab-iv-label", dt.date(2024, 1, 1))
    settings_ = engine.EngineSettings(weekly_ceiling=reading)
    for _ in range(300):
        run = engine._Run(
            course=course,
            regimen=None,  # type: ignore[arg-type]
            profile=None,  # type: ignore[arg-type]
            settings=settings_,
            as_of=course.start_date,
            ladder=None,  # type: ignore[arg-type]
            baseline=None,  # type: ignore[arg-type]
        )
        day = dt.date(2024, 1, 1)
        for _ in range(rng.randrange(1, 40)):
            gap = rng.choice([0, 1, 1, 2, 3, 6, 7, 8, 15])
            day += dt.timedelta(days=gap)
            if not run.doses or gap >= engine.GAP_RESTART_DAYS:
                run.week_anchor = day
            mg = rng.choice([3.0, 10.0, 30.0, 0.1, 7.3])
            run.doses.append((day, mg, None))  # type: ignore[arg-type]
            run.dose_dates.append(day)
            run.dose_mgs.append(mg)
            assert run.week_total_to_newest(day) == run.week_total(day)


def test_grading_caches_give_the_grading_without_them() -> None:
    """The quoted band citations and unit texts that CTCAE grading keeps give the results
    grading without them gives."""
    values = [0.0, 0.1, 0.3, 0.6, 0.9, 1.2, 1.6, 2.5, 4.0, 7.9, 9.5, 11.0, 24.0, 60.0, 140.0]
    day = dt.date(2024, 1, 8)
    results = []
    for code in LabCode:
        if not code.graded:
            continue
        for unit in code.accepted_units:
            for v in values:
                try:
                    results.append(LabResult.of(code, v, unit, date=day))
                except InputError:  # outside the lab's plausible range
                    continue
    warm = [repr(grading.grade(r, ToxicityScale.CTCAE_5)) for r in results]
    for r, expected in zip(results, warm, strict=True):
        grading._QUOTED.clear()
        grading._UNIT_TEXT.clear()
        assert repr(grading.grade(r, ToxicityScale.CTCAE_5)) == expected
    quoted = next(iter(grading._QUOTED.items()))
    (citation, quote), made = quoted
    assert made == dataclasses.replace(citation, quote=quote)
    assert len(results) > 40


def test_make_decision_is_decision() -> None:
    """A decision made with its slots set directly is the decision ``Decision`` makes (fields,
    equality, repr, a read-only copy of the inputs), and a blank rule or rationale is refused
    as ``Decision`` refuses it."""
    cite = Citation("C1", "CTCAE v5.0")
    used: dict[str, object] = {"ANC": 0.4, "unit": "10*9/L"}
    for args in (
        ("grade.ctcae-5.ANC", Grade.G4, DecisionStatus.DECIDED, "Grade 4.", cite, used, ()),
        ("dosing.next", None, DecisionStatus.INDETERMINATE, "No dose.", cite, {}, ["time"]),
        ("x", {"date": "2024-01-01"}, DecisionStatus.NOT_APPLICABLE, "y", cite, used, ("a",)),
    ):
        made, plain = make_decision(*args), Decision(*args)
        assert made == plain
        assert repr(made) == repr(plain)
        assert type(made.inputs_used) is type(plain.inputs_used)
        assert made.inputs_used is not used
    for rule, why in (("", "Grade 4."), ("  ", "Grade 4."), ("r", ""), ("r", " ")):
        with pytest.raises(InputError) as plain_error:
            Decision(rule, 1, DecisionStatus.DECIDED, why, cite)
        with pytest.raises(InputError) as made_error:
            make_decision(rule, 1, DecisionStatus.DECIDED, why, cite, {})
        assert str(made_error.value) == str(plain_error.value)
