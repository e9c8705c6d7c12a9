"""Bundles shaped as EHRs send them (issue 12, "EHR-style input").

Epic-style search results reference the drug (``medicationReference``) and ``_include`` the
Medication; Cerner-style administrations carry it ``contained``. Laboratories write valid UCUM
units in many forms, bound results with ``valueQuantity.comparator``, CMV loads in IU/mL or
copies/mL or qualitatively, and results with statuses other than ``final``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cllcds import fhir, services
from cllcds.domain import CREATININE_UMOL_PER_MG_DL, AutoimmuneKind, DocumentError
from cllcds.fhir._mapping import SNOMED_AUTOIMMUNE, differences
from cllcds.rules.cytopenia import AUTOIMMUNE_KINDS

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
REGIMEN = "alemtuzumab-iv-label"
PATIENT = {
    "resourceType": "Patient",
    "id": "eRX7pQ",
    "gender": "female",
    "birthDate": "1950-02-03",
}
CLL = {
    "resourceType": "Condition",
    "id": "cll",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "92814006"}]},
    "subject": {"reference": "Patient/eRX7pQ"},
}
ALEMTUZUMAB = {
    "resourceType": "Medication",
    "id": "eMed30",
    "code": {
        "coding": [{"system": RXNORM, "code": "1656635", "display": "Campath 30 MG/ML Injection"}],
        "text": "ALEMTUZUMAB 30 MG/ML IV SOLN",
    },
}


def administration(rid: str, day: str, mg: float, medication: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "status": "completed",
        "subject": {"reference": "Patient/eRX7pQ"},
        "effectiveDateTime": f"{day}T09:30:00-05:00",
        "dosage": {
            "route": {"text": "Intravenous"},
            "dose": {"value": mg, "unit": "mg", "system": UCUM, "code": "mg"},
        },
        **medication,
    }


def observation(
    rid: str, loinc: str, day: str, value: Any = None, unit: str | None = None, **extra: Any
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": "Patient/eRX7pQ"},
        "effectiveDateTime": f"{day}T07:10:00Z",
    }
    if value is not None:
        obs["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    obs.update(extra)
    return obs


def searchset(
    *resources: dict[str, Any], included: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    entries = [
        {
            "fullUrl": f"https://fhir.example-ehr.org/api/FHIR/R4/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in (PATIENT, CLL, *resources)
    ]
    entries += [
        {
            "fullUrl": f"https://fhir.example-ehr.org/api/FHIR/R4/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "include"},
        }
        for r in included
    ]
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def test_epic_style_medication_reference_resolved_from_the_included_medication() -> None:
    ref = {"medicationReference": {"reference": "Medication/eMed30", "display": "ALEMTUZUMAB"}}
    bundle = searchset(
        administration("a1", "2024-03-04", 3, ref),
        administration("a2", "2024-03-05", 10, ref),
        included=(ALEMTUZUMAB,),
    )
    result = fhir.bundle_to_course(bundle, regimen=REGIMEN)
    doses = [e for e in result.course["events"] if e["type"] == "dose"]
    assert [(d["date"], d["dose_mg"]) for d in doses] == [("2024-03-04", 3), ("2024-03-05", 10)]
    state = services.assess_course(result.course)
    assert state["status"] == "active"
    assert state["next_dose"]["dose_mg"] == 30  # not "not started, give 3 mg"


def test_absolute_medication_reference_and_contained_medication() -> None:
    absolute = {
        "medicationReference": {
            "reference": "https://fhir.example-ehr.org/api/FHIR/R4/Medication/eMed30"
        }
    }
    contained = {
        "contained": [dict(ALEMTUZUMAB, id="m1")],
        "medicationReference": {"reference": "#m1"},
    }
    bundle = searchset(
        administration("a1", "2024-03-04", 3, absolute),
        administration("a2", "2024-03-05", 10, contained),
        included=(ALEMTUZUMAB,),
    )
    doc = fhir.bundle_to_course(bundle, regimen=REGIMEN).course
    assert [e["dose_mg"] for e in doc["events"] if e["type"] == "dose"] == [3, 10]


def test_unresolvable_medication_reference_is_listed_not_silent() -> None:
    ref = {"medicationReference": {"reference": "Medication/missing"}}
    bundle = searchset(administration("a1", "2024-03-04", 3, ref))
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(bundle, regimen=REGIMEN, start="2024-03-04")
    assert "MedicationAdministration/a1" in str(exc.value)


def test_count_units_in_any_valid_ucum_form() -> None:
    bundle = searchset(
        observation("n1", "751-8", "2024-03-01", 1.9, "/nL"),
        observation("p1", "777-3", "2024-03-01", 120, "10*3/mm3"),
        observation("w1", "6690-2", "2024-03-01", 45000, "/mm3"),
        observation("h1", "718-7", "2024-03-01", 104, "mg/mL"),
    )
    result = fhir.bundle_to_course(bundle, regimen=REGIMEN, start="2024-03-04")
    labs = {lab["code"]: lab["value"] for lab in result.course["baseline"]["labs"]}
    # 1.9/nL = 1.9 × 10^9/L; 120 × 10^3/mm3 = 120 × 10^9/L; 45000/mm3 = 45 × 10^9/L;
    # 104 mg/mL = 104 g/L = 10.4 g/dL.
    assert labs["ANC"] == 1.9
    assert labs["PLT"] == 120.0
    assert labs["WBC"] == 45.0
    assert labs["HGB"] == 10.4
    assert any("1.9 /nL read as 1.9 10*9/L" in w for w in result.warnings)


def test_an_invalid_ucum_unit_is_refused_naming_the_entry() -> None:
    bundle = searchset(observation("n1", "751-8", "2024-03-01", 1.9, "K/uL"))
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(bundle, regimen=REGIMEN, start="2024-03-04")
    (problem,) = exc.value.problems
    assert problem.field == "entry[2] (Observation/n1).valueQuantity.code"
    assert problem.value == "K/uL"


def test_cmv_below_quantification_is_not_the_bound() -> None:
    lloq = observation("c1", "72493-0", "2024-03-11", 137, "[IU]/mL")
    lloq["valueQuantity"]["comparator"] = "<"
    result = fhir.bundle_to_course(searchset(lloq), regimen=REGIMEN, start="2024-03-04")
    (cmv,) = [e for e in result.course["events"] if e["type"] == "cmv_pcr"]
    assert cmv == {"date": "2024-03-11", "type": "cmv_pcr", "result": "not detected"}
    assert any("below the limit of quantification" in a for a in result.assumptions)
    high = observation("c2", "72493-0", "2024-03-11", 5000, "[IU]/mL")
    high["valueQuantity"]["comparator"] = "<"
    with pytest.raises(DocumentError):
        fhir.bundle_to_course(searchset(high), regimen=REGIMEN, start="2024-03-04")
    lost = fhir.bundle_to_course(
        searchset(high), regimen=REGIMEN, start="2024-03-04", allow_loss=True
    )
    assert "treatment threshold" in lost.lost[0]


def test_cmv_copies_iu_per_litre_and_qualitative() -> None:
    bundle = searchset(
        observation("c1", "30247-1", "2024-03-11", 3100, "{copies}/mL"),
        observation("c2", "72493-0", "2024-03-18", 2500000, "[IU]/L"),
        observation(
            "c3",
            "30246-3",
            "2024-03-25",
            valueCodeableConcept={
                "coding": [{"system": "http://snomed.info/sct", "code": "260415000"}],
                "text": "Not Detected",
            },
        ),
    )
    events = fhir.bundle_to_course(bundle, regimen=REGIMEN, start="2024-03-04").course["events"]
    cmv = [e for e in events if e["type"] == "cmv_pcr"]
    assert cmv[0] == {"date": "2024-03-11", "type": "cmv_pcr", "value": 3100, "unit": "{copies}/mL"}
    assert cmv[1]["value"] == 2500
    assert cmv[1]["unit"] == "[IU]/mL"
    assert cmv[2]["result"] == "not detected"
    detected = observation("c4", "30246-3", "2024-03-25", valueCodeableConcept={"text": "Detected"})
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(searchset(detected), regimen=REGIMEN, start="2024-03-04")
    assert "qualitative CMV DNA detected" in str(exc.value)


def test_statuses_as_their_meaning_requires() -> None:
    anc_error = observation("n1", "751-8", "2024-03-11", 0.2, "10*9/L", status="entered-in-error")
    anc_cancel = observation("n2", "751-8", "2024-03-11", 0.3, "10*9/L", status="cancelled")
    anc_prelim = observation("n3", "751-8", "2024-03-12", 0.4, "10*9/L", status="preliminary")
    anc_unknown = observation("n4", "751-8", "2024-03-13", 0.4, "10*9/L", status="unknown")
    result = fhir.bundle_to_course(
        searchset(anc_error, anc_cancel, anc_prelim, anc_unknown),
        regimen=REGIMEN,
        start="2024-03-04",
        allow_loss=True,
    )
    anc = [e for e in result.course["events"] if e.get("code") == "ANC"]
    assert [(e["date"], e["value"]) for e in anc] == [("2024-03-12", 0.4)]  # the preliminary one
    assert any("preliminary result used" in w for w in result.warnings)
    assert len(result.ignored) == 2  # never valid: not data, not lost
    assert len(result.lost) == 1
    assert "unknown" in result.lost[0]
    # Without --allow-loss the unknown status stops the import.
    with pytest.raises(DocumentError):
        fhir.bundle_to_course(searchset(anc_unknown), regimen=REGIMEN, start="2024-03-04")


def test_a_lab_bound_is_not_a_value() -> None:
    anc = observation("n1", "751-8", "2024-03-11", 0.1, "10*9/L")
    anc["valueQuantity"]["comparator"] = "<"
    result = fhir.bundle_to_course(
        searchset(anc), regimen=REGIMEN, start="2024-03-04", allow_loss=True
    )
    assert not [e for e in result.course["events"] if e["type"] == "lab"]
    assert "is a bound, not a value" in result.lost[0]


def test_ehr_autoimmune_condition_adverse_event_and_antiviral_statement() -> None:
    aiha = {
        "resourceType": "Condition",
        "id": "aiha",
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "13601005"}]},
        "subject": {"reference": "Patient/eRX7pQ"},
        "onsetDateTime": "2024-03-20",
    }
    reaction = {
        "resourceType": "AdverseEvent",
        "id": "ir",
        "actuality": "actual",
        "extension": [
            {"url": "http://cllcds.example/fhir/StructureDefinition/ctcae-grade", "valueInteger": 3}
        ],
        "event": {"text": "Infusion related reaction"},
        "subject": {"reference": "Patient/eRX7pQ"},
        "date": "2024-03-05T11:00:00Z",
    }
    valgan = {
        "resourceType": "MedicationStatement",
        "id": "vgc",
        "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "275891"}]},
        "subject": {"reference": "Patient/eRX7pQ"},
        "effectivePeriod": {"start": "2024-03-04"},
    }
    doc = fhir.bundle_to_course(
        searchset(aiha, reaction, valgan), regimen=REGIMEN, start="2024-03-04"
    ).course
    by_type = {e["type"]: e for e in doc["events"]}
    assert by_type["autoimmune_cytopenia"] == {
        "date": "2024-03-20",
        "type": "autoimmune_cytopenia",
        "kind": "haemolytic anaemia",
    }
    assert by_type["infusion_reaction"]["grade"] == 3
    assert by_type["antiviral"] == {
        "date": "2024-03-04",
        "type": "antiviral",
        "drug": "valganciclovir",
        "start": "2024-03-04",
    }
    assert services.assess_course(doc)["status"] == "discontinued"  # AIHA discontinues


def test_an_adverse_event_without_a_grade_is_lost_not_ignored() -> None:
    """An EHR reaction cllcds cannot grade could be the one that must hold the dose."""
    ungraded = {
        "resourceType": "AdverseEvent",
        "id": "ae1",
        "actuality": "actual",
        "event": {"text": "Rigors during infusion"},
        "severity": {"text": "severe"},
        "subject": {"reference": "Patient/eRX7pQ"},
        "date": "2024-03-05",
    }
    result = fhir.bundle_to_course(
        searchset(ungraded), regimen=REGIMEN, start="2024-03-04", allow_loss=True
    )
    assert "AdverseEvent/ae1" in result.lost[0]


# ------------------------------------------------------------------------------------------
# The events and fields of issue 10 in FHIR elements (export, round trip, EHR import)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"
SNOMED = "http://snomed.info/sct"


def load(name: str) -> dict[str, Any]:
    with (EXAMPLES / name).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def event_resources(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The exported resources of the events, in event order."""
    bundle = fhir.course_to_bundle(doc).bundle
    by_seq: dict[int, dict[str, Any]] = {}
    for entry in bundle["entry"]:
        res = entry["resource"]
        for ext in res.get("extension") or []:
            if ext["url"].endswith("/course-element"):
                subs = {s["url"]: s for s in ext["extension"]}
                if subs["path"]["valueString"] == "events":
                    by_seq[subs["sequence"]["valueInteger"]] = res
    return [by_seq[i] for i in sorted(by_seq)]


