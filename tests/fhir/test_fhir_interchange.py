"""FHIR R4 import and export, checked with the R4B models of fhir.resources (never R5).

The realistic bundle ``data/cll-patient-bundle.json`` is an EHR search-set export of one CLL
patient: two Conditions (CLL coded in SNOMED CT and ICD-10-CM; hypertension), height and weight
(one in pounds), a baseline and six weekly blood counts in mixed units (/uL, 10*9/L, 10*3/uL,
g/L, g/dL), a creatinine, weekly CMV PCR (the last one positive), and the alemtuzumab
3 → 10 → 30 mg escalation followed by 30 mg three times a week, each with an acetaminophen
premedication.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from cllcds import fhir, services
from cllcds.cli import main
from cllcds.domain import DocumentError, InputError, LabCode, LabUnit

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"
REGIMEN = "alemtuzumab-iv-label"


def load(name: str) -> Any:
    with (DATA / name).open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture
def bundle() -> dict[str, Any]:
    return load("cll-patient-bundle.json")


def entry_index(bundle: dict[str, Any], rid: str) -> int:
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"].get("id") == rid)


def resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


# ------------------------------------------------------------------------------------------
# Import


def test_import_realistic_bundle(bundle: dict[str, Any]) -> None:
    result = fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True)
    doc = result.course
    assert doc["format"] == "cllcds.course/1"
    assert doc["regimen"] == REGIMEN
    assert doc["start_date"] == "2024-03-04"  # first alemtuzumab administration
    assert any("start date 2024-03-04 assumed" in a for a in result.assumptions)
    p = doc["patient"]
    assert (p["id"], p["sex"], p["birth_date"]) == ("cll-042", "male", "1944-03-12")
    assert p["diagnosis"] == "B-CLL, relapsed after fludarabine"
    assert p["height_cm"] == 175.0
    # 176.4 [lb_av] × 0.45359237 kg/lb = 80.01 kg: the weight on or before the start wins.
    assert p["weight_kg"] == pytest.approx(80.01)
    base = {lab["code"]: lab["value"] for lab in doc["baseline"]["labs"]}
    assert doc["baseline"]["date"] == "2024-02-28"
    # 85600 /uL → 85.6 10*9/L; 2100 /uL → 2.1; 98 10*3/uL → 98; 104 g/L → 10.4 g/dL.
    # Creatinine (LOINC 2160-0, 1.1 mg/dL) is a lab since issue 10 (creatinine clearance).
    assert base == {"WBC": 85.6, "ALC": 78.2, "ANC": 2.1, "PLT": 98.0, "HGB": 10.4, "CREAT": 1.1}
    events = doc["events"]
    labs = [e for e in events if e["type"] == "lab"]
    assert len(labs) == 30  # six weekly counts of five labs
    doses = [e for e in events if e["type"] == "dose"]
    assert [d["dose_mg"] for d in doses[:4]] == [3, 10, 30, 30]
    assert {d["route"] for d in doses} == {"iv"}
    assert len(doses) == 3 + 15  # escalation, then Mon/Wed/Fri from 2024-03-11
    cmv = [e for e in events if e["type"] == "cmv_pcr"]
    assert len(cmv) == 7
    assert cmv[-1] == {"date": "2024-04-15", "type": "cmv_pcr", "value": 2400, "unit": "[IU]/mL"}
    assert all("result" in c for c in cmv[:-1])
    assert [e["date"] for e in events] == sorted(e["date"] for e in events)
    services.load_course(doc)  # a valid course document


def test_import_units_are_canonical(bundle: dict[str, Any]) -> None:
    doc = fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True).course
    for lab in [e for e in doc["events"] if e["type"] == "lab"] + doc["baseline"]["labs"]:
        assert lab["unit"] == LabCode(lab["code"]).canonical_unit.value
    anc = {e["date"]: e["value"] for e in doc["events"] if e.get("code") == "ANC"}
    assert anc["2024-04-15"] == 0.2  # 200 /uL
    assert anc["2024-03-25"] == 1.2  # 1.2 10*3/uL
    plt = {e["date"]: e["value"] for e in doc["events"] if e.get("code") == "PLT"}
    assert plt["2024-03-25"] == 71.0  # 71000 /uL


def test_import_warns_about_what_it_does_not_use(bundle: dict[str, Any]) -> None:
    result = fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True)
    warnings = result.ignored
    assert result.lost == ()
    text = "\n".join(warnings)
    assert "entry[2] (Condition/htn)" in text
    # Creatinine (LOINC 2160-0) is used since issue 10 (creatinine clearance): not warned about.
    assert "Observation/creat-20240228" not in text
    assert "apap-20240304" in text  # the premedication is reported, not silently dropped
    assert len(warnings) == 1 + 18  # hypertension, 18 acetaminophen doses


def test_imported_course_replays_to_a_hold(bundle: dict[str, Any]) -> None:
    state = services.assess_course(
        fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True).course
    )
    assert state["status"] == "on_hold"
    assert set(state["hold"]["kinds"]) == {"cytopenia", "cmv"}
    assert state["cmv"]["status"] == "positive"


def test_implausible_unit_names_the_entry(bundle: dict[str, Any]) -> None:
    i = entry_index(bundle, "cbc-20240325-plt")  # 71000 /uL
    bundle["entry"][i]["resource"]["valueQuantity"]["code"] = "10*9/L"
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True)
    (problem,) = exc.value.problems
    assert problem.field == f"entry[{i}] (Observation/cbc-20240325-plt).valueQuantity"
    assert "did you mean /uL" in problem.fix


def test_every_bad_observation_is_reported(bundle: dict[str, Any]) -> None:
    i = entry_index(bundle, "cbc-20240311-anc")
    j = entry_index(bundle, "cbc-20240318-hgb")
    k = entry_index(bundle, "cbc-20240401-wbc")
    bundle["entry"][i]["resource"]["valueQuantity"]["code"] = "mg/dL"  # not a count unit
    bundle["entry"][j]["resource"]["valueQuantity"]["value"] = 990  # g/L typed for 99 g/L
    del bundle["entry"][k]["resource"]["valueQuantity"]["system"]  # not UCUM
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True)
    fields = [p.field for p in exc.value.problems]
    assert fields[0].startswith(f"entry[{i}] (Observation/cbc-20240311-anc)")
    assert fields[1] == f"entry[{j}] (Observation/cbc-20240318-hgb).valueQuantity"
    assert fields[2] == f"entry[{k}] (Observation/cbc-20240401-wbc).valueQuantity.code"
    assert "UCUM" in exc.value.problems[2].fix


def test_r5_only_construct_is_rejected(bundle: dict[str, Any]) -> None:
    """R5 MedicationAdministration: ``medication`` is a CodeableReference and ``occurence[x]``
    replaces ``effective[x]``; the R4B model refuses both (R5 models would accept them)."""
    i = entry_index(bundle, "alem-20240304")
    res = bundle["entry"][i]["resource"]
    res["medication"] = {"concept": res.pop("medicationCodeableConcept")}
    res["occurenceDateTime"] = res.pop("effectivePeriod")["start"]
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True)
    (problem,) = exc.value.problems
    assert problem.field.startswith(f"entry[{i}] (MedicationAdministration/alem-20240304)")
    assert "R4" in problem.fix


def test_r4b_parse_error_names_the_entry(bundle: dict[str, Any]) -> None:
    i = entry_index(bundle, "height-1")
    del bundle["entry"][i]["resource"]["status"]
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True)
    assert exc.value.problems[0].field == f"entry[{i}] (Observation/height-1).status"


def test_not_a_bundle_is_refused() -> None:
    with pytest.raises(InputError, match="Bundle"):
        fhir.bundle_to_course({"resourceType": "Patient", "id": "x"}, regimen=REGIMEN)


def test_unknown_regimen_is_an_error(bundle: dict[str, Any]) -> None:
    with pytest.raises(DocumentError) as exc:
        fhir.bundle_to_course(bundle, regimen="no-such-regimen", allow_loss=True)
    assert any(p.field == "regimen" for p in exc.value.problems)


def test_not_done_administration_is_a_dose_held(bundle: dict[str, Any]) -> None:
    i = entry_index(bundle, "alem-20240412")
    res = bundle["entry"][i]["resource"]
    res["status"] = "not-done"
    res["statusReason"] = [{"text": "patient declined"}]
    doc = fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True).course
    held = [e for e in doc["events"] if e["type"] == "dose_held"]
    assert held == [{"date": "2024-04-12", "type": "dose_held", "reason": "patient declined"}]


# ------------------------------------------------------------------------------------------
# Export and round trip


def _assert_r4b(bundle: dict[str, Any]) -> None:
    Bundle.model_validate(bundle)
    for e in bundle["entry"]:
        res = e["resource"]
        get_fhir_model_class(res["resourceType"]).model_validate(res)


def test_round_trip_course_bundle_course(bundle: dict[str, Any]) -> None:
    course = fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True).course
    exported = fhir.course_to_bundle(course)
    assert exported.warnings == ()
    _assert_r4b(exported.bundle)
    again = fhir.bundle_to_course(exported.bundle)  # regimen and start from the CarePlan
    assert again.assumptions == ()
    back = again.course
    for key in ("patient", "regimen", "start_date", "baseline"):
        assert back[key] == course[key], key
    assert back["events"] == course["events"]
    assert services.assess_course(back) == services.assess_course(course)


def services_lab(code: LabCode, value: float, unit: LabUnit) -> float:
    from cllcds.domain import LabResult

    return LabResult.of(code, value, unit).value


def test_export_plan_and_alerts(bundle: dict[str, Any]) -> None:
    course = fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True).course
    out = fhir.course_to_bundle(course).bundle
    urls = {
        e["resource"]["resourceType"] + "/" + e["resource"]["id"]: e["fullUrl"]
        for e in out["entry"]
    }
    (careplan,) = resources(out, "CarePlan")
    (rg,) = resources(out, "RequestGroup")
    assert careplan["status"] == "on-hold"
    assert careplan["instantiatesCanonical"] == [
        "http://cllcds.example/fhir/PlanDefinition/" + REGIMEN
    ]
    assert careplan["activity"][0]["reference"]["reference"] == urls["RequestGroup/plan"]
    assert rg["status"] == "on-hold"
    assert any("Resume when" in n["text"] for n in rg["note"])
    issues = resources(out, "DetectedIssue")
    state = services.assess_course(course)
    assert len(issues) == len(state["alerts"]) > 0
    mapping = {"critical": "high", "warning": "moderate", "info": "low"}
    for issue, alert in zip(issues, state["alerts"], strict=True):
        assert issue["severity"] == mapping[alert["severity"]]
        assert alert["message"] in issue["detail"]
        assert "Source: " in issue["detail"]
    # No R5 names: RequestGroup (R5: RequestOrchestration), medicationCodeableConcept.
    text = json.dumps(out)
    assert "RequestOrchestration" not in text
    for ma in resources(out, "MedicationAdministration"):
        assert "medication" not in ma
        assert ma["medicationCodeableConcept"]["coding"][0]["code"] == "117055"


def test_export_next_dose_as_medication_request() -> None:
    with (EXAMPLES / "escalating.json").open(encoding="utf-8") as fh:
        doc = json.load(fh)
    out = fhir.course_to_bundle(doc).bundle
    (mr,) = resources(out, "MedicationRequest")
    (rg,) = resources(out, "RequestGroup")
    di = mr["dosageInstruction"][0]
    assert di["doseAndRate"][0]["doseQuantity"] == {
        "value": 10,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert di["timing"]["event"] == ["2007-01-09"]
    assert mr["intent"] == "proposal"
    mr_url = next(e["fullUrl"] for e in out["entry"] if e["resource"] is mr)
    assert rg["action"][0]["resource"]["reference"] == mr_url


def test_exported_observation_units_are_ucum(bundle: dict[str, Any]) -> None:
    course = fhir.bundle_to_course(bundle, regimen=REGIMEN, allow_loss=True).course
    out = fhir.course_to_bundle(course).bundle
    for obs in resources(out, "Observation"):
        q = obs.get("valueQuantity")
        if q is not None:
            assert q["system"] == "http://unitsofmeasure.org"
            units = {"10*9/L", "g/dL", "/uL", "cm", "kg", "[IU]/mL", "{copies}/mL", "mg/dL"}
            assert q["code"] in units  # mg/dL: creatinine (issue 10)


# ------------------------------------------------------------------------------------------
# PlanDefinition


def test_plandefinition_label_regimen() -> None:
    pd = fhir.regimen_to_plandefinition(REGIMEN)
    get_fhir_model_class("PlanDefinition").model_validate(pd)
    assert pd["url"] == "http://cllcds.example/fhir/PlanDefinition/" + REGIMEN
    assert pd["version"]
    assert pd["type"]["coding"][0]["code"] == "order-set"
    (cycle, *supportive) = pd["action"]
    regimen_ads = {a["definitionCanonical"].lstrip("#") for a in cycle["action"]}
    ads = {ad["id"]: ad for ad in pd["contained"] if ad["id"] in regimen_ads}
    doses = [ad["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"] for ad in ads.values()]
    assert doses[:3] == [3, 10, 30]
    for ad in ads.values():
        assert ad["productCodeableConcept"]["coding"][0]["code"] == "117055"
        assert ad["relatedArtifact"][0]["type"] == "citation"
    assert len(supportive) == 4  # premedication, PCP and herpes prophylaxis, monitoring
    offsets = [a["relatedAction"][0]["offsetDuration"]["value"] for a in cycle["action"]]
    assert offsets[:3] == [0, 1, 2]
    assert all(a["definitionCanonical"].lstrip("#") in ads for a in cycle["action"])
    tiw = [a for a in cycle["action"] if "repeat" in a["timingTiming"]]
    assert tiw
    assert tiw[0]["timingTiming"]["repeat"]["frequency"] == 3
    assert tiw[0]["timingTiming"]["repeat"]["periodUnit"] == "wk"


@pytest.mark.parametrize("regimen_id", sorted(r.id for r in services.regimen_list()))
def test_every_regimen_is_a_valid_plandefinition(regimen_id: str) -> None:
    pd = fhir.regimen_to_plandefinition(regimen_id)
    get_fhir_model_class("PlanDefinition").model_validate(pd)
    for ad in pd["contained"]:
        if "doseAndRate" not in ad.get("dosage", [{}])[0]:
            continue  # supportive care: dosage as text
        q = ad["dosage"][0]["doseAndRate"][0]["doseQuantity"]
        assert q["system"] == "http://unitsofmeasure.org"
        if q["code"] == "mg/m2":
            assert "calculated from BSA" in ad["dosage"][0]["text"]


# ------------------------------------------------------------------------------------------
# CLI


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (0 if code is None else int(code)), out, err


def test_cli_import_export_plandefinition(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Without --allow-loss the import refuses a bundle with resources it would drop, naming each.
    code, out, err = run(
        capsys, "fhir", "import", str(DATA / "cll-patient-bundle.json"), "--regimen", REGIMEN
    )
    assert code == 2
    assert out == ""
    assert "Condition/htn" in err
    assert "apap-20240304" in err
    assert "--allow-loss" in err
    code, out, err = run(
        capsys,
        "fhir",
        "import",
        str(DATA / "cll-patient-bundle.json"),
        "--regimen",
        REGIMEN,
        "--allow-loss",
    )
    assert code == 0
    assert "dropped (not used): entry[2] (Condition/htn)" in err
    assert json.loads(out)["start_date"] == "2024-03-04"
    assert "warning: assumed: start date 2024-03-04" in err
    assert "Condition/htn" in err
    course = tmp_path / "course.json"
    code, _, _ = run(
        capsys,
        "fhir",
        "import",
        str(DATA / "cll-patient-bundle.json"),
        "--regimen",
        REGIMEN,
        "--start",
        "2024-03-04",
        "--allow-loss",
        "--out",
        str(course),
    )
    assert code == 0
    bundle_path = tmp_path / "bundle.json"
    code, out, _ = run(capsys, "fhir", "export", str(course), "--out", str(bundle_path))
    assert code == 0
    assert out == ""
    _assert_r4b(json.loads(bundle_path.read_text(encoding="utf-8")))
    code, out, _ = run(capsys, "fhir", "plandefinition", REGIMEN)
    assert code == 0
    assert json.loads(out)["resourceType"] == "PlanDefinition"


def test_cli_bad_bundle_is_one_line_per_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: dict[str, Any]
) -> None:
    bad = copy.deepcopy(bundle)
    i = entry_index(bad, "cbc-20240325-plt")
    bad["entry"][i]["resource"]["valueQuantity"]["code"] = "10*9/L"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    code, out, err = run(capsys, "fhir", "import", str(path), "--regimen", REGIMEN)
    assert code == 2
    assert out == ""
    assert f"entry[{i}] (Observation/cbc-20240325-plt).valueQuantity" in err
    assert "Traceback" not in err


def test_plandefinition_run_in_and_relative_dose() -> None:
    """FCC (Montillo 2007): SC alemtuzumab 3 → 10 mg run-in, then 28-day cycles of oral
    fludarabine 40 mg/m2 and cyclophosphamide 250 mg/m2 on days 1-3."""
    pd = fhir.regimen_to_plandefinition("fcc")
    run_in, cycle1, *rest = pd["action"]
    assert run_in["id"] == "run-in"
    assert [a["title"].split(",")[0] for a in run_in["action"]] == [
        "Alemtuzumab 3 mg SC",
        "Alemtuzumab 10 mg SC",
    ]
    assert cycle1["relatedAction"] == [{"actionId": "run-in", "relationship": "after-end"}]
    assert rest[0]["relatedAction"] == [{"actionId": "cycle-1", "relationship": "after-end"}]
    ads = {ad["id"]: ad for ad in pd["contained"]}
    flu = next(a for a in cycle1["action"] if a["title"].startswith("Fludarabine"))
    assert flu["timingTiming"]["repeat"] == {
        "count": 3,
        "frequency": 1,
        "period": 1,
        "periodUnit": "d",
    }
    dose = ads[flu["definitionCanonical"][1:]]["dosage"][0]
    assert dose["doseAndRate"][0]["doseQuantity"]["code"] == "mg/m2"
    assert ads[flu["definitionCanonical"][1:]]["productCodeableConcept"]["coding"][0]["code"] == (
        "24698"
    )


def test_plandefinition_is_cpg_style_with_supportive_care_and_bsa_dynamic_value() -> None:
    pd = fhir.regimen_to_plandefinition(REGIMEN)
    assert pd["url"].startswith("http://")
    titles = [a["title"] for a in pd["action"]]
    assert titles[1:] == [
        "Premedication (30 minutes before the infusion)",
        "Prophylaxis: PCP",
        "Prophylaxis: HERPES",
        "Monitoring",
    ]
    contained = {c["id"]: c for c in pd["contained"]}
    for group in pd["action"][1:]:
        for sub in group["action"]:
            assert sub["definitionCanonical"][1:] in contained
    premed = [contained[s["definitionCanonical"][1:]] for s in pd["action"][1]["action"]]
    assert {p["productCodeableConcept"]["text"] for p in premed} == {
        "diphenhydramine",
        "acetaminophen",
    }
    monitoring = [contained[s["definitionCanonical"][1:]] for s in pd["action"][-1]["action"]]
    assert all(m["kind"] == "ServiceRequest" for m in monitoring)
    assert any("CMV PCR" in m["title"] for m in monitoring)
    # A BSA-based dose is computed at order time: the dynamicValue says how.
    fcc = fhir.regimen_to_plandefinition("fcc")
    relative = [
        c
        for c in fcc["contained"]
        if c.get("dosage")
        and c["dosage"][0].get("doseAndRate")
        and c["dosage"][0]["doseAndRate"][0]["doseQuantity"]["code"] == "mg/m2"
    ]
    assert relative
    for ad in relative:
        (dv,) = ad["dynamicValue"]
        dose = ad["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"]
        assert dv["expression"]["expression"] == f"{dose:g} * %bsa"
        assert dv["path"] == "dosage[0].doseAndRate[0].doseQuantity"
