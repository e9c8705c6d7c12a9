"""Regimens and treatment plans: value objects for dose calculation and dated schedules.

A :class:`Regimen` is a schedule as a trial or a label describes it (drugs, doses per m², per kg
or flat, routes, days, cycles) with its provenance. A :class:`Plan` is that regimen laid out for
one patient from a start date: every :class:`Administration` with its :class:`Dose` (calculated
and ordered values and the formula used), premedication, anti-infective prophylaxis and
monitoring.

The alemtuzumab ceilings are enforced here, in the objects themselves, so that no plan, override
or later edit (``dataclasses.replace``) can pass them: a :class:`Dose` of alemtuzumab above
:data:`ALEMTUZUMAB_MAX_SINGLE_DOSE_MG` and a :class:`Plan` with more than
:data:`ALEMTUZUMAB_MAX_WEEKLY_MG` in any :data:`ALEMTUZUMAB_WINDOW_DAYS` consecutive days cannot
be constructed (:class:`CeilingError`).

Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum

from ._errors import InputError
from ._provenance import Citation

# --------------------------------------------------------------------------------------------
# Enumerations (each names the standard or source it follows)
# --------------------------------------------------------------------------------------------


class RegimenStatus(Enum):
    """Regulatory standing of a regimen.

    ``label``: the schedule of an approved label (US Campath label / EU SmPC).
    ``trial``: a schedule published by a clinical trial the review describes.
    ``historical``: an exploratory schedule the review reports but its authors did not take
    forward (a phase I dose cohort, a small series superseded by a later schedule); kept to
    reproduce the evidence, not as a first choice.
    """

    LABEL = "label"
    TRIAL = "trial"
    HISTORICAL = "historical"


class Drug(Enum):
    """Antineoplastic drugs of the review's regimens (INN names)."""

    ALEMTUZUMAB = "alemtuzumab"
    FLUDARABINE = "fludarabine"
    CYCLOPHOSPHAMIDE = "cyclophosphamide"
    RITUXIMAB = "rituximab"

    @property
    def label(self) -> str:
        """Capitalised name for sheets and tables."""
        return self.value.capitalize()


class AdministrationRoute(Enum):
    """Route of one administration (the course document's ``route`` values)."""

    IV = "iv"
    """Intravenous infusion."""
    SC = "sc"
    """Subcutaneous injection."""
    PO = "po"
    """Oral."""
    CIV = "civ"
    """Continuous intravenous infusion (24 h)."""

    @property
    def label(self) -> str:
        """Abbreviation as printed on a treatment sheet."""
        return self.value.upper()

    @property
    def is_oral(self) -> bool:
        """Whether the dose is swallowed (tablet rounding applies)."""
        return self is AdministrationRoute.PO


class DoseBasis(Enum):
    """What a regimen's dose is per: body surface area, body weight, or nothing (flat)."""

    MG_PER_M2 = "mg/m2"
    MG_PER_KG = "mg/kg"
    FLAT = "mg"


class DosePhase(Enum):
    """Where an administration sits in the course."""

    ESCALATION = "escalation"
    """A step of the alemtuzumab dose escalation (3 → 10 → 30 mg)."""
    TREATMENT = "treatment"
    """The target dose, or a chemotherapy / rituximab dose."""


class BsaFormula(Enum):
    """Body-surface-area formula, named by its author and year."""

    MOSTELLER = "mosteller"
    """Mosteller 1987: sqrt(height_cm · weight_kg / 3600)."""
    DUBOIS = "dubois"
    """DuBois & DuBois 1916: 0.007184 · height_cm^0.725 · weight_kg^0.425."""
    HAYCOCK = "haycock"
    """Haycock 1978: 0.024265 · height_cm^0.3964 · weight_kg^0.5378."""


class LabelRuleSet(Enum):
    """The alemtuzumab label version a plan's supportive care follows.

    The versions differ in premedication, prophylaxis and dose modification (reference
    ``clinical-rules.md`` §1.11 and §7). The default is :data:`DEFAULT_LABEL_RULE_SET`.
    """

    US_2001 = "us-2001"
    """Original 2001 US Campath package insert (reference L7-L10)."""
    US_2007 = "us-2007"
    """US Campath label in the 2007+ PLR format (reference L1-L6)."""
    EU_SMPC = "eu-smpc"
    """MabCampath EU summary of product characteristics (reference E1-E5)."""


DEFAULT_LABEL_RULE_SET = LabelRuleSet.US_2007
"""The label rule set used when none is named: the most recent US label (PLR format)."""


class RoundingMode(Enum):
    """How a calculated (mg/m² or mg/kg) dose is rounded to the ordered dose."""

    NEAREST = "nearest"
    DOWN = "down"
    UP = "up"


class PremedicationTrigger(Enum):
    """Which alemtuzumab administrations a label wants premedication before."""

    FIRST_AND_ESCALATION = "first-and-escalation"
    """The first dose and each dose escalation (US label)."""
    ESCALATION_PHASE = "escalation-phase"
    """Every infusion during dose escalation (EU SmPC)."""


