"""The label regimen from a start date: exact dates, TIW on alternate days, 12 weeks including
the escalation, premedication, prophylaxis and monitoring dates.

Hand-worked schedule for a Monday start, 1 January 2024 (US label L1 / EU SmPC E3):
  Mon 1 Jan 3 mg, Tue 2 Jan 10 mg, Wed 3 Jan 30 mg (escalation, each step assumed tolerated),
  then 30 mg Mon-Wed-Fri: Fri 5 Jan (treatment week 1, 1-7 Jan: 3 + 10 + 30 + 30 = 73 mg);
  Mon 8, Wed 10, Fri 12 Jan (week 2, 8-14 Jan: 90 mg), Mon 15 Jan, ... Day 84 (end of week
  12) is Sun 24 Mar, so the last dose is Fri 22 Mar. The label's own schedule is never
  shortened: the 90 mg ceiling is per treatment week (docs/rules.md, "Engine safety (issue
  10)"). Under the institutional ``rolling-7-days`` setting Mon 8 Jan would make
  10 + 30 + 30 + 30 = 100 mg in the 7 days 2-8 Jan, so that slot is skipped with a note.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from cllcds.domain import Drug, LabelRuleSet, MonitoringKind, PlanOptions, ProphylaxisKind

from .conftest import MONDAY, make


def test_first_ten_and_last_administration_monday_start() -> None:
    p = make("alemtuzumab-iv-label", start=MONDAY)
    got = [(a.date, a.dose_mg) for a in p.administrations[:10]]
    assert got == [
        (date(2024, 1, 1), 3.0),
        (date(2024, 1, 2), 10.0),
        (date(2024, 1, 3), 30.0),
        (date(2024, 1, 5), 30.0),
        (date(2024, 1, 8), 30.0),
        (date(2024, 1, 10), 30.0),
        (date(2024, 1, 12), 30.0),
        (date(2024, 1, 15), 30.0),
        (date(2024, 1, 17), 30.0),
        (date(2024, 1, 19), 30.0),
    ]
    assert p.administrations[-1].date == date(2024, 3, 22)
    assert p.administrations[-1].day == 82
    assert len(p.administrations) == 37  # 3 escalation doses, Fri of week 1, 11 weeks of TIW
    assert p.total_mg(Drug.ALEMTUZUMAB) == 3 + 10 + 35 * 30
    assert p.max_window_mg() == 90
    assert not any("not given" in n.text for n in p.notes)  # never flagged nor shortened


def test_rolling_setting_skips_the_day_8_slot_with_a_note() -> None:
    """The stricter institutional reading (any 7 consecutive days) skips Mon 8 Jan: 10 + 30 +
    30 + 30 = 100 mg in 2-8 Jan."""
    p = make(
        "alemtuzumab-iv-label", start=MONDAY, options=PlanOptions(weekly_ceiling="rolling-7-days")
    )
    days = [a.date for a in p.administrations[:6]]
    assert days == [date(2024, 1, d) for d in (1, 2, 3, 5, 10, 12)]
    assert len(p.administrations) == 36
    assert any("2024-01-08" in n.text and "rolling" in n.text for n in p.notes)


def test_thursday_start() -> None:
    """Thu 4 Jan 3 mg, Fri 10 mg, Sat 30 mg; then Mon 8 Jan (2 days after Sat): week 1 (4-10
    Jan) holds 73 mg, so Wed 10 Jan would make 103 mg and is not given; Fri 12 Jan opens week 2
    (11-17 Jan) with Mon 15 and Wed 17; day 84 = Wed 27 Mar."""
    p = make("alemtuzumab-iv-label", start=date(2024, 1, 4))
    assert [a.date.day for a in p.administrations[:7]] == [4, 5, 6, 8, 12, 15, 17]
    assert p.end == date(2024, 3, 27)


def test_twelve_weeks_including_escalation_and_alternate_days() -> None:
    """L1: "12 weeks including the escalation period"; "three times a week on alternate days"."""
    for k in range(7):
        start = MONDAY + timedelta(days=k)
        p = make("alemtuzumab-iv-label", start=start)
        assert p.end <= start + timedelta(days=83)
        assert p.end >= start + timedelta(days=77)
        later = p.administrations[3:]
        assert all(b.date - a.date >= timedelta(days=2) for a, b in itertools.pairwise(later))
        assert all(a.date.weekday() in (0, 2, 4) for a in later)


def test_other_tiw_weekdays() -> None:
    p = make("alemtuzumab-iv-label", options=PlanOptions(tiw_weekdays=(1, 3, 5)))
    assert {a.date.weekday() for a in p.administrations[3:]} == {1, 3, 5}


def test_us_premedication_before_first_dose_and_each_escalation() -> None:
    """L1: diphenhydramine 50 mg and acetaminophen 500-1000 mg 30 minutes before the first
    infusion and each dose escalation."""
    p = make("alemtuzumab-iv-label")
    pre = [(a.dose_mg, a.premedication is not None) for a in p.administrations[:5]]
    assert pre == [(3.0, True), (10.0, True), (30.0, True), (30.0, False), (30.0, False)]
    pm = p.administrations[0].premedication
    assert pm is not None
    assert [(d.name, d.dose) for d in pm.drugs] == [
        ("diphenhydramine", "50 mg"),
        ("acetaminophen", "500-1000 mg"),
    ]
    assert pm.timing.startswith("30 minutes before")
    assert pm.citation.source == "L1"
    assert sum(a.premedication is not None for a in p.administrations) == 3


def test_eu_premedication_includes_a_steroid_during_escalation() -> None:
    """E1: steroid + antihistamine + analgesic 30-60 minutes before each infusion during
    escalation, thereafter as clinically indicated."""
    p = make("alemtuzumab-iv-label", options=PlanOptions(rule_set=LabelRuleSet.EU_SMPC))
    pm = p.administrations[0].premedication
    assert pm is not None
    assert [d.name for d in pm.drugs] == ["corticosteroid", "antihistamine", "analgesic"]
    assert pm.timing.startswith("30-60 minutes")
    assert [a.premedication is not None for a in p.administrations[:4]] == [True] * 3 + [False]


def test_us_prophylaxis_from_day_8_until_two_months_and_cd4() -> None:
    """L1: TMP/SMX DS twice daily three times a week and famciclovir 250 mg twice daily, until
    at least 2 months after the last dose or CD4+ >= 200/uL, whichever is later. Start: day 8
    (pivotal trial, P1: "Infection prophylaxis was mandatory, beginning on day 8")."""
    p = make("alemtuzumab-iv-label")
    by_kind = {x.kind: x for x in p.prophylaxis}
    assert set(by_kind) == {ProphylaxisKind.PCP, ProphylaxisKind.HERPES}
    pcp, herpes = by_kind[ProphylaxisKind.PCP], by_kind[ProphylaxisKind.HERPES]
    assert "trimethoprim/sulfamethoxazole DS" in pcp.drugs[0].name
    assert pcp.drugs[0].frequency.startswith("twice daily, three times a week")
    assert (herpes.drugs[0].name, herpes.drugs[0].dose) == ("famciclovir", "250 mg")
    assert pcp.start_date == date(2024, 1, 8)  # day 8
    assert pcp.earliest_stop_date == date(2024, 5, 22)  # last dose 22 Mar + 2 months
    assert "CD4+ ≥ 200 cells/µL" in pcp.stop_condition
    assert "whichever is later" in pcp.stop_condition
    moved = make("alemtuzumab-iv-label", options=PlanOptions(prophylaxis_start_day=1))
    assert moved.prophylaxis[0].start_date == MONDAY


def test_eu_prophylaxis_throughout_without_a_duration() -> None:
    """E1: antibiotics and antivirals routinely throughout and following treatment; no drug,
    dose or duration."""
    p = make("alemtuzumab-iv-label", options=PlanOptions(rule_set=LabelRuleSet.EU_SMPC))
    assert all(x.start_date == MONDAY for x in p.prophylaxis)
    assert all(x.earliest_stop_date is None for x in p.prophylaxis)
    assert "no duration" in p.prophylaxis[0].stop_condition


def test_us_2001_rule_set_follows_the_pivotal_trial() -> None:
    p = make("alemtuzumab-iv-label", options=PlanOptions(rule_set=LabelRuleSet.US_2001))
    assert p.prophylaxis[0].start_date == date(2024, 1, 8)
    assert p.prophylaxis[0].earliest_stop_date == date(2024, 5, 22)
    assert p.prophylaxis[0].citation.source == "seed"
    assert any("2001 insert" in n.text for n in p.notes)


def test_monitoring_dates() -> None:
    """Blood counts weekly during therapy (L9); CMV during therapy and 2 months after (E2), weekly
    by default; CD4 after therapy, 4-weekly by default, until the prophylaxis stop date; response
    at weeks 4, 8, 12 (P1) and confirmed 2 months after the end (S1)."""
    p = make("alemtuzumab-iv-label")
    by: dict[MonitoringKind, list[date]] = {}
    for m in p.monitoring:
        by.setdefault(m.kind, []).append(m.date)
    assert by[MonitoringKind.BLOOD_COUNT] == [MONDAY + timedelta(weeks=k) for k in range(12)]
    cmv = by[MonitoringKind.CMV_PCR]
    assert cmv[0] == MONDAY
    assert cmv[-1] == date(2024, 5, 20)
    assert all((b - a).days == 7 for a, b in itertools.pairwise(cmv))
    assert by[MonitoringKind.CD4] == [date(2024, 4, 19), date(2024, 5, 17), date(2024, 6, 14)]
    # Week 4, 8 and 12 ends fall on Sundays: moved to the Monday after.
    assert by[MonitoringKind.RESPONSE] == [
        date(2024, 1, 29),
        date(2024, 2, 26),
        date(2024, 3, 25),
        date(2024, 5, 22),
    ]
    assert all(d.weekday() < 5 for ds in by.values() for d in ds)
