"""Dose calculation: body surface area, mg/m² / mg/kg / flat doses, rounding, ceilings, preparation.

Pure functions over domain objects. Every ordered dose records its calculated value and the
formula used (:class:`cllcds.domain.Dose`).

Formulas
--------
Body surface area (m², height in cm, weight in kg):

* Mosteller (default): ``sqrt(h · w / 3600)``  — Mosteller RD, N Engl J Med 1987;317:1098.
* DuBois: ``0.007184 · h^0.725 · w^0.425``       — DuBois D, DuBois EF, Arch Intern Med 1916;17:863.
* Haycock: ``0.024265 · h^0.3964 · w^0.5378``    — Haycock GB et al, J Pediatr 1978;93:62.

These three publications are not in the shared reference register; the formulas are checked
against independent computation in ``tests/plans/test_dosing.py``.

Ceilings
--------
:data:`ALEMTUZUMAB_MAX_SINGLE_DOSE_MG` (30 mg) and :data:`ALEMTUZUMAB_MAX_WEEKLY_MG` (90 mg in
any 7 days), from the US label (L1, L4, L6; 2001 insert L7). They are defined once, in
:mod:`cllcds.domain`, because the value objects enforce them; this module re-exports them.

Examples
--------
>>> round(bsa_m2(170, 70), 4)
1.8181
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from cllcds.domain import (
    ALEMTUZUMAB_MAX_SINGLE_DOSE_MG,
    ALEMTUZUMAB_MAX_WEEKLY_MG,
    ALEMTUZUMAB_WINDOW_DAYS,
    CEILING_CITATION,
    Administration,
    AdministrationRoute,
    AlemtuzumabProduct,
    BodyMeasures,
    BsaFormula,
    Citation,
    Dose,
    DoseBasis,
    DoseSpec,
    Drug,
    InputError,
    Preparation,
    RoundingMode,
    RoundingPolicy,
    check_single_dose,
    check_weekly_dose,
)

__all__ = [
    "ALEMTUZUMAB_MAX_SINGLE_DOSE_MG",
    "ALEMTUZUMAB_MAX_WEEKLY_MG",
    "ALEMTUZUMAB_WINDOW_DAYS",
    "BSA_CITATIONS",
    "CEILING_CITATION",
    "alemtuzumab_preparation",
    "bsa_m2",
    "calculate_dose",
    "check_ceilings",
    "round_dose",
]

BSA_CITATIONS: Mapping[BsaFormula, Citation] = {
    BsaFormula.MOSTELLER: Citation(
        source="Mosteller 1987",
        locator="N Engl J Med 1987;317:1098",
        note="BSA (m2) = sqrt(height_cm × weight_kg / 3600). Not in the reference register.",
    ),
    BsaFormula.DUBOIS: Citation(
        source="DuBois 1916",
        locator="Arch Intern Med 1916;17:863",
        note="BSA (m2) = 0.007184 × height_cm^0.725 × weight_kg^0.425. Not in the register.",
    ),
    BsaFormula.HAYCOCK: Citation(
        source="Haycock 1978",
        locator="J Pediatr 1978;93:62",
        note="BSA (m2) = 0.024265 × height_cm^0.3964 × weight_kg^0.5378. Not in the register.",
    ),
}
"""The publication of each BSA formula."""

_FORMULA_NAMES = {
    BsaFormula.MOSTELLER: "Mosteller",
    BsaFormula.DUBOIS: "DuBois",
    BsaFormula.HAYCOCK: "Haycock",
}


def bsa_m2(height_cm: float, weight_kg: float, formula: BsaFormula = BsaFormula.MOSTELLER) -> float:
    """Body surface area in m², unrounded.

    Parameters
    ----------
    height_cm, weight_kg
        Checked for plausibility by :class:`cllcds.domain.BodyMeasures`.
    formula
        Mosteller (default), DuBois or Haycock (see the module docstring for the formulas and
        their publications).

    Examples
    --------
    >>> round(bsa_m2(170, 70, BsaFormula.DUBOIS), 4)
    1.8097
    """
    body = BodyMeasures(height_cm, weight_kg)
    h, w = body.height_cm, body.weight_kg
    if formula is BsaFormula.MOSTELLER:
        return math.sqrt(h * w / 3600.0)
    if formula is BsaFormula.DUBOIS:
        return float(0.007184 * h**0.725 * w**0.425)
    return float(0.024265 * h**0.3964 * w**0.5378)


def round_dose(calculated_mg: float, increment_mg: float, mode: RoundingMode) -> float:
    """Round a calculated dose to a multiple of ``increment_mg`` (half-up for ``nearest``).

    Examples
    --------
    >>> round_dose(45.45, 1, RoundingMode.NEAREST), round_dose(45.5, 1, RoundingMode.NEAREST)
    (45.0, 46.0)
    >>> round_dose(73.0, 10, RoundingMode.DOWN), round_dose(71.0, 10, RoundingMode.UP)
    (70.0, 80.0)
    """
    steps = calculated_mg / increment_mg
    # A tolerance so that 45.0000000001 / 1 does not round up when mode is UP.
    if mode is RoundingMode.NEAREST:
        k = math.floor(steps + 0.5 + 1e-9)
    elif mode is RoundingMode.DOWN:
        k = math.floor(steps + 1e-9)
    else:
        k = math.ceil(steps - 1e-9)
    return float(round(k * increment_mg, 6))


def _fmt(x: float, places: int = 2) -> str:
    return f"{x:.{places}f}".rstrip("0").rstrip(".")


def calculate_dose(
    drug: Drug,
    spec: DoseSpec,
    route: AdministrationRoute,
    body: BodyMeasures,
    bsa: float,
    *,
    formula: BsaFormula = BsaFormula.MOSTELLER,
    bsa_capped_from: float | None = None,
    rounding: RoundingPolicy | None = None,
) -> Dose:
    """The dose of ``drug`` for one patient: calculated, rounded, checked against the ceilings.

    Parameters
    ----------
    spec
        The regimen's dose (amount per m², per kg, or flat).
    bsa
        The BSA to use (already capped, if a cap applies); ``bsa_capped_from`` is the uncapped
        value, shown in the formula.
    rounding
        Applies to mg/m² and mg/kg doses only; a flat dose is ordered as written.

    Raises
    ------
    InputError
        When rounding moves the dose more than the policy's ``max_deviation_pct`` or to zero.
    CeilingError
        When an alemtuzumab dose exceeds 30 mg.

    Examples
    --------
    >>> body = BodyMeasures(170, 70)
    >>> d = calculate_dose(Drug.FLUDARABINE, DoseSpec(25, DoseBasis.MG_PER_M2),
    ...                    AdministrationRoute.IV, body, bsa_m2(170, 70))
    >>> d.calculated_mg, d.ordered_mg
    (45.45, 45.0)
    """
    policy = rounding if rounding is not None else RoundingPolicy()
    unit = spec.basis.value
    if spec.basis is DoseBasis.FLAT:
        check_single_dose(drug, spec.amount, f"{drug.value} dose")
        return Dose(
            drug=drug,
            basis=spec.basis,
            amount=spec.amount,
            calculated_mg=spec.amount,
            ordered_mg=spec.amount,
            formula=f"flat dose {_fmt(spec.amount)} mg",
        )
    if spec.basis is DoseBasis.MG_PER_M2:
        factor, factor_text = bsa, f"{_fmt(bsa, 3)} m2 ({_FORMULA_NAMES[formula]}"
        if bsa_capped_from is not None and bsa_capped_from > bsa:
            factor_text += f", capped from {_fmt(bsa_capped_from, 3)} m2"
        factor_text += ")"
    else:
        factor, factor_text = body.weight_kg, f"{_fmt(body.weight_kg, 1)} kg"
    calculated = round(spec.amount * factor, 2)
    oral = route.is_oral
    increment = policy.oral_increment_mg if oral else policy.increment_mg
    ordered = round_dose(calculated, increment, policy.mode)
    where = f"{drug.value} dose"
    if ordered <= 0:
        raise InputError(
            where,
            f"{_fmt(calculated)} mg",
            f"rounding to {policy.describe(oral)} gives 0 mg; use a smaller increment",
        )
    deviation = abs(ordered - calculated) / calculated * 100.0
    if deviation > policy.max_deviation_pct + 1e-9:
        raise InputError(
            where,
            f"{_fmt(calculated)} mg",
            f"rounding to {policy.describe(oral)} gives {_fmt(ordered)} mg, "
            f"{deviation:.1f}% away (limit {policy.max_deviation_pct:g}%); use a smaller increment",
        )
    check_single_dose(drug, ordered, where)
    formula_text = (
        f"{_fmt(spec.amount)} {unit} × {factor_text} = {_fmt(calculated)} mg; "
        f"{policy.describe(oral)} → {_fmt(ordered)} mg"
    )
    return Dose(
        drug=drug,
        basis=spec.basis,
        amount=spec.amount,
        calculated_mg=calculated,
        ordered_mg=ordered,
        formula=formula_text,
        bsa_m2=bsa if spec.basis is DoseBasis.MG_PER_M2 else None,
        weight_kg=body.weight_kg if spec.basis is DoseBasis.MG_PER_KG else None,
    )


def check_ceilings(administrations: Iterable[Administration]) -> None:
    """Refuse administrations that pass an alemtuzumab ceiling (30 mg a dose, 90 mg in 7 days).

    Raises
    ------
    CeilingError
        Naming the dose or the 7-day window, its total and the label's limit.
    """
    adm = [a for a in administrations if a.drug is Drug.ALEMTUZUMAB]
    for a in adm:
        check_single_dose(a.drug, a.dose_mg, f"alemtuzumab dose on {a.date.isoformat()}")
    check_weekly_dose((a.date, a.dose_mg) for a in adm)


def alemtuzumab_preparation(
    dose_mg: float, route: AdministrationRoute, product: AlemtuzumabProduct
) -> Preparation:
    """How to prepare one alemtuzumab dose: volume drawn from the vial, diluent, administration.

    Examples
    --------
    ``30 mg`` from the 30 mg/mL vial is ``1.0 mL``; ``3 mg`` is ``0.1 mL``.
    """
    check_single_dose(Drug.ALEMTUZUMAB, dose_mg)
    volume = round(dose_mg / product.concentration_mg_per_ml, 3)
    rp = product.for_route(route)
    if rp is None:
        raise InputError("alemtuzumab route", route.value, "no preparation is known for this route")
    return Preparation(
        product=product.product,
        volume_ml=volume,
        diluent=rp.diluent,
        administration=rp.administration,
        citation=rp.citation,
    )
