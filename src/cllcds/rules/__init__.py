"""cllcds.rules: pure clinical rule functions, one module per concept (see docs/design.md).

Modules: :mod:`cllcds.rules.dosing` (BSA, dose calculation, rounding, alemtuzumab ceilings,
preparation), :mod:`cllcds.rules.supportive` (premedication, prophylaxis, monitoring),
:mod:`cllcds.rules.cytopenia` (the label's withhold / resume / discontinue ladder),
:mod:`cllcds.rules.grading` (CTCAE v5, iwCLL 2008 haematological scale),
:mod:`cllcds.rules.renal` (Cockcroft-Gault, renally adjusted CMV antiviral doses) and
:mod:`cllcds.rules.response` (NCI-WG 1996, iwCLL 2008, iwCLL 2018, MRD).
"""

from . import cytopenia, dosing, grading, renal, response, supportive
from .dosing import (
    ALEMTUZUMAB_MAX_SINGLE_DOSE_MG,
    ALEMTUZUMAB_MAX_WEEKLY_MG,
    bsa_m2,
    calculate_dose,
    check_ceilings,
)

__all__ = [
    "ALEMTUZUMAB_MAX_SINGLE_DOSE_MG",
    "ALEMTUZUMAB_MAX_WEEKLY_MG",
    "bsa_m2",
    "calculate_dose",
    "check_ceilings",
    "cytopenia",
    "dosing",
    "grading",
    "renal",
    "response",
    "supportive",
]
