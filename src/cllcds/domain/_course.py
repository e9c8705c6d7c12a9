"""A treatment course: a patient, a regimen, a start date and an append-only list of dated
events (the document format ``cllcds.course/1``, ``shared/reference/course-document.md``).

Nothing is edited in place: a correction is a new event whose ``supersedes`` names the ``id`` of
the event it replaces.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum

from ._clinical import Assessment, LabResult, ResponseCriteria, ToxicityScale
from ._errors import InputError
from ._regimen import AdministrationRoute, LabelRuleSet, ProphylaxisKind

COURSE_FORMAT = "cllcds.course/1"
"""The ``format`` value of a course document."""
STATE_FORMAT = "cllcds.state/1"
"""The ``format`` value of the engine's answer."""


class CmvPolicy(Enum):
    """How CMV is handled during alemtuzumab (the ``cmv`` rule set)."""

    PREEMPTIVE = "preemptive"
    """Regular quantitative PCR (or antigenemia) during therapy and after; antiviral therapy on
    a positive result; test without delay in every febrile patient. The review's preference for
    most patients (seed, "Cytomegalovirus reactivation", last paragraphs)."""
    PROPHYLAXIS = "prophylaxis"
    """Up-front valganciclovir, for prior CMV reactivation or where surveillance is not
    available (seed; O'Brien 2008, P6)."""


@dataclass(frozen=True, slots=True)
class RuleSets:
    """The rule set each family of rules follows for a course."""

    label: LabelRuleSet = LabelRuleSet.US_2007
    response: ResponseCriteria = ResponseCriteria.IWCLL_2018
    toxicity: ToxicityScale = ToxicityScale.CTCAE_5
    cmv: CmvPolicy = CmvPolicy.PREEMPTIVE

    def as_dict(self) -> dict[str, str]:
        """``{"label": "us-2007", ...}`` as the state document writes it."""
        return {
            "label": self.label.value,
            "response": self.response.value,
            "toxicity": self.toxicity.value,
            "cmv": self.cmv.value,
        }


DEFAULT_RULE_SETS = RuleSets()
"""The defaults, written in one place: US PLR label, iwCLL 2018, CTCAE v5, pre-emptive CMV."""


