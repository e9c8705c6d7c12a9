"""The course engine: replay a course's events through the rules and say what to do next.

:func:`replay` is a pure function of the course (and the engine settings): the same events in
any order within a day give the same state. Every part of the state a rule decided is a
:class:`~cllcds.domain.Decision` with its citation; missing data gives an ``indeterminate``
decision and a due action, never a guess.

Dosing follows the label (reference ``clinical-rules.md`` §1.2, §1.5, §1.6):

* escalation 3 → 10 → 30 mg, one step a day, advancing only when the last infusion reaction was
  grade 2 or less (L1); a grade 3 or 4 reaction withholds (L4, L5, L6) and the step is repeated;
* maintenance three times a week on alternate days, never above 30 mg a dose or 90 mg in any
  7 days (L1, L4, L6, L7);
* a gap of 7 days or more between doses restarts escalation at 3 mg (L1, L4, L7);
* neutropenia / thrombocytopenia: the withhold / resume / discontinue ladder of the course's
  label rule set (:mod:`cllcds.rules.cytopenia`);
* serious infection withholds until resolved; autoimmune anaemia or thrombocytopenia
  discontinues (L3, E1); lymphopenia changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cllcds import knowledge
from cllcds.domain import (
    ALEMTUZUMAB_MAX_SINGLE_DOSE_MG,
    ALEMTUZUMAB_MAX_WEEKLY_MG,
    ALEMTUZUMAB_WINDOW_DAYS,
    CEILING_CITATION,
    DEFAULT_CD4_INTERVAL_DAYS,
    DEFAULT_CMV_PCR_INTERVAL_DAYS,
    DEFAULT_TIW_WEEKDAYS,
    AdministrationRoute,
    Antiviral,
    AssessmentEvent,
    AutoimmuneCytopenia,
    AutoimmuneKind,
    Citation,
    CmvAntigenemia,
    CmvPcr,
    Course,
    Decision,
    DecisionStatus,
    DoseGiven,
    DoseHeld,
    DosePhase,
    Drug,
    Esa,
    Event,
    EventType,
    Fever,
    GrowthFactor,
    Infection,
    InfusionReaction,
    LabCode,
    LabEvent,
    LabResult,
    ProphylaxisEvent,
    Regimen,
    Transfusion,
)
from cllcds.knowledge import Action as LadderAction
from cllcds.rules import cytopenia, grading, supportive

from ._context import patient_context
from ._findings import cmv_findings, grades_for, prophylaxis_for, renal_for, response_for
from ._state import (
    Action,
    Alert,
    CourseState,
    CourseStatus,
    HoldKind,
    HoldReason,
    NextDose,
    Severity,
)

SEED = "seed"

GAP_RESTART_DAYS = supportive.REESCALATION_GAP_DAYS
"""A gap of this many days or more restarts escalation at 3 mg (L1, L4, L7)."""

MIN_DAYS_BETWEEN_MAINTENANCE_DOSES = 2
"""Three times a week on alternate days: never on consecutive days (L1)."""

INFUSION_REACTION_WITHHOLD_GRADE = 3
"""Grade 3 or 4 infusion reactions withhold alemtuzumab; grade ≤ 2 allows escalation (L1, L4)."""

ESCALATION_CITATION = Citation(
    "L1",
    "Dosage and administration: dose escalation",
    note="3 mg, then 10 mg, daily until infusion reactions are grade 2 or less, then 30 mg; "
    "escalate again after an interruption of 7 days or more (L4, L7).",
    rule_set="us-2007",
)
REACTION_CITATION = Citation(
    "L4", "Boxed warning: infusion reactions", note="Withhold for grade 3 or 4 infusion reactions."
)
INFECTION_CITATION = Citation(
    "L3",
    "§2.3 Dose modification: serious infection",
    note="Withhold for serious infection or other serious adverse reaction until resolution "
    "(also E1).",
)
AUTOIMMUNE_CITATION = Citation(
    "L3",
    "§2.3 Dose modification: autoimmune cytopenia",
    note="Discontinue for autoimmune anaemia or autoimmune thrombocytopenia (also E1, L5).",
)
BLOOD_COUNT_CITATION = Citation(
    "L9", "Laboratory tests", note="Blood counts weekly during therapy (2001 US insert)."
)
FEVER_CMV_CITATION = Citation(
    SEED,
    "Summary",
    quote="CMV quantitative polymerase chain reaction or antigenemia should be performed "
    "routinely or at least without any delay in all febrile patients",
)
INFUSION_FEVER_CITATION = Citation(
    SEED,
    "Safety and tolerability",
    quote="Fever commonly begins 5–6 hours after the start of infusion",
)
LYMPHOPENIA_CITATION = Citation(
    "L3", "§2.3 Dose modification", note="No dose modification for lymphopenia (also E1)."
)
RESPONSE_TIMING_CITATION = Citation(
    "S1",
    "NCI-WG 1996 response criteria",
    note="CR and PR must last at least 2 months: assess at the end of therapy and again "
    "2 months later.",
)

FEVER_ANC_WINDOW_DAYS = 2
"""An ANC within this many days of a fever is taken as the ANC at the fever (configurable
default: no source gives a window)."""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Configurable defaults of the engine: institutional choices, not rules.

    Each has a named default; none comes from a label or guideline.
    """

    cmv_pcr_threshold_iu_per_ml: float = 1000.0
    """CMV PCR level at or above which pre-emptive therapy starts. The review gives no numeric
    threshold (clinical-rules.md §5, Open question 6): an institutional choice."""
    cmv_pcr_threshold_copies_per_ml: float = 1000.0
    """The same for laboratories reporting copies/mL (units are not interconvertible without
    the assay's calibration, so the institution sets each)."""
    cmv_antigenemia_threshold_cells: float = 1.0
    """pp65-positive cells per 2 × 10^5 leukocytes at or above which therapy starts (O'Brien 2008
    saw symptomatic reactivations at 19-651 cells and one asymptomatic at 6 cells that cleared:
    any positive cell starts therapy by default, an institutional choice)."""
    cmv_hold_alemtuzumab_during_treatment: bool = True
    """Withhold alemtuzumab while CMV is treated, until a test is negative (CLL2H, Wendtner 2004
    and Laurenti 2004 interrupted or stopped; O'Brien 2008 continued on prophylaxis). The
    sources differ: an institutional choice, default hold."""
    cmv_pcr_interval_days: int = DEFAULT_CMV_PCR_INTERVAL_DAYS
    cd4_interval_days: int = DEFAULT_CD4_INTERVAL_DAYS
    tiw_weekdays: tuple[int, ...] = DEFAULT_TIW_WEEKDAYS
    blood_count_interval_days: int = 7
    """Blood counts weekly during therapy (L9)."""
    prophylaxis_start_day: int | None = None


