"""Clinical value objects: lab results with units, and the inputs of response assessment.

Labs arrive with a UCUM unit and are converted once, here, to a canonical unit:

========  =====================  ==========================================
Lab       Canonical unit         Accepted UCUM units
========  =====================  ==========================================
WBC, ALC  10^9/L (``10*9/L``)    ``10*9/L``, ``10*3/uL``, ``/uL``, ``/mm3``,
ANC, PLT                         ``{cells}/uL``, ``10*6/L``
CD4       cells/µL (``/uL``)     the same count units
HGB       g/dL                   ``g/dL``, ``g/L``, ``mmol/L``
========  =====================  ==========================================

An impossible or implausible value is refused with an :class:`InputError` that names the likely
fix (platelets 150000 in ``10*9/L`` → "did you mean /uL?"). The plausibility limits are the named
constants below; they are sanity limits, not reference ranges.

LOINC codes follow ``shared/reference/standards.md`` §2 (each marked "verified" there); the
method-unspecified alternatives listed there as verified are accepted on input as well.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TypeVar

from ._errors import InputError

E = TypeVar("E", bound=Enum)


def parse_enum(enum: type[E], text: object, field: str) -> E:
    """Parse ``text`` as a member value of ``enum`` (members pass through).

    Raises
    ------
    InputError
        Naming ``field`` and listing the valid values.
    """
    if isinstance(text, enum):
        return text
    try:
        return enum(text)
    except ValueError:
        valid = ", ".join(repr(m.value) for m in enum)
        raise InputError(field, text, f"use one of: {valid}") from None


# --------------------------------------------------------------------------------------------
# Labs and units
# --------------------------------------------------------------------------------------------


class LabUnit(Enum):
    """UCUM units accepted for lab values."""

    __hash__ = object.__hash__
    """Members are singletons compared by identity: hashed by identity too (in C; the Enum
    default hashes the name in Python, and the engine keys its tables by these members)."""

    PER_10E9_L = "10*9/L"
    PER_10E3_UL = "10*3/uL"
    """Same magnitude as 10^9/L."""
    PER_UL = "/uL"
    PER_MM3 = "/mm3"
    """Same as /uL (1 mm³ = 1 µL)."""
    CELLS_PER_UL = "{cells}/uL"
    """Same as /uL, with the UCUM annotation some laboratories use for CD4."""
    PER_10E6_L = "10*6/L"
    """Same as /uL (10^6 per litre = 1 per microlitre)."""
    G_DL = "g/dL"
    G_L = "g/L"
    MMOL_L = "mmol/L"
    MG_DL = "mg/dL"
    """Creatinine, mass concentration."""
    UMOL_L = "umol/L"
    """Creatinine, substance concentration (µmol/L)."""

    @classmethod
    def parse(cls, text: object, field: str = "unit") -> LabUnit:
        """Parse a UCUM unit string; an unknown unit raises :class:`InputError`."""
        return parse_enum(cls, text, field)

    @property
    def display(self) -> str:
        """Clinician-facing form (``×10^9/L``, ``/µL``)."""
        return _UNIT_DISPLAY.get(self, self.value)


_UNIT_DISPLAY: Mapping[LabUnit, str] = {
    LabUnit.PER_10E9_L: "×10^9/L",
    LabUnit.PER_10E3_UL: "×10^3/µL",
    LabUnit.PER_UL: "/µL",
    LabUnit.PER_MM3: "/mm³",
    LabUnit.CELLS_PER_UL: "cells/µL",
    LabUnit.PER_10E6_L: "×10^6/L",
    LabUnit.UMOL_L: "µmol/L",
}


# Cells per microlitre in one unit of each count unit.
_PER_UL_FACTOR: Mapping[LabUnit, int] = {
    LabUnit.PER_10E9_L: 1000,
    LabUnit.PER_10E3_UL: 1000,
    LabUnit.PER_UL: 1,
    LabUnit.PER_MM3: 1,
    LabUnit.CELLS_PER_UL: 1,
    LabUnit.PER_10E6_L: 1,
}
_COUNT_UNITS = tuple(_PER_UL_FACTOR)
_HB_UNITS = (LabUnit.G_DL, LabUnit.G_L, LabUnit.MMOL_L)
_CREAT_UNITS = (LabUnit.MG_DL, LabUnit.UMOL_L)

CREATININE_UMOL_PER_MG_DL = 88.42
"""µmol/L of creatinine per mg/dL: 10 dL/L × 1000 µg/mg ÷ 113.12 g/mol (creatinine's molar
mass) = 88.4; 88.42 is the factor laboratories print."""
CREAT_MIN_MG_DL = 0.1
"""Below any measurable serum creatinine in an adult; catches µmol/L values entered as mg/dL
the other way round (a value in mg/dL below this is almost surely mmol/L)."""
CREAT_MAX_MG_DL = 30.0
"""Above any serum creatinine outside end-stage renal failure (catches µmol/L given as mg/dL)."""

HB_G_PER_DL_PER_MMOL_L = 1.6114
"""Haemoglobin g/dL per mmol/L, monomer (per-haem) convention.

