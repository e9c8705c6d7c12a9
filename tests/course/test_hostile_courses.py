"""The hostile and realistic course variants of ``scripts/hostile_courses.py`` (issue 10, C).

Each case states what must hold: no proposed dose where a source says withhold or stop (label
L1/L4, CTCAE C1, the review's CMV rules), or a document error naming the field.
"""

from __future__ import annotations

from typing import Any

import pytest

from cllcds.domain import InputError
from cllcds.services import assess_course
from repo_scripts import load_script

hostile = load_script("scripts/hostile_courses.py")


@pytest.mark.parametrize(
    ("name", "doc", "check"), hostile.CASES, ids=[c[0][:60] for c in hostile.CASES]
)
def test_hostile_course(name: str, doc: dict[str, Any], check: Any) -> None:
    try:
        out: Any = assess_course(doc)
    except InputError as exc:
        out = exc
    assert check(out), (name, out if isinstance(out, InputError) else out["status"])


def test_same_day_cmv_results_the_detectable_one_decides() -> None:
    """Two CMV results on one day without times: the worse decides (same-day rule), so a
    detectable 5000 IU/mL beside a 'not detected' starts pre-emptive therapy and holds."""
    doc = hostile.with_events(
        {"date": "2007-01-22", "type": "cmv_pcr", "value": 5000, "unit": "[IU]/mL"}
    )
    s = assess_course(doc)
    assert s["cmv"]["status"] == "positive"
    assert s["next_dose"] is None


def test_one_offset_is_accepted_and_two_are_refused() -> None:
    one = hostile.with_events(
        {
            "date": "2007-01-22T08:00:00+02:00",
            "type": "lab",
            "code": "ANC",
            "value": 0.2,
            "unit": "10*9/L",
        },
    )
    assert assess_course(one)["next_dose"] is None
    two = hostile.with_events(
        {
            "date": "2007-01-22T08:00:00+02:00",
            "type": "lab",
            "code": "ANC",
            "value": 2.0,
            "unit": "10*9/L",
        },
        {
            "date": "2007-01-22T07:00:00Z",
            "type": "lab",
            "code": "PLT",
            "value": 90,
            "unit": "10*9/L",
        },
    )
    with pytest.raises(InputError) as exc:
        assess_course(two)
    assert ".date" in str(exc.value)
    assert "UTC offset" in str(exc.value)


def test_a_held_dose_is_not_proposed_the_same_day() -> None:
    doc = hostile.with_events(
        {"date": "2007-01-22", "type": "dose_held", "reason": "patient unwell"}
    )
    s = assess_course(doc)
    assert s["next_dose"] is None or s["next_dose"]["date"] > "2007-01-22"
