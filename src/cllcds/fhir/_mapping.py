"""The lossless, table-driven mapping of a course document (``cllcds.course/1``) to FHIR R4
resources and back.

Every key the course document parser accepts has one row in a table here: :data:`EVENT_MAPS`
(one :class:`EventMap` per event ``type``, with the FHIR element each field goes to),
:data:`PATIENT_FIELDS`, :data:`COURSE_FIELDS`, :data:`BASELINE_FIELDS`,
:data:`ASSESSMENT_FIELDS` and their nested tables. ``tests/fhir/test_mapping.py`` walks
:func:`cllcds.course.course_schema` and fails for any path without a row, so an event type or
field added to the parser surfaces at once; :func:`covered_paths` is what it compares with.

The clinical content goes in ordinary FHIR elements (a dose in
``MedicationAdministration.dosage.dose``, a reaction grade in ``AdverseEvent``, an infection's
resolution in ``Condition.abatementDateTime`` ...). What FHIR has no element for, and what only
a course document needs to be rebuilt exactly (the event's position in the list, its ``id`` and
``supersedes``, a local time of day without a time zone, a key present with an empty list), is
carried in the ``course-element`` extension, whose canonical URL is under :data:`BASE`.

An event type without a row, or a value FHIR cannot carry (an empty string: FHIR strings are
non-empty), is not silently dropped: :func:`document_to_resources` returns it as a loss, and the
export refuses to write a lossy bundle unless the caller allows it and lists every loss.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cllcds.domain import AutoimmuneKind, InputError, LabCode, LabUnit
from cllcds.rules import cytopenia

from ._codes import (
    LOINC,
    LOINC_BODY_HEIGHT,
    LOINC_BODY_WEIGHT,
    LOINC_CMV_PCR_QUAL,
    LOINC_CMV_PCR_QUANT,
    OBSERVATION_CATEGORY,
    PATIENT_ID_SYSTEM,
    ROUTE_CODING,
    ROUTE_WORDS,
    RXNORM,
    RXNORM_INGREDIENT,
    SNOMED,
    SNOMED_CLL,
    SNOMED_NOT_DETECTED,
    SNOMED_ROUTES,
    UCUM,
)

BASE = "http://cllcds.example/fhir"
"""Base of every canonical URL cllcds defines (StructureDefinitions of its extensions, its
CodeSystems, its PlanDefinitions). ``.example`` is a reserved name: the URLs identify, they are
not claimed to resolve. A deployment that publishes its own artefacts changes this one constant."""
SD = BASE + "/StructureDefinition/"
CS = BASE + "/CodeSystem/"
EXT_ELEMENT = SD + "course-element"
"""Which part of the course document a resource carries, its place and what FHIR lacks."""
EXT_SETTINGS = SD + "course-settings"
"""The course's settings on its CarePlan: ``as_of``, ``rule_sets``, the baseline date."""
EXT_CTCAE_GRADE = SD + "ctcae-grade"
EXT_RESOLVED = SD + "resolved-date"
"""The date an adverse event, reaction or fever resolved (R4 AdverseEvent and Observation have
no element for it; ``outcome`` says *that* it resolved)."""
EXT_RESOLVES = SD + "resolves-event"
"""On a ``resolved`` event's Basic resource: the id of the event it resolves and, when that
event is in the same bundle, a reference to its resource."""
EXT_FEVER_DURATION = SD + "fever-duration"
"""Hours at or above 38.0 °C (UCUM h)."""
EXT_SERIOUS = SD + "serious"
EXT_CMV_IGG = SD + "cmv-igg"
EXT_PRIOR_CMV = SD + "prior-cmv-reactivation"
EXT_CMV_SURVEILLANCE = SD + "cmv-surveillance-available"
EXT_CYTOGENETICS = SD + "cytogenetics"
EXT_PRIOR_THERAPY = SD + "prior-therapy"
LAB_SYSTEM = CS + "lab"
COMPONENT_SYSTEM = CS + "assessment-component"
EVENT_SYSTEM = CS + "course-event"
AUTOIMMUNE_SYSTEM = CS + "autoimmune-cytopenia-kind"
INTENT_SYSTEM = CS + "antiviral-intent"
PROPHYLAXIS_SYSTEM = CS + "prophylaxis"
PROGRESSION_SYSTEM = CS + "progression-kind"
PLAN_DEFINITION_CANONICAL = BASE + "/PlanDefinition/"

LOINC_CMV_PCR_COPIES = "30247-1"
"""CMV DNA [#copies/volume] in plasma by NAA with probe detection (issue 12 names it for
copies/mL results)."""
LOINC_BODY_TEMPERATURE = "8310-5"
"""Body temperature (FHIR R4 vital-signs profile ``bodytemp`` fixes this code)."""
MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
MEDDRA_INFUSION_REACTION = "10051792"
"""MedDRA LLT "Infusion related reaction" (the CTCAE v5 term): UNVERIFIED."""
SNOMED_INFECTION = "40733004"
"""Infectious disease (disorder): UNVERIFIED."""
_AUTOIMMUNE_DISPLAY: Mapping[AutoimmuneKind, str] = {
    AutoimmuneKind.HAEMOLYTIC_ANAEMIA: "Autoimmune hemolytic anemia (disorder)",
    AutoimmuneKind.THROMBOCYTOPENIA: "Autoimmune thrombocytopenia (disorder)",
    AutoimmuneKind.EVANS_SYNDROME: "Evans syndrome (disorder)",
}
SNOMED_AUTOIMMUNE: Mapping[str, tuple[str, str]] = {
    kind.value: (str(rule.snomed), _AUTOIMMUNE_DISPLAY[kind])
    for kind, rule in cytopenia.AUTOIMMUNE_KINDS.items()
    if rule.snomed is not None and kind in _AUTOIMMUNE_DISPLAY
}
"""Coded kind → SNOMED CT (code, display): the codes and their sources are the rule table's
(:data:`cllcds.rules.cytopenia.AUTOIMMUNE_KINDS`); kinds without a confirmed code carry text."""
SNOMED_TRANSFUSION = "116859006"
"""Transfusion of blood product (procedure): UNVERIFIED."""
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
AE_OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
AE_CATEGORY = "http://terminology.hl7.org/CodeSystem/adverse-event-category"
LOINC_CREAT_UMOL = "14682-9"
"""Creatinine [Moles/volume] in Serum or Plasma (the µmol/L code; 2160-0 is mg/dL)."""
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"

PROFILE_VITAL: Mapping[str, str] = {
    LOINC_BODY_HEIGHT: "http://hl7.org/fhir/StructureDefinition/bodyheight",
    LOINC_BODY_WEIGHT: "http://hl7.org/fhir/StructureDefinition/bodyweight",
    LOINC_BODY_TEMPERATURE: "http://hl7.org/fhir/StructureDefinition/bodytemp",
}
PROFILE_US_CORE_LAB = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"
PROFILE_US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
PROFILE_MCODE_DISEASE_STATUS = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-disease-status"
)
"""mCODE CancerDiseaseStatus: an Observation with code LOINC 97509-4, a subject, an effective
date-time and a value from the Condition Status Trend value set (SNOMED CT 268910001 improved,
359746009 stable, 271299001 worsened, 709137006 undetermined: the codes every mCODE release
lists; the remission codes changed between releases and are not used). mCODE: every
Observation with code 97509-4 SHALL conform to the profile."""
LOINC_DISEASE_STATUS = "97509-4"
"""Cancer disease progression (the mCODE CancerDiseaseStatus code)."""
LOINC_DISEASE_STATUS_DISPLAY = "Cancer disease progression"
STATUS_TREND: Mapping[str, tuple[str, str]] = {
    "improved": ("268910001", "Patient's condition improved (finding)"),
    "stable": ("359746009", "Patient's condition stable (finding)"),
    "worsened": ("271299001", "Patient's condition worsened (finding)"),
    "undetermined": ("709137006", "Patient condition undetermined (finding)"),
}
"""mCODE Condition Status Trend value set (SNOMED CT)."""
EXT_DERIVED = SD + "derived"
"""On a resource cllcds computes (not part of the course document): what it was derived from."""

NAMESPACE = uuid.UUID("6f1c1f2e-4b7a-4c1d-9a53-2d0c3c1d9e10")
"""Namespace of the deterministic ``urn:uuid`` fullUrls of exported resources."""


COURSE_TAG_SYSTEM = CS + "course"
"""``meta.tag`` system naming the stored course a resource belongs to (the FHIR read endpoint
serves all the patient's courses in one searchset)."""


def course_scoped_url(course_id: str, url: str) -> str:
    """A fullUrl made unique to one stored course (deterministic)."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{course_id}|{url}')}"


def course_tag(resource: Mapping[str, Any]) -> str | None:
    """The course a resource is tagged with (:data:`COURSE_TAG_SYSTEM`), if any."""
    for tag in (resource.get("meta") or {}).get("tag") or []:
        if isinstance(tag, Mapping) and tag.get("system") == COURSE_TAG_SYSTEM:
            return str(tag.get("code"))
    return None


def full_url(*parts: object) -> str:
    """A deterministic ``urn:uuid`` for the parts (same course → same URLs)."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, '|'.join(str(p) for p in parts))}"