def with_events(*events: dict[str, Any]) -> dict[str, Any]:
    doc = load("escalating.json")
    doc["events"] = [*doc["events"], *events]
    return doc


def round_trips(doc: dict[str, Any]) -> None:
    back = fhir.bundle_to_course(fhir.course_to_bundle(doc).bundle).course
    assert differences(doc, back) == []
    assert services.assess_course(back) == services.assess_course(doc)


def test_adverse_event_grade_seriousness_and_resolution_in_adverse_event_elements() -> None:
    doc = with_events(
        {
            "date": "2007-01-20",
            "time": "14:30",
            "type": "adverse_event",
            "id": "ae-1",
            "grade": 3,
            "term": "diarrhoea",
            "serious": True,
            "resolved": "2007-01-25",
        },
        {"date": "2007-01-26T09:15", "type": "resolved", "event_id": "ae-1"},
    )
    round_trips(doc)
    resources = event_resources(doc)
    ae, resolution = resources[-2], resources[-1]
    assert ae["resourceType"] == "AdverseEvent"
    assert ae["event"]["text"] == "diarrhoea"
    assert ae["seriousness"]["coding"][0]["code"] == "serious"
    assert ae["severity"]["coding"][0]["code"] == "severe"
    assert ae["outcome"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
        "code": "resolved",
        "display": "Resolved",
    }
    # the resolution is its own resource, pointing at the adverse event's resource
    assert resolution["resourceType"] == "Basic"
    assert resolution["created"] == "2007-01-26"
    (resolves,) = [e for e in resolution["extension"] if e["url"].endswith("/resolves-event")]
    target = next(s for s in resolves["extension"] if s["url"] == "target")
    bundle = fhir.course_to_bundle(doc).bundle
    urls = {e["resource"]["id"]: e["fullUrl"] for e in bundle["entry"]}
    assert target["valueReference"]["reference"] == urls[ae["id"]]