1 mmol/L of haemoglobin monomer (molar mass about 16 114 g/mol, a quarter of the tetramer's
64 458 g/mol) is 16.114 g/L = 1.6114 g/dL; mmol/L is the SI unit used in e.g. the Netherlands
and Scandinavia, and it always counts monomers. The tetramer convention would give 6.4458.
"""

G_PER_L_PER_G_PER_DL = 10.0
"""g/L per g/dL (1 dL = 0.1 L)."""

UL_PER_10E9_L = 1000
"""Cells per µL in 1 × 10^9 cells/L (1 L = 10^6 µL)."""

# Plausibility limits in the canonical unit: sanity bounds that catch a wrong unit, not
# reference ranges. Values outside are refused with the likely fix.
WBC_MAX_10E9_PER_L = 1500.0
"""Hyperleukocytosis in CLL rarely exceeds 1,000 × 10^9/L."""
ALC_MAX_10E9_PER_L = 1500.0
"""As for WBC: lymphocytes cannot exceed the white cell count."""
ANC_MAX_10E9_PER_L = 200.0
"""Far above any neutrophilia (leukaemoid reactions stay below about 100 × 10^9/L)."""
PLT_MAX_10E9_PER_L = 2000.0
"""Extreme thrombocytosis (essential thrombocythaemia) stays below about 2,000 × 10^9/L."""
PLT_MIN_NONZERO_10E9_PER_L = 1.0
"""Analysers report platelets to 1 × 10^9/L; a non-zero count below it (below 1,000/µL) is
almost surely a count in 10^9/L entered as /uL."""
HGB_MIN_G_PER_DL = 2.0
"""Practically unsurvivable below this; severe autoimmune haemolysis (a CLL complication) can
reach 2-3 g/dL, so the limit sits under that. It catches g/dL values entered as g/L."""
HGB_MAX_G_PER_DL = 25.0
"""Above any polycythaemia."""
CD4_MAX_PER_UL = 10000.0
"""Far above any CD4 count (adult reference ranges end near 1,500 cells/µL)."""
FRACTIONAL_PER_UL_LIMIT = 100.0
"""A count in cells/µL below this with a fractional part (e.g. ANC 2.1 /uL) is almost surely a
count in 10^9/L: per-microlitre counts are reported as whole numbers."""


class LabCode(Enum):
    """The labs cllcds grades and assesses, by short name (``LabCode.parse`` also takes LOINC)."""

    __hash__ = object.__hash__
    """Members are singletons compared by identity: hashed by identity too (in C; the Enum
    default hashes the name in Python, and the engine keys its tables by these members)."""

    WBC = "WBC"
    ALC = "ALC"
    ANC = "ANC"
    PLT = "PLT"
    HGB = "HGB"
    CD4 = "CD4"
    CREAT = "CREAT"
    """Serum creatinine (for creatinine clearance and renal dose adjustment; not graded)."""

    @property
    def graded(self) -> bool:
        """Whether the toxicity scales grade this lab (creatinine is used for CrCl only)."""
        return self is not LabCode.CREAT

    @property
    def loinc(self) -> str:
        """Primary LOINC code (standards.md §2, verified)."""
        return _LOINC[self][0]

    @property
    def loinc_codes(self) -> tuple[str, ...]:
        """Every LOINC code accepted for this lab (primary first)."""
        return _LOINC[self]

    @property
    def display(self) -> str:
        """Clinician-facing name."""
        return _DISPLAY[self]

    @property
    def canonical_unit(self) -> LabUnit:
        """The unit values are held in: 10^9/L for counts, cells/µL for CD4, g/dL for Hb."""
        if self is LabCode.HGB:
            return LabUnit.G_DL
        if self is LabCode.CD4:
            return LabUnit.PER_UL
        if self is LabCode.CREAT:
            return LabUnit.MG_DL
        return LabUnit.PER_10E9_L

    @property
    def accepted_units(self) -> tuple[LabUnit, ...]:
        """The UCUM units accepted for this lab."""
        if self is LabCode.HGB:
            return _HB_UNITS
        if self is LabCode.CREAT:
            return _CREAT_UNITS
        return _COUNT_UNITS

    @classmethod
    def parse(cls, text: object, field: str = "code") -> LabCode:
        """Parse a short name (``ANC``) or a LOINC code (``751-8``)."""
        if isinstance(text, LabCode):
            return text
        if isinstance(text, str):
            key = text.strip()
            for code in cls:
                if key.upper() == code.value or key in code.loinc_codes:
                    return code
        valid = ", ".join(f"{c.value} ({'/'.join(c.loinc_codes)})" for c in cls)
        raise InputError(field, text, f"use a lab code or its LOINC code: {valid}")


_LOINC: Mapping[LabCode, tuple[str, ...]] = {
    # standards.md §2: automated count first (verified), then the verified
    # method-unspecified code where one is listed as verified.
    LabCode.WBC: ("6690-2",),  # 26464-8 is marked UNVERIFIED there: not accepted
    LabCode.ALC: ("731-0", "26474-7"),
    LabCode.ANC: ("751-8", "26499-4"),
    LabCode.PLT: ("777-3", "26515-7"),
    LabCode.HGB: ("718-7",),
    LabCode.CD4: ("24467-3",),
    # 2160-0 Creatinine [Mass/volume] in Serum or Plasma; 14682-9 the same in moles/volume.
    LabCode.CREAT: ("2160-0", "14682-9"),
}

_DISPLAY: Mapping[LabCode, str] = {
    LabCode.WBC: "white blood cells",
    LabCode.ALC: "absolute lymphocyte count",
    LabCode.ANC: "absolute neutrophil count",
    LabCode.PLT: "platelets",
    LabCode.HGB: "haemoglobin",
    LabCode.CD4: "CD4+ lymphocytes",
    LabCode.CREAT: "serum creatinine",
}

_MAX: Mapping[LabCode, float] = {
    LabCode.WBC: WBC_MAX_10E9_PER_L,
    LabCode.ALC: ALC_MAX_10E9_PER_L,
    LabCode.ANC: ANC_MAX_10E9_PER_L,
    LabCode.PLT: PLT_MAX_10E9_PER_L,
    LabCode.HGB: HGB_MAX_G_PER_DL,
    LabCode.CD4: CD4_MAX_PER_UL,
    LabCode.CREAT: CREAT_MAX_MG_DL,
}


def to_canonical(code: LabCode, value: float, unit: LabUnit) -> float:
    """Convert ``value`` in ``unit`` to the canonical unit of ``code`` (no plausibility check).

    Counts in per-µL units are divided by 1,000 (never multiplied by 0.001), so a threshold and
    a result given in the same unit convert to exactly the same float.

    Examples
    --------
    >>> to_canonical(LabCode.PLT, 150000, LabUnit.PER_UL)
    150.0
    >>> round(to_canonical(LabCode.HGB, 6.2, LabUnit.MMOL_L), 2)
    9.99
    """
    if unit not in code.accepted_units:
        valid = ", ".join(u.value for u in code.accepted_units)
        raise InputError("unit", unit.value, f"{code.value} takes one of: {valid}")
    if code is LabCode.HGB:
        if unit is LabUnit.G_L:
            return value / G_PER_L_PER_G_PER_DL
        if unit is LabUnit.MMOL_L:
            return value * HB_G_PER_DL_PER_MMOL_L
        return float(value)
    if code is LabCode.CREAT:
        return value / CREATININE_UMOL_PER_MG_DL if unit is LabUnit.UMOL_L else float(value)
    factor = _PER_UL_FACTOR[unit]
    if code is LabCode.CD4:
        return float(value * factor)
    return float(value) if factor == UL_PER_10E9_L else value / UL_PER_10E9_L


def from_canonical(code: LabCode, value: float, unit: LabUnit) -> float:
    """Express a canonical ``value`` of ``code`` in ``unit`` (inverse of :func:`to_canonical`)."""
    if unit not in code.accepted_units:
        valid = ", ".join(u.value for u in code.accepted_units)
        raise InputError("unit", unit.value, f"{code.value} takes one of: {valid}")
    if code is LabCode.HGB:
        if unit is LabUnit.G_L:
            return value * G_PER_L_PER_G_PER_DL
        if unit is LabUnit.MMOL_L:
            return value / HB_G_PER_DL_PER_MMOL_L
        return value
    if code is LabCode.CREAT:
        return value * CREATININE_UMOL_PER_MG_DL if unit is LabUnit.UMOL_L else value
    factor = _PER_UL_FACTOR[unit]
    if code is LabCode.CD4:
        return value / factor
    return value if factor == UL_PER_10E9_L else value * UL_PER_10E9_L


def _plausible(code: LabCode, canonical: float) -> bool:
    if code is LabCode.HGB:
        return HGB_MIN_G_PER_DL <= canonical <= HGB_MAX_G_PER_DL
    if code is LabCode.CREAT:
        return CREAT_MIN_MG_DL <= canonical <= CREAT_MAX_MG_DL
    if code is LabCode.PLT and 0 < canonical < PLT_MIN_NONZERO_10E9_PER_L:
        return False
    return 0 <= canonical <= _MAX[code]


def _limits_text(code: LabCode) -> str:
    unit = code.canonical_unit.value
    if code is LabCode.HGB:
        return f"{HGB_MIN_G_PER_DL:g}-{HGB_MAX_G_PER_DL:g} {unit}"
    if code is LabCode.CREAT:
        return f"{CREAT_MIN_MG_DL:g}-{CREAT_MAX_MG_DL:g} {unit}"
    return f"0-{_MAX[code]:g} {unit}"


def _check_value(
    code: LabCode, value: float, unit: LabUnit, field: str, *, reported: bool = True
) -> float:
    """Validate and convert; raise :class:`InputError` with the likely fix.

    ``reported`` values (as a user or a laboratory gave them) also get the whole-number check
    for per-microlitre counts; values already in the canonical unit do not.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, value, f"give {code.value} as a number in {unit.value}")
    if not math.isfinite(value):
        raise InputError(field, value, "use a finite number")
    if value < 0:
        raise InputError(field, value, "a lab value cannot be negative")
    canonical = to_canonical(code, value, unit)
    per_ul = _PER_UL_FACTOR.get(unit) == 1
    suspicious_fraction = (
        reported
        and code not in (LabCode.HGB, LabCode.CREAT)
        and per_ul
        and value < FRACTIONAL_PER_UL_LIMIT
        and value != int(value)
    )
    if _plausible(code, canonical) and not suspicious_fraction:
        return canonical
    alternatives: list[str] = []
    seen = {canonical}  # one suggestion per magnitude (/uL, not also /mm3)
    for alt in code.accepted_units:
        alt_value = to_canonical(code, value, alt)
        if alt_value in seen or not _plausible(code, alt_value):
            continue
        seen.add(alt_value)
        same = alt is code.canonical_unit
        alternatives.append(
            alt.value
            if same
            else f"{alt.value} ({value:g} {alt.value} = {alt_value:g} {code.canonical_unit.value})"
        )
    hint = f"; did you mean {' or '.join(alternatives)}?" if alternatives else ""
    reason = (
        "per-microlitre counts are whole numbers"
        if suspicious_fraction and _plausible(code, canonical)
        else f"implausible for {code.display} (plausible: {_limits_text(code)})"
    )
    raise InputError(field, f"{value:g} {unit.value}", f"{reason}{hint}")


