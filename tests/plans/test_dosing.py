"""Dose calculation: mg/m², mg/kg and flat doses, rounding, BSA cap, preparation."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from cllcds import knowledge
from cllcds.domain import (
    AdministrationRoute,
    BodyMeasures,
    BsaFormula,
    CeilingError,
    DoseBasis,
    DoseSpec,
    Drug,
    InputError,
    PlanOptions,
    RoundingMode,
    RoundingPolicy,
)
from cllcds.rules.dosing import alemtuzumab_preparation, bsa_m2, calculate_dose, round_dose

from .conftest import make

BODY = BodyMeasures(170, 70)
BSA = math.sqrt(170 * 70 / 3600)  # Mosteller, 1.8181 m²


def test_mg_per_m2_records_calculated_ordered_and_formula() -> None:
    """FluCam fludarabine 30 mg/m2 (review, Elter 2005): 30 × 1.8181 = 54.54 mg → 55 mg."""
    d = calculate_dose(
        Drug.FLUDARABINE, DoseSpec(30, DoseBasis.MG_PER_M2), AdministrationRoute.IV, BODY, BSA
    )
    assert d.calculated_mg == pytest.approx(30 * BSA, abs=0.005)
    assert d.ordered_mg == 55.0
    assert d.formula == "30 mg/m2 × 1.818 m2 (Mosteller) = 54.54 mg; nearest 1 mg → 55 mg"
    assert d.basis is DoseBasis.MG_PER_M2
    assert d.bsa_m2 == pytest.approx(BSA)


def test_mg_per_kg_uses_weight() -> None:
    """5 mg/kg × 70 kg = 350 mg (a weight-based dose, e.g. ganciclovir's 5 mg/kg in D2)."""
    d = calculate_dose(
        Drug.RITUXIMAB, DoseSpec(5, DoseBasis.MG_PER_KG), AdministrationRoute.IV, BODY, BSA
    )
    assert (d.calculated_mg, d.ordered_mg, d.weight_kg) == (350.0, 350.0, 70.0)
    assert d.formula.startswith("5 mg/kg × 70 kg = 350 mg")


def test_flat_dose_is_never_rounded() -> None:
    d = calculate_dose(
        Drug.ALEMTUZUMAB,
        DoseSpec(3, DoseBasis.FLAT),
        AdministrationRoute.IV,
        BODY,
        BSA,
        rounding=RoundingPolicy(increment_mg=10),
    )
    assert (d.calculated_mg, d.ordered_mg, d.formula) == (3.0, 3.0, "flat dose 3 mg")


@pytest.mark.parametrize(
    ("mg", "inc", "mode", "expected"),
    [
        (45.45, 1, RoundingMode.NEAREST, 45.0),
        (45.5, 1, RoundingMode.NEAREST, 46.0),
        (454.53, 5, RoundingMode.NEAREST, 455.0),
        (72.72, 10, RoundingMode.NEAREST, 70.0),
        (72.72, 10, RoundingMode.UP, 80.0),
        (79.99, 10, RoundingMode.DOWN, 70.0),
        (80.0, 10, RoundingMode.UP, 80.0),
        (682.0, 0.5, RoundingMode.NEAREST, 682.0),
    ],
)
def test_round_dose(mg: float, inc: float, mode: RoundingMode, expected: float) -> None:
    assert round_dose(mg, inc, mode) == expected


def test_oral_doses_use_the_oral_increment() -> None:
    """FCC fludarabine 40 mg/m2 PO: 72.72 mg → 70 mg with 10 mg tablets (3.7 % away)."""
    policy = RoundingPolicy(increment_mg=1, oral_increment_mg=10)
    oral = calculate_dose(
        Drug.FLUDARABINE, DoseSpec(40, DoseBasis.MG_PER_M2), AdministrationRoute.PO, BODY, BSA,
        rounding=policy,
    )  # fmt: skip
    iv = calculate_dose(
        Drug.FLUDARABINE, DoseSpec(40, DoseBasis.MG_PER_M2), AdministrationRoute.IV, BODY, BSA,
        rounding=policy,
    )  # fmt: skip
    assert (oral.ordered_mg, iv.ordered_mg) == (70.0, 73.0)
    assert "nearest 10 mg → 70 mg" in oral.formula


def test_rounding_too_far_is_refused() -> None:
    """Rounding 54.54 mg to 10 mg steps gives 50 mg, 8.3 % away: above the 5 % limit."""
    with pytest.raises(InputError) as exc:
        calculate_dose(
            Drug.FLUDARABINE, DoseSpec(30, DoseBasis.MG_PER_M2), AdministrationRoute.IV, BODY,
            BSA, rounding=RoundingPolicy(increment_mg=10),
        )  # fmt: skip
    assert "8.3%" in exc.value.fix
    assert "smaller increment" in exc.value.fix


def test_bsa_cap_applies_to_mg_per_m2_doses() -> None:
    """A 190 cm, 120 kg patient (Mosteller sqrt(22800 / 3600) = 2.517 m²) with a 2.0 m² cap:
    rituximab 375 mg/m2 → 750 mg, not 944 mg; the formula shows the cap."""
    big = BodyMeasures(190, 120)
    p = make("cfar", body=big, options=PlanOptions(bsa_cap_m2=2.0))
    ritux = [a for a in p.administrations if a.drug is Drug.RITUXIMAB]
    assert {a.dose_mg for a in ritux} == {750.0}
    assert "capped from 2.517 m2" in ritux[0].dose.formula
    assert p.bsa_m2 == 2.0
    assert p.bsa_uncapped_m2 == pytest.approx(bsa_m2(190, 120))
    uncapped = make("cfar", body=big)
    assert {a.dose_mg for a in uncapped.administrations if a.drug is Drug.RITUXIMAB} == {944.0}


def test_bsa_formula_choice_reaches_the_doses() -> None:
    p = make("flucam", options=PlanOptions(bsa_formula=BsaFormula.DUBOIS))
    flu = next(a for a in p.administrations if a.drug is Drug.FLUDARABINE)
    assert flu.dose.calculated_mg == pytest.approx(
        30 * bsa_m2(170, 70, BsaFormula.DUBOIS), abs=0.005
    )
    assert "(DuBois)" in flu.dose.formula


def test_alemtuzumab_dose_above_30_mg_cannot_be_calculated() -> None:
    with pytest.raises(CeilingError):
        calculate_dose(
            Drug.ALEMTUZUMAB, DoseSpec(40, DoseBasis.FLAT), AdministrationRoute.IV, BODY, BSA
        )


def test_preparation_volume_from_the_30_mg_per_ml_vial() -> None:
    """Volume = dose / 30 mg/mL; IV doses go into 100 mL and run over 2 hours (L1)."""
    product = knowledge.alemtuzumab_product()
    assert product.concentration_mg_per_ml == 30
    for mg, ml in ((3, 0.1), (10, 0.333), (15, 0.5), (20, 0.667), (30, 1.0)):
        prep = alemtuzumab_preparation(mg, AdministrationRoute.IV, product)
        assert prep.volume_ml == ml
    iv = alemtuzumab_preparation(30, AdministrationRoute.IV, product)
    assert "100 mL" in iv.diluent
    assert "2 hours" in iv.administration
    assert "push" in iv.administration
    civ = alemtuzumab_preparation(15, AdministrationRoute.CIV, product)
    assert "24 hours" in civ.administration
    with pytest.raises(CeilingError):
        alemtuzumab_preparation(31, AdministrationRoute.SC, product)


def test_every_alemtuzumab_administration_has_its_preparation() -> None:
    for rid in knowledge.regimens():
        for a in make(rid).administrations:
            if a.drug is Drug.ALEMTUZUMAB:
                assert a.preparation is not None
                assert a.preparation.volume_ml == round(a.dose_mg / 30, 3)
            else:
                assert a.preparation is None


def test_rounding_policy_and_measures_refuse_nonsense() -> None:
    with pytest.raises(InputError):
        RoundingPolicy(increment_mg=0)
    with pytest.raises(InputError):
        RoundingPolicy(max_deviation_pct=50)
    with pytest.raises(InputError):
        replace(BODY, weight_kg=float("nan"))
