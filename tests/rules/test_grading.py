"""Toxicity grading, row by row at every band boundary, both sides of each boundary.

Each parametrised row quotes the table it tests in its id:

* CTCAE v5.0 (C1, oncohub/CTCAE5 ctcaev5.js @ b5abf4e8; ANC cross-checked with C2),
  shared/reference/clinical-rules.md §4.1;
* iwCLL 2008 Table 5 (G4, PMC2972576 table T5), clinical-rules.md §3.7.

Counts are given in /uL (= /mm³) where the table prints /mm³, so the boundary values are exactly
the printed ones; a few rows repeat a boundary in 10*9/L, g/L or mmol/L to test the conversion.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cllcds.domain import (
    DecisionStatus,
    Grade,
    InputError,
    LabCode,
    LabResult,
    ToxicityScale,
)
from cllcds.knowledge import GradingMode, grading_table, lln_defaults
from cllcds.rules.grading import (
    NotEvaluable,
    grade,
    grade_cmv_reactivation,
    grade_febrile_neutropenia,
    grade_fever,
    grade_infusion_reaction,
)

CTCAE = ToxicityScale.CTCAE_5
IWCLL = ToxicityScale.IWCLL_2008_HAEM


def lab(code: str, value: float, unit: str) -> LabResult:
    return LabResult.of(code, value, unit)


# --------------------------------------------------------------------------------------------
# CTCAE v5.0: (lab, value, unit, LLN in the same unit, expected grade), id quotes the band.
# --------------------------------------------------------------------------------------------

CTCAE_ROWS: list[Any] = [
    # Neutrophil count decreased: G1 <LLN-1500/mm3; G2 <1500-1000; G3 <1000-500; G4 <500
    pytest.param("ANC", 2000, "/uL", 2000, 0, id="CTCAE v5 ANC: G0 at LLN 2000/mm3"),
    pytest.param("ANC", 1999, "/uL", 2000, 1, id="CTCAE v5 ANC: G1 <LLN-1500/mm3 (just below LLN)"),
    pytest.param("ANC", 1500, "/uL", 2000, 1, id="CTCAE v5 ANC: G1 <LLN-1500/mm3 (1500 is G1)"),
    pytest.param("ANC", 1499, "/uL", 2000, 2, id="CTCAE v5 ANC: G2 <1500-1000/mm3 (1499)"),
    pytest.param("ANC", 1000, "/uL", 2000, 2, id="CTCAE v5 ANC: G2 <1500-1000/mm3 (1000 is G2)"),
    pytest.param("ANC", 999, "/uL", 2000, 3, id="CTCAE v5 ANC: G3 <1000-500/mm3 (999)"),
    pytest.param("ANC", 500, "/uL", 2000, 3, id="CTCAE v5 ANC: G3 <1000-500/mm3 (500 is G3)"),
    pytest.param("ANC", 499, "/uL", 2000, 4, id="CTCAE v5 ANC: G4 <500/mm3 (499)"),
    pytest.param("ANC", 0, "/uL", 2000, 4, id="CTCAE v5 ANC: G4 <500/mm3 (0)"),
    pytest.param("ANC", 1.5, "10*9/L", 2.0, 1, id="CTCAE v5 ANC: G1 <LLN-1.5 x 10e9/L (1.5)"),
    pytest.param("ANC", 0.5, "10*9/L", 2.0, 3, id="CTCAE v5 ANC: G3 <1.0-0.5 x 10e9/L (0.5)"),
    # Platelet count decreased: G1 <LLN-75,000; G2 <75,000-50,000; G3 <50,000-25,000; G4 <25,000
    pytest.param("PLT", 150000, "/uL", 150000, 0, id="CTCAE v5 PLT: G0 at LLN 150,000/mm3"),
    pytest.param("PLT", 149999, "/uL", 150000, 1, id="CTCAE v5 PLT: G1 <LLN-75,000/mm3 (149,999)"),
    pytest.param("PLT", 75000, "/uL", 150000, 1, id="CTCAE v5 PLT: G1 <LLN-75,000/mm3 (75,000)"),
    pytest.param("PLT", 74999, "/uL", 150000, 2, id="CTCAE v5 PLT: G2 <75,000-50,000/mm3 (74,999)"),
    pytest.param("PLT", 50000, "/uL", 150000, 2, id="CTCAE v5 PLT: G2 <75,000-50,000/mm3 (50,000)"),
    pytest.param("PLT", 49999, "/uL", 150000, 3, id="CTCAE v5 PLT: G3 <50,000-25,000/mm3 (49,999)"),
    pytest.param("PLT", 25000, "/uL", 150000, 3, id="CTCAE v5 PLT: G3 <50,000-25,000/mm3 (25,000)"),
    pytest.param("PLT", 24999, "/uL", 150000, 4, id="CTCAE v5 PLT: G4 <25,000/mm3 (24,999)"),
    pytest.param("PLT", 25, "10*9/L", 150, 3, id="CTCAE v5 PLT: G3 <50.0-25.0 x 10e9/L (25.0)"),
    # Anemia: G1 Hgb <LLN-10.0 g/dL; G2 <10.0-8.0 g/dL; G3 <8.0 g/dL
    pytest.param("HGB", 12.0, "g/dL", 12.0, 0, id="CTCAE v5 Anemia: G0 at LLN 12.0 g/dL"),
    pytest.param("HGB", 11.9, "g/dL", 12.0, 1, id="CTCAE v5 Anemia: G1 Hgb <LLN-10.0 g/dL (11.9)"),
    pytest.param("HGB", 10.0, "g/dL", 12.0, 1, id="CTCAE v5 Anemia: G1 Hgb <LLN-10.0 g/dL (10.0)"),
    pytest.param("HGB", 9.9, "g/dL", 12.0, 2, id="CTCAE v5 Anemia: G2 Hgb <10.0-8.0 g/dL (9.9)"),
    pytest.param("HGB", 8.0, "g/dL", 12.0, 2, id="CTCAE v5 Anemia: G2 Hgb <10.0-8.0 g/dL (8.0)"),
    pytest.param("HGB", 7.9, "g/dL", 12.0, 3, id="CTCAE v5 Anemia: G3 Hgb <8.0 g/dL (7.9)"),
    pytest.param("HGB", 100, "g/L", 120, 1, id="CTCAE v5 Anemia: G1 <LLN-100 g/L (100 g/L)"),
    pytest.param("HGB", 99, "g/L", 120, 2, id="CTCAE v5 Anemia: G2 <100-80 g/L (99 g/L)"),
    # CTCAE prints its own SI cut-offs ("<6.2 - 4.9 mmol/L" grade 2, "<4.9 mmol/L" grade 3):
    # a result in mmol/L is graded on them, not on 10.0 / 8.0 g/dL converted (issue 10).
    pytest.param("HGB", 4.9, "mmol/L", 12.0, 2, id="CTCAE v5 Anemia: G2 '<6.2 - 4.9 mmol/L' (4.9)"),
    pytest.param("HGB", 4.89, "mmol/L", 12.0, 3, id="CTCAE v5 Anemia: G3 '<4.9 mmol/L' (4.89)"),
    pytest.param("HGB", 6.2, "mmol/L", 12.0, 1, id="CTCAE v5 Anemia: G1 '<LLN - 6.2 mmol/L' (6.2)"),
    pytest.param("HGB", 6.19, "mmol/L", 12.0, 2, id="CTCAE v5 Anemia: G2 '<6.2 mmol/L' (6.19)"),
    # Lymphocyte count decreased: G1 <LLN-800; G2 <800-500; G3 <500-200; G4 <200 /mm3
    pytest.param("ALC", 1000, "/uL", 1000, 0, id="CTCAE v5 ALC: G0 at LLN 1000/mm3"),
    pytest.param("ALC", 999, "/uL", 1000, 1, id="CTCAE v5 ALC: G1 <LLN-800/mm3 (999)"),
    pytest.param("ALC", 800, "/uL", 1000, 1, id="CTCAE v5 ALC: G1 <LLN-800/mm3 (800)"),
    pytest.param("ALC", 799, "/uL", 1000, 2, id="CTCAE v5 ALC: G2 <800-500/mm3 (799)"),
    pytest.param("ALC", 500, "/uL", 1000, 2, id="CTCAE v5 ALC: G2 <800-500/mm3 (500)"),
    pytest.param("ALC", 499, "/uL", 1000, 3, id="CTCAE v5 ALC: G3 <500-200/mm3 (499)"),
    pytest.param("ALC", 200, "/uL", 1000, 3, id="CTCAE v5 ALC: G3 <500-200/mm3 (200)"),
    pytest.param("ALC", 199, "/uL", 1000, 4, id="CTCAE v5 ALC: G4 <200/mm3 (199)"),
    # White blood cell decreased: G1 <LLN-3000; G2 <3000-2000; G3 <2000-1000; G4 <1000 /mm3
    pytest.param("WBC", 4000, "/uL", 4000, 0, id="CTCAE v5 WBC: G0 at LLN 4000/mm3"),
    pytest.param("WBC", 3999, "/uL", 4000, 1, id="CTCAE v5 WBC: G1 <LLN-3000/mm3 (3999)"),
    pytest.param("WBC", 3000, "/uL", 4000, 1, id="CTCAE v5 WBC: G1 <LLN-3000/mm3 (3000)"),
    pytest.param("WBC", 2999, "/uL", 4000, 2, id="CTCAE v5 WBC: G2 <3000-2000/mm3 (2999)"),
    pytest.param("WBC", 2000, "/uL", 4000, 2, id="CTCAE v5 WBC: G2 <3000-2000/mm3 (2000)"),
    pytest.param("WBC", 1999, "/uL", 4000, 3, id="CTCAE v5 WBC: G3 <2000-1000/mm3 (1999)"),
    pytest.param("WBC", 1000, "/uL", 4000, 3, id="CTCAE v5 WBC: G3 <2000-1000/mm3 (1000)"),
    pytest.param("WBC", 999, "/uL", 4000, 4, id="CTCAE v5 WBC: G4 <1000/mm3 (999)"),
    # CD4 lymphocytes decreased: G1 <LLN-500; G2 <500-200; G3 <200-50; G4 <50 /mm3
    pytest.param("CD4", 600, "/uL", 600, 0, id="CTCAE v5 CD4: G0 at LLN 600/mm3"),
    pytest.param("CD4", 599, "/uL", 600, 1, id="CTCAE v5 CD4: G1 <LLN-500/mm3 (599)"),
    pytest.param("CD4", 500, "/uL", 600, 1, id="CTCAE v5 CD4: G1 <LLN-500/mm3 (500)"),
    pytest.param("CD4", 499, "/uL", 600, 2, id="CTCAE v5 CD4: G2 <500-200/mm3 (499)"),
    pytest.param("CD4", 200, "/uL", 600, 2, id="CTCAE v5 CD4: G2 <500-200/mm3 (200)"),
    pytest.param("CD4", 199, "/uL", 600, 3, id="CTCAE v5 CD4: G3 <200-50/mm3 (199)"),
    pytest.param("CD4", 50, "/uL", 600, 3, id="CTCAE v5 CD4: G3 <200-50/mm3 (50)"),
    pytest.param("CD4", 49, "/uL", 600, 4, id="CTCAE v5 CD4: G4 <50/mm3 (49)"),
    pytest.param("CD4", 0.049, "10*9/L", 0.6, 4, id="CTCAE v5 CD4: G4 <0.05 x 10e9/L (0.049)"),
]


@pytest.mark.parametrize(("code", "value", "unit", "lln", "expected"), CTCAE_ROWS)
def test_ctcae_band_boundaries(
    code: str, value: float, unit: str, lln: float, expected: int
) -> None:
    result = grade(lab(code, value, unit), CTCAE, lln=lab(code, lln, unit))
    assert result.grade == expected
    assert result.status is DecisionStatus.DECIDED
    assert result.scale is CTCAE
    assert result.citation.source == "C1"
    assert result.citation.rule_set == "ctcae-5"
    assert "third-party transcription" in result.citation.note
    if expected == 0:
        assert result.band is None
    else:
        assert result.band is not None
        assert result.citation.quote == result.band.text


def test_ctcae_anc_citation_names_the_c2_cross_check() -> None:
    result = grade(lab("ANC", 700, "/uL"), CTCAE)
    assert "C2" in result.citation.note
    assert result.citation.quote.startswith("<1000 - 500/mm3")


def test_ctcae_uses_the_configurable_lln_default_and_records_it() -> None:
    """LLN is an institution-specific default, not a rule: it is recorded in the inputs."""
    defaults = lln_defaults()
    assert set(defaults) == {c for c in LabCode if c.graded}  # creatinine is not graded
    result = grade(lab("ANC", 1.9, "10*9/L"), CTCAE)
    assert result.decision.inputs_used["lln"] == defaults[LabCode.ANC].value
    assert result.grade == (1 if defaults[LabCode.ANC].value > 1.9 else 0)


def test_ctcae_cd4_default_lln_leaves_grade_1_empty() -> None:
    """With the default CD4 LLN of 500 cells/µL, '<LLN - 500/mm3' is empty: 500 is grade 0."""
    assert grade(lab("CD4", 500, "/uL"), CTCAE).grade == 0
    assert grade(lab("CD4", 499, "/uL"), CTCAE).grade == 2


def test_ctcae_anaemia_grade_4_is_clinical() -> None:
    """CTCAE Anemia G4 'Life-threatening consequences; urgent intervention indicated' is not set
    by the Hb value: the lab grade stops at 3 and the result says so."""
    result = grade(lab("HGB", 4.0, "g/dL"), CTCAE)
    assert result.grade == 3
    assert any("Life-threatening" in n for n in result.notes)


def test_ctcae_ignores_the_baseline() -> None:
    result = grade(lab("PLT", 60, "10*9/L"), CTCAE, baseline=lab("PLT", 300, "10*9/L"))
    assert result.grade == 2
    assert any("baseline was not used" in n for n in result.notes)


def test_baseline_or_lln_of_another_lab_is_refused() -> None:
    with pytest.raises(InputError, match="give a ANC value"):
        grade(lab("ANC", 1.0, "10*9/L"), CTCAE, lln=lab("PLT", 150, "10*9/L"))


def test_unknown_scale_lists_the_valid_ones() -> None:
    with pytest.raises(InputError, match="ctcae-5"):
        grade(lab("ANC", 1.0, "10*9/L"), "ctcae-3")


# --------------------------------------------------------------------------------------------
# iwCLL 2008 Table 5 (G4)
# --------------------------------------------------------------------------------------------

# Platelets: baseline 120 × 10^9/L, below the LLN of 150 so every fall is gradable.
# Hb: baseline 10.0 g/dL, below the LLN of 12.0.
IWCLL_RELATIVE_ROWS: list[Any] = [
    pytest.param("PLT", 120, 120, 0, id="iwCLL T5 PLT: G0 'No change to 10%' (0 %)"),
    pytest.param("PLT", 130, 120, 0, id="iwCLL T5 PLT: G0 'No change to 10%' (a rise)"),
    pytest.param("PLT", 108, 120, 0, id="iwCLL T5 PLT: G0 'No change to 10%' (10 %)"),
    pytest.param("PLT", 107.4, 120, 1, id="iwCLL T5 PLT: G1 '11%-24%' (10.5 %, read as >10)"),
    pytest.param("PLT", 106.8, 120, 1, id="iwCLL T5 PLT: G1 '11%-24%' (11 %)"),
    pytest.param("PLT", 90.6, 120, 1, id="iwCLL T5 PLT: G1 '11%-24%' (24.5 %, read as <25)"),
    pytest.param("PLT", 90, 120, 2, id="iwCLL T5 PLT: G2 '25%-49%' (25 %)"),
    pytest.param("PLT", 61.2, 120, 2, id="iwCLL T5 PLT: G2 '25%-49%' (49 %)"),
    pytest.param("PLT", 60, 120, 3, id="iwCLL T5 PLT: G3 '50%-74%' (50 %)"),
    pytest.param("PLT", 31.2, 120, 3, id="iwCLL T5 PLT: G3 '50%-74%' (74 %)"),
    pytest.param("PLT", 30, 120, 4, id="iwCLL T5 PLT: G4 '≥ 75%' (75 %)"),
    pytest.param("HGB", 9.0, 10.0, 0, id="iwCLL T5 Hb: G0 'No change to 10%' (10 %)"),
    pytest.param("HGB", 8.9, 10.0, 1, id="iwCLL T5 Hb: G1 '11%-24%' (11 %)"),
    pytest.param("HGB", 7.6, 10.0, 1, id="iwCLL T5 Hb: G1 '11%-24%' (24 %)"),
    pytest.param("HGB", 7.5, 10.0, 2, id="iwCLL T5 Hb: G2 '25%-49%' (25 %)"),
    pytest.param("HGB", 5.1, 10.0, 2, id="iwCLL T5 Hb: G2 '25%-49%' (49 %)"),
    pytest.param("HGB", 5.0, 10.0, 3, id="iwCLL T5 Hb: G3 '50%-74%' (50 %)"),
    pytest.param("HGB", 2.6, 10.0, 3, id="iwCLL T5 Hb: G3 '50%-74%' (74 %)"),
    pytest.param("HGB", 2.5, 10.0, 4, id="iwCLL T5 Hb: G4 '≥ 75%' (75 %)"),
]

RELATIVE_UNITS = {"PLT": ("10*9/L", 150), "HGB": ("g/dL", 12.0)}


@pytest.mark.parametrize(("code", "value", "baseline", "expected"), IWCLL_RELATIVE_ROWS)
def test_iwcll_relative_fall_bands(code: str, value: float, baseline: float, expected: int) -> None:
    unit, lln = RELATIVE_UNITS[code]
    result = grade(
        lab(code, value, unit), IWCLL, baseline=lab(code, baseline, unit), lln=lab(code, lln, unit)
    )
    assert result.grade == expected
    assert result.status is DecisionStatus.DECIDED
    assert result.citation.source == "G4"
    assert result.citation.rule_set == "iwcll-2008-haem"


IWCLL_ANC_ROWS: list[Any] = [
    pytest.param(2000, 0, id="iwCLL T5 ANC: G0 '≥ 2000' (2000)"),
    pytest.param(1999, 1, id="iwCLL T5 ANC: G1 '≥ 1500 and <2000' (1999)"),
    pytest.param(1500, 1, id="iwCLL T5 ANC: G1 '≥ 1500 and <2000' (1500)"),
    pytest.param(1499, 2, id="iwCLL T5 ANC: G2 '≥ 1000 and <1500' (1499)"),
    pytest.param(1000, 2, id="iwCLL T5 ANC: G2 '≥ 1000 and <1500' (1000)"),
    pytest.param(999, 3, id="iwCLL T5 ANC: G3 '≥ 500 and <1000' (999)"),
    pytest.param(500, 3, id="iwCLL T5 ANC: G3 '≥ 500 and <1000' (500)"),
    pytest.param(499, 4, id="iwCLL T5 ANC: G4 '<500' (499)"),
    pytest.param(0, 4, id="iwCLL T5 ANC: G4 '<500' (0)"),
]


@pytest.mark.parametrize(("value", "expected"), IWCLL_ANC_ROWS)
def test_iwcll_anc_absolute_bands(value: float, expected: int) -> None:
    result = grade(lab("ANC", value, "/uL"), IWCLL, baseline=lab("ANC", 3000, "/uL"))
    assert result.grade == expected
    assert result.citation.quote == result.band.text if result.band else True


def test_iwcll_platelets_below_20_are_grade_4_at_any_fall() -> None:
    """G4 footnote †: 'If, at any level of decrease, the platelet count is less than 20 × 10^9/L
    (20 000/μL), this will be considered grade 4 toxicity'."""
    base = lab("PLT", 25, "10*9/L")
    below = grade(lab("PLT", 19, "10*9/L"), IWCLL, baseline=base)
    assert below.grade == 4  # a 24 % fall alone would be grade 1
    assert "less than 20" in below.citation.quote
    at = grade(lab("PLT", 20, "10*9/L"), IWCLL, baseline=base)
    assert at.grade == 1  # 20 % fall: '11%-24%'