class ProphylaxisKind(Enum):
    """Anti-infective prophylaxis the labels require."""

    PCP = "pcp"
    """Pneumocystis jirovecii (carinii) pneumonia."""
    HERPES = "herpes"
    """Herpes viruses (HSV, VZV)."""
    CMV = "cmv"
    """Cytomegalovirus (valganciclovir prophylaxis under the ``prophylaxis`` CMV policy; no
    label requires it)."""


class MonitoringKind(Enum):
    """Kinds of monitoring a plan schedules."""

    BLOOD_COUNT = "blood-count"
    CMV_PCR = "cmv-pcr"
    CD4 = "cd4"
    RESPONSE = "response"
    MARROW = "marrow"


class NoteLevel(Enum):
    """Severity of a plan note."""

    INFO = "info"
    WARNING = "warning"


# --------------------------------------------------------------------------------------------
# Hard ceilings (enforced by the value objects themselves)
# --------------------------------------------------------------------------------------------

ALEMTUZUMAB_MAX_SINGLE_DOSE_MG = 30.0
"""Highest alemtuzumab dose in one administration: 30 mg (single doses above it raise the
incidence of pancytopenia). US PLR label D&A and boxed warning (L1, L4, L6); US 2001 insert (L7)."""

ALEMTUZUMAB_MAX_WEEKLY_MG = 90.0
"""Highest cumulative alemtuzumab dose per week: 90 mg (L1, L4, L6; L7). By default cllcds
applies it per treatment week (:data:`DEFAULT_WEEKLY_CEILING`), optionally to every window of
:data:`ALEMTUZUMAB_WINDOW_DAYS` consecutive days (``rolling-7-days``)."""

ALEMTUZUMAB_WINDOW_DAYS = 7
"""Length of a treatment week (and of the rolling window) the weekly ceiling applies to."""

ALEMTUZUMAB_RESTART_GAP_DAYS = 7
"""A gap of this many days or more between alemtuzumab doses restarts the course (re-escalation
from 3 mg, US label L1, L4 boxed warning; L7 "after interruption of therapy for 7 or more days");
the treatment weeks of the weekly ceiling are realigned at the dose after it."""

WEEKLY_CEILING_READINGS = ("treatment-week", "rolling-7-days")
"""The readings of the label's 90 mg weekly ceiling: ``treatment-week`` (weeks of 7 days counted
from day 1 of the course, realigned at the first dose after a gap of
:data:`ALEMTUZUMAB_RESTART_GAP_DAYS` days or more; the label's own schedule 3/10/30 mg on days
1-3 then 30 mg three times a week fits it) or ``rolling-7-days`` (any 7 consecutive days, a
stricter institutional setting)."""

DEFAULT_WEEKLY_CEILING = "treatment-week"
"""The default reading of the weekly ceiling (docs/rules.md "Engine safety (issue 10)")."""


def validate_weekly_ceiling(reading: str, field_name: str = "weekly_ceiling") -> None:
    """Refuse a reading of the weekly ceiling that is not one of :data:`WEEKLY_CEILING_READINGS`."""
    if reading not in WEEKLY_CEILING_READINGS:
        raise InputError(field_name, reading, f"use one of {', '.join(WEEKLY_CEILING_READINGS)}")


def week_bounds(anchor: date | None, day: date, reading: str) -> tuple[date, date]:
    """The first and last day of the week holding ``day``: the treatment week counted from
    ``anchor`` (day 1 or the last restart), or under ``rolling-7-days`` (or with no anchor) the
    7 days ending ``day``."""
    if reading not in WEEKLY_CEILING_READINGS:
        validate_weekly_ceiling(reading)
    if reading == "rolling-7-days" or anchor is None:
        return day - _WEEK_SPAN, day
    k = (day - anchor).days // ALEMTUZUMAB_WINDOW_DAYS
    first = anchor + timedelta(days=k * ALEMTUZUMAB_WINDOW_DAYS)
    return first, first + _WEEK_SPAN


_WEEK_SPAN = timedelta(days=ALEMTUZUMAB_WINDOW_DAYS - 1)
"""From the first to the last day of a 7-day window."""


def week_anchor(dose_dates: Iterable[date], day: date) -> date | None:
    """Day 1 of the treatment weeks in force on ``day``: the first dose, or the first dose after
    the last gap of :data:`ALEMTUZUMAB_RESTART_GAP_DAYS` days or more; a dose on ``day`` after
    such a gap restarts the count (``None``: no dose on or before ``day``)."""
    anchor: date | None = None
    prev: date | None = None
    for d in sorted(dose_dates):
        if d > day:
            break
        if prev is None or (d - prev).days >= ALEMTUZUMAB_RESTART_GAP_DAYS:
            anchor = d
        prev = d
    if prev is not None and (day - prev).days >= ALEMTUZUMAB_RESTART_GAP_DAYS:
        anchor = day
    return anchor