@dataclass(frozen=True, slots=True)
class LabResult:
    """One lab value, held in the canonical unit of its code.

    Make one from a reported value with :meth:`of` (which converts and checks the unit);
    constructing directly takes the value in the canonical unit (``code.canonical_unit``).

    Attributes
    ----------
    code
        Which lab.
    value
        The value in ``code.canonical_unit`` (10^9/L, cells/µL for CD4, g/dL for Hb).
    date
        When the sample was taken, if known.
    reported_value, reported_unit
        The value and unit as reported, before conversion (for display and audit).

    Examples
    --------
    >>> LabResult.of("PLT", 150000, "/uL").value
    150.0
    >>> try:
    ...     LabResult.of("PLT", 150000, "10*9/L")
    ... except InputError as exc:
    ...     print(exc.fix.split(";")[1])
     did you mean /uL (150000 /uL = 150 10*9/L)?
    """

    code: LabCode
    value: float
    date: dt.date | None = None
    reported_value: float | None = None
    reported_unit: LabUnit | None = None

    def __post_init__(self) -> None:
        unit = self.reported_unit if self.reported_unit is not None else self.code.canonical_unit
        raw = self.reported_value if self.reported_value is not None else self.value
        canonical = _check_value(
            self.code, raw, unit, self.code.value, reported=self.reported_unit is not None
        )
        if self.reported_value is not None and not math.isclose(
            canonical, self.value, rel_tol=1e-12, abs_tol=1e-12
        ):
            raise InputError(
                self.code.value, self.value, "value must be reported_value in the canonical unit"
            )
        object.__setattr__(self, "value", float(self.value))

    @classmethod
    def of(
        cls,
        code: LabCode | str,
        value: float,
        unit: LabUnit | str,
        *,
        date: dt.date | None = None,
        field: str | None = None,
    ) -> LabResult:
        """Convert a reported value to the canonical unit and check it.

        Parameters
        ----------
        code
            A :class:`LabCode`, its short name or a LOINC code.
        value
            The value as reported.
        unit
            A :class:`LabUnit` or its UCUM string.
        date
            Sample date.
        field
            How the caller names the value in error messages (``"events[3].value"``).

        Raises
        ------
        InputError
            For an unknown code or unit, a unit that does not fit the lab, or a value that is
            negative or implausible; the message says the likely fix.
        """
        lab = LabCode.parse(code, f"{field}.code" if field else "code")
        lab_unit = LabUnit.parse(unit, f"{field}.unit" if field else "unit")
        where = field or lab.value
        if lab_unit not in lab.accepted_units:
            valid = ", ".join(u.value for u in lab.accepted_units)
            raise InputError(
                where, f"{value} {lab_unit.value}", f"{lab.value} takes one of: {valid}"
            )
        canonical = _check_value(lab, value, lab_unit, where)
        return cls(lab, canonical, date, float(value), lab_unit)

    @property
    def unit(self) -> LabUnit:
        """The canonical unit ``value`` is in."""
        return self.code.canonical_unit

    def in_unit(self, unit: LabUnit | str) -> float:
        """The value expressed in another accepted unit."""
        return from_canonical(self.code, self.value, LabUnit.parse(unit))