def test_iwcll_platelet_baseline_below_20_is_not_evaluable() -> None:
    """G4 footnote †: '... unless a severe or life-threatening decrease in the initial platelet
    count (eg, 20 × 10^9/L) was present pretreatment, in which case the patient is not evaluable
    for toxicity referable to platelet counts'. Named reading: baseline < 20 is 'that low'."""
    low = grade(lab("PLT", 5, "10*9/L"), IWCLL, baseline=lab("PLT", 19, "10*9/L"))
    assert low.grade is None
    assert low.not_evaluable is NotEvaluable.BASELINE_TOO_LOW
    assert low.status is DecisionStatus.NOT_APPLICABLE
    assert "not evaluable" in low.citation.quote
    at = grade(lab("PLT", 5, "10*9/L"), IWCLL, baseline=lab("PLT", 20, "10*9/L"))
    assert at.grade == 4


def test_iwcll_anc_baseline_below_1_is_not_evaluable() -> None:
    """G4 footnote §: 'If the ANC was less than 10^9/L before therapy, the patient is not
    evaluable for toxicity referable to the ANC.'"""
    low = grade(lab("ANC", 0.2, "10*9/L"), IWCLL, baseline=lab("ANC", 999, "/uL"))
    assert low.not_evaluable is NotEvaluable.BASELINE_TOO_LOW
    at = grade(lab("ANC", 0.2, "10*9/L"), IWCLL, baseline=lab("ANC", 1000, "/uL"))
    assert at.grade == 4


