"""The course state kept with the course: computed when a write replays the course, served as
stored JSON, recomputed only when it cannot be the answer.

A stored state is the ``cllcds.state/1`` document of one course version evaluated on one date
(``as_of``) by one engine, kept as the JSON text the API answers, with a small summary (what the
patient list shows). It is the answer only when all three match the request: the course's
current version, the date asked for, and this engine (:func:`state_engine`, a digest of the code
that decides a state). Anything else is computed as before (load, validate, replay); when it is
computed for today it is stored (a lazy refresh: at most once per course version and day),
never over the state of a newer version.

The write path keeps its full validation (parse and replay of the whole would-be course): the
replay it does anyway gives today's state when the course's last event is dated today, and the
parsed course is reused for a second replay otherwise (:func:`validated_state`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cllcds
from cllcds.course import CourseState, state_document
from cllcds.domain import CllcdsError, Course, InputError

from ._course import assess_course, course_state, load_course
from ._repository import ComputedState, CourseRepository

#: Bump when the stored state or summary changes shape without a change to the code digested by
#: :func:`state_engine` (every stored state of an older engine is then recomputed on use).
ENGINE_STATE_VERSION = 1
#: The code a course state depends on (relative to the ``cllcds`` package): a change to any of
#: these files gives a new :func:`state_engine`, so a state stored by older code is not served.
ENGINE_SOURCES = (
    "domain",
    "knowledge",
    "rules",
    "course",
    "services/_course.py",
    "services/_stored_state.py",
)
#: The media type of the stored state (the API's JSON).
STATE_MEDIA_TYPE = "application/json"


@functools.cache
def state_engine() -> str:
    """The engine a stored state must have been computed by to be served: the state format
    version, the package version and a SHA-256 of the engine's source and data files."""
    root = Path(cllcds.__file__).resolve().parent
    digest = hashlib.sha256()
    for name in ENGINE_SOURCES:
        path = root / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if not f.is_file() or "__pycache__" in f.parts or f.suffix in {".pyc", ".pyo"}:
                continue
            digest.update(f.relative_to(root).as_posix().encode("utf-8") + b"\0")
            digest.update(f.read_bytes())
            digest.update(b"\0")
    return f"{ENGINE_STATE_VERSION}/{cllcds.__version__}/{digest.hexdigest()[:16]}"


