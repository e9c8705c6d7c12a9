"""The clinician's decision to stop alemtuzumab (``treatment_stopped``): the course ends that day
(discontinued, or completed when the reason is ``completed``), no next dose is proposed, a dose
recorded after it is a critical alert, and supportive care goes on as after any
discontinuation (docs/rules.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cllcds.course import course_schema, parse_course
from cllcds.domain import DocumentError, StopReason, TreatmentStopped
from cllcds.services import assess_course

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "courses" / "treatment-stopped.json"


def doc() -> dict[str, Any]:
    return dict(json.loads(EXAMPLE.read_text(encoding="utf-8")))


def stop_event(d: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in d["events"] if e["type"] == "treatment_stopped")


def codes(s: dict[str, Any]) -> dict[str, str]:
    return {a["code"]: a["severity"] for a in s["alerts"]}


def test_the_example_is_discontinued_by_clinician_decision_with_supportive_care_going_on():
    s = assess_course(doc())
    assert s["status"] == "discontinued"
    assert s["next_dose"] is None
    assert s["discontinued"]["date"] == "2007-01-25"
    assert s["discontinued"]["reason"].startswith("clinician decision (toxicity")
    decision = next(d for d in s["decisions"] if d["rule"] == "course.discontinue")
    assert decision["outcome"] == "discontinued"
    assert "Clinician decision on 2007-01-25" in decision["rationale"]
    assert decision["inputs_used"]["reason"] == "toxicity"
    assert not any(a["code"] == "dose" for a in s["next_actions"])
    # No hold, no critical alert: the decision is the clinician's, the engine reports it.
    assert "discontinued" not in codes(s)
    assert codes(s)["treatment-stopped"] == "info"
    # PCP and herpes prophylaxis until the last dose (2007-01-24) + 2 months (L1), as after any
    # discontinuation; CMV surveillance continues (E2).
    for agent in ("pcp", "herpes"):
        assert s["prophylaxis"][agent]["active"] is True
        assert s["prophylaxis"][agent]["earliest_stop"] == "2007-03-24"
    assert "cmv-surveillance" in {a["code"] for a in s["next_actions"]}


def test_the_stop_reads_like_the_autoimmune_discontinuation_for_supportive_care():
    """The same course discontinued by an autoimmune haemolytic anaemia on the same day gives the
    same prophylaxis and monitoring: only the cause differs."""
    by_rule = doc()
    i = by_rule["events"].index(stop_event(by_rule))
    by_rule["events"][i] = {
        "date": "2007-01-25", "type": "autoimmune_cytopenia", "kind": "haemolytic anaemia"
    }  # fmt: skip
    a, b = assess_course(doc()), assess_course(by_rule)
    assert b["status"] == a["status"] == "discontinued"
    assert a["prophylaxis"] == b["prophylaxis"]
    assert [x["code"] for x in a["next_actions"]] == [x["code"] for x in b["next_actions"]]


def test_reason_completed_completes_the_course():
    d = doc()
    stop_event(d).update(reason="completed", text="")
    del stop_event(d)["text"]
    s = assess_course(d)
    assert s["status"] == "completed"
    assert s["next_dose"] is None
    decision = next(x for x in s["decisions"] if x["rule"] == "course.discontinue")
    assert decision["outcome"] == "completed"


def test_a_dose_recorded_after_the_stop_is_a_critical_alert():
    d = doc()
    d["events"].append(
        {"date": "2007-01-29", "type": "dose", "drug": "alemtuzumab", "dose_mg": 30, "route": "iv"}
    )
    s = assess_course(d)
    assert codes(s)["dose-after-discontinuation"] == "critical"
    alert = next(a for a in s["alerts"] if a["code"] == "dose-after-discontinuation")
    assert "2007-01-29" in alert["message"]
    assert "clinician decision" in alert["message"]
    assert s["status"] == "discontinued"
    assert s["next_dose"] is None
    # Prophylaxis now runs from the later dose: 2007-01-29 + 2 months.
    assert s["prophylaxis"]["pcp"]["earliest_stop"] == "2007-03-29"


def test_an_untimed_stop_on_a_dose_day_is_flagged_and_times_order_them():
    d = doc()
    stop_event(d)["date"] = "2007-01-24"  # the day of the last dose, neither timed
    assert codes(assess_course(d))["dose-possibly-after-discontinuation"] == "warning"
    assert "dose-after-discontinuation" not in codes(assess_course(d))
    last = next(e for e in d["events"] if e["type"] == "dose" and e["date"] == "2007-01-24")
    last["date"] = "2007-01-24T09:00"
    stop_event(d)["date"] = "2007-01-24T16:00"  # dose in the morning, stopped in the afternoon
    s = assess_course(d)
    assert "dose-possibly-after-discontinuation" not in codes(s)
    assert "dose-after-discontinuation" not in codes(s)
    stop_event(d)["date"] = "2007-01-24T08:00"  # stopped in the morning, dosed later
    last["date"] = "2007-01-24T10:30"
    assert codes(assess_course(d))["dose-after-discontinuation"] == "critical"


def test_a_rule_discontinuation_before_the_stop_stands():
    d = doc()
    d["events"].append(
        {"date": "2007-01-22", "type": "autoimmune_cytopenia", "kind": "evans syndrome"}
    )
    s = assess_course(d)
    assert s["status"] == "discontinued"
    assert s["discontinued"]["date"] == "2007-01-22"
    assert "treatment-stopped" not in codes(s)


def test_the_parser_reads_the_event():
    course = parse_course(doc())
    ev = next(e for e in course.events if isinstance(e, TreatmentStopped))
    assert ev.reason is StopReason.TOXICITY
    assert ev.text.startswith("grade 3 fatigue")


@pytest.mark.parametrize(
    ("change", "field", "fix"),
    [
        ({"reason": None}, "reason", "give the reason"),
        ({"reason": "bored"}, "reason", "use one of"),
        ({"reason": "other", "text": None}, "text", "say why"),
        ({"reason": "other", "text": "  "}, "text", "say why"),
    ],
)
def test_bad_events_are_refused_naming_the_field(change: dict[str, Any], field: str, fix: str):
    d = doc()
    ev = stop_event(d)
    for k, v in change.items():
        if v is None:
            ev.pop(k, None)
        else:
            ev[k] = v
    with pytest.raises(DocumentError) as info:
        parse_course(d)
    problems = {p.field: p.fix for p in info.value.problems}
    where = f"events[{d['events'].index(ev)}].{field}"
    assert fix in problems[where]
    # The JSON schema refuses the same document.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(course_schema()).validate(copy.deepcopy(d))


def test_other_with_text_is_accepted_by_parser_and_schema():
    d = doc()
    stop_event(d).update(reason="other", text="moved abroad; treatment continues elsewhere")
    jsonschema.Draft202012Validator(course_schema()).validate(d)
    s = assess_course(d)
    assert s["status"] == "discontinued"
    assert "moved abroad" in s["discontinued"]["reason"]
