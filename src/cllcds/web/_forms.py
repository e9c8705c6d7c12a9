"""The record forms of the course page: their fields, and form data → course events.

A form is parsed into events; the would-be course document (the stored one plus the new
events) goes through :func:`cllcds.services.load_course` before anything is stored, and each
problem is put back next to the field it is about. The user's values are always kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cllcds.domain import AutoimmuneKind, DocumentError, InputError, StopReason
from cllcds.services import assess_course, course_schema_document, load_course


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a form; ``key`` is the event key it fills (default: its name)."""

    name: str
    label: str
    kind: str = "number"  # number, integer, text, textarea, date, time, select, checkbox
    unit: str = ""
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    step: str = "any"
    hint: str = ""
    key: str = ""

    @property
    def event_key(self) -> str:
        """The course-document key this field fills."""
        return self.key or self.name


@dataclass(frozen=True, slots=True)
class Form:
    """A record form: its id, title, fields, and the event type it records.

    A form with an ``event_type`` is parsed generically (each field fills its key, numbers
    and dates converted; ``fixed`` keys added); ``labs``, ``cmv`` and
    ``assessment`` have parsers of their own. ``dose`` marks forms whose entries pass the safety
    check before they are saved.
    """

    kind: str
    title: str
    fields: tuple[Field, ...]
    submit: str
    event_type: str = ""
    fixed: tuple[tuple[str, Any], ...] = ()
    group: str = "Other"
    order: bool = False


LAB_FIELDS = (
    ("ANC", "Neutrophils (ANC)", "10*9/L", "×10⁹/L"),
    ("PLT", "Platelets", "10*9/L", "×10⁹/L"),
    ("HGB", "Haemoglobin", "g/dL", "g/dL"),
    ("ALC", "Lymphocytes (ALC)", "10*9/L", "×10⁹/L"),
    ("WBC", "White cells (WBC)", "10*9/L", "×10⁹/L"),
    ("CD4", "CD4+ cells", "/uL", "cells/µL"),
)
_DATE = Field("date", "Date", "date", required=True)
_TIME = Field("time", "Clock time", "time", hint="24-hour HH:MM, optional")
_AUTOIMMUNE = tuple((k.value, k.value[:1].upper() + k.value[1:]) for k in AutoimmuneKind)
#: The coded reasons of ``treatment_stopped``, in plain words.
STOP_REASON_LABELS = {
    StopReason.COMPLETED: "Course completed",
    StopReason.TOXICITY: "Toxicity",
    StopReason.PROGRESSION: "Progression",
    StopReason.NO_RESPONSE: "No response",
    StopReason.PATIENT_CHOICE: "Patient's choice",
    StopReason.DEATH: "Death",
    StopReason.OTHER: "Other (say why in the details)",
}
_STOP_REASONS = tuple((r.value, STOP_REASON_LABELS[r]) for r in StopReason)
_ROUTES = (("iv", "IV"), ("sc", "SC"), ("po", "Oral"), ("civ", "Continuous IV"))
#: Keys every event may carry; never a form field of their own.
COMMON_KEYS = frozenset({"date", "type", "id", "supersedes", "time"})