def encode_state(state: Mapping[str, Any]) -> str:
    """A state document as the API sends it (compact JSON, UTF-8 text, no NaN)."""
    return json.dumps(state, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def state_summary(state: Mapping[str, Any]) -> dict[str, Any]:
    """What a list of courses shows of a state: status, hold, next dose, next actions, CMV,
    alerts and the worst grade per lab. The keys are those of the state document, so the
    patient list's badges and due items read a summary as they read the whole state."""
    hold = state.get("hold")
    dose = state.get("next_dose")
    cmv = state.get("cmv") or {}
    return {
        "as_of": state.get("as_of"),
        "status": state.get("status"),
        "hold": None
        if not hold
        else {k: hold.get(k) for k in ("since", "reasons", "kinds", "resume_when")},
        "discontinued": state.get("discontinued"),
        "next_dose": None
        if not dose
        else {k: dose.get(k) for k in ("date", "drug", "dose_mg", "route", "phase")},
        "next_actions": [
            {k: a.get(k) for k in ("due", "code", "action")}
            for a in state.get("next_actions") or []
        ],
        "cmv": {k: cmv.get(k) for k in ("status", "next_test_due")},
        "alerts": [
            {k: a.get(k) for k in ("severity", "code", "date", "message")}
            for a in state.get("alerts") or []
        ],
        "grades": {
            lab: {k: g.get(k) for k in ("grade", "date", "worst", "worst_date")}
            for lab, g in (state.get("grades") or {}).items()
        },
    }


def computed(state: Mapping[str, Any]) -> ComputedState:
    """A state document ready to be stored (its JSON text, summary and engine)."""
    return ComputedState(
        as_of=str(state["as_of"]),
        engine=state_engine(),
        state_json=encode_state(state),
        summary=state_summary(state),
    )


def state_for(course: Course, day: dt.date, replayed: CourseState | None = None) -> ComputedState:
    """The state of a parsed course on ``day`` (raises as :func:`assess_course` does).

    ``replayed`` is a replay of ``course`` already done (the write's validation); it is the
    state on ``day`` when the course has no evaluation date of its own and the replay's date
    (the course's last event or its start) is ``day``: the engine reads the date only through
    the course's ``as_of``, so both replays are the same computation."""
    if replayed is not None and course.as_of is None and replayed.as_of == day:
        return computed(state_document(replayed))
    if day < course.start_date:  # as load_course refuses it
        raise InputError(
            "--as-of",
            day.isoformat(),
            f"give a date on or after the start date {course.start_date}",
        )
    return computed(state_document(course_state(dataclasses.replace(course, as_of=day))))


def validated_state(doc: Mapping[str, Any]) -> ComputedState | None:
    """The write check of a would-be course (it must parse and replay, as ever), answering its
    state for today when that can be computed (``None`` when the course starts after today or
    its state for today cannot be computed: the read then computes it and reports the problem).
    One parse; one replay when the last event is dated today, two otherwise."""
    course = load_course(dict(doc))
    replayed = course_state(course)
    try:
        return state_for(course, dt.date.today(), replayed)
    except (CllcdsError, ValueError):
        return None


# ---------------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class StateJson:
    """A course state as the API answers it: the JSON bytes and the course version (its ETag);
    ``stored`` tells whether it came from the store as it was kept."""

    course_id: str
    patient_id: str
    version: int
    body: bytes
    stored: bool


def _usable(stored: Mapping[str, Any] | None, version: int, day: dt.date) -> bool:
    return (
        stored is not None
        and stored.get("version") == version
        and stored.get("as_of") == day.isoformat()
        and stored.get("engine") == state_engine()
    )


def course_state_json(
    repo: CourseRepository,
    course_id: str,
    as_of: dt.date | None = None,
    *,
    check: Callable[[str], None] | None = None,
) -> StateJson:
    """The ``cllcds.state/1`` JSON of a stored course on ``as_of`` (default today).

    ``check`` is called with the course's patient id before any state is read or computed (an
    access check that raises). The stored state is answered when it is of the current version,
    this date and this engine; otherwise the state is computed from the course document (as
    :func:`cllcds.services.assess_stored_document` does) and, for today, stored."""
    today = dt.date.today()
    day = as_of or today
    record = repo.course_state_record(course_id)
    if check is not None:
        check(str(record["patient_id"]))
    stored = record.get("stored")
    if _usable(stored, int(record["version"]), day):
        assert stored is not None
        return StateJson(
            course_id,
            str(record["patient_id"]),
            int(record["version"]),
            str(stored["state"]).encode("utf-8"),
            stored=True,
        )
    course = repo.get_course(course_id)
    state = assess_course(course["document"], as_of=day)
    fresh = computed(state)
    if day == today:
        repo.put_course_states([(course_id, int(course["version"]), fresh)])
    return StateJson(
        course_id,
        str(course["patient_id"]),
        int(course["version"]),
        fresh.state_json.encode("utf-8"),
        stored=False,
    )


def course_patient_id(repo: CourseRepository, course_id: str) -> str:
    """The patient of a stored course (for an access check), without reading its events."""
    return str(repo.course_state_record(course_id, with_state=False)["patient_id"])


def course_state_dict(
    repo: CourseRepository, course_id: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """The state of a stored course as a dict (stored or computed, see
    :func:`course_state_json`)."""
    found: dict[str, Any] = json.loads(course_state_json(repo, course_id, as_of).body)
    return found


def course_summaries(
    repo: CourseRepository,
    courses: Sequence[Mapping[str, Any]],
    as_of: dt.date | None = None,
    teams: list[str] | None = None,
) -> dict[str, dict[str, Any] | InputError]:
    """The summary of each course in ``courses`` (items of ``list_courses``) on ``as_of``
    (default today): the stored one where it is of the listed version, this date and this
    engine; otherwise computed from the course and, for today, stored (all in one write). A
    course whose state cannot be computed maps to the error."""
    today = dt.date.today()
    day = as_of or today
    kept = repo.course_summaries(teams)
    out: dict[str, dict[str, Any] | InputError] = {}
    fresh: list[tuple[str, int, ComputedState]] = []
    for c in courses:
        cid = str(c["id"])
        stored = kept.get(cid)
        if _usable(stored, int(c["version"]), day):
            assert stored is not None
            out[cid] = dict(stored["summary"])
            continue
        try:
            course = repo.get_course(cid)
            made = computed(assess_course(course["document"], as_of=day))
        except InputError as exc:
            out[cid] = exc
            continue
        out[cid] = made.summary
        if day == today:
            fresh.append((cid, int(course["version"]), made))
    if fresh:
        repo.put_course_states(fresh)
    return out