DEFAULT_SETTINGS = EngineSettings()

# Order of event types within one day: results first, then what was done, then reactions to it.
_TYPE_ORDER = {
    t: i
    for i, t in enumerate(
        (
            EventType.LAB,
            EventType.CMV_PCR,
            EventType.CMV_ANTIGENEMIA,
            EventType.ASSESSMENT,
            EventType.FEVER,
            EventType.INFECTION,
            EventType.AUTOIMMUNE_CYTOPENIA,
            EventType.ANTIVIRAL,
            EventType.GROWTH_FACTOR,
            EventType.TRANSFUSION,
            EventType.ESA,
            EventType.PROPHYLAXIS,
            EventType.DOSE_HELD,
            EventType.DOSE,
            EventType.INFUSION_REACTION,
            EventType.NOTE,
        )
    )
}


def _content(e: Event) -> tuple[str, str, float, str]:
    if isinstance(e, LabEvent):  # the common tie: several labs on one day
        r = e.result
        return ("0", r.code.value, r.value, f"{e.id!r} {e.supersedes!r}")
    return ("1", "", 0.0, _full_content(e))


def _full_content(e: Event) -> str:
    # Every field but the position in the document, so the key never depends on list order.
    return repr([(f.name, getattr(e, f.name)) for f in dataclasses.fields(e) if f.name != "index"])


@dataclass(frozen=True, slots=True)
class _Profile:
    """What the engine needs of a regimen for alemtuzumab dosing."""

    steps: tuple[tuple[float, AdministrationRoute], ...]
    target_mg: float
    maintenance_route: AdministrationRoute
    length_days: int
    monotherapy: bool


def _profile(regimen: Regimen) -> _Profile:
    rules = [r for r in (*regimen.run_in, *regimen.components) if r.drug is Drug.ALEMTUZUMAB]
    esc = sorted(
        (r for r in rules if r.phase is DosePhase.ESCALATION and r.days),
        key=lambda r: min(r.days),
    )
    tiw = [r for r in rules if r.tiw is not None]
    steps = tuple((r.dose.amount, r.route) for r in esc)
    if tiw:
        target = tiw[0].dose.amount
        route = tiw[0].route
        last_day = max(r.tiw.to_day for r in tiw if r.tiw is not None)
    else:
        treat = [r for r in rules if r.phase is DosePhase.TREATMENT] or rules
        target = max(r.dose.amount for r in treat)
        route = treat[0].route
        last_day = regimen.cycles.length_days * regimen.cycles.count
    if not steps:
        steps = ((target, route),)
    return _Profile(
        steps=steps,
        target_mg=target,
        maintenance_route=route,
        length_days=last_day + regimen.run_in_days,
        monotherapy=regimen.drugs == (Drug.ALEMTUZUMAB,) and bool(tiw),
    )


@dataclass
class _Hold:
    since: dt.date
    reason: str
    resume_when: str
    citation: Citation


