"""Evidence value objects: the review's bibliography, its studies and their reported outcomes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from ._errors import InputError
from ._provenance import Citation


class Route(Enum):
    """Route of alemtuzumab administration in a study."""

    IV = "iv"
    SC = "sc"
    IV_THEN_SC = "iv-then-sc"
    """IV dose escalation, then subcutaneous maintenance (CLL2H)."""
    CIV_THEN_SC = "civ-then-sc"
    """Continuous IV infusion, then subcutaneous (Faderl 2006)."""
    IV_AND_SC = "iv-and-sc"
    """A comparison of patients given either route (Hale 2004)."""
    NOT_APPLICABLE = "n/a"
    """Not a treatment study (a guideline)."""


class Setting(Enum):
    """Monotherapy or combination with chemotherapy / another antibody."""

    MONOTHERAPY = "monotherapy"
    COMBINATION = "combination"


class Design(Enum):
    """Study design as the review describes it."""

    PHASE_1 = "phase-1"
    PHASE_2 = "phase-2"
    PHASE_3 = "phase-3"
    SERIES = "series"
    """Case series or cohort report without a stated phase."""
    RETROSPECTIVE = "retrospective"
    CASE_REPORT = "case-report"
    GUIDELINE = "guideline"
    """Management recommendations, not a study of patients."""


class DiseaseStatus(Enum):
    """The population's disease status."""

    RELAPSED_REFRACTORY = "relapsed-refractory"
    FLUDARABINE_REFRACTORY = "fludarabine-refractory"
    UNTREATED = "untreated"
    FIRST_REMISSION = "first-remission"
    MIXED = "mixed"


class Unit(Enum):
    """Units of reported values (UCUM codes where one exists)."""

    PERCENT = "%"
    COUNT = "{count}"
    MONTH = "mo"
    WEEK = "wk"
    DAY = "d"
    YEAR = "a"
    MG = "mg"
    MG_PER_DL = "mg/dL"
    UG_PER_ML = "ug/mL"
    U_PER_ML = "U/mL"
    PER_10E9_L = "10*9/L"
    HOUR = "h"


