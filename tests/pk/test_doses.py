"""Dose tables: validation errors name the row and the field; schedules and adapters."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cllcds import knowledge
from cllcds.course import plan
from cllcds.domain import BodyMeasures, InputError
from cllcds.pk import (
    DoseRoute,
    continuous_infusion,
    dose_table,
    doses_from_administrations,
    label_iv_schedule,
    parse_dose_csv,
    read_dose_csv,
)

GOOD = "time_h,dose_mg,route,duration_h\n0,3,iv,2\n24,10,iv,2\n48,30,sc,0\n"


def test_csv_round_trip():
    t = parse_dose_csv("# a comment\n" + GOOD)
    assert [d.route for d in t.doses] == [DoseRoute.IV, DoseRoute.IV, DoseRoute.SC]
    assert t.total_mg == 43
    assert t.has_sc
    assert t.rows()[2] == {"time_h": 48.0, "dose_mg": 30.0, "route": "sc", "duration_h": 0.0}


@pytest.mark.parametrize(
    ("row", "field", "hint"),
    [
        ("72,abc,iv,2", "row 4: dose_mg", "number"),
        ("72,30,im,2", "row 4: route", "iv or sc"),
        ("72,30,iv,0", "row 4: duration_h", "infusion"),
        ("72,30,sc,2", "row 4: duration_h", "duration 0"),
        ("72,300,iv,2", "row 4: dose_mg", "240"),
        ("-1,30,iv,2", "row 4: time_h", "hours"),
        ("12,30,iv,2", "row 4: time_h", "time order"),
        ("72,30,iv,-2", "row 4: duration_h", "0 or more"),
        ("72,,iv,2", "row 4: dose_mg", "give all"),
    ],
)
def test_bad_rows_name_row_and_field(row, field, hint):
    with pytest.raises(InputError) as err:
        parse_dose_csv(GOOD + row + "\n")
    assert err.value.field == field
    assert hint in err.value.fix


def test_header_and_empty_file_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="header"):
        parse_dose_csv("t,amt\n0,3\n")
    with pytest.raises(InputError, match="at least one"):
        parse_dose_csv("time_h,dose_mg,route,duration_h\n")
    with pytest.raises(InputError) as err:
        read_dose_csv(tmp_path / "missing.csv")
    assert err.value.field == "--doses"


def test_sc_row_may_omit_duration():
    t = dose_table([{"time_h": 0, "dose_mg": 30, "route": "SC"}])
    assert t.doses[0].duration_h == 0


def test_label_schedule_matches_the_reference_simulation():
    """pk-model.md §4: "3, 10, 30 mg on days 1–3 as 2-h infusions, then 30 mg three times weekly
    to day 83; 38 doses, 1093 mg total" (clinical-rules.md §1.2, L1/L2)."""
    t = label_iv_schedule()
    assert len(t) == 38
    assert t.total_mg == 1093
    assert [d.dose_mg for d in t.doses[:4]] == [3, 10, 30, 30]
    assert t.doses[-1].time_h == 83 * 24
    assert all(d.duration_h == 2 and d.route is DoseRoute.IV for d in t.doses)
    weekly = {}
    for d in t.doses:
        weekly.setdefault(int(d.time_h // 168), 0.0)
        weekly[int(d.time_h // 168)] += d.dose_mg
    assert max(v for w, v in weekly.items() if w > 0) == 90  # label: ≤ 90 mg a week
    assert t.citation is not None
    assert t.citation.source == "L1"


def test_continuous_infusion_row():
    t = continuous_infusion(15, 6)
    assert (t.doses[0].dose_mg, t.doses[0].duration_h) == (90, 144)


def test_administrations_adapter_with_datetimes_and_routes():
    adm = [
        {"date": date(2024, 1, 1), "dose_mg": 3, "route": "iv"},
        {"when": datetime(2024, 1, 2, 6, 0), "dose_mg": 10, "infusion": "over 4 hours"},
        {"date": "2024-01-03", "dose_mg": 30, "route": "sc"},
        {"date": date(2024, 1, 4), "dose_mg": 15, "route": "civ"},
        {"date": date(2024, 1, 4), "dose_mg": 25, "drug": "fludarabine"},
    ]
    t = doses_from_administrations(adm, date(2024, 1, 1))
    assert [(d.time_h, d.route, d.duration_h) for d in t.doses] == [
        (0.0, DoseRoute.IV, 2.0),
        (30.0, DoseRoute.IV, 4.0),
        (48.0, DoseRoute.SC, 0.0),
        (72.0, DoseRoute.IV, 24.0),
    ]
    with pytest.raises(InputError, match="no alemtuzumab"):
        doses_from_administrations(adm[-1:], date(2024, 1, 1))


def test_plan_builder_wiring():
    """A regimen from the library laid out by cllcds.course.plan becomes a dose table."""
    start = date(2024, 1, 1)
    p = plan(BodyMeasures(170, 70), knowledge.regimen("alemtuzumab-iv-label"), start)
    t = doses_from_administrations(p.administrations, start)
    alem = [a for a in p.administrations if a.drug.value == "alemtuzumab"]
    assert len(t) == len(alem)
    assert t.doses[0].dose_mg == 3
    assert t.doses[1].time_h == 24
    assert all(d.dose_mg <= 30 for d in t.doses)