HAND_FORMS: tuple[Form, ...] = (
    Form(
        "labs",
        "Lab panel",
        (_DATE, _TIME, *(Field(code, label, unit=shown) for code, label, _u, shown in LAB_FIELDS)),
        "Record lab panel",
        group="Results",
    ),
    Form(
        "dose",
        "Dose given",
        (
            _DATE,
            _TIME,
            Field("dose_mg", "Dose", unit="mg", required=True),
            Field("route", "Route", "select", options=_ROUTES[:2], required=True),
        ),
        "Record dose",
        event_type="dose",
        fixed=(("drug", "alemtuzumab"),),
        group="Treatment",
        order=True,
    ),
    Form(
        "hold",
        "Dose held",
        (_DATE, Field("reason", "Reason", "text", required=True)),
        "Record held dose",
        event_type="dose_held",
        group="Treatment",
    ),
    Form(
        "stop",
        "Stop treatment",
        (
            _DATE,
            Field("reason", "Reason for stopping", "select", options=_STOP_REASONS, required=True),
            Field("text", "Details", "textarea", hint="required when the reason is Other"),
        ),
        "Stop treatment",
        event_type="treatment_stopped",
        group="Treatment",
    ),
    Form(
        "cmv",
        "CMV result",
        (
            _DATE,
            _TIME,
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
        group="Results",
    ),
    Form(
        "reaction",
        "Infusion reaction",
        (_DATE, _TIME, Field("grade", "Grade (CTCAE 1–5)", "integer", step="1", required=True)),
        "Record reaction",
        event_type="infusion_reaction",
        group="Adverse events",
    ),
    Form(
        "fever",
        "Fever",
        (_DATE, _TIME, Field("temperature_c", "Temperature", unit="°C", required=True)),
        "Record fever",
        event_type="fever",
        group="Adverse events",
    ),
    Form(
        "infection",
        "Infection",
        (
            _DATE,
            Field("grade", "Grade (CTCAE 1–5)", "integer", step="1", required=True),
            Field("description", "Description", "text", required=True),
            Field("serious", "Serious infection", "checkbox"),
            Field("resolved", "Resolved on", "date", hint="leave empty while it lasts"),
        ),
        "Record infection",
        event_type="infection",
        group="Adverse events",
    ),
    Form(
        "autoimmune",
        "Autoimmune cytopenia",
        (
            _DATE,
            Field("kind", "Kind", "select", options=_AUTOIMMUNE, required=True),
            Field("kind_text", "Other: describe", "text", hint="only for kind other"),
        ),
        "Record autoimmune cytopenia",
        event_type="autoimmune_cytopenia",
        group="Adverse events",
    ),
    Form(
        "antiviral",
        "Antiviral / prophylaxis",
        (
            _DATE,
            Field("drug", "Drug", "text", required=True, hint="e.g. valganciclovir"),
            Field("dose_mg", "Dose", unit="mg"),
            Field("start", "Start", "date"),
            Field("stop", "Stop", "date"),
        ),
        "Record antiviral",
        event_type="antiviral",
        group="Supportive care",
    ),
    Form(
        "growth_factor",
        "Growth factor / ESA",
        (_DATE, Field("drug", "Drug", "text", required=True, hint="e.g. filgrastim")),
        "Record growth factor",
        event_type="growth_factor",
        group="Supportive care",
    ),
    Form(
        "transfusion",
        "Transfusion",
        (_DATE, Field("product", "Product", "text", required=True, hint="e.g. red cells")),
        "Record transfusion",
        event_type="transfusion",
        group="Supportive care",
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
            Field("spleen_length_cm", "Spleen length by imaging", unit="cm"),
            Field("marrow_lymph", "Marrow lymphocytes", unit="%"),
            Field("marrow_nodules", "Marrow lymphoid nodules", "checkbox"),
            Field("symptoms", "Constitutional symptoms", "checkbox"),
            Field(
                "mrd_sample",
                "MRD sample",
                "select",
                options=(("", "not tested"), ("blood", "Blood"), ("marrow", "Marrow")),
            ),
            Field("mrd_level", "MRD level", unit="fraction", hint="e.g. 0.00005 (< 10⁻⁴)"),
            Field(
                "cytopenia_due_to_cll",
                "Cytopenia due to CLL",
                "select",
                options=(("", "not judged"), ("no", "no"), ("yes", "yes")),
            ),
            Field(
                "transformation",
                "Transformation",
                "select",
                options=(
                    ("", "none"),
                    ("richter", "Richter"),
                    ("prolymphocytic", "prolymphocytic"),
                ),
            ),
        ),
        "Record assessment",
        group="Results",
    ),
    Form(
        "note",
        "Note",
        (_DATE, Field("text", "Note", "textarea", required=True)),
        "Record note",
        event_type="note",
        group="Other",
    ),
)
#: Event types the hand-written forms record (labs, CMV results and assessments by their own
#: parsers); every other event type of the course document gets a form made from its schema.
COVERED_TYPES = frozenset(
    {"lab", "cmv_pcr", "cmv_antigenemia", "assessment"}
    | {f.event_type for f in HAND_FORMS if f.event_type}
)
#: Keys a hand-written form fills in another way (or on purpose not at all).
HANDLED_KEYS: dict[str, frozenset[str]] = {
    "dose": frozenset({"drug"}),
    "autoimmune_cytopenia": frozenset({"kind"}),
}