# --------------------------------------------------------------------------------------------
# Rule-set names, categories and grades
# --------------------------------------------------------------------------------------------


class ToxicityScale(Enum):
    """Toxicity grading scales, named with their standard and version."""

    CTCAE_5 = "ctcae-5"
    """NCI Common Terminology Criteria for Adverse Events v5.0 (absolute counts, LLN)."""
    IWCLL_2008_HAEM = "iwcll-2008-haem"
    """iwCLL 2008 Table 5: haematological toxicity relative to the pre-treatment value."""

    @classmethod
    def parse(cls, text: object, field: str = "toxicity") -> ToxicityScale:
        """Parse a scale id (``ctcae-5``); unknown ids list the valid ones."""
        return parse_enum(cls, text, field)

    @property
    def label(self) -> str:
        """Short clinician-facing name (``CTCAE v5.0``)."""
        return "CTCAE v5.0" if self is ToxicityScale.CTCAE_5 else "iwCLL 2008 haematological scale"


class ResponseCriteria(Enum):
    """Response criteria, named with their source and version."""

    NCI_WG_1996 = "nci-wg-1996"
    """Cheson et al., Blood 1996 (NCI-sponsored Working Group)."""
    IWCLL_2008 = "iwcll-2008"
    """Hallek et al., Blood 2008, Table 4 as displayed on the ASH site (the default 2008 set)."""
    IWCLL_2008_PMC = "iwcll-2008-pmc"
    """Hallek et al., Blood 2008, Table 4 as printed in the PMC copy (differs from the ASH one)."""
    IWCLL_2018 = "iwcll-2018"
    """Hallek et al., Blood 2018, Table 4."""

    @classmethod
    def parse(cls, text: object, field: str = "response") -> ResponseCriteria:
        """Parse a criteria id (``iwcll-2018``); unknown ids list the valid ones."""
        return parse_enum(cls, text, field)

    @property
    def label(self) -> str:
        """Short clinician-facing name (``iwCLL 2008 (ASH)``)."""
        return _CRITERIA_LABEL[self]