def weekly_window(
    dose_dates: Iterable[date], day: date, reading: str = DEFAULT_WEEKLY_CEILING
) -> tuple[date, date]:
    """The days whose alemtuzumab counts with a dose on ``day`` against the 90 mg weekly ceiling
    under ``reading`` (see :data:`WEEKLY_CEILING_READINGS`)."""
    dates = list(dose_dates)
    return week_bounds(week_anchor([*dates, day], day), day, reading)


def weekly_excess(
    doses: Iterable[tuple[date, float]], reading: str = DEFAULT_WEEKLY_CEILING
) -> tuple[date, date, float] | None:
    """The first week (first day, last day, total mg) whose alemtuzumab passes 90 mg under
    ``reading``, or ``None`` when every week keeps to the ceiling."""
    validate_weekly_ceiling(reading)
    by_day: dict[date, float] = {}
    for day, mg in doses:
        by_day[day] = by_day.get(day, 0.0) + mg
    days = sorted(by_day)
    for d in days:
        if reading == "rolling-7-days":
            first, last = d, d + timedelta(days=ALEMTUZUMAB_WINDOW_DAYS - 1)
        else:
            first, last = weekly_window(days, d, reading)
        total = sum(v for x, v in by_day.items() if first <= x <= last)
        if total > ALEMTUZUMAB_MAX_WEEKLY_MG + 1e-9:
            return first, last, total
    return None


def max_weekly_mg(
    doses: Iterable[tuple[date, float]], reading: str = DEFAULT_WEEKLY_CEILING
) -> float:
    """The largest alemtuzumab total in one week (treatment week or rolling 7 days)."""
    by_day: dict[date, float] = {}
    for day, mg in doses:
        by_day[day] = by_day.get(day, 0.0) + mg
    days = sorted(by_day)
    best = 0.0
    for d in days:
        if reading == "rolling-7-days":
            first, last = d, d + timedelta(days=ALEMTUZUMAB_WINDOW_DAYS - 1)
        else:
            first, last = weekly_window(days, d, reading)
        best = max(best, sum(v for x, v in by_day.items() if first <= x <= last))
    return best


CEILING_CITATION = Citation(
    source="L1",
    locator="Dosage and administration: maximum single and weekly dose",
    note=(
        "Single doses above 30 mg or cumulative doses above 90 mg/week increase the incidence "
        "of pancytopenia; same limits in the boxed warning (L4, L6) and the 2001 insert (L7). "
        "Applied per treatment week (from day 1, realigned at each restart) by default; any 7 "
        "consecutive days as an institutional setting."
    ),
)
"""Where the alemtuzumab ceilings come from."""


class CeilingError(InputError):
    """A dose or a plan that would exceed an alemtuzumab ceiling; it is refused, never capped."""


def check_single_dose(drug: Drug, dose_mg: float, where: str = "alemtuzumab dose") -> None:
    """Refuse an alemtuzumab dose above :data:`ALEMTUZUMAB_MAX_SINGLE_DOSE_MG`.

    Raises
    ------
    CeilingError
        Naming the dose and the ceiling with its source.
    """
    if drug is Drug.ALEMTUZUMAB and dose_mg > ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:
        raise CeilingError(
            where,
            f"{dose_mg:g} mg",
            f"alemtuzumab is limited to {ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:g} mg a dose "
            f"(label: {CEILING_CITATION.short()}); order {ALEMTUZUMAB_MAX_SINGLE_DOSE_MG:g} mg "
            "or less",
        )


def check_weekly_dose(
    doses: Iterable[tuple[date, float]], reading: str = DEFAULT_WEEKLY_CEILING
) -> None:
    """Refuse alemtuzumab doses that sum above 90 mg in a week under ``reading`` (default: the
    treatment week; see :data:`WEEKLY_CEILING_READINGS`).

    Parameters
    ----------
    doses
        ``(date, dose_mg)`` of every alemtuzumab administration (any order).
    reading
        ``treatment-week`` or ``rolling-7-days``.

    Raises
    ------
    CeilingError
        Naming the first offending week, its total and the ceiling with its source.
    """
    excess = weekly_excess(doses, reading)
    if excess is not None:
        first, last, total = excess
        week = (
            f"any {ALEMTUZUMAB_WINDOW_DAYS} days"
            if reading == "rolling-7-days"
            else "a treatment week"
        )
        raise CeilingError(
            f"alemtuzumab {first.isoformat()} to {last.isoformat()}",
            f"{total:g} mg",
            f"alemtuzumab is limited to {ALEMTUZUMAB_MAX_WEEKLY_MG:g} mg in {week} "
            f"(label: {CEILING_CITATION.short()}); space or reduce the doses",
        )


# --------------------------------------------------------------------------------------------
# Configurable defaults (facts no source gives; named here, in one place)
# --------------------------------------------------------------------------------------------

