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