def _label(key: str) -> tuple[str, str]:
    for suffix, unit in (("_mg", "mg"), ("_c", "°C"), ("_cm", "cm"), ("_mm", "mm"),
                         ("_h", "h"), ("_days", "days"), ("_pct", "%")):  # fmt: skip
        if key.endswith(suffix):
            return key[: -len(suffix)].replace("_", " ").capitalize(), unit
    return key.replace("_", " ").capitalize(), ""


def schema_field(key: str, prop: Mapping[str, Any], required: bool) -> Field | None:
    """A form field for one property of an event's JSON Schema (``None``: not a form input)."""
    label, unit = _label(key)
    if "enum" in prop:
        options = tuple((str(v), str(v).replace("_", " ")) for v in prop["enum"])
        if not required:
            options = (("", "—"), *options)
        return Field(key, label, "select", options=options, required=required)
    kind = prop.get("type")
    if kind == "number":
        return Field(key, label, "number", unit=unit, required=required)
    if kind == "integer":
        return Field(key, label, "integer", unit=unit, required=required, step="1")
    if kind == "boolean":
        return Field(key, label, "checkbox")
    if kind == "string":
        is_date = "pattern" in prop and str(prop["pattern"]).startswith(r"^\d{4}")
        return Field(key, label, "date" if is_date else "text", required=required)
    return None  # objects and lists need a form of their own


def _event_schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for variant in course_schema_document()["properties"]["events"]["items"]["oneOf"]:
        t = str(variant["properties"]["type"]["const"])
        out[t] = variant
    return out


def _extend(form: Form, schema: Mapping[str, Any] | None) -> Form:
    """A hand-written form with a field for every schema key it does not yet fill (so an event
    type that gains a key gets its input without a code change)."""
    if schema is None or not form.event_type:
        return form
    have = {f.event_key for f in form.fields} | {k for k, _ in form.fixed}
    have |= HANDLED_KEYS.get(form.event_type, frozenset()) | COMMON_KEYS
    required = set(schema.get("required") or [])
    extra = []
    for key, prop in (schema.get("properties") or {}).items():
        if key not in have:
            f = schema_field(key, prop, key in required)
            if f is not None:
                extra.append(f)
    return replace(form, fields=(*form.fields, *extra)) if extra else form


def _build_forms() -> tuple[Form, ...]:
    schemas = _event_schemas()
    forms = [_extend(f, schemas.get(f.event_type)) for f in HAND_FORMS]
    for t, schema in schemas.items():
        if t in COVERED_TYPES:
            continue
        required = set(schema.get("required") or [])
        fields = [_DATE, _TIME]
        for key, prop in (schema.get("properties") or {}).items():
            if key in COMMON_KEYS:
                continue
            f = schema_field(key, prop, key in required)
            if f is not None:
                fields.append(f)
        title = t.replace("_", " ").capitalize()
        forms.append(Form(t, title, tuple(fields), f"Record {title.lower()}", event_type=t))
    return tuple(forms)


FORMS: tuple[Form, ...] = _build_forms()
FORMS_BY_KIND = {f.kind: f for f in FORMS}
GROUPS = ("Treatment", "Results", "Adverse events", "Supportive care", "Other")


