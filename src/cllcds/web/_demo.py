"""Demonstration data: synthetic patients at different points of a course, and demo accounts.

Everything is written through the same use cases a user's request goes through
(:func:`cllcds.services._clinical_store.create_course`, ``append_event``, ``add_user``), so the
demo is validated exactly like real data. Dates are relative to ``today`` so that the patient
list's "due today" column means something on the day the demo runs.

The five patients (all synthetic; ids start with ``demo-``):

``demo-escalating``
    Started two days ago; 3 mg and 10 mg given; 30 mg due today.
``demo-neutropenia-hold``
    Three weeks at 30 mg TIW; ANC fell to 0.2 ×10⁹/L yesterday: on hold (first occurrence).
``demo-cmv-preemptive``
    CMV PCR rising from week 4; pre-emptive valganciclovir started; alemtuzumab withheld.
``demo-completed-pr``
    Twelve weeks completed; end-of-treatment assessment: partial response.
``demo-autoimmune-haemolysis``
    Discontinued after autoimmune haemolytic anaemia in week 3.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from cllcds import services as cs
from cllcds.domain import COURSE_FORMAT
from cllcds.services import Actor, CourseRepository, DuplicateError, Role

#: Demo accounts: (username, role). ``seed_demo`` gives each a random password unless told one.
DEMO_ACCOUNTS: tuple[tuple[str, Role], ...] = (
    ("demo", Role.CLINICIAN),
    ("pharmacist", Role.PHARMACIST),
    ("viewer", Role.VIEWER),
    ("admin", Role.ADMIN),
)

_ACTOR = Actor("demo-seed")
_RULE_SETS = {
    "label": "us-2007",
    "response": "iwcll-2018",
    "toxicity": "ctcae-5",
    "cmv": "preemptive",
}
_TIW_OFFSETS = (0, 2, 4)  # Monday, Wednesday, Friday of a treatment week


def _d(day: dt.date) -> str:
    return day.isoformat()


def _patient(pid: str, sex: str, birth: str, height: float, weight: float) -> dict[str, Any]:
    return {
        "id": pid,
        "sex": sex,
        "birth_date": birth,
        "height_cm": height,
        "weight_kg": weight,
        "diagnosis": "B-CLL",
        "cmv_igg": "positive",
        "prior_cmv_reactivation": False,
        "cmv_surveillance_available": True,
        "cytogenetics": {
            "del17p": False,
            "tp53_mutation": False,
            "del11q": True,
            "ighv_unmutated": True,
        },
        "prior_therapies": [
            {
                "regimen": "fludarabine",
                "start": "2024-02-01",
                "end": "2024-07-01",
                "best_response": "PR",
                "progression": "2025-03-15",
            }
        ],
    }


def _baseline(day: dt.date, anc: float = 2.1, plt: float = 98, hgb: float = 10.4) -> dict[str, Any]:
    return {
        "date": _d(day),
        "labs": [
            {"code": "WBC", "value": 85.0, "unit": "10*9/L"},
            {"code": "ALC", "value": 80.1, "unit": "10*9/L"},
            {"code": "ANC", "value": anc, "unit": "10*9/L"},
            {"code": "PLT", "value": plt, "unit": "10*9/L"},
            {"code": "HGB", "value": hgb, "unit": "g/dL"},
        ],
        "assessment": {
            "lymph_nodes": [
                {"site": "left cervical", "long_mm": 35, "short_mm": 22},
                {"site": "right axillary", "long_mm": 28, "short_mm": 20},
            ],
            "liver_cm": 0,
            "spleen_cm": 6,
            "marrow": {"lymphocytes_pct": 80, "nodules": True, "cellularity": "hypercellular"},
            "constitutional_symptoms": True,
        },
    }


def _dose(day: dt.date, mg: float) -> dict[str, Any]:
    return {"date": _d(day), "type": "dose", "drug": "alemtuzumab", "dose_mg": mg, "route": "iv"}


def _lab(day: dt.date, code: str, value: float) -> dict[str, Any]:
    unit = "g/dL" if code == "HGB" else "10*9/L"
    return {"date": _d(day), "type": "lab", "code": code, "value": value, "unit": unit}


def _panel(day: dt.date, anc: float, plt: float, hgb: float, alc: float) -> list[dict[str, Any]]:
    return [
        _lab(day, "ANC", anc),
        _lab(day, "PLT", plt),
        _lab(day, "HGB", hgb),
        _lab(day, "ALC", alc),
    ]


def _cmv(day: dt.date, copies: float | None = None) -> dict[str, Any]:
    if copies is None:
        return {"date": _d(day), "type": "cmv_pcr", "result": "not detected"}
    return {"date": _d(day), "type": "cmv_pcr", "value": copies, "unit": "[IU]/mL"}


def _escalation_then_tiw(start: dt.date, weeks: int, until: dt.date) -> list[dict[str, Any]]:
    """3, 10, 30 mg on days 1-3, then 30 mg TIW from the next Monday-equivalent, up to ``until``."""
    events = [_dose(start, 3), _dose(start + dt.timedelta(days=1), 10)]
    events.append(_dose(start + dt.timedelta(days=2), 30))
    for week in range(weeks):
        for off in _TIW_OFFSETS:
            day = start + dt.timedelta(days=7 * (week + 1) + off)
            if day <= until:
                events.append(_dose(day, 30))
    return events


def demo_courses(today: dt.date) -> list[dict[str, Any]]:
    """The five demonstration course documents, dated relative to ``today``."""
    day = dt.timedelta(days=1)
    courses: list[dict[str, Any]] = []

    # 1. Escalating: 3 mg two days ago, 10 mg yesterday; 30 mg due today.
    s = today - 2 * day
    courses.append(
        {
            "patient": _patient("demo-escalating", "male", "1951-03-14", 176, 78),
            "start_date": _d(s),
            "baseline": _baseline(s - 3 * day),
            "events": [
                _cmv(s - 3 * day),
                _dose(s, 3),
                {"date": _d(s), "type": "infusion_reaction", "grade": 1},
                _dose(s + day, 10),
            ],
        }
    )

    # 2. On hold for neutropenia: ANC 0.2 yesterday.
    s = today - 22 * day
    events = _escalation_then_tiw(s, 3, today - 2 * day)
    counts = [(2.0, 92, 10.6, 40.0), (1.5, 80, 10.2, 6.5), (0.9, 70, 9.9, 1.2), (0.2, 60, 9.6, 0.4)]
    for week, (anc, plt, hgb, alc) in enumerate(counts):
        lab_day = s + dt.timedelta(days=7 * week) if week < 3 else today - day
        events += _panel(lab_day, anc, plt, hgb, alc)
        events.append(_cmv(lab_day))
    courses.append(
        {
            "patient": _patient("demo-neutropenia-hold", "female", "1948-05-02", 162, 61),
            "start_date": _d(s),
            "baseline": _baseline(s - 3 * day),
            "events": events,
        }
    )

    # 3. CMV reactivation under pre-emptive therapy.
    s = today - 31 * day
    events = _escalation_then_tiw(s, 4, today - 3 * day)
    loads: list[float | None] = [None, None, None, 400, 2500]
    for week, load in enumerate(loads):
        lab_day = s + dt.timedelta(days=7 * week)
        events += _panel(lab_day, 1.4, 85, 10.8, 2.0 if week else 60.0)
        events.append(_cmv(lab_day, load))
    events.append({"date": _d(s + 29 * day), "type": "fever", "temperature_c": 38.4})
    events.append(
        {
            "date": _d(s + 30 * day),
            "type": "antiviral",
            "drug": "valganciclovir",
            "dose_mg": 900,
            "start": _d(s + 30 * day),
        }
    )
    courses.append(
        {
            "patient": _patient("demo-cmv-preemptive", "male", "1955-11-23", 181, 84),
            "start_date": _d(s),
            "baseline": _baseline(s - 3 * day),
            "events": events,
        }
    )

    # 4. Completed twelve weeks with a partial response.
    s = today - 120 * day
    end = s + 84 * day
    events = _escalation_then_tiw(s, 12, end)
    for week in range(0, 13, 2):
        lab_day = s + dt.timedelta(days=7 * week)
        events += _panel(lab_day, 1.8 - 0.05 * week, 90 + week, 10.4 + 0.1 * week, 2.0)
        events.append(_cmv(lab_day))
    events += _panel(end + 30 * day, 2.0, 140, 12.1, 1.1)
    events.append(
        {
            "date": _d(end + 30 * day),
            "type": "assessment",
            "lymph_nodes": [{"site": "left cervical", "long_mm": 20, "short_mm": 10}],
            "liver_cm": 0,
            "spleen_cm": 2,
            "marrow": {"lymphocytes_pct": 35, "nodules": True, "cellularity": "normal"},
            "constitutional_symptoms": False,
        }
    )
    courses.append(
        {
            "patient": _patient("demo-completed-pr", "female", "1946-08-30", 158, 57),
            "start_date": _d(s),
            "baseline": _baseline(s - 3 * day),
            "events": events,
        }
    )

    # 5. Discontinued for autoimmune haemolytic anaemia in week 3.
    s = today - 40 * day
    events = _escalation_then_tiw(s, 2, s + 18 * day)
    events += _panel(s + 7 * day, 1.9, 88, 10.1, 5.0)
    events += _panel(s + 14 * day, 1.7, 82, 9.0, 1.0)
    events += _panel(s + 19 * day, 1.6, 80, 6.9, 0.8)
    events.append(_cmv(s))
    events.append(
        {"date": _d(s + 19 * day), "type": "autoimmune_cytopenia", "kind": "haemolytic anaemia"}
    )
    courses.append(
        {
            "patient": _patient("demo-autoimmune-haemolysis", "male", "1950-01-09", 170, 72),
            "start_date": _d(s),
            "baseline": _baseline(s - 3 * day),
            "events": events,
        }
    )
    for doc in courses:
        doc.update(format=COURSE_FORMAT, rule_sets=dict(_RULE_SETS), regimen="alemtuzumab-iv-label")
    return courses


def seed_demo(
    repo: CourseRepository,
    today: dt.date | None = None,
    passwords: Mapping[str, str] | None = None,
) -> list[tuple[str, str | None, str]]:
    """Create the demo accounts and the five demo patients (skipping what is already there).

    Each new account gets ``passwords[username]`` or a random password. Answers
    ``(username, password, role)`` per account so the caller can print the credentials; the
    password is ``None`` for an account that existed already (its password is unchanged).
    """
    when = today or dt.date.today()
    given = passwords or {}
    accounts: list[tuple[str, str | None, str]] = []
    for username, role in DEMO_ACCOUNTS:
        password = given.get(username) or secrets.token_urlsafe(12)
        try:
            cs.add_user(repo, username, password, role, _ACTOR)
        except DuplicateError:  # seeded before: keep the account as it is
            accounts.append((username, None, role.value))
            continue
        accounts.append((username, password, role.value))
    existing = {c["patient_id"] for c in cs.list_courses(repo, limit=1000).items}
    for doc in demo_courses(when):
        if doc["patient"]["id"] not in existing:
            cs.create_course(repo, doc, _ACTOR)
    return accounts
