"""Combination regimens dose on their published cycle days, never on a TIW weekday.

Each regimen of the library that gives alemtuzumab on set days of a cycle (FluCam days 1-3 of
each 28-day cycle, CFAR days 1, 3, 5, FCC, Faderl, Nabhan, Kennedy) carries the schedule and its
source in its data (``knowledge/data`` regimens). After the doses of the schedule so far, the
engine proposes the next day of that schedule (issue 10: FluCam's next dose used to fall on a
three-times-a-week weekday, 2007-02-07).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from cllcds import knowledge
from cllcds.course import parse_course, replay
from cllcds.course._replay import cycle_schedule
from cllcds.domain import Drug

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"
TEMPLATE = json.loads((EXAMPLES / "flucam-gap.json").read_text(encoding="utf-8"))
START = dt.date(2007, 1, 8)
SCHEDULED = sorted(
    rid for rid in knowledge.regimens() if cycle_schedule(knowledge.regimen(rid), START) is not None
)


def course_after(regimen_id: str, n_doses: int) -> tuple[dict, list]:
    """A clean course of ``regimen_id`` with its first ``n_doses`` scheduled doses given, each
    with normal counts and a negative CMV test the day before."""
    slots = cycle_schedule(knowledge.regimen(regimen_id), START)
    assert slots is not None
    doc = copy.deepcopy(TEMPLATE)
    doc["regimen"] = regimen_id
    doc["start_date"] = START.isoformat()
    events: list[dict] = []
    for x in slots[:n_doses]:
        day = x.date.isoformat()
        events += [
            {"date": day, "type": "lab", "code": "ANC", "value": 2.0, "unit": "10*9/L"},
            {"date": day, "type": "lab", "code": "PLT", "value": 120, "unit": "10*9/L"},
            {"date": day, "type": "cmv_pcr", "result": "not detected"},
            {
                "date": day,
                "type": "dose",
                "drug": "alemtuzumab",
                "dose_mg": x.mg,
                "route": x.route.value,
            },
        ]
    doc["events"] = events
    doc["as_of"] = slots[n_doses - 1].date.isoformat()
    return doc, list(slots)


def test_the_combination_regimens_follow_their_cycle_schedule() -> None:
    """Every regimen with fixed alemtuzumab days is scheduled; TIW regimens are not."""
    assert {"flucam", "fcc", "fcc-table2", "cfar"} <= set(SCHEDULED)
    assert "alemtuzumab-iv-label" not in SCHEDULED
    assert "alemtuzumab-sc-10-tiw-18w" not in SCHEDULED  # TIW: the TIW weekdays apply


@pytest.mark.parametrize("regimen_id", SCHEDULED)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_next_dose_is_the_next_day_of_the_published_schedule(regimen_id: str, n: int) -> None:
    reg = knowledge.regimen(regimen_id)
    doc, slots = course_after(regimen_id, n)
    s = replay(parse_course(doc))
    assert s.next_dose is not None, s.alerts
    expected = slots[n]
    assert s.next_dose.date == expected.date
    assert s.next_dose.dose_mg <= expected.mg
    # The source of the schedule is the regimen's own data, quoted with its days.
    sources = {
        (r.citation.source, r.citation.locator)
        for r in (*reg.run_in, *reg.components)
        if r.drug is Drug.ALEMTUZUMAB and r.citation is not None
    }
    if s.next_dose.phase != "re-escalation":
        assert (s.next_dose.citation.source, s.next_dose.citation.locator) in sources
        assert f"cycle {expected.cycle} day {expected.cycle_day}" in s.next_dose.rationale


def test_flucam_gives_days_1_to_3_of_each_28_day_cycle() -> None:
    """FluCam (seed, Elter 2005): "alemtuzumab at 30 mg given over 2 hours for 3 doses on days
    1-3", every 28 days: after days 1-3 (8-10 Jan) the next dose is cycle 2 day 1 (5 Feb), and
    after cycle 2 day 1 it is day 2 (6 Feb), never the TIW Wednesday 7 Feb."""
    reg = knowledge.regimen("flucam")
    alem = next(r for r in reg.components if r.drug is Drug.ALEMTUZUMAB)
    assert alem.citation is not None
    assert "days 1" in alem.citation.quote
    assert "30 mg" in alem.citation.quote
    assert alem.days == (1, 2, 3)
    assert reg.cycles.length_days == 28
    doc, _ = course_after("flucam", 3)
    s = replay(parse_course(doc))
    assert s.next_dose is not None
    assert s.next_dose.date == dt.date(2007, 2, 5)
    example = json.loads((EXAMPLES / "flucam-gap.json").read_text(encoding="utf-8"))
    s = replay(parse_course(example))
    assert s.next_dose is not None
    assert s.next_dose.date == dt.date(2007, 2, 6)
    assert "cycle 2 day 2" in s.next_dose.rationale


def test_cfar_gives_days_1_3_5() -> None:
    """CFAR (regimen data): alemtuzumab 30 mg on days 1, 3 and 5: after day 1 the next dose is
    day 3, not day 2 nor a TIW weekday."""
    reg = knowledge.regimen("cfar")
    alem = next(r for r in reg.components if r.drug is Drug.ALEMTUZUMAB)
    assert alem.days == (1, 3, 5)
    doc, _ = course_after("cfar", 1)
    s = replay(parse_course(doc))
    assert s.next_dose is not None
    assert s.next_dose.date == START + dt.timedelta(days=2)


def test_no_dose_after_the_last_cycle() -> None:
    """Missed days are not made up and nothing is proposed after the published schedule."""
    reg = knowledge.regimen("fcc-table2")
    slots = cycle_schedule(reg, START)
    assert slots is not None
    doc, _ = course_after("fcc-table2", len(slots))
    s = replay(parse_course(doc))
    assert s.next_dose is None