def grouped() -> list[tuple[str, list[Form]]]:
    """The forms by group, for the record section's tabs."""
    return [(g, [f for f in FORMS if f.group == g]) for g in GROUPS]


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


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _generic(form: Form, values: Mapping[str, str], nums: Mapping[str, float | None],
             errs: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    event: dict[str, Any] = {"type": form.event_type, **dict(form.fixed)}
    for f in form.fields:
        if f.name in {"date", "time"}:
            continue
        raw = values.get(f.name, "").strip()
        if f.kind in {"number", "integer"}:
            v = nums.get(f.name)
            if v is None:
                continue
            if f.kind == "integer" and v != int(v):
                errs[f.name] = f"give a whole number for {f.label.lower()}"
                continue
            event[f.event_key] = _int(v)
        elif f.kind == "checkbox":
            if raw:
                event[f.event_key] = True
        elif f.kind == "date":
            if raw and not _ISO_DATE.fullmatch(raw):
                errs[f.name] = "give the date as YYYY-MM-DD"
            elif raw:
                event[f.event_key] = raw
        elif raw:
            event[f.event_key] = raw
    if form.event_type == "autoimmune_cytopenia":
        text = event.pop("kind_text", "")
        if event.get("kind") == "other":
            if not text:
                errs["kind_text"] = "describe the autoimmune cytopenia"
            event["kind"] = text
    stop_other = form.event_type == "treatment_stopped" and event.get("reason") == "other"
    if stop_other and not str(event.get("text", "")).strip():
        errs["text"] = "say why treatment is stopped when the reason is Other"
    return event


def parse(kind: str, values: Mapping[str, str]) -> Parsed:
    """Turn a form's values into course events (not yet validated against the course)."""
    form = FORMS_BY_KIND[kind]
    out = Parsed()
    errs = out.errors
    for f in form.fields:
        if f.required and f.kind != "checkbox" and not values.get(f.name, "").strip():
            errs[f.name] = f"{f.label} is required"
    date = values.get("date", "").strip()
    if date and not _ISO_DATE.fullmatch(date):
        errs["date"] = "give the date as YYYY-MM-DD"
    clock = values.get("time", "").strip()
    if clock and not _CLOCK.fullmatch(clock):
        errs["time"] = "give the clock time as HH:MM (24 h), e.g. 08:30"
    nums = {
        f.name: _number(values, f.name, errs)
        for f in form.fields
        if f.kind in {"number", "integer"}
    }
    if errs:
        return out
    when = f"{date}T{clock}" if clock else date

    def add(event: dict[str, Any], at: str) -> None:
        out.events.append({"date": when, **event})
        out.field_of_event.append(at)

    if form.event_type:
        event = _generic(form, values, nums, errs)
        if not errs:
            first = next((f.name for f in form.fields if f.name not in {"date", "time"}), "date")
            add(event, first)
    elif kind == "labs":
        for code, _label, unit, _shown in LAB_FIELDS:
            v = nums[code]
            if v is not None:
                add({"type": "lab", "code": code, "value": _int(v), "unit": unit}, code)
        if not out.events:
            errs[""] = "enter at least one result"
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
        _assessment(values, nums, errs, add)
    return out


def _assessment(
    values: Mapping[str, str],
    nums: Mapping[str, float | None],
    errs: dict[str, str],
    add: Any,
) -> None:
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
    for name in ("liver_cm", "spleen_cm", "spleen_length_cm"):
        if nums[name] is not None:
            event[name] = _int(nums[name] or 0)
    if values.get("cytopenia_due_to_cll"):
        event["cytopenia_due_to_cll"] = values["cytopenia_due_to_cll"] == "yes"
    if values.get("transformation"):
        event["transformation"] = values["transformation"]
    if nums["marrow_lymph"] is not None:
        event["marrow"] = {
            "lymphocytes_pct": _int(nums["marrow_lymph"] or 0),
            "nodules": bool(values.get("marrow_nodules")),
        }
    event["constitutional_symptoms"] = bool(values.get("symptoms"))
    sample = values.get("mrd_sample", "")
    if sample:
        if nums["mrd_level"] is None:
            errs["mrd_level"] = "give the MRD level as a fraction, e.g. 0.00005"
        else:
            event["mrd"] = {"sample": sample, "level": nums["mrd_level"]}
    if not errs:
        add(event, "date")


def values_of(event: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The form and its values that would record ``event`` (to correct it)."""
    t = str(event.get("type"))
    raw_date = str(event.get("date", ""))
    values = {"date": raw_date[:10], "time": raw_date[11:16] if "T" in raw_date else ""}
    if t == "lab":
        values[str(event.get("code", ""))] = _show(event.get("value"))
        return "labs", values
    if t in {"cmv_pcr", "cmv_antigenemia"}:
        values["test"] = "pcr" if t == "cmv_pcr" else "antigenemia"
        load = event.get("value", event.get("positive_cells"))
        values["detected"] = "no" if event.get("result") else "yes"
        values["value"] = "" if load is None else _show(load)
        return "cmv", values
    if t == "assessment":
        for i, node in enumerate(list(event.get("lymph_nodes") or [])[:2], start=1):
            values[f"node{i}_site"] = str(node.get("site", ""))
            values[f"node{i}_long"] = _show(node.get("long_mm"))
            values[f"node{i}_short"] = _show(node.get("short_mm"))
        for k in ("liver_cm", "spleen_cm", "spleen_length_cm"):
            if event.get(k) is not None:
                values[k] = _show(event[k])
        if event.get("cytopenia_due_to_cll") is not None:
            values["cytopenia_due_to_cll"] = "yes" if event["cytopenia_due_to_cll"] else "no"
        values["transformation"] = str(event.get("transformation") or "")
        marrow = event.get("marrow") or {}
        if marrow:
            values["marrow_lymph"] = _show(marrow.get("lymphocytes_pct"))
            values["marrow_nodules"] = "1" if marrow.get("nodules") else ""
        values["symptoms"] = "1" if event.get("constitutional_symptoms") else ""
        mrd = event.get("mrd") or {}
        if mrd:
            values["mrd_sample"] = str(mrd.get("sample", ""))
            values["mrd_level"] = _show(mrd.get("level"))
        return "assessment", values
    form = next((f for f in FORMS if f.event_type == t), None)
    if form is None:
        return "note", values
    for f in form.fields:
        v = event.get(f.event_key)
        if f.name in {"date", "time"} or v is None:
            continue
        values[f.name] = ("1" if v else "") if f.kind == "checkbox" else _show(v)
    if t == "autoimmune_cytopenia":
        known = {k for k, _ in _AUTOIMMUNE}
        text = str(event.get("kind", ""))
        values["kind"] = text if text in known else "other"
        values["kind_text"] = "" if text in known else text
    return form.kind, values


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.10g}"
    return "" if v is None else str(v)


_EVENT_FIELD = re.compile(r"^events\[(\d+)\](?:\.(\w+))?")


def validate(doc: Mapping[str, Any], parsed: Parsed, kind: str = "") -> None:
    """Check the course with the new events; put each problem on its form field."""
    _validate(doc, parsed)
    form = FORMS_BY_KIND.get(kind)
    if form is not None:
        names = {f.name for f in form.fields}
        for name in [n for n in parsed.errors if n and n not in names]:
            message = parsed.errors.pop(name)
            parsed.errors.setdefault("", f"{name}: {message}")


def _validate(doc: Mapping[str, Any], parsed: Parsed) -> None:
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
    elif sub in {f.name for form in FORMS for f in form.fields}:
        name = sub
    parsed.errors.setdefault(name, message)


def baseline_of(values: Mapping[str, str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The course document's ``baseline`` from the start form (the lab panel's and the
    assessment's fields, one date), or ``None`` when nothing was entered."""
    labs = parse("labs", values)
    if labs.errors.get("") == "enter at least one result":
        labs.errors.pop("")
    assessment_values = {k: v for k, v in values.items() if k != "time"}
    assessment = parse("assessment", assessment_values)
    errors = {**labs.errors, **assessment.errors}
    if errors:
        return None, errors
    out: dict[str, Any] = {"date": values.get("date", "")}
    if labs.events:
        out["labs"] = [{k: e[k] for k in ("code", "value", "unit")} for e in labs.events]
    event = assessment.events[0] if assessment.events else {}
    described = {k: v for k, v in event.items() if k not in {"date", "type"}}
    if described.get("lymph_nodes") or len(described) > 2:
        out["assessment"] = described
    if len(out) == 1:
        return None, {}
    return out, {}


_BASELINE_FIELD = re.compile(r"^baseline\.(?:labs\[(\d+)\]|assessment\.(\w+)|(\w+))")


def place_baseline(exc: InputError, baseline: Mapping[str, Any] | None) -> dict[str, str]:
    """A refused baseline's problems by start-form field (empty: not about the baseline)."""
    problems = exc.problems if isinstance(exc, DocumentError) else [exc]
    labs = list((baseline or {}).get("labs") or [])
    out: dict[str, str] = {}
    for p in problems:
        m = _BASELINE_FIELD.match(p.field)
        if m is None:
            continue
        message = f"{p.value}: {p.fix}" if p.value not in (None, "") else p.fix
        if m.group(1) is not None and int(m.group(1)) < len(labs):
            out.setdefault(str(labs[int(m.group(1))]["code"]), message)
        elif m.group(3) == "date":
            out.setdefault("date", message)
        else:
            out.setdefault("", f"{p.field}: {message}")
    return out