def ucum(value: float | None, code: str | None, unit: str | None = None) -> dict[str, Any]:
    """A UCUM Quantity (either part may be absent)."""
    q: dict[str, Any] = {}
    if value is not None:
        q["value"] = value
    if code is not None:
        q |= {"unit": unit or code, "system": UCUM, "code": code}
    return q


def concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text is not None:
        c["text"] = text
    return c


def autoimmune_kind(text: str) -> AutoimmuneKind | None:
    """The coded kind a text (value, synonym or SNOMED CT code) names, as the parser reads it."""
    key = " ".join(text.lower().replace("-", " ").split())
    for kind in AutoimmuneKind:
        if key == kind.value:
            return kind
    return cytopenia.autoimmune_kind_for(key)


# --------------------------------------------------------------------------------------------
# The course-element extension
# --------------------------------------------------------------------------------------------


@dataclass
class Element:
    """What the ``course-element`` extension of one resource says."""

    path: str
    type: str | None = None
    sequence: int | None = None
    id: str | None = None
    supersedes: str | None = None
    times: dict[str, str] = field(default_factory=dict)
    """Field name → the time-of-day text after ``T`` of a date-time the document gave."""
    empty: list[str] = field(default_factory=list)
    """Keys present in the document with an empty list or object."""
    flags: list[str] = field(default_factory=list)
    clock: str | None = None
    """The event's ``time`` field (HH:MM or HH:MM:SS, local, no time zone) as given."""

    def extension(self) -> dict[str, Any]:
        ext: list[dict[str, Any]] = [{"url": "path", "valueString": self.path}]
        if self.type is not None:
            ext.append({"url": "type", "valueCode": self.type})
        if self.clock is not None:
            ext.append({"url": "time", "valueString": self.clock})
        if self.sequence is not None:
            ext.append({"url": "sequence", "valueInteger": self.sequence})
        if self.id is not None:
            ext.append({"url": "id", "valueString": self.id})
        if self.supersedes is not None:
            ext.append({"url": "supersedes", "valueString": self.supersedes})
        for name, time in self.times.items():
            ext.append(
                {
                    "url": "local-time",
                    "extension": [
                        {"url": "field", "valueString": name},
                        {"url": "time", "valueString": time},
                    ],
                }
            )
        ext += [{"url": "empty", "valueString": k} for k in self.empty]
        ext += [{"url": "flag", "valueString": k} for k in self.flags]
        return {"url": EXT_ELEMENT, "extension": ext}

    @classmethod
    def of(cls, resource: Mapping[str, Any]) -> Element | None:
        """The element of a resource cllcds wrote, ``None`` for any other resource."""
        for ext in resource.get("extension") or []:
            if isinstance(ext, Mapping) and ext.get("url") == EXT_ELEMENT:
                el = cls(path="")
                for sub in ext.get("extension") or []:
                    url = sub.get("url")
                    if url == "path":
                        el.path = str(sub.get("valueString"))
                    elif url == "type":
                        el.type = sub.get("valueCode")
                    elif url == "sequence":
                        el.sequence = sub.get("valueInteger")
                    elif url == "id":
                        el.id = sub.get("valueString")
                    elif url == "supersedes":
                        el.supersedes = sub.get("valueString")
                    elif url == "time":
                        el.clock = sub.get("valueString")
                    elif url == "local-time":
                        parts = {s.get("url"): s.get("valueString") for s in sub["extension"]}
                        el.times[str(parts["field"])] = str(parts["time"])
                    elif url == "empty":
                        el.empty.append(str(sub.get("valueString")))
                    elif url == "flag":
                        el.flags.append(str(sub.get("valueString")))
                return el
        return None

    def date(self, name: str, raw: str) -> str:
        """The date part of a document date for a FHIR ``date``; the time goes in ``times``."""
        if len(raw) > 10:
            self.times[name] = raw[11:]
        return raw[:10]

    def undate(self, name: str, value: str | None) -> str | None:
        """Inverse of :meth:`date`."""
        if value is None:
            return None
        value = value[:10]
        return f"{value}T{self.times[name]}" if name in self.times else value


def ext_value(resource: Mapping[str, Any], url: str) -> Any:
    """The ``value[x]`` of the first extension with ``url`` (``None`` if absent)."""
    for ext in resource.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == url:
            for k, v in ext.items():
                if k.startswith("value"):
                    return v
            return ext
    return None


# --------------------------------------------------------------------------------------------
# Writing and reading contexts
# --------------------------------------------------------------------------------------------


@dataclass
class Writer:
    """Collects the resources of one document and what could not be carried."""

    pid: str
    subject: str
    entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    """Event id → the fullUrl of its resource (for references between events)."""

    def add(self, resource: dict[str, Any], *key: object) -> str:
        url = full_url(self.pid, *key)
        self.entries.append((url, resource))
        return url

    def text(self, where: str, value: object) -> str | None:
        """A text value for a FHIR string; an empty or non-text value is a loss."""
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.losses.append(
                f"{where}: {value!r} cannot be carried (FHIR strings are non-empty text)"
            )
            return None
        return value


@dataclass
class Reader:
    """Resolves references while reading the resources cllcds wrote."""

    by_url: Mapping[str, Mapping[str, Any]]

    def resolve(self, ref: object) -> Mapping[str, Any]:
        url = ref.get("reference") if isinstance(ref, Mapping) else None
        res = self.by_url.get(str(url))
        if res is None:
            raise InputError("reference", url, "the bundle lacks the referenced resource")
        return res


def _meta(*profiles: str) -> dict[str, Any]:
    return {"profile": list(profiles)}