def test_iwcll_platelets_and_hb_must_be_below_normal_for_grades_1_to_4() -> None:
    """G4 footnotes † ‡: 'Platelet counts must be below normal levels for grades 1 to 4.'"""
    lln = lab("PLT", 150, "10*9/L")
    base = lab("PLT", 400, "10*9/L")
    normal = grade(lab("PLT", 150, "10*9/L"), IWCLL, baseline=base, lln=lln)
    assert normal.grade == 0  # a 62.5 % fall, but not below normal
    assert "below normal" in normal.citation.quote
    below = grade(lab("PLT", 149, "10*9/L"), IWCLL, baseline=base, lln=lln)
    assert below.grade == 3
    hb = grade(
        lab("HGB", 12.0, "g/dL"),
        IWCLL,
        baseline=lab("HGB", 16.0, "g/dL"),
        lln=lab("HGB", 12.0, "g/dL"),
    )
    assert hb.grade == 0


def test_iwcll_hb_after_transfusion_cannot_be_graded() -> None:
    """G4 footnote ‡: 'Baseline and subsequent Hb determinations must be performed before any
    given transfusions.'"""
    result = grade(
        lab("HGB", 7.0, "g/dL"), IWCLL, baseline=lab("HGB", 10.0, "g/dL"), transfused=True
    )
    assert result.grade is None
    assert result.status is DecisionStatus.INDETERMINATE
    assert result.inputs_missing == ("pre-transfusion HGB",)


