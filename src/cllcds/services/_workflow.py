"""The clinician's workflow over a stored course: patient record edits with history, plans that
a pharmacist verifies before a course starts from them, accounts, and the safety check that
judges an event before it is saved.

Plans live in the audit log (``entity`` ``plan``): a prescriber's ``plan.propose`` keeps the
inputs, a pharmacist's ``plan.verify`` (:func:`verify_plan`) the digest of what was checked,
and ``plan.start`` names the course started from it (and carries the course id, so the
course's own audit trail shows the plan, its verification and who did what when).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cllcds.domain import InputError, NotFoundError

from ._clinical_store import (
    _HASHER,
    MIN_PASSWORD_LENGTH,
    _validate_document,
    add_user,
    create_course,
    parse_role,
    validate_patient,
    verify_plan,
)
from ._course import assess_course
from ._plan_export import plan_document
from ._planning import make_plan
from ._repository import Actor, CourseRepository, Role

#: An event dated more than this many days before today is asked about before it is saved
#: (a late entry is allowed but must be confirmed: a mistyped year is the commonest error).
#: A named, configurable default: no source gives a number (docs/rules.md).
LATE_ENTRY_DAYS = 14
#: Alerts of these severities, new with the entry, stop the save until overridden.
BLOCKING_SEVERITIES = ("critical", "warning")
#: How many audit entries are read to find a patient's plans and history.
AUDIT_SCAN = 5000
DATE_CHECK_SOURCE = "cllcds safety check (configurable default, docs/rules.md)"


# ----------------------------------------------------------------------------- patient record


def update_patient(
    repo: CourseRepository, patient_id: str, patient: Any, actor: Actor
) -> dict[str, Any]:
    """Replace a patient's record (same id); every course of the patient is re-validated with
    the new record and the change is audited (before and after), which is its history."""
    obj = validate_patient(patient)
    if str(obj.get("id")) != patient_id:
        raise InputError("patient.id", obj.get("id"), f"the id of this record is {patient_id}")
    return repo.update_patient(patient_id, obj, actor, _validate_document)


def patient_history(repo: CourseRepository, patient_id: str) -> list[dict[str, Any]]:
    """The audit entries of a patient's record (creation and every change), oldest first."""
    repo.get_patient(patient_id)
    page = repo.audit_entries(None, "patient", AUDIT_SCAN, 0)
    return [e for e in page.items if e["entity_id"] == patient_id]


# ---------------------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A proposed plan and what happened to it."""

    plan_id: str
    patient_id: str
    inputs: dict[str, Any]
    proposed_by: str
    proposed_at: str
    bsa_m2: float | None
    verifications: list[dict[str, Any]] = field(default_factory=list)
    course_id: str | None = None
    started_by: str | None = None
    started_at: str | None = None

    @property
    def verified(self) -> bool:
        """Whether a pharmacist has verified this plan."""
        return bool(self.verifications)


PLAN_INPUTS = ("regimen", "start", "height_cm", "weight_kg")


def _plan_of(inputs: Mapping[str, Any], patient_id: str) -> Any:
    return make_plan(
        str(inputs.get("regimen", "")),
        str(inputs.get("start", "")),
        str(inputs.get("height_cm", "")),
        str(inputs.get("weight_kg", "")),
        patient_id=patient_id,
    )


def propose_plan(
    repo: CourseRepository, patient_id: str, inputs: Mapping[str, Any], actor: Actor
) -> PlanRecord:
    """A prescriber's plan for a registered patient (regimen, start, height, weight)."""
    repo.get_patient(patient_id)
    clean = {k: str(inputs.get(k, "")).strip() for k in PLAN_INPUTS}
    doc = plan_document(_plan_of(clean, patient_id))
    after = {
        "patient_id": patient_id,
        "inputs": clean,
        "plan_id": doc["plan_id"],
        "bsa_m2": doc["patient"]["bsa_m2"],
        "administrations": len(doc.get("administrations", [])),
    }
    repo.record_audit(actor, "plan.propose", "plan", str(doc["plan_id"]), None, after)
    return _plans(repo, patient_id)[str(doc["plan_id"])]


