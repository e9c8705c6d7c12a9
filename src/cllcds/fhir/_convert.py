"""FHIR R4 conversion: a Bundle into a course document, a course out as a Bundle, a regimen as
a PlanDefinition, and the proposed orders of a CDS Hooks ``order-sign`` request as plain values.

FHIR version: R4 (4.0.1) on the wire, checked with the **R4B** models of ``fhir.resources``
(``fhir.resources.R4B``), never its R5 default (standards.md §2 "FHIR version"; HealthChain
PR #195: R5 models silently drop ``medicationCodeableConcept``). Every resource read is parsed
with the R4B model of its type, and every resource written is validated the same way; an R5-only
element (``MedicationAdministration.medication`` as a CodeableReference, ``occurence[x]``) is
refused because the R4B models forbid unknown elements.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from cllcds import __version__, services
from cllcds.course import DEFAULT_SETTINGS, CourseState, CourseStatus, Severity
from cllcds.domain import (
    COURSE_FORMAT,
    Course,
    DocumentError,
    InputError,
    LabCode,
    LabResult,
    LabUnit,
    ResponseCategory,
    Sex,
)

from ._codes import (
    ACTION_CODE_SYSTEM,
    ALERT_CODE_SYSTEM,
    HEIGHT_UNITS_CM,
    ICD10CM,
    ICD10CM_CLL_CODES,
    LOINC,
    LOINC_BODY_HEIGHT,
    LOINC_BODY_WEIGHT,
    LOINC_CMV_PCR_QUAL,
    LOINC_CMV_PCR_QUANT,
    OBSERVATION_CATEGORY,
    PATIENT_ID_SYSTEM,
    PLAN_DEFINITION_BASE,
    PLAN_DEFINITION_TYPE,
    ROUTE_CODING,
    ROUTE_WORDS,
    RXNORM,
    RXNORM_ANTIVIRALS,
    RXNORM_DRUGS,
    RXNORM_INGREDIENT,
    SNOMED,
    SNOMED_CLL_CODES,
    SNOMED_NOT_DETECTED,
    SNOMED_ROUTES,
    UCUM,
    WEIGHT_UNITS_KG,
)
from ._mapping import (
    AE_SERIOUSNESS,
    CONDITION_VERIFICATION,
    CS,
    EXT_CTCAE_GRADE,
    EXT_DERIVED,
    EXT_RESOLVED,
    LOINC_CMV_PCR_COPIES,
    LOINC_DISEASE_STATUS,
    LOINC_DISEASE_STATUS_DISPLAY,
    MEDDRA,
    MEDDRA_INFUSION_REACTION,
    PLAN_DEFINITION_CANONICAL,
    PROFILE_MCODE_DISEASE_STATUS,
    STATUS_TREND,
    autoimmune_kind,
    course_tag,
    differences,
    document_to_resources,
    full_url,
    is_course_resource,
    resources_to_document,
)
from ._ucum import convert as ucum_convert
from ._ucum import is_international_units

HEIGHT_RANGE_CM = (50.0, 250.0)
WEIGHT_RANGE_KG = (20.0, 300.0)
"""The course document's own limits (course/_document.py)."""

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NAMESPACE = uuid.UUID("6f1c1f2e-4b7a-4c1d-9a53-2d0c3c1d9e10")
"""Namespace of the deterministic urn:uuid fullUrls of exported resources."""

SEVERITY_TO_FHIR: Mapping[Severity, str] = {
    Severity.CRITICAL: "high",
    Severity.WARNING: "moderate",
    Severity.INFO: "low",
}
STATUS_TO_CAREPLAN: Mapping[CourseStatus, str] = {
    CourseStatus.NOT_STARTED: "draft",
    CourseStatus.ACTIVE: "active",
    CourseStatus.ON_HOLD: "on-hold",
    CourseStatus.DISCONTINUED: "revoked",
    CourseStatus.COMPLETED: "completed",
}

# Resources cllcds writes itself and recomputes on import (not an error to meet them).
RESPONSE_SYSTEM = CS + "response-category"
_DERIVED = frozenset({"CarePlan", "RequestGroup", "DetectedIssue", "MedicationRequest", "Task"})


# --------------------------------------------------------------------------------------------
# R4B validation
# --------------------------------------------------------------------------------------------


def r4b_validate(resource: object, where: str) -> dict[str, Any]:
    """Parse ``resource`` with the R4B model of its ``resourceType``; errors name ``where``.

    Raises
    ------
    InputError
        For a non-object, an unknown resource type, or any R4B validation error (the first
        problem, with its element path).
    """
    if not isinstance(resource, Mapping):
        raise InputError(where, resource, "give a FHIR resource (a JSON object)")
    rtype = resource.get("resourceType")
    try:
        cls = get_fhir_model_class(str(rtype))
    except ValueError:
        raise InputError(f"{where}.resourceType", rtype, "give a FHIR R4 resource type") from None
    try:
        cls.model_validate(dict(resource))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(
            f"{where}.{loc}" if loc else where,
            err.get("input") if loc else rtype,
            f"not valid FHIR R4 (R4B model {cls.__name__}): {err['msg']}",
        ) from None
    return dict(resource)


# --------------------------------------------------------------------------------------------
# Import: Bundle → course document
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BundleImport:
    """A course document read from a Bundle, with what could not be carried over."""

    course: dict[str, Any]
    warnings: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    """Resources not used by cllcds (dropped; listed only when the import allowed loss)."""
    lost: tuple[str, ...] = ()
    """Data cllcds uses but could not represent (dropped; the course is incomplete)."""

    def as_dict(self) -> dict[str, Any]:
        """``{"course", "warnings", "assumptions", "ignored", "lost"}``."""
        return {
            "course": self.course,
            "warnings": list(self.warnings),
            "assumptions": list(self.assumptions),
            "ignored": list(self.ignored),
            "lost": list(self.lost),
        }


