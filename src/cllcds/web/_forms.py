"""The record forms of the course page: their fields, and form data → course events.

A form is parsed into events; the would-be course document (the stored one plus the new
events) goes through :func:`cllcds.services.load_course` before anything is stored, and each
problem is put back next to the field it is about. The user's values are always kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cllcds.domain import DocumentError, InputError
from cllcds.services import assess_course, load_course


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a form."""

    name: str
    label: str
    kind: str = "number"  # number, text, date, select, checkbox
    unit: str = ""
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    step: str = "any"
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Form:
    """A record form: its id, title and fields."""

    kind: str
    title: str
    fields: tuple[Field, ...]
    submit: str


LAB_FIELDS = (
    ("ANC", "Neutrophils (ANC)", "10*9/L", "×10⁹/L"),
    ("PLT", "Platelets", "10*9/L", "×10⁹/L"),
    ("HGB", "Haemoglobin", "g/dL", "g/dL"),
    ("ALC", "Lymphocytes (ALC)", "10*9/L", "×10⁹/L"),
    ("WBC", "White cells (WBC)", "10*9/L", "×10⁹/L"),
    ("CD4", "CD4+ cells", "/uL", "cells/µL"),
)
_DATE = Field("date", "Date", "date", required=True)

FORMS: tuple[Form, ...] = (
    Form(
        "labs",
        "Lab panel",
        (_DATE, *(Field(code, label, unit=shown) for code, label, _u, shown in LAB_FIELDS)),
        "Record lab panel",
    ),
    Form(
        "dose",
        "Dose given",
        (
            _DATE,
            Field("dose_mg", "Dose", unit="mg", required=True),
            Field("route", "Route", "select", options=(("iv", "IV"), ("sc", "SC")), required=True),
        ),
        "Record dose",
    ),
    Form(
        "reaction",
        "Infusion reaction",
        (_DATE, Field("grade", "Grade (CTCAE 1–5)", step="1", required=True)),
        "Record reaction",
    ),
    Form(
        "fever",
        "Fever",
        (_DATE, Field("temperature_c", "Temperature", unit="°C", required=True)),
        "Record fever",
    ),
    Form(
        "infection",
        "Infection",
        (
            _DATE,
            Field("grade", "Grade (CTCAE 1–5)", step="1", required=True),
            Field("description", "Description", "text", required=True),
            Field("serious", "Serious infection", "checkbox"),
        ),
        "Record infection",
    ),
    Form(
        "cmv",
        "CMV result",
        (
            _DATE,
            Field(
                "test",
                "Test",
                "select",
                options=(("pcr", "PCR"), ("antigenemia", "pp65 antigenaemia")),
            ),
            Field(
                "detected",
                "Result",
                "select",
                options=(("no", "Not detected"), ("yes", "Detected (give the load)")),
            ),
            Field("value", "Load", unit="IU/mL or cells/2×10⁵", hint="PCR in IU/mL"),
        ),
        "Record CMV result",
    ),
    Form(
        "assessment",
        "Response assessment",
        (
            _DATE,
            Field("node1_site", "Largest node: site", "text"),
            Field("node1_long", "long axis", unit="mm"),
            Field("node1_short", "short axis", unit="mm"),
            Field("node2_site", "Second node: site", "text"),
            Field("node2_long", "long axis", unit="mm"),
            Field("node2_short", "short axis", unit="mm"),
            Field("liver_cm", "Liver below costal margin", unit="cm"),
            Field("spleen_cm", "Spleen below costal margin", unit="cm"),
            Field("marrow_lymph", "Marrow lymphocytes", unit="%"),
            Field("marrow_nodules", "Marrow lymphoid nodules", "checkbox"),
            Field("symptoms", "Constitutional symptoms", "checkbox"),
        ),
        "Record assessment",
    ),
)
FORMS_BY_KIND = {f.kind: f for f in FORMS}


