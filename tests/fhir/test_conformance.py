"""Every resource cllcds exports meets every FHIRPath invariant of FHIR R4 (hl7.fhir.r4.core).

The invariants are those of the official core package (``r4_conformance``); the checker is
itself tested on resources that break ``rqg-1``, ``obs-6``, ``qty-3``, ``con-4``, ``ext-1``,
``vs-2`` and on an R5-only element, so a silent checker cannot pass these tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cllcds import fhir, services
from cllcds.domain import DocumentError
from course_documents import courses
from r4_conformance import check_bundle, check_profile, check_resource

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
DATA = Path(__file__).parent / "data"
PATIENT = {"reference": "Patient/1"}


def test_checker_finds_broken_invariants() -> None:
    rg = {
        "resourceType": "RequestGroup",
        "status": "active",
        "intent": "plan",
        "subject": PATIENT,
        "action": [{"title": "an action with neither resource nor sub-actions"}],
    }
    assert check_resource(rg) == [
        "RequestGroup.action[0]: rqg-1 fails (resource.exists() != action.exists())"
    ]
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueQuantity": {"value": 1, "code": "mg"},
        "dataAbsentReason": {"text": "x"},
    }
    keys = {e.split(": ")[1].split()[0] for e in check_resource(obs)}
    assert keys == {"obs-6", "qty-3"}
    cond = {
        "resourceType": "Condition",
        "subject": PATIENT,
        "abatementDateTime": "2020-01-01",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
    }
    assert "con-4" in check_resource(cond)[0]
    ext = {
        "resourceType": "Patient",
        "extension": [
            {"url": "http://x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]}
        ],
    }
    assert "ext-1" in check_resource(ext)[0]
    r5 = {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "medication": {"concept": {"text": "x"}},
        "subject": PATIENT,
        "effectiveDateTime": "2020-01-01",
    }
    assert check_resource(r5) == [
        "MedicationAdministration.medication: not an element of R4 MedicationAdministration"
    ]
    vital = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": PATIENT,
    }
    assert "vs-2" in check_profile(vital, "vitalsigns")[0]


def _profiles_hold(bundle: dict[str, Any]) -> list[str]:
    errors = []
    for e in bundle["entry"]:
        res = e["resource"]
        for url in (res.get("meta") or {}).get("profile", []):
            name = url.rsplit("/", 1)[-1]
            if url.startswith("http://hl7.org/fhir/StructureDefinition/"):
                errors += check_profile(res, "vitalsigns") + check_profile(res, name)
    return errors


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
@pytest.mark.parametrize("bundle_type", ["collection", "transaction"])
def test_every_exported_bundle_meets_every_r4_invariant(path: Path, bundle_type: str) -> None:
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    bundle = fhir.course_to_bundle(doc, bundle_type=bundle_type).bundle
    assert check_bundle(bundle) == []
    assert _profiles_hold(bundle) == []


@pytest.mark.parametrize("regimen_id", [r.id for r in services.regimen_list()])
def test_every_plandefinition_meets_every_r4_invariant(regimen_id: str) -> None:
    assert check_resource(fhir.regimen_to_plandefinition(regimen_id)) == []


def test_ehr_import_then_export_meets_every_r4_invariant() -> None:
    with (DATA / "cll-patient-bundle.json").open(encoding="utf-8") as fh:
        ehr = json.load(fh)
    assert check_bundle(ehr) == []  # the test data itself is R4
    course = fhir.bundle_to_course(ehr, regimen="alemtuzumab-iv-label", allow_loss=True).course
    assert check_bundle(fhir.course_to_bundle(course).bundle) == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(courses())
def test_generated_course_bundles_meet_every_r4_invariant(doc: dict[str, Any]) -> None:
    try:
        services.load_course(doc)
    except DocumentError:
        return
    bundle = fhir.course_to_bundle(doc, bundle_type="transaction").bundle
    assert check_bundle(bundle) == []
    assert _profiles_hold(bundle) == []