def _plans(repo: CourseRepository, patient_id: str | None = None) -> dict[str, PlanRecord]:
    entries = repo.audit_entries(None, "plan", AUDIT_SCAN, 0).items
    proposals: dict[str, dict[str, Any]] = {}
    verifs: dict[str, list[dict[str, Any]]] = {}
    starts: dict[str, dict[str, Any]] = {}
    for e in entries:
        pid = str(e["entity_id"])
        if e["action"] == "plan.propose" and pid not in proposals:
            proposals[pid] = e
        elif e["action"] == "plan.verify":
            verifs.setdefault(pid, []).append(dict(e["after"] or {}))
        elif e["action"] == "plan.start" and pid not in starts:
            starts[pid] = e
    out = {}
    for pid, e in proposals.items():
        after = e["after"] or {}
        if patient_id is not None and after.get("patient_id") != patient_id:
            continue
        start = starts.get(pid)
        out[pid] = PlanRecord(
            plan_id=pid,
            patient_id=str(after.get("patient_id")),
            inputs=dict(after.get("inputs") or {}),
            proposed_by=str(e["actor"]),
            proposed_at=str(e["at"]),
            bsa_m2=after.get("bsa_m2"),
            verifications=verifs.get(pid, []),
            course_id=None if start is None else str(start["course_id"]),
            started_by=None if start is None else str(start["actor"]),
            started_at=None if start is None else str(start["at"]),
        )
    return out


def patient_plans(repo: CourseRepository, patient_id: str) -> list[PlanRecord]:
    """A patient's proposed plans, newest first, each with its verifications and course."""
    repo.get_patient(patient_id)
    return sorted(_plans(repo, patient_id).values(), key=lambda p: p.proposed_at, reverse=True)


def get_plan(repo: CourseRepository, plan_id: str) -> PlanRecord:
    """One proposed plan."""
    found = _plans(repo).get(plan_id)
    if found is None:
        raise NotFoundError("plan", plan_id, "give the id of a proposed plan")
    return found


def verify_proposed_plan(repo: CourseRepository, plan_id: str, actor: Actor) -> dict[str, Any]:
    """A pharmacist's check of a proposed plan: recomputed from its inputs, it must give the
    same plan id (:func:`verify_plan`); the check is audited with the pharmacist's name."""
    plan = get_plan(repo, plan_id)
    if actor.username == plan.proposed_by:
        raise InputError("plan", plan_id, "a plan is verified by someone other than its prescriber")
    doc = plan_document(_plan_of(plan.inputs, plan.patient_id))
    return verify_plan(repo, doc, plan_id, actor)


