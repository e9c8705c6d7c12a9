"""The schedule builder: a regimen laid out for one patient from a start date.

:func:`plan` turns a :class:`~cllcds.domain.Regimen`, the patient's height and weight and a
start date into a :class:`~cllcds.domain.Plan`: every administration with its date, dose
(calculated and ordered, with the formula), route, cycle and day; alemtuzumab preparation and
premedication; PCP and herpes prophylaxis; monitoring; and notes on every assumption.

Planning semantics
------------------
* Escalation: the plan assumes each step is tolerated at its first dose (3 mg day 1, 10 mg day
  2, 30 mg day 3, as the EU SmPC words it and the pivotal trial practised). The US label repeats
  a step daily until infusion reactions are grade 2 or less; the course engine (``replay``)
  re-escalates on reactions and after any gap of 7 days or more. The plan says so in a note.
* Three-times-weekly dosing falls on the plan's TIW weekdays (default Mon-Wed-Fri, the label's
  example), never on consecutive days; a schedule that opens with TIW dosing gives its first
  dose on the start date, whatever the weekday. The 90 mg weekly ceiling is read as the course
  engine reads it (``PlanOptions.weekly_ceiling``, default ``treatment-week``: weeks of 7 days
  from day 1, realigned at a restart after a gap of 7 days or more), so the label's schedule
  (3/10/30 mg on days 1-3, then 30 mg three times a week) is laid out in full. Under the
  institutional ``rolling-7-days`` setting a TIW dose that would put more than 90 mg in any 7
  days (e.g. the first Monday after 3 + 10 + 30 + 30 mg) is not given: that slot is skipped and
  dosing resumes at the next TIW day, with a note.
* Explicit trial days are laid out as written; if they (or an override) would pass a ceiling,
  the plan is refused with the reason (:class:`~cllcds.domain.CeilingError`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import pairwise

from cllcds import knowledge
from cllcds.domain import (
    ALEMTUZUMAB_MAX_WEEKLY_MG,
    ALEMTUZUMAB_WINDOW_DAYS,
    Administration,
    AdministrationRoute,
    AdministrationRule,
    BodyMeasures,
    Citation,
    Dose,
    DoseBasis,
    DoseOverride,
    DosePhase,
    DoseSpec,
    Drug,
    InputError,
    NoteLevel,
    PatientDetails,
    Plan,
    PlanNote,
    PlanOptions,
    Regimen,
    RegimenStatus,
    check_single_dose,
    check_weekly_dose,
    weekly_excess,
)
from cllcds.rules import dosing, supportive

__all__ = ["plan"]

_ESCALATION_CITATION = Citation(
    source="L1",
    locator="Dosage and administration: dose escalation",
    note=(
        "US: each step daily until infusion reactions are grade 2 or less; escalation again "
        "after an interruption of 7 days or more (also L4, L7). EU: days 1, 2, 3 if tolerated "
        "(E3, E4)."
    ),
)


@dataclass(frozen=True, slots=True)
class _Event:
    """One administration before its dose is calculated."""

    day: int
    cycle: int
    cycle_day: int
    rule: AdministrationRule
    amount: float
    order: int


def _amount(rule: AdministrationRule, cycle: int, overrides: tuple[DoseOverride, ...]) -> float:
    """The rule's dose amount in ``cycle``, after any override of its drug."""
    amount = rule.dose.amount
    for ov in overrides:
        if ov.drug is rule.drug and (ov.cycles is None or cycle in ov.cycles):
            amount = ov.amount if rule.phase is DosePhase.TREATMENT else min(amount, ov.amount)
    return amount


def _check_overrides(regimen: Regimen, options: PlanOptions, n_cycles: int) -> None:
    for ov in options.overrides:
        field = f"{ov.drug.value} override"
        if ov.drug not in regimen.drugs:
            raise InputError(
                field,
                ov.drug.value,
                f"{regimen.id} gives {', '.join(d.value for d in regimen.drugs)}",
            )
        if ov.cycles is not None and max(ov.cycles) > n_cycles:
            raise InputError(f"{field} cycles", ov.cycles, f"the plan has {n_cycles} cycle(s)")
        bases = {r.dose.basis for r in (*regimen.run_in, *regimen.components) if r.drug is ov.drug}
        if DoseBasis.FLAT in bases:
            check_single_dose(ov.drug, ov.amount, field)


def _window_ok(doses: dict[date, float], day: date, mg: float, reading: str) -> bool:
    """Whether adding ``mg`` on ``day`` keeps every week at or below 90 mg under ``reading``
    (the domain's one reading of the weekly ceiling, :func:`~cllcds.domain.weekly_excess`)."""
    trial = dict(doses)
    trial[day] = trial.get(day, 0.0) + mg
    return weekly_excess(trial.items(), reading) is None