class Measure(Enum):
    """What a reported value measures.

    Proportions (response, toxicity, infection, population features) carry a count, a
    denominator and/or a printed percentage; the time-to-event and quantity measures carry a
    value and a unit.
    """

    # Response (proportions)
    ORR = "orr"
    CR = "cr"
    PR = "pr"
    NPR = "npr"
    SD = "sd"
    PD = "pd"
    NR = "nr"
    DIED_ON_TREATMENT = "died-on-treatment"
    MRD_NEGATIVE = "mrd-negative"
    BLOOD_CLEARANCE = "blood-clearance"
    MARROW_RESPONSE = "marrow-response"
    MARROW_CR = "marrow-cr"
    NODE_RESPONSE = "node-response"
    SPLEEN_RESPONSE = "spleen-response"
    LIVER_RESPONSE = "liver-response"
    LIVER_SPLEEN_RESPONSE = "liver-spleen-response"
    LYMPHOCYTOSIS_RESOLVED = "lymphocytosis-resolved"
    CYTOPENIA_IMPROVED = "cytopenia-improved"
    SYMPTOMS_RESOLVED = "symptoms-resolved"
    OS_RATE = "os-rate"
    # Population features (proportions or values)
    FLUDARABINE_REFRACTORY = "fludarabine-refractory"
    FLUDARABINE_PRETREATED = "fludarabine-pretreated"
    RITUXIMAB_REFRACTORY = "rituximab-refractory"
    PRIOR_ALEMTUZUMAB = "prior-alemtuzumab"
    PRIOR_RITUXIMAB = "prior-rituximab"
    MULTIPLE_FLUDARABINE = "multiple-fludarabine"
    NEVER_RESPONDED_NUCLEOSIDE = "never-responded-nucleoside"
    ADVANCED_STAGE = "advanced-stage"
    MALE = "male"
    P53_ABNORMAL = "p53-abnormal"
    PRIOR_LINES = "prior-lines"
    AGE = "age"
    BETA2M = "beta2m"
    # Toxicity and infection (proportions)
    INFECTION = "infection"
    INFECTION_GRADE_3_4 = "infection-grade-3-4"
    OPPORTUNISTIC_INFECTION = "opportunistic-infection"
    CMV_REACTIVATION = "cmv-reactivation"
    CMV_SYMPTOMATIC = "cmv-symptomatic"
    INFUSION_FEVER_RIGORS = "infusion-fever-rigors"
    FEVER = "fever"
    RIGORS = "rigors"
    RASH = "rash"
    NAUSEA = "nausea"
    DYSPNEA = "dyspnea"
    HYPOTENSION = "hypotension"
    HEADACHE = "headache"
    FATIGUE = "fatigue"
    MYALGIA = "myalgia"
    DIARRHEA = "diarrhea"
    DIZZINESS = "dizziness"
    BRONCHOSPASM = "bronchospasm"
    NEUTROPENIA_GRADE_3 = "neutropenia-grade-3"
    NEUTROPENIA_GRADE_4 = "neutropenia-grade-4"
    NEUTROPENIA_GRADE_3_4 = "neutropenia-grade-3-4"
    NEUTROPENIA_BELOW_1 = "neutropenia-below-1.0"
    NEUTROPENIA_BELOW_0_5 = "neutropenia-below-0.5"
    THROMBOCYTOPENIA = "thrombocytopenia"
    THROMBOCYTOPENIA_BELOW_50 = "thrombocytopenia-below-50"
    THROMBOCYTOPENIA_GRADE_3 = "thrombocytopenia-grade-3"
    THROMBOCYTOPENIA_GRADE_4 = "thrombocytopenia-grade-4"
    THROMBOCYTOPENIA_GRADE_3_4 = "thrombocytopenia-grade-3-4"
    LEUKOPENIA_GRADE_3_4 = "leukopenia-grade-3-4"
    GCSF_GIVEN = "gcsf-given"
    ANTIGLOBULIN_RESPONSE = "antiglobulin-response"
    FEBRILE_NEUTROPENIA = "febrile-neutropenia"
    SEPTICEMIA = "septicemia"
    PNEUMONIA = "pneumonia"
    INVASIVE_FUNGAL = "invasive-fungal"
    POST_TREATMENT_INFECTION = "post-treatment-infection"
    INTERRUPTED_FOR_INFECTION = "interrupted-for-infection"
    COMPLETED_TREATMENT = "completed-treatment"
    LYMPHOPENIA = "lymphopenia"
    PNEUMOCYSTIS = "pneumocystis"
    FUNGAL_INFECTION = "fungal-infection"
    """A fungal infection the review does not call invasive."""
    BACTEREMIA = "bacteremia"
    HERPES_INFECTION = "herpes-infection"
    MAJOR_INFECTION = "major-infection"
    """A serious or "major" infection as the study names it, without a CTC grade."""
    INFECTION_DEATH = "infection-death"
    CARDIOVASCULAR_TOXICITY = "cardiovascular-toxicity"
    CMV_DISEASE = "cmv-disease"
    """CMV end-organ disease or a CMV clinical syndrome (e.g. CMV pneumonia)."""
    CMV_RESOLVED = "cmv-resolved"
    """Of the CMV reactivations, the share that resolved (on antivirals or spontaneously)."""
    DISCONTINUED_FOR_CMV = "discontinued-for-cmv"
    RESTARTED_AFTER_CMV = "restarted-after-cmv"
    # Times and quantities (value + unit)
    OS_MEDIAN = "os-median"
    PFS_MEDIAN = "pfs-median"
    TTP_MEDIAN = "ttp-median"
    RESPONSE_DURATION_MEDIAN = "response-duration-median"
    TIME_TO_RESPONSE_MEDIAN = "time-to-response-median"
    TREATMENT_FREE_SURVIVAL_MEDIAN = "treatment-free-survival-median"
    TREATMENT_DURATION_MEDIAN = "treatment-duration-median"
    CUMULATIVE_DOSE_MEDIAN = "cumulative-dose-median"
    CMV_ONSET_MEDIAN = "cmv-onset-median"
    INFECTION_ONSET_MEDIAN = "infection-onset-median"
    CONCENTRATION_MAX = "concentration-max"
    HALF_LIFE = "half-life"
    NEUTROPHIL_COUNT = "neutrophil-count"
    FOLLOW_UP = "follow-up"
    COURSES_MEDIAN = "courses-median"
    ANTIGLOBULIN_TITER = "antiglobulin-titer"
    ANTIGLOBULIN_DETECTION_LIMIT = "antiglobulin-detection-limit"

    @property
    def is_proportion(self) -> bool:
        """Whether the measure is a proportion of patients (count / denominator / percent)."""
        return self not in _VALUE_MEASURES


_VALUE_MEASURES = frozenset(
    {
        Measure.OS_MEDIAN,
        Measure.PFS_MEDIAN,
        Measure.TTP_MEDIAN,
        Measure.RESPONSE_DURATION_MEDIAN,
        Measure.TIME_TO_RESPONSE_MEDIAN,
        Measure.TREATMENT_FREE_SURVIVAL_MEDIAN,
        Measure.TREATMENT_DURATION_MEDIAN,
        Measure.CUMULATIVE_DOSE_MEDIAN,
        Measure.CMV_ONSET_MEDIAN,
        Measure.INFECTION_ONSET_MEDIAN,
        Measure.CONCENTRATION_MAX,
        Measure.HALF_LIFE,
        Measure.NEUTROPHIL_COUNT,
        Measure.FOLLOW_UP,
        Measure.COURSES_MEDIAN,
        Measure.ANTIGLOBULIN_TITER,
        Measure.ANTIGLOBULIN_DETECTION_LIMIT,
        Measure.PRIOR_LINES,
        Measure.AGE,
        Measure.BETA2M,
    }
)


