"""The chart module and the form parser on their own (no server, no browser)."""

from __future__ import annotations

import datetime as dt

from cllcds.domain import LabCode
from cllcds.knowledge import dose_modification_rules, grading_table
from cllcds.web import _charts, _forms
from cllcds.web._demo import demo_courses


def test_bands_and_thresholds_come_from_the_knowledge_base() -> None:
    bands = _charts.lab_bands(LabCode.ANC)
    table = grading_table("ctcae-5").labs[LabCode.ANC]
    # CTCAE v5.0 neutrophil count decreased: G2 1.0-1.5, G3 0.5-1.0, G4 < 0.5 (×10^9/L).
    assert [(b.grade, b.low, b.high) for b in bands] == [
        (2, 1.0, 1.5),
        (3, 0.5, 1.0),
        (4, None, 0.5),
    ]
    assert len(table.bands) == 4  # G1 (< LLN) is left out: its upper end depends on the lab
    rules = _charts.lab_rules(LabCode.ANC, "us-2007")
    label = next(r for rs, r in dose_modification_rules().items() if rs.value == "us-2007")
    assert [(r.kind, r.value) for r in rules] == [
        ("hold", label.trigger[0].value),
        ("resume", label.resume[0].value),
    ]


def test_chart_is_accessible_svg_with_points_and_lines() -> None:
    chart = _charts.Chart(
        key="ANC",
        title="Neutrophils",
        unit="×10⁹/L",
        points=((dt.date(2026, 1, 1), 2.0), (dt.date(2026, 1, 8), 0.2)),
        bands=_charts.lab_bands(LabCode.ANC),
        rules=_charts.lab_rules(LabCode.ANC, "us-2007"),
    )
    svg = _charts.render(chart, dt.date(2025, 12, 31), dt.date(2026, 1, 9))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    for part in ('role="img"', "<title", "<desc"):
        assert part in svg
    assert svg.count('class="point"') == 1
    assert svg.count('class="point point-hold"') == 1
    assert "threshold-hold" in svg
    assert "threshold-resume" in svg
    empty = _charts.render(
        _charts.Chart("CMV", "CMV", "IU/mL", (), log=True), dt.date(2026, 1, 1), dt.date(2026, 1, 1)
    )
    assert "no results yet" in empty


def test_lab_form_gives_one_event_per_result_and_keeps_bad_numbers() -> None:
    parsed = _forms.parse("labs", {"date": "2026-01-02", "ANC": "0,8", "PLT": "", "HGB": "9.5"})
    assert not parsed.errors
    assert [(e["code"], e["value"]) for e in parsed.events] == [("ANC", 0.8), ("HGB", 9.5)]
    bad = _forms.parse("labs", {"date": "2026-01-02", "ANC": "low"})
    assert "not a number" in bad.errors["ANC"]


def test_validation_puts_a_lab_problem_on_its_field() -> None:
    doc = demo_courses(dt.date(2026, 3, 1))[0]
    parsed = _forms.parse("labs", {"date": "2026-03-01", "ANC": "1.2", "PLT": "150000"})
    _forms.validate(doc, parsed)
    assert set(parsed.errors) == {"PLT"}
    assert "/uL" in parsed.errors["PLT"]


def test_demo_courses_are_at_the_promised_points() -> None:
    from cllcds.services import assess_course

    today = dt.date(2026, 3, 1)
    states = {d["patient"]["id"]: assess_course(d, as_of=today) for d in demo_courses(today)}
    assert states["demo-escalating"]["next_dose"]["date"] == today.isoformat()
    assert states["demo-neutropenia-hold"]["status"] == "on_hold"
    assert states["demo-cmv-preemptive"]["cmv"]["status"] == "on_treatment"
    assert states["demo-completed-pr"]["status"] == "completed"
    assert states["demo-completed-pr"]["response"]["category"] == "PR"
    assert states["demo-autoimmune-haemolysis"]["status"] == "discontinued"