_CRITERIA_LABEL: Mapping[ResponseCriteria, str] = {
    ResponseCriteria.NCI_WG_1996: "NCI-WG 1996",
    ResponseCriteria.IWCLL_2008: "iwCLL 2008 (ASH)",
    ResponseCriteria.IWCLL_2008_PMC: "iwCLL 2008 (PMC)",
    ResponseCriteria.IWCLL_2018: "iwCLL 2018",
}


class ResponseCategory(Enum):
    """Response categories (the ``response.category`` of the course state)."""

    CR = "CR"
    CRI = "CRi"
    """CR with incomplete marrow recovery (iwCLL)."""
    NPR = "nPR"
    """Nodular PR: CR criteria met but the marrow has lymphoid nodules."""
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NOT_EVALUABLE = "not_evaluable"

    @property
    def is_response(self) -> bool:
        """CR, CRi, nPR or PR."""
        return self in _RESPONSES


_RESPONSES = frozenset(
    {ResponseCategory.CR, ResponseCategory.CRI, ResponseCategory.NPR, ResponseCategory.PR}
)


class Grade(IntEnum):
    """A toxicity grade (0 = none)."""

    G0 = 0
    G1 = 1
    G2 = 2
    G3 = 3
    G4 = 4
    G5 = 5


class ToxicityTerm(Enum):
    """What is graded; each scale's data file gives the term as its source words it."""

    NEUTROPHILS = "neutrophils"
    PLATELETS = "platelets"
    HAEMOGLOBIN = "haemoglobin"
    LYMPHOCYTES = "lymphocytes"
    WBC = "wbc"
    CD4 = "cd4"
    FEBRILE_NEUTROPENIA = "febrile-neutropenia"
    INFUSION_REACTION = "infusion-reaction"
    CMV_REACTIVATION = "cmv-reactivation"
    FEVER = "fever"

    @classmethod
    def for_lab(cls, code: LabCode) -> ToxicityTerm:
        """The term that grades a lab."""
        return _LAB_TERM[code]


_LAB_TERM: Mapping[LabCode, ToxicityTerm] = {
    LabCode.ANC: ToxicityTerm.NEUTROPHILS,
    LabCode.PLT: ToxicityTerm.PLATELETS,
    LabCode.HGB: ToxicityTerm.HAEMOGLOBIN,
    LabCode.ALC: ToxicityTerm.LYMPHOCYTES,
    LabCode.WBC: ToxicityTerm.WBC,
    LabCode.CD4: ToxicityTerm.CD4,
}


