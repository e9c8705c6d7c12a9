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
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
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
    DEFAULT_WEEKLY_CEILING,
    AdministrationRoute,
    AdverseEvent,
    Antiviral,
    AssessmentEvent,
    AutoimmuneCytopenia,
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
    PlanOptions,
    Progression,
    ProgressionKind,
    ProphylaxisEvent,
    Regimen,
    Resolved,
    ResponseCategory,
    StopReason,
    ToxicityScale,
    Transfusion,
    TreatmentStopped,
    validate_weekly_ceiling,
    week_bounds,
)
from cllcds.domain import (
    weekly_window as _weekly_window,
)
from cllcds.domain._course import _EVENT_TYPE
from cllcds.domain._decision import make_decision
from cllcds.knowledge import Action as LadderAction
from cllcds.rules import cytopenia, grading, supportive

from ._context import patient_context
from ._findings import cmv_findings, grades_for, prophylaxis_for, renal_for, response_for
from ._plan import _layout  # the plan's own layout: one reading of a regimen's schedule
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

STOP_REASON_WORDS = {
    StopReason.COMPLETED: "course completed",
    StopReason.TOXICITY: "toxicity",
    StopReason.PROGRESSION: "progression",
    StopReason.NO_RESPONSE: "no response",
    StopReason.PATIENT_CHOICE: "patient's choice",
    StopReason.DEATH: "death",
    StopReason.OTHER: "other reason",
}
"""Plain words for the coded reasons of ``treatment_stopped``."""

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
AUTOIMMUNE_CITATION = cytopenia.AUTOIMMUNE_DISCONTINUE_CITATION
SERIOUS_REACTION_CITATION = Citation(
    "L3",
    "§2.3 Dose modification: serious adverse reactions",
    note="Withhold for serious infection or other serious adverse reaction until resolution "
    "(also E1: 'interrupted until the event resolves'). Febrile neutropenia and any grade ≥ 3 "
    "non-haematological adverse event are read as serious adverse reactions (cllcds default).",
)
BOXED_GAP_CITATION = Citation(
    "L4",
    "Boxed warning: dose escalation",
    note="Gradual escalation to 30 mg is required at initiation and after an interruption of "
    "7 days or more (also L1, L6; 2001 insert L7).",
)
PROGRESSION_CITATION = Citation(
    "S1",
    "NCI-WG 1996 / iwCLL progressive disease",
    note="Progression includes Richter transformation and transformation to prolymphocytic "
    "leukaemia (S1, S2; iwCLL G2, G5): therapy must be reassessed. Withholding until the "
    "clinician's reassessment is a cllcds default (fail closed).",
)
STOP_CITATION = Citation(
    "cllcds",
    "docs/rules.md: clinician decision to stop treatment",
    note="A recorded treatment_stopped event is the clinician's decision: alemtuzumab ends that "
    "day (discontinued, or completed when the reason is 'completed'); supportive care continues "
    "as after any discontinuation.",
)
REVIEW_CITATION = Citation(
    "cllcds",
    "docs/rules.md: fail closed",
    note="What the engine cannot interpret with certainty withholds pending clinician review.",
)
SAME_DAY_CITATION = Citation(
    "cllcds",
    "docs/rules.md: same-day events",
    note="Untimed labs on a dose day are pre-dose; two untimed results of one lab on one day: "
    "the worse decides.",
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
HAEMATOLOGICAL_TERMS = (
    "neutropenia",
    "neutrophil count decreased",
    "thrombocytopenia",
    "platelet count decreased",
    "anaemia",
    "anemia",
    "lymphopenia",
    "lymphocyte count decreased",
    "leukopenia",
    "leucopenia",
    "white blood cell decreased",
    "cd4 lymphocytes decreased",
)
"""Adverse-event terms the cytopenia rules judge from the counts (not withheld as grade ≥ 3
non-haematological events). Febrile neutropenia is not among them: it is a serious reaction."""

HAEMATOLOGICAL_COUNTS: dict[str, tuple[LabCode, ...]] = {
    "neutropenia": (LabCode.ANC,),
    "neutrophil count decreased": (LabCode.ANC,),
    "leukopenia": (LabCode.ANC,),
    "leucopenia": (LabCode.ANC,),
    "white blood cell decreased": (LabCode.ANC,),
    "thrombocytopenia": (LabCode.PLT,),
    "platelet count decreased": (LabCode.PLT,),
    "anaemia": (LabCode.HGB,),
    "anemia": (LabCode.HGB,),
}
"""The count a grade >= 3 haematological adverse event needs on or after its date before dosing
goes on (cllcds default, fail closed: the cytopenia ladder judges counts, not terms). Lymphopenia
and CD4 terms need none: no dose modification for lymphopenia (L3, E1)."""

HAEM_AE_COUNT_GRADE = 3
"""A haematological adverse event of this grade or more with no count on or after its date holds
pending the count (cllcds default; docs/rules.md "Engine safety (issue 10, part C)")."""

GRADE_5 = 5
"""CTCAE grade 5: death related to the adverse event (C1): the course is discontinued."""

GRADE_5_CITATION = Citation(
    "C1",
    "CTCAE v5.0: grades",
    note="Grade 5: death related to AE. No further dose can be proposed: the course is "
    "discontinued with the reason.",
)

NON_HAEM_WITHHOLD_GRADE = 3
"""Any grade ≥ 3 non-haematological adverse event withholds until resolved (L3, E1: 'other
serious adverse reaction'; the grade is the cllcds reading of 'serious')."""

FEVER_C = 38.0
"""A temperature at or above this is a fever for the febrile-neutropenia check (CTCAE C1)."""

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
    weekly_ceiling: str = DEFAULT_WEEKLY_CEILING
    """How the label's "90 mg per week" is read: ``treatment-week`` (default; weeks counted from
    day 1 of the course, realigned at each restart after a gap) or ``rolling-7-days`` (any 7
    consecutive days, the stricter institutional reading)."""

    def __post_init__(self) -> None:
        validate_weekly_ceiling(self.weekly_ceiling)


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
            EventType.ADVERSE_EVENT,
            EventType.AUTOIMMUNE_CYTOPENIA,
            EventType.PROGRESSION,
            EventType.RESOLVED,
            EventType.ANTIVIRAL,
            EventType.GROWTH_FACTOR,
            EventType.TRANSFUSION,
            EventType.ESA,
            EventType.PROPHYLAXIS,
            EventType.DOSE_HELD,
            EventType.DOSE,
            EventType.INFUSION_REACTION,
            EventType.TREATMENT_STOPPED,
            EventType.NOTE,
        )
    )
}


def _content(e: Event) -> tuple[str, str, float, str]:
    if isinstance(e, LabEvent):  # the common tie: several labs on one day
        r = e.result
        return ("0", r.code._value_, r.value, f"{e.id!r} {e.supersedes!r}")
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


_PROFILES: dict[int, tuple[Regimen, _Profile]] = {}
"""Profiles of the regimens replayed so far, by object (the library's regimens are read once
per process, so a replay finds its regimen's profile here)."""


def _profile(regimen: Regimen) -> _Profile:
    hit = _PROFILES.get(id(regimen))
    if hit is not None and hit[0] is regimen:
        return hit[1]
    if len(_PROFILES) >= 256:  # regimens built by hand (tests): keep the table small
        _PROFILES.clear()
    profile = _make_profile(regimen)
    _PROFILES[id(regimen)] = (regimen, profile)
    return profile


def _make_profile(regimen: Regimen) -> _Profile:
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


@dataclass(frozen=True, slots=True)
class _Schedule:
    text: str
    source: str
    locator: str


LABEL_FIRST_STEP_MG = 3.0
"""The label's first escalation step (L1): a dose above it after a gap of 7 days or more is not
a re-escalation."""


@dataclass
class _Hold:
    since: dt.date
    reason: str
    resume_when: str
    citation: Citation
    kind: HoldKind = HoldKind.CYTOPENIA
    since_time: dt.time | None = None
    """Clock time of the event that started the hold, when recorded."""
    indeterminate: bool = False
    """Held because the engine cannot decide (fail closed), not because a rule said so."""


_DecisionArgs = tuple[
    str, object, DecisionStatus, str, Citation, dict[str, object], tuple[str, ...]
]
"""The arguments of a :class:`Decision` not made yet (rule, outcome, status, rationale,
citation, inputs used, inputs missing)."""


_ANC, _PLT, _ALC = LabCode.ANC, LabCode.PLT, LabCode.ALC
_CYTOPENIA_HOLD = HoldKind.CYTOPENIA
"""Members the replay compares at every lab result or dose (a module name is read faster than
an enum class's member)."""


READ_AHEAD_WHEN_NEEDED = True
"""Read the resolutions, ANC values and dose days of the whole course at the first fever or
event hold (:meth:`_Run.read_ahead`; ``False``: before the replay, as the tests compare)."""

WEEK_OF_NEWEST = True
"""Sum the week of a dose just recorded from the index alone (:meth:`_Run.week_total_to_newest`;
``False``: :meth:`_Run.week_total`, as the tests compare)."""

