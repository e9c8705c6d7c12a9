"""Supportive care around alemtuzumab: premedication, PCP / herpes prophylaxis, monitoring.

The drugs, doses, timings and stop rules are data, per label rule set
(``knowledge/data/supportive_care.yaml``); this module applies them to a schedule.

Rules (reference ``clinical-rules.md``):

* Premedication — US label (``us-2007``, L1): diphenhydramine 50 mg and acetaminophen 500–1000 mg
  30 minutes before the first dose and before each dose escalation. EU SmPC (``eu-smpc``, E1):
  a steroid, an antihistamine and an analgesic 30–60 minutes before each infusion during dose
  escalation. A restart after a gap of 7 days or more counts as a new start (the label
  re-escalates then, L1), so it is premedicated too.
* Prophylaxis — US label: TMP/SMX DS twice daily three times a week and famciclovir 250 mg twice
  daily, until at least 2 months after the last dose and CD4+ ≥ 200/µL, whichever is later
  (L1). Start: the label gives none; the pivotal trial started on day 8 (P1), the default.
  EU SmPC: antibiotics and antivirals throughout and after treatment, no duration (E1).
* Monitoring — blood counts weekly during therapy (L9); CMV checks during therapy and for 2
  months after (E2; the weekly interval is a configurable default); CD4+ counts after therapy
  until ≥ 200/µL (L9; 4-weekly is a configurable default); response assessed at the end of
  therapy and confirmed at least 2 months later (NCI-WG, S1).
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date, timedelta

from cllcds import knowledge
from cllcds.domain import (
    ALEMTUZUMAB_RESTART_GAP_DAYS,
    DEFAULT_PROPHYLAXIS_START_DAY,
    AssessmentRule,
    DosePhase,
    LabelRuleSet,
    MonitoringItem,
    MonitoringKind,
    Premedication,
    PremedicationTrigger,
    Prophylaxis,
    SupportiveCareRules,
)

__all__ = [
    "REESCALATION_GAP_DAYS",
    "add_months",
    "monitoring_schedule",
    "premedication_for",
    "premedication_reason",
    "prophylaxis_schedule",
    "supportive_rules",
]

REESCALATION_GAP_DAYS = ALEMTUZUMAB_RESTART_GAP_DAYS
"""A gap of this many days or more between alemtuzumab doses restarts escalation at 3 mg (US
label L1, L4 boxed warning; 2001 insert L7: "after interruption of therapy for 7 or more days")."""


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, clamped to the month's end (31 Jan + 1 month = 28/29 Feb).

    Examples
    --------
    >>> add_months(date(2024, 12, 31), 2)
    datetime.date(2025, 2, 28)
    """
    month0 = day.month - 1 + months
    year = day.year + month0 // 12
    month = month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def supportive_rules(rule_set: LabelRuleSet) -> SupportiveCareRules:
    """The premedication and prophylaxis rules of one label rule set."""
    return knowledge.supportive_care()[rule_set]


def premedication_reason(
    trigger: PremedicationTrigger,
    dose_mg: float,
    phase: DosePhase,
    previous_mg: float | None,
    gap_days: int | None,
) -> str | None:
    """Why an alemtuzumab administration needs premedication, or ``None`` if it does not.

    Parameters
    ----------
    dose_mg, phase
        The administration's ordered dose and its phase.
    previous_mg, gap_days
        The previous alemtuzumab dose and the days since it (``None`` for the first dose).

    Examples
    --------
    >>> premedication_reason(PremedicationTrigger.FIRST_AND_ESCALATION, 10, DosePhase.ESCALATION,
    ...                      3, 1)
    'dose escalation 3 → 10 mg'
    >>> premedication_reason(PremedicationTrigger.FIRST_AND_ESCALATION, 30, DosePhase.TREATMENT,
    ...                      30, 2) is None
    True
    """
    if previous_mg is None or gap_days is None:
        return "first dose"
    if gap_days >= REESCALATION_GAP_DAYS:
        return f"restart after {gap_days} days without alemtuzumab"
    if dose_mg > previous_mg:
        return f"dose escalation {previous_mg:g} → {dose_mg:g} mg"
    if trigger is PremedicationTrigger.ESCALATION_PHASE and phase is DosePhase.ESCALATION:
        return "infusion during dose escalation"
    return None


def premedication_for(
    rule_set: LabelRuleSet,
    doses: list[tuple[date, float, DosePhase]],
) -> list[Premedication | None]:
    """Premedication for each alemtuzumab administration (in date order), per the rule set.

    Parameters
    ----------
    doses
        ``(date, dose_mg, phase)`` of every alemtuzumab administration, sorted by date.
    """
    rules = supportive_rules(rule_set).premedication
    out: list[Premedication | None] = []
    prev: tuple[date, float] | None = None
    for day, mg, phase in doses:
        gap = None if prev is None else (day - prev[0]).days
        reason = premedication_reason(
            rules.trigger, mg, phase, None if prev is None else prev[1], gap
        )
        out.append(
            None
            if reason is None
            else Premedication(
                drugs=rules.drugs, timing=rules.timing, reason=reason, citation=rules.citation
            )
        )
        prev = (day, mg)
    return out


