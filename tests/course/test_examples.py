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
    """Serious infection: withhold until resolution (L3, E1). The fever that day has no ANC
    within 2 days, so febrile neutropenia cannot be excluded: held for review too (fail
    closed)."""
    s = state("serious-infection")
    assert s["status"] == "on_hold"
    assert s["next_dose"] is None
    assert sorted(s["hold"]["kinds"]) == ["review", "serious_infection"]


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


# --- issue 10: the engine fails closed -------------------------------------------------------


def alert_codes(s: dict) -> set[str]:
    return {a["code"] for a in s["alerts"]}


def test_same_day_two_anc_uses_the_worse():
    """Two untimed ANC results on one day (0.4 and 0.2 × 10⁹/L): the lower decides, so the
    trigger "ANC < 250/µL" (L3 §2.3, first occurrence: withhold) applies and no dose is proposed
    (issue 10: this course used to give "next dose 30 mg")."""
    s = state("same-day-two-anc")
    assert s["status"] == "on_hold"
    assert s["next_dose"] is None
    assert s["hold"]["kinds"] == ["cytopenia"]
    assert "same-day-results" in alert_codes(s)


def test_dose_on_the_day_of_a_triggering_lab_without_times():
    """A dose on the day ANC 0.2 × 10⁹/L withholds (L3 §2.3), with no times: "dose possibly given
    during a hold: record times"; with times showing the dose before the result, no flag."""
    s = state("dose-on-trigger-day")
    assert s["status"] == "on_hold"
    assert "dose-possibly-during-hold" in alert_codes(s)
    s = state("dose-after-trigger-timed")  # dose 07:30, result 08:10
    assert s["status"] == "on_hold"
    assert not alert_codes(s) & {"dose-possibly-during-hold", "dose-during-hold"}


@pytest.mark.parametrize("name", ["evans-syndrome", "warm-aiha"])
def test_evans_syndrome_and_warm_aiha_discontinue(name):
    """L3 §2.3 and E1: "autoimmune anemia or autoimmune thrombocytopenia: discontinue"; Evans
    syndrome is both. Issue 10: these free texts used to leave the course active at 30 mg."""
    s = state(name)
    assert s["status"] == "discontinued"
    assert s["next_dose"] is None


def test_an_unrecognised_autoimmune_kind_withholds_pending_review():
    """Free text that is no known kind never lets dosing continue (fail closed): the course is
    held for review, the decision is indeterminate and a due action asks for the coded kind."""
    s = state("autoimmune-unrecognised")
    assert s["status"] == "on_hold"
    assert s["next_dose"] is None
    assert s["hold"]["kinds"] == ["review"]
    decisions = {d["rule"]: d for d in s["decisions"]}
    assert decisions["autoimmune.discontinue"]["status"] == "indeterminate"
    assert decisions["dosing.next"]["status"] == "indeterminate"
    assert any(a["code"] == "resolve-review" for a in s["next_actions"])


def test_pure_red_cell_aplasia_withholds_pending_review():
    """L5 (warnings: cytopenias): autoimmune cytopenias, no data on resuming; a kind other than
    anaemia or thrombocytopenia withholds pending the clinician's review."""
    s = state("pure-red-cell-aplasia")
    assert s["status"] == "on_hold"
    assert s["hold"]["kinds"] == ["autoimmune_cytopenia"]


def test_febrile_neutropenia_withholds():
    """L3 §2.3 / E1: serious adverse reaction → withhold until resolution; CTCAE v5 (C1) febrile
    neutropenia: ANC < 1,000/mm³ with a single temperature > 38.3 °C. Issue 10: this used to
    propose 30 mg the same day."""
    s = state("febrile-neutropenia-hold")
    assert s["status"] == "on_hold"
    assert s["next_dose"] is None
    assert s["hold"]["kinds"] == ["febrile_neutropenia"]
    assert "febrile-neutropenia" in alert_codes(s)


def test_grade_3_adverse_event_withholds_until_resolved():
    """L3 §2.3 / E1 ("interrupted until the event resolves"): a grade 3 non-haematological
    adverse event withholds; the 'resolved' event naming it ends the hold."""
    s = state("adverse-event-grade3-unresolved")
    assert s["status"] == "on_hold"
    assert s["hold"]["kinds"] == ["adverse_event"]
    assert any(a["code"] == "resolve-adverse_event" for a in s["next_actions"])
    s = state("adverse-event-grade3-resolved")
    assert s["status"] == "active"
    assert s["next_dose"]["date"] >= "2007-01-23"  # the resolution date, 2007-01-23


def test_richter_transformation_needs_reassessment():
    """PD includes Richter transformation (S1, S2; iwCLL G2): a critical alert and a due action
    to reassess therapy; alemtuzumab is withheld until the clinician's review is recorded."""
    s = state("richter-transformation")
    assert s["status"] == "on_hold"
    assert "progression" in alert_codes(s)
    assert any(a["code"] == "reassess-therapy" for a in s["next_actions"])


def test_flucam_cycle_2_after_a_gap_shows_label_and_regimen_side_by_side():
    """Boxed warning (L4; L1, L7): re-escalate after an interruption of 7 days or more; FluCam
    (seed, Elter 2005) gives 30 mg on days 1-3 of each 28-day course: the alert cites both."""
    s = state("flucam-gap")
    gap = [a for a in s["alerts"] if a["code"] == "re-escalation-required"]
    assert gap
    assert "L4" in gap[0]["message"]
    assert "seed" in gap[0]["message"]
    assert "Elter" in gap[0]["message"] or "days 1" in gap[0]["message"]


def test_the_label_schedule_is_never_flagged_nor_shortened():
    """L1: 3, 10, 30 mg on days 1-3, then 30 mg three times a week; 90 mg per week (L1, L4),
    weeks counted from day 1: the labelled schedule passes with no ceiling alert (issue 10:
    day 8 used to be skipped and every later state carried a critical ceiling alert)."""
    s = state("label-schedule-ceiling")
    assert s["status"] == "active"
    assert "weekly-ceiling" not in alert_codes(s)
    assert s["next_dose"]["date"] == "2007-01-29"  # Monday of week 4
    assert s["next_dose"]["dose_mg"] == 30


def test_a_make_up_dose_over_90_mg_in_a_treatment_week_is_refused():
    """A fourth 30 mg dose in treatment week 2 makes 120 mg > 90 mg per week (L1, L4, L6)."""
    s = state("make-up-dose-over-ceiling")
    ceiling = [a for a in s["alerts"] if a["code"] == "weekly-ceiling"]
    assert ceiling
    assert ceiling[0]["severity"] == "critical"
    assert s["next_dose"]["date"] >= "2007-01-22"  # not before treatment week 3


def test_a_recovery_and_refall_with_no_dose_between_is_one_occurrence():
    """L3 §2.3 counts occurrences; an occurrence ends with a resumed dose, so ANC 0.2 → 0.7 →
    0.2 with no dose between is still the first occurrence (resume at 30 mg, not 10 mg)."""
    s = state("cytopenia-refall-same-occurrence")
    assert s["status"] == "on_hold"
    assert s["haematologic_toxicity_occurrences"] == 1


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
