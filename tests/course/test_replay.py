"""The course engine decides each situation as the cited source says.

Courses are built event by event; each test quotes the rule it checks.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cllcds.course import CourseStatus, HoldKind, replay
from cllcds.domain import (
    AdministrationRoute,
    AdverseEvent,
    Antiviral,
    AutoimmuneCytopenia,
    AutoimmuneKind,
    Baseline,
    CmvPcr,
    CmvPolicy,
    CmvUnit,
    Course,
    DoseGiven,
    Fever,
    Infection,
    InfusionReaction,
    InputError,
    LabelRuleSet,
    LabEvent,
    LabResult,
    Patient,
    Progression,
    ProgressionKind,
    Resolved,
    RuleSets,
)

START = dt.date(2007, 1, 8)  # a Monday


def day(n: int) -> dt.date:
    """Course day n (day 1 = START)."""
    return START + dt.timedelta(days=n - 1)


def dose(n: int, mg: float, route: AdministrationRoute = AdministrationRoute.IV) -> DoseGiven:
    return DoseGiven(date=day(n), drug="alemtuzumab", dose_mg=mg, route=route)


def lab(n: int, code: str, value: float, unit: str = "10*9/L") -> LabEvent:
    return LabEvent(date=day(n), result=LabResult.of(code, value, unit, date=day(n)))


def counts(n: int, anc: float, plt: float) -> list[LabEvent]:
    return [lab(n, "ANC", anc), lab(n, "PLT", plt)]


ESCALATION = [dose(1, 3), dose(2, 10), dose(3, 30)]
# Day 5 (Fri) 30 mg; day 8 (Mon) would make 3+10+30+30+30 > 90 in 7 days; day 10 (Wed) ...
MAINTENANCE = [dose(5, 30), dose(10, 30), dose(12, 30), dose(15, 30), dose(17, 30), dose(19, 30)]


def course(
    *events,
    label=LabelRuleSet.US_2007,
    cmv=CmvPolicy.PREEMPTIVE,
    as_of=None,
    baseline_anc=2.1,
    baseline_plt=98.0,
    regimen="alemtuzumab-iv-label",
    patient=None,
):
    base = Baseline(
        date=START - dt.timedelta(days=3),
        labs=(
            LabResult.of("ANC", baseline_anc, "10*9/L"),
            LabResult.of("PLT", baseline_plt, "10*9/L"),
        ),
    )
    return Course(
        patient=patient or Patient("t1"),
        regimen_id=regimen,
        start_date=START,
        rule_sets=RuleSets(label=label, cmv=cmv),
        baseline=base,
        events=tuple(events),
        as_of=as_of,
    )


# ------------------------------------------------------------------------------------------
# Escalation


def test_first_dose_is_3_mg_on_the_start_date():
    """US label (L1): "3 mg ... daily until infusion reactions are ≤ grade 2"."""
    s = replay(course(as_of=START))
    assert s.status is CourseStatus.NOT_STARTED
    assert (s.next_dose.date, s.next_dose.dose_mg) == (START, 3)
    assert s.next_dose.premedication is not None  # first dose: premedication (L1)


@pytest.mark.parametrize("grade", [None, 1, 2])
def test_a_tolerated_step_escalates_next_day(grade):
    """Escalate when infusion reactions are grade 2 or less (L1)."""
    events = [dose(1, 3)] + ([InfusionReaction(date=day(1), grade=grade)] if grade else [])
    s = replay(course(*events, as_of=day(1)))
    assert (s.next_dose.date, s.next_dose.dose_mg) == (day(2), 10)
    assert "escalation 3 → 10 mg" in s.next_dose.premedication


@pytest.mark.parametrize("grade", [3, 4])
def test_grade_3_or_4_reaction_withholds_and_repeats_the_step(grade):
    """Boxed warning (L4): withhold for grade 3 or 4 infusion reactions; the step is repeated."""
    s = replay(course(dose(1, 3), dose(2, 10), InfusionReaction(date=day(2), grade=grade)))
    assert s.status is CourseStatus.ON_HOLD
    assert s.next_dose is None
    assert [h.kind for h in s.holds] == [HoldKind.INFUSION_REACTION]
    # A re-dose without a recorded resolution does not end the hold (fail closed) ...
    s = replay(
        course(
            dose(1, 3),
            dose(2, 10),
            InfusionReaction(date=day(2), grade=grade),
            dose(3, 10),
            as_of=day(3),
        )
    )
    assert s.status is CourseStatus.ON_HOLD
    assert "dose-during-hold" in {a.code for a in s.alerts}
    # ... the resolution recorded on the reaction ends it; the failed 10 mg step is repeated.
    s = replay(
        course(
            dose(1, 3),
            dose(2, 10),
            InfusionReaction(date=day(2), grade=grade, resolved=day(2)),
            as_of=day(2),
        )
    )
    assert s.status is CourseStatus.ACTIVE
    assert s.next_dose.dose_mg == 10
    s = replay(
        course(
            dose(1, 3),
            dose(2, 10),
            InfusionReaction(date=day(2), grade=grade, resolved=day(2)),
            dose(3, 10),
            as_of=day(3),
        )
    )
    assert s.status is CourseStatus.ACTIVE
    assert s.next_dose.dose_mg == 30


def test_maintenance_is_30_mg_tiw_on_alternate_days_within_90_mg_a_week():
    """30 mg three times a week on alternate days (L1); at most 90 mg per week (L1, L4), weeks
    counted from day 1: after 3 + 10 + 30 + 30 mg in week 1 (73 mg), Monday day 8 starts week 2
    and is given (issue 10: it used to be skipped under a rolling 7-day reading)."""
    s = replay(course(*ESCALATION, dose(5, 30), as_of=day(5)))
    assert s.next_dose.dose_mg == 30
    assert s.next_dose.date == day(8)  # Monday of treatment week 2
    s = replay(course(*ESCALATION, *MAINTENANCE, as_of=day(19)))
    assert s.next_dose.date == day(22)  # Monday
    assert s.next_dose.date.weekday() in (0, 2, 4)
    assert s.next_dose.premedication is None


def test_a_gap_of_7_days_restarts_escalation_at_3_mg():
    """ "If therapy is interrupted for 7 or more days, reinstitute with gradual dose escalation"
    (L1, L4, L7)."""
    s = replay(course(*ESCALATION, dose(5, 30), as_of=day(12)))
    assert (s.next_dose.dose_mg, s.next_dose.phase) == (3, "re-escalation")
    s6 = replay(course(*ESCALATION, dose(5, 30), as_of=day(10)))
    assert s6.next_dose.dose_mg == 30  # 5 days: no restart


def test_a_dose_above_the_re_escalation_step_is_flagged():
    s = replay(course(*ESCALATION, dose(5, 30), dose(13, 30)))
    assert "re-escalation-required" in {a.code for a in s.alerts}


def test_ceilings_recorded_above_are_flagged():
    """At most 30 mg a dose and 90 mg a week (L1, L4, L6, L7)."""
    s = replay(course(dose(1, 3), dose(2, 40)))
    assert "single-dose-ceiling" in {a.code for a in s.alerts}
    s = replay(course(*ESCALATION, dose(4, 30), dose(5, 30)))
    assert "weekly-ceiling" in {a.code for a in s.alerts}


def test_the_label_course_completes_after_12_weeks():
    """ "Total duration of therapy, including dose escalation, is 12 weeks" (L1)."""
    s = replay(course(*ESCALATION, as_of=day(85)))
    assert s.status is CourseStatus.COMPLETED
    assert s.next_dose is None


# ------------------------------------------------------------------------------------------
# Cytopenia ladder (US PLR §2.3, L3)


def test_first_occurrence_withholds_and_resumes_at_30_mg():
    """ANC < 250/µL: withhold; resume at 30 mg when ANC ≥ 500/µL and platelets ≥ 50,000/µL."""
    events = [*ESCALATION, dose(5, 30), *counts(8, 0.2, 80)]
    s = replay(course(*events))
    assert s.status is CourseStatus.ON_HOLD
    assert s.haematologic_toxicity_occurrences == 1
    assert s.next_dose is None
    s = replay(course(*events, *counts(10, 0.6, 80)))
    assert s.status is CourseStatus.ACTIVE
    assert s.next_dose.dose_mg == 30


def test_platelets_at_25000_trigger_under_the_us_label_but_not_the_eu_smpc():
    """US: platelets ≤ 25,000/µL; EU prose: < 25,000/µL (clinical-rules.md §1.5, §7 item 3)."""
    events = [*ESCALATION, dose(5, 30), *counts(8, 1.5, 25)]
    assert replay(course(*events, label=LabelRuleSet.US_2007)).status is CourseStatus.ON_HOLD
    assert replay(course(*events, label=LabelRuleSet.EU_SMPC)).status is CourseStatus.ACTIVE


@pytest.mark.parametrize(("anc", "held"), [(0.249, True), (0.25, False)])
def test_anc_trigger_boundary(anc, held):
    """ANC < 250/µL withholds (strict)."""
    s = replay(course(*ESCALATION, dose(5, 30), *counts(8, anc, 80)))
    assert (s.status is CourseStatus.ON_HOLD) is held


def test_second_occurrence_resumes_at_10_mg_and_third_discontinues():
    """2nd occurrence: resume at 10 mg; 3rd: discontinue (L3)."""
    first = [*ESCALATION, dose(5, 30), *counts(8, 0.2, 80), *counts(10, 0.6, 80), dose(10, 30)]
    second = [*first, *counts(12, 0.2, 80), *counts(14, 0.6, 80)]
    s = replay(course(*second))
    assert s.haematologic_toxicity_occurrences == 2
    assert s.next_dose.dose_mg == 10
    s = replay(course(*second, dose(14, 10), *counts(17, 0.1, 80)))
    assert s.status is CourseStatus.DISCONTINUED
    assert s.next_dose is None


def test_us_2001_first_occurrence_resumes_at_the_same_dose():
    """2001 insert (L10): first occurrence resumes "at the same dose"."""
    events = [dose(1, 3), dose(2, 10), *counts(3, 0.2, 80), *counts(4, 0.6, 80)]
    s = replay(course(*events, label=LabelRuleSet.US_2001))
    assert s.next_dose.dose_mg == 10
    s = replay(course(*events, label=LabelRuleSet.US_2007))
    assert s.next_dose.dose_mg == 30


def test_baseline_low_anc_uses_the_50_percent_fall():
    """Baseline ANC ≤ 250/µL: withhold on a ≥ 50 % decrease from baseline; resume at baseline."""
    events = [*ESCALATION, dose(5, 30), *counts(8, 0.11, 90)]
    s = replay(course(*events, baseline_anc=0.2))
    assert s.status is CourseStatus.ACTIVE  # 0.11 is a 45 % fall
    s = replay(course(*ESCALATION, dose(5, 30), *counts(8, 0.1, 90), baseline_anc=0.2))
    assert s.status is CourseStatus.ON_HOLD  # 50 % fall
    s = replay(
        course(
            *ESCALATION, dose(5, 30), *counts(8, 0.1, 90), *counts(10, 0.2, 90), baseline_anc=0.2
        )
    )
    assert s.status is CourseStatus.ACTIVE  # back to baseline


def test_us_2001_baseline_low_cut_off_is_500():
    """2001 insert: baseline ANC ≤ 500/µL uses the relative rule (PLR: ≤ 250)."""
    events = [*ESCALATION, dose(5, 30), *counts(8, 0.2, 90)]
    assert replay(course(*events, baseline_anc=0.45, label=LabelRuleSet.US_2001)).status is (
        CourseStatus.ON_HOLD  # 0.2 ≤ 50 % of 0.45
    )
    events = [*ESCALATION, dose(5, 30), *counts(8, 0.3, 90)]
    assert replay(course(*events, baseline_anc=0.45, label=LabelRuleSet.US_2001)).status is (
        CourseStatus.ACTIVE  # a 33 % fall; absolute trigger not met either
    )


def test_lymphopenia_changes_nothing():
    """No dose modification for lymphopenia (L3, E1)."""
    s = replay(course(*ESCALATION, dose(5, 30), lab(8, "ALC", 0.05)))
    assert s.status is CourseStatus.ACTIVE
    assert any(d.rule == "lymphopenia.no-modification" for d in s.decisions)


# ------------------------------------------------------------------------------------------
# Infection, autoimmune cytopenia


def test_serious_infection_withholds_until_resolved():
    """Withhold for serious infection until resolution (L3, E1)."""
    inf = Infection(date=day(6), grade=3, description="pneumonia")
    s = replay(course(*ESCALATION, dose(5, 30), inf, as_of=day(8)))
    assert s.status is CourseStatus.ON_HOLD
    resolved = Infection(date=day(6), grade=3, description="pneumonia", resolved=day(9))
    s = replay(course(*ESCALATION, dose(5, 30), resolved, as_of=day(10)))
    assert s.status is CourseStatus.ACTIVE
    assert s.next_dose.date >= day(10)


def test_a_minor_infection_does_not_withhold():
    s = replay(course(*ESCALATION, dose(5, 30), Infection(date=day(6), grade=2), as_of=day(8)))
    assert s.status is CourseStatus.ACTIVE


@pytest.mark.parametrize(
    "kind", [AutoimmuneKind.HAEMOLYTIC_ANAEMIA, AutoimmuneKind.THROMBOCYTOPENIA]
)
def test_autoimmune_anaemia_or_thrombocytopenia_discontinues(kind):
    """Discontinue for autoimmune anaemia or autoimmune thrombocytopenia (L3, E1)."""
    ev = AutoimmuneCytopenia(date=day(6), kind=kind, kind_text=kind.value)
    s = replay(course(*ESCALATION, dose(5, 30), ev))
    assert s.status is CourseStatus.DISCONTINUED
    assert s.next_dose is None


def test_fever_with_neutropenia_is_flagged_and_cmv_test_is_due():
    """CTCAE v5 febrile neutropenia: ANC < 1,000/mm³ with a temperature > 38.3 °C (C1); CMV
    testing "without any delay in all febrile patients" (seed, Summary)."""
    s = replay(
        course(
            *ESCALATION, dose(5, 30), *counts(8, 0.8, 90), Fever(date=day(9), temperature_c=38.6)
        )
    )
    codes = {a.code for a in s.alerts}
    assert {"febrile-neutropenia", "cmv-test-fever"} <= codes
    assert any(a.code == "cmv-test-fever" and a.due == day(9) for a in s.next_actions)


# ------------------------------------------------------------------------------------------
# CMV


def pcr(n: int, value: float | None) -> CmvPcr:
    return CmvPcr(date=day(n), value=value, unit=None if value is None else CmvUnit.IU_PER_ML)


def test_weekly_cmv_surveillance_is_due_under_the_preemptive_policy():
    s = replay(course(*ESCALATION, pcr(1, None), as_of=day(3)))
    assert s.cmv.status.value == "negative"
    assert s.cmv.next_test_due == day(8)


def test_cmv_above_the_threshold_starts_preemptive_therapy_and_holds():
    s = replay(course(*ESCALATION, dose(5, 30), pcr(8, 2500)))
    assert s.cmv.status.value == "positive"
    assert "pre-emptive" in s.cmv.action
    assert HoldKind.CMV in {h.kind for h in s.holds}


def test_low_level_cmv_is_repeated_not_treated():
    """17 of 19 single positive DNAemias caused no illness (P9): repeat, treat if rising."""
    s = replay(course(*ESCALATION, dose(5, 30), pcr(8, 300)))
    assert s.status is CourseStatus.ACTIVE
    assert "repeat" in s.cmv.action.lower()
    s = replay(course(*ESCALATION, dose(5, 30), pcr(8, 300), pcr(12, 600)))
    assert "pre-emptive" in s.cmv.action  # rising


def test_cmv_on_treatment_holds_until_negative():
    events = [
        *ESCALATION,
        dose(5, 30),
        pcr(8, 2500),
        Antiviral(date=day(9), drug="valganciclovir", dose_mg=900, start=day(9)),
    ]
    s = replay(course(*events, as_of=day(10)))
    assert s.cmv.status.value == "on_treatment"
    assert s.status is CourseStatus.ON_HOLD
    s = replay(
        course(
            *[e for e in events if not isinstance(e, Antiviral)],
            Antiviral(date=day(9), drug="valganciclovir", start=day(9), stop=day(20)),
            pcr(21, None),
            as_of=day(22),
        )
    )
    assert s.cmv.status.value == "negative"
    assert HoldKind.CMV not in {h.kind for h in s.holds}


def test_preemptive_policy_warns_for_prior_reactivation():
    """The review limits up-front prophylaxis to prior CMV reactivation or no surveillance."""
    s = replay(course(*ESCALATION, patient=Patient("t1", prior_cmv_reactivation=True)))
    assert "cmv-policy" in {a.code for a in s.alerts}


# ------------------------------------------------------------------------------------------
# Prophylaxis


def test_prophylaxis_runs_from_day_8_to_2_months_and_cd4_200():
    """PCP and herpes prophylaxis at least 2 months after the last dose and until CD4+ ≥ 200/µL,
    whichever is later (L1); the pivotal trial started on day 8 (P1)."""
    s = replay(course(*ESCALATION, as_of=day(8)))
    pcp = next(p for p in s.prophylaxis if p.kind.value == "pcp")
    assert pcp.active
    assert pcp.start == day(8)
    s = replay(course(*ESCALATION, as_of=day(7)))
    assert not next(p for p in s.prophylaxis if p.kind.value == "pcp").active


def _second_occurrence_then_delay() -> list:
    first = [*ESCALATION, dose(5, 30), *counts(8, 0.2, 80), *counts(10, 0.6, 80), dose(10, 30)]
    # 2nd occurrence on day 12; counts recover only on day 19, 9 days after the last dose.
    return [*first, *counts(12, 0.2, 80), *counts(19, 0.6, 80)]


def test_after_a_second_occurrence_and_a_delay_the_us_label_re_escalates_to_30_mg():
    """US PLR §2.3 footnote to every row (L3): "if the delay between doses is ≥ 7 days, restart
    at 3 mg and escalate to 10 mg then 30 mg as tolerated"."""
    events = _second_occurrence_then_delay()
    s = replay(course(*events))
    assert (s.next_dose.dose_mg, s.next_dose.phase) == (3, "re-escalation")
    s = replay(course(*events, dose(19, 3), dose(20, 10), dose(21, 30), as_of=day(21)))
    assert s.next_dose.dose_mg == 30


