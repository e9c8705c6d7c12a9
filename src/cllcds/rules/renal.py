"""Creatinine clearance (Cockcroft-Gault) and renally adjusted CMV antiviral doses.

The US labels of valganciclovir (Valcyte) and ganciclovir IV (Cytovene-IV) adjust the dose to
the creatinine clearance estimated by Cockcroft-Gault (data: ``antivirals/renal_dosing.yaml``):

    CrCl (mL/min) = (140 - age) x weight (kg) / (72 x serum creatinine (mg/dL)), x 0.85 for women

Missing inputs never become a default: the decision is indeterminate and names what is needed.
Sex ``other`` or ``unknown`` leaves the formula undecided (it has only a male and a female form).

Examples
--------
>>> round(cockcroft_gault(60, 70, 1.0, Sex.MALE).outcome, 1)
77.8
>>> renal_dose("valganciclovir", RenalPhase.INDUCTION, 45.0).text
'valganciclovir 450 mg PO twice daily'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cllcds.domain import Citation, Decision, DecisionStatus, InputError, Sex
from cllcds.knowledge import RenalPhase, RenalTable, renal_dosing

__all__ = [
    "CRCL_DECIMALS",
    "AdjustedDose",
    "age_years",
    "cockcroft_gault",
    "renal_dose",
]

CRCL_DECIMALS = 1
"""Creatinine clearance is reported to 0.1 mL/min (the bands are whole mL/min)."""


def age_years(birth: dt.date, on: dt.date) -> int:
    """Age in completed years on a day.

    >>> age_years(dt.date(1948, 5, 2), dt.date(2007, 5, 1))
    58
    """
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def cockcroft_gault(
    age: float | None,
    weight_kg: float | None,
    creatinine_mg_dl: float | None,
    sex: Sex,
) -> Decision[float | None]:
    """Creatinine clearance by Cockcroft-Gault, the estimate the antiviral labels use.

    Returns a decision whose outcome is the clearance in mL/min (0.1 mL/min), or ``None`` with
    status ``INDETERMINATE`` and the missing inputs named.
    """
    formula = renal_dosing().crcl
    missing = [
        name
        for name, value in (
            ("patient.birth_date (age)", age),
            ("patient.weight_kg", weight_kg),
            ("serum creatinine (lab CREAT, LOINC 2160-0)", creatinine_mg_dl),
        )
        if value is None
    ]
    if sex not in (Sex.MALE, Sex.FEMALE):
        missing.append("patient.sex (male or female: Cockcroft-Gault has no other form)")
    used: dict[str, object] = {
        "age_years": age,
        "weight_kg": weight_kg,
        "creatinine_mg_dl": creatinine_mg_dl,
        "sex": sex.value,
    }
    if missing:
        return Decision(
            rule="renal.crcl",
            outcome=None,
            status=DecisionStatus.INDETERMINATE,
            rationale="Creatinine clearance cannot be calculated without: "
            + ", ".join(missing)
            + ".",
            citation=formula.citation,
            inputs_used=used,
            inputs_missing=tuple(missing),
        )
    assert age is not None
    assert weight_kg is not None
    assert creatinine_mg_dl is not None
    if creatinine_mg_dl <= 0:
        raise InputError("creatinine_mg_dl", creatinine_mg_dl, "give a positive creatinine")
    crcl = (140 - age) * weight_kg / (72 * creatinine_mg_dl)
    if sex is Sex.FEMALE:
        crcl *= formula.female_factor
    crcl = max(0.0, round(crcl, CRCL_DECIMALS))
    return Decision(
        rule="renal.crcl",
        outcome=crcl,
        status=DecisionStatus.DECIDED,
        rationale=(
            f"Creatinine clearance {crcl:g} mL/min by Cockcroft-Gault: (140 - {age:g}) x "
            f"{weight_kg:g} kg / (72 x {creatinine_mg_dl:g} mg/dL)"
            + (f" x {formula.female_factor:g} (female)" if sex is Sex.FEMALE else "")
            + "."
        ),
        citation=formula.citation,
        inputs_used=used,
    )


@dataclass(frozen=True, slots=True)
class AdjustedDose:
    """A renally adjusted dose: the table band used and the dose (``None``: not recommended)."""

    drug: str
    route: str
    phase: RenalPhase
    crcl_ml_min: float
    dose: float | None
    unit: str
    every: str
    band_text: str
    citation: Citation
    weight_kg: float | None = None

    @property
    def recommended(self) -> bool:
        """Whether the label gives a dose at this clearance."""
        return self.dose is not None

    @property
    def mg(self) -> float | None:
        """The dose in mg (a mg/kg dose times the weight; ``None`` without a weight)."""
        if self.dose is None:
            return None
        if self.unit == "mg":
            return self.dose
        return None if self.weight_kg is None else round(self.dose * self.weight_kg, 1)

    @property
    def text(self) -> str:
        """``valganciclovir 450 mg PO twice daily`` (with mg for a mg/kg dose when known)."""
        if self.dose is None:
            return f"{self.drug} not recommended at CrCl {self.crcl_ml_min:g} mL/min"
        amount = f"{self.dose:g} {self.unit}"
        if self.unit != "mg" and self.mg is not None:
            amount += f" (= {self.mg:g} mg at {self.weight_kg:g} kg)"
        return f"{self.drug} {amount} {self.route} {self.every}"


def _table(drug: str) -> RenalTable:
    tables = renal_dosing().tables
    if drug not in tables:
        raise InputError("drug", drug, f"use one of: {', '.join(sorted(tables))}")
    return tables[drug]


def renal_dose(
    drug: str, phase: RenalPhase, crcl_ml_min: float, weight_kg: float | None = None
) -> AdjustedDose:
    """The label's dose of ``drug`` for ``phase`` at a creatinine clearance.

    Raises
    ------
    InputError
        For a drug without a renal table, or a negative clearance.
    """
    if crcl_ml_min < 0:
        raise InputError("crcl_ml_min", crcl_ml_min, "give a clearance of 0 or more")
    table = _table(drug)
    band = table.band(crcl_ml_min)
    dose = band.dose(phase)
    return AdjustedDose(
        drug=table.drug,
        route=table.route,
        phase=phase,
        crcl_ml_min=crcl_ml_min,
        dose=None if dose is None else dose.dose,
        unit=table.unit,
        every="" if dose is None else dose.every,
        band_text=band.text,
        citation=Citation(
            table.citation.source,
            table.citation.locator,
            quote=band.text,
            note=table.citation.note,
            rule_set="renal",
        ),
        weight_kg=weight_kg,
    )