@dataclass
class _Run:
    """Mutable state while replaying (never leaves this module)."""

    course: Course
    regimen: Regimen
    profile: _Profile
    settings: EngineSettings
    as_of: dt.date
    ladder: knowledge.DoseModificationRules
    baseline: cytopenia.Counts
    doses: list[tuple[dt.date, float, AdministrationRoute]] = field(default_factory=list)
    step_index: int = 0
    escalation_ceiling_mg: float = 0.0
    maintenance_mg: float = 0.0
    last_dose_tolerated: bool = True
    holds: dict[HoldKind, _Hold] = field(default_factory=dict)
    released: dict[HoldKind, dt.date] = field(default_factory=dict)
    resume_dose_mg: float | None = None
    occurrences: int = 0
    discontinued: tuple[dt.date, str, Citation] | None = None
    labs: dict[LabCode, LabResult] = field(default_factory=dict)
    lab_history: list[LabResult] = field(default_factory=list)
    cmv_tests: list[CmvPcr | CmvAntigenemia] = field(default_factory=list)
    antivirals: list[Antiviral] = field(default_factory=list)
    fevers: list[Fever] = field(default_factory=list)
    assessments: list[AssessmentEvent] = field(default_factory=list)
    transfusions: list[Transfusion] = field(default_factory=list)
    growth_factor: list[GrowthFactor] = field(default_factory=list)
    esas: list[Esa] = field(default_factory=list)
    prophylaxis_events: list[ProphylaxisEvent] = field(default_factory=list)
    held_days: list[DoseHeld] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    alert_hold: list[HoldKind | None] = field(default_factory=list)
    counts_pending: dt.date | None = None
    decisions: list[Decision[Any]] = field(default_factory=list)

    # ---------------------------------------------------------------------------------------
    def alert(
        self,
        sev: Severity,
        code: str,
        msg: str,
        cite: Citation,
        day: dt.date | None,
        *,
        hold: HoldKind | None = None,
    ) -> None:
        """Raise an alert; one tied to a hold lasts only while the hold does."""
        self.alerts.append(Alert(sev, code, msg, cite, day))
        self.alert_hold.append(hold)

    def decide(
        self,
        rule: str,
        outcome: object,
        rationale: str,
        cite: Citation,
        *,
        status: DecisionStatus = DecisionStatus.DECIDED,
        used: dict[str, object] | None = None,
        missing: Iterable[str] = (),
    ) -> None:
        self.decisions.append(
            Decision(rule, outcome, status, rationale, cite, used or {}, tuple(missing))
        )

    @property
    def started(self) -> bool:
        return bool(self.doses)

    def window_mg(self, day: dt.date) -> float:
        """Alemtuzumab given in the 7 days ending ``day`` (inclusive)."""
        lo = day - dt.timedelta(days=ALEMTUZUMAB_WINDOW_DAYS - 1)
        total = 0.0
        for d, mg, _ in reversed(self.doses):  # doses are in date order: stop once past
            if d < lo:
                break
            if d <= day:
                total += mg
        return total

    def hold(
        self, kind: HoldKind, since: dt.date, reason: str, resume: str, cite: Citation
    ) -> None:
        if self.discontinued is not None:
            return  # nothing to resume after discontinuation
        if kind not in self.holds:
            self.holds[kind] = _Hold(since, reason, resume, cite)
            self.released.pop(kind, None)

    def release(self, kind: HoldKind, day: dt.date) -> None:
        if self.holds.pop(kind, None) is not None:
            self.released[kind] = day

    # ---------------------------------------------------------------------------------------
    def on_dose(self, ev: DoseGiven) -> None:
        if not ev.is_alemtuzumab:
            return
        day, mg = ev.date, ev.dose_mg
        if self.discontinued is not None:
            self.alert(
                Severity.CRITICAL,
                "dose-after-discontinuation",
                f"Alemtuzumab {mg:g} mg recorded on {day} after discontinuation "
                f"({self.discontinued[1]}).",
                self.discontinued[2],
                day,
            )
        for kind, h in list(self.holds.items()):
            self.alert(
                Severity.WARNING,
                "dose-during-hold",
                f"Alemtuzumab {mg:g} mg recorded on {day} while withheld for {h.reason}.",
                h.citation,
                day,
            )
            # A clinician giving a dose has judged a reaction or infection resolved; holds with
            # objective resume criteria (counts, CMV) stay until the criteria are met.
            if kind in (HoldKind.INFUSION_REACTION, HoldKind.SERIOUS_INFECTION):
                self.release(kind, day)
        if mg > ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:
            self.alert(
                Severity.CRITICAL,
                "single-dose-ceiling",
                f"Alemtuzumab {mg:g} mg on {day} exceeds the "
                f"{ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:g} mg single-dose ceiling.",
                CEILING_CITATION,
                day,
            )
        expected = self.expected_dose(day)
        if self.doses:
            gap = (day - self.doses[-1][0]).days
            if gap >= GAP_RESTART_DAYS and mg > self.profile.steps[0][0]:
                self.alert(
                    Severity.CRITICAL,
                    "re-escalation-required",
                    f"{mg:g} mg given on {day} after {gap} days without alemtuzumab: "
                    f"escalation must restart at {self.profile.steps[0][0]:g} mg.",
                    ESCALATION_CITATION,
                    day,
                )
        if expected is not None and mg > expected[0] and mg <= ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:
            self.alert(
                Severity.WARNING,
                "dose-above-step",
                f"{mg:g} mg given on {day}; the escalation allowed {expected[0]:g} mg.",
                ESCALATION_CITATION,
                day,
            )
        if self.resume_dose_mg is not None and mg > self.resume_dose_mg:
            self.alert(
                Severity.WARNING,
                "dose-above-resume-dose",
                f"{mg:g} mg given on {day}; the label resumes at "
                f"{self.resume_dose_mg:g} mg after this occurrence.",
                self.ladder.citation,
                day,
            )
        if self.doses and (day - self.doses[-1][0]).days >= GAP_RESTART_DAYS:
            # A restart after a delay of 7 days or more escalates to 10 then 30 mg "as
            # tolerated" (footnote to every row of the ladder); after a second occurrence the
            # 2001 insert escalates "to 10 mg only" (data: gap_restart_ceiling_after_second_mg).
            ceiling = (
                self.ladder.gap_restart_ceiling_after_second_mg
                if self.occurrences >= 2
                else self.profile.target_mg
            )
            self.escalation_ceiling_mg = self.maintenance_mg = min(ceiling, self.profile.target_mg)
        self.doses.append((day, mg, ev.route))
        if self.window_mg(day) > ALEMTUZUMAB_MAX_WEEKLY_MG:
            self.alert(
                Severity.CRITICAL,
                "weekly-ceiling",
                f"{self.window_mg(day):g} mg of alemtuzumab in the 7 days to {day} exceeds "
                f"the {ALEMTUZUMAB_MAX_WEEKLY_MG:g} mg weekly ceiling.",
                CEILING_CITATION,
                day,
            )
        # Where the course now stands in the escalation.
        steps = [s for s, _ in self.profile.steps]
        at_or_below = [i for i, s in enumerate(steps) if s <= mg]
        self.step_index = at_or_below[-1] if at_or_below else 0
        if mg >= self.escalation_ceiling_mg:
            self.step_index = len(steps)  # escalation complete
        self.last_dose_tolerated = True
        self.resume_dose_mg = None

    def on_reaction(self, ev: InfusionReaction) -> None:
        if ev.grade >= INFUSION_REACTION_WITHHOLD_GRADE:
            self.last_dose_tolerated = False
            self.hold(
                HoldKind.INFUSION_REACTION,
                ev.date,
                f"grade {ev.grade} infusion reaction on {ev.date}",
                "the reaction has resolved; repeat the same dose step with premedication "
                "(do not escalate)",
                REACTION_CITATION,
            )
            self.alert(
                Severity.CRITICAL,
                "infusion-reaction",
                f"Grade {ev.grade} infusion reaction on {ev.date}: withhold alemtuzumab; "
                "do not escalate until a dose is tolerated with reactions of grade 2 or "
                "less.",
                REACTION_CITATION,
                ev.date,
                hold=HoldKind.INFUSION_REACTION,
            )
        self.decide(
            "infusion-reaction.escalation",
            ev.grade < INFUSION_REACTION_WITHHOLD_GRADE,
            f"Infusion reaction grade {ev.grade} on {ev.date}: "
            + (
                "escalation may continue (grade ≤ 2)."
                if ev.grade < 3
                else "withhold; the step is not tolerated."
            ),
            ESCALATION_CITATION,
            used={"grade": ev.grade},
        )

    def on_lab(self, ev: LabEvent) -> None:
        r = ev.result
        prev = self.labs.get(r.code)
        if prev is None or prev.date is None or (r.date is not None and r.date >= prev.date):
            self.labs[r.code] = r
        self.lab_history.append(r)
        if r.code in (LabCode.ANC, LabCode.PLT):
            self.counts_pending = ev.date  # judged once all of the day's labs are in
        if r.code is LabCode.ALC:
            self.decide(
                "lymphopenia.no-modification",
                "no dose change",
                "Lymphopenia is the intended effect: the label modifies no dose for it.",
                LYMPHOPENIA_CITATION,
                used={"ALC": r.value},
            )

    def current_counts(self, day: dt.date) -> cytopenia.Counts:
        def latest(code: LabCode) -> float | None:
            r = self.labs.get(code)
            return r.value if r is not None else None

        return cytopenia.Counts(latest(LabCode.ANC), latest(LabCode.PLT))

    def cytopenia_check(self, day: dt.date) -> None:
        if self.discontinued is not None or not self.started:
            return
        counts = self.current_counts(day)
        if HoldKind.CYTOPENIA in self.holds:
            dec = cytopenia.may_resume(self.ladder, counts, self.baseline)
            self.decisions.append(dec)
            if dec.outcome:
                self.release(HoldKind.CYTOPENIA, day)
                step = self.ladder.step(self.occurrences)
                last_mg = self.doses[-1][1] if self.doses else self.profile.target_mg
                resume = last_mg if step.resume_same_dose else (step.resume_dose_mg or last_mg)
                self.resume_dose_mg = resume
                if not step.resume_same_dose:
                    # A set resume dose (30 or 10 mg) becomes the dose the course continues at;
                    # "the same dose" resumes where the course was, and escalation goes on.
                    self.maintenance_mg = min(self.maintenance_mg, resume)
                    self.escalation_ceiling_mg = self.maintenance_mg
                self.decide(
                    "cytopenia.resume-dose",
                    resume,
                    f"Counts recovered on {day}: resume at {resume:g} mg (occurrence "
                    f"{self.occurrences}); restart at {self.profile.steps[0][0]:g} mg "
                    f"instead if the delay since the last dose reaches "
                    f"{self.ladder.gap_restart_days} days.",
                    self.ladder.citation,
                    used={"occurrence": self.occurrences},
                )
            return
        dec = cytopenia.triggered(self.ladder, counts, self.baseline)
        self.decisions.append(dec)
        if not dec.outcome:
            return
        self.occurrences += 1
        step = self.ladder.step(self.occurrences)
        if step.action is LadderAction.DISCONTINUE:
            self.discontinue(day, f"cytopenia, occurrence {self.occurrences}", self.ladder.citation)
            return
        resume_text = (
            "the dose given before the hold"
            if step.resume_same_dose
            else f"{step.resume_dose_mg:g} mg"
        )
        self.hold(
            HoldKind.CYTOPENIA,
            day,
            f"neutropenia/thrombocytopenia, occurrence {self.occurrences}",
            f"{cytopenia.resume_condition(self.ladder, self.baseline)}; then resume at "
            f"{resume_text} (restart at 3 mg if {self.ladder.gap_restart_days} or more days have "
            "passed since the last dose)",
            self.ladder.citation,
        )
        self.alert(
            Severity.CRITICAL,
            "cytopenia-hold",
            f"{dec.rationale} Occurrence {self.occurrences} under {self.ladder.rule_set.value}.",
            self.ladder.citation,
            day,
            hold=HoldKind.CYTOPENIA,
        )

    def discontinue(self, day: dt.date, reason: str, cite: Citation) -> None:
        if self.discontinued is None:
            self.discontinued = (day, reason, cite)
            self.holds.clear()
            self.alert(
                Severity.CRITICAL,
                "discontinued",
                f"Discontinue alemtuzumab: {reason} ({day}).",
                cite,
                day,
            )
            self.decide(
                "course.discontinue", "discontinued", f"Discontinue alemtuzumab: {reason}.", cite
            )

    def on_infection(self, ev: Infection) -> None:
        if ev.is_serious:
            if ev.resolved is not None and ev.resolved <= self.as_of:
                self.decide(
                    "infection.hold",
                    "resolved",
                    f"Serious infection from {ev.date} resolved on {ev.resolved}: the hold "
                    "has ended.",
                    INFECTION_CITATION,
                    used={"grade": ev.grade},
                )
                self.released[HoldKind.SERIOUS_INFECTION] = ev.resolved
                return
            self.hold(
                HoldKind.SERIOUS_INFECTION,
                ev.date,
                f"serious infection (grade {ev.grade}"
                + (f": {ev.description})" if ev.description else ")"),
                "the infection has resolved (record the date it resolved)",
                INFECTION_CITATION,
            )
            self.alert(
                Severity.CRITICAL,
                "serious-infection",
                f"Serious infection on {ev.date}: withhold alemtuzumab until resolved.",
                INFECTION_CITATION,
                ev.date,
                hold=HoldKind.SERIOUS_INFECTION,
            )
        else:
            self.alert(
                Severity.INFO,
                "infection",
                f"Grade {ev.grade} infection on {ev.date}; not serious: no dose change.",
                INFECTION_CITATION,
                ev.date,
            )

    def on_autoimmune(self, ev: AutoimmuneCytopenia) -> None:
        if ev.kind in (AutoimmuneKind.HAEMOLYTIC_ANAEMIA, AutoimmuneKind.THROMBOCYTOPENIA):
            self.discontinue(ev.date, f"autoimmune {ev.kind.value}", AUTOIMMUNE_CITATION)
        else:
            self.alert(
                Severity.WARNING,
                "autoimmune-cytopenia",
                f"Autoimmune cytopenia '{ev.kind_text}' on {ev.date}: the label discontinues "
                "for autoimmune anaemia or thrombocytopenia; review whether this is one.",
                AUTOIMMUNE_CITATION,
                ev.date,
            )
            self.decide(
                "autoimmune.discontinue",
                None,
                f"'{ev.kind_text}' is not recognised as autoimmune anaemia or thrombocytopenia.",
                AUTOIMMUNE_CITATION,
                status=DecisionStatus.INDETERMINATE,
                missing=("autoimmune kind",),
            )

    def on_fever(self, ev: Fever) -> None:
        self.fevers.append(ev)
        self.decisions.append(grading.grade_fever(ev.temperature_c).decision)
        anc = self.labs.get(LabCode.ANC)
        if (
            anc is not None
            and anc.date is not None
            and abs((ev.date - anc.date).days) <= FEVER_ANC_WINDOW_DAYS
        ):
            fn = grading.grade_febrile_neutropenia(anc, max_temperature_c=ev.temperature_c)
            self.decisions.append(fn.decision)
            if fn.grade is not None and fn.grade >= 3:
                self.alert(
                    Severity.CRITICAL,
                    "febrile-neutropenia",
                    f"Febrile neutropenia on {ev.date}: {ev.temperature_c:g} °C with ANC "
                    f"{anc.value * 1000:,.0f}/µL. Urgent evaluation and empirical treatment.",
                    fn.citation,
                    ev.date,
                )
        if any(d == ev.date for d, _, _ in self.doses):
            self.alert(
                Severity.INFO,
                "infusion-fever",
                f"Fever on a dose day ({ev.date}): infusion fever usually begins 5-6 h after "
                "the start of the infusion; CMV must still be tested.",
                INFUSION_FEVER_CITATION,
                ev.date,
            )

    # ---------------------------------------------------------------------------------------
    def expected_dose(self, day: dt.date) -> tuple[float, AdministrationRoute, str] | None:
        """The dose the escalation allows on ``day`` (ignoring holds)."""
        steps = self.profile.steps
        if not self.doses:
            return steps[0][0], steps[0][1], "escalation"
        last_day = self.doses[-1][0]
        if (day - last_day).days >= GAP_RESTART_DAYS:
            return steps[0][0], steps[0][1], "re-escalation"
        if self.resume_dose_mg is not None:  # the first dose after a cytopenia hold
            mg = self.resume_dose_mg
            if mg >= self.maintenance_mg:
                return self.maintenance_mg, self.profile.maintenance_route, "maintenance"
            route = next((r for s, r in steps if s == mg), self.profile.maintenance_route)
            return mg, route, "escalation"
        if self.step_index >= len(steps) or self.doses[-1][1] >= self.escalation_ceiling_mg:
            return self.maintenance_mg, self.profile.maintenance_route, "maintenance"
        i = self.step_index + (1 if self.last_dose_tolerated else 0)
        if i >= len(steps):
            return self.maintenance_mg, self.profile.maintenance_route, "maintenance"
        mg, route = steps[i]
        return min(mg, self.escalation_ceiling_mg), route, "escalation"


