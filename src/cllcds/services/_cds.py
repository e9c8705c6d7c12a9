"""CDS Hooks 2.0 decision logic on plain values: discovery, ``patient-view`` cards from a course's
state, and ``order-sign`` checks of proposed alemtuzumab orders.

Nothing here knows HTTP or FHIR models: the API adapter turns the hook request into a course
document (through :mod:`cllcds.fhir`) and the draft orders into proposals
(``{"drug", "dose_mg", "route", "date"}``), and sends these cards back.

Card shape (CDS Hooks 2.0, "Card attributes"): ``uuid``, ``summary`` (at most 140 characters),
``indicator`` (``info`` | ``warning`` | ``critical``), ``detail`` (GitHub-flavoured markdown),
``source`` (``label`` and ``topic``), and for ``order-sign`` ``overrideReasons`` on blocking
cards. A card that suggests a corrected dose carries ``suggested_dose_mg`` and ``order_index``
for the adapter to turn into a FHIR ``update`` suggestion; the adapter removes both keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cllcds.course import CmvStatus, CourseState, CourseStatus, Severity, weekly_window
from cllcds.domain import (
    ALEMTUZUMAB_MAX_SINGLE_DOSE_MG,
    ALEMTUZUMAB_MAX_WEEKLY_MG,
    CEILING_CITATION,
    Citation,
)

from ._course import course_state, load_course

PATIENT_VIEW_ID = "cllcds-patient-view"
ORDER_SIGN_ID = "cllcds-order-sign"
SOURCE_LABEL = "cllcds alemtuzumab decision support"
RULE_SYSTEM = "urn:cllcds:rule"
OVERRIDE_SYSTEM = "urn:cllcds:override-reason"
SUMMARY_MAX = 140
"""CDS Hooks 2.0: a card's summary is "<140-character summary message"."""

REESCALATION_GAP_DAYS = 7
"""A gap of this many days or more restarts escalation at 3 mg (Campath label; reference
clinical-rules.md; the same figure as the course engine's ``GAP_RESTART_DAYS``)."""
FIRST_STEP_MG = 3.0
"""The first escalation step (label)."""

_INDICATOR = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}

PREFETCH: Mapping[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": (
        "Observation?patient={{context.patientId}}"
        "&code=http://loinc.org|6690-2,http://loinc.org|731-0,http://loinc.org|26474-7,"
        "http://loinc.org|751-8,http://loinc.org|26499-4,http://loinc.org|777-3,"
        "http://loinc.org|26515-7,http://loinc.org|718-7,http://loinc.org|24467-3,"
        "http://loinc.org|72493-0,http://loinc.org|30246-3,http://loinc.org|8302-2,"
        "http://loinc.org|29463-7,http://loinc.org|30247-1,http://loinc.org|8310-5"
    ),
    "medications": "MedicationAdministration?patient={{context.patientId}}",
    "careplans": "CarePlan?patient={{context.patientId}}&status=active,on-hold",
    "adverseEvents": "AdverseEvent?subject=Patient/{{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "communications": "Communication?patient={{context.patientId}}",
}
"""Prefetch templates: the Patient, its Conditions, the Observations cllcds reads (labs by LOINC
from LabCode, CMV DNA, body height and weight), its MedicationAdministrations, and the
AdverseEvents (infusion reactions), MedicationStatements (antivirals, growth factors),
Procedures (transfusions) and Communications (notes) a course exported by cllcds carries. A key
the EHR leaves out or sends as ``null`` is read from its FHIR server."""


