"""Issue 10, part C: courses that must never yield a proposed dose.

Each case has an example in ``examples/courses`` and states its source or its named default
(docs/rules.md, "Engine safety (issue 10, part C)").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cllcds.course import parse_course, replay
from cllcds.course._replay import GRADE_5, GRADE_5_CITATION, HAEMATOLOGICAL_COUNTS
from cllcds.domain import ALEMTUZUMAB_MAX_SINGLE_DOSE_MG, DocumentError, LabCode
from cllcds.services import assess_course

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"


def doc(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def codes(s: dict, severity: str = "critical") -> set[str]:
    return {a["code"] for a in s["alerts"] if a["severity"] == severity}


def test_haematological_event_without_a_count_holds_for_the_count() -> None:
    """Default (fail closed): the dose-modification ladder (L1, L7) judges ANC and platelets, not
    an adverse-event term; "neutropenia grade 4" with no ANC on or after it withholds and asks
    for the count (it used to give 30 mg)."""
    assert HAEMATOLOGICAL_COUNTS["neutropenia"] == (LabCode.ANC,)
    assert HAEMATOLOGICAL_COUNTS["thrombocytopenia"] == (LabCode.PLT,)
    assert "lymphopenia" not in HAEMATOLOGICAL_COUNTS  # L3/E1: no modification for lymphopenia
    s = assess_course(doc("haematological-event-no-count"))
    assert s["status"] == "on_hold"
    assert s["next_dose"] is None
    assert s["hold"]["kinds"] == ["review"]
    assert "haematological-event-without-count" in codes(s)
    action = next(a for a in s["next_actions"] if a["code"] == "record-counts")
    assert "ANC" in json.dumps(action)
    decision = next(d for d in s["decisions"] if d["rule"] == "adverse-event.hold")
    assert decision["status"] == "indeterminate"
    assert decision["inputs_missing"] == ["ANC"]


def test_the_count_after_the_event_lets_the_ladder_judge() -> None:
    """ANC 1.4 and platelets 75 after the event: no ladder row applies (ANC < 0.25 or platelets
    <= 25, L1): dosing goes on."""
    s = assess_course(doc("haematological-event-count-recorded"))
    assert s["status"] == "active"
    assert s["next_dose"]["date"] == "2007-01-22"


def test_the_count_on_the_event_day_is_enough() -> None:
    d = doc("haematological-event-no-count")
    d["events"].append(
        {"date": "2007-01-20", "type": "lab", "code": "ANC", "value": 0.2, "unit": "10*9/L"}
    )
    s = assess_course(d)
    assert "haematological-event-without-count" not in codes(s)
    assert s["hold"]["kinds"] == ["cytopenia"]  # the ladder judges ANC 0.2 < 0.25 (L1)


def test_a_recorded_dose_above_30_mg_holds_until_corrected() -> None:
    """L1/L4: single doses above 30 mg are not to be given; 300 mg recorded is a typing error or
    an overdose: a critical alert and a review hold until a correction supersedes it."""
    assert ALEMTUZUMAB_MAX_SINGLE_DOSE_MG == 30
    s = assess_course(doc("dose-over-single-ceiling"))
    assert s["status"] == "on_hold"
    assert s["next_dose"] is None
    assert "single-dose-ceiling" in codes(s)
    assert "review" in s["hold"]["kinds"]
    fixed = assess_course(doc("dose-over-single-ceiling-corrected"))
    assert fixed["status"] == "active"
    assert "single-dose-ceiling" not in codes(fixed)


def test_a_recorded_review_ends_the_single_dose_hold() -> None:
    d = doc("dose-over-single-ceiling")
    d["events"].append({"date": "2007-01-21", "type": "resolved", "event_id": "dose-19"})
    s = assess_course(d)
    assert "review" not in (s["hold"] or {}).get("kinds", [])
    # The 300 mg stays on record: its treatment week is over 90 mg (L1, L4).
    assert "weekly-ceiling" in codes(s)
    assert s["next_dose"] is None or s["next_dose"]["date"] >= "2007-01-22"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "infection", "grade": 5, "description": "pneumonia"},
        {"type": "infusion_reaction", "grade": 5},
        {"type": "adverse_event", "grade": 5, "term": "diarrhoea"},
        {"type": "adverse_event", "grade": 5, "term": "neutropenia"},
    ],
)
def test_any_grade_5_event_discontinues(event: dict) -> None:
    """CTCAE v5.0 (C1): grade 5 is death related to the adverse event: the course is
    discontinued with the reason, never on hold or active."""
    assert GRADE_5 == 5
    assert GRADE_5_CITATION.source == "C1"
    d = doc("grade-5-event")
    d["events"] = [e for e in d["events"] if e.get("id") != "inf-5"]
    d["events"].append({"date": "2007-01-21", **event})
    s = assess_course(d)
    assert s["status"] == "discontinued"
    assert s["next_dose"] is None
    assert "grade 5" in s["discontinued"]["reason"]
    assert "grade-5-event" in codes(s)


def test_grade_5_example() -> None:
    s = assess_course(doc("grade-5-event"))
    assert s["status"] == "discontinued"
    assert "death related to the adverse event" in s["discontinued"]["reason"]


@pytest.mark.parametrize("target", ["lab", "cmv_pcr", "note"])
def test_a_resolution_of_an_event_nothing_resolves_is_a_document_error(target: str) -> None:
    d = copy.deepcopy(doc("haematological-event-count-recorded"))
    ev = next(e for e in d["events"] if e["type"] == target) if target != "note" else None
    if ev is None:
        ev = {"date": "2007-01-21", "type": "note", "text": "called the patient"}
        d["events"].append(ev)
    ev["id"] = "x1"
    d["events"].append({"date": "2007-01-22", "type": "resolved", "event_id": "x1"})
    with pytest.raises(DocumentError) as exc:
        parse_course(d)
    assert "event_id" in str(exc.value)
    assert "nothing resolves" in str(exc.value)


def test_an_unknown_resolution_id_is_a_document_error() -> None:
    d = doc("haematological-event-no-count")
    d["events"].append({"date": "2007-01-21", "type": "resolved", "event_id": "ae-nope"})
    with pytest.raises(DocumentError) as exc:
        replay(parse_course(d))
    assert "event_id" in str(exc.value)


def test_cr_with_gcsf_before_the_count_is_not_cr() -> None:
    """iwCLL 2008: neutrophils > 1500/uL "without need for exogenous growth factors" (named
    default: a G-CSF/GM-CSF in the 28 days before the count, docs/rules.md). Filgrastim 10 days
    before the assessment: the neutrophil criterion fails, so CR is not reached; without it the
    same course is a CR."""
    s = assess_course(doc("cr-with-gcsf"))
    assert s["response"]["category"] != "CR"
    decision = next(d for d in s["decisions"] if d["rule"] == "response.iwcll-2008")
    assert "growth factors" in decision["rationale"]
    d = doc("cr-with-gcsf")
    d["events"] = [e for e in d["events"] if e["type"] != "growth_factor"]
    s = assess_course(d)
    assert s["response"]["category"] == "CR"
    decision = next(d for d in s["decisions"] if d["rule"] == "response.iwcll-2008")
    assert "without exogenous growth factors" in decision["rationale"]
