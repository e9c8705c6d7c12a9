"""What the course engine answers: :class:`CourseState`, and its JSON form ``cllcds.state/1``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cllcds.domain import (
    STATE_FORMAT,
    Citation,
    Decision,
    LabCode,
    ProphylaxisKind,
    ResponseCategory,
    RuleSets,
)


class CourseStatus(Enum):
    """Where a course stands."""

    NOT_STARTED = "not_started"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    DISCONTINUED = "discontinued"
    COMPLETED = "completed"


class HoldKind(Enum):
    """Why alemtuzumab is withheld."""

    __hash__ = object.__hash__
    """Members are singletons compared by identity: hashed by identity too (in C; the Enum
    default hashes the name in Python, and the engine keys its tables by these members)."""

    CYTOPENIA = "cytopenia"
    INFUSION_REACTION = "infusion_reaction"
    SERIOUS_INFECTION = "serious_infection"
    CMV = "cmv"
    FEBRILE_NEUTROPENIA = "febrile_neutropenia"
    ADVERSE_EVENT = "adverse_event"
    """A grade ≥ 3 non-haematological (or flagged serious) adverse event."""
    AUTOIMMUNE = "autoimmune_cytopenia"
    """An autoimmune cytopenia that does not discontinue: withheld pending review."""
    PROGRESSION = "progression"
    REVIEW = "review"
    """Fail closed: the engine cannot interpret an input with certainty."""


class Severity(Enum):
    """How urgent an alert is."""

    __hash__ = object.__hash__
    """Members are singletons compared by identity: hashed by identity too (in C; the Enum
    default hashes the name in Python, and the engine keys its tables by these members)."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class CmvStatus(Enum):
    """The course's CMV status."""

    NOT_TESTED = "not_tested"
    NEGATIVE = "negative"
    POSITIVE = "positive"
    ON_TREATMENT = "on_treatment"


@dataclass(frozen=True, slots=True)
class HoldReason:
    """One active reason to withhold alemtuzumab."""

    kind: HoldKind
    since: dt.date
    reason: str
    resume_when: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class NextDose:
    """The next alemtuzumab dose the engine recommends."""

    date: dt.date
    drug: str
    dose_mg: float
    route: str
    phase: str
    """``escalation``, ``re-escalation`` or ``maintenance``."""
    premedication: str | None
    rationale: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a clinician must see."""

    severity: Severity
    code: str
    message: str
    citation: Citation
    date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """Something to do, with its due date."""

    due: dt.date
    code: str
    action: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class GradeInfo:
    """The latest grade of one lab on the course's toxicity scale."""

    lab: LabCode
    grade: int | None
    """``None``: not evaluable (e.g. iwCLL with a low baseline)."""
    scale: str
    date: dt.date
    value: float
    unit: str
    decision: Decision[Any]
    worst: int | None = None
    """The worst grade of the course (CTCAE; for iwCLL the nadir's grade, = ``grade``)."""
    worst_date: dt.date | None = None
    worst_value: float | None = None
    basis: str = "latest"
    """``latest`` (CTCAE: the latest value) or ``nadir`` (iwCLL 2008 Table 5)."""


@dataclass(frozen=True, slots=True)
class ProphylaxisInfo:
    """One anti-infective prophylaxis and whether it is running."""

    kind: ProphylaxisKind
    active: bool
    drugs: tuple[str, ...]
    start: dt.date | None
    earliest_stop: dt.date | None
    condition: str
    citation: Citation
    recorded: str | None = None
    """The latest recorded action (``start``, ``stop``, ``not_tolerated``), ``None``: nothing
    recorded (the state then shows the plan)."""
    recorded_date: dt.date | None = None
    dose: str | None = None


@dataclass(frozen=True, slots=True)
class RenalInfo:
    """The latest serum creatinine and the creatinine clearance (Cockcroft-Gault)."""

    creatinine_mg_dl: float | None
    creatinine_date: dt.date | None
    crcl_ml_min: float | None
    decision: Decision[Any]


@dataclass(frozen=True, slots=True)
class CmvInfo:
    """CMV status and what to do about it."""

    status: CmvStatus
    policy: str
    last_test: dt.date | None
    last_result: str | None
    next_test_due: dt.date | None
    action: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """The latest response assessment on the course's criteria."""

    category: ResponseCategory
    criteria: str
    date: dt.date | None
    mrd_negative: bool | None
    provisional: bool
    by_compartment: Mapping[str, str]
    decision: Decision[Any] | None
    provisional_reason: str = ""
    """Why the category is provisional (iwCLL timing: before 2 months after the last dose;
    NCI-WG duration)."""
    confirm_on_or_after: dt.date | None = None


@dataclass(frozen=True, slots=True)
class CourseState:
    """Where a course stands and what to do next; every rule's output is a Decision."""

    as_of: dt.date
    rule_sets: RuleSets
    regimen_id: str
    status: CourseStatus
    next_dose: NextDose | None
    escalation_step_mg: float | None
    holds: tuple[HoldReason, ...]
    haematologic_toxicity_occurrences: int
    cumulative_dose_mg: float
    dose_last_7_days_mg: float
    grades: Mapping[LabCode, GradeInfo]
    prophylaxis: tuple[ProphylaxisInfo, ...]
    cmv: CmvInfo
    response: ResponseInfo
    alerts: tuple[Alert, ...]
    next_actions: tuple[Action, ...]
    decisions: tuple[Decision[Any], ...]
    context: Mapping[str, Any] = field(default_factory=dict)
    doses: tuple[tuple[dt.date, float, str], ...] = ()
    """Alemtuzumab doses given: (date, mg, route)."""
    discontinued: tuple[dt.date, str] | None = None
    renal: RenalInfo | None = None


