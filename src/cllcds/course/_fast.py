"""The fast reader of course documents: a compiled schema for valid documents.

:func:`parse_course` first reads a document through msgspec Structs (shape, types, ranges and
unknown keys checked in compiled code, route and unit codes looked up in tables rather than
constructed as enums), converts each lab to its canonical unit and checks its plausibility in
one pass (:func:`cllcds.domain._clinical.lab_fast`), and builds the course. Whatever it does not
accept as plainly valid (an error, an unusual spelling, a date-time with a UTC offset, an event
type it leaves to the reference reader) is read value by value by the reference reader
(:mod:`cllcds.course._document`): an event alone where that is enough, the whole document as
soon as there is a problem, so every message and its place (``events[12].value``) are the
reference reader's. The fast reader never accepts what the reference reader refuses; the tests
check that both give the same course (or the same errors) for every example course, malformed
variants of them and generated documents.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec

from cllcds import knowledge
from cllcds.domain import (
    AdministrationRoute,
    AssessmentEvent,
    Baseline,
    CmvPcr,
    CmvUnit,
    Course,
    DoseGiven,
    DoseHeld,
    Event,
    GrowthFactor,
    InputError,
    LabEvent,
    LabResult,
    Note,
    Resolved,
    Transfusion,
)
from cllcds.domain._clinical import lab_fast

from ._document import (
    CMV_PCR_MAX,
    RESOLVABLE_TYPES,
    _baseline,
    _Collector,
    _event,
    _patient,
    _rule_sets,
    parse_course_reference,
)

_YEAR = dt.timedelta(days=366)


class _Doc(msgspec.Struct, forbid_unknown_fields=True):
    """The top level (``TOP_KEYS``); the nested patient, rule sets and baseline are read below."""

    format: Literal["cllcds.course/1"]
    regimen: str
    start_date: str
    patient: Any
    as_of: str | None = None
    rule_sets: Any = None
    baseline: Any = None
    events: list[Any] | None = None


class _Ev(msgspec.Struct, forbid_unknown_fields=True, tag_field="type"):
    """The keys every event may have (``EVENT_COMMON``); ``date`` is a plain ``YYYY-MM-DD``
    (other spellings go to the reference reader)."""

    date: str
    time: str | None = None
    id: str | None = None
    supersedes: str | None = None


class _Dose(_Ev, tag="dose"):
    drug: str = ""
    dose_mg: Annotated[float, msgspec.Meta(ge=0, le=10_000)] = float("nan")
    route: AdministrationRoute | None = None


class _DoseHeld(_Ev, tag="dose_held"):
    reason: str | None = None


class _Lab(_Ev, tag="lab"):
    code: str = ""
    value: float = float("nan")
    unit: str = ""


class _CmvPcr(_Ev, tag="cmv_pcr"):
    value: Annotated[float, msgspec.Meta(ge=0, le=CMV_PCR_MAX)] | None = None
    unit: CmvUnit | None = None
    result: str | None = None


class _Note(_Ev, tag="note"):
    text: str | None = None


class _GrowthFactor(_Ev, tag="growth_factor"):
    drug: str | None = None


class _Transfusion(_Ev, tag="transfusion"):
    product: str | None = None


class _Resolved(_Ev, tag="resolved"):
    event_id: str = ""


_Hot = _Dose | _DoseHeld | _Lab | _CmvPcr | _Note | _GrowthFactor | _Transfusion | _Resolved
_HOT_TYPES = frozenset(
    {"dose", "dose_held", "lab", "cmv_pcr", "note", "growth_factor", "transfusion", "resolved"}
)
_BASELINE_KEYS = frozenset({"date", "labs", "assessment"})
_LAB_KEYS = frozenset({"code", "value", "unit"})
_HOT_LIST = list[_Hot]


class _RefusedError(Exception):
    """The fast reader does not accept this value: the reference reader reads it."""


def _plain_date(text: object, dates: dict[str, dt.date]) -> dt.date:
    """A ``YYYY-MM-DD`` date (as :meth:`_Collector.datetime` reads it); else
    :class:`_RefusedError`."""
    if not isinstance(text, str):
        raise _RefusedError
    day = dates.get(text)
    if day is not None:
        return day
    if len(text) != 10 or "T" in text:
        raise _RefusedError
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise _RefusedError from None
    dates[text] = day
    return day


def _clock(text: str) -> dt.time:
    if len(text) in (5, 8) and text[2] == ":":
        try:
            return dt.time.fromisoformat(text)
        except ValueError:
            pass
    raise _RefusedError


_EVENT_FIELDS = ("date", "index", "id", "supersedes", "time")


def _setters(cls: type, own: tuple[str, ...]) -> tuple[Any, ...]:
    """The slot setters of ``cls``'s own fields ``own``. The event fields' and these must be all
    of its fields, and ``cls`` must check nothing in ``__post_init__``: then an event made by
    setting every slot is the event ``cls(**fields)`` makes, at a third of the cost."""
    fields = sorted(f.name for f in dataclasses.fields(cls))
    if fields != sorted((*_EVENT_FIELDS, *own)) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has fields {fields}: update the fast reader")
    return tuple(getattr(cls, name).__set__ for name in own)


_new = object.__new__
_SET_DATE, _SET_INDEX, _SET_ID, _SET_SUP, _SET_TIME = (
    getattr(Event, name).__set__ for name in _EVENT_FIELDS
)
(_SET_RESULT,) = _setters(LabEvent, ("result",))
_SET_DRUG, _SET_DOSE_MG, _SET_ROUTE = _setters(DoseGiven, ("drug", "dose_mg", "route"))
_SET_VALUE, _SET_UNIT = _setters(CmvPcr, ("value", "unit"))


def _build(s: _Hot, i: int, dates: dict[str, dt.date]) -> Event | None:
    """The event the reference reader makes of ``s``; ``None`` to let it read the event."""
    date = dates.get(s.date) or _plain_date(s.date, dates)
    time = None if s.time is None else _clock(s.time)
    ev_id = s.id or None
    sup = s.supersedes or None
    ev: Event
    if isinstance(s, _Lab):
        result = lab_fast(s.code, s.value, s.unit, date)
        if result is None:
            return None
        ev = _new(LabEvent)
        _SET_RESULT(ev, result)
    elif isinstance(s, _Dose):
        if not s.drug or s.drug.isspace() or s.route is None or s.dose_mg != s.dose_mg:
            return None
        ev = _new(DoseGiven)
        _SET_DRUG(ev, s.drug)
        _SET_DOSE_MG(ev, s.dose_mg)
        _SET_ROUTE(ev, s.route)
    elif isinstance(s, _CmvPcr):
        value: float | None = None
        unit: CmvUnit | None = None
        if s.result is not None:
            if s.result != "not detected" or s.value not in (None, 0.0):
                return None
        elif s.value is None or s.unit is None:
            return None
        else:
            value, unit = s.value, s.unit
        ev = _new(CmvPcr)
        _SET_VALUE(ev, value)
        _SET_UNIT(ev, unit)
    elif isinstance(s, _DoseHeld):
        return DoseHeld(
            date=date, time=time, index=i, id=ev_id, supersedes=sup, reason=s.reason or ""
        )
    elif isinstance(s, _Note):
        return Note(date=date, time=time, index=i, id=ev_id, supersedes=sup, text=s.text or "")
    elif isinstance(s, _GrowthFactor):
        return GrowthFactor(
            date=date, time=time, index=i, id=ev_id, supersedes=sup, drug=s.drug or ""
        )
    elif isinstance(s, _Transfusion):
        return Transfusion(
            date=date, time=time, index=i, id=ev_id, supersedes=sup, product=s.product or ""
        )
    elif not s.event_id or s.event_id.isspace():
        return None  # the reference reader refuses a blank required text
    else:
        return Resolved(
            date=date, time=time, index=i, id=ev_id, supersedes=sup, event_id=s.event_id
        )
    # The three common events: every slot set (see _setters).
    _SET_DATE(ev, date)
    _SET_INDEX(ev, i)
    _SET_ID(ev, ev_id)
    _SET_SUP(ev, sup)
    _SET_TIME(ev, time)
    return ev


def _fast_baseline(raw: object, dates: dict[str, dt.date]) -> Baseline:
    """A baseline of a plain date and plainly valid labs (no assessment); else
    :class:`_RefusedError` (the caller then reads it with the reference reader)."""
    if not isinstance(raw, dict) or not _BASELINE_KEYS.issuperset(raw):
        raise _RefusedError
    if raw.get("assessment") is not None:
        raise _RefusedError
    date = _plain_date(raw.get("date"), dates)
    raw_labs = raw.get("labs") or []
    if not isinstance(raw_labs, list):
        raise _RefusedError
    labs: list[LabResult] = []
    seen: set[object] = set()
    for lab_raw in raw_labs:
        if not isinstance(lab_raw, dict) or not _LAB_KEYS.issuperset(lab_raw):
            raise _RefusedError
        code, value, unit = lab_raw.get("code"), lab_raw.get("value"), lab_raw.get("unit")
        if type(value) is int:
            value = float(value)
        if not (isinstance(code, str) and isinstance(value, float) and isinstance(unit, str)):
            raise _RefusedError
        lab = lab_fast(code, value, unit, date)
        if lab is None or lab.code in seen:
            raise _RefusedError
        seen.add(lab.code)
        labs.append(lab)
    return Baseline(date=date, labs=tuple(labs), assessment=None)


def _consistent(events: list[Event], baseline: Baseline | None, start: dt.date) -> bool:
    """The reference reader's checks across events (unique ids, earlier superseded ids, dates
    against the baseline and the start, what a resolution names), as one yes or no."""
    ids: set[str] = set()
    earliest = start - _YEAR
    base_date = None if baseline is None else baseline.date
    resolved: list[Resolved] = []
    for ev in events:
        if ev.id is not None:
            if ev.id in ids:
                return False
            ids.add(ev.id)
        if ev.supersedes is not None and ev.supersedes not in ids:
            return False
        if ev.date < earliest:
            return False
        if isinstance(ev, _CHECKED):  # one class test for the two checked below
            if isinstance(ev, Resolved):
                resolved.append(ev)
            elif base_date is not None and ev.date < base_date:
                return False  # an assessment before the baseline
    if not resolved:
        return True
    by_id = {e.id: e for e in events if e.id is not None}
    for ev in resolved:
        target = by_id.get(ev.event_id)
        if (
            target is None
            or isinstance(target, Resolved)
            or target.type not in RESOLVABLE_TYPES
            or ev.date < target.date
        ):
            return False
    return True


_CHECKED = (AssessmentEvent, Resolved)


def fast_course(doc: object) -> Course | None:
    """The course the reference reader reads from ``doc``, or ``None`` where the fast reader
    leaves the document to it (any problem, or a spelling it does not take)."""
    if doc.__class__ is not dict:
        return None
    try:
        top = msgspec.convert(doc, _Doc)
    except msgspec.ValidationError:
        return None
    if not top.regimen:
        return None
    try:
        knowledge.regimen(top.regimen)
    except InputError:
        return None
    c = _Collector()
    dates: dict[str, dt.date] = {}
    rule_sets = _rule_sets(c, top.rule_sets)
    patient = _patient(c, top.patient)
    start = c.date(top.start_date, "start_date")
    as_of = c.date(top.as_of, "as_of", required=False)
    baseline: Baseline | None = None
    if top.baseline is not None:
        try:
            baseline = _fast_baseline(top.baseline, dates)
        except _RefusedError:
            baseline = _baseline(c, top.baseline)
    raw_events = top.events or []
    hot_at: Sequence[int]
    try:
        # The common document: every event of a common type, all read in one conversion.
        hot = msgspec.convert(raw_events, _HOT_LIST)
        hot_at = range(len(raw_events))
    except msgspec.ValidationError:
        hot_at, hot_raw = [], []
        for i, raw in enumerate(raw_events):
            if (
                raw.__class__ is dict
                and (t := raw.get("type")).__class__ is str
                and t in _HOT_TYPES
            ):
                hot_at.append(i)
                hot_raw.append(raw)
        try:
            hot = msgspec.convert(hot_raw, _HOT_LIST)
        except msgspec.ValidationError:
            return None
    events: list[Event] | None = None
    if len(hot) == len(raw_events):
        # Every event of a common type (the usual document): built in one pass and taken as
        # built when each of them is (an event is never falsy; None is the only falsy entry).
        try:
            every = [_build(s, i, dates) for i, s in enumerate(hot)]
        except _RefusedError:
            every = [None]
        if all(every):
            events = every  # type: ignore[assignment]
    if events is None:
        # Some events left to the reference reader: each read by the reader that takes it.
        built: list[Event | None] = [None] * len(raw_events)
        fast_ok = [False] * len(raw_events)
        for i, s in zip(hot_at, hot, strict=True):
            try:
                ev = _build(s, i, dates)
            except _RefusedError:
                continue
            if ev is not None:
                built[i] = ev
                fast_ok[i] = True
        events = []
        for i, raw in enumerate(raw_events):
            if fast_ok[i]:
                events.append(built[i])  # type: ignore[arg-type]
                continue
            ev = _event(c, i, raw)
            if c.problems:
                return None
            if ev is not None:
                events.append(ev)
    if c.problems or patient is None or start is None:
        return None
    if not _consistent(events, baseline, start):
        return None
    return Course(
        patient=patient,
        regimen_id=top.regimen,
        start_date=start,
        rule_sets=rule_sets,
        baseline=baseline,
        events=tuple(events),
        as_of=as_of,
    )


def parse_course(doc: object) -> Course:
    """Read a ``cllcds.course/1`` document (parsed JSON) into a :class:`Course`.

    Valid documents are read through a compiled schema; any other document is read by the
    reference reader, which names every problem.

    Raises
    ------
    DocumentError
        With one problem per invalid value, each naming its place in the document.
    """
    course = fast_course(doc)
    return course if course is not None else parse_course_reference(doc)