@dataclass
class _Reader:
    problems: list[InputError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Resources cllcds does not use (another condition, another drug, another test)."""
    lost: list[str] = field(default_factory=list)
    """Data cllcds uses but could not represent: the course would be incomplete."""
    medications: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """Medication resources by reference (``Medication/id``, fullUrl)."""
    assumptions: list[str] = field(default_factory=list)
    events: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    """(date, entry index, event) — sorted by date then entry before writing."""
    heights: list[tuple[str, float]] = field(default_factory=list)
    weights: list[tuple[str, float]] = field(default_factory=list)
    labs_by_date: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    patient: dict[str, Any] | None = None
    diagnosis: str | None = None
    careplan_regimen: str | None = None
    careplan_start: str | None = None


def _codings(concept: object) -> list[tuple[str, str]]:
    if not isinstance(concept, Mapping):
        return []
    return [
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding") or []
        if isinstance(c, Mapping)
    ]


def _code_in(concept: object, system: str) -> list[str]:
    return [code for sys, code in _codings(concept) if sys == system]


def _date_of(value: object) -> str | None:
    if isinstance(value, str) and len(value) >= 10:
        return value[:10]
    return None


def _effective_date(res: Mapping[str, Any]) -> str | None:
    for key in ("effectiveDateTime", "effectiveInstant", "issued"):
        if res.get(key):
            return _date_of(res[key])
    period = res.get("effectivePeriod")
    if isinstance(period, Mapping):
        return _date_of(period.get("start"))
    return None


def _label(i: int, res: Mapping[str, Any]) -> str:
    rid = res.get("id")
    return f"entry[{i}] ({res.get('resourceType')}{'/' + str(rid) if rid else ''})"


def _patient(r: _Reader, i: int, res: Mapping[str, Any]) -> None:
    where = _label(i, res)
    if r.patient is not None:
        r.problems.append(
            InputError(where, res.get("id"), "a course bundle holds one Patient; remove the other")
        )
        return
    pid = None
    for ident in res.get("identifier") or []:
        if ident.get("system") == PATIENT_ID_SYSTEM and ident.get("value"):
            pid = str(ident["value"])
    pid = pid or res.get("id")
    if not pid:
        r.problems.append(InputError(f"{where}.id", None, "give the Patient an id"))
        return
    gender = res.get("gender")
    sex = gender if gender in {s.value for s in Sex} else "unknown"
    out: dict[str, Any] = {"id": pid, "sex": sex}
    if res.get("birthDate"):
        birth = str(res["birthDate"])
        if len(birth) == 10:
            out["birth_date"] = birth
        else:
            r.lost.append(f"{where}.birthDate: partial date {birth!r} not imported")
    r.patient = out


def _condition(r: _Reader, i: int, res: Mapping[str, Any]) -> None:
    code = res.get("code")
    snomed = set(_code_in(code, SNOMED)) & SNOMED_CLL_CODES
    icd = set(_code_in(code, ICD10CM)) & ICD10CM_CLL_CODES
    if snomed or icd:
        text = code.get("text") if isinstance(code, Mapping) else None
        r.diagnosis = str(text) if text else "B-CLL"
        return
    where = _label(i, res)
    kinds = [k for c in _code_in(code, SNOMED) if (k := autoimmune_kind(c)) is not None]
    transformation = _transformation(code)
    if kinds or transformation:
        what = "autoimmune cytopenia" if kinds else f"{transformation} transformation"
        if res.get("verificationStatus") and "confirmed" not in _code_in(
            res["verificationStatus"], CONDITION_VERIFICATION
        ):
            r.ignored.append(f"{where}: {what} not confirmed; not imported")
            return
        day = _date_of(res.get("onsetDateTime")) or _date_of(res.get("recordedDate"))
        if day is None:
            r.lost.append(f"{where}: {what} without an onset date")
            return
        if kinds:
            ev = {"date": day, "type": "autoimmune_cytopenia", "kind": kinds[0].value}
        else:
            ev = {"date": day, "type": "progression", "kind": str(transformation)}
        r.events.append((day, i, ev))
        return
    r.ignored.append(
        f"{_label(i, res)}: Condition not imported (not CLL by SNOMED CT "
        f"{'/'.join(sorted(SNOMED_CLL_CODES))} or ICD-10-CM C91.1x)"
    )


def _transformation(code: object) -> str | None:
    """``richter`` or ``prolymphocytic`` when an EHR Condition names a transformation of CLL
    (by its text or a coding's display: no SNOMED CT code for either was confirmed here)."""
    if not isinstance(code, Mapping):
        return None
    words = " ".join(
        [str(code.get("text", ""))]
        + [str(c.get("display", "")) for c in code.get("coding") or [] if isinstance(c, Mapping)]
    ).lower()
    if "richter" in words:
        return "richter"
    if "prolymphocytic" in words and "transform" in words:
        return "prolymphocytic"
    return None


def _quantity(r: _Reader, where: str, res: Mapping[str, Any]) -> tuple[float, str] | None:
    q = res.get("valueQuantity")
    if not isinstance(q, Mapping) or q.get("value") is None:
        r.problems.append(InputError(f"{where}.valueQuantity", q, "give a valueQuantity"))
        return None
    system = q.get("system")
    unit = q.get("code") if system == UCUM else None
    if unit is None:
        r.problems.append(
            InputError(
                f"{where}.valueQuantity.code",
                q.get("code") or q.get("unit"),
                f"give the unit as a UCUM code (system {UCUM})",
            )
        )
        return None
    return float(q["value"]), str(unit)


def _not_detected(res: Mapping[str, Any]) -> bool | None:
    """True/False for a qualitative result, None when the value is not qualitative."""
    concept = res.get("valueCodeableConcept")
    words: list[str] = []
    if isinstance(concept, Mapping):
        if SNOMED_NOT_DETECTED in _code_in(concept, SNOMED):
            return True
        words.append(str(concept.get("text", "")))
        words += [
            str(c.get("display", "")) for c in concept.get("coding") or [] if isinstance(c, Mapping)
        ]
    if isinstance(res.get("valueString"), str):
        words.append(res["valueString"])
    text = " ".join(words).strip().lower()
    if not text:
        return None
    return any(w in text for w in ("not detected", "negative", "undetectable"))


def _disease_status(
    r: _Reader, where: str, i: int, res: Mapping[str, Any], date: str | None
) -> None:
    """An EHR's cancer disease status (mCODE CancerDiseaseStatus, LOINC 97509-4): "worsened" is
    a clinician-judged progression; any other status is recomputed by cllcds, not imported."""
    worsened = STATUS_TREND["worsened"][0] in _code_in(res.get("valueCodeableConcept"), SNOMED)
    if not worsened:
        r.ignored.append(
            f"{where}: a cancer disease status other than worsened: cllcds assesses the "
            "response itself"
        )
        return
    if date is None:
        r.lost.append(f"{where}: a disease progression without a date")
        return
    r.events.append((date, i, {"date": date, "type": "progression", "kind": "progressive disease"}))


_RESPONSE_TREND = {
    ResponseCategory.CR: "improved",
    ResponseCategory.CRI: "improved",
    ResponseCategory.NPR: "improved",
    ResponseCategory.PR: "improved",
    ResponseCategory.SD: "stable",
    ResponseCategory.PD: "worsened",
    ResponseCategory.NOT_EVALUABLE: "undetermined",
}
"""iwCLL / NCI-WG response category → mCODE Condition Status Trend (the category itself travels
in a cllcds coding and the text: the remission codes differ between mCODE releases)."""


def response_status(course: Course, state: CourseState) -> dict[str, Any] | None:
    """The engine's response assessment as an mCODE CancerDiseaseStatus Observation (``None``
    without an assessment date). Preliminary while the response is provisional."""
    resp = state.response
    if resp.date is None:
        return None
    pid = course.patient.id
    trend = STATUS_TREND[_RESPONSE_TREND[resp.category]]
    text = f"{resp.category.value} ({resp.criteria})"
    if resp.provisional:
        text += f", provisional: {resp.provisional_reason}" if resp.provisional_reason else ""
    return {
        "resourceType": "Observation",
        "id": "response-status",
        "meta": {"profile": [PROFILE_MCODE_DISEASE_STATUS]},
        "extension": [{"url": EXT_DERIVED, "valueString": "course state response"}],
        "status": "preliminary" if resp.provisional else "final",
        "code": {
            "coding": [
                {
                    "system": LOINC,
                    "code": LOINC_DISEASE_STATUS,
                    "display": LOINC_DISEASE_STATUS_DISPLAY,
                }
            ]
        },
        "subject": {"reference": full_url(pid, "Patient")},
        "focus": [{"reference": full_url(pid, "Condition", "cll")}],
        "effectiveDateTime": resp.date.isoformat(),
        "valueCodeableConcept": {
            "coding": [
                {"system": SNOMED, "code": trend[0], "display": trend[1]},
                {
                    "system": RESPONSE_SYSTEM,
                    "code": resp.category.value,
                    "display": _RESPONSE_DISPLAY[resp.category],
                },
            ],
            "text": text,
        },
    }


_RESPONSE_DISPLAY = {
    ResponseCategory.CR: "Complete response",
    ResponseCategory.CRI: "Complete response with incomplete marrow recovery",
    ResponseCategory.NPR: "Nodular partial response",
    ResponseCategory.PR: "Partial response",
    ResponseCategory.SD: "Stable disease",
    ResponseCategory.PD: "Progressive disease",
    ResponseCategory.NOT_EVALUABLE: "Not evaluable",
}


def _observation(r: _Reader, i: int, res: Mapping[str, Any]) -> None:
    where = _label(i, res)
    status = res.get("status")
    if status in ("entered-in-error", "cancelled"):
        r.ignored.append(f"{where}: status {status!r} (never valid): not imported")
        return
    if status == "registered":
        r.ignored.append(f"{where}: status 'registered' (no result yet): not imported")
        return
    if status == "unknown":
        r.lost.append(f"{where}: status 'unknown': whether this is a valid result is not known")
        return
    if status == "preliminary":
        r.warnings.append(f"{where}: preliminary result used (it may still change)")
    date = _effective_date(res)
    loincs = _code_in(res.get("code"), LOINC)
    if LOINC_DISEASE_STATUS in loincs:
        _disease_status(r, where, i, res, date)
        return
    if not loincs:
        r.ignored.append(f"{where}: Observation without a LOINC code not imported")
        return
    if date is None:
        r.problems.append(InputError(f"{where}.effectiveDateTime", None, "give the sample date"))
        return
    for code in loincs:
        try:
            lab = LabCode.parse(code)
        except InputError:
            continue
        if (res.get("valueQuantity") or {}).get("comparator"):
            comp = res["valueQuantity"]["comparator"]
            r.lost.append(
                f"{where}: {lab.value} {comp}{res['valueQuantity'].get('value')} is a bound, not "
                "a value: the grade and holds need the value"
            )
            return
        q = _quantity(r, where, res)
        if q is None:
            return
        value, unit = q
        if unit not in {u.value for u in LabUnit}:
            target = lab.canonical_unit.value
            converted = ucum_convert(value, unit, target)
            if converted is None:
                r.problems.append(
                    InputError(
                        f"{where}.valueQuantity.code",
                        unit,
                        f"give a valid UCUM unit of {lab.display} convertible to {target}",
                    )
                )
                return
            r.warnings.append(f"{where}: {value:g} {unit} read as {converted:g} {target}")
            value, unit = converted, target
        try:
            result = LabResult.of(lab, value, unit, field=f"{where}.valueQuantity")
        except InputError as exc:
            r.problems.append(exc)
            return
        ev = {
            "date": date,
            "type": "lab",
            "code": lab.value,
            "value": result.value,
            "unit": lab.canonical_unit.value,
        }
        r.labs_by_date.setdefault(date, []).append((i, ev))
        return
    if {LOINC_CMV_PCR_QUANT, LOINC_CMV_PCR_COPIES, LOINC_CMV_PCR_QUAL} & set(loincs):
        _cmv(r, i, res, date)
        return
    if LOINC_BODY_HEIGHT in loincs or LOINC_BODY_WEIGHT in loincs:
        height = LOINC_BODY_HEIGHT in loincs
        q = _quantity(r, where, res)
        if q is None:
            return
        factors = HEIGHT_UNITS_CM if height else WEIGHT_UNITS_KG
        lo, hi = HEIGHT_RANGE_CM if height else WEIGHT_RANGE_KG
        if q[1] not in factors:
            r.problems.append(
                InputError(f"{where}.valueQuantity.code", q[1], f"use one of: {', '.join(factors)}")
            )
            return
        value = q[0] * factors[q[1]]
        if not lo <= value <= hi:
            r.problems.append(
                InputError(
                    f"{where}.valueQuantity",
                    f"{q[0]:g} {q[1]}",
                    f"implausible {'height' if height else 'weight'}: give {lo:g}-{hi:g} "
                    f"{'cm' if height else 'kg'} (check the unit)",
                )
            )
            return
        (r.heights if height else r.weights).append((date, round(value, 2)))
        return
    r.ignored.append(f"{where}: Observation LOINC {', '.join(loincs)} not used by cllcds")


def _cmv(r: _Reader, i: int, res: Mapping[str, Any], date: str) -> None:
    where = _label(i, res)
    nd = _not_detected(res)
    if nd is True or (
        isinstance(res.get("valueQuantity"), Mapping) and res["valueQuantity"].get("value") == 0
    ):
        r.events.append((date, i, {"date": date, "type": "cmv_pcr", "result": "not detected"}))
        return
    if nd is False:
        r.lost.append(
            f"{where}: qualitative CMV DNA detected without a viral load; not imported "
            "(a course records CMV PCR as a quantity): add the quantitative result"
        )
        return
    q = _quantity(r, where, res)
    if q is None:
        return
    value, unit = q
    target = "[IU]/mL" if is_international_units(unit) else "{copies}/mL"
    converted = ucum_convert(value, unit, target)
    if converted is None:
        r.problems.append(
            InputError(
                f"{where}.valueQuantity.code",
                unit,
                "give a UCUM unit of CMV viral load: [IU]/mL (LOINC 72493-0) or {copies}/mL "
                "(30247-1)",
            )
        )
        return
    if converted != value or unit != target:
        r.warnings.append(f"{where}: {value:g} {unit} read as {converted:g} {target}")
    threshold = (
        DEFAULT_SETTINGS.cmv_pcr_threshold_iu_per_ml
        if target == "[IU]/mL"
        else DEFAULT_SETTINGS.cmv_pcr_threshold_copies_per_ml
    )
    comparator = res["valueQuantity"].get("comparator")
    if comparator in ("<", "<="):
        if converted > threshold:
            r.lost.append(
                f"{where}: CMV DNA {comparator}{converted:g} {target}: below quantification, "
                f"but the bound is above the treatment threshold {threshold:g}"
            )
            return
        r.assumptions.append(
            f"{where}: CMV DNA {comparator}{converted:g} {target} is below the limit of "
            "quantification: read as no quantifiable viral load"
        )
        r.events.append((date, i, {"date": date, "type": "cmv_pcr", "result": "not detected"}))
        return
    if comparator in (">", ">="):
        r.assumptions.append(
            f"{where}: CMV DNA {comparator}{converted:g} {target}: read as {converted:g} "
            "(at least that level)"
        )
    r.events.append(
        (date, i, {"date": date, "type": "cmv_pcr", "value": converted, "unit": target})
    )


def _route(concept: object) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    text = str(concept.get("text", "")).strip().lower()
    if text in ROUTE_WORDS:
        return ROUTE_WORDS[text]
    for code in _code_in(concept, SNOMED):
        if code in SNOMED_ROUTES:
            return SNOMED_ROUTES[code]
    for c in concept.get("coding") or []:
        disp = str(c.get("display", "")).strip().lower() if isinstance(c, Mapping) else ""
        if disp in ROUTE_WORDS:
            return ROUTE_WORDS[disp]
    return None


def medication_drug(
    res: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[str | None, str | None]:
    """(drug, kind) of a MedicationAdministration or MedicationRequest.

    ``medicationReference`` is resolved to a contained Medication (``#id``) or, through
    ``medications`` (by ``Medication/id`` and fullUrl), to one elsewhere in the Bundle (an
    ``_include`` of a search); its ``code`` is then read as ``medicationCodeableConcept``.

    ``kind`` is ``antineoplastic`` or ``antiviral``; both ``None`` for an unknown medication.
    """
    concept = res.get("medicationCodeableConcept")
    ref = res.get("medicationReference")
    if concept is None and isinstance(ref, Mapping):
        target = None
        key = str(ref.get("reference", ""))
        if key.startswith("#"):
            target = next((c for c in res.get("contained") or [] if c.get("id") == key[1:]), None)
        elif medications is not None:
            parts = key.rstrip("/").split("/")
            target = medications.get(key) or medications.get("/".join(parts[-2:]))
        if target is not None and target.get("resourceType") == "Medication":
            concept = target.get("code")
        elif ref.get("display"):
            concept = {"text": ref["display"]}
    for code in _code_in(concept, RXNORM):
        if code in RXNORM_DRUGS:
            return RXNORM_DRUGS[code], "antineoplastic"
        if code in RXNORM_ANTIVIRALS:
            return RXNORM_ANTIVIRALS[code], "antiviral"
    text = str(concept.get("text", "")).lower() if isinstance(concept, Mapping) else ""
    for name in ("alemtuzumab", "campath", "mabcampath"):
        if name in text:
            return "alemtuzumab", "antineoplastic"
    return None, None


def _dose_mg(r: _Reader, where: str, dose: object) -> float | None:
    if not isinstance(dose, Mapping) or dose.get("value") is None:
        r.problems.append(InputError(where, dose, "give the dose as a Quantity in mg"))
        return None
    code = dose.get("code") if dose.get("system") == UCUM else None
    factor = {"mg": 1.0, "g": 1000.0, "ug": 0.001}.get(str(code))
    if factor is None:
        r.problems.append(
            InputError(
                f"{where}.code", dose.get("code") or dose.get("unit"), "give the dose in UCUM mg"
            )
        )
        return None
    return float(dose["value"]) * factor


def _administration(r: _Reader, i: int, res: Mapping[str, Any]) -> None:
    where = _label(i, res)
    drug, kind = medication_drug(res, r.medications)
    if drug is None:
        r.ignored.append(f"{where}: medication not used by cllcds (no known RxNorm code)")
        return
    status = res.get("status")
    date = _effective_date(res)
    if date is None:
        r.problems.append(InputError(f"{where}.effectiveDateTime", None, "give the date given"))
        return
    if status == "entered-in-error":
        r.ignored.append(f"{where}: entered in error; not imported")
        return
    if status == "unknown":
        r.lost.append(
            f"{where}: administration status unknown; whether the dose was given is not known"
        )
        return
    if kind == "antiviral":
        r.events.append((date, i, {"date": date, "type": "antiviral", "drug": drug, "start": date}))
        return
    if status == "not-done":
        reasons = [str(x.get("text", "")) for x in res.get("statusReason") or [] if x.get("text")]
        ev = {"date": date, "type": "dose_held", "reason": "; ".join(reasons) or "not given"}
        r.events.append((date, i, ev))
        return
    if status in ("in-progress", "on-hold", "stopped"):
        r.warnings.append(f"{where}: status {status!r} imported as a dose given in full")
    dosage = res.get("dosage") or {}
    mg = _dose_mg(r, f"{where}.dosage.dose", dosage.get("dose"))
    route = _route(dosage.get("route"))
    if route is None:
        r.problems.append(
            InputError(
                f"{where}.dosage.route",
                dosage.get("route"),
                "give the route (SNOMED CT 47625008 IV, 34206005 SC, 26643006 oral, or text)",
            )
        )
        return
    if mg is None:
        return
    dose_ev: dict[str, Any] = {
        "date": date,
        "type": "dose",
        "drug": drug,
        "dose_mg": mg,
        "route": route,
    }
    r.events.append((date, i, dose_ev))


def _adverse_event(r: _Reader, i: int, res: Mapping[str, Any]) -> None:
    """An EHR's AdverseEvent: an infusion reaction with a CTCAE grade is read; any other is
    data cllcds cannot grade, so it is lost (toxicity drives holds: no advice without it)."""
    where = _label(i, res)
    if res.get("actuality") == "potential":
        r.ignored.append(f"{where}: a potential adverse event (not one that happened)")
        return
    day = _date_of(res.get("date")) or _date_of(res.get("detected"))
    grade = next(
        (
            e.get("valueInteger")
            for e in res.get("extension") or []
            if e.get("url") == EXT_CTCAE_GRADE
        ),
        None,
    )
    event = res.get("event") or {}
    text = " ".join(
        [str(event.get("text", ""))]
        + [str(c.get("display", "")) for c in event.get("coding") or []]
    ).lower()
    infusion = MEDDRA_INFUSION_REACTION in _code_in(event, MEDDRA) or "infusion" in text
    graded = isinstance(grade, int) and not isinstance(grade, bool) and 1 <= grade <= 5
    displays = [str(c.get("display", "")) for c in event.get("coding") or [] if c.get("display")]
    term = str(event.get("text") or (displays[0] if displays else "")).strip()
    if graded and day is not None and (infusion or term):
        ev: dict[str, Any] = {"date": day, "type": "infusion_reaction", "grade": grade}
        if not infusion:
            ev |= {"type": "adverse_event", "term": term}
            serious = _code_in(res.get("seriousness"), AE_SERIOUSNESS)
            if serious:
                ev["serious"] = serious[0] == "serious"
        resolved = next(
            (
                e.get("valueDate")
                for e in res.get("extension") or []
                if e.get("url") == EXT_RESOLVED
            ),
            None,
        )
        if resolved is not None:
            ev["resolved"] = str(resolved)[:10]
        r.events.append((day, i, ev))
        return
    r.lost.append(
        f"{where}: adverse event {event.get('text') or 'without a name'} "
        "has no CTCAE grade (or date) cllcds can read"
    )


def _medication_statement(r: _Reader, i: int, res: Mapping[str, Any]) -> None:
    where = _label(i, res)
    drug, kind = medication_drug(res, r.medications)
    if kind != "antiviral" or drug is None:
        r.ignored.append(f"{where}: medication statement not used by cllcds")
        return
    if res.get("status") in ("entered-in-error", "not-taken", "intended"):
        r.ignored.append(f"{where}: status {res.get('status')!r}: not an antiviral taken")
        return
    period = res.get("effectivePeriod") or {}
    start = _date_of(period.get("start")) or _date_of(res.get("effectiveDateTime"))
    day = start or _date_of(res.get("dateAsserted"))
    if day is None:
        r.lost.append(f"{where}: antiviral {drug} without a date")
        return
    ev: dict[str, Any] = {"date": day, "type": "antiviral", "drug": drug}
    if start:
        ev["start"] = start
    stop = _date_of(period.get("end"))
    if stop:
        ev["stop"] = stop
    r.events.append((day, i, ev))


def _careplan(r: _Reader, res: Mapping[str, Any]) -> None:
    for canon in res.get("instantiatesCanonical") or []:
        for base in (PLAN_DEFINITION_CANONICAL, PLAN_DEFINITION_BASE):
            if str(canon).startswith(base):
                r.careplan_regimen = str(canon)[len(base) :].split("|")[0]
            period = res.get("period") or {}
            r.careplan_start = _date_of(period.get("start"))


def _entries(bundle: object) -> list[tuple[int, dict[str, Any]]]:
    """The validated (index, resource) pairs of a Bundle (or a single resource)."""
    if not isinstance(bundle, Mapping):
        raise InputError("bundle", type(bundle).__name__, "give a FHIR Bundle (JSON object)")
    if bundle.get("resourceType") != "Bundle":
        raise InputError("bundle.resourceType", bundle.get("resourceType"), 'use "Bundle"')
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        raise InputError("bundle.entry", raw, "give a list of entries")
    problems: list[InputError] = []
    out: list[tuple[int, dict[str, Any]]] = []
    for i, entry in enumerate(raw):
        res = entry.get("resource") if isinstance(entry, Mapping) else None
        if res is None:
            problems.append(InputError(f"entry[{i}].resource", None, "give the resource"))
            continue
        try:
            out.append(
                (
                    i,
                    r4b_validate(
                        res, _label(i, res) if isinstance(res, Mapping) else f"entry[{i}]"
                    ),
                )
            )
        except InputError as exc:
            problems.append(exc)
    if problems:
        raise DocumentError("bundle", problems)
    return out


def _latest_on_or_before(items: Sequence[tuple[str, float]], day: str) -> float | None:
    if not items:
        return None
    before = sorted(x for x in items if x[0] <= day)
    return before[-1][1] if before else sorted(items)[0][1]


def bundle_to_course(
    bundle: object,
    *,
    regimen: str | None = None,
    start: dt.date | str | None = None,
    as_of: dt.date | str | None = None,
    default_regimen: str | None = None,
    allow_loss: bool = False,
) -> BundleImport:
    """Read a FHIR R4 Bundle into a ``cllcds.course/1`` document.

    Resources cllcds exported (they carry its ``course-element`` extension) are read back
    exactly (:mod:`cllcds.fhir._mapping`). Any other resource is read as an EHR sends it:
    Patient → ``patient``; a CLL Condition (SNOMED CT or ICD-10-CM C91.1x) → ``diagnosis``;
    Observations by LOINC → ``lab`` events in canonical units (labs dated before the start on
    the latest such day form the ``baseline``), CMV DNA → ``cmv_pcr``, body height/weight →
    ``patient.height_cm``/``weight_kg`` (latest on or before the start); MedicationAdministration
    (``medicationCodeableConcept`` or a resolved ``medicationReference``) of alemtuzumab
    (RxNorm 117055) and other regimen drugs → ``dose`` (``not-done`` → ``dose_held``),
    ganciclovir/valganciclovir → ``antiviral``.

    What is not used (another condition, drug or test) is listed in ``ignored``; what cllcds
    uses but cannot represent in ``lost``. Either makes the import raise, unless
    ``allow_loss`` (then both lists name every dropped item).

    The regimen and start come from the arguments, else from a cllcds CarePlan in the bundle,
    else the start is the first alemtuzumab dose (an assumption, reported as such); without a
    regimen anywhere, ``default_regimen`` is used and reported as an assumption.

    Raises
    ------
    DocumentError
        One problem per invalid entry, each naming ``entry[i] (Type/id)`` and the element; or
        one per dropped item when ``allow_loss`` is false.
    """
    r = _Reader()
    entries = _entries(bundle)
    urls = _entry_urls(bundle, entries)
    ours = _latest_course(r, [(i, urls[i], res) for i, res in entries if is_course_resource(res)])
    exported = resources_to_document(ours) if ours else None
    for i, res in entries:
        if res["resourceType"] == "Medication":
            r.medications[urls[i]] = res
            if res.get("id"):
                r.medications[f"Medication/{res['id']}"] = res
    for i, res in entries:
        rtype = res["resourceType"]
        if is_course_resource(res):
            continue
        if rtype == "Patient":
            _patient(r, i, res)
        elif rtype == "Condition":
            _condition(r, i, res)
        elif rtype == "Observation" and any(
            e.get("url") == EXT_DERIVED for e in res.get("extension") or []
        ):
            r.warnings.append(f"{_label(i, res)}: derived by cllcds; recomputed, not imported")
        elif rtype == "Observation":
            _observation(r, i, res)
        elif rtype == "MedicationAdministration":
            _administration(r, i, res)
        elif rtype == "CarePlan":
            _careplan(r, res)
        elif rtype == "AdverseEvent":
            _adverse_event(r, i, res)
        elif rtype == "MedicationStatement":
            _medication_statement(r, i, res)
        elif rtype == "Medication":
            continue
        elif rtype in _DERIVED:
            r.warnings.append(f"{_label(i, res)}: derived by cllcds; recomputed, not imported")
        else:
            r.ignored.append(f"{_label(i, res)}: {rtype} is not used by cllcds")
    if exported is not None:
        doc = _merge_exported(r, exported, regimen=regimen, start=start, as_of=as_of)
        entry_of = [-1] * len(doc.get("events") or [])
    else:
        doc, entry_of = _ehr_document(
            r, regimen=regimen, start=start, as_of=as_of, default_regimen=default_regimen
        )
    _check_course(doc, entry_of, dict(entries))
    dropped = [*r.lost, *r.ignored]
    if dropped and not allow_loss:
        raise _loss_error(dropped, "FHIR import", "--allow-loss")
    return BundleImport(
        doc, tuple(r.warnings), tuple(r.assumptions), tuple(r.ignored), tuple(r.lost)
    )


def _latest_course(
    r: _Reader, ours: Sequence[tuple[int, str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """The resources of one course: with resources of several stored courses (tagged by the
    FHIR read endpoint), the most recent course (its CarePlan's start, then its position);
    the others' resources are listed as not read."""
    starts: dict[str, tuple[str, int]] = {}
    for i, _, res in ours:
        tag = course_tag(res)
        if tag is not None and res.get("resourceType") == "CarePlan":
            starts[tag] = (str((res.get("period") or {}).get("start", "")), i)
    if len(starts) <= 1:
        return [(url, res) for _, url, res in ours]
    latest = max(starts, key=lambda t: starts[t])
    out: list[tuple[str, dict[str, Any]]] = []
    for i, url, res in ours:
        tag = course_tag(res)
        if tag is None or tag == latest:
            out.append((url, res))
        else:
            r.warnings.append(
                f"{_label(i, res)}: of course {tag}, not the most recent ({latest}): not read"
            )
    return out


def _entry_urls(bundle: object, entries: Sequence[tuple[int, dict[str, Any]]]) -> dict[int, str]:
    raw = bundle.get("entry") if isinstance(bundle, Mapping) else None
    out: dict[int, str] = {}
    for i, res in entries:
        entry = raw[i] if isinstance(raw, list) else {}
        out[i] = str(entry.get("fullUrl") or f"{res['resourceType']}/{res.get('id')}")
    return out


def _merge_exported(
    r: _Reader,
    doc: dict[str, Any],
    *,
    regimen: str | None,
    start: dt.date | str | None,
    as_of: dt.date | str | None,
) -> dict[str, Any]:
    """A course cllcds exported, with what the EHR added to the bundle since (events after
    the exported ones, in date order)."""
    if regimen is not None:
        doc["regimen"] = regimen
    if start is not None:
        doc["start_date"] = start.isoformat() if isinstance(start, dt.date) else start
    if as_of is not None:
        doc["as_of"] = as_of.isoformat() if isinstance(as_of, dt.date) else as_of
    if r.patient is not None:
        r.warnings.append("a second Patient in the bundle was not used (the course has one)")
    extra = sorted(r.events, key=lambda x: (x[0], x[1]))
    extra += sorted(
        ((d, i, ev) for d, items in r.labs_by_date.items() for i, ev in items),
        key=lambda x: (x[0], x[1]),
    )
    if extra:
        doc.setdefault("events", [])
        doc["events"] += [ev for _, _, ev in sorted(extra, key=lambda x: (x[0], x[1]))]
        r.warnings.append(f"{len(extra)} event(s) from EHR resources added to the course")
    return doc


def _ehr_document(
    r: _Reader,
    *,
    regimen: str | None,
    start: dt.date | str | None,
    as_of: dt.date | str | None,
    default_regimen: str | None,
) -> tuple[dict[str, Any], list[int]]:
    if r.patient is None:
        r.problems.append(InputError("bundle", "no Patient", "add the Patient resource"))
    regimen_id = regimen or r.careplan_regimen
    if not regimen_id and default_regimen:
        regimen_id = default_regimen
        r.assumptions.append(f"regimen {default_regimen} assumed (no cllcds CarePlan found)")
    if not regimen_id:
        r.problems.append(InputError("regimen", None, "name the regimen (cllcds regimens list)"))
    start_day = start.isoformat() if isinstance(start, dt.date) else start
    start_day = start_day or r.careplan_start
    if start_day is None:
        first = sorted(
            d for d, _, ev in r.events if ev["type"] == "dose" and ev["drug"] == "alemtuzumab"
        )
        if first:
            start_day = first[0]
            r.assumptions.append(
                f"start date {start_day} assumed: the first alemtuzumab administration"
            )
        else:
            r.problems.append(
                InputError("start", None, "give the start date (no alemtuzumab dose to infer it)")
            )
    if r.problems:
        raise DocumentError("bundle", r.problems)
    assert r.patient is not None  # for mypy: problems raised above
    assert start_day is not None
    patient = dict(r.patient)
    if r.diagnosis:
        patient["diagnosis"] = r.diagnosis
    else:
        r.warnings.append("no CLL Condition in the bundle: diagnosis assumed B-CLL")
    height = _latest_on_or_before(r.heights, start_day)
    weight = _latest_on_or_before(r.weights, start_day)
    if height is not None:
        patient["height_cm"] = height
    if weight is not None:
        patient["weight_kg"] = weight
    doc: dict[str, Any] = {"format": COURSE_FORMAT}
    if as_of is not None:
        doc["as_of"] = as_of.isoformat() if isinstance(as_of, dt.date) else as_of
    doc |= {"patient": patient, "regimen": regimen_id, "start_date": start_day}
    before = [d for d in r.labs_by_date if d < start_day]
    events = list(r.events)
    if before:
        base_day = max(before)
        labs, seen = [], set()
        for _, ev in r.labs_by_date.pop(base_day):
            if ev["code"] in seen:
                r.warnings.append(f"baseline {base_day}: second {ev['code']} kept as an event")
                events.append((base_day, -1, ev))
                continue
            seen.add(ev["code"])
            labs.append({k: ev[k] for k in ("code", "value", "unit")})
        doc["baseline"] = {"date": base_day, "labs": labs}
    for day, items in r.labs_by_date.items():
        events += [(day, i, ev) for i, ev in items]
    events.sort(key=lambda x: (x[0], x[1]))
    doc["events"] = [ev for _, _, ev in events]
    return doc, [i for _, i, _ in events]


def _check_course(
    doc: dict[str, Any], entry_of: list[int], resources: Mapping[int, Mapping[str, Any]]
) -> None:
    """Validate the produced document, naming bundle entries in the errors."""
    try:
        services.load_course(doc)
    except DocumentError as exc:
        problems = []
        for p in exc.problems:
            m = re.match(r"events\[(\d+)\](.*)", p.field)
            if m and entry_of[int(m.group(1))] >= 0:
                i = entry_of[int(m.group(1))]
                problems.append(
                    InputError(f"{_label(i, resources[i])}{m.group(2)}", p.value, p.fix)
                )
            else:
                problems.append(p)
        raise DocumentError("bundle", problems) from None


# --------------------------------------------------------------------------------------------
# Export: course → Bundle
# --------------------------------------------------------------------------------------------


def _fhir_id(candidate: str | None, fallback: str) -> str:
    if candidate and _FHIR_ID.match(candidate):
        return candidate
    return fallback


def _full_url(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '|'.join(str(p) for p in parts))}"


def _ucum(value: float, code: str, unit: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


def _medication_concept(drug: str) -> dict[str, Any]:
    rx = RXNORM_INGREDIENT.get(drug.lower())
    concept: dict[str, Any] = {"text": drug}
    if rx:
        concept["coding"] = [{"system": RXNORM, "code": rx, "display": drug}]
    return concept


def _route_concept(route: str) -> dict[str, Any]:
    code, display, text = ROUTE_CODING[route]
    return {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": text}


def _lab_observation(rid: str, subject: str, day: dt.date, result: LabResult) -> dict[str, Any]:
    lab = result.code
    unit = lab.canonical_unit
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": lab.loinc}], "text": lab.display},
        "subject": {"reference": subject},
        "effectiveDateTime": day.isoformat(),
        "valueQuantity": _ucum(result.value, unit.value, unit.display),
    }


def _event_rid(ev_id: str | None, rtype: str, fallback: str) -> str:
    if ev_id and ev_id.startswith(rtype + "/"):
        return _fhir_id(ev_id[len(rtype) + 1 :], fallback)
    return _fhir_id(ev_id, fallback)


@dataclass(frozen=True, slots=True)
class BundleExport:
    """A course as a FHIR R4 Bundle, and what the Bundle does not carry (empty unless the
    export was asked to ``allow_loss``)."""

    bundle: dict[str, Any]
    warnings: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()


BUNDLE_TYPES = ("collection", "transaction")


def _loss_error(losses: Sequence[str], what: str, flag: str) -> DocumentError:
    problems = []
    for loss in losses:
        where, _, message = loss.partition(": ")
        problems.append(
            InputError(
                where,
                message,
                f"the {what} would drop it: correct the input, or pass {flag} to accept "
                "dropping it (every dropped item is then listed)",
            )
        )
    return DocumentError(what, problems)


def course_to_bundle(
    course_doc: object,
    *,
    as_of: dt.date | None = None,
    bundle_type: str = "collection",
    allow_loss: bool = False,
) -> BundleExport:
    """A Bundle of a course: every part of the document (see :mod:`cllcds.fhir._mapping`),
    and what the engine decides: a CarePlan whose activity is a RequestGroup of the next
    administration (a MedicationRequest proposal) and the due actions (Tasks), and a
    DetectedIssue per alert (critical → high, warning → moderate, info → low).

    The export reads its own Bundle back and compares it with the document; whatever did not
    survive is a loss. With losses the export raises, unless ``allow_loss`` (then
    :attr:`BundleExport.lost` lists each). ``bundle_type`` ``transaction`` gives POST entries
    with ``urn:uuid`` fullUrls, ready for a FHIR server.

    Raises
    ------
    DocumentError
        For an invalid course document, or for what the Bundle cannot carry.
    """
    if bundle_type not in BUNDLE_TYPES:
        raise InputError("bundle_type", bundle_type, f"use one of: {', '.join(BUNDLE_TYPES)}")
    course = services.load_course(course_doc, as_of=as_of)
    state = services.course_state(course)
    assert isinstance(course_doc, Mapping)  # load_course accepted it
    written = document_to_resources(course_doc)
    back = resources_to_document(written.entries)
    losses = list(written.losses)
    said = {loss.partition(": ")[0] for loss in losses}
    losses += [
        d for d in differences(dict(course_doc), back or {}) if d.partition(": ")[0] not in said
    ]
    if losses and not allow_loss:
        raise _loss_error(losses, "FHIR export", "--allow-loss")
    careplan = written.careplan
    careplan["status"] = STATUS_TO_CAREPLAN[state.status]
    careplan["title"] = services.regimen_detail(course.regimen_id)["name"]
    entries: list[dict[str, Any]] = [
        {"fullUrl": url, "resource": res} for url, res in written.entries
    ]
    entries += _plan_entries(course, state, careplan)
    if bundle_type == "transaction":
        for e in entries:
            e["request"] = {"method": "POST", "url": e["resource"]["resourceType"]}
    bundle = {
        "resourceType": "Bundle",
        "type": bundle_type,
        "timestamp": f"{state.as_of.isoformat()}T00:00:00Z",
        "entry": entries,
    }
    r4b_validate(bundle, "Bundle")  # every resource with its R4B model, once
    return BundleExport(bundle, tuple(f"lost: {x}" for x in losses), tuple(losses))


def _plan_entries(
    course: Course, state: CourseState, careplan: dict[str, Any]
) -> list[dict[str, Any]]:
    pid = course.patient.id
    subject = full_url(pid, "Patient")
    out: list[dict[str, Any]] = []
    careplan_url = full_url(pid, "CarePlan")
    rg_url = full_url(pid, "RequestGroup")
    actions: list[dict[str, Any]] = []
    nd = state.next_dose
    if nd is not None:
        mr_url = full_url(pid, "MedicationRequest", "next")
        text = f"{nd.drug.capitalize()} {nd.dose_mg:g} mg {nd.route.upper()} ({nd.phase})"
        mr = {
            "resourceType": "MedicationRequest",
            "id": "next-dose",
            "status": "draft",
            "intent": "proposal",
            "medicationCodeableConcept": _medication_concept(nd.drug),
            "subject": {"reference": subject},
            "basedOn": [{"reference": careplan_url}],
            "dosageInstruction": [
                {
                    "text": text,
                    "timing": {"event": [nd.date.isoformat()]},
                    "route": _route_concept(nd.route),
                    "doseAndRate": [{"doseQuantity": _ucum(nd.dose_mg, "mg")}],
                }
            ],
            "note": [{"text": f"{nd.rationale} Source: {nd.citation.short()}"}],
        }
        actions.append(
            {
                "title": text,
                "description": nd.rationale,
                "timingDateTime": nd.date.isoformat(),
                "resource": {"reference": mr_url},
            }
        )
        out.append({"fullUrl": mr_url, "resource": mr})
    for k, a in enumerate(state.next_actions):
        if a.code == "dose" and nd is not None:
            continue
        task_url = full_url(pid, "Task", k)
        out.append(
            {
                "fullUrl": task_url,
                "resource": {
                    "resourceType": "Task",
                    "id": f"action-{k}",
                    "status": "requested",
                    "intent": "plan",
                    "code": {
                        "coding": [
                            {
                                "system": ACTION_CODE_SYSTEM,
                                "code": a.code,
                                "display": a.code.replace("_", " "),
                            }
                        ],
                        "text": a.action,
                    },
                    "description": a.action,
                    "for": {"reference": subject},
                    "basedOn": [{"reference": careplan_url}],
                    "restriction": {"period": {"end": a.due.isoformat()}},
                    "note": [{"text": f"Source: {a.citation.short()}"}],
                },
            }
        )
        actions.append(
            {
                "title": a.action,
                "code": [
                    {
                        "coding": [
                            {
                                "system": ACTION_CODE_SYSTEM,
                                "code": a.code,
                                "display": a.code.replace("_", " "),
                            }
                        ]
                    }
                ],
                "timingDateTime": a.due.isoformat(),
                "documentation": [{"type": "citation", "display": a.citation.short()}],
                "resource": {"reference": task_url},
            }
        )
    rg: dict[str, Any] = {
        "resourceType": "RequestGroup",
        "id": "plan",
        "status": "on-hold" if state.status is CourseStatus.ON_HOLD else "active",
        "intent": "plan",
        "subject": {"reference": subject},
        "basedOn": [{"reference": careplan_url}],
        "authoredOn": f"{state.as_of.isoformat()}T00:00:00Z",
    }
    if state.holds:
        rg["note"] = [
            {"text": f"On hold: {h.reason}. Resume when {h.resume_when}."} for h in state.holds
        ]
    if actions:
        rg["action"] = actions
    careplan["activity"] = [{"reference": {"reference": rg_url}}]
    out.append({"fullUrl": rg_url, "resource": rg})
    status_obs = response_status(course, state)
    if status_obs is not None:
        out.append({"fullUrl": full_url(pid, "Observation", "response"), "resource": status_obs})
    for k, alert in enumerate(state.alerts):
        out.append(
            {
                "fullUrl": full_url(pid, "DetectedIssue", k),
                "resource": {
                    "resourceType": "DetectedIssue",
                    "id": f"alert-{k}",
                    "status": "final",
                    "code": {
                        "coding": [
                            {"system": ALERT_CODE_SYSTEM, "code": alert.code, "display": alert.code}
                        ],
                        "text": alert.message,
                    },
                    "severity": SEVERITY_TO_FHIR[alert.severity],
                    "patient": {"reference": subject},
                    "identifiedDateTime": (alert.date or state.as_of).isoformat(),
                    "detail": f"{alert.message}\n\nSource: {alert.citation.short()}",
                },
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# Regimen → PlanDefinition
# --------------------------------------------------------------------------------------------


def _computable(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    out = "".join(w[:1].upper() + w[1:] for w in words)
    return out if out[:1].isalpha() else "Regimen" + out


def _artifact(c: Mapping[str, str]) -> dict[str, Any]:
    art: dict[str, Any] = {"type": "citation", "label": c["source"], "display": c["locator"]}
    text = c.get("quote") or c.get("note")
    if text:
        art["citation"] = text
    return art


def _sub_action(parent: str, ad_id: str, title: str, rule: Mapping[str, Any]) -> dict[str, Any]:
    """One administration of a cycle (or of the run-in), timed from the parent's start."""
    tiw = rule["tiw"]
    days = list(rule["days"] or [])
    first = tiw["from_day"] if tiw else (days or [1])[0]
    timing: dict[str, Any] = {"code": {"text": f"day {rule['days_text']}"}}
    if tiw:
        timing["repeat"] = {
            "frequency": 3,
            "period": 1,
            "periodUnit": "wk",
            "boundsDuration": _ucum(tiw["to_day"] - tiw["from_day"] + 1, "d"),
        }
    elif len(days) > 1 and days == list(range(days[0], days[0] + len(days))):
        timing["repeat"] = {"count": len(days), "frequency": 1, "period": 1, "periodUnit": "d"}
    return {
        "id": f"{parent}-{ad_id}",
        "title": f"{title}, day {rule['days_text']}",
        "definitionCanonical": f"#{ad_id}",
        "requiredBehavior": "could" if rule["optional"] else "must",
        "relatedAction": [
            {
                "actionId": parent,
                "relationship": "after-start",
                "offsetDuration": _ucum(first - 1, "d"),
            }
        ],
        "timingTiming": timing,
    }


def regimen_to_plandefinition(regimen_id: str) -> dict[str, Any]:
    """A regimen as an order-set PlanDefinition with contained ActivityDefinitions.

    NCCN-template pattern: a run-in action when the regimen has one, then one top-level action
    per cycle (each ``after-end`` of the one before), one sub-action per administration
    rule, timed relative to the cycle start (``relatedAction`` ``after-start`` with the day
    offset) and, for three-times-weekly spans, a ``timingTiming`` of 3 per week bounded by the
    span. Each sub-action points (``definitionCanonical``) to a contained ActivityDefinition
    whose product is the RxNorm ingredient and whose dose is the regimen's dose in its basis
    (``mg``, ``mg/m2`` or ``mg/kg`` as a UCUM quantity; the absolute dose for a relative basis is
    calculated at order time from the body measures, as the dosage text says).
    """
    reg = services.regimen_detail(regimen_id)
    contained: list[dict[str, Any]] = []
    ad_ids: dict[int, str] = {}
    rules = list(reg["run_in"]) + list(reg["components"])
    for k, rule in enumerate(rules):
        ad_id = f"ad-{k + 1}"
        ad_ids[k] = ad_id
        basis = rule["basis"]
        dose_text = f"{rule['dose']:g}"
        if rule["dose_high"]:
            dose_text += f"-{rule['dose_high']:g}"
        text = f"{rule['drug'].capitalize()} {dose_text} {basis} {rule['route'].upper()}"
        if basis != "mg":
            text += f" (absolute dose calculated from {'BSA' if basis == 'mg/m2' else 'weight'})"
        if rule["infusion"]:
            text += f", {rule['infusion']}"
        ad: dict[str, Any] = {
            "resourceType": "ActivityDefinition",
            "id": ad_id,
            "status": "active",
            "name": _computable(f"{rule['drug']} {rule['phase']} {k + 1}"),
            "title": text,
            "kind": "MedicationRequest",
            "intent": "proposal",
            "productCodeableConcept": _medication_concept(rule["drug"]),
            "dosage": [
                {
                    "text": text,
                    "route": _route_concept(rule["route"]),
                    "doseAndRate": [{"doseQuantity": _ucum(float(rule["dose"]), basis)}],
                }
            ],
            "relatedArtifact": [_artifact(rule["citation"])],
        }
        if rule["condition"] or rule["note"]:
            ad["description"] = " ".join(x for x in (rule["condition"], rule["note"]) if x)
        if basis in ("mg/m2", "mg/kg"):
            measure = "%bsa" if basis == "mg/m2" else "%weight"
            ad["dynamicValue"] = [
                {
                    "path": "dosage[0].doseAndRate[0].doseQuantity",
                    "expression": {
                        "description": (
                            f"{rule['dose']:g} {basis} × the patient's "
                            + (
                                "BSA in m² (Mosteller by default; formula and cap are plan "
                                "options), rounded by the plan's rounding policy, in mg"
                                if basis == "mg/m2"
                                else "weight in kg, in mg"
                            )
                        ),
                        "language": "text/fhirpath",
                        "expression": f"{rule['dose']:g} * {measure}",
                    },
                }
            ]
        contained.append(ad)
    n_run_in = len(reg["run_in"])
    cycle_actions: list[dict[str, Any]] = []
    if n_run_in:
        cycle_actions.append(
            {
                "id": "run-in",
                "title": f"Run-in ({reg['run_in_days']} days before cycle 1)",
                "groupingBehavior": "logical-group",
                "timingDuration": _ucum(reg["run_in_days"], "d"),
                "action": [
                    _sub_action("run-in", ad_ids[k], contained[k]["title"], rules[k])
                    for k in range(n_run_in)
                ],
            }
        )
    length = reg["cycle_length_days"]
    for cycle in range(1, reg["cycles"] + 1):
        cid = f"cycle-{cycle}"
        subs = [
            _sub_action(cid, ad_ids[k], contained[k]["title"], rule)
            for k, rule in enumerate(rules)
            if k >= n_run_in and (rule["cycles"] is None or cycle in rule["cycles"])
        ]
        action: dict[str, Any] = {
            "id": cid,
            "title": f"Cycle {cycle} ({length} days)",
            "groupingBehavior": "logical-group",
            "timingDuration": _ucum(length, "d"),
            "action": subs,
        }
        previous = cycle_actions[-1]["id"] if cycle_actions else None
        if previous is not None:
            action["relatedAction"] = [{"actionId": previous, "relationship": "after-end"}]
        cycle_actions.append(action)
    pd: dict[str, Any] = {
        "resourceType": "PlanDefinition",
        "id": _fhir_id(reg["id"], _computable(reg["id"])[:64]),
        "url": PLAN_DEFINITION_CANONICAL + reg["id"],
        "version": __version__,
        "name": _computable(reg["id"]),
        "title": reg["name"],
        "type": {"coding": [{"system": PLAN_DEFINITION_TYPE, "code": "order-set"}]},
        "status": "active" if reg["status"] == "label" else "draft",
        "description": reg["summary"],
        "relatedArtifact": [_artifact(c) for c in reg["provenance"]],
        "contained": contained,
        "action": cycle_actions + _supportive_actions(reg["id"], contained),
    }
    if reg["status"] != "label":
        pd["usage"] = f"Regimen status: {reg['status']} (not a label schedule)."
    return r4b_validate(pd, f"PlanDefinition/{reg['id']}")


NOMINAL_BODY = (170.0, 70.0)
"""Height (cm) and weight (kg) of the nominal plan the supportive-care actions are read from:
premedication, prophylaxis and monitoring do not depend on body size."""


def _supportive_actions(regimen_id: str, contained: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Premedication, prophylaxis and monitoring actions (default rule set), each pointing to a
    contained ActivityDefinition, read from a nominal plan of the regimen."""
    try:
        plan = services.plan_document(services.make_plan(regimen_id, "2000-01-03", *NOMINAL_BODY))
    except InputError:
        return []
    groups: list[dict[str, Any]] = []

    def activity(kind: str, name: str, title: str, text: str, cite: Mapping[str, str]) -> str:
        ad_id = f"ad-{len(contained) + 1}"
        ad: dict[str, Any] = {
            "resourceType": "ActivityDefinition",
            "id": ad_id,
            "status": "active",
            "name": _computable(f"{name} {ad_id}")[:60],
            "title": title,
            "kind": kind,
            "intent": "proposal",
            "description": text,
            "relatedArtifact": [_artifact(cite)],
        }
        if kind == "MedicationRequest":
            ad["productCodeableConcept"] = {"text": name}
            ad["dosage"] = [{"text": text}]
        else:
            ad["code"] = {"text": title}
        contained.append(ad)
        return ad_id

    premed = next(
        (a["premedication"] for a in plan["administrations"] if a.get("premedication")), None
    )
    if premed:
        subs = []
        for d in premed["drugs"]:
            text = f"{d['name']} {d['dose']} {premed['timing']}".strip()
            ad_id = activity("MedicationRequest", d["name"], text, text, premed["citation"])
            subs.append({"title": text, "definitionCanonical": f"#{ad_id}"})
        groups.append(
            {
                "id": "premedication",
                "title": f"Premedication ({premed['timing']})",
                "description": premed["citation"].get("note") or premed["citation"]["locator"],
                "groupingBehavior": "logical-group",
                "action": subs,
            }
        )
    for k, pro in enumerate(plan["prophylaxis"]):
        subs = []
        for d in pro["drugs"]:
            text = " ".join(x for x in (d["name"], d["dose"], d["route"], d["frequency"]) if x)
            ad_id = activity("MedicationRequest", d["name"], text, text, pro["citation"])
            subs.append({"title": text, "definitionCanonical": f"#{ad_id}"})
        groups.append(
            {
                "id": f"prophylaxis-{k + 1}",
                "title": f"Prophylaxis: {pro['kind'].upper()}",
                "description": f"{pro['start_rule']} {pro['stop_condition']}".strip(),
                "groupingBehavior": "logical-group",
                "action": subs,
            }
        )
    seen: dict[str, dict[str, Any]] = {}
    for m in plan["monitoring"]:
        if m["kind"] not in seen:
            seen[m["kind"]] = m
    if seen:
        subs = []
        for kind, m in seen.items():
            ad_id = activity(
                "ServiceRequest", kind, m["description"], m["description"], m["citation"]
            )
            subs.append({"title": m["description"], "definitionCanonical": f"#{ad_id}"})
        groups.append(
            {
                "id": "monitoring",
                "title": "Monitoring",
                "groupingBehavior": "logical-group",
                "action": subs,
            }
        )
    return groups


# --------------------------------------------------------------------------------------------
# CDS Hooks helpers: prefetch → Bundle, draft orders → proposals
# --------------------------------------------------------------------------------------------


def prefetch_bundle(prefetch: Mapping[str, Any]) -> dict[str, Any]:
    """One collection Bundle of every resource in a CDS Hooks ``prefetch`` (resources or
    search-set Bundles; ``null`` values — data the EHR could not fetch — are skipped)."""
    entries: list[dict[str, Any]] = []
    for key in sorted(prefetch):
        item = prefetch[key]
        if item is None:
            continue
        if not isinstance(item, Mapping):
            raise InputError(f"prefetch.{key}", item, "give a FHIR resource or Bundle")
        if item.get("resourceType") == "Bundle":
            for e in item.get("entry") or []:
                if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping):
                    if e["resource"].get("resourceType") == "OperationOutcome":
                        continue
                    entry = {"resource": e["resource"]}
                    if e.get("fullUrl"):
                        entry["fullUrl"] = e["fullUrl"]
                    entries.append(entry)
        else:
            entries.append({"resource": dict(item)})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def draft_order_proposals(draft_orders: object) -> list[dict[str, Any]]:
    """The MedicationRequests of an ``order-sign`` ``draftOrders`` Bundle as plain proposals:
    ``{"index", "id", "drug", "dose_mg", "route", "date", "date_assumed"}``.

    The date is the first ``timing.event``, else ``timing.repeat.boundsPeriod.start``, else
    ``authoredOn``; ``None`` when none is given (the caller assumes today and says so).
    Orders for drugs cllcds does not know are returned with ``drug`` ``None``.
    """
    if not isinstance(draft_orders, Mapping) or draft_orders.get("resourceType") != "Bundle":
        raise InputError("context.draftOrders", draft_orders, "give a Bundle of draft orders")
    out: list[dict[str, Any]] = []
    problems: list[InputError] = []
    for i, e in enumerate(draft_orders.get("entry") or []):
        res = e.get("resource") if isinstance(e, Mapping) else None
        if not isinstance(res, Mapping) or res.get("resourceType") != "MedicationRequest":
            continue
        where = f"context.draftOrders.entry[{i}]"
        try:
            r4b_validate(res, where)
        except InputError as exc:
            problems.append(exc)
            continue
        drug, _ = medication_drug(res)
        di = (res.get("dosageInstruction") or [{}])[0]
        r = _Reader()
        dose = None
        dar = di.get("doseAndRate") or []
        if drug is not None and dar and dar[0].get("doseQuantity") is not None:
            dose = _dose_mg(
                r,
                f"{where}.dosageInstruction[0].doseAndRate[0].doseQuantity",
                dar[0]["doseQuantity"],
            )
        problems += r.problems
        timing = di.get("timing") or {}
        date = None
        if timing.get("event"):
            date = _date_of(timing["event"][0])
        elif (timing.get("repeat") or {}).get("boundsPeriod"):
            date = _date_of(timing["repeat"]["boundsPeriod"].get("start"))
        date = date or _date_of(res.get("authoredOn"))
        out.append(
            {
                "index": i,
                "id": res.get("id"),
                "drug": drug,
                "dose_mg": dose,
                "route": _route(di.get("route")),
                "date": date,
            }
        )
    if problems:
        raise DocumentError("draftOrders", problems)
    return out


def with_dose(order: Mapping[str, Any], dose_mg: float) -> dict[str, Any]:
    """A copy of a MedicationRequest with its first dose set to ``dose_mg`` mg (for a CDS
    suggestion that updates the draft order)."""
    res = dict(order)
    dis = [dict(d) for d in res.get("dosageInstruction") or [{}]]
    dis[0]["doseAndRate"] = [{"doseQuantity": _ucum(dose_mg, "mg")}]
    dis[0].pop("text", None)
    res["dosageInstruction"] = dis
    return r4b_validate(res, "suggestion")


def import_bundle(
    bundle: object,
    *,
    regimen: str | None = None,
    start: dt.date | str | None = None,
    as_of: dt.date | str | None = None,
    allow_loss: bool = False,
) -> dict[str, Any]:
    """Use case: a Bundle into ``{"course": ..., "warnings": [...], "assumptions": [...]}``."""
    return bundle_to_course(
        bundle, regimen=regimen, start=start, as_of=as_of, allow_loss=allow_loss
    ).as_dict()


def export_course(
    course_doc: object,
    *,
    as_of: dt.date | None = None,
    bundle_type: str = "collection",
    allow_loss: bool = False,
) -> dict[str, Any]:
    """Use case: a course document into ``{"bundle", "warnings", "lost"}``."""
    exp = course_to_bundle(course_doc, as_of=as_of, bundle_type=bundle_type, allow_loss=allow_loss)
    return {"bundle": exp.bundle, "warnings": list(exp.warnings), "lost": list(exp.lost)}


def regimen_plandefinition(regimen_id: str) -> dict[str, Any]:
    """Use case: a regimen of the library as a FHIR PlanDefinition."""
    return regimen_to_plandefinition(regimen_id)


def resources_of(bundle: Mapping[str, Any], rtype: str) -> Iterable[dict[str, Any]]:
    """The resources of one type in a Bundle."""
    for e in bundle.get("entry") or []:
        res = e.get("resource") or {}
        if res.get("resourceType") == rtype:
            yield res
