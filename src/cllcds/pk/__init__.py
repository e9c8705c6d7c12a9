"""Alemtuzumab pharmacokinetics and WBC dynamics: the Mould 2007 PK/PD model and a fast
population simulator.

The model (``shared/reference/pk-model.md``): two compartments, Michaelis–Menten elimination
whose Vmax rises with the white-cell count, and an indirect-response model of the WBC; IV
infusions, continuous infusion and an SC depot (APPROXIMATION, labelled in every output). All
virtual patients are integrated together with a vectorised, event-aware Rosenbrock method
(:mod:`cllcds.pk._simulate`), verified against per-patient LSODA/Radau solutions to well
within 1 % and against the typical-patient checkpoints of the reference. With numba installed
(the ``pk`` extra) the same method runs patient by patient in a compiled, parallel kernel
(:mod:`cllcds.pk._kernel`; ``simulate(backend=...)``), with the same results to round-off.

Example
-------
>>> from cllcds.pk import label_iv_schedule, simulate
>>> r = simulate(label_iv_schedule(), n=200, seed=1)
>>> 0 < r.summary["max_trough"]["p50"] < 13.2
True
"""

from cllcds._plotting import PlotFormat

from ._doses import (
    COLUMNS,
    Dose,
    DoseRoute,
    DoseTable,
    continuous_infusion,
    dose_table,
    doses_from_administrations,
    label_iv_schedule,
    parse_dose_csv,
    read_dose_csv,
)
from ._model import (
    KNOWN_LIMITS,
    PARAMETER_SOURCES,
    SC_APPROXIMATION,
    THRESHOLD_AUC_MG_H_PER_L,
    THRESHOLD_SOURCE,
    THRESHOLD_TROUGH_MG_PER_L,
    Individuals,
    PkParameters,
    individuals,
)
from ._plot import pk_plot
from ._population import SUMMARY_FIELDS, PkResult, default_grid, parse_times, simulate
from ._reference import reference_profiles
from ._simulate import IntegrationStats
from ._summaries import PERCENTILES, WeekTroughs

__all__ = [
    "COLUMNS",
    "KNOWN_LIMITS",
    "PARAMETER_SOURCES",
    "PERCENTILES",
    "SC_APPROXIMATION",
    "SUMMARY_FIELDS",
    "THRESHOLD_AUC_MG_H_PER_L",
    "THRESHOLD_SOURCE",
    "THRESHOLD_TROUGH_MG_PER_L",
    "Dose",
    "DoseRoute",
    "DoseTable",
    "Individuals",
    "IntegrationStats",
    "PkParameters",
    "PkResult",
    "PlotFormat",
    "WeekTroughs",
    "continuous_infusion",
    "default_grid",
    "dose_table",
    "doses_from_administrations",
    "individuals",
    "label_iv_schedule",
    "parse_dose_csv",
    "parse_times",
    "pk_plot",
    "read_dose_csv",
    "reference_profiles",
    "simulate",
]