def test_autoimmune_kinds_carry_the_snomed_code_of_the_rule_table_with_display() -> None:
    for kind in (
        AutoimmuneKind.HAEMOLYTIC_ANAEMIA,
        AutoimmuneKind.THROMBOCYTOPENIA,
        AutoimmuneKind.EVANS_SYNDROME,
    ):
        assert SNOMED_AUTOIMMUNE[kind.value][0] == AUTOIMMUNE_KINDS[kind].snomed
    doc = with_events(
        {"date": "2007-01-20", "type": "autoimmune_cytopenia", "kind": "Evans' syndrome"},
        {"date": "2007-01-21", "type": "autoimmune_cytopenia", "kind": "warm AIHA"},
        {"date": "2007-01-22", "type": "autoimmune_cytopenia", "kind": "pure red cell aplasia"},
    )
    round_trips(doc)
    evans, aiha, prca = (r["code"] for r in event_resources(doc)[-3:])
    assert evans["text"] == "Evans' syndrome"  # the original text is kept
    assert evans["coding"][0] == {
        "system": SNOMED,
        "code": "95563006",
        "display": "Evans syndrome (disorder)",
    }
    assert aiha["coding"][0]["code"] == "13601005"
    # no confirmed SNOMED CT code: only the cllcds kind coding
    assert [c["code"] for c in prca["coding"]] == ["pure red cell aplasia"]