def cds_discovery() -> dict[str, Any]:
    """The CDS Hooks 2.0 discovery document (``GET /cds-services``)."""
    return {
        "services": [
            {
                "hook": "patient-view",
                "id": PATIENT_VIEW_ID,
                "title": "Alemtuzumab course status (CLL)",
                "description": (
                    "Cards for a patient on alemtuzumab for CLL: dose holds with the resume "
                    "condition, CMV status and actions, and the actions that are due."
                ),
                "prefetch": dict(PREFETCH),
                "usageRequirements": (
                    "Prefetch keys left out or null are read from fhirServer with "
                    "fhirAuthorization; without a fhirServer such a call is answered 412."
                ),
            },
            {
                "hook": "order-sign",
                "id": ORDER_SIGN_ID,
                "title": "Alemtuzumab order check (CLL)",
                "description": (
                    "Checks a proposed alemtuzumab order against the patient's course: the "
                    "30 mg dose and 90 mg weekly ceilings, an active hold, a discontinued "
                    "course, re-escalation after a gap of 7 days or more, and the next "
                    "recommended dose."
                ),
                "prefetch": dict(PREFETCH),
                "usageRequirements": (
                    "Prefetch keys left out or null are read from fhirServer with "
                    "fhirAuthorization; without a fhirServer such a call is answered 412."
                ),
            },
        ]
    }


def _summary(text: str) -> str:
    """The summary in plain words: internal codes' underscores become spaces, and a text too
    long is cut at a word boundary (never inside a word), ending with an ellipsis."""
    text = text.replace("_", " ")
    if len(text) < SUMMARY_MAX:
        return text
    cut = text[: SUMMARY_MAX - 2].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def _card(
    summary: str,
    indicator: str,
    detail: str,
    *,
    rule: str,
    citation: str,
    overridable: bool = False,
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(summary),
        "indicator": indicator,
        "detail": detail,
        "source": {
            "label": SOURCE_LABEL,
            "topic": {"system": RULE_SYSTEM, "code": rule, "display": citation[:200]},
        },
    }
    if overridable:
        card["overrideReasons"] = [
            {
                "system": OVERRIDE_SYSTEM,
                "code": "clinical-judgement",
                "display": "Clinical judgement; benefit outweighs the risk",
            },
            {
                "system": OVERRIDE_SYSTEM,
                "code": "data-out-of-date",
                "display": "The EHR data shown to cllcds are not current",
            },
        ]
    return card


def _cite(c: Citation) -> str:
    return c.short()


