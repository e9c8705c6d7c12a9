"""The JSON Schema (draft 2020-12) of the course document ``cllcds.course/1``.

The parser (:func:`cllcds.course.parse_course`) is the authority: it checks units, plausibility
and cross-references the schema cannot express. The schema is for editors and other tools;
``tests/course/test_schema.py`` checks that every example document is valid against it and that
the keys it allows are exactly the parser's.
"""

from __future__ import annotations

from typing import Any

from cllcds.domain import (
    COURSE_FORMAT,
    AdministrationRoute,
    AntiviralIntent,
    AutoimmuneKind,
    CmvPolicy,
    CmvUnit,
    EsaDoseUnit,
    EventType,
    LabelRuleSet,
    LabUnit,
    PriorResponse,
    ProgressionKind,
    ProphylaxisAction,
    ProphylaxisKind,
    ResponseCriteria,
    Serostatus,
    Sex,
    StopReason,
    ToxicityScale,
)

from ._document import ASSESSMENT_KEYS, EVENT_COMMON, EVENT_KEYS

DATE = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$",
    "description": "YYYY-MM-DD, or a date-time YYYY-MM-DDThh:mm",
}
TIME = {
    "type": "string",
    "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$",
    "description": "clock time HH:MM (24-hour); orders the events of one day",
}
NUMBER = {"type": "number"}
BOOL = {"type": "boolean"}
TEXT = {"type": "string"}


def _enum(e: Any) -> dict[str, Any]:
    return {"enum": [m.value for m in e]}


LAB: dict[str, Any] = {
    "type": "object",
    "required": ["code", "value", "unit"],
    "additionalProperties": False,
    "properties": {
        "code": {
            "type": "string",
            "description": "WBC, ALC, ANC, PLT, HGB, CD4, CREAT or a LOINC code",
        },
        "value": NUMBER,
        "unit": _enum(LabUnit),
    },
}
NODE = {
    "type": "object",
    "required": ["long_mm", "short_mm"],
    "additionalProperties": False,
    "properties": {"site": TEXT, "long_mm": NUMBER, "short_mm": NUMBER},
}
ASSESSMENT_PROPS: dict[str, Any] = {
    "lymph_nodes": {"type": "array", "items": NODE},
    "liver_cm": {"type": "number", "minimum": 0},
    "spleen_cm": {"type": "number", "minimum": 0},
    "spleen_length_cm": {"type": "number", "minimum": 0},
    "marrow": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "lymphocytes_pct": {"type": "number", "minimum": 0, "maximum": 100},
            "cll_cells_pct": {"type": "number", "minimum": 0, "maximum": 100},
            "nodules": BOOL,
            "cellularity": {"enum": ["hypocellular", "normal", "normocellular", "hypercellular"]},
        },
    },
    "constitutional_symptoms": BOOL,
    "mrd": {
        "type": "object",
        "required": ["sample", "level"],
        "additionalProperties": False,
        "properties": {
            "sample": {"enum": ["blood", "marrow"]},
            "level": {"type": "number", "minimum": 0, "maximum": 1},
        },
    },
    "transformation": {"enum": ["richter", "prolymphocytic"]},
    "cytopenia_due_to_cll": BOOL,
}