def _sorted_events(course: Course, as_of: dt.date) -> list[Event]:
    events = sorted(
        (e for e in course.effective_events() if e.date <= as_of),
        key=lambda e: (e.date, _TYPE_ORDER[e.type]),
    )
    # Ties (same day, same type) are put in content order, so list order never matters; the
    # content key is costly, so it is computed only for the tied runs.
    out: list[Event] = []
    i = 0
    while i < len(events):
        j = i + 1
        key = (events[i].date, events[i].type)
        while j < len(events) and (events[j].date, events[j].type) == key:
            j += 1
        run = events[i:j]
        out.extend(run if len(run) == 1 else sorted(run, key=_content))
        i = j
    return out


def _as_of(course: Course) -> dt.date:
    if course.as_of is not None:
        return course.as_of
    dates = [e.date for e in course.events]
    return max([course.start_date, *dates])


def _baseline_counts(course: Course) -> cytopenia.Counts:
    if course.baseline is None:
        return cytopenia.Counts(None, None)
    anc, plt = course.baseline.lab(LabCode.ANC), course.baseline.lab(LabCode.PLT)
    return cytopenia.Counts(anc.value if anc else None, plt.value if plt else None)


def replay(course: Course, settings: EngineSettings = DEFAULT_SETTINGS) -> CourseState:
    """Fold the course's events through the rules; return where it stands and what to do next.

    Parameters
    ----------
    course
        From :func:`cllcds.course.parse_course` or built directly.
    settings
        Configurable defaults (CMV thresholds, intervals, TIW weekdays).

    Examples
    --------
    >>> import datetime as dt
    >>> from cllcds.domain import Course, Patient, DoseGiven, AdministrationRoute
    >>> c = Course(Patient("p1"), "alemtuzumab-iv-label", dt.date(2024, 1, 1),
    ...            events=(DoseGiven(date=dt.date(2024, 1, 1), drug="alemtuzumab", dose_mg=3,
    ...                              route=AdministrationRoute.IV),))
    >>> s = replay(c)
    >>> (s.next_dose.date.isoformat(), s.next_dose.dose_mg)
    ('2024-01-02', 10.0)
    """
    regimen = knowledge.regimen(course.regimen_id)
    profile = _profile(regimen)
    as_of = _as_of(course)
    run = _Run(
        course=course,
        regimen=regimen,
        profile=profile,
        settings=settings,
        as_of=as_of,
        ladder=cytopenia.rules_for(course.rule_sets.label),
        baseline=_baseline_counts(course),
        escalation_ceiling_mg=profile.target_mg,
        maintenance_mg=profile.target_mg,
    )
    if not profile.monotherapy:
        run.alert(
            Severity.INFO,
            "combination-regimen",
            f"{regimen.name}: the engine follows alemtuzumab dosing, holds and monitoring; "
            "the other drugs follow the printed plan.",
            regimen.provenance[0],
            None,
        )
    for ev in _sorted_events(course, as_of):
        if run.counts_pending is not None and (
            not isinstance(ev, LabEvent) or ev.date != run.counts_pending
        ):
            run.cytopenia_check(run.counts_pending)
            run.counts_pending = None
        if isinstance(ev, DoseGiven):
            run.on_dose(ev)
        elif isinstance(ev, InfusionReaction):
            run.on_reaction(ev)
        elif isinstance(ev, LabEvent):
            run.on_lab(ev)
        elif isinstance(ev, Infection):
            run.on_infection(ev)
        elif isinstance(ev, AutoimmuneCytopenia):
            run.on_autoimmune(ev)
        elif isinstance(ev, Fever):
            run.on_fever(ev)
        elif isinstance(ev, CmvPcr | CmvAntigenemia):
            run.cmv_tests.append(ev)
        elif isinstance(ev, Antiviral):
            run.antivirals.append(ev)
        elif isinstance(ev, AssessmentEvent):
            run.assessments.append(ev)
        elif isinstance(ev, Transfusion):
            run.transfusions.append(ev)
        elif isinstance(ev, GrowthFactor):
            run.growth_factor.append(ev)
        elif isinstance(ev, Esa):
            run.esas.append(ev)
        elif isinstance(ev, ProphylaxisEvent):
            run.prophylaxis_events.append(ev)
        elif isinstance(ev, DoseHeld):
            run.held_days.append(ev)
    if run.counts_pending is not None:
        run.cytopenia_check(run.counts_pending)
    return _finish(run)


