"""Supportive-care rules: premedication triggers, date arithmetic, monitoring windows."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from cllcds.domain import DosePhase, Drug, LabelRuleSet, PlanOptions, PremedicationTrigger
from cllcds.rules.supportive import REESCALATION_GAP_DAYS, add_months, premedication_reason

from .conftest import make

US = PremedicationTrigger.FIRST_AND_ESCALATION
EU = PremedicationTrigger.ESCALATION_PHASE
ESC, TRT = DosePhase.ESCALATION, DosePhase.TREATMENT


@pytest.mark.parametrize(
    ("trigger", "mg", "phase", "prev", "gap", "expected"),
    [
        (US, 3, ESC, None, None, "first dose"),
        (US, 10, ESC, 3, 1, "dose escalation 3 → 10 mg"),
        (US, 30, TRT, 30, 2, None),
        (US, 30, TRT, 30, 7, "restart after 7 days without alemtuzumab"),
        (US, 30, TRT, 30, 6, None),
        (EU, 30, ESC, 30, 1, "infusion during dose escalation"),
        (EU, 30, TRT, 30, 2, None),
        (EU, 30, TRT, 15, 3, "dose escalation 15 → 30 mg"),
    ],
)
def test_premedication_reason(*, trigger, mg, phase, prev, gap, expected) -> None:
    assert premedication_reason(trigger, mg, phase, prev, gap) == expected


def test_reescalation_gap_is_the_labels_7_days() -> None:
    """L1/L4: escalation again "whenever dosing has been held ≥ 7 days"; L7: "after interruption
    of therapy for 7 or more days"."""
    assert REESCALATION_GAP_DAYS == 7


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 3, 22), 2, date(2024, 5, 22)),
        (date(2024, 12, 31), 2, date(2025, 2, 28)),
        (date(2023, 12, 31), 2, date(2024, 2, 29)),
        (date(2024, 11, 15), 2, date(2025, 1, 15)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_each_course_restart_is_premedicated_and_warned() -> None:
    """FluCam restarts 30 mg on day 1 of each 28-day course: a gap of 26 days (≥ 7)."""
    p = make("flucam")
    alem = [a for a in p.administrations if a.drug is Drug.ALEMTUZUMAB]
    starts = [a for a in alem if a.cycle_day == 1]
    assert all(a.premedication is not None for a in starts)
    assert starts[1].premedication is not None
    assert "restart after 26 days" in starts[1].premedication.reason
    assert all(a.premedication is None for a in alem if a.cycle_day == 2)
    warnings = [n.text for n in p.notes if n.level.value == "warning"]
    assert any("without escalation from 3 mg" in w for w in warnings)
    assert any("without re-escalation" in w for w in warnings)


def test_monitoring_intervals_are_options() -> None:
    p = make("alemtuzumab-iv-label", options=PlanOptions(cmv_pcr_interval_days=14))
    cmv = [m.date for m in p.monitoring if m.kind.value == "cmv-pcr"]
    assert all((b - a).days == 14 for a, b in itertools.pairwise(cmv))


def test_rule_sets_premedicate_the_same_doses_for_the_label_schedule() -> None:
    """US: first dose and each escalation (3, 10, 30 mg); EU: each escalation infusion (the
    same three in a one-step-a-day plan)."""
    for rs in LabelRuleSet:
        p = make("alemtuzumab-iv-label", options=PlanOptions(rule_set=rs))
        assert [a.day for a in p.administrations if a.premedication] == [1, 2, 3]