def _cite(c: Citation) -> str:
    parts = [c.source, c.locator]
    if c.rule_set:
        parts.append(f"rule set {c.rule_set}")
    return ", ".join(parts)


def _value(x: object) -> object:
    if isinstance(x, Enum):
        return x.value
    if isinstance(x, dt.date):
        return x.isoformat()
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, Mapping):
        return {str(k): _value(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_value(v) for v in x]
    return x


def decision_json(d: Decision[Any]) -> dict[str, Any]:
    """One decision as the state document writes it."""
    return {
        "rule": d.rule,
        "outcome": _value(d.outcome),
        "status": d.status.value,
        "rationale": d.rationale,
        "citation": _cite(d.citation),
        "inputs_used": _value(dict(d.inputs_used)),
        "inputs_missing": list(d.inputs_missing),
    }


def state_document(state: CourseState) -> dict[str, Any]:
    """The ``cllcds.state/1`` JSON form of a course state (plain JSON-ready values)."""
    nd = state.next_dose
    hold = None
    if state.holds:
        hold = {
            "since": min(h.since for h in state.holds).isoformat(),
            "reasons": [h.reason for h in state.holds],
            "resume_when": "; ".join(h.resume_when for h in state.holds),
            "kinds": [h.kind.value for h in state.holds],
            "citations": [_cite(h.citation) for h in state.holds],
        }
    resp = state.response
    return {
        "format": STATE_FORMAT,
        "as_of": state.as_of.isoformat(),
        "rule_sets": state.rule_sets.as_dict(),
        "regimen": state.regimen_id,
        "status": state.status.value,
        "next_dose": None
        if nd is None
        else {
            "date": nd.date.isoformat(),
            "drug": nd.drug,
            "dose_mg": _value(nd.dose_mg),
            "route": nd.route,
            "phase": nd.phase,
            "premedication": nd.premedication,
            "rationale": nd.rationale,
            "citation": _cite(nd.citation),
        },
        "escalation_step_mg": _value(state.escalation_step_mg),
        "hold": hold,
        "discontinued": None
        if state.discontinued is None
        else {"date": state.discontinued[0].isoformat(), "reason": state.discontinued[1]},
        "haematologic_toxicity_occurrences": state.haematologic_toxicity_occurrences,
        "cumulative_dose_mg": _value(state.cumulative_dose_mg),
        "dose_last_7_days_mg": _value(state.dose_last_7_days_mg),
        "grades": {
            lab.value: {
                "grade": g.grade,
                "scale": g.scale,
                "date": g.date.isoformat(),
                "value": _value(round(g.value, 6)),
                "unit": g.unit,
                "status": g.decision.status.value,
                "rationale": g.decision.rationale,
                "basis": g.basis,
                "worst": g.worst,
                "worst_date": _value(g.worst_date),
                "worst_value": None if g.worst_value is None else _value(round(g.worst_value, 6)),
            }
            for lab, g in state.grades.items()
        },
        "prophylaxis": {
            p.kind.value: {
                "active": p.active,
                "drugs": list(p.drugs),
                "start": _value(p.start),
                "earliest_stop": _value(p.earliest_stop),
                "condition": p.condition,
                "citation": _cite(p.citation),
                "recorded": p.recorded,
                "recorded_date": _value(p.recorded_date),
                "dose": p.dose,
            }
            for p in state.prophylaxis
        },
        "renal": None
        if state.renal is None
        else {
            "creatinine_mg_dl": None
            if state.renal.creatinine_mg_dl is None
            else _value(round(state.renal.creatinine_mg_dl, 3)),
            "creatinine_date": _value(state.renal.creatinine_date),
            "crcl_ml_min": state.renal.crcl_ml_min,
            "formula": "cockcroft-gault",
            "status": state.renal.decision.status.value,
            "rationale": state.renal.decision.rationale,
            "inputs_missing": list(state.renal.decision.inputs_missing),
            "citation": _cite(state.renal.decision.citation),
        },
        "cmv": {
            "status": state.cmv.status.value,
            "policy": state.cmv.policy,
            "last_test": _value(state.cmv.last_test),
            "last_result": state.cmv.last_result,
            "next_test_due": _value(state.cmv.next_test_due),
            "action": state.cmv.action,
            "citation": _cite(state.cmv.citation),
        },
        "response": {
            "category": resp.category.value,
            "criteria": resp.criteria,
            "date": _value(resp.date),
            "mrd_negative": resp.mrd_negative,
            "provisional": resp.provisional,
            "provisional_reason": resp.provisional_reason or None,
            "confirm_on_or_after": _value(resp.confirm_on_or_after),
            "rationale": None if resp.decision is None else resp.decision.rationale,
            "by_compartment": dict(resp.by_compartment),
        },
        "alerts": [
            {
                "severity": a.severity.value,
                "code": a.code,
                "message": a.message,
                "date": _value(a.date),
                "citation": _cite(a.citation),
            }
            for a in state.alerts
        ],
        "next_actions": [
            {
                "due": a.due.isoformat(),
                "code": a.code,
                "action": a.action,
                "citation": _cite(a.citation),
            }
            for a in state.next_actions
        ],
        "decisions": [decision_json(d) for d in state.decisions],
        "context": _value(dict(state.context)),
    }