def _course_end(run: _Run) -> dt.date | None:
    """The last day of therapy: day 1 is the first dose (12 weeks including escalation for the
    label regimen, L1)."""
    if not run.doses:
        return None
    return run.doses[0][0] + dt.timedelta(days=run.profile.length_days - 1)


def _next_tiw(day: dt.date, weekdays: tuple[int, ...]) -> dt.date:
    while day.weekday() not in weekdays:
        day += dt.timedelta(days=1)
    return day


def _next_dose(run: _Run, status: CourseStatus, end: dt.date | None) -> NextDose | None:
    if status not in (CourseStatus.ACTIVE, CourseStatus.NOT_STARTED):
        return None
    earliest = max(run.as_of, run.course.start_date)
    for day in run.released.values():
        earliest = max(earliest, day)
    if run.doses:
        earliest = max(earliest, run.doses[-1][0] + dt.timedelta(days=1))
    expected = run.expected_dose(earliest)
    assert expected is not None
    mg, route, phase = expected
    day = earliest
    if phase == "maintenance":
        if run.doses:
            day = max(day, run.doses[-1][0] + dt.timedelta(days=MIN_DAYS_BETWEEN_MAINTENANCE_DOSES))
        day = _next_tiw(day, run.settings.tiw_weekdays)
    # Never more than 90 mg in any 7 days: move to the next allowed day.
    while _six_days_before(run, day) + mg > ALEMTUZUMAB_MAX_WEEKLY_MG:
        day += dt.timedelta(days=1)
        if phase == "maintenance":
            day = _next_tiw(day, run.settings.tiw_weekdays)
    # A delay that reaches the gap restarts escalation.
    if run.doses and (day - run.doses[-1][0]).days >= GAP_RESTART_DAYS:
        mg, route = run.profile.steps[0]
        phase = "re-escalation"
    if end is not None and day > end:
        return None
    mg = min(mg, ALEMTUZUMAB_MAX_SINGLE_DOSE_MG)
    prev = run.doses[-1] if run.doses else None
    rules = supportive.supportive_rules(run.course.rule_sets.label).premedication
    reason = supportive.premedication_reason(
        rules.trigger,
        mg,
        DosePhase.TREATMENT if phase == "maintenance" else DosePhase.ESCALATION,
        None if prev is None else prev[1],
        None if prev is None else (day - prev[0]).days,
    )
    premed = None
    if reason is not None:
        premed = f"{', '.join(d.text() for d in rules.drugs)} {rules.timing} ({reason})"
    if phase == "maintenance":
        why = f"Maintenance {mg:g} mg three times a week on alternate days."
        cite = run.regimen.components[-1].citation
    elif phase == "re-escalation":
        why = (
            f"{(day - prev[0]).days if prev else 0} days since the last dose: escalation restarts "
            f"at {mg:g} mg."
        )
        cite = ESCALATION_CITATION
    elif prev is None:
        why = f"First dose: escalation starts at {mg:g} mg."
        cite = ESCALATION_CITATION
    elif run.last_dose_tolerated:
        why = (
            f"Last dose {prev[1]:g} mg tolerated (infusion reaction grade ≤ 2): "
            f"next step {mg:g} mg."
        )
        cite = ESCALATION_CITATION
    else:
        why = f"Last dose {prev[1]:g} mg not tolerated: repeat {mg:g} mg."
        cite = ESCALATION_CITATION
    if run.resume_dose_mg is not None and phase != "re-escalation":
        why = f"Resume after the hold at {mg:g} mg (label dose-modification ladder)."
        cite = run.ladder.citation
    run.decide(
        "dosing.next",
        {"date": day.isoformat(), "dose_mg": mg, "route": route.value},
        why,
        cite,
        used={"last_dose": None if prev is None else f"{prev[1]:g} mg {prev[0]}"},
    )
    return NextDose(day, "alemtuzumab", mg, route.value, phase, premed, why, cite)