def start_course_from_plan(
    repo: CourseRepository,
    plan_id: str,
    actor: Actor,
    baseline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Start the course a verified plan describes (regimen and start date, the patient's record,
    and the pre-treatment ``baseline`` as the course document defines it).

    Fails closed: an unverified plan, or one already started, does not start a course.
    """
    plan = get_plan(repo, plan_id)
    if not plan.verified:
        raise InputError("plan", plan_id, "a pharmacist must verify the plan before it starts")
    if plan.course_id is not None:
        raise InputError("plan", plan_id, f"this plan already started course {plan.course_id}")
    course = create_course(
        repo,
        {
            "patient": plan.patient_id,
            "regimen": plan.inputs["regimen"],
            "start_date": plan.inputs["start"],
            **({"baseline": dict(baseline)} if baseline else {}),
        },
        actor,
    )
    repo.record_audit(
        actor,
        "plan.start",
        "plan",
        plan_id,
        None,
        {"course_id": course["id"], "plan_id": plan_id, "inputs": plan.inputs},
        course_id=str(course["id"]),
    )
    return course


def course_plan(repo: CourseRepository, course_id: str) -> PlanRecord | None:
    """The plan a course was started from, with who verified it and when (or ``None``)."""
    for plan in _plans(repo).values():
        if plan.course_id == course_id:
            return plan
    return None


# ------------------------------------------------------------------------------------- accounts


def set_user_role(
    repo: CourseRepository, username: str, role: Role | str, actor: Actor
) -> dict[str, Any]:
    """Change an account's role (audited)."""
    return repo.set_user_role(username, parse_role(str(role)), actor)


def reset_password(
    repo: CourseRepository, username: str, password: str, actor: Actor
) -> dict[str, Any]:
    """Set a new password for an account (audited, the password itself never). Every session
    and API token of the account is revoked with it: a reset after a password was exposed must
    also shut out whoever signed in with it."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError("password", "***", f"use at least {MIN_PASSWORD_LENGTH} characters")
    user = repo.get_user(username)
    repo.update_password_hash(username, _HASHER.hash(password), revoke_tokens=True)
    repo.record_audit(actor, "user.password_reset", "user", username, None, {"by": actor.username})
    return user


def bootstrap_admin(
    repo: CourseRepository, actor: Actor, username: str = "admin"
) -> tuple[dict[str, Any], str] | None:
    """The first administrator with a random password (returned once, stored only hashed);
    ``None`` when an admin account exists already."""
    if any(u["role"] == Role.ADMIN.value for u in repo.list_users()):
        return None
    password = secrets.token_urlsafe(18)
    return add_user(repo, username, password, Role.ADMIN, actor), password


# --------------------------------------------------------------------------------- safety check


@dataclass(frozen=True, slots=True)
class Finding:
    """One cause the safety check found, shown once however many alerts it raised."""

    code: str
    severity: str
    messages: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the engine says of an entry before it is saved."""

    findings: tuple[Finding, ...]

    @property
    def blocking(self) -> bool:
        """Whether the entry needs an explicit override with a reason."""
        return any(f.severity in BLOCKING_SEVERITIES for f in self.findings)

    def as_audit(self) -> list[dict[str, Any]]:
        """The findings as plain data for the audit entry of an override."""
        return [
            {
                "code": f.code,
                "severity": f.severity,
                "messages": list(f.messages),
                "source": f.source,
            }
            for f in self.findings
        ]


def _event_date(event: Mapping[str, Any]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(event.get("date", ""))[:10])
    except ValueError:
        return None


def judge_events(
    doc: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    today: dt.date,
    *,
    orders: bool = True,
) -> Verdict:
    """Judge new entries before they are saved: dates in the future or more than
    :data:`LATE_ENTRY_DAYS` days before today; and for ``orders`` (doses) append them to the
    course, replay it, and report every alert the entries raise that the course did not have.
    Findings are grouped by cause (alert code), so one cause shows once."""
    found: dict[str, tuple[str, list[str], str]] = {}

    def add(code: str, severity: str, message: str, source: str) -> None:
        sev, msgs, src = found.setdefault(code, (severity, [], source))
        if message not in msgs:
            msgs.append(message)
        if severity == "critical" and sev != "critical":
            found[code] = ("critical", msgs, src)

    dates = [d for d in (_event_date(e) for e in events) if d is not None]
    for d in dates:
        if d > today:
            add(
                "date-in-future",
                "critical",
                f"The entry is dated {d.isoformat()}, after today ({today.isoformat()}): "
                "nothing can be recorded as done before it happens.",
                DATE_CHECK_SOURCE,
            )
        elif (today - d).days > LATE_ENTRY_DAYS:
            add(
                "date-far-from-today",
                "warning",
                f"The entry is dated {d.isoformat()}, {(today - d).days} days before today: "
                "check the date (a late entry is allowed with a reason).",
                DATE_CHECK_SOURCE,
            )
    if not orders:
        return _verdict(found)
    as_of = max([today, *dates])
    start = _event_date({"date": doc.get("start_date", "")})
    if start is not None:
        as_of = max(as_of, start)
    before = assess_course(dict(doc), as_of=as_of)
    after = assess_course({**doc, "events": [*(doc.get("events") or []), *events]}, as_of=as_of)
    seen = {(a.get("code"), a.get("message")) for a in before.get("alerts") or []}
    for a in after.get("alerts") or []:
        if (a.get("code"), a.get("message")) in seen:
            continue
        add(
            str(a.get("code")),
            str(a.get("severity")),
            str(a.get("message")),
            str(a.get("citation") or ""),
        )
    return _verdict(found)


def _verdict(found: Mapping[str, tuple[str, list[str], str]]) -> Verdict:
    order = {"critical": 0, "warning": 1, "info": 2}
    findings = tuple(
        sorted(
            (Finding(code, sev, tuple(msgs), src) for code, (sev, msgs, src) in found.items()),
            key=lambda f: (order.get(f.severity, 3), f.code),
        )
    )
    return Verdict(findings)
