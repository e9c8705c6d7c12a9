"""cllcds.rules: pure clinical rule functions, one module per concept (see docs/design.md).

Modules: :mod:`cllcds.rules.dosing` (BSA, dose calculation, rounding, alemtuzumab ceilings,
preparation) and :mod:`cllcds.rules.supportive` (premedication, prophylaxis, monitoring).
"""

from . import dosing, supportive
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
    "dosing",
    "supportive",
]