def _layout(
    regimen: Regimen, start: date, options: PlanOptions, n_cycles: int
) -> tuple[list[_Event], list[PlanNote]]:
    """Every administration's day, cycle and amount; TIW slots placed within the ceilings."""
    notes: list[PlanNote] = []
    events: list[_Event] = []
    order = 0
    for rule in regimen.run_in:
        for d in rule.days:
            events.append(_Event(d, 0, d, rule, _amount(rule, 1, options.overrides), order))
        order += 1
    tiw_rules: list[tuple[int, int, AdministrationRule]] = []
    for cycle in range(1, n_cycles + 1):
        offset = regimen.run_in_days + (cycle - 1) * regimen.cycles.length_days
        for idx, rule in enumerate(regimen.components):
            if not rule.applies_to(cycle) or (rule.optional and not options.include_optional):
                continue
            if rule.tiw is not None:
                tiw_rules.append((cycle, offset, rule))
                continue
            amount = _amount(rule, cycle, options.overrides)
            for d in rule.days:
                events.append(_Event(offset + d, cycle, d, rule, amount, order + idx))
    alem: dict[date, float] = {}
    for e in events:
        if e.rule.drug is Drug.ALEMTUZUMAB:
            when = start + timedelta(days=e.day - 1)
            alem[when] = alem.get(when, 0.0) + e.amount
    check_weekly_dose(alem.items(), options.weekly_ceiling)
    for cycle, offset, rule in tiw_rules:
        assert rule.tiw is not None
        amount = _amount(rule, cycle, options.overrides)
        skipped: list[date] = []
        for d in range(rule.tiw.from_day, rule.tiw.to_day + 1):
            when = start + timedelta(days=offset + d - 1)
            # Day 1 is the start the user chose: the first dose is given then, whatever the
            # weekday; later doses follow the TIW weekdays.
            if when.weekday() not in options.tiw_weekdays and offset + d != 1:
                continue
            if rule.drug is Drug.ALEMTUZUMAB:
                if any(abs((when - other).days) < 2 for other in alem):
                    continue  # alternate days: never on consecutive days
                if not _window_ok(alem, when, amount, options.weekly_ceiling):
                    skipped.append(when)
                    continue
                alem[when] = amount
            events.append(_Event(offset + d, cycle, d, rule, amount, order + 99))
        if skipped:
            dates = ", ".join(s.isoformat() for s in skipped)
            notes.append(
                PlanNote(
                    NoteLevel.INFO,
                    f"TIW {rule.drug.value} slot(s) not given on {dates}: another "
                    f"{amount:g} mg there would put more than {ALEMTUZUMAB_MAX_WEEKLY_MG:g} mg "
                    f"in {_week_words(options.weekly_ceiling)} (with the escalation doses); "
                    "dosing continues on the next TIW day.",
                    dosing.CEILING_CITATION,
                )
            )
    events.sort(key=lambda e: (e.day, e.order))
    return events, notes


def _week_words(reading: str) -> str:
    if reading == "rolling-7-days":
        return f"{ALEMTUZUMAB_WINDOW_DAYS} consecutive days (rolling-7-days setting)"
    return "one treatment week"


def _regimen_notes(regimen: Regimen, options: PlanOptions) -> list[PlanNote]:
    notes: list[PlanNote] = []
    if regimen.status is RegimenStatus.HISTORICAL:
        notes.append(
            PlanNote(
                NoteLevel.WARNING,
                "Historical regimen: an exploratory schedule the review reports but its authors "
                "did not take forward. Not a first choice.",
            )
        )
    routes = {r.route for r in (*regimen.run_in, *regimen.components) if r.drug is Drug.ALEMTUZUMAB}
    if AdministrationRoute.SC in routes:
        notes.append(
            PlanNote(
                NoteLevel.INFO,
                "Subcutaneous alemtuzumab is not a US-labelled route (trial practice).",
                Citation("D6", "Compendium: alemtuzumab routes", note="reference §1.10"),
            )
        )
    if regimen.has_alemtuzumab_escalation:
        notes.append(
            PlanNote(
                NoteLevel.INFO,
                "Escalation is planned assuming each step is tolerated at its first dose. The "
                "US label repeats a step daily until infusion reactions are grade 2 or less; "
                "the course engine re-escalates after grade 3-4 reactions and after any gap of "
                "7 days or more, and moves the later doses.",
                _ESCALATION_CITATION,
            )
        )
    for rule in regimen.components:
        if rule.optional and not options.include_optional:
            notes.append(
                PlanNote(
                    NoteLevel.INFO,
                    f"Optional, not planned: {rule.drug.value} {rule.dose.text()} "
                    f"{rule.route.label} — {rule.condition} (plan it with the optional "
                    "components included).",
                    rule.citation,
                )
            )
    for rule in (*regimen.run_in, *regimen.components):
        if rule.note:
            notes.append(PlanNote(NoteLevel.INFO, f"{rule.drug.label}: {rule.note}", rule.citation))
    for text in regimen.conflicts:
        notes.append(PlanNote(NoteLevel.INFO, f"Sources disagree: {text}"))
    for text in regimen.assumptions:
        notes.append(PlanNote(NoteLevel.INFO, f"Assumption: {text}"))
    if regimen.cycles.note:
        notes.append(
            PlanNote(NoteLevel.INFO, f"Cycles: {regimen.cycles.note}", regimen.cycles.citation)
        )
    for text in regimen.notes:
        notes.append(PlanNote(NoteLevel.INFO, text))
    for text in supportive.supportive_rules(options.rule_set).notes:
        notes.append(PlanNote(NoteLevel.INFO, f"Rule set {options.rule_set.value}: {text}"))
    return notes