def test_after_a_second_occurrence_and_a_delay_the_2001_insert_stops_at_10_mg():
    """2001 insert (L8): second occurrence, interruption ≥ 7 days: "escalate to 10 mg only"."""
    events = _second_occurrence_then_delay()
    s = replay(
        course(*events, dose(19, 3), dose(20, 10), as_of=day(20), label=LabelRuleSet.US_2001)
    )
    assert s.next_dose.dose_mg == 10
    assert s.next_dose.phase == "maintenance"


def test_us_2001_same_dose_resume_then_escalation_goes_on():
    """2001 insert: the first occurrence resumes "at the same dose"; a 10 mg escalation step
    resumed at 10 mg and tolerated then escalates to 30 mg (L1: escalate as tolerated)."""
    events = [dose(1, 3), dose(2, 10), *counts(3, 0.2, 80), *counts(4, 0.6, 80)]
    s = replay(course(*events, dose(4, 10), as_of=day(4), label=LabelRuleSet.US_2001))
    assert s.next_dose.dose_mg == 30


# --- issue 10 ---------------------------------------------------------------------------------


def test_a_timed_dose_after_a_timed_triggering_result_is_flagged():
    """ANC 0.2 × 10⁹/L withholds (L3 §2.3); with times, only a dose after the result is flagged."""
    import dataclasses

    anc = dataclasses.replace(lab(8, "ANC", 0.2), time=dt.time(8, 0))
    plt = dataclasses.replace(lab(8, "PLT", 80), time=dt.time(8, 0))
    after = dataclasses.replace(dose(8, 30), time=dt.time(10, 0))
    s = replay(course(*ESCALATION, dose(5, 30), anc, plt, after, as_of=day(8)))
    assert "dose-during-hold" in {a.code for a in s.alerts}
    before = dataclasses.replace(dose(8, 30), time=dt.time(7, 0))
    s = replay(course(*ESCALATION, dose(5, 30), anc, plt, before, as_of=day(8)))
    assert not {a.code for a in s.alerts} & {"dose-during-hold", "dose-possibly-during-hold"}
    assert s.status is CourseStatus.ON_HOLD