def _medication(drug: str | None, fallback: tuple[str, str, str] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {}
    rx = RXNORM_INGREDIENT.get(drug.lower()) if drug else None
    if rx and drug:
        c["coding"] = [{"system": RXNORM, "code": rx, "display": drug.lower()}]
    elif fallback is not None:
        c["coding"] = [{"system": fallback[0], "code": fallback[1], "display": fallback[2]}]
    if drug is not None:
        c["text"] = drug
    return c


def route_concept(route: str) -> dict[str, Any]:
    code, display, text = ROUTE_CODING[route]
    return {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": text}


def route_of(c: object) -> str | None:
    """The document route of a route CodeableConcept (text, SNOMED CT code or display)."""
    if not isinstance(c, Mapping):
        return None
    text = str(c.get("text", "")).strip().lower()
    if text in ROUTE_WORDS:
        return ROUTE_WORDS[text]
    for coding in c.get("coding") or []:
        if not isinstance(coding, Mapping):
            continue
        if coding.get("system") == SNOMED and coding.get("code") in SNOMED_ROUTES:
            return SNOMED_ROUTES[str(coding["code"])]
        disp = str(coding.get("display", "")).strip().lower()
        if disp in ROUTE_WORDS:
            return ROUTE_WORDS[disp]
    return None


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


# --------------------------------------------------------------------------------------------
# Event maps
# --------------------------------------------------------------------------------------------

Write = Callable[[Writer, Element, Mapping[str, Any], str], dict[str, Any]]
Read = Callable[[Reader, Element, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class EventMap:
    """How one event type travels: its resource, where each field goes, and the two ways."""

    type: str
    resource: str
    date_element: str
    fields: Mapping[str, str]
    """Document key → FHIR element (also the mapping table of ``docs/fhir.md``)."""
    write: Write
    read: Read
    date_elements: Mapping[str, str] = field(default_factory=dict)
    """Resource type → its date element, where the write picks another resource type."""

    def date_element_of(self, resource: Mapping[str, Any]) -> str:
        return self.date_elements.get(str(resource.get("resourceType")), self.date_element)


def _w_dose(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    drug = w.text(f"{where}.drug", ev.get("drug"))
    dosage: dict[str, Any] = {}
    if ev.get("route") in ROUTE_CODING:
        dosage["route"] = route_concept(ev["route"])
    if ev.get("dose_mg") is not None:
        dosage["dose"] = ucum(ev["dose_mg"], "mg")
    res: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "medicationCodeableConcept": _medication(drug, (EVENT_SYSTEM, "dose", "Dose")),
    }
    if dosage:
        res["dosage"] = dosage
    return res


def _r_dose(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "drug", (res.get("medicationCodeableConcept") or {}).get("text"))
    dosage = res.get("dosage") or {}
    _put(out, "dose_mg", (dosage.get("dose") or {}).get("value"))
    _put(out, "route", route_of(dosage.get("route")))
    return out


def _w_held(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "status": "not-done",
        "medicationCodeableConcept": _medication("alemtuzumab"),
    }
    reason = w.text(f"{where}.reason", ev.get("reason"))
    if reason is not None:
        res["statusReason"] = [{"text": reason}]
    return res


def _r_held(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    reasons = res.get("statusReason") or []
    return {"reason": reasons[0]["text"]} if reasons else {}


def _lab_code(code: str) -> tuple[LabCode | None, bool]:
    try:
        lab = LabCode.parse(code)
    except InputError:
        return None, False
    return lab, code in lab.loinc_codes


def lab_resource(w: Writer, rec: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An Observation of one lab value as the document gave it (code, value, UCUM unit)."""
    raw = rec.get("code")
    codings: list[dict[str, Any]] = []
    profile = []
    if isinstance(raw, str):
        lab, is_loinc = _lab_code(raw)
        if lab is not None:
            loinc = raw if is_loinc else lab.loinc
            if not is_loinc and lab is LabCode.CREAT and rec.get("unit") == LabUnit.UMOL_L.value:
                loinc = LOINC_CREAT_UMOL
            codings.append({"system": LOINC, "code": loinc, "display": lab.display})
            profile = [PROFILE_US_CORE_LAB]
        if not is_loinc:
            codings.append({"system": LAB_SYSTEM, "code": raw, "display": raw})
    else:
        w.losses.append(f"{where}.code: {raw!r} is not a lab code")
    unit = rec.get("unit")
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
        "code": {"coding": codings} if codings else {"text": str(raw)},
        "valueQuantity": ucum(rec.get("value"), unit if isinstance(unit, str) else None),
    }
    if profile:
        res["meta"] = _meta(*profile)
    return res


def lab_record(res: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`lab_resource`."""
    out: dict[str, Any] = {}
    code = None
    for c in (res.get("code") or {}).get("coding") or []:
        if c.get("system") == LAB_SYSTEM or (c.get("system") == LOINC and code is None):
            code = c["code"]
    _put(out, "code", code)
    q = res.get("valueQuantity") or {}
    _put(out, "value", q.get("value"))
    _put(out, "unit", q.get("code"))
    return out


def _w_lab(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    return lab_resource(w, ev, where)


def _r_lab(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    return lab_record(res)


_NOT_DETECTED = concept(SNOMED, SNOMED_NOT_DETECTED, "Not detected (qualifier value)")
_ND_INTERPRETATION = concept(INTERPRETATION, "ND", "Not detected")


def _w_cmv(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    unit = ev.get("unit")
    value = ev.get("value")
    if unit == "{copies}/mL":
        code = (LOINC_CMV_PCR_COPIES, "Cytomegalovirus DNA [#/volume] (viral load) in Plasma")
    elif value is not None or unit is not None:
        code = (LOINC_CMV_PCR_QUANT, "Cytomegalovirus DNA [Units/volume] in Plasma")
    else:
        code = (LOINC_CMV_PCR_QUAL, "Cytomegalovirus DNA [Presence] in Serum or Plasma")
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "meta": _meta(PROFILE_US_CORE_LAB),
        "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
        "code": concept(LOINC, *code),
    }
    if value is not None or unit is not None:
        res["valueQuantity"] = ucum(value, unit if isinstance(unit, str) else None)
        if ev.get("result") is not None:
            res["interpretation"] = [_ND_INTERPRETATION]
    elif ev.get("result") is not None:
        res["valueCodeableConcept"] = dict(_NOT_DETECTED, text=str(ev["result"]))
    return res


def _r_cmv(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    q = res.get("valueQuantity")
    if q is not None:
        _put(out, "value", q.get("value"))
        _put(out, "unit", q.get("code"))
        if res.get("interpretation"):
            out["result"] = "not detected"
    elif res.get("valueCodeableConcept") is not None:
        out["result"] = res["valueCodeableConcept"].get("text", "not detected")
    return out


def _w_antigenemia(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    primary = "positive_cells" if "positive_cells" in ev else "value"
    if primary == "value":
        el.flags.append("value-key")
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
        "code": concept(
            EVENT_SYSTEM, "cmv_antigenemia", "CMV pp65 antigenemia (positive cells per 2x10^5)"
        ),
        "valueQuantity": {"value": ev.get(primary), "unit": "positive cells per 2x10^5 leukocytes"},
    }
    if primary == "positive_cells" and "value" in ev:
        res["component"] = [
            {
                "code": concept(COMPONENT_SYSTEM, "value", "value as also given"),
                "valueQuantity": {"value": ev["value"]},
            }
        ]
    return res


def _r_antigenemia(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    value = (res.get("valueQuantity") or {}).get("value")
    out = {"value" if "value-key" in el.flags else "positive_cells": value}
    for comp in res.get("component") or []:
        out["value"] = comp["valueQuantity"]["value"]
    return out


def _severity(grade: object) -> dict[str, Any] | None:
    if not isinstance(grade, int) or isinstance(grade, bool):
        return None
    code = "mild" if grade <= 1 else "moderate" if grade == 2 else "severe"
    return concept(AE_SEVERITY, code, code.capitalize())


def _resolution(el: Element, res: dict[str, Any], resolved: object) -> None:
    """AdverseEvent.outcome resolved and the resolution date (extension resolved-date)."""
    if resolved is None:
        return
    res.setdefault("extension", []).append(
        {"url": EXT_RESOLVED, "valueDate": el.date("resolved", str(resolved))}
    )
    if res["resourceType"] == "AdverseEvent":
        res["outcome"] = concept(AE_OUTCOME, "resolved", "Resolved")


def _resolution_of(el: Element, res: Mapping[str, Any]) -> str | None:
    return el.undate("resolved", ext_value(res, EXT_RESOLVED))


def _w_reaction(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "actuality": "actual",
        "category": [concept(AE_CATEGORY, "medication-mishap", "Medication Mishap")],
        "event": concept(MEDDRA, MEDDRA_INFUSION_REACTION, "Infusion related reaction"),
        "extension": [{"url": EXT_CTCAE_GRADE, "valueInteger": ev.get("grade")}],
    }
    _put(res, "severity", _severity(ev.get("grade")))
    _resolution(el, res, ev.get("resolved"))
    return res


def _r_reaction(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "grade", ext_value(res, EXT_CTCAE_GRADE))
    _put(out, "resolved", _resolution_of(el, res))
    return out


def _w_adverse(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    term = w.text(f"{where}.term", ev.get("term"))
    res: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "actuality": "actual",
        "event": {"text": term} if term is not None else {"text": "adverse event"},
        "extension": [{"url": EXT_CTCAE_GRADE, "valueInteger": ev.get("grade")}],
    }
    if term is None:
        el.flags.append("no-term")
    _put(res, "severity", _severity(ev.get("grade")))
    if isinstance(ev.get("serious"), bool):
        res["seriousness"] = (
            concept(AE_SERIOUSNESS, "serious", "Serious")
            if ev["serious"]
            else concept(AE_SERIOUSNESS, "non-serious", "Non-serious")
        )
    _resolution(el, res, ev.get("resolved"))
    return res


def _r_adverse(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "grade", ext_value(res, EXT_CTCAE_GRADE))
    if "no-term" not in el.flags:
        _put(out, "term", (res.get("event") or {}).get("text"))
    codes = [c for c, _ in _codings_of(res.get("seriousness"))]
    if codes:
        out["serious"] = codes[0] == "serious"
    _put(out, "resolved", _resolution_of(el, res))
    return out


def _codings_of(c: object) -> list[tuple[str, str]]:
    if not isinstance(c, Mapping):
        return []
    return [
        (str(x.get("code")), str(x.get("system")))
        for x in c.get("coding") or []
        if isinstance(x, Mapping)
    ]


def _w_resolved(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    event_id = w.text(f"{where}.event_id", ev.get("event_id"))
    subs: list[dict[str, Any]] = []
    if event_id is not None:
        subs.append({"url": "event_id", "valueString": event_id})
        target = w.ids.get(event_id)
        if target is not None:
            subs.append({"url": "target", "valueReference": {"reference": target}})
    res: dict[str, Any] = {
        "resourceType": "Basic",
        "code": concept(EVENT_SYSTEM, "resolved", "Resolution of an earlier event"),
    }
    if subs:
        res["extension"] = [{"url": EXT_RESOLVES, "extension": subs}]
    return res


def _r_resolved(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    for ext in res.get("extension") or []:
        if ext.get("url") == EXT_RESOLVES:
            for sub in ext.get("extension") or []:
                if sub.get("url") == "event_id":
                    return {"event_id": sub["valueString"]}
    return {}


def _w_fever(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "meta": _meta(PROFILE_VITAL[LOINC_BODY_TEMPERATURE]),
        "category": [concept(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
        "code": concept(LOINC, LOINC_BODY_TEMPERATURE, "Body temperature"),
        "valueQuantity": ucum(ev.get("temperature_c"), "Cel", "C"),
    }
    if ev.get("duration_h") is not None:
        res["extension"] = [
            {"url": EXT_FEVER_DURATION, "valueQuantity": ucum(ev["duration_h"], "h")}
        ]
    _resolution(el, res, ev.get("resolved"))
    return res


def _r_fever(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "temperature_c", (res.get("valueQuantity") or {}).get("value"))
    _put(out, "duration_h", (ext_value(res, EXT_FEVER_DURATION) or {}).get("value"))
    _put(out, "resolved", _resolution_of(el, res))
    return out


def _condition(
    w: Writer, el: Element, ev: Mapping[str, Any], code: dict[str, Any], resolved: str | None
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "clinicalStatus": concept(
            CONDITION_CLINICAL,
            "resolved" if resolved else "active",
            "Resolved" if resolved else "Active",
        ),
        "verificationStatus": concept(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": [concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
        "code": code,
    }
    if resolved is not None:
        res["abatementDateTime"] = el.date("resolved", resolved)
    return res


def _w_infection(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    desc = w.text(f"{where}.description", ev.get("description"))
    res = _condition(
        w,
        el,
        ev,
        concept(SNOMED, SNOMED_INFECTION, "Infectious disease (disorder)", desc),
        ev.get("resolved"),
    )
    ext = [{"url": EXT_CTCAE_GRADE, "valueInteger": ev.get("grade")}]
    if ev.get("serious") is not None:
        ext.append({"url": EXT_SERIOUS, "valueBoolean": ev["serious"]})
    res["extension"] = ext
    _put(res, "severity", _severity(ev.get("grade")))
    return res


def _r_infection(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "grade", ext_value(res, EXT_CTCAE_GRADE))
    _put(out, "description", (res.get("code") or {}).get("text"))
    _put(out, "serious", ext_value(res, EXT_SERIOUS))
    _put(out, "resolved", el.undate("resolved", res.get("abatementDateTime")))
    return out


def _w_autoimmune(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = w.text(f"{where}.kind", ev.get("kind"))
    coded = autoimmune_kind(kind) if kind is not None else None
    snomed = SNOMED_AUTOIMMUNE.get(coded.value) if coded is not None else None
    code: dict[str, Any] = concept(SNOMED, *snomed) if snomed else {}
    if coded is not None:
        code.setdefault("coding", []).append(
            {"system": AUTOIMMUNE_SYSTEM, "code": coded.value, "display": coded.value}
        )
    code = dict(code, text=kind) if kind is not None else code or {"text": "autoimmune cytopenia"}
    if kind is None:
        el.flags.append("no-kind")
    return _condition(w, el, ev, code, None)


def _r_autoimmune(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    if "no-kind" in el.flags:
        return {}
    return {"kind": (res.get("code") or {}).get("text")}


def _frequency_dosage(dosage: dict[str, Any], frequency: str | None) -> None:
    if frequency is not None:
        dosage["timing"] = {"code": {"text": frequency}}


def _frequency_of(res: Mapping[str, Any]) -> str | None:
    for d in res.get("dosage") or []:
        text = ((d.get("timing") or {}).get("code") or {}).get("text")
        if text is not None:
            return str(text)
    return None


def _period(el: Element, res: dict[str, Any], ev: Mapping[str, Any]) -> None:
    period: dict[str, Any] = {}
    if ev.get("start") is not None:
        period["start"] = el.date("start", ev["start"])
    if ev.get("stop") is not None:
        period["end"] = el.date("stop", ev["stop"])
    if period:
        res["effectivePeriod"] = period


def _period_of(el: Element, res: Mapping[str, Any], out: dict[str, Any]) -> None:
    period = res.get("effectivePeriod") or {}
    _put(out, "start", el.undate("start", period.get("start")))
    _put(out, "stop", el.undate("stop", period.get("end")))


_INTENT_DISPLAY: Mapping[str, str] = {
    "prophylaxis": "Antiviral prophylaxis",
    "preemptive": "Pre-emptive antiviral therapy",
    "treatment": "Antiviral treatment of viral disease",
}


def _w_antiviral(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    drug = w.text(f"{where}.drug", ev.get("drug"))
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "status": "completed" if ev.get("stop") else "active",
        "medicationCodeableConcept": _medication(drug, (EVENT_SYSTEM, "antiviral", "Antiviral")),
    }
    _period(el, res, ev)
    if ev.get("intent") in _INTENT_DISPLAY:
        res["reasonCode"] = [concept(INTENT_SYSTEM, ev["intent"], _INTENT_DISPLAY[ev["intent"]])]
    dosage: dict[str, Any] = {}
    if ev.get("dose_mg") is not None:
        dosage["doseAndRate"] = [{"doseQuantity": ucum(ev["dose_mg"], "mg")}]
    _frequency_dosage(dosage, w.text(f"{where}.frequency", ev.get("frequency")))
    if dosage:
        res["dosage"] = [dosage]
    return res


def _dose_of(res: Mapping[str, Any]) -> Any:
    for d in res.get("dosage") or []:
        for dr in d.get("doseAndRate") or []:
            return (dr.get("doseQuantity") or {}).get("value")
    return None


def _r_antiviral(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "drug", (res.get("medicationCodeableConcept") or {}).get("text"))
    _period_of(el, res, out)
    _put(out, "dose_mg", _dose_of(res))
    for rc in res.get("reasonCode") or []:
        for code, system in _codings_of(rc):
            if system == INTENT_SYSTEM:
                out["intent"] = code
    _put(out, "frequency", _frequency_of(res))
    return out


def _w_esa(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    drug = w.text(f"{where}.drug", ev.get("drug"))
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "status": "completed" if ev.get("stop") else "active",
        "category": concept(EVENT_SYSTEM, "esa", "Erythropoiesis-stimulating agent"),
        "medicationCodeableConcept": _medication(
            drug, (EVENT_SYSTEM, "esa", "Erythropoiesis-stimulating agent")
        ),
    }
    _period(el, res, ev)
    if ev.get("dose") is not None or ev.get("dose_unit") is not None:
        unit = ev.get("dose_unit")
        q = ucum(ev.get("dose"), unit if isinstance(unit, str) else None)
        res["dosage"] = [{"doseAndRate": [{"doseQuantity": q}]}]
    return res


def _r_esa(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "drug", (res.get("medicationCodeableConcept") or {}).get("text"))
    _period_of(el, res, out)
    for d in res.get("dosage") or []:
        for dr in d.get("doseAndRate") or []:
            q = dr.get("doseQuantity") or {}
            _put(out, "dose", q.get("value"))
            _put(out, "dose_unit", q.get("code"))
    return out


_PROPHYLAXIS_DISPLAY: Mapping[str, str] = {
    "pcp": "Pneumocystis jirovecii pneumonia prophylaxis",
    "herpes": "Herpes virus (HSV/VZV) prophylaxis",
    "cmv": "Cytomegalovirus prophylaxis",
}
_PROPHYLAXIS_STATUS: Mapping[str, str] = {
    "start": "active",
    "stop": "completed",
    "not_tolerated": "stopped",
}


def _w_prophylaxis(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    drug = w.text(f"{where}.drug", ev.get("drug"))
    action = str(ev.get("action"))
    agent = str(ev.get("agent"))
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "status": _PROPHYLAXIS_STATUS.get(action, "unknown"),
        "category": concept(PROPHYLAXIS_SYSTEM, "action-" + action, action.replace("_", " ")),
        "medicationCodeableConcept": _medication(
            drug, (EVENT_SYSTEM, "prophylaxis", "Prophylaxis")
        ),
        "reasonCode": [concept(PROPHYLAXIS_SYSTEM, agent, _PROPHYLAXIS_DISPLAY.get(agent, agent))],
    }
    if action == "not_tolerated":
        res["statusReason"] = [
            concept(PROPHYLAXIS_SYSTEM, "not_tolerated", "Not tolerated", "not tolerated")
        ]
    dosage: dict[str, Any] = {}
    if ev.get("dose_mg") is not None:
        dosage["doseAndRate"] = [{"doseQuantity": ucum(ev["dose_mg"], "mg")}]
    _frequency_dosage(dosage, w.text(f"{where}.frequency", ev.get("frequency")))
    if dosage:
        res["dosage"] = [dosage]
    return res


def _r_prophylaxis(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rc in res.get("reasonCode") or []:
        for code, system in _codings_of(rc):
            if system == PROPHYLAXIS_SYSTEM:
                out["agent"] = code
    for code, system in _codings_of(res.get("category")):
        if system == PROPHYLAXIS_SYSTEM and code.startswith("action-"):
            out["action"] = code[7:]
    _put(out, "drug", (res.get("medicationCodeableConcept") or {}).get("text"))
    _put(out, "dose_mg", _dose_of(res))
    _put(out, "frequency", _frequency_of(res))
    return out


_PROGRESSION_DISPLAY: Mapping[str, str] = {
    "progressive disease": "Progressive disease (iwCLL)",
    "richter": "Richter transformation",
    "prolymphocytic": "Prolymphocytic transformation",
}


def _w_progression(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = str(ev.get("kind"))
    desc = w.text(f"{where}.description", ev.get("description"))
    coding = {
        "system": PROGRESSION_SYSTEM,
        "code": kind,
        "display": _PROGRESSION_DISPLAY.get(kind, kind),
    }
    if kind == "progressive disease":
        value: dict[str, Any] = {
            "coding": [
                {
                    "system": SNOMED,
                    "code": STATUS_TREND["worsened"][0],
                    "display": STATUS_TREND["worsened"][1],
                },
                coding,
            ]
        }
        if desc is not None:
            value["text"] = desc
        return {
            "resourceType": "Observation",
            "status": "final",
            "meta": _meta(PROFILE_MCODE_DISEASE_STATUS),
            "category": [concept(OBSERVATION_CATEGORY, "exam", "Exam")],
            "code": concept(LOINC, LOINC_DISEASE_STATUS, LOINC_DISEASE_STATUS_DISPLAY),
            "focus": [{"reference": full_url(w.pid, "Condition", "cll")}],
            "valueCodeableConcept": value,
        }
    code: dict[str, Any] = {"coding": [coding]}
    if desc is not None:
        code["text"] = desc
    return _condition(w, el, ev, code, None)


def _r_progression(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c = res.get("valueCodeableConcept") if res["resourceType"] == "Observation" else res.get("code")
    for code, system in _codings_of(c):
        if system == PROGRESSION_SYSTEM:
            out["kind"] = code
    _put(out, "description", (c or {}).get("text"))
    return out


def _w_growth(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    drug = w.text(f"{where}.drug", ev.get("drug"))
    return {
        "resourceType": "MedicationStatement",
        "status": "active",
        "category": concept(EVENT_SYSTEM, "growth_factor", "Haematopoietic growth factor"),
        "medicationCodeableConcept": _medication(
            drug, (EVENT_SYSTEM, "growth_factor", "Haematopoietic growth factor")
        ),
    }


def _r_growth(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "drug", (res.get("medicationCodeableConcept") or {}).get("text"))
    return out


def _w_transfusion(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": concept(SNOMED, SNOMED_TRANSFUSION, "Transfusion of blood product (procedure)"),
    }
    product = w.text(f"{where}.product", ev.get("product"))
    if product is not None:
        res["usedCode"] = [{"text": product}]
    return res


def _r_transfusion(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    used = res.get("usedCode") or []
    return {"product": used[0]["text"]} if used else {}


def _w_note(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [concept(EVENT_SYSTEM, "note", "Course note")],
    }
    text = w.text(f"{where}.text", ev.get("text"))
    if text is not None:
        res["payload"] = [{"contentString": text}]
    return res


def _r_note(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    payload = res.get("payload") or []
    return {"text": payload[0]["contentString"]} if payload else {}


STOP_REASON_SYSTEM = CS + "stop-reason"
"""cllcds CodeSystem of ``treatment_stopped.reason`` codes (completed, toxicity, ...)."""


def _w_stopped(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "status": "stopped",
        "medicationCodeableConcept": _medication("alemtuzumab"),
    }
    why: dict[str, Any] = {}
    reason = w.text(f"{where}.reason", ev.get("reason"))
    if reason is not None:
        why["coding"] = [{"system": STOP_REASON_SYSTEM, "code": reason}]
    text = w.text(f"{where}.text", ev.get("text"))
    if text is not None:
        why["text"] = text
    if why:
        res["statusReason"] = [why]
    return res


def _r_stopped(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for why in res.get("statusReason") or []:
        for coding in why.get("coding") or []:
            if coding.get("system") == STOP_REASON_SYSTEM:
                _put(out, "reason", coding.get("code"))
        _put(out, "text", why.get("text"))
    return out


# Assessment: one Observation with components, a member Observation per lymph node -----------

_NUMBER_COMPONENTS: Mapping[str, tuple[str, str, str]] = {
    "liver_cm": ("liver_cm", "Liver palpable below the costal margin", "cm"),
    "spleen_cm": ("spleen_cm", "Spleen palpable below the costal margin", "cm"),
    "spleen_length_cm": ("spleen_length_cm", "Spleen craniocaudal length by imaging", "cm"),
}
_BOOL_COMPONENTS: Mapping[str, str] = {
    "constitutional_symptoms": "Constitutional (B) symptoms",
    "cytopenia_due_to_cll": "Cytopenia due to CLL",
}
_MARROW: Mapping[str, str] = {
    "lymphocytes_pct": "Marrow lymphocytes (%)",
    "cll_cells_pct": "Marrow CLL cells (%)",
    "nodules": "Marrow lymphoid nodules",
    "cellularity": "Marrow cellularity",
}


def _component(code: str, display: str, value: Any) -> dict[str, Any]:
    comp: dict[str, Any] = {"code": concept(COMPONENT_SYSTEM, code, display)}
    if isinstance(value, bool):
        comp["valueBoolean"] = value
    elif isinstance(value, str):
        comp["valueString"] = value
    elif isinstance(value, dict):
        comp.update(value)
    else:
        comp["valueQuantity"] = {"value": value}
    return comp


def assessment_resource(
    w: Writer, el: Element, rec: Mapping[str, Any], where: str, key: str
) -> dict[str, Any]:
    """The assessment Observation (and, through ``w``, one member per lymph node)."""
    comps: list[dict[str, Any]] = []
    for k, (code, display, unit) in _NUMBER_COMPONENTS.items():
        if rec.get(k) is not None:
            comps.append(_component(code, display, {"valueQuantity": ucum(rec[k], unit)}))
    for k, display in _BOOL_COMPONENTS.items():
        if rec.get(k) is not None:
            comps.append(_component(k, display, rec[k]))
    if rec.get("transformation") is not None:
        comps.append(
            _component("transformation", "Histological transformation", rec["transformation"])
        )
    marrow = rec.get("marrow")
    if isinstance(marrow, Mapping):
        if not marrow:
            el.empty.append("marrow")
        for k, display in _MARROW.items():
            if marrow.get(k) is not None:
                value = marrow[k]
                if k.endswith("_pct"):
                    value = {"valueQuantity": ucum(value, "%")}
                comps.append(_component(f"marrow.{k}", display, value))
    mrd = rec.get("mrd")
    if isinstance(mrd, Mapping):
        if mrd.get("level") is not None:
            comps.append(
                _component(
                    "mrd.level",
                    "MRD level (fraction of leukocytes)",
                    {"valueQuantity": ucum(mrd["level"], "1")},
                )
            )
        if mrd.get("sample") is not None:
            comps.append(_component("mrd.sample", "MRD sample", str(mrd["sample"])))
    members: list[dict[str, Any]] = []
    nodes = rec.get("lymph_nodes")
    if isinstance(nodes, list):
        if not nodes:
            el.empty.append("lymph_nodes")
        for i, node in enumerate(nodes):
            nw = f"{where}.lymph_nodes[{i}]"
            obs: dict[str, Any] = {
                "resourceType": "Observation",
                "extension": [Element(path="lymph-node", sequence=i).extension()],
                "status": "final",
                "category": [concept(OBSERVATION_CATEGORY, "exam", "Exam")],
                "code": concept(LOINC, "21889-1", "Size Tumor"),
                "subject": {"reference": w.subject},
                "component": [
                    _component(
                        "long_mm", "Long axis", {"valueQuantity": ucum(node.get("long_mm"), "mm")}
                    ),
                    _component(
                        "short_mm",
                        "Short axis",
                        {"valueQuantity": ucum(node.get("short_mm"), "mm")},
                    ),
                ],
            }
            site = w.text(f"{nw}.site", node.get("site"))
            if site is not None:
                obs["bodySite"] = {"text": site}
            url = w.add(obs, key, "node", i)
            obs["id"] = url.rsplit(":", 1)[-1]
            members.append({"reference": url})
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [concept(OBSERVATION_CATEGORY, "exam", "Exam")],
        "code": concept(EVENT_SYSTEM, "assessment", "CLL response assessment (iwCLL)"),
    }
    if comps:
        res["component"] = comps
    if members:
        res["hasMember"] = members
    if not comps and not members:
        res["dataAbsentReason"] = concept(
            "http://terminology.hl7.org/CodeSystem/data-absent-reason",
            "not-performed",
            "Not Performed",
        )
    return res


def assessment_record(r: Reader, el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`assessment_resource`."""
    out: dict[str, Any] = {}
    marrow: dict[str, Any] = {}
    mrd: dict[str, Any] = {}
    for comp in res.get("component") or []:
        code = comp["code"]["coding"][0]["code"]
        value = (
            comp["valueQuantity"]["value"]
            if "valueQuantity" in comp
            else comp.get("valueBoolean", comp.get("valueString"))
        )
        if code.startswith("marrow."):
            marrow[code[7:]] = value
        elif code.startswith("mrd."):
            mrd[code[4:]] = value
        else:
            out[code] = value
    if marrow or "marrow" in el.empty:
        out["marrow"] = marrow
    if mrd:
        out["mrd"] = mrd
    members = [r.resolve(m) for m in res.get("hasMember") or []]
    if members or "lymph_nodes" in el.empty:
        nodes = []
        for m in members:
            node: dict[str, Any] = {}
            _put(node, "site", (m.get("bodySite") or {}).get("text"))
            for comp in m["component"]:
                node[comp["code"]["coding"][0]["code"]] = comp["valueQuantity"]["value"]
            nodes.append(node)
        out["lymph_nodes"] = nodes
    return out


def _w_assessment(w: Writer, el: Element, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    return assessment_resource(w, el, ev, where, where)


ASSESSMENT_FIELDS: Mapping[str, str] = {
    "lymph_nodes": "hasMember → Observation 21889-1 Size Tumor (bodySite.text = site)",
    "lymph_nodes[].site": "node Observation.bodySite.text",
    "lymph_nodes[].long_mm": "node Observation.component long_mm (mm)",
    "lymph_nodes[].short_mm": "node Observation.component short_mm (mm)",
    "liver_cm": "component liver_cm (cm)",
    "spleen_cm": "component spleen_cm (cm)",
    "spleen_length_cm": "component spleen_length_cm (cm)",
    "marrow": "components marrow.*",
    "marrow.lymphocytes_pct": "component marrow.lymphocytes_pct (%)",
    "marrow.cll_cells_pct": "component marrow.cll_cells_pct (%)",
    "marrow.nodules": "component marrow.nodules (valueBoolean)",
    "marrow.cellularity": "component marrow.cellularity (valueString)",
    "constitutional_symptoms": "component constitutional_symptoms (valueBoolean)",
    "mrd": "components mrd.*",
    "mrd.sample": "component mrd.sample (valueString blood|marrow)",
    "mrd.level": "component mrd.level (UCUM 1, a fraction)",
    "transformation": "component transformation (valueString)",
    "cytopenia_due_to_cll": "component cytopenia_due_to_cll (valueBoolean)",
}

EVENT_MAPS: Mapping[str, EventMap] = {
    m.type: m
    for m in (
        EventMap(
            "dose",
            "MedicationAdministration",
            "effectiveDateTime",
            {
                "drug": "medicationCodeableConcept (RxNorm ingredient; text = drug as given)",
                "dose_mg": "dosage.dose (UCUM mg)",
                "route": "dosage.route (SNOMED CT route; text IV / SC / PO / continuous)",
            },
            _w_dose,
            _r_dose,
        ),
        EventMap(
            "dose_held",
            "MedicationAdministration",
            "effectiveDateTime",
            {"reason": "status not-done; statusReason.text"},
            _w_held,
            _r_held,
        ),
        EventMap(
            "lab",
            "Observation",
            "effectiveDateTime",
            {
                "code": "code (LOINC; the short name as a cllcds lab coding)",
                "value": "valueQuantity.value",
                "unit": "valueQuantity.code (UCUM)",
            },
            _w_lab,
            _r_lab,
        ),
        EventMap(
            "cmv_pcr",
            "Observation",
            "effectiveDateTime",
            {
                "value": "valueQuantity.value (LOINC 72493-0 IU/mL, 30247-1 copies/mL)",
                "unit": "valueQuantity.code (UCUM [IU]/mL or {copies}/mL)",
                "result": "valueCodeableConcept SNOMED 260415000 not detected (LOINC 30246-3), "
                "or interpretation ND",
            },
            _w_cmv,
            _r_cmv,
        ),
        EventMap(
            "cmv_antigenemia",
            "Observation",
            "effectiveDateTime",
            {
                "positive_cells": "valueQuantity.value",
                "value": "valueQuantity.value (alias), or component value when both are given",
            },
            _w_antigenemia,
            _r_antigenemia,
        ),
        EventMap(
            "infusion_reaction",
            "AdverseEvent",
            "date",
            {
                "grade": "extension ctcae-grade; severity mild/moderate/severe",
                "resolved": "outcome resolved; extension resolved-date",
            },
            _w_reaction,
            _r_reaction,
        ),
        EventMap(
            "fever",
            "Observation",
            "effectiveDateTime",
            {
                "temperature_c": "valueQuantity (LOINC 8310-5, UCUM Cel)",
                "duration_h": "extension fever-duration (UCUM h)",
                "resolved": "extension resolved-date",
            },
            _w_fever,
            _r_fever,
        ),
        EventMap(
            "infection",
            "Condition",
            "onsetDateTime",
            {
                "grade": "extension ctcae-grade; severity",
                "description": "code.text (coding SNOMED CT 40733004)",
                "serious": "extension serious",
                "resolved": "abatementDateTime; clinicalStatus resolved",
            },
            _w_infection,
            _r_infection,
        ),
        EventMap(
            "autoimmune_cytopenia",
            "Condition",
            "onsetDateTime",
            {
                "kind": "code.text as given; SNOMED CT coding with display for AIHA, ITP and "
                "Evans (codes of rules.cytopenia), cllcds kind coding for every recognised kind"
            },
            _w_autoimmune,
            _r_autoimmune,
        ),
        EventMap(
            "antiviral",
            "MedicationStatement",
            "dateAsserted",
            {
                "drug": "medicationCodeableConcept (RxNorm where known; text)",
                "dose_mg": "dosage.doseAndRate.doseQuantity (UCUM mg)",
                "start": "effectivePeriod.start",
                "stop": "effectivePeriod.end; status completed",
                "intent": "reasonCode (cllcds antiviral-intent)",
                "frequency": "dosage.timing.code.text",
            },
            _w_antiviral,
            _r_antiviral,
        ),
        EventMap(
            "adverse_event",
            "AdverseEvent",
            "date",
            {
                "grade": "extension ctcae-grade; severity mild/moderate/severe",
                "term": "event.text",
                "serious": "seriousness (adverse-event-seriousness serious / non-serious)",
                "resolved": "outcome resolved; extension resolved-date",
            },
            _w_adverse,
            _r_adverse,
        ),
        EventMap(
            "resolved",
            "Basic",
            "created",
            {
                "event_id": "extension resolves-event (event_id; a reference to the resolved "
                "event's resource when it is in the bundle); created = the resolution date",
            },
            _w_resolved,
            _r_resolved,
        ),
        EventMap(
            "progression",
            "Observation | Condition",
            "effectiveDateTime",
            {
                "kind": "progressive disease: Observation LOINC 97509-4 with value SNOMED CT "
                "271299001 (mCODE CancerDiseaseStatus, focus the CLL Condition); richter / "
                "prolymphocytic: Condition (transformation); both with a "
                "cllcds progression-kind coding",
                "description": "value / code text",
            },
            _w_progression,
            _r_progression,
            {"Condition": "onsetDateTime"},
        ),
        EventMap(
            "esa",
            "MedicationStatement",
            "dateAsserted",
            {
                "drug": "medicationCodeableConcept (RxNorm where known; text)",
                "dose": "dosage.doseAndRate.doseQuantity.value",
                "dose_unit": "dosage.doseAndRate.doseQuantity.code (UCUM [IU] or ug)",
                "start": "effectivePeriod.start",
                "stop": "effectivePeriod.end; status completed",
            },
            _w_esa,
            _r_esa,
        ),
        EventMap(
            "prophylaxis",
            "MedicationStatement",
            "dateAsserted",
            {
                "agent": "reasonCode (cllcds prophylaxis pcp / herpes / cmv)",
                "action": "status active / completed / stopped (+ statusReason not tolerated); "
                "category cllcds prophylaxis action-*",
                "drug": "medicationCodeableConcept (RxNorm where known; text)",
                "dose_mg": "dosage.doseAndRate.doseQuantity (UCUM mg)",
                "frequency": "dosage.timing.code.text",
            },
            _w_prophylaxis,
            _r_prophylaxis,
        ),
        EventMap(
            "growth_factor",
            "MedicationStatement",
            "dateAsserted",
            {"drug": "medicationCodeableConcept.text"},
            _w_growth,
            _r_growth,
        ),
        EventMap(
            "transfusion",
            "Procedure",
            "performedDateTime",
            {"product": "usedCode.text (code SNOMED CT 116859006)"},
            _w_transfusion,
            _r_transfusion,
        ),
        EventMap(
            "assessment",
            "Observation",
            "effectiveDateTime",
            {k: v for k, v in ASSESSMENT_FIELDS.items() if "." not in k and "[" not in k},
            _w_assessment,
            assessment_record,
        ),
        EventMap(
            "note",
            "Communication",
            "sent",
            {"text": "payload.contentString"},
            _w_note,
            _r_note,
        ),
        EventMap(
            "treatment_stopped",
            "MedicationStatement",
            "dateAsserted",
            {
                "reason": "status stopped; statusReason.coding (cllcds CodeSystem stop-reason)",
                "text": "statusReason.text",
            },
            _w_stopped,
            _r_stopped,
        ),
    )
}
"""One row per event type of the course document."""

EVENT_COMMON_FIELDS: Mapping[str, str] = {
    "date": "the resource's date element (effectiveDateTime, onsetDateTime, date, ...); a time "
    "of day in extension course-element.local-time",
    "type": "extension course-element.type (and the resource's own codes)",
    "id": "extension course-element.id",
    "supersedes": "extension course-element.supersedes",
    "time": "extension course-element.time (HH:MM or HH:MM:SS as given; local, no time zone)",
}

PATIENT_FIELDS: Mapping[str, str] = {
    "id": "Patient.identifier (system urn:cllcds:patient-id) and Patient.id",
    "name": "Patient.name.text",
    "sex": "Patient.gender",
    "birth_date": "Patient.birthDate",
    "height_cm": "Observation 8302-2 body height (cm)",
    "weight_kg": "Observation 29463-7 body weight (kg)",
    "diagnosis": "Condition SNOMED CT 92814006, code.text",
    "cmv_igg": "Patient extension cmv-igg",
    "prior_cmv_reactivation": "Patient extension prior-cmv-reactivation",
    "cmv_surveillance_available": "Patient extension cmv-surveillance-available",
    "cytogenetics": "Patient extension cytogenetics",
    "cytogenetics.del17p": "cytogenetics.del17p (valueBoolean)",
    "cytogenetics.tp53_mutation": "cytogenetics.tp53_mutation (valueBoolean)",
    "cytogenetics.del11q": "cytogenetics.del11q (valueBoolean)",
    "cytogenetics.ighv_unmutated": "cytogenetics.ighv_unmutated (valueBoolean)",
    "prior_therapies": "Patient extension prior-therapy (one per therapy, in order)",
    "prior_therapies[].regimen": "prior-therapy.regimen (valueString)",
    "prior_therapies[].start": "prior-therapy.start (valueDate)",
    "prior_therapies[].end": "prior-therapy.end (valueDate)",
    "prior_therapies[].best_response": "prior-therapy.best_response (valueCode)",
    "prior_therapies[].progression": "prior-therapy.progression (valueDate)",
}
COURSE_FIELDS: Mapping[str, str] = {
    "format": "implied: a bundle cllcds reads is a cllcds.course/1 course",
    "as_of": "CarePlan extension course-settings.as_of",
    "rule_sets": "CarePlan extension course-settings",
    "rule_sets.label": "course-settings.rule_sets.label (valueCode)",
    "rule_sets.response": "course-settings.rule_sets.response (valueCode)",
    "rule_sets.toxicity": "course-settings.rule_sets.toxicity (valueCode)",
    "rule_sets.cmv": "course-settings.rule_sets.cmv (valueCode)",
    "patient": "Patient (see the patient rows)",
    "regimen": "CarePlan.instantiatesCanonical (PlanDefinition canonical URL)",
    "start_date": "CarePlan.period.start",
    "baseline": "CarePlan extension course-settings.baseline_date and the baseline resources",
    "events": "one resource per event (see the event rows), in order",
}
BASELINE_FIELDS: Mapping[str, str] = {
    "date": "course-settings.baseline_date; the baseline resources' dates",
    "labs": "Observation per lab, course-element.path baseline.labs",
    "labs[].code": "as a lab event",
    "labs[].value": "as a lab event",
    "labs[].unit": "as a lab event",
    "assessment": "Observation as an assessment event, course-element.path baseline.assessment",
}


def covered_paths() -> set[str]:
    """Every document path the tables map, in the form ``tests/fhir/test_mapping.py`` derives
    from the course schema (``patient.cytogenetics.del17p``, ``events[dose].dose_mg``, ...)."""
    out = set(COURSE_FIELDS)
    out |= {f"patient.{k}" for k in PATIENT_FIELDS}
    out |= {f"baseline.{k}" for k in BASELINE_FIELDS}
    out |= {f"baseline.assessment.{k}" for k in ASSESSMENT_FIELDS}
    for t, m in EVENT_MAPS.items():
        out |= {f"events[{t}].{k}" for k in EVENT_COMMON_FIELDS}
        out |= {f"events[{t}].{k}" for k in m.fields}
        if t == "assessment":
            out |= {f"events[{t}].{k}" for k in ASSESSMENT_FIELDS}
    return out


# --------------------------------------------------------------------------------------------
# Patient and settings
# --------------------------------------------------------------------------------------------

_CYTO = ("del17p", "tp53_mutation", "del11q", "ighv_unmutated")
_PRIOR_DATES = ("start", "end", "progression")


def patient_resource(w: Writer, el: Element, p: Mapping[str, Any], fhir_id: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "id": fhir_id,
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": p["id"]}],
    }
    ext: list[dict[str, Any]] = []
    name = w.text("patient.name", p.get("name"))
    if name is not None:
        res["name"] = [{"text": name}]
    _put(res, "gender", p.get("sex"))
    if p.get("birth_date") is not None:
        res["birthDate"] = el.date("birth_date", p["birth_date"])
    if name is not None and p.get("sex") is not None:
        res["meta"] = _meta(PROFILE_US_CORE_PATIENT)
    if p.get("cmv_igg") is not None:
        ext.append({"url": EXT_CMV_IGG, "valueCode": p["cmv_igg"]})
    for key, url in (
        ("prior_cmv_reactivation", EXT_PRIOR_CMV),
        ("cmv_surveillance_available", EXT_CMV_SURVEILLANCE),
    ):
        if p.get(key) is not None:
            ext.append({"url": url, "valueBoolean": p[key]})
    cyto = p.get("cytogenetics")
    if isinstance(cyto, Mapping):
        subs = [{"url": k, "valueBoolean": cyto[k]} for k in _CYTO if cyto.get(k) is not None]
        for k in cyto:
            if cyto[k] is None:
                w.losses.append(f"patient.cytogenetics.{k}: null is written as absent")
        if subs:
            ext.append({"url": EXT_CYTOGENETICS, "extension": subs})
        else:
            el.empty.append("cytogenetics")
    prior = p.get("prior_therapies")
    if isinstance(prior, list):
        if not prior:
            el.empty.append("prior_therapies")
        for i, t in enumerate(prior):
            where = f"patient.prior_therapies[{i}]"
            subs = []
            regimen = w.text(f"{where}.regimen", t.get("regimen"))
            if regimen is not None:
                subs.append({"url": "regimen", "valueString": regimen})
            for k in _PRIOR_DATES:
                if t.get(k) is not None:
                    subs.append({"url": k, "valueDate": el.date(f"prior_therapies[{i}].{k}", t[k])})
            if t.get("best_response") is not None:
                subs.append({"url": "best_response", "valueCode": t["best_response"]})
            ext.append({"url": EXT_PRIOR_THERAPY, "extension": subs})
    if ext:
        res["extension"] = ext
    return res


def patient_record(el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ident in res.get("identifier") or []:
        if ident.get("system") == PATIENT_ID_SYSTEM:
            out["id"] = ident["value"]
    names = res.get("name") or []
    if names and names[0].get("text"):
        out["name"] = names[0]["text"]
    _put(out, "sex", res.get("gender"))
    _put(out, "birth_date", el.undate("birth_date", res.get("birthDate")))
    _put(out, "cmv_igg", ext_value(res, EXT_CMV_IGG))
    _put(out, "prior_cmv_reactivation", ext_value(res, EXT_PRIOR_CMV))
    _put(out, "cmv_surveillance_available", ext_value(res, EXT_CMV_SURVEILLANCE))
    prior: list[dict[str, Any]] = []
    for ext in res.get("extension") or []:
        if ext.get("url") == EXT_CYTOGENETICS:
            out["cytogenetics"] = {s["url"]: s["valueBoolean"] for s in ext["extension"]}
        elif ext.get("url") == EXT_PRIOR_THERAPY:
            t: dict[str, Any] = {}
            for s in ext.get("extension") or []:
                value = next(v for k, v in s.items() if k.startswith("value"))
                i = len(prior)
                t[s["url"]] = (
                    el.undate(f"prior_therapies[{i}].{s['url']}", value)
                    if s["url"] in _PRIOR_DATES
                    else value
                )
            prior.append(t)
    if prior or "prior_therapies" in el.empty:
        out["prior_therapies"] = prior
    if "cytogenetics" in el.empty:
        out["cytogenetics"] = {}
    return out


_RULE_SET_KEYS = ("label", "response", "toxicity", "cmv")


def settings_extension(w: Writer, el: Element, doc: Mapping[str, Any]) -> dict[str, Any] | None:
    subs: list[dict[str, Any]] = []
    if doc.get("as_of") is not None:
        subs.append({"url": "as_of", "valueDate": el.date("as_of", doc["as_of"])})
    rule_sets = doc.get("rule_sets")
    if isinstance(rule_sets, Mapping):
        if not rule_sets:
            el.empty.append("rule_sets")
        for k in _RULE_SET_KEYS:
            if rule_sets.get(k) is not None:
                subs.append({"url": f"rule_sets.{k}", "valueCode": rule_sets[k]})
    baseline = doc.get("baseline")
    if isinstance(baseline, Mapping) and baseline.get("date") is not None:
        subs.append(
            {"url": "baseline_date", "valueDate": el.date("baseline.date", baseline["date"])}
        )
        if baseline.get("labs") == []:
            el.empty.append("baseline.labs")
    return {"url": EXT_SETTINGS, "extension": subs} if subs else None


def settings_record(el: Element, res: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ext in res.get("extension") or []:
        if ext.get("url") != EXT_SETTINGS:
            continue
        for s in ext.get("extension") or []:
            value = next(v for k, v in s.items() if k.startswith("value"))
            url = s["url"]
            if url == "as_of":
                out["as_of"] = el.undate("as_of", value)
            elif url.startswith("rule_sets."):
                out.setdefault("rule_sets", {})[url[10:]] = value
            elif url == "baseline_date":
                out["baseline"] = {"date": el.undate("baseline.date", value)}
    if "rule_sets" in el.empty:
        out["rule_sets"] = {}
    if "baseline.labs" in el.empty and "baseline" in out:
        out["baseline"]["labs"] = []
    return out


def regimen_canonical(regimen_id: str) -> str:
    """The canonical URL of a regimen's PlanDefinition."""
    return PLAN_DEFINITION_CANONICAL + regimen_id


def diagnosis_condition(w: Writer, p: Mapping[str, Any]) -> dict[str, Any]:
    text = w.text("patient.diagnosis", p.get("diagnosis"))
    return {
        "resourceType": "Condition",
        "clinicalStatus": concept(CONDITION_CLINICAL, "active", "Active"),
        "verificationStatus": concept(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": [concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
        "code": concept(SNOMED, SNOMED_CLL, "Chronic lymphoid leukemia, disease (disorder)", text),
    }


def body_observation(code: str, value: Any, unit: str, name: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "meta": _meta(PROFILE_VITAL[code]),
        "category": [concept(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
        "code": concept(LOINC, code, f"Body {name}"),
        "valueQuantity": ucum(value, unit),
    }


def walk_schema(schema: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Every document path of a (course) JSON Schema, as :func:`covered_paths` spells them."""
    out: set[str] = set()
    props = schema.get("properties") or {}
    for k, sub in props.items():
        path = f"{prefix}{k}"
        if prefix == "" and k == "events":
            out.add("events")
            for alt in sub["items"]["oneOf"]:
                t = alt["properties"]["type"]["const"]
                out |= walk_schema(alt, f"events[{t}].")
            continue
        out.add(path)
        if sub.get("type") == "object":
            out |= walk_schema(sub, f"{path}.")
        elif sub.get("type") == "array" and isinstance(sub.get("items"), Mapping):
            out |= walk_schema(sub["items"], f"{path}[].")
    return out


def unmapped(schema: Mapping[str, Any]) -> list[str]:
    """Schema paths without a row in the mapping tables."""
    return sorted(walk_schema(schema) - covered_paths())


# --------------------------------------------------------------------------------------------
# Whole documents
# --------------------------------------------------------------------------------------------

_FHIR_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def fhir_id(candidate: str) -> str:
    """``candidate`` when it is a valid FHIR id, else a deterministic UUID."""
    if 1 <= len(candidate) <= 64 and set(candidate) <= _FHIR_ID_CHARS:
        return candidate
    return str(uuid.uuid5(NAMESPACE, candidate))


def _tag(res: dict[str, Any], el: Element, rid: str, subject: str | None) -> dict[str, Any]:
    """Put id, the course-element extension (first) and the subject on a resource."""
    out: dict[str, Any] = {"resourceType": res["resourceType"], "id": rid}
    if "meta" in res:
        out["meta"] = res["meta"]
    out["extension"] = [el.extension(), *res.get("extension", [])]
    out |= {k: v for k, v in res.items() if k not in ("resourceType", "meta", "extension")}
    if subject is not None:
        out["subject"] = {"reference": subject}
    return out


@dataclass(frozen=True)
class Written:
    """The resources of a document (fullUrl, resource), the CarePlan among them, the losses."""

    entries: list[tuple[str, dict[str, Any]]]
    careplan: dict[str, Any]
    losses: list[str]


def document_to_resources(doc: Mapping[str, Any]) -> Written:
    """Every part of a (valid) course document as FHIR R4 resources; see the module doc."""
    p = doc["patient"]
    pid = str(p["id"])
    subject = full_url(pid, "Patient")
    w = Writer(pid, subject)
    el = Element(path="patient")
    patient = patient_resource(w, el, p, fhir_id(pid))
    w.entries.append((subject, _tag(patient, el, patient["id"], None)))
    for key in doc:
        if key not in COURSE_FIELDS:
            w.losses.append(f"{key}: no FHIR mapping for this key")
    for key in p:
        if key not in PATIENT_FIELDS:
            w.losses.append(f"patient.{key}: no FHIR mapping for this key")
    base = doc.get("baseline") if isinstance(doc.get("baseline"), Mapping) else None
    anchor = str((base or {}).get("date") or doc["start_date"])[:10]
    el = Element(path="patient.diagnosis")
    if p.get("diagnosis") is None:
        el.flags.append("absent")
    cond = _tag(diagnosis_condition(w, p), el, "cll", subject)
    w.entries.append((full_url(pid, "Condition", "cll"), cond))
    for key, code, unit, name in (
        ("height_cm", LOINC_BODY_HEIGHT, "cm", "height"),
        ("weight_kg", LOINC_BODY_WEIGHT, "kg", "weight"),
    ):
        if p.get(key) is not None:
            el = Element(path=f"patient.{key}")
            obs = body_observation(code, p[key], unit, name)
            obs["effectiveDateTime"] = anchor
            w.add(_tag(obs, el, f"body-{name}", subject), "body", name)
    if base is not None:
        for i, lab in enumerate(base.get("labs") or []):
            el = Element(path="baseline.labs", sequence=i)
            obs = lab_resource(w, lab, f"baseline.labs[{i}]")
            obs["effectiveDateTime"] = el.date("date", str(base["date"]))
            w.add(_tag(obs, el, f"baseline-lab-{i}", subject), "baseline", i)
        if isinstance(base.get("assessment"), Mapping):
            el = Element(path="baseline.assessment")
            for k in base["assessment"]:
                if k not in ASSESSMENT_FIELDS:
                    w.losses.append(f"baseline.assessment.{k}: no FHIR mapping for this key")
            obs = assessment_resource(
                w, el, base["assessment"], "baseline.assessment", "baseline.assessment"
            )
            obs["effectiveDateTime"] = el.date("date", str(base["date"]))
            w.add(_tag(obs, el, "baseline-assessment", subject), "baseline", "assessment")
    events = doc.get("events")
    for i, ev in enumerate(events if isinstance(events, list) else []):
        if isinstance(ev, Mapping) and isinstance(ev.get("id"), str):
            w.ids.setdefault(ev["id"], full_url(pid, "event", i))
    for i, ev in enumerate(events if isinstance(events, list) else []):
        where = f"events[{i}]"
        etype = ev.get("type")
        m = EVENT_MAPS.get(str(etype))
        if m is None:
            w.losses.append(f"{where}: event type {etype!r} has no FHIR mapping; dropped")
            continue
        for k in ev:
            if k not in m.fields and k not in EVENT_COMMON_FIELDS:
                w.losses.append(f"{where}.{k}: no FHIR mapping for this key of {etype!r}")
        el = Element(path="events", type=m.type, sequence=i)
        el.id = w.text(f"{where}.id", ev.get("id"))
        el.supersedes = w.text(f"{where}.supersedes", ev.get("supersedes"))
        el.clock = w.text(f"{where}.time", ev.get("time"))
        res = m.write(w, el, ev, where)
        res[m.date_element_of(res)] = el.date("date", str(ev["date"]))
        w.add(_tag(res, el, f"ev-{i}", subject), "event", i)
    el = Element(path="course")
    if events == []:
        el.empty.append("events")
    careplan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "instantiatesCanonical": [regimen_canonical(str(doc["regimen"]))],
        "period": {"start": el.date("start_date", str(doc["start_date"]))},
    }
    settings = settings_extension(w, el, doc)
    if settings is not None:
        careplan["extension"] = [settings]
    careplan = _tag(careplan, el, "course", subject)
    w.entries.append((full_url(pid, "CarePlan"), careplan))
    return Written(w.entries, careplan, w.losses)


def is_course_resource(resource: Mapping[str, Any]) -> bool:
    """Whether cllcds wrote this resource from a course document."""
    return Element.of(resource) is not None


def resources_to_document(
    entries: Sequence[tuple[str, Mapping[str, Any]]],
) -> dict[str, Any] | None:
    """The course document of the resources cllcds wrote (``None`` without its CarePlan).

    ``entries`` are (fullUrl, resource); resources without the course-element extension are
    not read here (the EHR import reads them).
    """
    by_url = dict(entries)
    reader = Reader(by_url)
    doc: dict[str, Any] = {"format": "cllcds.course/1"}
    patient: dict[str, Any] = {}
    baseline_labs: list[tuple[int, dict[str, Any]]] = []
    events: list[tuple[int, dict[str, Any]]] = []
    baseline_assessment: dict[str, Any] | None = None
    course_el: Element | None = None
    for _, res in entries:
        el = Element.of(res)
        if el is None:
            continue
        if el.path == "course":
            course_el = el
            doc |= settings_record(el, res)
            canon = str((res.get("instantiatesCanonical") or [""])[0])
            doc["regimen"] = canon.rsplit("/", 1)[-1].split("|", maxsplit=1)[0]
            doc["start_date"] = el.undate("start_date", res["period"]["start"])
        elif el.path == "patient":
            patient |= patient_record(el, res)
        elif el.path == "patient.diagnosis":
            if "absent" not in el.flags:
                patient["diagnosis"] = res["code"].get("text")
        elif el.path in ("patient.height_cm", "patient.weight_kg"):
            patient[el.path[8:]] = res["valueQuantity"]["value"]
        elif el.path == "baseline.labs":
            baseline_labs.append((el.sequence or 0, lab_record(res)))
        elif el.path == "baseline.assessment":
            baseline_assessment = assessment_record(reader, el, res)
        elif el.path == "events" and el.type is not None and el.type in EVENT_MAPS:
            m = EVENT_MAPS[el.type]
            ev: dict[str, Any] = {
                "date": el.undate("date", res[m.date_element_of(res)]),
                "type": m.type,
            }
            _put(ev, "time", el.clock)
            _put(ev, "id", el.id)
            _put(ev, "supersedes", el.supersedes)
            ev |= m.read(reader, el, res)
            events.append((el.sequence or 0, ev))
    if course_el is None:
        return None
    if patient:
        doc["patient"] = dict(patient)
    if baseline_labs or baseline_assessment is not None:
        doc.setdefault("baseline", {})
    if "baseline" in doc:
        if baseline_labs:
            doc["baseline"]["labs"] = [lab for _, lab in sorted(baseline_labs, key=lambda x: x[0])]
        if baseline_assessment is not None:
            doc["baseline"]["assessment"] = baseline_assessment
    if events or "events" in course_el.empty:
        doc["events"] = [ev for _, ev in sorted(events, key=lambda x: x[0])]
    return doc


def differences(a: object, b: object, path: str = "") -> list[str]:
    """Where two JSON values differ (a bool is not a number), for loss reports."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            where = f"{path}.{k}" if path else str(k)
            if k not in b:
                out.append(f"{where}: {a[k]!r} is lost")
            elif k not in a:
                out.append(f"{where}: {b[k]!r} appears")
            else:
                out += differences(a[k], b[k], where)
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i in range(max(len(a), len(b))):
            where = f"{path}[{i}]"
            if i >= len(b):
                out.append(f"{where}: lost")
            elif i >= len(a):
                out.append(f"{where}: appears")
            else:
                out += differences(a[i], b[i], where)
        return out
    if isinstance(a, bool) != isinstance(b, bool) or a != b:
        return [f"{path}: {a!r} becomes {b!r}"]
    return []


__all__: Sequence[str] = ()