class InfusionReactionFeature(Enum):
    """Descriptors of an infusion-related reaction, as CTCAE v5.0 grades it (C1)."""

    MILD_TRANSIENT = "mild-transient"
    """Mild transient reaction; infusion interruption not indicated; no intervention."""
    INTERRUPTION_PROMPT_RESPONSE = "interruption-prompt-response"
    """Infusion interruption indicated, but prompt response to symptomatic treatment."""
    PROPHYLAXIS_UP_TO_24H = "prophylaxis-up-to-24h"
    """Prophylactic medications indicated for ≤ 24 h."""
    PROLONGED = "prolonged"
    """Not rapidly responsive to symptomatic medication and/or brief interruption."""
    RECURRENCE_AFTER_IMPROVEMENT = "recurrence-after-improvement"
    HOSPITALISATION_FOR_SEQUELAE = "hospitalisation-for-sequelae"
    LIFE_THREATENING = "life-threatening"
    """Life-threatening consequences; urgent intervention indicated."""
    DEATH = "death"


class CmvReactivationFeature(Enum):
    """Descriptors of cytomegalovirus infection reactivation, as CTCAE v5.0 grades it (C1)."""

    ASYMPTOMATIC_OR_MILD = "asymptomatic-or-mild"
    """Asymptomatic or mild symptoms; clinical or diagnostic observations only."""
    MODERATE_MEDICAL_INTERVENTION = "moderate-medical-intervention"
    SEVERE_OR_HOSPITALISATION = "severe-or-hospitalisation"
    """Severe or medically significant; hospitalisation indicated."""
    IV_INTERVENTION = "iv-intervention"
    """IV antiviral intervention indicated."""
    LIFE_THREATENING = "life-threatening"
    BLINDNESS = "blindness"
    DEATH = "death"


# --------------------------------------------------------------------------------------------
# Response-assessment inputs
# --------------------------------------------------------------------------------------------

NODE_MAX_MM = 300.0
"""Sanity limit for a lymph-node diameter (a bulky CLL node is rarely above 150 mm)."""
ORGAN_BELOW_MARGIN_MAX_CM = 40.0
"""Sanity limit for liver/spleen palpable below the costal margin (massive splenomegaly reaches
the pelvis, about 25-30 cm)."""
SPLEEN_LENGTH_MAX_CM = 40.0
"""Sanity limit for the imaged craniocaudal spleen length."""
MRD_LEVEL_MAX = 1.0
"""An MRD level is a fraction of leukocytes: at most 1."""


def _finite_range(field: str, value: float | None, low: float, high: float, fix: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, value, f"give a finite number ({fix})")
    if not low <= value <= high:
        raise InputError(field, value, fix)


@dataclass(frozen=True, slots=True)
class LymphNode:
    """One measured lymph node: long and short axis in mm (product of diameters in mm²)."""

    long_mm: float
    short_mm: float
    site: str = ""

    def __post_init__(self) -> None:
        where = f"lymph node {self.site!r}" if self.site else "lymph node"
        limits = f"use a diameter in mm above 0 and at most {NODE_MAX_MM:g}"
        for name in ("long_mm", "short_mm"):
            value = getattr(self, name)
            _finite_range(f"{where}.{name}", value, 0.0, NODE_MAX_MM, limits)
            if value == 0:
                raise InputError(f"{where}.{name}", value, limits)
        if self.short_mm > self.long_mm:
            raise InputError(
                f"{where}.short_mm",
                self.short_mm,
                f"the short axis cannot exceed the long axis ({self.long_mm:g} mm): swap them",
            )

    @property
    def product_mm2(self) -> float:
        """Product of the perpendicular diameters, mm²."""
        return self.long_mm * self.short_mm


class Cellularity(Enum):
    """Marrow cellularity."""

    HYPOCELLULAR = "hypocellular"
    NORMOCELLULAR = "normal"
    HYPERCELLULAR = "hypercellular"

    @classmethod
    def parse(cls, text: object, field: str = "marrow.cellularity") -> Cellularity:
        """Parse ``hypocellular``, ``normal`` (or ``normocellular``) or ``hypercellular``."""
        if text == "normocellular":
            return cls.NORMOCELLULAR
        return parse_enum(cls, text, field)


@dataclass(frozen=True, slots=True)
class Marrow:
    """A marrow examination. ``None`` fields were not reported.

    Attributes
    ----------
    lymphocytes_pct
        Lymphocytes as % of nucleated marrow cells (aspirate).
    nodules
        Whether the biopsy shows (B-)lymphoid nodules.
    cellularity
        Hypo-, normo- or hypercellular.
    cll_cells_pct
        CLL cells as % of marrow cells, when reported (iwCLL 2018 marrow rows speak of "CLL
        cells", not lymphocytes).
    """

    lymphocytes_pct: float | None = None
    nodules: bool | None = None
    cellularity: Cellularity | None = None
    cll_cells_pct: float | None = None

    def __post_init__(self) -> None:
        for name in ("lymphocytes_pct", "cll_cells_pct"):
            _finite_range(f"marrow.{name}", getattr(self, name), 0.0, 100.0, "use 0-100 %")


class MrdSample(Enum):
    """Tissue an MRD level was measured in."""

    BLOOD = "blood"
    MARROW = "marrow"