def test_iwcll_needs_the_pretreatment_value() -> None:
    result = grade(lab("PLT", 50, "10*9/L"), IWCLL)
    assert result.status is DecisionStatus.INDETERMINATE
    assert result.not_evaluable is NotEvaluable.MISSING_INPUT
    assert result.inputs_missing == ("baseline PLT",)


@pytest.mark.parametrize("code", ["WBC", "ALC"])
def test_iwcll_does_not_grade_wbc_or_lymphocyte_falls(code: str) -> None:
    """G4 footnote §: 'Other decreases in the white blood cell count, or in circulating
    granulocytes, are not to be considered because a decrease in the white blood cell count is a
    desired therapeutic endpoint.'"""
    result = grade(lab(code, 0.1, "10*9/L"), IWCLL, baseline=lab(code, 80, "10*9/L"))
    assert result.grade is None
    assert result.not_evaluable is NotEvaluable.NOT_GRADED
    assert result.status is DecisionStatus.NOT_APPLICABLE
    assert "desired therapeutic endpoint" in result.citation.quote


def test_iwcll_scale_has_no_cd4_row() -> None:
    result = grade(lab("CD4", 100, "/uL"), IWCLL, baseline=lab("CD4", 500, "/uL"))
    assert result.not_evaluable is NotEvaluable.NOT_GRADED


