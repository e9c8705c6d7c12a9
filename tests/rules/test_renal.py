"""Creatinine clearance (Cockcroft-Gault) and the renal dosing tables of the CMV antivirals.

Sources (docs/rules.md, "Sources added"): the US Valcyte label's renal table (valcyte-us) and
the US Cytovene-IV label's (cytovene-us), in ``knowledge/data/antivirals/renal_dosing.yaml``.
Each parametrised case quotes the label row it tests, at both edges of the band.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cllcds.domain import DecisionStatus, InputError, Sex
from cllcds.knowledge import RenalPhase, renal_dosing
from cllcds.rules import renal

IND, MAINT = RenalPhase.INDUCTION, RenalPhase.MAINTENANCE
SEX_MISSING = "patient.sex (male or female: Cockcroft-Gault has no other form)"


def test_cockcroft_gault_as_the_valcyte_label_prints_it():
    """'CrCl = (140 - age [years]) x body weight [kg] / (72 x serum creatinine [mg/dL]); for
    females, 0.85 x the male value.' 60 years, 70 kg, 1.0 mg/dL: 80 × 70 / 72 = 77.8 mL/min;
    female: 66.1 mL/min."""
    male = renal.cockcroft_gault(60, 70, 1.0, Sex.MALE)
    assert male.status is DecisionStatus.DECIDED
    assert male.outcome == pytest.approx(round(80 * 70 / 72, 1))
    female = renal.cockcroft_gault(60, 70, 1.0, Sex.FEMALE)
    assert female.outcome == pytest.approx(round(80 * 70 / 72 * 0.85, 1))
    assert male.citation.source == "valcyte-us"


@pytest.mark.parametrize(
    ("age", "weight", "creat", "sex", "missing"),
    [
        (None, 70, 1.0, Sex.MALE, "patient.birth_date (age)"),
        (60, None, 1.0, Sex.MALE, "patient.weight_kg"),
        (60, 70, None, Sex.MALE, "serum creatinine (lab CREAT, LOINC 2160-0)"),
        (60, 70, 1.0, Sex.UNKNOWN, SEX_MISSING),
    ],
)  # fmt: skip
def test_missing_inputs_leave_the_clearance_undecided(age, weight, creat, sex, missing):
    """Fail closed: no default age, weight, creatinine or sex."""
    d = renal.cockcroft_gault(age, weight, creat, sex)
    assert d.outcome is None
    assert d.status is DecisionStatus.INDETERMINATE
    assert missing in d.inputs_missing


def test_age_in_completed_years():
    assert renal.age_years(dt.date(1948, 5, 2), dt.date(2007, 5, 1)) == 58
    assert renal.age_years(dt.date(1948, 5, 2), dt.date(2007, 5, 2)) == 59


VALGANCICLOVIR = [
    # (CrCl, phase, dose mg, every) - "CrCl >= 60: 900 mg twice daily / 900 mg once daily"
    (60.0, IND, 900, "twice daily"),
    (60.0, MAINT, 900, "once daily"),
    # "CrCl 40-59: 450 mg twice daily / 450 mg once daily"
    (59.9, IND, 450, "twice daily"),
    (40.0, MAINT, 450, "once daily"),
    # "CrCl 25-39: 450 mg once daily / 450 mg every 2 days"
    (39.9, IND, 450, "once daily"),
    (25.0, MAINT, 450, "every 2 days"),
    # "CrCl 10-24: 450 mg every 2 days / 450 mg twice weekly"
    (24.9, IND, 450, "every 2 days"),
    (10.0, MAINT, 450, "twice weekly"),
]


@pytest.mark.parametrize(("crcl", "phase", "dose", "every"), VALGANCICLOVIR)
def test_valcyte_renal_table(crcl, phase, dose, every):
    d = renal.renal_dose("valganciclovir", phase, crcl)
    assert (d.dose, d.unit, d.every, d.route) == (dose, "mg", every, "PO")
    assert d.citation.source == "valcyte-us"


def test_valganciclovir_is_not_recommended_below_10():
    """'CrCl < 10 (hemodialysis): valganciclovir tablets not recommended; use ganciclovir IV'."""
    d = renal.renal_dose("valganciclovir", IND, 9.9)
    assert not d.recommended
    assert "not recommended" in d.text


GANCICLOVIR = [
    # "CrCl >= 70: 5 mg/kg every 12 h / 5 mg/kg every 24 h"
    (70.0, IND, 5, "every 12 hours"),
    (70.0, MAINT, 5, "every 24 hours"),
    # "CrCl 50-69: 2.5 mg/kg every 12 h / 2.5 mg/kg every 24 h"
    (69.9, IND, 2.5, "every 12 hours"),
    (50.0, MAINT, 2.5, "every 24 hours"),
    # "CrCl 25-49: 2.5 mg/kg every 24 h / 1.25 mg/kg every 24 h"
    (49.9, IND, 2.5, "every 24 hours"),
    (25.0, MAINT, 1.25, "every 24 hours"),
    # "CrCl 10-24: 1.25 mg/kg every 24 h / 0.625 mg/kg every 24 h"
    (24.9, IND, 1.25, "every 24 hours"),
    (10.0, MAINT, 0.625, "every 24 hours"),
    # "CrCl < 10 (hemodialysis): 1.25 / 0.625 mg/kg three times a week, following hemodialysis"
    (9.9, IND, 1.25, "three times a week, after hemodialysis"),
    (0.0, MAINT, 0.625, "three times a week, after hemodialysis"),
]


@pytest.mark.parametrize(("crcl", "phase", "dose", "every"), GANCICLOVIR)
def test_cytovene_renal_table(crcl, phase, dose, every):
    d = renal.renal_dose("ganciclovir", phase, crcl, weight_kg=60)
    assert (d.dose, d.unit, d.every, d.route) == (dose, "mg/kg", every, "IV")
    assert d.mg == pytest.approx(dose * 60)
    assert d.citation.source == "cytovene-us"


def test_every_table_tiles_the_clearance_line():
    for table in renal_dosing().tables.values():
        assert table.bands[0].crcl_ge == 0
        assert table.bands[-1].crcl_lt is None
        for low, high in zip(table.bands, table.bands[1:], strict=False):
            assert low.crcl_lt == high.crcl_ge


def test_unknown_drug_and_negative_clearance_are_refused():
    with pytest.raises(InputError) as exc:
        renal.renal_dose("foscarnet", IND, 50)
    assert "valganciclovir" in exc.value.fix
    with pytest.raises(InputError):
        renal.renal_dose("valganciclovir", IND, -1)