def test_timed_same_day_results_are_ordered_by_time():
    """With times, the later ANC is the current one: 0.2 at 08:00 then 0.6 at 16:00 withholds at
    08:00 and the 16:00 value is judged for recovery (ANC ≥ 500/µL and PLT ≥ 50,000/µL, L3)."""
    import dataclasses

    first = dataclasses.replace(lab(8, "ANC", 0.2), time=dt.time(8, 0))
    plt = dataclasses.replace(lab(8, "PLT", 80), time=dt.time(8, 0))
    later = dataclasses.replace(lab(8, "ANC", 0.6), time=dt.time(16, 0))
    s = replay(course(*ESCALATION, dose(5, 30), first, plt, later, as_of=day(8)))
    assert s.haematologic_toxicity_occurrences == 1
    assert s.status is CourseStatus.ACTIVE  # recovered at 16:00 the same day
    assert "same-day-results" not in {a.code for a in s.alerts}


def test_the_rolling_7_day_reading_is_an_institutional_setting():
    """The label's "90 mg per week" (L1) read as any 7 consecutive days (setting
    weekly_ceiling="rolling-7-days"): after 3 + 10 + 30 + 30 mg, Monday day 8 would make 103 mg
    in 7 days and moves to Wednesday."""
    from cllcds.course import EngineSettings

    s = replay(
        course(*ESCALATION, dose(5, 30), as_of=day(5)),
        EngineSettings(weekly_ceiling="rolling-7-days"),
    )
    assert s.next_dose.date == day(10)
    with pytest.raises(InputError):
        EngineSettings(weekly_ceiling="fortnightly")