_EVENT_PROPS: dict[EventType, dict[str, Any]] = {
    EventType.DOSE: {
        "drug": TEXT,
        "dose_mg": {"type": "number", "minimum": 0},
        "route": _enum(AdministrationRoute),
    },
    EventType.DOSE_HELD: {"reason": TEXT},
    EventType.LAB: LAB["properties"],
    EventType.CMV_PCR: {
        "value": {"type": "number", "minimum": 0},
        "unit": _enum(CmvUnit),
        "result": {"const": "not detected"},
    },
    EventType.CMV_ANTIGENEMIA: {"value": NUMBER, "positive_cells": NUMBER},
    EventType.INFUSION_REACTION: {
        "grade": {"type": "integer", "minimum": 1, "maximum": 5},
        "resolved": DATE,
    },
    EventType.FEVER: {
        "temperature_c": NUMBER,
        "duration_h": {
            "type": "number",
            "minimum": 0,
            "description": "hours at or above 38.0 °C",
        },
        "resolved": DATE,
    },
    EventType.INFECTION: {
        "grade": {"type": "integer", "minimum": 1, "maximum": 5},
        "description": TEXT,
        "serious": BOOL,
        "resolved": DATE,
    },
    EventType.AUTOIMMUNE_CYTOPENIA: {
        "kind": {
            "type": "string",
            "description": "one of "
            + ", ".join(repr(k.value) for k in AutoimmuneKind)
            + " (or a listed synonym or SNOMED CT code); any other text withholds pending review",
        }
    },
    EventType.ANTIVIRAL: {
        "drug": TEXT,
        "dose_mg": NUMBER,
        "start": DATE,
        "stop": DATE,
        "intent": _enum(AntiviralIntent),
        "frequency": {"type": "string", "description": "e.g. twice daily"},
    },
    EventType.GROWTH_FACTOR: {"drug": TEXT},
    EventType.TRANSFUSION: {"product": TEXT},
    EventType.ASSESSMENT: ASSESSMENT_PROPS,
    EventType.NOTE: {"text": TEXT},
    EventType.ADVERSE_EVENT: {
        "grade": {"type": "integer", "minimum": 1, "maximum": 5},
        "term": TEXT,
        "serious": BOOL,
        "resolved": DATE,
    },
    EventType.RESOLVED: {
        "event_id": {"type": "string", "description": "the id of the event that resolved"}
    },
    EventType.PROGRESSION: {"kind": _enum(ProgressionKind), "description": TEXT},
    EventType.ESA: {
        "drug": {"type": "string", "description": "epoetin alfa, darbepoetin alfa, ..."},
        "dose": {"type": "number", "minimum": 0},
        "dose_unit": _enum(EsaDoseUnit),
        "start": DATE,
        "stop": DATE,
    },
    EventType.PROPHYLAXIS: {
        "agent": _enum(ProphylaxisKind),
        "action": _enum(ProphylaxisAction),
        "drug": TEXT,
        "dose_mg": {"type": "number", "minimum": 0},
        "frequency": TEXT,
    },
    EventType.TREATMENT_STOPPED: {
        "reason": _enum(StopReason),
        "text": {"type": "string", "description": "free text; required when reason is 'other'"},
    },
}
_EVENT_REQUIRED: dict[EventType, list[str]] = {
    EventType.DOSE: ["drug", "dose_mg", "route"],
    EventType.LAB: ["code", "value", "unit"],
    EventType.INFUSION_REACTION: ["grade"],
    EventType.FEVER: ["temperature_c"],
    EventType.INFECTION: ["grade"],
    EventType.AUTOIMMUNE_CYTOPENIA: ["kind"],
    EventType.ANTIVIRAL: ["drug"],
    EventType.ADVERSE_EVENT: ["grade", "term"],
    EventType.RESOLVED: ["event_id"],
    EventType.PROGRESSION: ["kind"],
    EventType.ESA: ["drug"],
    EventType.PROPHYLAXIS: ["agent", "action", "drug"],
    EventType.TREATMENT_STOPPED: ["reason"],
}
#: Conditional requirements (JSON Schema if/then) of some event types.
_EVENT_IF_THEN: dict[EventType, dict[str, Any]] = {
    EventType.TREATMENT_STOPPED: {
        "if": {"properties": {"reason": {"const": "other"}}, "required": ["reason"]},
        "then": {"required": ["text"], "properties": {"text": {"pattern": "\\S"}}},
    },
}


def _event_schema(t: EventType) -> dict[str, Any]:
    props = {
        "date": DATE,
        "time": TIME,
        "type": {"const": t.value},
        "id": TEXT,
        "supersedes": TEXT,
    }
    props.update(_EVENT_PROPS[t])
    assert set(props) == EVENT_COMMON | EVENT_KEYS[t], t  # the parser and schema agree
    return {
        "type": "object",
        "required": ["date", "type", *_EVENT_REQUIRED.get(t, [])],
        "additionalProperties": False,
        "properties": props,
        **_EVENT_IF_THEN.get(t, {}),
    }


def course_schema() -> dict[str, Any]:
    """The JSON Schema of ``cllcds.course/1``."""
    assert set(ASSESSMENT_PROPS) == ASSESSMENT_KEYS
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cllcds.example/schema/cllcds.course-1.json",
        "title": "cllcds course document, version 1",
        "type": "object",
        "required": ["format", "patient", "regimen", "start_date"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": COURSE_FORMAT},
            "as_of": DATE,
            "rule_sets": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "label": _enum(LabelRuleSet),
                    "response": _enum(ResponseCriteria),
                    "toxicity": _enum(ToxicityScale),
                    "cmv": _enum(CmvPolicy),
                },
            },
            "patient": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": False,
                "properties": {
                    "id": TEXT,
                    "name": TEXT,
                    "sex": _enum(Sex),
                    "birth_date": DATE,
                    "height_cm": NUMBER,
                    "weight_kg": NUMBER,
                    "diagnosis": TEXT,
                    "cmv_igg": _enum(Serostatus),
                    "prior_cmv_reactivation": BOOL,
                    "cmv_surveillance_available": BOOL,
                    "cytogenetics": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": dict.fromkeys(
                            ("del17p", "tp53_mutation", "del11q", "ighv_unmutated"), BOOL
                        ),
                    },
                    "prior_therapies": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["regimen"],
                            "additionalProperties": False,
                            "properties": {
                                "regimen": TEXT,
                                "start": DATE,
                                "end": DATE,
                                "best_response": _enum(PriorResponse),
                                "progression": DATE,
                            },
                        },
                    },
                },
            },
            "regimen": {"type": "string", "description": "an id from `cllcds regimens list`"},
            "start_date": DATE,
            "baseline": {
                "type": "object",
                "required": ["date"],
                "additionalProperties": False,
                "properties": {
                    "date": DATE,
                    "labs": {"type": "array", "items": LAB},
                    "assessment": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": ASSESSMENT_PROPS,
                    },
                },
            },
            "events": {"type": "array", "items": {"oneOf": [_event_schema(t) for t in EventType]}},
        },
    }