@dataclass(frozen=True, slots=True)
class Mrd:
    """A minimal-residual-disease level: CLL cells as a fraction of leukocytes (1e-4 = 1/10^4)."""

    sample: MrdSample
    level: float

    def __post_init__(self) -> None:
        _finite_range(
            "mrd.level",
            self.level,
            0.0,
            MRD_LEVEL_MAX,
            "give the level as a fraction of leukocytes (e.g. 0.00005), not a percent",
        )


class Transformation(Enum):
    """Histological transformation reported by the clinician."""

    RICHTER = "richter"
    PROLYMPHOCYTIC = "prolymphocytic"
    """Transformation to prolymphocytic leukaemia (> 55 % prolymphocytes)."""


_ASSESSMENT_LABS: Mapping[LabCode, str] = {
    LabCode.ALC: "alc_10e9_per_l",
    LabCode.ANC: "anc_10e9_per_l",
    LabCode.PLT: "plt_10e9_per_l",
    LabCode.HGB: "hgb_g_per_dl",
}


@dataclass(frozen=True, slots=True)
class Assessment:
    """A dated response assessment: exam, imaging, marrow, MRD and the blood values.

    ``None`` means "not assessed": the response rules then report the inputs they miss. An
    empty ``nodes`` tuple means the nodes were examined and none is enlarged.

    Attributes
    ----------
    date
        Date of the assessment.
    nodes
        The measured lymph nodes (long/short axis in mm); ``()`` = none enlarged.
    liver_cm, spleen_cm
        Centimetres palpable below the costal margin (0 = not palpable).
    spleen_length_cm
        Craniocaudal spleen length by imaging (iwCLL 2018 uses < 13 cm for CR).
    marrow
        Marrow examination, if done.
    constitutional_symptoms
        Disease-related constitutional symptoms present.
    mrd
        MRD level and sample, if measured.
    alc_10e9_per_l, anc_10e9_per_l, plt_10e9_per_l, hgb_g_per_dl
        Blood values in the canonical units (use :meth:`with_labs` to set them from
        :class:`LabResult` objects).
    clonal_b_10e9_per_l
        Circulating clonal B lymphocytes (flow cytometry), 10^9/L (PMC iwCLL 2008 rows).
    transfused
        Red cells transfused before this Hb (the Hb is then not "untransfused").
    growth_factor
        G-CSF or other myeloid growth factor in use (recorded; grades are not changed).
    erythropoietin
        Erythropoietin in use (iwCLL CR Hb must be without it).
    cytopenia_due_to_cll
        Clinician's attribution of a cytopenia: ``True`` CLL, ``False`` treatment toxicity.
    transformation
        Richter or prolymphocytic transformation, if diagnosed (``None``: none reported).
    """

    date: dt.date
    nodes: tuple[LymphNode, ...] | None = None
    liver_cm: float | None = None
    spleen_cm: float | None = None
    spleen_length_cm: float | None = None
    marrow: Marrow | None = None
    constitutional_symptoms: bool | None = None
    mrd: Mrd | None = None
    alc_10e9_per_l: float | None = None
    anc_10e9_per_l: float | None = None
    plt_10e9_per_l: float | None = None
    hgb_g_per_dl: float | None = None
    clonal_b_10e9_per_l: float | None = None
    transfused: bool | None = None
    growth_factor: bool | None = None
    erythropoietin: bool | None = None
    cytopenia_due_to_cll: bool | None = None
    transformation: Transformation | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.date, dt.date):
            raise InputError("assessment.date", self.date, "give the date as YYYY-MM-DD")
        if self.nodes is not None:
            nodes = tuple(self.nodes)
            for node in nodes:
                if not isinstance(node, LymphNode):
                    raise InputError("assessment.nodes", node, "give each node as a LymphNode")
            object.__setattr__(self, "nodes", nodes)
        organ = (
            f"use cm below the costal margin, 0-{ORGAN_BELOW_MARGIN_MAX_CM:g} (0 = not palpable)"
        )
        _finite_range("assessment.liver_cm", self.liver_cm, 0.0, ORGAN_BELOW_MARGIN_MAX_CM, organ)
        _finite_range("assessment.spleen_cm", self.spleen_cm, 0.0, ORGAN_BELOW_MARGIN_MAX_CM, organ)
        _finite_range(
            "assessment.spleen_length_cm",
            self.spleen_length_cm,
            0.0,
            SPLEEN_LENGTH_MAX_CM,
            f"use the imaged craniocaudal length in cm, 0-{SPLEEN_LENGTH_MAX_CM:g}",
        )
        for code, name in _ASSESSMENT_LABS.items():
            value = getattr(self, name)
            if value is not None:
                _check_value(code, value, code.canonical_unit, f"assessment.{name}", reported=False)
        if self.clonal_b_10e9_per_l is not None:
            _check_value(
                LabCode.ALC,
                self.clonal_b_10e9_per_l,
                LabUnit.PER_10E9_L,
                "assessment.clonal_b_10e9_per_l",
                reported=False,
            )

    def with_labs(self, labs: Iterable[LabResult]) -> Assessment:
        """A copy with ALC, ANC, PLT and Hb set from lab results (other labs are ignored).

        Raises
        ------
        InputError
            When two results share a code.
        """
        values: dict[str, float] = {}
        for lab in labs:
            name = _ASSESSMENT_LABS.get(lab.code)
            if name is None:
                continue
            if name in values:
                raise InputError(
                    f"assessment.{lab.code.value}", lab.value, "give one result per lab code"
                )
            values[name] = lab.value
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]

    @property
    def spd_mm2(self) -> float | None:
        """Sum of the products of the nodes' diameters, mm² (``None`` if not examined)."""
        if self.nodes is None:
            return None
        return sum(n.product_mm2 for n in self.nodes)