def test_a_resolved_event_ends_an_infusion_reaction_hold():
    """Withhold for a grade 3 infusion reaction (L4); a 'resolved' event naming it ends the hold
    and the step is repeated (L1: repeat until reactions are grade 2 or less)."""
    reaction = InfusionReaction(date=day(2), grade=3, id="ir-1")
    s = replay(course(dose(1, 3), dose(2, 10), reaction, Resolved(date=day(3), event_id="ir-1")))
    assert s.status is CourseStatus.ACTIVE
    assert (s.next_dose.date, s.next_dose.dose_mg) == (day(3), 10)


def test_a_grade_3_haematological_adverse_event_is_left_to_the_cytopenia_rules():
    """Only non-haematological grade ≥ 3 events withhold as serious reactions (L3, E1);
    neutropenia is judged from the counts by the label's ladder: with the day's ANC (0.8, CTCAE
    grade 3, above the ladder's 0.25) dosing goes on; without a count on or after the event the
    engine holds for it (issue 10, part C: fail closed)."""
    ae = AdverseEvent(date=day(6), grade=3, term="Neutrophil count decreased")
    s = replay(course(*ESCALATION, dose(5, 30), *counts(6, 0.8, 90), ae, as_of=day(7)))
    assert s.status is CourseStatus.ACTIVE
    s = replay(course(*ESCALATION, dose(5, 30), ae, as_of=day(7)))
    assert s.status is CourseStatus.ON_HOLD
    assert s.next_dose is None


