"""Lab codes, units and plausibility (the inputs the grading and response rules stand on).

LOINC codes: shared/reference/standards.md §2 (each marked "verified" there). Units: UCUM, as
shared/reference/course-document.md lists them. Hb mmol/L uses the monomer convention,
1 mmol/L = 1.6114 g/dL.
"""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest

from cllcds.domain import (
    HB_G_PER_DL_PER_MMOL_L,
    Assessment,
    Citation,
    Decision,
    DecisionStatus,
    InputError,
    LabCode,
    LabResult,
    LabUnit,
    LymphNode,
    Marrow,
    ResponseCriteria,
    ToxicityScale,
    to_canonical,
)


@pytest.mark.parametrize(
    ("code", "loinc"),
    [
        pytest.param(LabCode.WBC, "6690-2", id="WBC 6690-2 (standards.md: verified, cibmtr IG)"),
        pytest.param(LabCode.ANC, "751-8", id="ANC 751-8 (verified, glow-mdsol)"),
        pytest.param(LabCode.ALC, "731-0", id="ALC 731-0 (verified, glow-mdsol)"),
        pytest.param(LabCode.PLT, "777-3", id="PLT 777-3 (verified, cibmtr IG)"),
        pytest.param(LabCode.HGB, "718-7", id="HGB 718-7 (verified, cibmtr IG)"),
        pytest.param(LabCode.CD4, "24467-3", id="CD4 24467-3 (verified, loinc.org/65759-3)"),
    ],
)
def test_primary_loinc_codes(code: LabCode, loinc: str) -> None:
    assert code.loinc == loinc
    assert LabCode.parse(loinc) is code
    assert LabCode.parse(code.value.lower()) is code


def test_verified_method_unspecified_codes_are_accepted_and_unverified_ones_are_not() -> None:
    assert LabCode.parse("26499-4") is LabCode.ANC
    assert LabCode.parse("26474-7") is LabCode.ALC
    assert LabCode.parse("26515-7") is LabCode.PLT
    with pytest.raises(InputError, match="6690-2"):
        LabCode.parse("26464-8")  # WBC, method unspecified: UNVERIFIED in standards.md


@pytest.mark.parametrize(
    ("code", "value", "unit", "canonical"),
    [
        ("PLT", 150000, "/uL", 150.0),
        ("PLT", 150000, "/mm3", 150.0),
        ("PLT", 150, "10*3/uL", 150.0),
        ("ANC", 1500, "{cells}/uL", 1.5),
        ("CD4", 0.35, "10*9/L", 350.0),
        ("CD4", 350, "10*6/L", 350.0),
        ("HGB", 104, "g/L", 10.4),
        ("HGB", 10.0, "g/dL", 10.0),
    ],
)
def test_values_are_converted_once_to_the_canonical_unit(
    code: str, value: float, unit: str, canonical: float
) -> None:
    result = LabResult.of(code, value, unit, date=dt.date(2007, 1, 5))
    assert result.value == pytest.approx(canonical, rel=1e-12)
    assert result.reported_value == value
    assert result.reported_unit is LabUnit(unit)
    assert result.unit is result.code.canonical_unit


def test_hb_mmol_per_l_uses_the_monomer_factor() -> None:
    """1 mmol/L Hb (monomer, 16 114 g/mol) = 1.6114 g/dL; CTCAE prints 10.0 g/dL as 6.2 mmol/L."""
    assert HB_G_PER_DL_PER_MMOL_L == 1.6114
    assert LabResult.of("HGB", 6.2, "mmol/L").value == pytest.approx(9.99, abs=0.01)
    assert LabResult.of("HGB", 8.0, "g/dL").in_unit("mmol/L") == pytest.approx(4.96, abs=0.01)


def test_threshold_and_result_in_the_same_unit_convert_identically() -> None:
    """Counts per µL are divided by 1000 (never multiplied by 0.001), so 1500/µL is exactly
    1.5 × 10^9/L and a result on a boundary stays on it."""
    assert to_canonical(LabCode.ANC, 1500, LabUnit.PER_UL) == 1.5
    assert LabResult.of("ANC", 1500, "/uL").value == 1.5