DECIDE_FIRST = True
"""Decide the cytopenia rules with their predicates and write a decision (its rationale) only
for the one the state shows (``False``: write every decision as it is taken, as the tests
compare)."""


class _Deferred:
    """A rule's decision not written yet: its rule name and the call that writes it (the rule's
    function and the ladder, counts and baseline it is called with). The replay decides with the
    rule's predicate; the decision (with its rationale) is written only if it is the latest of
    its rule, the one the state shows."""

    __slots__ = ("baseline", "counts", "fn", "ladder", "rule")

    def __init__(
        self,
        rule: str,
        fn: Callable[
            [knowledge.DoseModificationRules, cytopenia.Counts, cytopenia.Counts],
            Decision[Any],
        ],
        ladder: knowledge.DoseModificationRules,
        counts: cytopenia.Counts,
        baseline: cytopenia.Counts,
    ) -> None:
        self.rule = rule
        self.fn = fn
        self.ladder = ladder
        self.counts = counts
        self.baseline = baseline

    def make(self) -> Decision[Any]:
        return self.fn(self.ladder, self.counts, self.baseline)


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
    dose_dates: list[dt.date] = field(default_factory=list)
    """The dates of ``doses`` (in date order, as replayed): the index of the weekly window."""
    dose_mgs: list[float] = field(default_factory=list)
    """The amounts of ``doses``, in the same order."""
    newest_week: tuple[dt.date | None, dt.date, dt.date, int] | None = None
    """(anchor, first day, last day for which it holds, position in ``dose_dates`` of its first
    dose) of the week of the newest dose."""
    schedule: tuple[_Slot, ...] | None = None
    """The regimen's published cycle schedule (``None``: three times a week)."""
    step_index: int = 0
    escalation_ceiling_mg: float = 0.0
    maintenance_mg: float = 0.0
    last_dose_tolerated: bool = True
    holds: dict[object, _Hold] = field(default_factory=dict)
    """Active holds, keyed by their kind (one at a time) or by the event that started them."""
    released: dict[object, dt.date] = field(default_factory=dict)
    pending_release: list[tuple[dt.date, object]] = field(default_factory=list)
    """(date, hold key): holds whose recorded resolution lies ahead in the replay."""
    resolutions: dict[str, dt.date] = field(default_factory=dict)
    """Event id → the earliest ``resolved`` event naming it."""
    week_anchor: dt.date | None = None
    """Day 1 of the current treatment week count (first dose, or the restart after a gap)."""
    counts_time: dt.time | None = None
    counts_slot: tuple[int, dt.time] | None = None
    counts_untimed: bool = False
    lab_day: dict[LabCode, tuple[dt.date, dt.time | None]] = field(default_factory=dict)
    all_anc: list[tuple[dt.date, float]] = field(default_factory=list)
    resume_dose_mg: float | None = None
    occurrences: int = 0
    discontinued: tuple[dt.date, str, Citation] | None = None
    stopped: TreatmentStopped | None = None
    """The clinician's decision to stop, when it is what discontinued the course."""
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
    alert_hold: list[object | None] = field(default_factory=list)
    extra_actions: list[tuple[object, Action]] = field(default_factory=list)
    count_waits: list[tuple[object, dt.date, tuple[LabCode, ...]]] = field(default_factory=list)
    """Holds waiting for a count on or after a haematological adverse event's date."""
    """Due actions that last while the hold with that key does."""
    counts_pending: dt.date | None = None
    progressions: list[tuple[dt.date, str]] = field(default_factory=list)
    dose_days: dict[dt.date, bool] = field(default_factory=dict)
    """Days with an alemtuzumab dose recorded (any order within the day)."""
    events: list[Event] = field(default_factory=list)
    """The events in replay order (:func:`_sorted_events`)."""
    read_ahead_done: bool = False
    """Whether :meth:`read_ahead` has read ``resolutions``, ``all_anc`` and ``dose_days``."""
    episode_open: bool = False
    """A cytopenia occurrence has begun and no dose has been resumed since."""
    trigger_test: Callable[[cytopenia.Counts], bool] = field(init=False)
    """``cytopenia.triggered(ladder, counts, baseline).outcome`` (decides without writing)."""
    resume_test: Callable[[cytopenia.Counts], bool] | None = None
    """``cytopenia.may_resume(ladder, counts, baseline).outcome`` (decides without writing);
    made at the first cytopenia hold (:meth:`may_resume_now`)."""
    baseline_low: dict[LabCode, bool | None] = field(init=False)
    """``cytopenia.baseline_low(ladder, baseline)``, read once."""
    decisions: list[Decision[Any] | _DecisionArgs | _Deferred] = field(default_factory=list)
    """Every decision in the order taken: a Decision, or the arguments of one (see decide)."""
    trigger_rule: str = field(init=False)
    """The rule name of :func:`cytopenia.triggered` under this course's label rules."""
    resume_rule: str = field(init=False)
    """The rule name of :func:`cytopenia.may_resume` under this course's label rules."""

    # ---------------------------------------------------------------------------------------
    def alert(
        self,
        sev: Severity,
        code: str,
        msg: str,
        cite: Citation,
        day: dt.date | None,
        *,
        hold: object | None = None,
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
        # Kept as its arguments: most rules are decided again later in the replay and only the
        # latest decision of each rule is in the state (_latest_decisions makes those).
        self.decisions.append((rule, outcome, status, rationale, cite, used or {}, tuple(missing)))

    @property
    def treatment_weeks(self) -> bool:
        """Whether the weekly ceiling counts treatment weeks (not a rolling 7-day window)."""
        return self.week_anchor is not None and self.settings.weekly_ceiling != "rolling-7-days"

    def prepare_cytopenia_rules(self) -> None:
        """Look up once what the cytopenia check asks at every day with counts: the rule
        predicates and the rule names under this course's label rules."""
        low = self.baseline_low = cytopenia.baseline_low(self.ladder, self.baseline)
        self.trigger_test = cytopenia.trigger_test(self.ladder, self.baseline, low)
        rule_set = self.ladder.rule_set.value
        self.trigger_rule = f"cytopenia.trigger.{rule_set}"
        self.resume_rule = f"cytopenia.resume.{rule_set}"

    def may_resume_now(self, counts: cytopenia.Counts) -> bool:
        """``resume_test(counts)``, the test made on first use (a course without a cytopenia
        hold never asks it)."""
        test = self.resume_test
        if test is None:
            test = self.resume_test = cytopenia.resume_test(
                self.ladder, self.baseline, self.baseline_low
            )
        return test(counts)

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
        self,
        kind: HoldKind,
        since: dt.date,
        reason: str,
        resume: str,
        cite: Citation,
        *,
        key: object | None = None,
        since_time: dt.time | None = None,
        indeterminate: bool = False,
        until: dt.date | None = None,
    ) -> None:
        """Withhold alemtuzumab; ``until`` is a recorded resolution date (released then)."""
        if self.discontinued is not None:
            return  # nothing to resume after discontinuation
        k = kind if key is None else key
        if k not in self.holds:
            self.holds[k] = _Hold(since, reason, resume, cite, kind, since_time, indeterminate)
            self.released.pop(k, None)
            if until is not None:
                self.pending_release.append((until, k))

    def release(self, key: object, day: dt.date) -> None:
        if self.holds.pop(key, None) is not None:
            self.released[key] = day

    def release_due(self, day: dt.date) -> None:
        """End the holds whose recorded resolution is on or before ``day``."""
        keep = []
        for until, key in self.pending_release:
            if until <= day:
                self.release(key, until)
            else:
                keep.append((until, key))
        self.pending_release = keep

    def read_ahead(self) -> None:
        """Read what the replay needs from events ahead of the one replayed: the resolutions
        (an event's hold ends on its recorded resolution), every ANC with its date and the days
        with an alemtuzumab dose (a fever looks at both sides of its day). Read once, on first
        need (a course without a fever or an event hold never needs it)."""
        if self.read_ahead_done:
            return
        self.read_ahead_done = True
        resolutions, all_anc, dose_days = self.resolutions, self.all_anc, self.dose_days
        events: list[Any] = self.events  # each event's class is checked through _PRE_PASS
        for ev in events:
            kind = _PRE_PASS.get(ev.__class__)
            if kind is None:
                kind = _PRE_PASS[ev.__class__] = _pre_pass_kind(ev.__class__)
            if kind is _RESOLVED:
                prev = resolutions.get(ev.event_id)
                resolutions[ev.event_id] = ev.date if prev is None else min(prev, ev.date)
            elif kind is _LAB:
                if ev.result.code is LabCode.ANC:
                    all_anc.append((ev.date, ev.result.value))
            elif kind is _DOSE and ev.is_alemtuzumab:
                dose_days[ev.date] = True
        baseline = self.course.baseline
        if baseline is not None:
            b = baseline.lab(LabCode.ANC)
            if b is not None:
                all_anc.append((baseline.date, b.value))

    def resolved_on(self, ev: Event, own: dt.date | None = None) -> dt.date | None:
        """When ``ev`` resolved: its own ``resolved`` date or a ``resolved`` event naming it."""
        self.read_ahead()
        dates = [d for d in (own, self.resolutions.get(ev.id or "")) if d is not None]
        return min(dates) if dates else None

    def event_hold(
        self,
        ev: Event,
        kind: HoldKind,
        reason: str,
        resume: str,
        cite: Citation,
        *,
        own_resolved: dt.date | None = None,
        indeterminate: bool = False,
        action: bool = True,
    ) -> object:
        """A hold started by one event, ended by the record of its resolution."""
        key = (kind, ev.id or f"{ev.type.value}@{ev.date}#{ev.index}")
        until = self.resolved_on(ev, own_resolved)
        self.hold(
            kind,
            ev.date,
            reason,
            resume,
            cite,
            key=key,
            since_time=ev.time,
            indeterminate=indeterminate,
            until=until,
        )
        if action and (until is None or until > self.as_of):
            where = "event " + repr(ev.id) if ev.id else "the event (give it an id)"
            own = " or the event's resolved date" if hasattr(ev, "resolved") else ""
            self.extra_actions.append(
                (
                    key,
                    Action(
                        self.as_of,
                        f"resolve-{kind.value}",
                        f"Review {reason} and record its resolution (a 'resolved' event naming "
                        f"{where}{own}) before any further alemtuzumab",
                        cite,
                    ),
                )
            )
        return key

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
        for h in list(self.holds.values()) if self.holds else ():
            if h.since == day and (h.since_time is None or ev.time is None):
                # Same day, not both timed: the order cannot be known (fail closed: flag it).
                self.alert(
                    Severity.WARNING,
                    "dose-possibly-during-hold",
                    f"Alemtuzumab {mg:g} mg on {day}, the day of {h.reason}: dose possibly "
                    "given during a hold: record times (a dose before the result is not "
                    "flagged).",
                    h.citation,
                    day,
                )
            else:
                self.alert(
                    Severity.CRITICAL,
                    "dose-during-hold",
                    f"Alemtuzumab {mg:g} mg recorded on {day} while withheld for {h.reason}.",
                    h.citation,
                    day,
                )
            # Holds end only when their criteria are met or their resolution is recorded: a
            # dose given during a hold does not end it.
        if mg > ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:
            # Above 30 mg is likely a typing error, or an overdose: either way no next dose
            # can be trusted until the record is corrected or a clinician's review is recorded.
            key = self.event_hold(
                ev,
                HoldKind.REVIEW,
                f"alemtuzumab {mg:g} mg recorded on {day}, above the "
                f"{ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:g} mg single-dose ceiling",
                "a correction of the dose (an event that supersedes this one) or a recorded "
                "review (a 'resolved' event naming it)",
                CEILING_CITATION,
                indeterminate=True,
            )
            self.alert(
                Severity.CRITICAL,
                "single-dose-ceiling",
                f"Alemtuzumab {mg:g} mg on {day} exceeds the "
                f"{ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:g} mg single-dose ceiling: correct the "
                "record if it is a typing error, otherwise review the patient (overdose); "
                "alemtuzumab is withheld until then.",
                CEILING_CITATION,
                day,
                hold=key,
            )
        expected = self.expected_dose(day)
        # Days since the previous dose (None for the first); nothing below changes the doses
        # until this one is added.
        gap = (day - self.doses[-1][0]).days if self.doses else None
        if gap is not None and gap >= GAP_RESTART_DAYS and mg > LABEL_FIRST_STEP_MG:
            self.gap_alert(day, mg, gap)
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
        if gap is not None and gap >= GAP_RESTART_DAYS:
            # A restart after a delay of 7 days or more escalates to 10 then 30 mg "as
            # tolerated" (footnote to every row of the ladder); after a second occurrence the
            # 2001 insert escalates "to 10 mg only" (data: gap_restart_ceiling_after_second_mg).
            ceiling = (
                self.ladder.gap_restart_ceiling_after_second_mg
                if self.occurrences >= 2
                else self.profile.target_mg
            )
            self.escalation_ceiling_mg = self.maintenance_mg = min(ceiling, self.profile.target_mg)
        if gap is None or gap >= GAP_RESTART_DAYS:
            self.week_anchor = day  # treatment weeks count from day 1, realigned at a restart
        self.doses.append((day, mg, ev.route))
        self.dose_dates.append(day)
        self.dose_mgs.append(mg)
        week_mg = self.week_total_to_newest(day) if WEEK_OF_NEWEST else self.week_total(day)
        if week_mg > ALEMTUZUMAB_MAX_WEEKLY_MG:
            week_text = self.week_text(day)  # only where it is said
            self.alert(
                Severity.CRITICAL,
                "weekly-ceiling",
                f"{week_mg:g} mg of alemtuzumab in {week_text} exceeds the "
                f"{ALEMTUZUMAB_MAX_WEEKLY_MG:g} mg weekly ceiling: this dose ({mg:g} mg on "
                f"{day}) is refused by the label.",
                CEILING_CITATION,
                day,
            )
            self.decide(
                "dosing.weekly-ceiling",
                "refused",
                f"{mg:g} mg on {day} takes {week_text} to {week_mg:g} mg (> "
                f"{ALEMTUZUMAB_MAX_WEEKLY_MG:g} mg).",
                CEILING_CITATION,
                used={"week_total_mg": week_mg, "reading": self.settings.weekly_ceiling},
            )
        # Where the course now stands in the escalation.
        if mg >= self.escalation_ceiling_mg:
            self.step_index = len(self.profile.steps)  # escalation complete
        else:
            at_or_below = [i for i, (s, _) in enumerate(self.profile.steps) if s <= mg]
            self.step_index = at_or_below[-1] if at_or_below else 0
        self.last_dose_tolerated = True
        self.resume_dose_mg = None
        if _CYTOPENIA_HOLD not in self.holds:
            self.episode_open = False  # a resumed dose ends the occurrence

    def week_bounds(self, day: dt.date) -> tuple[dt.date, dt.date]:
        """The first and last day of the treatment week (or rolling window) holding ``day``."""
        return week_bounds(self.week_anchor, day, self.settings.weekly_ceiling)

    def week_total(self, day: dt.date, *, before: bool = False) -> float:
        """Alemtuzumab given in the treatment week of ``day`` (up to ``day``; ``before``: only
        the days before it)."""
        lo, hi = self.week_bounds(day)
        hi = min(hi, day)
        # The doses are in date order: the window starts at the first dose on or after ``lo``
        # (same doses, same order of summation as a scan of the whole list).
        first = bisect_left(self.dose_dates, lo)
        return sum(
            mg for d, mg, _ in self.doses[first:] if lo <= d <= hi and not (before and d == day)
        )

    def week_total_to_newest(self, day: dt.date) -> float:
        """:meth:`week_total` of ``day``, the date of the newest dose: every dose is on or
        before it (the replay goes in date order), so the week's doses are the doses from the
        first day of the week on (the same doses, summed in the same order)."""
        week = self.newest_week
        if week is None or week[0] != self.week_anchor or day > week[2]:
            # A treatment week holds for each of its days (a rolling window only for its day).
            # Its first dose keeps its position while it holds: the doses added meanwhile are
            # on or after ``day``, so after the first day.
            lo, hi = week_bounds(self.week_anchor, day, self.settings.weekly_ceiling)
            week = self.newest_week = (
                self.week_anchor,
                lo,
                hi if self.treatment_weeks else day,
                bisect_left(self.dose_dates, lo),
            )
        return sum(self.dose_mgs[week[3] :])

    def week_text(self, day: dt.date) -> str:
        lo, hi = self.week_bounds(day)
        if self.settings.weekly_ceiling == "rolling-7-days" or self.week_anchor is None:
            return f"the 7 days to {day}"
        n = (lo - self.week_anchor).days // ALEMTUZUMAB_WINDOW_DAYS + 1
        return f"treatment week {n} ({lo} to {hi})"

    def gap_alert(self, day: dt.date, mg: float, gap: int) -> None:
        """The boxed warning's re-escalation after ≥ 7 days, beside the regimen's schedule."""
        schedule = self.alemtuzumab_schedule()
        escalates = self.profile.steps[0][0] <= LABEL_FIRST_STEP_MG
        self.alert(
            Severity.CRITICAL,  # a boxed warning, whatever the regimen prints
            "re-escalation-required",
            f"{mg:g} mg given on {day} after {gap} days without alemtuzumab. Label (boxed "
            f"warning, {BOXED_GAP_CITATION.source}): after an interruption of "
            f"{GAP_RESTART_DAYS} days or more, escalate again from {LABEL_FIRST_STEP_MG:g} mg. "
            f"Regimen {self.regimen.id} as published ({schedule.source}, {schedule.locator}): "
            f"{schedule.text}"
            + (
                "."
                if escalates
                else " (no re-escalation in the published schedule: the clinician decides "
                "between the two)."
            ),
            BOXED_GAP_CITATION,
            day,
        )
        self.decide(
            "dosing.gap-re-escalation",
            "re-escalate" if escalates else "label and regimen differ",
            f"{gap} days since the last dose: the label re-escalates from "
            f"{LABEL_FIRST_STEP_MG:g} mg ({BOXED_GAP_CITATION.source}); the regimen's published "
            f"schedule ({schedule.source}, {schedule.locator}): {schedule.text}.",
            BOXED_GAP_CITATION,
            used={"gap_days": gap, "dose_mg": mg},
        )

    def alemtuzumab_schedule(self) -> _Schedule:
        rules = [
            r
            for r in (*self.regimen.run_in, *self.regimen.components)
            if r.drug is Drug.ALEMTUZUMAB
        ]
        cite = rules[0].citation if rules else self.regimen.provenance[0]
        steps = " → ".join(f"{s:g}" for s, _ in self.profile.steps)
        text = (
            f"escalation {steps} mg then {self.profile.target_mg:g} mg"
            if len(self.profile.steps) > 1
            else f"{self.profile.target_mg:g} mg from the first dose of each cycle"
        )
        return _Schedule(text, cite.source, cite.locator)

    def grade_5(self, ev: Event, what: str) -> bool:
        """A grade 5 event (CTCAE: death related to the AE) discontinues the course."""
        if getattr(ev, "grade", 0) < GRADE_5:
            return False
        reason = f"grade 5 {what} on {ev.date} (CTCAE: death related to the adverse event)"
        self.alert(
            Severity.CRITICAL,
            "grade-5-event",
            f"{reason[0].upper()}{reason[1:]}: the course is discontinued.",
            GRADE_5_CITATION,
            ev.date,
        )
        self.discontinue(ev.date, reason, GRADE_5_CITATION)
        return True

    def count_disagrees(self, code: LabCode, day: dt.date, grade: int) -> bool:
        """Whether the count recorded on ``day`` grades below 3 on CTCAE v5.0 (C1) while an
        adverse event of that day reports grade ``grade`` >= 3 from it: the records disagree."""
        seen, lab = self.lab_day.get(code), self.labs.get(code)
        if seen is None or lab is None or seen[0] != day or code is LabCode.HGB:
            return False
        got = grading.grade(lab, ToxicityScale.CTCAE_5).grade
        return got is not None and int(got) < HAEM_AE_COUNT_GRADE <= grade

    def count_on_or_after(self, code: LabCode, day: dt.date) -> bool:
        seen = self.lab_day.get(code)
        return seen is not None and seen[0] >= day

    def on_reaction(self, ev: InfusionReaction) -> None:
        if self.grade_5(ev, "infusion reaction"):
            return
        if ev.grade >= INFUSION_REACTION_WITHHOLD_GRADE:
            self.last_dose_tolerated = False
            key = self.event_hold(
                ev,
                HoldKind.INFUSION_REACTION,
                f"grade {ev.grade} infusion reaction on {ev.date}",
                "the reaction has resolved (record it); repeat the same dose step with "
                "premedication (do not escalate)",
                REACTION_CITATION,
                own_resolved=ev.resolved,
            )
            self.alert(
                Severity.CRITICAL,
                "infusion-reaction",
                f"Grade {ev.grade} infusion reaction on {ev.date}: withhold alemtuzumab; "
                "do not escalate until a dose is tolerated with reactions of grade 2 or "
                "less.",
                REACTION_CITATION,
                ev.date,
                hold=key,
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
        code = r.code
        prev = self.labs.get(code)
        prev_day = self.lab_day.get(code) if prev is not None else None
        if (
            prev is not None
            and prev_day is not None
            and prev_day[0] == ev.date
            and (prev_day[1] is None or ev.time is None)
        ):
            # Two results of one lab on one day that times cannot order: the worse decides.
            worse = _worse(r, prev)
            self.labs[r.code] = worse
            self.lab_day[r.code] = (ev.date, None)
            lo, hi = sorted((r.value, prev.value))
            self.alert(
                Severity.WARNING,
                "same-day-results",
                f"Two {r.code.value} results on {ev.date} without times to order them "
                f"({lo:g} and {hi:g} {r.code.canonical_unit.value}): decisions use the worse "
                f"({worse.value:g}). Record the times of the samples.",
                SAME_DAY_CITATION,
                ev.date,
            )
            self.decide(
                f"labs.same-day.{r.code.value}",
                worse.value,
                f"{r.code.value} {lo:g} and {hi:g} on {ev.date}, unordered: the worse "
                f"({worse.value:g}) is used.",
                SAME_DAY_CITATION,
                status=DecisionStatus.INDETERMINATE,
                used={"values": [lo, hi]},
                missing=("time",),
            )
        elif prev is None or prev.date is None or (r.date is not None and r.date >= prev.date):
            self.labs[code] = r
            self.lab_day[code] = (ev.date, ev.time)
        self.lab_history.append(r)
        if self.count_waits:
            waiting = []
            for key, since, needs in self.count_waits:
                if all(self.count_on_or_after(c, since) for c in needs):
                    self.release(key, ev.date)  # the count is in: the ladder judges it
                else:
                    waiting.append((key, since, needs))
            self.count_waits = waiting
        if code is _ANC or code is _PLT:
            if self.counts_pending is None:
                self.counts_untimed = False
            self.counts_pending = ev.date  # judged once all of the day's labs are in
            self.counts_slot = _UNTIMED_FIRST if ev.time is None else (1, ev.time)  # _slot(ev)
            self.counts_time = ev.time
            self.counts_untimed = self.counts_untimed or ev.time is None
        elif code is _ALC:
            # self.decide(...) of these arguments, written as the tuple it keeps (a lymphocyte
            # count at every draw: only the latest is in the state).
            self.decisions.append(
                (
                    "lymphopenia.no-modification",
                    "no dose change",
                    DecisionStatus.DECIDED,
                    "Lymphopenia is the intended effect: the label modifies no dose for it.",
                    LYMPHOPENIA_CITATION,
                    {"ALC": r.value},
                    (),
                )
            )

    def current_counts(self, day: dt.date) -> cytopenia.Counts:
        anc, plt = self.labs.get(_ANC), self.labs.get(_PLT)
        return cytopenia.Counts(
            anc.value if anc is not None else None, plt.value if plt is not None else None
        )

    def cytopenia_check(self, day: dt.date) -> None:
        if self.discontinued is not None or not self.doses:
            return
        counts = self.current_counts(day)
        if _CYTOPENIA_HOLD in self.holds:
            if DECIDE_FIRST:
                # The rule decides now; its decision is written only if the state shows it.
                self.decisions.append(
                    _Deferred(
                        self.resume_rule, cytopenia.may_resume, self.ladder, counts, self.baseline
                    )
                )
                recovered = self.may_resume_now(counts)
            else:
                dec = cytopenia.may_resume(self.ladder, counts, self.baseline)
                self.decisions.append(dec)
                recovered = bool(dec.outcome)
            if recovered:
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
        if DECIDE_FIRST and not self.trigger_test(counts):
            # Decided: no trigger. The decision is written only if the state shows it.
            self.decisions.append(
                _Deferred(
                    self.trigger_rule, cytopenia.triggered, self.ladder, counts, self.baseline
                )
            )
            return
        dec = cytopenia.triggered(self.ladder, counts, self.baseline)
        self.decisions.append(dec)
        if not dec.outcome:
            return
        refall = self.episode_open
        if refall:
            # Recovery and a new fall with no dose between: the same occurrence.
            self.decide(
                "cytopenia.occurrence",
                self.occurrences,
                f"Counts fell again on {day} with no dose since occurrence {self.occurrences}: "
                "the same occurrence (an occurrence ends with a resumed dose).",
                self.ladder.citation,
                used={"occurrence": self.occurrences},
            )
        else:
            self.occurrences += 1
        self.episode_open = True
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
            since_time=None if self.counts_untimed else self.counts_time,
        )
        self.alert(
            Severity.CRITICAL,
            "cytopenia-hold",
            f"{dec.rationale} Occurrence {self.occurrences} under {self.ladder.rule_set.value}"
            + (" (a new fall with no dose since: the same occurrence)." if refall else "."),
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

    def on_stop(self, ev: TreatmentStopped) -> None:
        """The clinician stops alemtuzumab: no next dose, supportive care goes on."""
        if self.discontinued is not None:
            return  # already discontinued by a rule: that discontinuation stands
        reason = STOP_REASON_WORDS[ev.reason] + (f": {ev.text}" if ev.text.strip() else "")
        self.stopped = ev
        self.discontinued = (ev.date, f"clinician decision ({reason})", STOP_CITATION)
        self.holds.clear()
        outcome = "completed" if ev.reason is StopReason.COMPLETED else "discontinued"
        if ev.time is None and any(d == ev.date for d, _, _ in self.doses):
            # Same day, not both timed: the order cannot be known (fail closed: flag it).
            self.alert(
                Severity.WARNING,
                "dose-possibly-after-discontinuation",
                f"Alemtuzumab recorded on {ev.date}, the day treatment was stopped: the dose was "
                "possibly given after the stop: record times (a dose before the stop is not "
                "flagged).",
                STOP_CITATION,
                ev.date,
            )
        self.alert(
            Severity.INFO,
            "treatment-stopped",
            f"Alemtuzumab stopped by clinician decision on {ev.date}: {reason}.",
            STOP_CITATION,
            ev.date,
        )
        self.decide(
            "course.discontinue",
            outcome,
            f"Clinician decision on {ev.date}: stop alemtuzumab ({reason}).",
            STOP_CITATION,
            used={"reason": ev.reason.value, "text": ev.text},
        )

    def on_infection(self, ev: Infection) -> None:
        if self.grade_5(ev, "infection"):
            return
        if ev.is_serious:
            until = self.resolved_on(ev, ev.resolved)
            key = self.event_hold(
                ev,
                HoldKind.SERIOUS_INFECTION,
                f"serious infection (grade {ev.grade}"
                + (f": {ev.description})" if ev.description else ")")
                + f" on {ev.date}",
                "the infection has resolved (record the date it resolved)",
                INFECTION_CITATION,
                own_resolved=ev.resolved,
            )
            self.alert(
                Severity.CRITICAL,
                "serious-infection",
                f"Serious infection on {ev.date}: withhold alemtuzumab until resolved.",
                INFECTION_CITATION,
                ev.date,
                hold=key,
            )
            self.decide(
                "infection.hold",
                "resolved" if until is not None and until <= self.as_of else "withhold",
                f"Serious infection from {ev.date}"
                + (
                    f" resolved on {until}: the hold has ended."
                    if until is not None and until <= self.as_of
                    else ": withhold until it resolves."
                ),
                INFECTION_CITATION,
                used={"grade": ev.grade},
            )
        else:
            self.alert(
                Severity.INFO,
                "infection",
                f"Grade {ev.grade} infection on {ev.date}; not serious: no dose change.",
                INFECTION_CITATION,
                ev.date,
            )

    def on_adverse_event(self, ev: AdverseEvent) -> None:
        term = " ".join(ev.term.lower().split())
        if self.grade_5(ev, f"adverse event ({ev.term})"):
            return
        haematological = term in HAEMATOLOGICAL_TERMS
        serious = ev.serious is True or (ev.grade >= NON_HAEM_WITHHOLD_GRADE and not haematological)
        needs = [
            c for c in HAEMATOLOGICAL_COUNTS.get(term, ()) if not self.count_on_or_after(c, ev.date)
        ]
        disagree = [
            c
            for c in HAEMATOLOGICAL_COUNTS.get(term, ())
            if self.count_disagrees(c, ev.date, ev.grade)
        ]
        if haematological and not serious and ev.grade >= HAEM_AE_COUNT_GRADE and disagree:
            names = " and ".join(c.value for c in disagree)
            key = self.event_hold(
                ev,
                HoldKind.REVIEW,
                f"{ev.term} grade {ev.grade} on {ev.date} while that day's {names} grades below 3",
                f"the {names} the grade was based on (record it, or correct the event)",
                REVIEW_CITATION,
                indeterminate=True,
            )
            self.alert(
                Severity.CRITICAL,
                "haematological-event-disagrees-with-count",
                f"{ev.term} grade {ev.grade} on {ev.date}, but that day's {names} is not grade "
                "3 or more (CTCAE v5.0): withheld until the count behind the grade is "
                "recorded or the event corrected.",
                REVIEW_CITATION,
                ev.date,
                hold=key,
            )
            self.decide(
                "adverse-event.hold",
                None,
                f"{ev.term} grade {ev.grade} and the recorded {names} disagree: withhold pending "
                "review.",
                REVIEW_CITATION,
                status=DecisionStatus.INDETERMINATE,
                missing=tuple(c.value for c in disagree),
            )
            return
        if haematological and not serious and ev.grade >= HAEM_AE_COUNT_GRADE and needs:
            # The ladder judges counts, not terms: without a count on or after the event the
            # engine cannot tell whether the ladder withholds (fail closed).
            names = " and ".join(c.value for c in needs)
            key = self.event_hold(
                ev,
                HoldKind.REVIEW,
                f"{ev.term} grade {ev.grade} on {ev.date} with no {names} on or after it",
                f"a {names} result on or after {ev.date} (the cytopenia ladder then judges it)",
                REVIEW_CITATION,
                indeterminate=True,
                action=False,
            )
            self.count_waits.append((key, ev.date, tuple(needs)))
            self.extra_actions.append(
                (
                    key,
                    Action(
                        self.as_of,
                        "record-counts",
                        f"Record {names} on or after {ev.date} ({ev.term} grade {ev.grade} was "
                        "reported without the count the dose-modification ladder needs)",
                        REVIEW_CITATION,
                    ),
                )
            )
            self.alert(
                Severity.CRITICAL,
                "haematological-event-without-count",
                f"{ev.term} grade {ev.grade} on {ev.date} but no {names} on or after it: "
                "alemtuzumab is withheld until the count is recorded.",
                REVIEW_CITATION,
                ev.date,
                hold=key,
            )
            self.decide(
                "adverse-event.hold",
                None,
                f"{ev.term} grade {ev.grade} on {ev.date}: the cytopenia ladder needs {names} on "
                "or after the event; withhold pending the count.",
                REVIEW_CITATION,
                status=DecisionStatus.INDETERMINATE,
                missing=tuple(c.value for c in needs),
            )
            return
        if not serious:
            why = (
                "judged by the cytopenia rules from the counts"
                if haematological
                else f"grade {ev.grade}, not serious: no dose change"
            )
            self.decide(
                "adverse-event.hold",
                "no hold",
                f"{ev.term} grade {ev.grade} on {ev.date}: {why}.",
                SERIOUS_REACTION_CITATION,
                used={"grade": ev.grade, "term": ev.term},
            )
            return
        until = self.resolved_on(ev, ev.resolved)
        key = self.event_hold(
            ev,
            HoldKind.ADVERSE_EVENT,
            f"{ev.term} (grade {ev.grade}) on {ev.date}",
            "the adverse event has resolved (record the date it resolved)",
            SERIOUS_REACTION_CITATION,
            own_resolved=ev.resolved,
        )
        self.alert(
            Severity.CRITICAL,
            "serious-adverse-event",
            f"{ev.term} grade {ev.grade} on {ev.date}: withhold alemtuzumab until resolved.",
            SERIOUS_REACTION_CITATION,
            ev.date,
            hold=key,
        )
        self.decide(
            "adverse-event.hold",
            "resolved" if until is not None and until <= self.as_of else "withhold",
            f"{ev.term} grade {ev.grade} from {ev.date}: a serious adverse reaction withholds "
            "alemtuzumab until it resolves"
            + (f"; resolved on {until}." if until is not None and until <= self.as_of else "."),
            SERIOUS_REACTION_CITATION,
            used={"grade": ev.grade, "term": ev.term},
        )

    def on_autoimmune(self, ev: AutoimmuneCytopenia) -> None:
        rule = cytopenia.AUTOIMMUNE_KINDS[ev.kind]
        if not ev.recognised:
            key = self.event_hold(
                ev,
                HoldKind.REVIEW,
                f"autoimmune cytopenia '{ev.kind_text}' (not a known kind) on {ev.date}",
                "a clinician codes the kind (correct the event) or records its review",
                REVIEW_CITATION,
                indeterminate=True,
            )
            self.alert(
                Severity.CRITICAL,
                "autoimmune-cytopenia-unrecognised",
                f"Autoimmune cytopenia '{ev.kind_text}' on {ev.date} is not a known kind: "
                "alemtuzumab is withheld until it is coded (autoimmune anaemia, "
                "thrombocytopenia and Evans syndrome discontinue, L3/E1).",
                AUTOIMMUNE_CITATION,
                ev.date,
                hold=key,
            )
            self.decide(
                "autoimmune.discontinue",
                None,
                f"'{ev.kind_text}' is not a known kind of autoimmune cytopenia: withhold "
                "pending review; code it as one of "
                + ", ".join(repr(k.value) for k in cytopenia.AUTOIMMUNE_KINDS)
                + ".",
                REVIEW_CITATION,
                status=DecisionStatus.INDETERMINATE,
                missing=("autoimmune kind",),
            )
            return
        if rule.discontinue:
            self.discontinue(ev.date, f"autoimmune {ev.kind.value}", rule.citation)
            return
        key = self.event_hold(
            ev,
            HoldKind.AUTOIMMUNE,
            f"autoimmune cytopenia ({ev.kind_text or ev.kind.value}) on {ev.date}",
            "a clinician's review (record it as a 'resolved' event naming this one); the label "
            "has no data on resuming after autoimmune cytopenia",
            rule.citation,
        )
        self.alert(
            Severity.CRITICAL,
            "autoimmune-cytopenia",
            f"Autoimmune cytopenia ({ev.kind_text or ev.kind.value}) on {ev.date}: withhold "
            "alemtuzumab pending review (L5: discontinue for autoimmune cytopenias).",
            rule.citation,
            ev.date,
            hold=key,
        )
        self.decide(
            "autoimmune.discontinue",
            "withhold pending review",
            f"{ev.kind.value}: not autoimmune anaemia or thrombocytopenia (which discontinue); "
            "withheld pending review.",
            rule.citation,
        )

    def on_progression(self, ev: Progression | AssessmentEvent) -> None:
        if isinstance(ev, Progression):
            what = {
                ProgressionKind.PROGRESSIVE_DISEASE: "progressive disease",
                ProgressionKind.RICHTER: "Richter transformation",
                ProgressionKind.PROLYMPHOCYTIC: "transformation to prolymphocytic leukaemia",
            }[ev.kind]
            if ev.description:
                what += f" ({ev.description})"
        else:
            t = ev.assessment.transformation
            assert t is not None
            what = f"{t.value} transformation on assessment"
        self.progressions.append((ev.date, what))
        key = self.event_hold(
            ev,
            HoldKind.PROGRESSION,
            f"{what} on {ev.date}",
            "the clinician has reassessed therapy (record the review as a 'resolved' event "
            "naming this one to continue alemtuzumab)",
            PROGRESSION_CITATION,
            action=False,
        )
        self.alert(
            Severity.CRITICAL,
            "progression",
            f"{what[0].upper()}{what[1:]} on {ev.date} during alemtuzumab: reassess therapy.",
            PROGRESSION_CITATION,
            ev.date,
        )
        self.extra_actions.append(
            (
                key,
                Action(
                    max(ev.date, self.as_of) if ev.date > self.as_of else self.as_of,
                    "reassess-therapy",
                    f"Reassess therapy: {what} on {ev.date}; to continue alemtuzumab record "
                    "the review as a 'resolved' event naming "
                    + (repr(ev.id) if ev.id else "this event (give it an id)"),
                    PROGRESSION_CITATION,
                ),
            )
        )

    def on_fever(self, ev: Fever) -> None:
        self.read_ahead()
        self.fevers.append(ev)
        self.decisions.append(grading.grade_fever(ev.temperature_c).decision)
        anc = self.anc_near(ev.date)
        if anc is not None:
            fn = grading.grade_febrile_neutropenia(
                anc, max_temperature_c=ev.temperature_c, hours_at_or_above_38_c=ev.duration_h
            )
            self.decisions.append(fn.decision)
            if fn.grade is not None and fn.grade >= 3:
                key = self.event_hold(
                    ev,
                    HoldKind.FEBRILE_NEUTROPENIA,
                    f"febrile neutropenia on {ev.date} ({ev.temperature_c:g} °C, ANC "
                    f"{anc.value * 1000:,.0f}/µL)",
                    "the febrile neutropenia has resolved (record the fever's resolved date)",
                    SERIOUS_REACTION_CITATION,
                    own_resolved=ev.resolved,
                )
                self.alert(
                    Severity.CRITICAL,
                    "febrile-neutropenia",
                    f"Febrile neutropenia on {ev.date}: {ev.temperature_c:g} °C with ANC "
                    f"{anc.value * 1000:,.0f}/µL. Withhold alemtuzumab; urgent evaluation and "
                    "empirical treatment.",
                    fn.citation,
                    ev.date,
                    hold=key,
                )
        elif ev.temperature_c >= FEVER_C:
            key = self.event_hold(
                ev,
                HoldKind.REVIEW,
                f"fever {ev.temperature_c:g} °C on {ev.date} with no ANC within "
                f"{FEVER_ANC_WINDOW_DAYS} days (febrile neutropenia not excluded)",
                f"an ANC within {FEVER_ANC_WINDOW_DAYS} days of the fever, or the fever "
                "recorded as resolved",
                SERIOUS_REACTION_CITATION,
                own_resolved=ev.resolved,
                indeterminate=True,
            )
            self.alert(
                Severity.CRITICAL,
                "febrile-anc-unknown",
                f"Fever {ev.temperature_c:g} °C on {ev.date} and no ANC within "
                f"{FEVER_ANC_WINDOW_DAYS} days: febrile neutropenia cannot be excluded; "
                "withhold and measure the ANC now.",
                SERIOUS_REACTION_CITATION,
                ev.date,
                hold=key,
            )
            self.decide(
                "febrile-neutropenia",
                None,
                f"Fever on {ev.date} with no ANC within {FEVER_ANC_WINDOW_DAYS} days.",
                SERIOUS_REACTION_CITATION,
                status=DecisionStatus.INDETERMINATE,
                missing=("ANC",),
            )
        if self.dose_days.get(ev.date):
            self.alert(
                Severity.INFO,
                "infusion-fever",
                f"Fever on a dose day ({ev.date}): infusion fever usually begins 5-6 h after "
                "the start of the infusion; CMV must still be tested.",
                INFUSION_FEVER_CITATION,
                ev.date,
            )

    def anc_near(self, day: dt.date) -> LabResult | None:
        """The ANC nearest ``day`` within the window (the lower of equally near ones)."""
        best: tuple[int, float] | None = None
        for d, value in self.all_anc:
            gap = abs((d - day).days)
            if gap <= FEVER_ANC_WINDOW_DAYS and (best is None or (gap, value) < best):
                best = (gap, value)
        if best is None:
            return None
        return LabResult.of("ANC", best[1], "10*9/L", date=day)

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


_AFTER_TIMED = frozenset(
    {
        EventType.DOSE_HELD,
        EventType.DOSE,
        EventType.INFUSION_REACTION,
        EventType.TREATMENT_STOPPED,  # after a same-day dose (then flagged: order unknown)
    }
)
"""Untimed events of these types come after the day's timed events; other untimed events
(results and observations) come before them: untimed labs on a dose day are pre-dose."""


_CLASS_TYPE: dict[type[Event], EventType] = dict(_EVENT_TYPE)
"""Each event class's type (a class is a cheap dictionary key; an enum member is not)."""
_AFTER_TIMED_CLASSES = frozenset(c for c, t in _CLASS_TYPE.items() if t in _AFTER_TIMED)
_CLASS_ORDER = {c: _TYPE_ORDER[t] for c, t in _CLASS_TYPE.items()}
_LAB_ORDER = _CLASS_ORDER[LabEvent]
_UNTIMED_FIRST = (0, dt.time.min)
_UNTIMED_LAST = (2, dt.time.min)


def _slot(e: Event) -> tuple[int, dt.time]:
    if e.time is not None:
        return 1, e.time
    return _UNTIMED_LAST if e.__class__ in _AFTER_TIMED_CLASSES else _UNTIMED_FIRST


def weekly_window(
    dose_dates: Iterable[dt.date], day: dt.date, settings: EngineSettings = DEFAULT_SETTINGS
) -> tuple[dt.date, dt.date]:
    """The days whose alemtuzumab counts with a dose on ``day`` against the 90 mg weekly ceiling
    (L1, L4): its treatment week (weeks from the first dose, realigned at a dose after a gap of
    7 days or more), or the 7 days ending ``day`` under ``rolling-7-days``.

    Examples
    --------
    >>> import datetime as dt
    >>> mon = dt.date(2007, 1, 8)
    >>> weekly_window([mon, mon + dt.timedelta(days=1)], mon + dt.timedelta(days=7))
    (datetime.date(2007, 1, 15), datetime.date(2007, 1, 21))
    """
    return _weekly_window(dose_dates, day, settings.weekly_ceiling)


def _sorted_events(course: Course, as_of: dt.date, *, none_after: bool = False) -> list[Event]:
    """The events in force up to ``as_of``, in replay order: by date; within a day untimed
    results first, then timed events by time, then untimed doses and reactions; then by type
    (results, what was done, reactions to it); ties by content. Never by list position, so the
    order of entry cannot change the answer. ``none_after``: no event is dated after ``as_of``
    (it is the date of the latest event), so none is left out."""
    # One key per event: (date, slot, type order); each type has its own order, so equal keys
    # are the same day, slot and type. A lab result's key goes on with its code and value, the
    # start of its content key: results of one draw are then in content order unless two share
    # code and value (a tie, put in order below). The position in the list after the key keeps
    # the sort stable (as a sort by the key alone is) and never lets it compare two events.
    keyed: list[tuple[tuple[object, ...], int, Event]]
    if LAB_KEY_IN_ORDER:
        effective = course.effective_events()
        events = list(effective) if none_after else [e for e in effective if e.date <= as_of]
        if INTEGER_KEYS:
            untimed = _sorted_untimed(events)
            if untimed is not None:
                return untimed
        keyed = []
        append = keyed.append
        for i, e in enumerate(events):
            cls = e.__class__
            t = e.time
            if t is None:
                slot = _UNTIMED_LAST if cls in _AFTER_TIMED_CLASSES else _UNTIMED_FIRST
            else:
                slot = (1, t)
            if cls is LabEvent:
                r = e.result  # type: ignore[attr-defined]
                append(((e.date, slot, _LAB_ORDER, r.code._value_, r.value), i, e))
            else:
                append(((e.date, slot, _CLASS_ORDER[cls], "", 0.0), i, e))
        keyed.sort()
    else:
        keyed = sorted(
            (_plain_key(e), i, e)
            for i, e in enumerate(course.effective_events())
            if e.date <= as_of
        )
    # Ties (same day, slot and type) are put in content order, so list order never matters; the
    # content key is costly, so it is computed only for the tied runs.
    out: list[Event] = []
    i, n = 0, len(keyed)
    while i < n:
        key = keyed[i][0]
        j = i + 1
        while j < n and keyed[j][0] == key:
            j += 1
        if j == i + 1:
            out.append(keyed[i][2])
        elif _inert(keyed[i][2].__class__):
            # Events the replay ignores (notes): tied ones are the same day, slot and class,
            # so their order among themselves cannot change the answer; no content key.
            out.extend(e for _, _, e in keyed[i:j])
        else:
            out.extend(sorted((e for _, _, e in keyed[i:j]), key=_content))
        i = j
    return out


_CODE_RANK: dict[LabCode, int] = {
    c: k for k, c in enumerate(sorted(LabCode, key=lambda c: c._value_))
}
"""Each lab code's place in the order of the codes' text (the order the sort key compares)."""
_TYPE_ORDERS = 32
assert len(_TYPE_ORDER) <= _TYPE_ORDERS
_DAY_SPAN = 3 * _TYPE_ORDERS * len(_CODE_RANK)
"""Integer keys per day: 3 slots (untimed first, timed, untimed last) × type orders × lab codes."""
_UNTIMED_BASE: dict[type, int] = {
    cls: (
        (_UNTIMED_LAST[0] if cls in _AFTER_TIMED_CLASSES else _UNTIMED_FIRST[0]) * _TYPE_ORDERS
        + order
    )
    * len(_CODE_RANK)
    for cls, order in _CLASS_ORDER.items()
}
"""An untimed event's key within its day: its slot and type order (a lab's code is added)."""


def _sorted_untimed(events: list[Event]) -> list[Event] | None:
    """:func:`_sorted_events` for events without a clock time (``None`` when one has a time),
    each key one integer: the day, slot, type order and lab code in one number (the order of
    the key tuple). Without ties the positions are sorted by it; else by the key times the
    number of events plus the position (the stable sort), and the ties (same key) are put in
    order as :func:`_sorted_events` does: results of one lab and draw by value,
    then equal values by content; events the replay ignores in list order; others by content."""
    n = len(events)
    if [e.time for e in events].count(None) != n:
        return None
    base, rank, day_span = _UNTIMED_BASE, _CODE_RANK, _DAY_SPAN
    day_keys = [
        e.date.toordinal() * day_span
        + base[e.__class__]
        + (rank[e.result.code] if e.__class__ is LabEvent else 0)
        for e in events
    ]
    if len(set(day_keys)) == n:  # no ties (the common case): the positions by key
        return [events[i] for i in sorted(range(n), key=day_keys.__getitem__)]
    keys = sorted([k * n + i for i, k in enumerate(day_keys)])
    prefixes = [k // n for k in keys]
    out: list[Event] = []
    j = 0
    while j < n:
        prefix = prefixes[j]
        m = j + 1
        while m < n and prefixes[m] == prefix:
            m += 1
        if m == j + 1:
            out.append(events[keys[j] % n])
        else:
            tied = [events[k % n] for k in keys[j:m]]  # in list order
            cls = tied[0].__class__
            if cls is LabEvent:
                tied.sort(key=_lab_value)  # stable: equal values stay in list order
                a = 0
                while a < len(tied):
                    value = _lab_value(tied[a])
                    b = a + 1
                    while b < len(tied) and _lab_value(tied[b]) == value:
                        b += 1
                    out.extend(tied[a:b] if b == a + 1 else sorted(tied[a:b], key=_content))
                    a = b
            elif _inert(cls):
                out.extend(tied)
            else:
                out.extend(sorted(tied, key=_content))
        j = m
    return out


def _lab_value(e: Event) -> float:
    return e.result.value  # type: ignore[attr-defined, no-any-return]


INTEGER_KEYS = True
"""Sort courses without clock times by one integer key per event (:func:`_sorted_untimed`;
``False``: by the key tuples, as the tests compare)."""


def _inert(cls: type) -> bool:
    """Whether the replay does nothing with an event of class ``cls`` (:func:`_ignore`)."""
    return _handler_of(cls) is _ignore


def _plain_key(e: Event) -> tuple[dt.date, tuple[int, dt.time], int]:
    return (e.date, _slot(e), _CLASS_ORDER[e.__class__])


LAB_KEY_IN_ORDER = True
"""Sort lab results of one draw by code and value with the other keys, leaving only results
that share both to the content key (``False``: every tie by the content key, as the tests
compare)."""


def _worse(a: LabResult, b: LabResult) -> LabResult:
    """The more conservative of two results of one lab: the lower count (what holds a dose),
    but the higher lymphocyte or white count (less response)."""
    higher_is_worse = a.code in (LabCode.ALC, LabCode.WBC)
    if a.value == b.value:
        return a
    return (max if higher_is_worse else min)((a, b), key=lambda r: r.value)


_DATE_OF = attrgetter("date")


def _as_of(course: Course) -> dt.date:
    if course.as_of is not None:
        return course.as_of
    return max(course.start_date, max(map(_DATE_OF, course.events), default=course.start_date))


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
        schedule=cycle_schedule(regimen, course.start_date, settings),
    )
    run.prepare_cytopenia_rules()
    if not profile.monotherapy:
        run.alert(
            Severity.INFO,
            "combination-regimen",
            f"{regimen.name}: the engine follows alemtuzumab dosing, holds and monitoring; "
            "the other drugs follow the printed plan.",
            regimen.provenance[0],
            None,
        )
    # Without a recorded as_of, it is the date of the latest event: none is after it.
    events = run.events = _sorted_events(course, as_of, none_after=course.as_of is None)
    if not READ_AHEAD_WHEN_NEEDED:
        run.read_ahead()
    handlers = _HANDLERS
    for ev in events:
        if run.pending_release:
            run.release_due(ev.date)
        pending = run.counts_pending
        if pending is not None and (
            ev.date != pending
            or not isinstance(ev, LabEvent)
            # Timed samples are judged one draw at a time (_slot of a lab result).
            or (_UNTIMED_FIRST if ev.time is None else (1, ev.time)) != run.counts_slot
        ):
            run.cytopenia_check(pending)
            run.counts_pending = None
        handler = handlers.get(ev.__class__)
        if handler is None:
            handler = _handler_of(ev.__class__)
        handler(run, ev)
    if run.counts_pending is not None:
        run.cytopenia_check(run.counts_pending)
    run.release_due(as_of)
    return _finish(run)


_RESOLVED, _LAB, _DOSE, _OTHER = "resolved", "lab", "dose", "other"
_PRE_PASS: dict[type, str] = {}
"""What the replay's pre-pass reads of an event class (:func:`_pre_pass_kind`), found once per
class."""


def _pre_pass_kind(cls: type) -> str:
    """What the pre-pass reads of an event of class ``cls``: resolutions, ANC values and the
    days with an alemtuzumab dose."""
    if issubclass(cls, Resolved):
        return _RESOLVED
    if issubclass(cls, LabEvent):
        return _LAB
    if issubclass(cls, DoseGiven):
        return _DOSE
    return _OTHER


def _on_assessment(run: _Run, ev: AssessmentEvent) -> None:
    run.assessments.append(ev)
    if ev.assessment.transformation is not None:
        run.on_progression(ev)


def _ignore(run: _Run, ev: Event) -> None:
    return None


_BRANCHES: tuple[tuple[type | tuple[type, ...], Callable[[_Run, Any], None]], ...] = (
    (DoseGiven, _Run.on_dose),
    (InfusionReaction, _Run.on_reaction),
    (LabEvent, _Run.on_lab),
    (Infection, _Run.on_infection),
    (AutoimmuneCytopenia, _Run.on_autoimmune),
    (Fever, _Run.on_fever),
    ((CmvPcr, CmvAntigenemia), lambda run, ev: run.cmv_tests.append(ev)),
    (Antiviral, lambda run, ev: run.antivirals.append(ev)),
    (AssessmentEvent, _on_assessment),
    (AdverseEvent, _Run.on_adverse_event),
    (Progression, _Run.on_progression),
    (Transfusion, lambda run, ev: run.transfusions.append(ev)),
    (GrowthFactor, lambda run, ev: run.growth_factor.append(ev)),
    (Esa, lambda run, ev: run.esas.append(ev)),
    (ProphylaxisEvent, lambda run, ev: run.prophylaxis_events.append(ev)),
    (DoseHeld, lambda run, ev: run.held_days.append(ev)),
    (TreatmentStopped, _Run.on_stop),
)
"""What the replay does with an event: the first branch whose type the event is (in this
order; an event of none of them, such as a note, changes nothing)."""

_HANDLERS: dict[type, Callable[[_Run, Any], None]] = {}
"""The branch of each event class, found once per class (:func:`_handler`)."""


def _handler_of(cls: type) -> Callable[[_Run, Any], None]:
    """The branch of an event class, from :data:`_HANDLERS` (found on first use)."""
    handler = _HANDLERS.get(cls)
    if handler is None:
        handler = _HANDLERS[cls] = _handler(cls)
    return handler


def _handler(cls: type) -> Callable[[_Run, Any], None]:
    """The first branch of :data:`_BRANCHES` that an event of class ``cls`` takes."""
    for types, handler in _BRANCHES:
        if issubclass(cls, types):
            return handler
    return _ignore


def _course_end(run: _Run) -> dt.date | None:
    """The last day of therapy: day 1 is the first dose (12 weeks including escalation for the
    label regimen, L1)."""
    if not run.doses:
        return None
    return run.doses[0][0] + dt.timedelta(days=run.profile.length_days - 1)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One alemtuzumab dose of the regimen's published cycle schedule, dated from day 1."""

    date: dt.date
    mg: float
    route: AdministrationRoute
    cycle: int
    cycle_day: int
    citation: Citation | None


def cycle_schedule(
    regimen: Regimen, start: dt.date, settings: EngineSettings = DEFAULT_SETTINGS
) -> tuple[_Slot, ...] | None:
    """The alemtuzumab days of a regimen given on set days of each cycle (FluCam days 1-3 of
    each 28-day cycle, CFAR days 1, 3, 5, FCC, Faderl, Nabhan, Kennedy ...), dated from day 1
    of the course as the plan lays them out (``course.plan``); ``None`` for a regimen whose
    alemtuzumab runs three times a week (its doses follow the TIW weekdays)."""
    rules = [r for r in (*regimen.run_in, *regimen.components) if r.drug is Drug.ALEMTUZUMAB]
    if not rules or any(r.tiw is not None for r in rules):
        return None
    options = PlanOptions(
        tiw_weekdays=settings.tiw_weekdays, weekly_ceiling=settings.weekly_ceiling
    )
    events, _ = _layout(regimen, start, options, regimen.cycles.count)
    by_day: dict[dt.date, _Slot] = {}
    for e in events:
        if e.rule.drug is not Drug.ALEMTUZUMAB:
            continue
        day = start + dt.timedelta(days=e.day - 1)
        slot = _Slot(day, e.amount, e.rule.route, e.cycle, e.cycle_day, e.rule.citation)
        # Two rules on one day (FCC: 3 mg day 1 of cycle 1 and 20 mg days 1-3): the lower dose,
        # the escalation step, is the dose of that day.
        if day not in by_day or slot.mg < by_day[day].mg:
            by_day[day] = slot
    return tuple(by_day[d] for d in sorted(by_day))


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
    for held in run.held_days:
        # The clinician held the dose of that day: no dose is proposed for it (fail closed).
        if held.date >= earliest:
            earliest = held.date + dt.timedelta(days=1)
    expected = run.expected_dose(earliest)
    assert expected is not None
    mg, route, phase = expected
    day = earliest
    schedule = run.schedule
    slot: _Slot | None = None
    if schedule is not None:
        # A regimen given on set days of each cycle: the next dose is the next day of its
        # published schedule (missed days are not made up), never a TIW weekday.
        slot = next((x for x in schedule if x.date >= earliest), None)
        while (
            slot is not None
            and run.week_total(slot.date, before=True) + min(mg, slot.mg)
            > ALEMTUZUMAB_MAX_WEEKLY_MG
        ):
            slot = next((x for x in schedule if x.date > slot.date), None)
        if slot is None:
            run.decide(
                "dosing.next",
                "none",
                f"No dose of {run.regimen.id}'s published schedule is left after {earliest}.",
                (schedule[-1].citation if schedule else None) or ESCALATION_CITATION,
            )
            return None
        day = slot.date
        if slot.mg <= mg:
            mg, route = slot.mg, slot.route
    elif phase == "maintenance":
        if run.doses:
            day = max(day, run.doses[-1][0] + dt.timedelta(days=MIN_DAYS_BETWEEN_MAINTENANCE_DOSES))
        day = _next_tiw(day, run.settings.tiw_weekdays)
    # Never more than 90 mg in a treatment week (or any 7 days, by setting): move the dose to
    # the next allowed day.
    while slot is None and run.week_total(day, before=True) + mg > ALEMTUZUMAB_MAX_WEEKLY_MG:
        day += dt.timedelta(days=1)
        if phase == "maintenance":
            day = _next_tiw(day, run.settings.tiw_weekdays)
    # A delay that reaches the gap restarts escalation.
    if run.doses and (day - run.doses[-1][0]).days >= GAP_RESTART_DAYS:
        mg, route = run.profile.steps[0]
        phase = "re-escalation"
        if mg > LABEL_FIRST_STEP_MG:
            run.gap_alert(day, mg, (day - run.doses[-1][0]).days)
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
    if slot is not None and phase != "re-escalation":
        why = (
            f"{run.regimen.id} published schedule: cycle {slot.cycle} day {slot.cycle_day} "
            f"({day}), {slot.mg:g} mg {slot.route.value}"
            + ("." if mg == slot.mg else f"; {mg:g} mg as the course stands (escalation/hold).")
        )
        cite = slot.citation or run.regimen.components[-1].citation
    elif phase == "maintenance":
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


def _latest_decisions(
    decisions: list[Decision[Any] | _DecisionArgs | _Deferred],
) -> tuple[Decision[Any], ...]:
    """The state's decisions: the latest of each rule (a replay decides some rules at every lab
    or dose; the earlier outcomes are history, not the state)."""
    # From the newest back, the first of each rule; then in the order they were taken.
    seen: set[str] = set()
    latest: list[Decision[Any] | _DecisionArgs | _Deferred] = []
    for d in reversed(decisions):
        rule = d[0] if isinstance(d, tuple) else d.rule
        if rule not in seen:
            seen.add(rule)
            latest.append(d)
    latest.reverse()
    make = make_decision if DECISIONS_DIRECT else Decision
    return tuple(
        [
            make(*d) if isinstance(d, tuple) else d.make() if isinstance(d, _Deferred) else d
            for d in latest
        ]
    )


DECISIONS_DIRECT = True
"""Make the state's decisions kept as arguments with :func:`make_decision` (``False``: with
:class:`Decision`, as the tests compare)."""


def _finish(run: _Run) -> CourseState:
    as_of = run.as_of
    end = _course_end(run)
    # CMV: status, actions and the alemtuzumab hold while it is treated.
    cmv_info, cmv_actions = cmv_findings(run)
    if run.stopped is not None and run.stopped.reason is StopReason.COMPLETED:
        status = CourseStatus.COMPLETED  # the clinician ends the course as complete
    elif run.discontinued is not None:
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
        sorted(
            (
                HoldReason(h.kind, h.since, h.reason, h.resume_when, h.citation)
                for h in run.holds.values()
            ),
            key=lambda h: (h.since, h.kind.value, h.reason, h.resume_when),
        )
    )
    for key, action in run.extra_actions:
        if key is None or key in run.holds:
            actions.append(action)
    if run.holds:
        unsure = sorted(h.reason for h in run.holds.values() if h.indeterminate)
        reasons = sorted({h.reason for h in run.holds.values()})
        run.decide(
            "dosing.next",
            None,
            "No dose: alemtuzumab is withheld pending clinician review: "
            + "; ".join(reasons)
            + "."
            + (f" Cannot be decided from the record: {'; '.join(unsure)}." if unsure else ""),
            REVIEW_CITATION if unsure else next(iter(run.holds.values())).citation,
            status=DecisionStatus.INDETERMINATE if unsure else DecisionStatus.DECIDED,
            missing=tuple(unsure),
        )
    if response.category is ResponseCategory.PD and not therapy_over:
        run.alert(
            Severity.CRITICAL,
            "progression",
            f"Progressive disease by {response.criteria} on {response.date}: reassess therapy.",
            PROGRESSION_CITATION,
            response.date,
        )
        actions.append(
            Action(
                as_of,
                "reassess-therapy",
                f"Reassess therapy: progressive disease on {response.date}",
                PROGRESSION_CITATION,
            )
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
        cumulative_dose_mg=sum(run.dose_mgs),  # the amounts of run.doses, in their order
        dose_last_7_days_mg=run.window_mg(as_of),
        grades=grades,
        prophylaxis=prophylaxis,
        cmv=cmv_info,
        response=response,
        alerts=tuple(alerts),
        next_actions=tuple(sorted(actions, key=lambda a: (a.due, a.code))),
        decisions=_latest_decisions(run.decisions),
        context=patient_context(run.course),
        doses=tuple([(d, mg, r._value_) for d, mg, r in run.doses]),
        discontinued=None if run.discontinued is None else run.discontinued[:2],
        renal=renal_for(run),
    )