# --------------------------------------------------------------------------------------------
# Fast path for valid lab values (the course parser's): one dictionary lookup and one pass
# --------------------------------------------------------------------------------------------


def _lab_plan(
    code: LabCode, unit: LabUnit
) -> tuple[LabCode, LabUnit, bool, float, float, float, bool]:
    """For ``code`` in ``unit``: (code, unit, divide?, factor, low, high, whole-number check).

    The conversion is :func:`to_canonical`'s, as one multiplication or division that gives
    the same float; the limits are :func:`_plausible`'s (PLT's non-zero floor is checked by
    :func:`lab_fast`)."""
    if code is LabCode.HGB:
        divide, factor = (
            (True, G_PER_L_PER_G_PER_DL)
            if unit is LabUnit.G_L
            else (False, HB_G_PER_DL_PER_MMOL_L if unit is LabUnit.MMOL_L else 1.0)
        )
        low, high = HGB_MIN_G_PER_DL, HGB_MAX_G_PER_DL
    elif code is LabCode.CREAT:
        divide, factor = (
            (True, CREATININE_UMOL_PER_MG_DL) if unit is LabUnit.UMOL_L else (False, 1.0)
        )
        low, high = CREAT_MIN_MG_DL, CREAT_MAX_MG_DL
    else:
        per_ul = _PER_UL_FACTOR[unit]
        if code is LabCode.CD4:
            divide, factor = False, float(per_ul)
        else:
            divide, factor = (False, 1.0) if per_ul == UL_PER_10E9_L else (True, UL_PER_10E9_L)
        low, high = 0.0, _MAX[code]
    whole = code not in (LabCode.HGB, LabCode.CREAT) and _PER_UL_FACTOR.get(unit) == 1
    return code, unit, divide, factor, low, high, whole


_LAB_PLANS: dict[tuple[str, str], tuple[LabCode, LabUnit, bool, float, float, float, bool]] = {
    (name, unit.value): _lab_plan(code, unit)
    for code in LabCode
    for name in (code.value, *_LOINC[code])
    for unit in code.accepted_units
}


def lab_fast(code: str, value: float, unit: str, date: dt.date | None) -> LabResult | None:
    """The :class:`LabResult` that ``LabResult.of(code, value, unit, date=date)`` returns, for a
    code given as its exact short name or LOINC code, an exact UCUM unit the lab accepts and a
    plausible finite ``float`` value; ``None`` for anything else (the caller then takes
    :meth:`LabResult.of`, which says what is wrong). Checked against it by the tests."""
    plan = _LAB_PLANS.get((code, unit))
    if plan is None or value.__class__ is not float or not _isfinite(value) or value < 0:
        return None
    lab, lab_unit, divide, factor, low, high, whole = plan
    canonical = value / factor if divide else value * factor
    if not low <= canonical <= high:
        return None
    if lab is _PLT and 0 < canonical < PLT_MIN_NONZERO_10E9_PER_L:
        return None
    if whole and value < FRACTIONAL_PER_UL_LIMIT and value != int(value):
        return None
    # Every slot set directly: the object LabResult(lab, canonical, date, value, lab_unit)
    # makes, without its __post_init__ repeating the checks above.
    result = _new(LabResult)
    _SET_CODE(result, lab)
    _SET_VALUE(result, canonical)
    _SET_DATE(result, date)
    _SET_REPORTED_VALUE(result, value)
    _SET_REPORTED_UNIT(result, lab_unit)
    return result


_new = object.__new__
_isfinite = math.isfinite
_PLT = LabCode.PLT
_LAB_RESULT_FIELDS = ("code", "value", "date", "reported_value", "reported_unit")
if tuple(f.name for f in dataclasses.fields(LabResult)) != _LAB_RESULT_FIELDS:
    raise TypeError("LabResult's fields changed: update lab_fast")  # pragma: no cover
_SET_CODE, _SET_VALUE, _SET_DATE, _SET_REPORTED_VALUE, _SET_REPORTED_UNIT = (
    getattr(LabResult, name).__set__ for name in _LAB_RESULT_FIELDS
)