@dataclass(frozen=True, slots=True)
class Reported:
    """One value a study reports, as the review prints it, with its provenance.

    A proportion has at least one of ``count`` and ``percent``; ``denominator`` is the number of
    patients the count is out of. A value measure has ``value`` and ``unit`` and optionally a
    range. ``primary`` marks the value of the study's main analysis population for the measure
    (the one pooled and shown in the review's tables).
    """

    measure: Measure
    population: str
    citation: Citation
    count: int | None = None
    denominator: int | None = None
    percent: float | None = None
    value: float | None = None
    unit: Unit | None = None
    low: float | None = None
    high: float | None = None
    primary: bool = False
    derived: bool = False
    """True when the review does not print this value; ``citation.note`` says how it was derived."""
    printed: str = ""
    """The value exactly as printed, when it cannot be stored as printed (e.g. a percent of
    "305", an impossible value kept here while ``percent`` holds the evident reading)."""

    def __post_init__(self) -> None:
        where = f"{self.measure.value} ({self.population})"
        if self.measure.is_proportion:
            if self.count is None and self.percent is None:
                raise InputError(where, None, "a proportion needs a count or a percent")
            if self.count is not None and self.count < 0:
                raise InputError(f"{where}.count", self.count, "use a count of 0 or more")
            if self.denominator is not None and self.denominator <= 0:
                raise InputError(f"{where}.denominator", self.denominator, "use a positive n")
            if (
                self.count is not None
                and self.denominator is not None
                and self.count > self.denominator
            ):
                raise InputError(
                    f"{where}.count",
                    self.count,
                    f"must not exceed the denominator {self.denominator}",
                )
            if self.percent is not None and not 0 <= self.percent <= 100:
                raise InputError(f"{where}.percent", self.percent, "use a percent from 0 to 100")
        elif self.value is None or self.unit is None:
            raise InputError(where, self.value, "a value measure needs value and unit")
        if self.value is not None and not math.isfinite(self.value):
            raise InputError(f"{where}.value", self.value, "use a finite number")

    @property
    def exact_percent(self) -> float | None:
        """100 · count / denominator, when both are known."""
        if self.count is None or self.denominator is None:
            return None
        return 100.0 * self.count / self.denominator


@dataclass(frozen=True, slots=True)
class Population:
    """Who a study enrolled and evaluated."""

    n_enrolled: int | None
    n_evaluable: int | None
    """``None`` only for a guideline, which has no patients of its own."""
    description: str
    citation: Citation
    fludarabine_refractory_fraction: float | None = None
    prior_lines_median: float | None = None
    prior_lines_low: float | None = None
    prior_lines_high: float | None = None

    def __post_init__(self) -> None:
        if self.n_evaluable is not None and self.n_evaluable <= 0:
            raise InputError("n_evaluable", self.n_evaluable, "use a positive count")
        if (
            self.n_enrolled is not None
            and self.n_evaluable is not None
            and self.n_enrolled < self.n_evaluable
        ):
            raise InputError(
                "n_enrolled", self.n_enrolled, f"must be at least n_evaluable {self.n_evaluable}"
            )
        f = self.fludarabine_refractory_fraction
        if f is not None and not 0 <= f <= 1:
            raise InputError("fludarabine_refractory_fraction", f, "use a fraction from 0 to 1")


@dataclass(frozen=True, slots=True)
class Reference:
    """One entry of the review's bibliography."""

    id: str
    cited_as: str
    """The in-text form the review uses, e.g. ``Keating et al 2002b``."""
    first_author: str
    year: int
    title: str = ""
    journal: str = ""
    note: str = ""
    source: str = ""
    """Where the bibliographic details come from (a reference-register id), if any."""


@dataclass(frozen=True, slots=True)
class TableRow:
    """A row of the review's Table 1 or Table 2, cell by cell as printed."""

    table: int
    row: int
    reference: str
    schedule: str
    n_evaluable: int
    or_pct: float
    cr_pct: float
    route: str | None
    study_id: str

    def __post_init__(self) -> None:
        if self.table not in (1, 2):
            raise InputError("table", self.table, "the review has Tables 1 and 2")


@dataclass(frozen=True, slots=True)
class Study:
    """A study the review describes, with everything it reports."""

    id: str
    reference_id: str
    cited_as: str
    title: str
    design: Design
    setting: Setting
    route: Route
    disease_status: DiseaseStatus
    regimen_summary: str
    population: Population
    outcomes: tuple[Reported, ...] = field(default_factory=tuple)
    regimen_ids: tuple[str, ...] = field(default_factory=tuple)
    notes: str = ""

    def primary(self, measure: Measure) -> Reported | None:
        """The study's primary reported value for ``measure``, if any."""
        for r in self.outcomes:
            if r.measure is measure and r.primary:
                return r
        return None

    def reported(self, measure: Measure) -> tuple[Reported, ...]:
        """All reported values for ``measure``."""
        return tuple(r for r in self.outcomes if r.measure is measure)