def test_progression_esa_prophylaxis_antiviral_fever_and_creatinine_elements() -> None:
    doc = with_events(
        {
            "date": "2007-01-20",
            "type": "fever",
            "temperature_c": 38.6,
            "duration_h": 36,
            "resolved": "2007-01-22",
        },
        {
            "date": "2007-01-20",
            "type": "esa",
            "drug": "darbepoetin alfa",
            "dose": 500,
            "dose_unit": "ug",
            "start": "2007-01-20",
        },
        {
            "date": "2007-01-20",
            "type": "prophylaxis",
            "agent": "pcp",
            "action": "not_tolerated",
            "drug": "co-trimoxazole",
            "dose_mg": 960,
            "frequency": "three times a week",
        },
        {
            "date": "2007-01-20",
            "type": "antiviral",
            "drug": "valganciclovir",
            "dose_mg": 450,
            "intent": "prophylaxis",
            "frequency": "twice daily",
        },
        {"date": "2007-01-21", "type": "lab", "code": "CREAT", "value": 97, "unit": "umol/L"},
        {
            "date": "2007-01-22",
            "type": "progression",
            "kind": "richter",
            "description": "DLBCL on node biopsy",
        },
        {"date": "2007-01-23", "type": "progression", "kind": "progressive disease"},
    )
    round_trips(doc)
    fever, esa, pcp, antiviral, creat, richter, pd = event_resources(doc)[-7:]
    assert {
        "url": "http://cllcds.example/fhir/StructureDefinition/fever-duration",
        "valueQuantity": {
            "value": 36,
            "unit": "h",
            "system": "http://unitsofmeasure.org",
            "code": "h",
        },
    } in fever["extension"]
    dose = esa["dosage"][0]["doseAndRate"][0]["doseQuantity"]
    assert (dose["value"], dose["code"]) == (500, "ug")
    assert pcp["status"] == "stopped"
    assert pcp["statusReason"][0]["text"] == "not tolerated"
    assert pcp["dosage"][0]["timing"]["code"]["text"] == "three times a week"
    assert antiviral["reasonCode"][0]["coding"][0]["code"] == "prophylaxis"
    assert creat["code"]["coding"][0]["system"] == LOINC
    assert creat["code"]["coding"][0]["code"] == "14682-9"  # the µmol/L LOINC code
    assert richter["resourceType"] == "Condition"
    assert richter["onsetDateTime"] == "2007-01-22"
    assert richter["code"]["text"] == "DLBCL on node biopsy"
    assert pd["resourceType"] == "Observation"
    assert pd["code"]["coding"][0]["code"] == "97509-4"
    assert pd["valueCodeableConcept"]["coding"][0]["code"] == "271299001"