@dataclass
class Parsed:
    """Events from a form, or the problems by field (``""`` for the form as a whole)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    field_of_event: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _number(values: Mapping[str, str], name: str, errors: dict[str, str]) -> float | None:
    raw = values.get(name, "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        errors[name] = f"“{raw}” is not a number: enter digits, e.g. 0.8"
        return None


def _int(value: float) -> int | float:
    return int(value) if value == int(value) else value


def parse(kind: str, values: Mapping[str, str]) -> Parsed:
    """Turn a form's values into course events (not yet validated against the course)."""
    form = FORMS_BY_KIND[kind]
    out = Parsed()
    errs = out.errors
    for f in form.fields:
        if f.required and f.kind != "checkbox" and not values.get(f.name, "").strip():
            errs[f.name] = f"{f.label} is required"
    date = values.get("date", "").strip()
    if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        errs["date"] = "give the date as YYYY-MM-DD"
    nums = {f.name: _number(values, f.name, errs) for f in form.fields if f.kind == "number"}
    if errs:
        return out

    def add(event: dict[str, Any], at: str) -> None:
        out.events.append({"date": date, **event})
        out.field_of_event.append(at)

    if kind == "labs":
        for code, _label, unit, _shown in LAB_FIELDS:
            v = nums[code]
            if v is not None:
                add({"type": "lab", "code": code, "value": _int(v), "unit": unit}, code)
        if not out.events:
            errs[""] = "enter at least one result"
    elif kind == "dose":
        dose = {"type": "dose", "drug": "alemtuzumab", "dose_mg": _int(nums["dose_mg"] or 0)}
        add({**dose, "route": values.get("route", "iv")}, "dose_mg")
    elif kind in {"reaction", "infection"}:
        grade = nums["grade"] or 0
        if grade != int(grade) or not 1 <= grade <= 5:
            errs["grade"] = "give a whole grade from 1 to 5"
            return out
        if kind == "reaction":
            add({"type": "infusion_reaction", "grade": int(grade)}, "grade")
        else:
            infection: dict[str, Any] = {"type": "infection", "grade": int(grade)}
            infection["description"] = values.get("description", "").strip()
            if values.get("serious"):
                infection["serious"] = True
            add(infection, "description")
    elif kind == "fever":
        add({"type": "fever", "temperature_c": nums["temperature_c"]}, "temperature_c")
    elif kind == "cmv":
        detected = values.get("detected") == "yes"
        load = nums["value"]
        if detected and load is None:
            errs["value"] = "give the load of a detected result"
            return out
        if values.get("test") == "antigenemia":
            add({"type": "cmv_antigenemia", "value": _int(load or 0)}, "value")
        elif detected and load is not None:
            add({"type": "cmv_pcr", "value": _int(load), "unit": "[IU]/mL"}, "value")
        else:
            add({"type": "cmv_pcr", "result": "not detected"}, "detected")
    elif kind == "assessment":
        event: dict[str, Any] = {"type": "assessment"}
        nodes = []
        for i in (1, 2):
            site = values.get(f"node{i}_site", "").strip()
            long_mm, short_mm = nums[f"node{i}_long"], nums[f"node{i}_short"]
            if long_mm is None and short_mm is None and not site:
                continue
            if long_mm is None:
                errs[f"node{i}_long"] = "give the long axis of this node"
            if short_mm is None:
                errs[f"node{i}_short"] = "give the short axis of this node"
            if long_mm is not None and short_mm is not None:
                node = {"long_mm": _int(long_mm), "short_mm": _int(short_mm)}
                nodes.append({"site": site or f"node {i}", **node})
        event["lymph_nodes"] = nodes
        for name in ("liver_cm", "spleen_cm"):
            if nums[name] is not None:
                event[name] = _int(nums[name] or 0)
        if nums["marrow_lymph"] is not None:
            event["marrow"] = {
                "lymphocytes_pct": _int(nums["marrow_lymph"] or 0),
                "nodules": bool(values.get("marrow_nodules")),
            }
        event["constitutional_symptoms"] = bool(values.get("symptoms"))
        if not errs:
            add(event, "date")
    return out


_EVENT_FIELD = re.compile(r"^events\[(\d+)\](?:\.(\w+))?")


def validate(doc: Mapping[str, Any], parsed: Parsed) -> None:
    """Check the course with the new events; put each problem on its form field."""
    existing = list(doc.get("events") or [])
    would_be = {**doc, "events": existing + parsed.events}
    try:
        load_course(dict(would_be))
    except DocumentError as exc:
        for problem in exc.problems:
            _place(problem, len(existing), parsed)
        return
    except InputError as exc:
        _place(exc, len(existing), parsed)
        return
    # Some problems only show when the rules read the course (an assessment before the
    # baseline): assess it too, so that nothing is stored that the course page cannot show.
    try:
        assess_course(dict(would_be))
    except InputError as exc:
        name = "date" if exc.field.endswith("date") else ""
        parsed.errors.setdefault(name, f"{exc.value}: {exc.fix}")


def _place(problem: InputError, first_new: int, parsed: Parsed) -> None:
    m = _EVENT_FIELD.match(problem.field)
    message = f"{problem.value}: {problem.fix}" if problem.value not in (None, "") else problem.fix
    if m is None or int(m.group(1)) < first_new:
        parsed.errors.setdefault("", f"{problem.field}: {message}")
        return
    i = int(m.group(1)) - first_new
    sub = m.group(2)
    name = parsed.field_of_event[i] if i < len(parsed.field_of_event) else ""
    if sub == "date":
        name = "date"
    elif sub in {"dose_mg", "temperature_c", "grade", "description"}:
        name = sub
    parsed.errors.setdefault(name, message)
