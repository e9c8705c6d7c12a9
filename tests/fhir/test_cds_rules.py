"""The CDS Hooks card logic (``cllcds.services._cds``) on plain values: the order-sign invariants
hold for any proposed dose and day, and every card fits the CDS Hooks 2.0 card shape."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cllcds.services import _cds

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"


def course(name: str) -> dict[str, Any]:
    with (EXAMPLES / f"{name}.json").open(encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


HOLD = course("neutropenia-hold")  # ANC 200/µL on 2007-01-29; last dose 2007-01-26
ESCALATING = course("escalating")  # 3 mg on 2007-01-08

doses = st.floats(min_value=0.5, max_value=200, allow_nan=False).map(lambda x: round(x, 1))


def order(dose: float, day: dt.date) -> list[dict[str, Any]]:
    return [{"index": 0, "drug": "alemtuzumab", "dose_mg": dose, "route": "iv", "date": str(day)}]


def rules(result: dict[str, Any]) -> dict[str, str]:
    return {c["source"]["topic"]["code"]: c["indicator"] for c in result["cards"]}


def check_cards(result: dict[str, Any]) -> None:
    for card in result["cards"]:
        assert len(card["summary"]) < _cds.SUMMARY_MAX
        assert card["indicator"] in {"info", "warning", "critical"}
        assert card["source"]["label"] == _cds.SOURCE_LABEL


@settings(max_examples=25, deadline=None)
@given(dose=doses)
def test_any_dose_above_30_mg_is_critical(dose: float) -> None:
    result = _cds.cds_order_sign(
        ESCALATING, order(dose, dt.date(2007, 1, 9)), today=dt.date(2007, 1, 9)
    )
    check_cards(result)
    assert (rules(result).get("ceiling-single-dose") == "critical") == (dose > 30)


@settings(max_examples=25, deadline=None)
@given(dose=doses, days=st.integers(min_value=0, max_value=6))
def test_no_dose_is_signed_quietly_during_a_hold(dose: float, days: int) -> None:
    day = dt.date(2007, 1, 30) + dt.timedelta(days=days)
    result = _cds.cds_order_sign(HOLD, order(dose, day), today=day)
    check_cards(result)
    assert rules(result)["hold"] == "critical"
    assert "next-dose" not in rules(result)


@settings(max_examples=25, deadline=None)
@given(dose=doses, gap=st.integers(min_value=1, max_value=30))
def test_a_gap_of_7_days_restarts_at_3_mg(dose: float, gap: int) -> None:
    day = dt.date(2007, 1, 8) + dt.timedelta(days=gap)
    result = _cds.cds_order_sign(ESCALATING, order(dose, day), today=day)
    check_cards(result)
    expected = gap >= _cds.REESCALATION_GAP_DAYS and dose > _cds.FIRST_STEP_MG
    assert ("re-escalation" in rules(result)) == expected


def test_weekly_ceiling_counts_doses_given() -> None:
    # neutropenia-hold: 30 mg on 01-22, 01-24, 01-26; 30 more on 01-28 makes 120 mg in 7 days.
    result = _cds.cds_order_sign(HOLD, order(30, dt.date(2007, 1, 28)), today=dt.date(2007, 1, 28))
    assert rules(result)["ceiling-weekly-dose"] == "critical"


def test_order_without_date_assumes_today() -> None:
    orders = [{"index": 0, "drug": "alemtuzumab", "dose_mg": 40, "route": "iv", "date": None}]
    result = _cds.cds_order_sign(ESCALATING, orders, today=dt.date(2007, 1, 9))
    assert any("today assumed" in c["detail"] for c in result["cards"])


def test_discovery_lists_both_hooks() -> None:
    services = _cds.cds_discovery()["services"]
    assert [s["hook"] for s in services] == ["patient-view", "order-sign"]
    assert len({s["id"] for s in services}) == 2