def test_iwcll_growth_factor_and_erythropoietin_are_recorded_not_graded() -> None:
    """G4: 'The use of G-CSF is irrelevant for the grading of toxicity but should be documented'
    (and the same for erythropoietin and Hb)."""
    base = lab("ANC", 3.0, "10*9/L")
    with_gcsf = grade(lab("ANC", 0.7, "10*9/L"), IWCLL, baseline=base, growth_factor=True)
    without = grade(lab("ANC", 0.7, "10*9/L"), IWCLL, baseline=base, growth_factor=False)
    assert with_gcsf.grade == without.grade == 3
    assert with_gcsf.decision.inputs_used["g-csf"] is True
    assert any("G-CSF given" in n for n in with_gcsf.notes)
    hb = grade(
        lab("HGB", 8.0, "g/dL"), IWCLL, baseline=lab("HGB", 10.0, "g/dL"), erythropoietin=None
    )
    assert any("Erythropoietin not recorded" in n for n in hb.notes)


def test_the_baseline_value_graded_against_itself_is_grade_0() -> None:
    """admiral #2512: grading relative to baseline must not flag the baseline itself."""
    base = lab("PLT", 60, "10*9/L")
    assert grade(base, IWCLL, baseline=base).grade == 0


# --------------------------------------------------------------------------------------------
# Tables as data: every band has the source's words and the bands tile the line
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", list(ToxicityScale))
def test_every_band_quotes_its_source(scale: ToxicityScale) -> None:
    table = grading_table(scale)
    assert table.caveat
    for grading in table.labs.values():
        assert grading.citation.source == table.source
        assert grading.citation.rule_set == scale.value
        for band in grading.bands:
            assert band.text.strip()