def _escalation_warnings(alem: list[Administration]) -> list[PlanNote]:
    notes: list[PlanNote] = []
    if not alem:
        return notes
    first = alem[0]
    if first.dose_mg > 3:
        notes.append(
            PlanNote(
                NoteLevel.WARNING,
                f"The first alemtuzumab dose is {first.dose_mg:g} mg without escalation from "
                "3 mg. The label requires escalation (3 → 10 → 30 mg) at initiation; the "
                "regimen's source describes none. Decide locally.",
                _ESCALATION_CITATION,
            )
        )
    restarts = [
        (b, (b.date - a.date).days)
        for a, b in pairwise(alem)
        if (b.date - a.date).days >= supportive.REESCALATION_GAP_DAYS and b.dose_mg > 3
    ]
    if restarts:
        listed = ", ".join(
            f"{b.date.isoformat()} ({b.dose_mg:g} mg after {g} days)" for b, g in restarts
        )
        notes.append(
            PlanNote(
                NoteLevel.WARNING,
                f"Alemtuzumab resumes without re-escalation after a gap of "
                f"{supportive.REESCALATION_GAP_DAYS} days or more: {listed}. The label "
                "restarts at 3 mg after such a gap; the regimen's source does not. Decide "
                "locally.",
                _ESCALATION_CITATION,
            )
        )
    return notes