@pytest.mark.parametrize(
    ("code", "value", "unit", "fix"),
    [
        pytest.param("PLT", 150000, "10*9/L", "did you mean /uL", id="platelets 150000 in 10*9/L"),
        pytest.param("WBC", 85000, "10*9/L", "did you mean /uL", id="WBC 85000 in 10*9/L"),
        pytest.param("HGB", 110, "g/dL", "did you mean g/L", id="Hb 110 in g/dL"),
        pytest.param("HGB", 10.4, "g/L", "did you mean g/dL", id="Hb 10.4 in g/L"),
        pytest.param("ANC", 2.1, "/uL", r"did you mean 10\*9/L", id="ANC 2.1 per µL"),
        pytest.param("PLT", 98, "/uL", r"did you mean 10\*9/L", id="platelets 98 per µL"),
        pytest.param("ANC", -1, "10*9/L", "cannot be negative", id="negative"),
        pytest.param("HGB", 5, "10*9/L", "HGB takes one of", id="Hb in a count unit"),
        pytest.param("ANC", float("nan"), "10*9/L", "finite", id="NaN"),
    ],
)
def test_implausible_values_are_refused_with_the_likely_fix(
    code: str, value: float, unit: str, fix: str
) -> None:
    with pytest.raises(InputError, match=fix) as info:
        LabResult.of(code, value, unit, field="events[3].value")
    assert info.value.field == "events[3].value"


def test_unknown_unit_lists_the_ucum_units() -> None:
    with pytest.raises(InputError, match="10\\*9/L"):
        LabResult.of("ANC", 1.0, "x10^9/L")


def test_direct_construction_takes_the_canonical_unit_and_checks_it() -> None:
    assert LabResult(LabCode.ANC, 1.5).unit is LabUnit.PER_10E9_L
    with pytest.raises(InputError):
        LabResult(LabCode.PLT, 150000)


def test_lymph_node_product_and_axis_order() -> None:
    assert LymphNode(35, 22).product_mm2 == 770
    with pytest.raises(InputError, match="swap"):
        LymphNode(20, 30)
    with pytest.raises(InputError):
        LymphNode(0, 0)


def test_assessment_takes_lab_results_and_none_means_not_assessed() -> None:
    a = Assessment(dt.date(2007, 2, 26), nodes=[LymphNode(12, 8)], marrow=Marrow(20, False))
    assert a.nodes == (LymphNode(12, 8),)
    assert a.spd_mm2 == 96
    assert Assessment(dt.date(2007, 2, 26)).spd_mm2 is None
    labs = [
        LabResult.of("PLT", 120000, "/uL"),
        LabResult.of("HGB", 115, "g/L"),
        LabResult.of("WBC", 5.0, "10*9/L"),  # not a response input: ignored
    ]
    b = a.with_labs(labs)
    assert b.plt_10e9_per_l == 120.0
    assert b.hgb_g_per_dl == pytest.approx(11.5)
    with pytest.raises(InputError, match="one result per lab"):
        a.with_labs([LabResult.of("PLT", 100, "10*9/L"), LabResult.of("PLT", 90, "10*9/L")])
    with pytest.raises(InputError, match="did you mean"):
        Assessment(dt.date(2007, 2, 26), plt_10e9_per_l=150000)
    with pytest.raises(InputError, match="costal margin"):
        Assessment(dt.date(2007, 2, 26), spleen_cm=-1)


def test_rule_set_enums_name_standard_and_version() -> None:
    assert ToxicityScale.parse("ctcae-5") is ToxicityScale.CTCAE_5
    assert ResponseCriteria.parse("iwcll-2008-pmc") is ResponseCriteria.IWCLL_2008_PMC
    with pytest.raises(InputError, match="nci-wg-1996"):
        ResponseCriteria.parse("nci-1996")


def test_decision_is_frozen_and_validated() -> None:
    d = Decision(
        rule="r",
        outcome=1,
        status=DecisionStatus.DECIDED,
        rationale="One sentence.",
        citation=Citation("C1", "CTCAE v5.0"),
        inputs_used={"a": 1},
    )
    assert isinstance(d.inputs_used, MappingProxyType)
    assert d.decided
    with pytest.raises(InputError):
        Decision("", 1, DecisionStatus.DECIDED, "x", Citation("C1", "x"))


def test_creatinine_units_and_loinc():
    """Creatinine: LOINC 2160-0 (mass/volume, mg/dL) and 14682-9 (µmol/L); 1 mg/dL = 88.42
    µmol/L. Creatinine is used for the clearance and is not graded."""
    from cllcds.domain import CREATININE_UMOL_PER_MG_DL

    assert LabCode.parse("2160-0") is LabCode.CREAT
    assert LabCode.parse("14682-9") is LabCode.CREAT
    assert LabResult.of("CREAT", 88.42, "umol/L").value == pytest.approx(1.0)
    assert CREATININE_UMOL_PER_MG_DL == 88.42
    assert not LabCode.CREAT.graded
    with pytest.raises(InputError) as exc:
        LabResult.of("CREAT", 1.1, "10*9/L")
    assert "mg/dL" in exc.value.fix