def test_lln_is_only_the_top_ctcae_band() -> None:
    for grading in grading_table(CTCAE).labs.values():
        tops = [b for b in grading.bands if b.upper_is_lln]
        assert [b.grade for b in tops] == [Grade.G1]


# --------------------------------------------------------------------------------------------
# Monotone: a grade never falls as a count worsens, for every lab and scale
# --------------------------------------------------------------------------------------------

_RANGES = {
    LabCode.ANC: (0.0, 40.0),
    LabCode.PLT: (1.0, 900.0),
    LabCode.HGB: (2.0, 20.0),
    LabCode.ALC: (0.0, 300.0),
    LabCode.WBC: (0.0, 300.0),
    LabCode.CD4: (0.0, 3000.0),
}


@st.composite
def _cases(draw: st.DrawFn) -> tuple[ToxicityScale, LabCode, float, float, float]:
    scale = draw(st.sampled_from(list(ToxicityScale)))
    code = draw(st.sampled_from([c for c in LabCode if c.graded]))
    low, high = _RANGES[code]
    values = st.floats(low, high, allow_nan=False, allow_infinity=False)
    a, b, base = draw(values), draw(values), draw(values)
    return scale, code, min(a, b), max(a, b), base


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_grade_never_falls_as_a_count_worsens(
    case: tuple[ToxicityScale, LabCode, float, float, float],
) -> None:
    scale, code, worse, better, base = case
    baseline = LabResult(code, base)
    g_worse = grade(LabResult(code, worse), scale, baseline=baseline)
    g_better = grade(LabResult(code, better), scale, baseline=baseline)
    # Evaluability depends on the lab and the baseline only, never on the value.
    assert (g_worse.grade is None) == (g_better.grade is None)
    if g_worse.grade is not None and g_better.grade is not None:
        assert g_worse.grade >= g_better.grade