DEFAULT_TIW_WEEKDAYS: tuple[int, int, int] = (0, 2, 4)
"""Weekdays of three-times-weekly dosing (Monday = 0): Mon-Wed-Fri, the label's own example of
"three times a week on alternate days" (L1). A configurable default: any three weekdays with
a day between each (including Sunday → Monday) are accepted."""

DEFAULT_PROPHYLAXIS_START_DAY = 8
"""Day of the course on which PCP and herpes prophylaxis starts when the label rule set gives no
start: the pivotal trial's day 8 (P1; review "from day 8 of treatment"). Configurable."""

DEFAULT_CMV_PCR_INTERVAL_DAYS = 7
"""CMV PCR every 7 days during therapy and for 2 months after. The EU leaflet (E2) asks for CMV
checks in that period without a frequency: weekly is a configurable default, not a rule."""

DEFAULT_CD4_INTERVAL_DAYS = 28
"""CD4 count every 28 days after therapy until ≥ 200/µL. The 2001 insert (L9) asks for CD4 counts
after treatment until recovery without a frequency: 4-weekly is a configurable default."""

HEIGHT_RANGE_CM = (50.0, 250.0)
"""Plausible adult height in cm; outside it the value is refused as a likely unit error."""

WEIGHT_RANGE_KG = (20.0, 350.0)
"""Plausible adult weight in kg; outside it the value is refused as a likely unit error."""

BSA_CAP_RANGE_M2 = (1.0, 3.0)
"""Values accepted for the optional BSA cap."""