def test_ehr_adverse_event_richter_condition_and_creatinine_import() -> None:
    ae = {
        "resourceType": "AdverseEvent",
        "id": "ae",
        "actuality": "actual",
        "extension": [
            {"url": "http://cllcds.example/fhir/StructureDefinition/ctcae-grade", "valueInteger": 3}
        ],
        "event": {"coding": [{"system": "http://snomed.info/sct", "display": "Diarrhea"}]},
        "seriousness": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
                    "code": "serious",
                }
            ]
        },
        "subject": {"reference": "Patient/eRX7pQ"},
        "date": "2024-03-12T10:00:00Z",
    }
    richter = {
        "resourceType": "Condition",
        "id": "rt",
        "code": {"text": "Richter transformation (DLBCL)"},
        "subject": {"reference": "Patient/eRX7pQ"},
        "onsetDateTime": "2024-03-20",
    }
    itp = {
        "resourceType": "Condition",
        "id": "itp",
        "code": {"coding": [{"system": SNOMED, "code": "2897005"}]},
        "subject": {"reference": "Patient/eRX7pQ"},
        "onsetDateTime": "2024-03-18",
    }
    creat = observation("cr", "14682-9", "2024-03-04", 88, "umol/L")
    doc = fhir.bundle_to_course(
        searchset(ae, richter, itp, creat), regimen=REGIMEN, start="2024-03-04"
    ).course
    by_type = {e["type"]: e for e in doc["events"]}
    assert by_type["adverse_event"] == {
        "date": "2024-03-12",
        "type": "adverse_event",
        "grade": 3,
        "term": "Diarrhea",
        "serious": True,
    }
    assert by_type["progression"] == {
        "date": "2024-03-20",
        "type": "progression",
        "kind": "richter",
    }
    assert by_type["autoimmune_cytopenia"]["kind"] == "thrombocytopenia"
    (cr,) = [e for e in doc["events"] if e.get("code") == "CREAT"]
    assert cr["unit"] == "mg/dL"  # 88 µmol/L in the document's creatinine unit
    assert cr["value"] == pytest.approx(88 / CREATININE_UMOL_PER_MG_DL)
    assert services.assess_course(doc)["status"] == "discontinued"