def test_every_graded_lab_is_covered_by_the_property() -> None:
    for scale in ToxicityScale:
        for code, grading in grading_table(scale).labs.items():
            if grading.mode is not GradingMode.NOT_GRADED:
                assert code in _RANGES


# --------------------------------------------------------------------------------------------
# Descriptor terms, fever and febrile neutropenia (CTCAE v5.0, C1)
# --------------------------------------------------------------------------------------------

INFUSION_ROWS: list[Any] = [
    pytest.param("mild-transient", 1, id="CTCAE v5 IRR G1: Mild transient reaction"),
    pytest.param(
        "interruption-prompt-response", 2, id="CTCAE v5 IRR G2: interruption, prompt response"
    ),
    pytest.param(
        "prophylaxis-up-to-24h", 2, id="CTCAE v5 IRR G2: prophylactic medications <=24 hrs"
    ),
    pytest.param("prolonged", 3, id="CTCAE v5 IRR G3: Prolonged"),
    pytest.param(
        "recurrence-after-improvement", 3, id="CTCAE v5 IRR G3: recurrence after improvement"
    ),
    pytest.param(
        "hospitalisation-for-sequelae", 3, id="CTCAE v5 IRR G3: hospitalization for sequelae"
    ),
    pytest.param("life-threatening", 4, id="CTCAE v5 IRR G4: Life-threatening consequences"),
    pytest.param("death", 5, id="CTCAE v5 IRR G5: Death"),
]


@pytest.mark.parametrize(("feature", "expected"), INFUSION_ROWS)
def test_infusion_reaction_grade_by_descriptor(feature: str, expected: int) -> None:
    result = grade_infusion_reaction([feature])
    assert result.grade == expected
    assert result.citation.quote  # the descriptor of that grade


def test_infusion_reaction_takes_the_worst_descriptor() -> None:
    assert grade_infusion_reaction(["mild-transient", "prolonged"]).grade == 3


def test_infusion_reaction_without_descriptor_is_indeterminate() -> None:
    result = grade_infusion_reaction([])
    assert result.status is DecisionStatus.INDETERMINATE
    assert result.inputs_missing == ("features",)


def test_unknown_descriptor_is_refused() -> None:
    with pytest.raises(InputError, match="mild-transient"):
        grade_infusion_reaction(["itchy"])


CMV_ROWS: list[Any] = [
    pytest.param("asymptomatic-or-mild", 1, id="CTCAE v5 CMV G1: Asymptomatic or mild symptoms"),
    pytest.param("moderate-medical-intervention", 2, id="CTCAE v5 CMV G2: medical intervention"),
    pytest.param("severe-or-hospitalisation", 3, id="CTCAE v5 CMV G3: hospitalization indicated"),
    pytest.param("iv-intervention", 3, id="CTCAE v5 CMV G3: IV intervention indicated"),
    pytest.param("life-threatening", 4, id="CTCAE v5 CMV G4: Life-threatening consequences"),
    pytest.param("blindness", 4, id="CTCAE v5 CMV G4: blindness"),
    pytest.param("death", 5, id="CTCAE v5 CMV G5: Death"),
]


@pytest.mark.parametrize(("feature", "expected"), CMV_ROWS)
def test_cmv_reactivation_grade_by_descriptor(feature: str, expected: int) -> None:
    assert grade_cmv_reactivation([feature]).grade == expected


FEVER_ROWS: list[Any] = [
    pytest.param(37.9, None, 0, DecisionStatus.DECIDED, id="CTCAE v5 Fever: G0 below 38.0 C"),
    pytest.param(
        38.0, None, 1, DecisionStatus.DECIDED, id="CTCAE v5 Fever: G1 38.0 - 39.0 C (38.0)"
    ),
    pytest.param(
        39.0, None, 1, DecisionStatus.DECIDED, id="CTCAE v5 Fever: G1 38.0 - 39.0 C (39.0)"
    ),
    pytest.param(
        39.1, None, 2, DecisionStatus.DECIDED, id="CTCAE v5 Fever: G2 >39.0 - 40.0 C (39.1)"
    ),
    pytest.param(
        40.0, None, 2, DecisionStatus.DECIDED, id="CTCAE v5 Fever: G2 >39.0 - 40.0 C (40.0)"
    ),
    pytest.param(40.1, 24, 3, DecisionStatus.DECIDED, id="CTCAE v5 Fever: G3 >40.0 C for <=24 hrs"),
    pytest.param(
        40.1, 24.5, 4, DecisionStatus.DECIDED, id="CTCAE v5 Fever: G4 >40.0 C for >24 hrs"
    ),
    pytest.param(
        40.1, None, 3, DecisionStatus.INDETERMINATE, id="CTCAE v5 Fever: >40.0 C, hours unknown"
    ),
]


