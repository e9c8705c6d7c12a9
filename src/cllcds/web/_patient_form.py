"""The patient record form: its fields, form data → the course document's patient object, and
the patient object → form values (to edit it). Problems come back next to their field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cllcds.domain import DocumentError, InputError, PriorResponse, Serostatus, Sex

from ._forms import Field

CYTOGENETICS = (
    ("del17p", "del(17p)"),
    ("tp53_mutation", "TP53 mutation"),
    ("del11q", "del(11q)"),
    ("ighv_unmutated", "IGHV unmutated"),
)
PRIOR_ROWS = 3
_TRI = (("", "unknown"), ("yes", "yes"), ("no", "no"))

DEMOGRAPHICS = (
    Field("id", "Patient id", "text", required=True, hint="hospital number or study id"),
    Field("name", "Name", "text"),
    Field("sex", "Sex", "select", options=tuple((s.value, s.value) for s in Sex)),
    Field("birth_date", "Date of birth", "date"),
    Field("height_cm", "Height", unit="cm"),
    Field("weight_kg", "Weight", unit="kg"),
    Field("diagnosis", "Diagnosis", "text"),
)
CMV = (
    Field(
        "cmv_igg",
        "CMV IgG",
        "select",
        options=(("", "not tested"), *((s.value, s.value) for s in Serostatus)),
    ),
    Field("prior_cmv_reactivation", "Earlier CMV reactivation", "checkbox"),
    Field("cmv_surveillance_available", "CMV PCR surveillance available", "select", options=_TRI),
)
CYTO_FIELDS = tuple(Field(f"cg_{k}", label, "select", options=_TRI) for k, label in CYTOGENETICS)
_RESPONSES = (("", "—"), *((r.value, r.value) for r in PriorResponse))


def prior_fields(i: int) -> tuple[Field, ...]:
    """The inputs of prior therapy row ``i`` (1-based)."""
    return (
        Field(f"pt{i}_regimen", "Regimen", "text"),
        Field(f"pt{i}_start", "Start", "date"),
        Field(f"pt{i}_end", "End", "date"),
        Field(f"pt{i}_best_response", "Best response", "select", options=_RESPONSES),
        Field(f"pt{i}_progression", "Progression", "date"),
    )


ALL_FIELDS = (
    *DEMOGRAPHICS,
    *CMV,
    *CYTO_FIELDS,
    *(f for i in range(1, PRIOR_ROWS + 1) for f in prior_fields(i)),
)
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def parse_patient(values: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The patient object from form values, and problems found before validation."""
    errors: dict[str, str] = {}
    v = {k: str(x).strip() for k, x in values.items()}
    patient: dict[str, Any] = {}
    if not v.get("id"):
        errors["id"] = "give the patient id"
    for key in ("id", "name", "sex", "birth_date", "diagnosis", "cmv_igg"):
        if v.get(key):
            patient[key] = v[key]
    for key in ("height_cm", "weight_kg"):
        raw = v.get(key, "").replace(",", ".")
        if raw:
            if not _NUMBER.match(raw):
                errors[key] = f"“{raw}” is not a number: enter digits, e.g. 70"
            else:
                num = float(raw)
                patient[key] = int(num) if num == int(num) else num
    patient["prior_cmv_reactivation"] = bool(v.get("prior_cmv_reactivation"))
    if v.get("cmv_surveillance_available"):
        patient["cmv_surveillance_available"] = v["cmv_surveillance_available"] == "yes"
    cyto = {k: v[f"cg_{k}"] == "yes" for k, _ in CYTOGENETICS if v.get(f"cg_{k}")}
    if cyto:
        patient["cytogenetics"] = cyto
    prior = []
    for i in range(1, PRIOR_ROWS + 1):
        row = {k: v.get(f"pt{i}_{k}", "") for k in ("regimen", "start", "end", "best_response")}
        row["progression"] = v.get(f"pt{i}_progression", "")
        if not any(row.values()):
            continue
        if not row["regimen"]:
            errors[f"pt{i}_regimen"] = "name the regimen of this prior therapy"
        prior.append({k: x for k, x in row.items() if x})
    if prior:
        patient["prior_therapies"] = prior
    return patient, errors


_PLACE = re.compile(r"^patient\.(?:prior_therapies\[(\d+)\]\.(\w+)|cytogenetics\.(\w+)|(\w+))")


def place_errors(exc: InputError) -> dict[str, str]:
    """A validation error's problems by form field (``""`` for the form as a whole)."""
    problems = exc.problems if isinstance(exc, DocumentError) else [exc]
    out: dict[str, str] = {}
    names = {f.name for f in ALL_FIELDS}
    for p in problems:
        m = _PLACE.match(p.field)
        name = ""
        if m:
            if m.group(1) is not None:
                name = f"pt{int(m.group(1)) + 1}_{m.group(2)}"
            elif m.group(3):
                name = f"cg_{m.group(3)}"
            else:
                name = m.group(4)
        message = f"{p.value}: {p.fix}" if p.value not in (None, "") else p.fix
        out.setdefault(name if name in names else "", message)
    return out


def values_of_patient(patient: Mapping[str, Any]) -> dict[str, str]:
    """Form values for an existing patient record."""
    values: dict[str, str] = {}
    keys = ("id", "name", "sex", "birth_date", "diagnosis", "cmv_igg", "height_cm", "weight_kg")
    for key in keys:
        if patient.get(key) is not None:
            values[key] = str(patient[key])
    values["prior_cmv_reactivation"] = "1" if patient.get("prior_cmv_reactivation") else ""
    surv = patient.get("cmv_surveillance_available")
    values["cmv_surveillance_available"] = "" if surv is None else ("yes" if surv else "no")
    for k, _ in CYTOGENETICS:
        flag = (patient.get("cytogenetics") or {}).get(k)
        values[f"cg_{k}"] = "" if flag is None else ("yes" if flag else "no")
    for i, row in enumerate(list(patient.get("prior_therapies") or [])[:PRIOR_ROWS], start=1):
        for k in ("regimen", "start", "end", "best_response", "progression"):
            if row.get(k) is not None:
                values[f"pt{i}_{k}"] = str(row[k])
    return values