def test_fever_duration_makes_a_sustained_fever_febrile_neutropenia():
    """CTCAE v5 (C1): ANC < 1,000/mm³ with a sustained temperature ≥ 38 °C for more than one hour
    is febrile neutropenia even below 38.3 °C."""
    fever = Fever(date=day(8), temperature_c=38.1, duration_h=2)
    s = replay(course(*ESCALATION, dose(5, 30), *counts(8, 0.8, 90), fever, as_of=day(8)))
    assert [h.kind for h in s.holds] == [HoldKind.FEBRILE_NEUTROPENIA]
    short = Fever(date=day(8), temperature_c=38.1, duration_h=0.5)
    s = replay(course(*ESCALATION, dose(5, 30), *counts(8, 0.8, 90), short, as_of=day(8)))
    assert s.status is CourseStatus.ACTIVE


def test_a_progression_event_withholds_until_reviewed():
    """Progression (iwCLL PD, S1/S2/G2): critical alert and reassessment; the recorded review
    ('resolved' naming the event) lets the clinician continue."""
    pd = Progression(date=day(6), kind=ProgressionKind.PROGRESSIVE_DISEASE, id="pd")
    s = replay(course(*ESCALATION, dose(5, 30), pd, as_of=day(7)))
    assert s.status is CourseStatus.ON_HOLD
    assert any(a.code == "reassess-therapy" for a in s.next_actions)
    s = replay(
        course(*ESCALATION, dose(5, 30), pd, Resolved(date=day(7), event_id="pd"), as_of=day(7))
    )
    assert s.status is CourseStatus.ACTIVE