@pytest.mark.parametrize(("temp", "hours", "expected", "status"), FEVER_ROWS)
def test_fever_bands(
    temp: float, hours: float | None, expected: int, status: DecisionStatus
) -> None:
    result = grade_fever(temp, hours)
    assert result.grade == expected
    assert result.status is status


def test_fever_in_fahrenheit_is_refused() -> None:
    with pytest.raises(InputError, match="°C"):
        grade_fever(101.3)


FN_ROWS: list[Any] = [
    pytest.param(
        999, 38.4, None, 3, id="CTCAE v5 FN G3: ANC <1000/mm3 with a single temperature >38.3 C"
    ),
    pytest.param(1000, 39.5, 5.0, 0, id="CTCAE v5 FN: ANC 1000/mm3 is not <1000"),
    pytest.param(
        500, 38.3, 1.0, 0, id="CTCAE v5 FN: 38.3 C is not >38.3; 1 h is not more than one hour"
    ),
    pytest.param(500, 38.3, 1.5, 3, id="CTCAE v5 FN G3: sustained >=38 C for more than one hour"),
    pytest.param(500, 38.0, 2.0, 3, id="CTCAE v5 FN G3: sustained 38.0 C (>=38) for 2 h"),
]


@pytest.mark.parametrize(("anc", "temp", "hours", "expected"), FN_ROWS)
def test_febrile_neutropenia_definition(
    anc: float, temp: float, hours: float | None, expected: int
) -> None:
    result = grade_febrile_neutropenia(
        lab("ANC", anc, "/uL"), max_temperature_c=temp, hours_at_or_above_38_c=hours
    )
    assert result.grade == expected
    assert result.status is DecisionStatus.DECIDED


def test_febrile_neutropenia_grades_4_and_5_are_clinical() -> None:
    anc = lab("ANC", 200, "/uL")
    assert grade_febrile_neutropenia(anc, max_temperature_c=39.0, life_threatening=True).grade == 4
    assert grade_febrile_neutropenia(anc, max_temperature_c=39.0, died=True).grade == 5


def test_febrile_neutropenia_without_temperatures_is_indeterminate() -> None:
    result = grade_febrile_neutropenia(lab("ANC", 200, "/uL"), max_temperature_c=None)
    assert result.status is DecisionStatus.INDETERMINATE
    assert set(result.inputs_missing) == {"max_temperature_c", "hours_at_or_above_38_c"}


def test_febrile_neutropenia_needs_an_anc() -> None:
    with pytest.raises(InputError, match="ANC"):
        grade_febrile_neutropenia(lab("PLT", 20, "10*9/L"), max_temperature_c=39.0)


# --------------------------------------------------------------------------------------------
# The loader refuses a table whose bands leave a gap or overlap
# --------------------------------------------------------------------------------------------


def _table(bands: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "term": "neutrophils",
        "lab": "ANC",
        "name": "Neutrophil count decreased",
        "mode": "absolute",
        "unit": "/mm3",
        "locator": "test",
        "bands": bands,
    }


@pytest.mark.parametrize(
    "bands",
    [
        pytest.param(
            [
                {"grade": 1, "ge": 1500, "lt": "LLN", "text": "a"},
                {"grade": 2, "lt": 1400, "text": "b"},
            ],
            id="gap between 1400 and 1500",
        ),
        pytest.param(
            [
                {"grade": 1, "ge": 1500, "lt": "LLN", "text": "a"},
                {"grade": 2, "le": 1500, "text": "b"},
            ],
            id="1500 in two bands",
        ),
        pytest.param(
            [
                {"grade": 1, "ge": 1500, "le": "LLN", "text": "a"},
                {"grade": 2, "lt": 1500, "text": "b"},
            ],
            id="inclusive LLN",
        ),
    ],
)
def test_loader_refuses_bands_that_do_not_tile(bands: list[dict[str, Any]]) -> None:
    from cllcds.domain import KnowledgeError
    from cllcds.knowledge._grading import _lab_grading

    with pytest.raises(KnowledgeError):
        _lab_grading("test.yaml", "labs[0]", _table(bands), scale=CTCAE, source="C1", caveat="")


def test_creatinine_is_not_graded() -> None:
    """Creatinine (LOINC 2160-0) is recorded for the clearance; neither scale grades it."""
    with pytest.raises(InputError) as exc:
        grade(LabResult.of("CREAT", 1.2, "mg/dL"), CTCAE)
    assert exc.value.field == "lab"