MCODE_STATUS = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-disease-status"


def test_response_assessment_is_an_mcode_cancer_disease_status_observation() -> None:
    doc = load("completed-partial-response.json")
    state = services.assess_course(doc)
    bundle = fhir.course_to_bundle(doc).bundle
    (status,) = [
        e["resource"]
        for e in bundle["entry"]
        if MCODE_STATUS in (e["resource"].get("meta") or {}).get("profile", [])
    ]
    assert status["status"] == "final"  # not provisional
    assert status["code"]["coding"] == [
        {"system": LOINC, "code": "97509-4", "display": "Cancer disease progression"}
    ]
    assert status["effectiveDateTime"] == state["response"]["date"]
    cll = next(e["fullUrl"] for e in bundle["entry"] if e["resource"].get("id") == "cll")
    assert status["focus"] == [{"reference": cll}]
    trend, category = status["valueCodeableConcept"]["coding"]
    assert trend == {
        "system": SNOMED,
        "code": "268910001",
        "display": "Patient's condition improved (finding)",
    }
    assert category["code"] == state["response"]["category"] == "PR"
    # derived: reading the bundle back recomputes it, it is not an input
    back = fhir.bundle_to_course(bundle)
    assert any("Observation/response-status" in w and "derived" in w for w in back.warnings)
    assert differences(doc, back.course) == []


def test_ehr_disease_status_worsened_is_a_progression_others_are_not_inputs() -> None:
    def status(rid: str, snomed: str) -> dict[str, Any]:
        return observation(
            rid,
            "97509-4",
            "2024-03-20",
            valueCodeableConcept={"coding": [{"system": SNOMED, "code": snomed}]},
        )

    result = fhir.bundle_to_course(
        searchset(status("pd", "271299001"), status("ok", "268910001")),
        regimen=REGIMEN,
        start="2024-03-04",
        allow_loss=True,
    )
    assert [e for e in result.course["events"] if e["type"] == "progression"] == [
        {"date": "2024-03-20", "type": "progression", "kind": "progressive disease"}
    ]
    assert any("Observation/ok" in x and "other than worsened" in x for x in result.ignored)
