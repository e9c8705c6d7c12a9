"""The example course documents in ``examples/courses`` decide what their names say.

Each example is a realistic course; the expectations restate the rule that decides it.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cllcds.course import course_schema
from cllcds.services import assess_course

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"


def state(name: str) -> dict:
    return assess_course(json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_is_valid_against_the_json_schema(path: Path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(course_schema()).validate(doc)


def test_the_schema_is_itself_valid():
    jsonschema.Draft202012Validator.check_schema(course_schema())


def test_the_schema_refuses_an_unknown_event_key():
    doc = json.loads((EXAMPLES / "escalating.json").read_text(encoding="utf-8"))
    doc["events"][0]["dose"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(course_schema()).validate(doc)


def test_escalating():
    """3 mg tolerated (grade 1): 10 mg the next day with premedication (L1)."""
    s = state("escalating")
    assert s["status"] == "active"
    assert (s["next_dose"]["date"], s["next_dose"]["dose_mg"]) == ("2007-01-09", 10)
    assert s["next_dose"]["premedication"]


def test_infusion_reaction_grade_3():
    s = state("infusion-reaction-grade-3")
    assert s["status"] == "on_hold"
    assert s["next_dose"] is None
    assert s["hold"]["kinds"] == ["infusion_reaction"]


def test_gap_re_escalation():
    """10 days without a dose: restart at 3 mg (L1, L4)."""
    s = state("gap-re-escalation")
    assert (s["next_dose"]["dose_mg"], s["next_dose"]["phase"]) == (3, "re-escalation")


def test_neutropenia_hold_and_resume():
    """ANC 0.2 × 10⁹/L: withhold (1st occurrence); recovered to ANC ≥ 500/µL and platelets
    ≥ 50,000/µL within 7 days of the last dose: resume at 30 mg (L3)."""
    s = state("neutropenia-hold")
    assert s["status"] == "on_hold"
    assert s["haematologic_toxicity_occurrences"] == 1
    assert s["grades"]["ANC"]["grade"] == 4
    s = state("neutropenia-resumed")
    assert s["status"] == "active"
    assert s["next_dose"]["dose_mg"] == 30
    s = state("neutropenia-recovered-after-gap")
    assert (s["next_dose"]["dose_mg"], s["next_dose"]["phase"]) == (3, "re-escalation")


def test_second_and_third_occurrence():
    s = state("cytopenia-second-occurrence")
    assert s["haematologic_toxicity_occurrences"] == 2
    assert s["next_dose"]["dose_mg"] == 10
    s = state("cytopenia-third-occurrence")
    assert s["status"] == "discontinued"
    assert "occurrence 3" in s["discontinued"]["reason"]


def test_baseline_low_neutrophils():
    """Baseline ANC 0.2 (≤ 250/µL): a fall to 0.09 (≥ 50 %) withholds."""
    s = state("baseline-low-neutrophils")
    assert s["status"] == "on_hold"
    assert "back to baseline" in s["hold"]["resume_when"]


def test_serious_infection():
    s = state("serious-infection")
    assert s["hold"]["kinds"] == ["serious_infection"]


def test_autoimmune_haemolysis():
    s = state("autoimmune-haemolysis")
    assert s["status"] == "discontinued"


def test_cmv_preemptive_therapy():
    s = state("cmv-preemptive-therapy")
    assert s["cmv"]["status"] == "on_treatment"
    assert s["hold"]["kinds"] == ["cmv"]


def test_cmv_prophylaxis_policy():
    s = state("cmv-prophylaxis")
    assert s["rule_sets"]["cmv"] == "prophylaxis"
    assert s["status"] == "active"
    assert "cmv-prophylaxis-missing" not in {a["code"] for a in s["alerts"]}


def test_completed_with_partial_response():
    s = state("completed-partial-response")
    assert s["status"] == "completed"
    assert s["response"]["category"] == "PR"
    assert s["prophylaxis"]["pcp"]["active"] is True  # CD4 still below 200/µL
    assert any(a["code"] == "cd4" for a in s["next_actions"])


def test_reference_document():
    """The document of shared/reference/course-document.md: autoimmune haemolytic anaemia on
    2007-01-30 discontinues alemtuzumab (L3)."""
    s = state("reference-document")
    assert s["format"] == "cllcds.state/1"
    assert s["status"] == "discontinued"
    assert s["next_dose"] is None
    for key in ("as_of", "rule_sets", "escalation_step_mg", "hold", "cumulative_dose_mg",
                "grades", "prophylaxis", "cmv", "response", "alerts", "next_actions",
                "decisions"):  # fmt: skip
        assert key in s
    assert s["response"]["mrd_negative"] is True  # marrow 5e-5 < 1e-4


# --------------------------------------------------------------------------------------------
# Issue 10, part B: response and grading fidelity, what a clinician records
# --------------------------------------------------------------------------------------------


def doc(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def test_cr_untransfused_states_that_none_was_recorded():
    """iwCLL 2018 Table 4 (G5) CR: 'Hemoglobin ≥11.0 g/dL (untransfused and without
    erythropoietin)'. No transfusion or ESA in the 28 days before the Hb: taken as none, and
    the decision says so."""
    s = state("cr-untransfused")
    assert s["response"]["category"] == "CR"
    assert s["response"]["provisional"] is False
    assert (
        "No transfusion or erythropoiesis-stimulating agent recorded"
        in (s["response"]["rationale"])
    )


def test_cr_with_esa_is_not_a_cr():
    """The same course with darbepoetin 500 µg 14 days before the Hb: the Hb does not count
    (G5 'without erythropoietin'), so no CR; the nodes, organs and lymphocytes (3 group A) and
    the platelets (group B) still make a PR."""
    s = state("cr-with-esa")
    assert s["response"]["category"] == "PR"
    assert (
        "erythropoiesis-stimulating agent recorded in the 28 days before"
        in (s["response"]["rationale"])
    )
    esa_decision = next(d for d in s["decisions"] if d["rule"] == "response.iwcll-2018")
    assert esa_decision["inputs_used"]["erythropoietin (28 days before)"] is True


def test_an_esa_recorded_as_growth_factor_counts_too():
    """Older documents recorded epoetin as a growth_factor: it is an ESA all the same."""
    d = doc("cr-untransfused")
    d["events"].append({"date": "2007-05-28", "type": "growth_factor", "drug": "epoetin alfa"})
    assert assess_course(d)["response"]["category"] != "CR"


def test_pr_footnote_one_of_each():
    """G5 Table 4 PR footnote (issue 10): 'if only one parameter of group A and one of group B
    was abnormal before therapy, only one of each needs to improve'. Only the axillary node
    (30 mm) and the platelets (70 × 10⁹/L) were abnormal: node SPD -50 % and platelets 110 make
    a PR although the lymphocytes fell only 33 %."""
    s = state("pr-footnote-one-each")
    assert s["response"]["category"] == "PR"
    assert "only one parameter of each group was abnormal" in s["response"]["rationale"]
    d = doc("pr-footnote-one-each")
    d["rule_sets"]["response"] = "iwcll-2008"  # the 2008 rule (S4) has no such exception
    assert assess_course(d)["response"]["category"] == "SD"


def test_marrow_mrd_negative_establishes_no_cll_cells():
    """Most sensitive evidence (P13: MRD-negative < 10⁻⁴): a marrow MRD of 5 × 10⁻⁵ establishes
    G5's marrow CR cell 'no CLL cells' without a CLL-cell count; a marrow MRD of 2 × 10⁻⁴
    refutes it even when the morphology counts 0 % CLL cells."""
    s = state("marrow-mrd-negative")
    assert s["response"]["category"] == "CR"
    assert s["response"]["mrd_negative"] is True
    d = doc("marrow-mrd-negative")
    assessment = d["events"][-1]
    assessment["mrd"]["level"] = 0.0002
    assessment["marrow"]["cll_cells_pct"] = 0
    assert assess_course(d)["response"]["category"] != "CR"


def test_response_before_two_months_is_provisional():
    """iwCLL: response is assessed at least 2 months after the end of therapy (G6; NCI-WG S1
    likewise): CR criteria met 11 days after the last dose (2007-03-30) is provisional until
    2007-05-30, and the output says so."""
    s = state("response-provisional")
    r = s["response"]
    assert r["category"] == "CR"
    assert r["provisional"] is True
    assert r["confirm_on_or_after"] == "2007-05-30"
    assert "before 2007-05-30 (2 months after the last dose)" in r["provisional_reason"]
    decision = next(d for d in s["decisions"] if d["rule"] == "response.iwcll-2018")
    assert decision["status"] == "indeterminate"


def test_grades_latest_worst_and_nadir():
    """CTCAE v5.0 (C1) 'Platelet count decreased': the latest value 90 × 10⁹/L is grade 1
    ('<LLN - 75,000/mm3'), the worst of the course 40 × 10⁹/L grade 3 ('<50,000 - 25,000/mm3').
    iwCLL 2008 Table 5 (G4) grades the nadir: a fall from 98 to 40 is 59 %, grade 3 ('50-74 %')."""
    s = state("platelet-nadir")
    plt = s["grades"]["PLT"]
    assert (plt["grade"], plt["basis"], plt["value"]) == (1, "latest", 90)
    assert (plt["worst"], plt["worst_date"], plt["worst_value"]) == (3, "2007-01-22", 40)
    d = doc("platelet-nadir")
    d["rule_sets"]["toxicity"] = "iwcll-2008-haem"
    plt = assess_course(d)["grades"]["PLT"]
    assert (plt["grade"], plt["basis"], plt["value"], plt["date"]) == (3, "nadir", 40, "2007-01-22")
    assert plt["worst"] == 3


def test_cmv_prophylaxis_block_and_recorded_prophylaxis():
    """CMV policy 'prophylaxis' (seed; O'Brien 2008, P6: valganciclovir 450 mg twice daily): the
    prophylaxis block lists CMV with drug, dose, start and earliest stop. PCP prophylaxis not
    tolerated and herpes prophylaxis stopped during therapy are warned about: the label gives
    both until at least 2 months after the last dose (L1)."""
    s = state("cmv-prophylaxis-block")
    cmv = s["prophylaxis"]["cmv"]
    assert cmv["active"] is True
    assert cmv["drugs"] == ["valganciclovir"]
    assert cmv["dose"] == "450 mg twice daily"
    assert cmv["start"] == "2007-01-08"
    # While therapy runs: the planned end (day 84, 2007-04-01) + 2 months, as PCP / herpes (L1).
    assert cmv["earliest_stop"] == "2007-06-01"
    assert cmv["earliest_stop"] == s["prophylaxis"]["pcp"]["earliest_stop"]
    assert s["prophylaxis"]["pcp"]["recorded"] == "not_tolerated"
    assert s["prophylaxis"]["pcp"]["active"] is False
    assert s["prophylaxis"]["herpes"]["recorded"] == "stop"
    codes = {a["code"] for a in s["alerts"]}
    assert {"prophylaxis-pcp-not-tolerated", "prophylaxis-herpes-stopped-early"} <= codes
    # Creatinine 88 µmol/L (LOINC 14682-9 units), 58-year-old woman of 61 kg: CrCl 59.3 mL/min,
    # below the Valcyte table's 60 mL/min: the prevention dose is 450 mg once daily.
    assert s["renal"]["crcl_ml_min"] == 59.3
    assert "cmv-prophylaxis-renal-dose" in codes
    assert "450 mg PO once daily" in cmv["condition"]


def test_valganciclovir_renal_dose():
    """Valcyte renal table: 'CrCl 25-39: 450 mg once daily' (induction); Cytovene-IV: 'CrCl
    25-49: 2.5 mg/kg every 24 h'. Creatinine 1.6 mg/dL, 70 years, 60 kg, female: Cockcroft-Gault
    (140 - 70) × 60 / (72 × 1.6) × 0.85 = 31.0 mL/min."""
    s = state("valganciclovir-renal")
    assert s["renal"]["crcl_ml_min"] == 31.0
    action = next(a for a in s["next_actions"] if a["code"] == "cmv-treat")["action"]
    assert "valganciclovir 450 mg PO once daily" in action
    assert "ganciclovir 2.5 mg/kg (= 150 mg at 60 kg) IV every 24 hours" in action
    assert "900 mg" not in action


def test_cmv_action_without_creatinine_says_crcl_is_needed():
    """No creatinine recorded: the action names the normal-function doses and says creatinine
    clearance is needed to adjust them (fail closed: no silent default)."""
    s = state("cmv-preemptive-therapy")
    assert s["renal"]["status"] == "indeterminate"
    assert "creatinine clearance is needed" in s["cmv"]["action"]


def test_antiviral_intent_decides_how_an_antiviral_is_read():
    """An explicit intent wins over the timing inference: valganciclovir recorded as
    'prophylaxis' after a positive PCR is not treatment (the reactivation still needs
    pre-emptive therapy); recorded as 'treatment' it is treatment (and alemtuzumab is withheld
    while CMV is treated, the configurable default)."""
    d = doc("cmv-preemptive-therapy")
    antiviral = next(e for e in d["events"] if e["type"] == "antiviral")
    antiviral["intent"] = "prophylaxis"
    s = assess_course(d)
    assert s["cmv"]["status"] == "positive"
    assert "cmv-preemptive-therapy" in {a["code"] for a in s["alerts"]}
    antiviral["intent"] = "treatment"
    antiviral["frequency"] = "twice daily"
    s = assess_course(d)
    assert s["cmv"]["status"] == "on_treatment"
    assert "cmv" in s["hold"]["kinds"]


def test_cmv_prophylaxis_recorded_as_an_antiviral_fills_the_block():
    """An antiviral event (valganciclovir 450 mg from day 1) under the prophylaxis policy is the
    CMV prophylaxis; without a creatinine the block says the clearance is needed for the renal
    check."""
    cmv = state("cmv-prophylaxis")["prophylaxis"]["cmv"]
    assert (cmv["active"], cmv["drugs"], cmv["start"]) == (True, ["valganciclovir"], "2007-01-08")
    assert "Creatinine clearance is needed" in cmv["condition"]