def plan(
    body: BodyMeasures,
    regimen: Regimen,
    start: date,
    options: PlanOptions | None = None,
    patient: PatientDetails | None = None,
) -> Plan:
    """Lay ``regimen`` out for one patient from ``start`` (day 1).

    Parameters
    ----------
    body
        Height and weight (validated on construction).
    regimen
        From :func:`cllcds.knowledge.regimen`.
    start
        Date of day 1: the first administration.
    options
        Rule set, BSA formula and cap, rounding, TIW weekdays, prophylaxis start day, monitoring
        intervals, number of cycles, optional components, dose overrides.
    patient
        Name and identifier for the printed sheet.

    Returns
    -------
    Plan
        Ceilings checked: every alemtuzumab dose ≤ 30 mg and ≤ 90 mg in any 7 days.

    Raises
    ------
    InputError
        Bad options (too many cycles, an override for a drug the regimen does not give, a
        rounding that moves a dose too far).
    CeilingError
        When the regimen's explicit days or an override would pass an alemtuzumab ceiling.

    Examples
    --------
    >>> from cllcds import knowledge
    >>> p = plan(BodyMeasures(170, 70), knowledge.regimen("alemtuzumab-iv-label"),
    ...          date(2024, 1, 1))
    >>> [(a.date.isoformat(), a.dose_mg) for a in p.administrations[:4]]
    [('2024-01-01', 3.0), ('2024-01-02', 10.0), ('2024-01-03', 30.0), ('2024-01-05', 30.0)]
    """
    options = options if options is not None else PlanOptions()
    patient = patient if patient is not None else PatientDetails()
    n_cycles = options.cycles if options.cycles is not None else regimen.cycles.count
    if n_cycles > regimen.cycles.limit:
        raise InputError(
            "cycles", n_cycles, f"{regimen.id} has at most {regimen.cycles.limit} cycle(s)"
        )
    _check_overrides(regimen, options, n_cycles)

    bsa_uncapped = dosing.bsa_m2(body.height_cm, body.weight_kg, options.bsa_formula)
    bsa = bsa_uncapped
    notes: list[PlanNote] = []
    if options.bsa_cap_m2 is not None and bsa_uncapped > options.bsa_cap_m2:
        bsa = options.bsa_cap_m2
        notes.append(
            PlanNote(
                NoteLevel.INFO,
                f"BSA {bsa_uncapped:.2f} m2 capped at {bsa:.2f} m2 for mg/m2 doses (plan option).",
            )
        )

    events, layout_notes = _layout(regimen, start, options, n_cycles)
    product = knowledge.alemtuzumab_product()
    doses: dict[tuple[Drug, float, DoseBasis, AdministrationRoute], Dose] = {}
    admin: list[Administration] = []
    for e in events:
        rule = e.rule
        key = (rule.drug, e.amount, rule.dose.basis, rule.route)
        if key not in doses:
            doses[key] = dosing.calculate_dose(
                rule.drug,
                DoseSpec(e.amount, rule.dose.basis),
                rule.route,
                body,
                bsa,
                formula=options.bsa_formula,
                bsa_capped_from=bsa_uncapped if bsa < bsa_uncapped else None,
                rounding=options.rounding,
            )
        dose = doses[key]
        when = start + timedelta(days=e.day - 1)
        admin.append(
            Administration(
                date=when,
                day=e.day,
                cycle=e.cycle,
                cycle_day=e.cycle_day,
                drug=rule.drug,
                route=rule.route,
                dose=dose,
                phase=rule.phase,
                citation=rule.citation,
                infusion=rule.infusion,
                preparation=(
                    dosing.alemtuzumab_preparation(dose.ordered_mg, rule.route, product)
                    if rule.drug is Drug.ALEMTUZUMAB
                    else None
                ),
                note=(
                    f"override: {e.amount:g} {rule.dose.basis.value} (regimen {rule.dose.amount:g})"
                    if e.amount != rule.dose.amount
                    else ""
                ),
            )
        )
    dosing.check_ceilings(admin)

    # Premedication before the alemtuzumab doses that need it, per the label rule set.
    alem_idx = [i for i, a in enumerate(admin) if a.drug is Drug.ALEMTUZUMAB]
    premeds = supportive.premedication_for(
        options.rule_set, [(admin[i].date, admin[i].dose_mg, admin[i].phase) for i in alem_idx]
    )
    for i, pm in zip(alem_idx, premeds, strict=True):
        if pm is not None:
            admin[i] = replace(admin[i], premedication=pm)
    alem = [admin[i] for i in alem_idx]
    last_alem = alem[-1].date if alem else admin[-1].date

    prophylaxis = supportive.prophylaxis_schedule(
        options.rule_set, start, last_alem, options.prophylaxis_start_day
    )
    cycle1 = start + timedelta(days=regimen.run_in_days)
    assessments = tuple(
        (cycle1 + timedelta(days=d - 1), rule) for rule in regimen.assessments for d in rule.days
    )
    earliest_stop = next((p.earliest_stop_date for p in prophylaxis if p.earliest_stop_date), None)
    monitoring = supportive.monitoring_schedule(
        start,
        admin[-1].date,
        last_alem,
        cmv_interval_days=options.cmv_pcr_interval_days,
        cd4_interval_days=options.cd4_interval_days,
        assessments=assessments,
        cd4_until=earliest_stop,
        weekdays_only=options.monitoring_weekdays_only,
    )

    for ov in options.overrides:
        cycles = "all cycles" if ov.cycles is None else f"cycle(s) {', '.join(map(str, ov.cycles))}"
        unit = next(
            r.dose.basis.value for r in (*regimen.run_in, *regimen.components) if r.drug is ov.drug
        )
        notes.append(
            PlanNote(
                NoteLevel.WARNING,
                f"Dose override: {ov.drug.value} {ov.amount:g} {unit} in {cycles} — the "
                "prescriber's choice, not the regimen's source.",
            )
        )
    notes += _escalation_warnings(alem)
    notes += layout_notes
    notes += _regimen_notes(regimen, options)
    uses_bsa = any(a.dose.basis is DoseBasis.MG_PER_M2 for a in admin)
    return Plan(
        regimen=regimen,
        patient=patient,
        body=body,
        bsa_m2=bsa,
        bsa_uncapped_m2=bsa_uncapped,
        start=start,
        options=options,
        cycles=n_cycles,
        administrations=tuple(admin),
        prophylaxis=prophylaxis,
        monitoring=monitoring,
        notes=tuple(notes),
        bsa_citation=dosing.BSA_CITATIONS[options.bsa_formula] if uses_bsa else None,
    )