def _notes_md(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return "\n\n**Assumed or not imported:**\n" + "\n".join(f"- {n}" for n in notes[:10])


def _state(course_doc: object, as_of: dt.date | None) -> CourseState:
    course = load_course(course_doc)
    if as_of is not None and as_of >= course.start_date:
        course = dataclasses.replace(course, as_of=as_of)
    return course_state(course)


def cds_patient_view(
    course_doc: object, *, as_of: dt.date | None = None, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """``patient-view`` cards: the hold (critical), CMV (by status), other alerts, due actions
    and the next dose (info). ``notes`` (assumptions, import warnings) go into the details."""
    state = _state(course_doc, as_of)
    cards: list[dict[str, Any]] = []
    extra = _notes_md(notes)
    if state.holds:
        lines = "\n".join(
            f"- **{h.kind.value}** since {h.since}: {h.reason}  \n  Resume when: {h.resume_when}  "
            f"\n  Source: {_cite(h.citation)}"
            for h in state.holds
        )
        cards.append(
            _card(
                "Alemtuzumab on hold: " + "; ".join(h.kind.value for h in state.holds),
                "critical",
                f"Do not give alemtuzumab (as of {state.as_of}).\n\n{lines}{extra}",
                rule="hold",
                citation="; ".join(_cite(h.citation) for h in state.holds),
            )
        )
    if state.status is CourseStatus.DISCONTINUED and state.discontinued is not None:
        day, reason = state.discontinued
        cards.append(
            _card(
                f"Alemtuzumab discontinued on {day}",
                "critical",
                f"The course was discontinued on {day}: {reason}.{extra}",
                rule="discontinued",
                citation="cllcds course engine",
            )
        )
    cmv = state.cmv
    if cmv.status in (CmvStatus.POSITIVE, CmvStatus.ON_TREATMENT):
        indicator = "critical" if cmv.status is CmvStatus.POSITIVE else "warning"
        cards.append(
            _card(
                f"CMV {cmv.status.value.replace('_', ' ')}: {cmv.action}",
                indicator,
                f"Last CMV test {cmv.last_test}: {cmv.last_result}. Policy: {cmv.policy}.\n\n"
                f"**Action:** {cmv.action}"
                + (f"\n\nNext test due {cmv.next_test_due}." if cmv.next_test_due else "")
                + f"\n\nSource: {_cite(cmv.citation)}{extra}",
                rule="cmv",
                citation=_cite(cmv.citation),
            )
        )
    shown = {"cytopenia-hold", "infusion-hold", "infection-hold", "cmv-hold"}
    cmv_card = cmv.status in (CmvStatus.POSITIVE, CmvStatus.ON_TREATMENT)
    for a in state.alerts:
        if state.holds and a.code in shown and a.severity is Severity.CRITICAL:
            continue  # the hold card says it
        if cmv_card and a.code.startswith("cmv"):
            continue  # the CMV card says it
        cards.append(
            _card(
                a.message,
                _INDICATOR[a.severity],
                f"{a.message}\n\nSource: {_cite(a.citation)}{extra}",
                rule=a.code,
                citation=_cite(a.citation),
            )
        )
    horizon = state.as_of + dt.timedelta(days=1)
    due = [a for a in state.next_actions if a.due <= horizon]
    if due:
        rows = "\n".join(f"| {a.due} | {a.action} | {_cite(a.citation)} |" for a in due)
        overdue = [a for a in due if a.due < state.as_of]
        cards.append(
            _card(
                f"{len(due)} action(s) due by {horizon}"
                + (f", {len(overdue)} overdue" if overdue else "")
                + ": "
                + ", ".join(a.code for a in due),
                "warning" if overdue else "info",
                f"| Due | Action | Source |\n|---|---|---|\n{rows}{extra}",
                rule="due-actions",
                citation="; ".join(sorted({_cite(a.citation) for a in due})),
            )
        )
    nd = state.next_dose
    if nd is not None:
        cards.append(
            _card(
                f"Next alemtuzumab dose: {nd.dose_mg:g} mg {nd.route.upper()} on {nd.date}"
                f" ({nd.phase})",
                "info",
                f"{nd.rationale}"
                + (f"\n\nPremedication: {nd.premedication}" if nd.premedication else "")
                + f"\n\nSource: {_cite(nd.citation)}{extra}",
                rule="next-dose",
                citation=_cite(nd.citation),
            )
        )
    return {"cards": cards}


def _order_date(order: Mapping[str, Any], today: dt.date) -> tuple[dt.date, bool]:
    raw = order.get("date")
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw), False
        except ValueError:
            pass
    return today, True


def cds_order_sign(
    course_doc: object,
    orders: Sequence[Mapping[str, Any]],
    *,
    today: dt.date,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """``order-sign`` cards for proposed alemtuzumab orders.

    Checks, each citing its rule: a dose above 30 mg, or above 90 mg in any 7 days with the
    doses already given (critical); an active hold (critical, with the reasons and the resume
    condition); a discontinued course (critical); a gap of 7 days or more since the last dose
    (or no dose yet) with a proposed dose above 3 mg (critical: re-escalation required); a dose
    other than the next recommended one (warning, with the recommended dose as a suggestion).
    """
    cards: list[dict[str, Any]] = []
    extra = _notes_md(notes)
    ceiling = _cite(CEILING_CITATION)
    for order in orders:
        if order.get("drug") != "alemtuzumab":
            continue
        day, assumed = _order_date(order, today)
        when = f"{day}" + (" (no date on the order: today assumed)" if assumed else "")
        dose = order.get("dose_mg")
        if dose is None:
            cards.append(
                _card(
                    "Alemtuzumab order without a dose in mg: cannot check it",
                    "warning",
                    f"Give the dose as a quantity in mg to have it checked.{extra}",
                    rule="order-dose-missing",
                    citation="cllcds",
                )
            )
            continue
        state = _state(course_doc, day)
        prefix = f"Alemtuzumab {dose:g} mg on {when}"
        idx = order.get("index")
        if dose > ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:
            cards.append(
                _card(
                    f"{dose:g} mg exceeds the {ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:g} mg single-dose "
                    "ceiling of alemtuzumab",
                    "critical",
                    f"{prefix}: single doses above {ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:g} mg must "
                    f"not be given.\n\nSource: {ceiling}{extra}",
                    rule="ceiling-single-dose",
                    citation=ceiling,
                    overridable=True,
                )
                | {"suggested_dose_mg": ALEMTUZUMAB_MAX_SINGLE_DOSE_MG, "order_index": idx}
            )
        # The engine's reading of "90 mg per week" (treatment weeks from day 1, docs/rules.md).
        window_start, window_end = weekly_window([d for d, _, _ in state.doses], day)
        given = [(d, mg) for d, mg, _ in state.doses if window_start <= d <= window_end]
        week = sum(mg for _, mg in given) + dose
        if week > ALEMTUZUMAB_MAX_WEEKLY_MG:
            listing = ", ".join(f"{d} {mg:g} mg" for d, mg in given) or "none"
            cards.append(
                _card(
                    f"{week:g} mg in the treatment week {window_start}–{window_end} exceeds the "
                    f"{ALEMTUZUMAB_MAX_WEEKLY_MG:g} mg weekly ceiling",
                    "critical",
                    f"{prefix}. Doses in {window_start}–{window_end}: {listing}; with this order "
                    f"{week:g} mg.\n\nSource: {ceiling}{extra}",
                    rule="ceiling-weekly-dose",
                    citation=ceiling,
                    overridable=True,
                )
            )
        if state.holds:
            lines = "\n".join(
                f"- {h.reason}  \n  Resume when: {h.resume_when}  \n  Source: {_cite(h.citation)}"
                for h in state.holds
            )
            cards.append(
                _card(
                    "Alemtuzumab is on hold: "
                    + "; ".join(h.kind.value for h in state.holds)
                    + ". Do not sign.",
                    "critical",
                    f"{prefix}: the course is on hold.\n\n{lines}{extra}",
                    rule="hold",
                    citation="; ".join(_cite(h.citation) for h in state.holds),
                    overridable=True,
                )
            )
        if state.status is CourseStatus.DISCONTINUED:
            reason = state.discontinued[1] if state.discontinued else "discontinued"
            cards.append(
                _card(
                    "Alemtuzumab was discontinued for this patient. Do not sign.",
                    "critical",
                    f"{prefix}: the course is discontinued ({reason}).{extra}",
                    rule="discontinued",
                    citation="cllcds course engine",
                    overridable=True,
                )
            )
        earlier = [d for d, _, _ in state.doses if d < day]
        gap = (day - max(earlier)).days if earlier else None
        reescalate = dose > FIRST_STEP_MG and (gap is None or gap >= REESCALATION_GAP_DAYS)
        if reescalate:
            if gap is not None:
                summary = f"Re-escalation required: start at {FIRST_STEP_MG:g} mg, not {dose:g} mg"
                why = (
                    f"the last dose was {gap} days before ({max(earlier)}). After a gap of "
                    f"{REESCALATION_GAP_DAYS} days or more, restart the escalation"
                )
            else:
                summary = f"Escalation required: start at {FIRST_STEP_MG:g} mg, not {dose:g} mg"
                why = "no alemtuzumab has been given yet: begin the escalation"
            cards.append(
                _card(
                    summary,
                    "critical",
                    f"{prefix}: {why} at {FIRST_STEP_MG:g} mg (then 10 mg, 30 mg as "
                    f"tolerated).\n\nSource: {ceiling}{extra}",
                    rule="re-escalation" if gap is not None else "escalation-start",
                    citation=ceiling,
                    overridable=True,
                )
                | {"suggested_dose_mg": FIRST_STEP_MG, "order_index": idx}
            )
        nd = state.next_dose
        over = dose > ALEMTUZUMAB_MAX_SINGLE_DOSE_MG
        if nd is not None and not (state.holds or reescalate or over) and nd.dose_mg != dose:
            cards.append(
                _card(
                    f"Recommended next dose is {nd.dose_mg:g} mg ({nd.phase}), ordered {dose:g} mg",
                    "warning",
                    f"{prefix}. {nd.rationale}\n\nSource: {_cite(nd.citation)}{extra}",
                    rule="next-dose",
                    citation=_cite(nd.citation),
                )
                | {"suggested_dose_mg": nd.dose_mg, "order_index": idx}
            )
    return {"cards": cards}
