"""Clinical invariants of the course engine, over generated courses (Hypothesis).

From the design: no recommendation exceeds 30 mg a dose or 90 mg a week; no dose is recommended
during a hold or after discontinuation; a gap of 7 days or more always restarts escalation;
replay is deterministic and independent of event order within a day.
"""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cllcds.course import CourseStatus, replay
from cllcds.domain import (
    ALEMTUZUMAB_MAX_SINGLE_DOSE_MG,
    ALEMTUZUMAB_MAX_WEEKLY_MG,
    AdministrationRoute,
    AutoimmuneCytopenia,
    AutoimmuneKind,
    Baseline,
    CmvPcr,
    CmvUnit,
    Course,
    DoseGiven,
    Fever,
    Infection,
    InfusionReaction,
    LabelRuleSet,
    LabEvent,
    LabResult,
    Patient,
    RuleSets,
)

START = dt.date(2024, 3, 4)
IV = AdministrationRoute.IV


@st.composite
def courses(draw) -> Course:
    n_days = draw(st.integers(1, 100))
    events = []
    for d in range(n_days):
        day = START + dt.timedelta(days=d)
        if draw(st.booleans()) and draw(st.booleans()):
            events.append(
                DoseGiven(
                    date=day,
                    drug="alemtuzumab",
                    route=IV,
                    dose_mg=draw(st.sampled_from([3, 10, 30])),
                )
            )
        if draw(st.integers(0, 6)) == 0:
            events.append(
                LabEvent(
                    date=day,
                    result=LabResult.of("ANC", draw(st.floats(0.0, 5.0)), "10*9/L", date=day),
                )
            )
            events.append(
                LabEvent(
                    date=day,
                    result=LabResult.of("PLT", draw(st.floats(1.0, 300.0)), "10*9/L", date=day),
                )
            )
        roll = draw(st.integers(0, 40))
        if roll == 0:
            events.append(InfusionReaction(date=day, grade=draw(st.integers(1, 4))))
        elif roll == 1:
            events.append(Infection(date=day, grade=draw(st.integers(1, 4))))
        elif roll == 2:
            events.append(Fever(date=day, temperature_c=draw(st.floats(37.5, 40.5))))
        elif roll == 3:
            value = draw(st.one_of(st.none(), st.floats(50, 20000)))
            events.append(
                CmvPcr(date=day, value=value, unit=None if value is None else CmvUnit.IU_PER_ML)
            )
        elif roll == 4 and draw(st.integers(0, 3)) == 0:
            events.append(
                AutoimmuneCytopenia(
                    date=day, kind=AutoimmuneKind.HAEMOLYTIC_ANAEMIA, kind_text="haemolytic anaemia"
                )
            )
    label = draw(st.sampled_from(list(LabelRuleSet)))
    base = Baseline(
        START - dt.timedelta(days=2),
        labs=(
            LabResult.of("ANC", draw(st.floats(0.05, 6.0)), "10*9/L"),
            LabResult.of("PLT", draw(st.floats(5.0, 300.0)), "10*9/L"),
        ),
    )
    as_of = START + dt.timedelta(days=draw(st.integers(0, n_days + 10)))
    return Course(
        Patient("h"),
        "alemtuzumab-iv-label",
        START,
        RuleSets(label=label),
        base,
        tuple(events),
        as_of,
    )


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _given_before(c: Course, day: dt.date) -> float:
    lo = day - dt.timedelta(days=6)
    return sum(
        e.dose_mg
        for e in c.effective_events()
        if isinstance(e, DoseGiven) and lo <= e.date < day and e.date <= (c.as_of or day)
    )


@SETTINGS
@given(courses())
def test_no_recommendation_exceeds_the_ceilings(c: Course):
    s = replay(c)
    if s.next_dose is None:
        return
    assert s.next_dose.dose_mg <= ALEMTUZUMAB_MAX_SINGLE_DOSE_MG
    assert _given_before(c, s.next_dose.date) + s.next_dose.dose_mg <= ALEMTUZUMAB_MAX_WEEKLY_MG


@SETTINGS
@given(courses())
def test_no_dose_during_a_hold_or_after_discontinuation(c: Course):
    s = replay(c)
    if s.holds or s.status in (CourseStatus.DISCONTINUED, CourseStatus.COMPLETED):
        assert s.next_dose is None
    if s.status is CourseStatus.DISCONTINUED:
        assert s.discontinued is not None


@SETTINGS
@given(courses())
def test_a_gap_of_7_days_always_restarts_escalation(c: Course):
    s = replay(c)
    if s.next_dose is None or not s.doses:
        return
    last = s.doses[-1][0]
    if (s.next_dose.date - last).days >= 7:
        assert s.next_dose.dose_mg == 3
        assert s.next_dose.phase == "re-escalation"


@SETTINGS
@given(courses(), st.randoms(use_true_random=False))
def test_replay_is_independent_of_event_order(c: Course, rnd: random.Random):
    shuffled = list(c.events)
    rnd.shuffle(shuffled)
    a = replay(c)
    b = replay(
        Course(
            c.patient, c.regimen_id, c.start_date, c.rule_sets, c.baseline, tuple(shuffled), c.as_of
        )
    )
    assert a.status == b.status
    assert a.next_dose == b.next_dose
    assert a.holds == b.holds
    assert a.alerts == b.alerts
    assert a.decisions == b.decisions