def prophylaxis_schedule(
    rule_set: LabelRuleSet,
    start: date,
    last_alemtuzumab: date,
    start_day: int | None = None,
) -> tuple[Prophylaxis, ...]:
    """PCP and herpes prophylaxis: drugs, start date, earliest stop date and stop condition.

    Parameters
    ----------
    start
        Day 1 of the plan.
    last_alemtuzumab
        Date of the last alemtuzumab dose ("completing Campath").
    start_day
        Course day to start on; ``None`` takes the rule set's (EU "throughout": day 1), else
        :data:`cllcds.domain.DEFAULT_PROPHYLAXIS_START_DAY` (day 8, the pivotal trial's).

    Returns
    -------
    tuple of Prophylaxis
        ``earliest_stop_date`` is the last dose plus the rule set's months (``None`` when it sets
        no duration); ``stop_condition`` adds the CD4 condition where there is one.
    """
    rules = supportive_rules(rule_set)
    if start_day is not None:
        day = start_day
        start_rule = f"Course day {day} (chosen in the plan options)."
        start_cite = rules.start_citation
    elif rules.start_day is not None:
        day, start_rule, start_cite = rules.start_day, rules.start_rule, rules.start_citation
    else:
        day = DEFAULT_PROPHYLAXIS_START_DAY
        start_rule = f"{rules.start_rule} Configurable default: day {day}."
        start_cite = rules.start_citation
    begin = start + timedelta(days=day - 1)
    earliest = (
        None if rules.stop_months is None else add_months(last_alemtuzumab, rules.stop_months)
    )
    if earliest is not None and rules.stop_cd4_per_ul is not None:
        condition = (
            f"Not before {earliest.isoformat()} (last dose + {rules.stop_months} months), and "
            f"only once CD4+ ≥ {rules.stop_cd4_per_ul} cells/µL, whichever is later."
        )
    elif earliest is not None:
        condition = f"Not before {earliest.isoformat()}. {rules.stop_text}"
    else:
        condition = rules.stop_text
    return tuple(
        Prophylaxis(
            kind=p.kind,
            drugs=p.drugs,
            start_date=begin,
            start_rule=start_rule,
            earliest_stop_date=earliest,
            stop_condition=condition,
            citation=p.citation,
            start_citation=start_cite,
        )
        for p in rules.prophylaxis
    )


def _every(first: date, last: date, step_days: int) -> list[date]:
    out, day = [], first
    while day <= last:
        out.append(day)
        day += timedelta(days=step_days)
    return out


def monitoring_schedule(
    start: date,
    end: date,
    last_alemtuzumab: date,
    *,
    cmv_interval_days: int,
    cd4_interval_days: int,
    assessments: tuple[tuple[date, AssessmentRule], ...] = (),
    cd4_until: date | None = None,
    weekdays_only: bool = True,
) -> tuple[MonitoringItem, ...]:
    """Dated monitoring: blood counts, CMV PCR, CD4 counts, response and marrow assessments.

    Parameters
    ----------
    start, end
        First and last administration dates of the plan (therapy).
    last_alemtuzumab
        Date of the last alemtuzumab dose (CMV and CD4 windows run from it).
    assessments
        The regimen's own assessments, already dated.
    cd4_until
        CD4 counts are listed up to the first one on or after this date (the prophylaxis's
        earliest stop); default: the end of the CMV window.
    weekdays_only
        Move an item that falls on a Saturday or Sunday to the Monday after.
    """
    rules = knowledge.monitoring_rules()
    items: list[MonitoringItem] = [
        MonitoringItem(
            d, MonitoringKind.BLOOD_COUNT, rules.blood_count_text, rules.blood_count_citation
        )
        for d in _every(start, end, 7)
    ]
    cmv_end = add_months(last_alemtuzumab, rules.cmv_months_after)
    items += [
        MonitoringItem(
            d,
            MonitoringKind.CMV_PCR,
            f"CMV PCR (every {cmv_interval_days} days, to {rules.cmv_months_after} months after "
            "the last dose)",
            rules.cmv_citation,
        )
        for d in _every(start, cmv_end, cmv_interval_days)
    ]
    if cd4_until is None:
        cd4_until = cmv_end
    day = last_alemtuzumab + timedelta(days=cd4_interval_days)
    while True:
        items.append(
            MonitoringItem(
                day,
                MonitoringKind.CD4,
                f"CD4+ count; repeat every {cd4_interval_days} days until ≥ "
                f"{rules.cd4_threshold_per_ul} cells/µL",
                rules.cd4_citation,
            )
        )
        if day >= cd4_until:
            break
        day += timedelta(days=cd4_interval_days)
    for when, rule in assessments:
        items.append(MonitoringItem(when, rule.kind, rule.description, rule.citation))
    response_days = [w for w, r in assessments if r.kind is MonitoringKind.RESPONSE]
    if not any(abs((w - end).days) <= 7 for w in response_days):
        items.append(
            MonitoringItem(
                end + timedelta(days=1),
                MonitoringKind.RESPONSE,
                "End-of-therapy response assessment (nodes, liver, spleen, blood counts)",
                rules.response_citation,
            )
        )
    items.append(
        MonitoringItem(
            add_months(end, rules.response_confirm_months),
            MonitoringKind.RESPONSE,
            f"Response confirmation, {rules.response_confirm_months} months after the end of "
            "therapy (CR/PR must last ≥ 2 months; marrow to confirm a CR)",
            rules.response_citation,
        )
    )
    if weekdays_only:
        items = [
            replace(m, date=m.date + timedelta(days=7 - m.date.weekday()))
            if m.date.weekday() >= 5
            else m
            for m in items
        ]
    order = {k: i for i, k in enumerate(MonitoringKind)}
    return tuple(sorted(items, key=lambda m: (m.date, order[m.kind])))