class Sex(Enum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Serostatus(Enum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    UNKNOWN = "unknown"


class PriorResponse(Enum):
    """Best response to a prior therapy (course document ``best_response``)."""

    CR = "CR"
    NPR = "nPR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NR = "NR"

    @property
    def is_response(self) -> bool:
        return self in (PriorResponse.CR, PriorResponse.NPR, PriorResponse.PR)


@dataclass(frozen=True, slots=True)
class PriorTherapy:
    """A line of therapy before this course."""

    regimen: str
    start: dt.date | None = None
    end: dt.date | None = None
    best_response: PriorResponse | None = None
    progression: dt.date | None = None

    @property
    def contains_fludarabine(self) -> bool:
        """Whether the regimen name mentions fludarabine (FCR, FC, FluCam, ...)."""
        name = self.regimen.lower().replace("-", " ")
        tokens = name.replace("+", " ").split()
        return "fludarabine" in name or any(
            t in ("fcr", "fc", "flucam", "fcc", "cfar", "famp", "fr", "fa") for t in tokens
        )


@dataclass(frozen=True, slots=True)
class Cytogenetics:
    """Risk features; ``None`` = not tested."""

    del17p: bool | None = None
    tp53_mutation: bool | None = None
    del11q: bool | None = None
    ighv_unmutated: bool | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient of a course."""

    id: str
    sex: Sex = Sex.UNKNOWN
    birth_date: dt.date | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    diagnosis: str = "B-CLL"
    cmv_igg: Serostatus = Serostatus.UNKNOWN
    prior_cmv_reactivation: bool = False
    cmv_surveillance_available: bool = True
    cytogenetics: Cytogenetics = field(default_factory=Cytogenetics)
    prior_therapies: tuple[PriorTherapy, ...] = ()

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InputError("patient.id", self.id, "give the patient an identifier")


@dataclass(frozen=True, slots=True)
class Baseline:
    """Pre-treatment labs and assessment."""

    date: dt.date
    labs: tuple[LabResult, ...] = ()
    assessment: Assessment | None = None

    def lab(self, code: object) -> LabResult | None:
        """The baseline result for a lab code, if measured."""
        for r in self.labs:
            if r.code is code:
                return r
        return None


# --------------------------------------------------------------------------------------------
# Events


class EventType(Enum):
    """The ``type`` of a course event."""

    __hash__ = object.__hash__
    """Members are singletons compared by identity: hashed by identity too (in C; the Enum
    default hashes the name in Python, and the engine keys its tables by these members)."""

    DOSE = "dose"
    DOSE_HELD = "dose_held"
    LAB = "lab"
    CMV_PCR = "cmv_pcr"
    CMV_ANTIGENEMIA = "cmv_antigenemia"
    INFUSION_REACTION = "infusion_reaction"
    FEVER = "fever"
    INFECTION = "infection"
    AUTOIMMUNE_CYTOPENIA = "autoimmune_cytopenia"
    ANTIVIRAL = "antiviral"
    GROWTH_FACTOR = "growth_factor"
    TRANSFUSION = "transfusion"
    ASSESSMENT = "assessment"
    NOTE = "note"
    ADVERSE_EVENT = "adverse_event"
    RESOLVED = "resolved"
    PROGRESSION = "progression"
    ESA = "esa"
    PROPHYLAXIS = "prophylaxis"
    TREATMENT_STOPPED = "treatment_stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all course events.

    Attributes
    ----------
    date
        The day it happened.
    index
        Position in the document's ``events`` list (for messages).
    id
        Optional identifier, so a later event can supersede this one.
    supersedes
        The ``id`` of an earlier event this one corrects (that event is then ignored).
    time
        Time of day, when the document gave a date-time.
    """

    date: dt.date
    index: int = -1
    id: str | None = None
    supersedes: str | None = None
    time: dt.time | None = None

    @property
    def type(self) -> EventType:
        return _EVENT_TYPE[type(self)]


@dataclass(frozen=True, slots=True, kw_only=True)
class DoseGiven(Event):
    drug: str
    dose_mg: float
    route: AdministrationRoute

    @property
    def is_alemtuzumab(self) -> bool:
        return self.drug.lower() in ("alemtuzumab", "campath", "mabcampath")


@dataclass(frozen=True, slots=True, kw_only=True)
class DoseHeld(Event):
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LabEvent(Event):
    result: LabResult


class CmvUnit(Enum):
    IU_PER_ML = "[IU]/mL"
    COPIES_PER_ML = "{copies}/mL"


@dataclass(frozen=True, slots=True, kw_only=True)
class CmvPcr(Event):
    """A quantitative CMV PCR; ``value`` is ``None`` when not detected."""

    value: float | None
    unit: CmvUnit | None = None

    @property
    def detected(self) -> bool:
        return self.value is not None and self.value > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CmvAntigenemia(Event):
    """pp65 antigenemia: positive cells per 2 × 10^5 leukocytes."""

    positive_cells: float

    @property
    def detected(self) -> bool:
        return self.positive_cells > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class InfusionReaction(Event):
    grade: int
    resolved: dt.date | None = None
    """The day the reaction resolved, when recorded on the event itself."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fever(Event):
    temperature_c: float
    duration_h: float | None = None
    """How long the temperature stayed at or above 38.0 °C, hours (CTCAE's "sustained")."""
    resolved: dt.date | None = None
    """The day the fever (and a febrile neutropenia it made) resolved, when recorded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Infection(Event):
    grade: int
    description: str = ""
    serious: bool | None = None
    resolved: dt.date | None = None
    """The day the infection resolved, when known (an addition to ``cllcds.course/1``)."""

    @property
    def is_serious(self) -> bool:
        """Serious as flagged, or grade 3 or more when not flagged."""
        return self.serious if self.serious is not None else self.grade >= 3


class AutoimmuneKind(Enum):
    """The coded kinds of autoimmune cytopenia (``autoimmune_cytopenia.kind``)."""

    HAEMOLYTIC_ANAEMIA = "haemolytic anaemia"
    """Autoimmune haemolytic anaemia (AIHA): discontinue (L3, E1)."""
    THROMBOCYTOPENIA = "thrombocytopenia"
    """Immune (autoimmune) thrombocytopenia (ITP): discontinue (L3, E1)."""
    EVANS_SYNDROME = "evans syndrome"
    """AIHA with ITP: discontinue (L3, E1)."""
    PURE_RED_CELL_APLASIA = "pure red cell aplasia"
    NEUTROPENIA = "autoimmune neutropenia"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoimmuneCytopenia(Event):
    kind: AutoimmuneKind
    kind_text: str = ""
    recognised: bool = True
    """``False`` when ``kind_text`` named no known kind: the engine then withholds, undecided."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AdverseEvent(Event):
    """Any other adverse event, graded by the clinician (CTCAE term and grade)."""

    grade: int
    term: str
    serious: bool | None = None
    resolved: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved(Event):
    """A later record that the event whose ``id`` is ``event_id`` resolved on ``date``."""

    event_id: str


class ProgressionKind(Enum):
    """Progression or transformation during therapy."""

    PROGRESSIVE_DISEASE = "progressive disease"
    """iwCLL progressive disease judged by the clinician."""
    RICHTER = "richter"
    PROLYMPHOCYTIC = "prolymphocytic"


@dataclass(frozen=True, slots=True, kw_only=True)
class Progression(Event):
    kind: ProgressionKind
    description: str = ""


class AntiviralIntent(Enum):
    """Why an antiviral is given (``antiviral.intent``)."""

    PROPHYLAXIS = "prophylaxis"
    """Up-front, before any reactivation (e.g. valganciclovir 450 mg twice daily, P6)."""
    PREEMPTIVE = "preemptive"
    """On a positive surveillance test, before disease."""
    TREATMENT = "treatment"
    """For CMV (or other viral) disease."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Antiviral(Event):
    """An antiviral course. ``intent`` and ``frequency`` (free text, e.g. "twice daily") are
    optional additions to ``cllcds.course/1``; without an intent the engine infers it from the
    timing (after a positive CMV test: pre-emptive)."""

    drug: str
    dose_mg: float | None = None
    start: dt.date | None = None
    stop: dt.date | None = None
    intent: AntiviralIntent | None = None
    frequency: str = ""

    @property
    def begins(self) -> dt.date:
        return self.start or self.date


class EsaDoseUnit(Enum):
    """Units of an erythropoiesis-stimulating agent dose."""

    IU = "[IU]"
    """International units (epoetin alfa / beta)."""
    UG = "ug"
    """Micrograms (darbepoetin alfa, methoxy polyethylene glycol-epoetin beta)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Esa(Event):
    """An erythropoiesis-stimulating agent ("erythropoietin": epoetin, darbepoetin), given on
    ``date`` or as a course from ``start`` to ``stop``. A haemoglobin measured while an ESA acts
    does not count for a CR or PR (iwCLL 2008 §5.1-5.2, iwCLL 2018 Table 4)."""

    drug: str
    dose: float | None = None
    dose_unit: EsaDoseUnit | None = None
    start: dt.date | None = None
    stop: dt.date | None = None

    @property
    def begins(self) -> dt.date:
        return self.start or self.date

    @property
    def ends(self) -> dt.date:
        """The last day given (``stop``; else the start or event date: one administration)."""
        return self.stop or self.begins


class ProphylaxisAction(Enum):
    """What a ``prophylaxis`` event records."""

    START = "start"
    STOP = "stop"
    NOT_TOLERATED = "not_tolerated"
    """Stopped because the patient did not tolerate the drug (e.g. co-trimoxazole allergy)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProphylaxisEvent(Event):
    """Anti-infective prophylaxis actually started, stopped or not tolerated (``agent``: pcp,
    herpes or cmv), with the drug; ``dose_mg`` and ``frequency`` are optional."""

    agent: ProphylaxisKind
    action: ProphylaxisAction
    drug: str
    dose_mg: float | None = None
    frequency: str = ""


class StopReason(Enum):
    """Why the clinician stopped alemtuzumab (``treatment_stopped.reason``)."""

    COMPLETED = "completed"
    """The planned course is complete."""
    TOXICITY = "toxicity"
    PROGRESSION = "progression"
    NO_RESPONSE = "no_response"
    PATIENT_CHOICE = "patient_choice"
    DEATH = "death"
    OTHER = "other"
    """Any other reason, said in ``text``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TreatmentStopped(Event):
    """The clinician's decision to stop alemtuzumab for good (``reason`` coded, ``text`` free
    text, required when the reason is ``other``)."""

    reason: StopReason
    text: str = ""

    def __post_init__(self) -> None:
        if self.reason is StopReason.OTHER and not self.text.strip():
            raise InputError(
                "treatment_stopped.text",
                self.text,
                "say why treatment was stopped when the reason is 'other'",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class GrowthFactor(Event):
    drug: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfusion(Event):
    product: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessmentEvent(Event):
    assessment: Assessment


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Event):
    text: str = ""


_EVENT_TYPE: dict[type[Event], EventType] = {
    DoseGiven: EventType.DOSE,
    DoseHeld: EventType.DOSE_HELD,
    LabEvent: EventType.LAB,
    CmvPcr: EventType.CMV_PCR,
    CmvAntigenemia: EventType.CMV_ANTIGENEMIA,
    InfusionReaction: EventType.INFUSION_REACTION,
    Fever: EventType.FEVER,
    Infection: EventType.INFECTION,
    AutoimmuneCytopenia: EventType.AUTOIMMUNE_CYTOPENIA,
    Antiviral: EventType.ANTIVIRAL,
    GrowthFactor: EventType.GROWTH_FACTOR,
    Transfusion: EventType.TRANSFUSION,
    AssessmentEvent: EventType.ASSESSMENT,
    Note: EventType.NOTE,
    AdverseEvent: EventType.ADVERSE_EVENT,
    Resolved: EventType.RESOLVED,
    Progression: EventType.PROGRESSION,
    Esa: EventType.ESA,
    ProphylaxisEvent: EventType.PROPHYLAXIS,
    TreatmentStopped: EventType.TREATMENT_STOPPED,
}


@dataclass(frozen=True, slots=True)
class Course:
    """One patient's treatment course."""

    patient: Patient
    regimen_id: str
    start_date: dt.date
    rule_sets: RuleSets = DEFAULT_RULE_SETS
    baseline: Baseline | None = None
    events: tuple[Event, ...] = ()
    as_of: dt.date | None = None

    def effective_events(self) -> tuple[Event, ...]:
        """The events in force: superseded events removed."""
        superseded = {e.supersedes for e in self.events if e.supersedes}
        if not superseded:
            return tuple(self.events)  # nothing superseded: every event is in force
        return tuple(e for e in self.events if e.id is None or e.id not in superseded)