def _latest_decisions(decisions: list[Decision[Any]]) -> tuple[Decision[Any], ...]:
    """The state's decisions: the latest of each rule (a replay decides some rules at every lab
    or dose; the earlier outcomes are history, not the state)."""
    latest: dict[str, Decision[Any]] = {}
    for d in decisions:
        latest.pop(d.rule, None)
        latest[d.rule] = d
    return tuple(latest.values())


def _six_days_before(run: _Run, day: dt.date) -> float:
    """Alemtuzumab given in the 6 days before ``day``: with a dose on ``day`` they make 7."""
    lo = day - dt.timedelta(days=ALEMTUZUMAB_WINDOW_DAYS - 1)
    return sum(mg for d, mg, _ in run.doses if lo <= d < day)


def _finish(run: _Run) -> CourseState:
    as_of = run.as_of
    end = _course_end(run)
    # CMV: status, actions and the alemtuzumab hold while it is treated.
    cmv_info, cmv_actions = cmv_findings(run)
    if run.discontinued is not None:
        status = CourseStatus.DISCONTINUED
    elif end is not None and as_of > end:
        status = CourseStatus.COMPLETED
    elif run.holds:
        status = CourseStatus.ON_HOLD
    elif not run.doses:
        status = CourseStatus.NOT_STARTED
    else:
        status = CourseStatus.ACTIVE
    next_dose = _next_dose(run, status, end)
    if next_dose is None and status is CourseStatus.ACTIVE and end is not None:
        status = CourseStatus.COMPLETED
    last_dose = run.doses[-1][0] if run.doses else None
    therapy_over = status in (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)
    actions: list[Action] = list(cmv_actions)
    if next_dose is not None:
        actions.append(
            Action(
                next_dose.date,
                "dose",
                f"Alemtuzumab {next_dose.dose_mg:g} mg {next_dose.route.upper()} "
                f"({next_dose.phase})"
                + (
                    f"; premedication: {next_dose.premedication}" if next_dose.premedication else ""
                ),
                next_dose.citation,
            )
        )
    # Blood counts weekly during therapy.
    if not therapy_over and run.started:
        last_cbc = max(
            (r.date for r in run.lab_history if r.code in (LabCode.ANC, LabCode.PLT) and r.date),
            default=None,
        )
        due = (
            as_of
            if last_cbc is None
            else max(as_of, last_cbc + dt.timedelta(days=run.settings.blood_count_interval_days))
        )
        if last_cbc is not None and last_cbc + dt.timedelta(days=7) < as_of:
            run.alert(
                Severity.WARNING,
                "blood-count-overdue",
                f"No blood count since {last_cbc}: counts are due weekly during therapy.",
                BLOOD_COUNT_CITATION,
                as_of,
            )
        actions.append(
            Action(
                due,
                "blood-count",
                "Full blood count with differential (ANC, platelets, haemoglobin, lymphocytes)",
                BLOOD_COUNT_CITATION,
            )
        )
    if HoldKind.CYTOPENIA in run.holds:
        actions.append(
            Action(
                as_of,
                "blood-count-recovery",
                f"Repeat counts to judge recovery: {run.holds[HoldKind.CYTOPENIA].resume_when}",
                run.ladder.citation,
            )
        )
    prophylaxis, cd4_action = prophylaxis_for(run, status, last_dose, end)
    if cd4_action is not None:
        actions.append(cd4_action)
    response = response_for(run)
    if therapy_over and last_dose is not None:
        due = last_dose + dt.timedelta(days=61)
        actions.append(
            Action(
                max(due, as_of) if response.date is None or response.date < due else due,
                "response-assessment",
                f"Response assessment by {run.course.rule_sets.response.value} at "
                "least 2 months after the end of therapy (confirms CR/PR duration)",
                RESPONSE_TIMING_CITATION,
            )
        )
    grades = grades_for(run)
    holds = tuple(
        HoldReason(kind, h.since, h.reason, h.resume_when, h.citation)
        for kind, h in sorted(run.holds.items(), key=lambda kv: kv[1].since)
    )
    step_mg: float | None = None
    if run.doses and status in (CourseStatus.ACTIVE, CourseStatus.ON_HOLD):
        step_mg = next_dose.dose_mg if next_dose is not None else run.doses[-1][1]
    elif not run.doses:
        step_mg = run.profile.steps[0][0]
    order = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
    current = [
        a for a, h in zip(run.alerts, run.alert_hold, strict=True) if h is None or h in run.holds
    ]
    alerts = sorted(current, key=lambda a: (order[a.severity], a.date or as_of, a.code))
    return CourseState(
        as_of=as_of,
        rule_sets=run.course.rule_sets,
        regimen_id=run.regimen.id,
        status=status,
        next_dose=next_dose,
        escalation_step_mg=step_mg,
        holds=holds,
        haematologic_toxicity_occurrences=run.occurrences,
        cumulative_dose_mg=sum(mg for _, mg, _ in run.doses),
        dose_last_7_days_mg=run.window_mg(as_of),
        grades=grades,
        prophylaxis=prophylaxis,
        cmv=cmv_info,
        response=response,
        alerts=tuple(alerts),
        next_actions=tuple(sorted(actions, key=lambda a: (a.due, a.code))),
        decisions=_latest_decisions(run.decisions),
        context=patient_context(run.course),
        doses=tuple((d, mg, r.value) for d, mg, r in run.doses),
        discontinued=None if run.discontinued is None else run.discontinued[:2],
        renal=renal_for(run),
    )