def _finite_positive(where: str, value: float, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(where, value, fix)
    if not math.isfinite(value) or value <= 0:
        raise InputError(where, value, fix)


# --------------------------------------------------------------------------------------------
# The regimen (what a source describes)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoseSpec:
    """A dose as a regimen states it: an amount per unit of ``basis``.

    ``high`` is the top of a stated range (rituximab "375–500 mg/m2"); the plan uses ``amount``.
    """

    amount: float
    basis: DoseBasis
    high: float | None = None

    def __post_init__(self) -> None:
        _finite_positive("dose.amount", self.amount, "use a positive dose")
        if self.high is not None and self.high < self.amount:
            raise InputError("dose.high", self.high, f"must be at least amount {self.amount:g}")

    def text(self) -> str:
        """``25 mg/m2``, ``375–500 mg/m2``, ``30 mg``."""
        amt = f"{self.amount:g}" if self.high is None else f"{self.amount:g}–{self.high:g}"
        return f"{amt} {self.basis.value}"


@dataclass(frozen=True, slots=True)
class TiwSpan:
    """Three-times-weekly dosing on alternate days from ``from_day`` to ``to_day`` (cycle days).

    Doses fall on the plan's TIW weekdays (:data:`DEFAULT_TIW_WEEKDAYS`), never on consecutive
    days, and never so that any 7 days hold more than 90 mg of alemtuzumab.
    """

    from_day: int
    to_day: int

    def __post_init__(self) -> None:
        if self.from_day < 1 or self.to_day < self.from_day:
            raise InputError(
                "tiw", (self.from_day, self.to_day), "use 1 <= from_day <= to_day (cycle days)"
            )


@dataclass(frozen=True, slots=True)
class AdministrationRule:
    """One drug given at one dose by one route on some days of a cycle.

    Exactly one of ``days`` (explicit cycle days, 1 = the cycle's first day) and ``tiw`` is
    given. ``cycles`` restricts the rule to some cycles (``None``: every cycle) — the mechanism
    for doses that vary by cycle. ``optional`` rules (``condition`` says when) are planned only
    on request.
    """

    drug: Drug
    route: AdministrationRoute
    dose: DoseSpec
    phase: DosePhase
    citation: Citation
    days: tuple[int, ...] = ()
    tiw: TiwSpan | None = None
    cycles: tuple[int, ...] | None = None
    infusion: str = ""
    optional: bool = False
    condition: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if bool(self.days) == (self.tiw is not None):
            raise InputError(
                f"{self.drug.value} rule", self.days, "give exactly one of days and tiw"
            )
        if any(d < 1 for d in self.days):
            raise InputError(f"{self.drug.value} days", self.days, "cycle days start at 1")
        if self.cycles is not None and (not self.cycles or any(c < 1 for c in self.cycles)):
            raise InputError(f"{self.drug.value} cycles", self.cycles, "cycles start at 1")
        if self.optional and not self.condition:
            raise InputError(
                f"{self.drug.value} condition", "", "say when an optional rule applies"
            )
        if self.dose.basis is DoseBasis.FLAT:
            check_single_dose(self.drug, self.dose.amount, f"{self.drug.value} dose in regimen")

    def applies_to(self, cycle: int) -> bool:
        """Whether the rule is given in ``cycle``."""
        return self.cycles is None or cycle in self.cycles

    def days_text(self) -> str:
        """Human form of the days: ``1-3``, ``1, 3, 5``, ``TIW days 4-84``."""
        if self.tiw is not None:
            return f"TIW (alternate days) days {self.tiw.from_day}–{self.tiw.to_day}"
        return _ranges(self.days)


def _ranges(days: tuple[int, ...]) -> str:
    out: list[str] = []
    start = prev = days[0]
    for d in (*days[1:], None):
        if d is not None and d == prev + 1:
            prev = d
            continue
        out.append(f"{start}" if start == prev else f"{start}–{prev}")
        if d is not None:
            start = prev = d
    return ", ".join(out)


@dataclass(frozen=True, slots=True)
class CycleSpec:
    """Cycle length and count: ``count`` is planned by default, up to ``max_count`` on request."""

    length_days: int
    count: int
    citation: Citation
    max_count: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.length_days < 1:
            raise InputError("cycles.length_days", self.length_days, "use a positive length")
        if self.count < 1:
            raise InputError("cycles.count", self.count, "use one cycle or more")
        if self.max_count is not None and self.max_count < self.count:
            raise InputError("cycles.max_count", self.max_count, f"must be >= count {self.count}")

    @property
    def limit(self) -> int:
        """The most cycles a plan may have."""
        return self.max_count if self.max_count is not None else self.count


@dataclass(frozen=True, slots=True)
class AssessmentRule:
    """A response or marrow assessment the regimen's source schedules, on cycle-1 days."""

    kind: MonitoringKind
    days: tuple[int, ...]
    description: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class Regimen:
    """A regimen from the review, as data with provenance.

    Attributes
    ----------
    run_in
        Administrations before cycle 1 (e.g. FCC's 3 → 10 mg alemtuzumab run-in), on run-in days
        1..``run_in_days``; cycle 1 day 1 is plan day ``run_in_days + 1``.
    studies
        Ids of the evidence base's studies this regimen was given in.
    conflicts
        Where the review's text and its tables (or other sources) disagree on this regimen,
        and which version is modelled.
    assumptions
        Choices the sources do not make (a weekday, a cycle length), each a configurable
        default rather than a rule.
    """

    id: str
    name: str
    status: RegimenStatus
    summary: str
    cycles: CycleSpec
    components: tuple[AdministrationRule, ...]
    provenance: tuple[Citation, ...]
    studies: tuple[str, ...] = ()
    run_in: tuple[AdministrationRule, ...] = ()
    run_in_days: int = 0
    assessments: tuple[AssessmentRule, ...] = ()
    conflicts: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    variant_of: str | None = None

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip().lower() or " " in self.id:
            raise InputError("regimen.id", self.id, "use a lower-case id without spaces")
        if not self.components:
            raise InputError("regimen.components", (), "a regimen needs at least one component")
        if not self.provenance:
            raise InputError("regimen.provenance", (), "a regimen needs its sources")
        if self.run_in and self.run_in_days < max(d for r in self.run_in for d in r.days):
            raise InputError("regimen.run_in_days", self.run_in_days, "must cover the run-in days")
        for rule in self.components:
            last = rule.tiw.to_day if rule.tiw is not None else max(rule.days)
            if self.cycles.count > 1 and last > self.cycles.length_days:
                raise InputError(
                    f"{self.id} {rule.drug.value} days",
                    last,
                    f"must lie within the {self.cycles.length_days}-day cycle",
                )

    @property
    def drugs(self) -> tuple[Drug, ...]:
        """The drugs given, in order of first mention."""
        seen: list[Drug] = []
        for r in (*self.run_in, *self.components):
            if r.drug not in seen:
                seen.append(r.drug)
        return tuple(seen)

    @property
    def has_alemtuzumab_escalation(self) -> bool:
        """Whether the regimen itself escalates alemtuzumab."""
        return any(
            r.drug is Drug.ALEMTUZUMAB and r.phase is DosePhase.ESCALATION
            for r in (*self.run_in, *self.components)
        )


# --------------------------------------------------------------------------------------------
# Supportive care and preparation rules (data per label rule set)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PremedicationRule:
    """A label's premedication: which administrations, which drugs, how long before."""

    trigger: PremedicationTrigger
    drugs: tuple[SupportiveDrug, ...]
    timing: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class ProphylaxisRule:
    """A label's prophylaxis against one kind of infection."""

    kind: ProphylaxisKind
    drugs: tuple[SupportiveDrug, ...]
    citation: Citation


@dataclass(frozen=True, slots=True)
class SupportiveCareRules:
    """Premedication and prophylaxis of one label rule set.

    ``start_day`` is ``None`` when the label gives no start day (the plan then uses
    :data:`DEFAULT_PROPHYLAXIS_START_DAY`). ``stop_months`` / ``stop_cd4_per_ul`` are ``None``
    when the label sets no duration or CD4 condition; ``stop_text`` says what it says instead.
    """

    rule_set: LabelRuleSet
    title: str
    premedication: PremedicationRule
    prophylaxis: tuple[ProphylaxisRule, ...]
    start_day: int | None
    start_rule: str
    start_citation: Citation
    stop_months: int | None
    stop_cd4_per_ul: int | None
    stop_text: str
    stop_citation: Citation
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MonitoringRules:
    """Monitoring around a course, shared by the rule sets (sources differ per item).

    Frequencies that no source gives are the ``DEFAULT_*_INTERVAL_DAYS`` options, not data.
    """

    blood_count_text: str
    blood_count_citation: Citation
    cmv_months_after: int
    cmv_text: str
    cmv_citation: Citation
    cd4_threshold_per_ul: int
    cd4_text: str
    cd4_citation: Citation
    response_confirm_months: int
    response_text: str
    response_citation: Citation


@dataclass(frozen=True, slots=True)
class RoutePreparation:
    """How an alemtuzumab dose is prepared and given by one route."""

    route: AdministrationRoute
    diluent: str
    administration: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class AlemtuzumabProduct:
    """The alemtuzumab vial and how each route's dose is prepared from it."""

    product: str
    concentration_mg_per_ml: float
    routes: tuple[RoutePreparation, ...]
    citation: Citation

    def for_route(self, route: AdministrationRoute) -> RoutePreparation | None:
        """The preparation for ``route``, if the data has one."""
        for r in self.routes:
            if r.route is route:
                return r
        return None


# --------------------------------------------------------------------------------------------
# Planning options and inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundingPolicy:
    """How calculated doses (mg/m², mg/kg) become ordered doses. Flat doses are never rounded.

    The increments are configurable defaults (1 mg); no source sets them. ``max_deviation_pct``
    refuses a rounding that moves the dose further than this from the calculated value (the
    NHS dose-banding tables keep within about 5 %, reference ``standards.md`` §1).
    """

    increment_mg: float = 1.0
    """Increment for parenteral doses (IV, SC, CIV)."""
    oral_increment_mg: float = 1.0
    """Increment for oral doses (e.g. 10 to round to whole 10 mg tablets)."""
    mode: RoundingMode = RoundingMode.NEAREST
    max_deviation_pct: float = 5.0

    def __post_init__(self) -> None:
        _finite_positive("rounding increment", self.increment_mg, "use a positive increment in mg")
        _finite_positive(
            "oral rounding increment", self.oral_increment_mg, "use a positive increment in mg"
        )
        if not 0 < self.max_deviation_pct <= 25:
            raise InputError(
                "rounding max deviation", self.max_deviation_pct, "use a percentage from 0 to 25"
            )

    def describe(self, oral: bool) -> str:
        """``nearest 1 mg``."""
        inc = self.oral_increment_mg if oral else self.increment_mg
        return f"{self.mode.value} {inc:g} mg"


@dataclass(frozen=True, slots=True)
class DoseOverride:
    """A prescriber's change of one drug's dose (in the regimen's own basis), for some cycles.

    It replaces the amount of the drug's treatment-phase rules; alemtuzumab escalation steps
    above the new amount are lowered to it. Ceilings still apply: an override cannot pass them.
    """

    drug: Drug
    amount: float
    cycles: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _finite_positive(f"{self.drug.value} override", self.amount, "use a positive dose")
        if self.cycles is not None and (not self.cycles or any(c < 1 for c in self.cycles)):
            raise InputError(f"{self.drug.value} override cycles", self.cycles, "cycles start at 1")


def validate_tiw_weekdays(weekdays: tuple[int, ...]) -> tuple[int, int, int]:
    """Check three distinct weekdays (Monday = 0) with a day between each, wrapping the week."""
    fix = "give three weekdays (0 = Monday) with a day between each, e.g. 0,2,4 (Mon-Wed-Fri)"
    if len(weekdays) != 3 or len(set(weekdays)) != 3 or any(not 0 <= d <= 6 for d in weekdays):
        raise InputError("TIW weekdays", weekdays, fix)
    ordered = sorted(weekdays)
    gaps = [(ordered[(i + 1) % 3] - ordered[i]) % 7 for i in range(3)]
    if min(gaps) < 2:
        raise InputError("TIW weekdays", weekdays, fix)
    return (ordered[0], ordered[1], ordered[2])


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Everything a user may choose when planning; the defaults are named constants above."""

    rule_set: LabelRuleSet = DEFAULT_LABEL_RULE_SET
    bsa_formula: BsaFormula = BsaFormula.MOSTELLER
    bsa_cap_m2: float | None = None
    rounding: RoundingPolicy = field(default_factory=RoundingPolicy)
    tiw_weekdays: tuple[int, ...] = DEFAULT_TIW_WEEKDAYS
    prophylaxis_start_day: int | None = None
    """``None``: the rule set's start (EU "throughout treatment": day 1), else
    :data:`DEFAULT_PROPHYLAXIS_START_DAY`."""
    cmv_pcr_interval_days: int = DEFAULT_CMV_PCR_INTERVAL_DAYS
    cd4_interval_days: int = DEFAULT_CD4_INTERVAL_DAYS
    cycles: int | None = None
    """Number of cycles (``None``: the regimen's planned count)."""
    include_optional: bool = False
    overrides: tuple[DoseOverride, ...] = ()
    monitoring_weekdays_only: bool = True
    """Move a test or visit that falls on a Saturday or Sunday to the Monday after (a
    configurable default; doses are never moved)."""
    weekly_ceiling: str = DEFAULT_WEEKLY_CEILING
    """Reading of the 90 mg weekly ceiling (:data:`WEEKLY_CEILING_READINGS`): the treatment week
    (default, as the course engine) or the stricter rolling 7 days (an institutional setting)."""

    def __post_init__(self) -> None:
        validate_tiw_weekdays(self.tiw_weekdays)
        validate_weekly_ceiling(self.weekly_ceiling)
        if self.bsa_cap_m2 is not None:
            lo, hi = BSA_CAP_RANGE_M2
            if not (isinstance(self.bsa_cap_m2, int | float) and lo <= self.bsa_cap_m2 <= hi):
                raise InputError("BSA cap", self.bsa_cap_m2, f"use a cap from {lo:g} to {hi:g} m2")
        if self.prophylaxis_start_day is not None and not 1 <= self.prophylaxis_start_day <= 28:
            raise InputError(
                "prophylaxis start day", self.prophylaxis_start_day, "use a course day from 1 to 28"
            )
        if not 1 <= self.cmv_pcr_interval_days <= 28:
            raise InputError("CMV PCR interval", self.cmv_pcr_interval_days, "use 1 to 28 days")
        if not 7 <= self.cd4_interval_days <= 91:
            raise InputError("CD4 interval", self.cd4_interval_days, "use 7 to 91 days")
        if self.cycles is not None and self.cycles < 1:
            raise InputError("cycles", self.cycles, "plan one cycle or more")


@dataclass(frozen=True, slots=True)
class BodyMeasures:
    """Height and weight, checked for plausibility and likely unit errors."""

    height_cm: float
    weight_kg: float

    def __post_init__(self) -> None:
        lo, hi = HEIGHT_RANGE_CM
        h = self.height_cm
        fix = f"give the height in centimetres, from {lo:g} to {hi:g}"
        _finite_positive("height_cm", h, fix)
        if h < lo:
            hint = f" ({h:g} looks like metres: {h * 100:g} cm)" if h < 3 else ""
            raise InputError("height_cm", h, fix + hint)
        if h > hi:
            hint = f" ({h:g} looks like millimetres: {h / 10:g} cm)" if h <= 10 * hi else ""
            raise InputError("height_cm", h, fix + hint)
        lo, hi = WEIGHT_RANGE_KG
        w = self.weight_kg
        fix = f"give the weight in kilograms, from {lo:g} to {hi:g}"
        _finite_positive("weight_kg", w, fix)
        if w < lo or w > hi:
            hint = f" ({w:g} looks like grams: {w / 1000:g} kg)" if w >= 1000 * lo else ""
            raise InputError("weight_kg", w, fix + hint)


@dataclass(frozen=True, slots=True)
class PatientDetails:
    """Who the plan is for (printed on the treatment sheet)."""

    name: str = ""
    identifier: str = ""
    birth_date: date | None = None


# --------------------------------------------------------------------------------------------
# The plan (a regimen laid out for one patient)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dose:
    """One dose: the calculated and the ordered value, and how it was reached.

    Attributes
    ----------
    amount
        The regimen's dose per unit of ``basis`` (e.g. 25 for 25 mg/m²).
    calculated_mg
        amount × BSA (or × weight), unrounded; equal to ``amount`` for flat doses.
    ordered_mg
        What is given, after rounding.
    formula
        The calculation written out, e.g. ``25 mg/m2 × 1.818 m2 (Mosteller) = 45.45 mg;
        nearest 1 mg → 45 mg``.
    """

    drug: Drug
    basis: DoseBasis
    amount: float
    calculated_mg: float
    ordered_mg: float
    formula: str
    bsa_m2: float | None = None
    weight_kg: float | None = None

    def __post_init__(self) -> None:
        _finite_positive("calculated_mg", self.calculated_mg, "a dose must be positive")
        _finite_positive("ordered_mg", self.ordered_mg, "a dose must be positive")
        check_single_dose(self.drug, self.ordered_mg)


@dataclass(frozen=True, slots=True)
class Preparation:
    """How to prepare one alemtuzumab dose from the vial."""

    product: str
    volume_ml: float
    diluent: str
    administration: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class SupportiveDrug:
    """A premedication or prophylaxis drug as a label names it (dose may be a range or a class)."""

    name: str
    dose: str
    route: str = ""
    frequency: str = ""

    def text(self) -> str:
        """``famciclovir 250 mg PO twice daily``."""
        return " ".join(p for p in (self.name, self.dose, self.route, self.frequency) if p)


@dataclass(frozen=True, slots=True)
class Premedication:
    """Premedication before one administration."""

    drugs: tuple[SupportiveDrug, ...]
    timing: str
    reason: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class Administration:
    """One dated administration of the plan.

    ``day`` counts from the plan's start (day 1); ``cycle`` is 0 for a run-in before cycle 1.
    """

    date: date
    day: int
    cycle: int
    cycle_day: int
    drug: Drug
    route: AdministrationRoute
    dose: Dose
    phase: DosePhase
    citation: Citation
    infusion: str = ""
    preparation: Preparation | None = None
    premedication: Premedication | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.dose.drug is not self.drug:
            raise InputError("dose.drug", self.dose.drug.value, f"must be {self.drug.value}")
        if self.day < 1:
            raise InputError("day", self.day, "plan days start at 1")

    @property
    def dose_mg(self) -> float:
        """The ordered dose in mg."""
        return self.dose.ordered_mg


@dataclass(frozen=True, slots=True)
class Prophylaxis:
    """One anti-infective prophylaxis: drugs, start, and the stop rule.

    ``earliest_stop_date`` is ``None`` when the rule set gives no duration; ``stop_condition``
    then says what the label says instead.
    """

    kind: ProphylaxisKind
    drugs: tuple[SupportiveDrug, ...]
    start_date: date
    start_rule: str
    earliest_stop_date: date | None
    stop_condition: str
    citation: Citation
    start_citation: Citation


@dataclass(frozen=True, slots=True)
class MonitoringItem:
    """One dated test or assessment."""

    date: date
    kind: MonitoringKind
    description: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class PlanNote:
    """Something the prescriber must know about the plan (an assumption, a conflict, a warning)."""

    level: NoteLevel
    text: str
    citation: Citation | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A regimen laid out for one patient from a start date.

    Constructing a plan checks the alemtuzumab ceilings over all its administrations; a plan that
    would pass one cannot exist (:class:`CeilingError`).
    """

    regimen: Regimen
    patient: PatientDetails
    body: BodyMeasures
    bsa_m2: float
    bsa_uncapped_m2: float
    start: date
    options: PlanOptions
    cycles: int
    administrations: tuple[Administration, ...]
    prophylaxis: tuple[Prophylaxis, ...] = ()
    monitoring: tuple[MonitoringItem, ...] = ()
    notes: tuple[PlanNote, ...] = ()
    bsa_citation: Citation | None = None

    def __post_init__(self) -> None:
        if not self.administrations:
            raise InputError("plan", self.regimen.id, "a plan needs at least one administration")
        dates = [a.date for a in self.administrations]
        if dates != sorted(dates):
            raise InputError("plan.administrations", "unsorted", "sort administrations by date")
        if dates[0] < self.start:
            raise InputError("plan.start", self.start.isoformat(), "no dose before the start")
        for a in self.administrations:
            check_single_dose(a.drug, a.dose_mg, f"alemtuzumab dose on {a.date.isoformat()}")
        check_weekly_dose(
            ((a.date, a.dose_mg) for a in self.administrations if a.drug is Drug.ALEMTUZUMAB),
            self.options.weekly_ceiling,
        )

    @property
    def end(self) -> date:
        """Date of the last administration."""
        return self.administrations[-1].date

    @property
    def rule_set(self) -> LabelRuleSet:
        """The label rule set the supportive care follows."""
        return self.options.rule_set

    def alemtuzumab(self) -> tuple[Administration, ...]:
        """The alemtuzumab administrations."""
        return tuple(a for a in self.administrations if a.drug is Drug.ALEMTUZUMAB)

    def total_mg(self, drug: Drug) -> float:
        """Cumulative ordered dose of one drug over the plan."""
        return sum(a.dose_mg for a in self.administrations if a.drug is drug)

    def max_window_mg(self, drug: Drug = Drug.ALEMTUZUMAB) -> float:
        """The largest total of ``drug`` in one week under the plan's reading of the weekly
        ceiling (treatment week by default, any 7 consecutive days under ``rolling-7-days``)."""
        return max_weekly_mg(
            ((a.date, a.dose_mg) for a in self.administrations if a.drug is drug),
            self.options.weekly_ceiling,
        )

    def sources(self) -> tuple[Citation, ...]:
        """Every citation the plan rests on, without repeats, in order of first use."""
        out: list[Citation] = []
        seen: set[tuple[str, str]] = set()

        def add(c: Citation | None) -> None:
            if c is not None and (c.source, c.locator) not in seen:
                seen.add((c.source, c.locator))
                out.append(c)

        for c in self.regimen.provenance:
            add(c)
        add(self.regimen.cycles.citation)
        for a in self.administrations:
            add(a.citation)
            if a.preparation is not None:
                add(a.preparation.citation)
            if a.premedication is not None:
                add(a.premedication.citation)
        for p in self.prophylaxis:
            add(p.citation)
            add(p.start_citation)
        for m in self.monitoring:
            add(m.citation)
        for n in self.notes:
            add(n.citation)
        add(self.bsa_citation)
        add(CEILING_CITATION)
        return tuple(out)
