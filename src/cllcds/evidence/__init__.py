"""Evidence: the review's tables and contradictions, and meta-analysis of proportions.

Meta-analysis (:func:`pool`, :func:`leave_one_out`, :func:`subgroups`) reproduces R metafor
(``escalc`` + ``rma`` + ``predict`` + ``confint``); ``tests/evidence/test_meta_reference.py``
compares every number with values stored from R by ``scripts/r/metafor_reference.R``.
"""

from cllcds._plotting import PlotFormat

from ._forest import forest_plot
from ._meta import (
    PoolResult,
    PredictionInterval,
    StudyData,
    StudyEstimate,
    SubgroupResult,
    TauMethod,
    leave_one_out,
    pool,
    subgroups,
)
from ._quotes import QuoteCheck, ReviewText, check_quotes
from ._register import Discrepancy, Kind, Severity, register
from ._tables import (
    Basis,
    Outcome,
    PoolInput,
    RecomputedRow,
    Subset,
    pool_inputs,
    recomputed,
    route_group,
    table,
)
from ._transforms import ContinuityCorrection, Transform

__all__ = [
    "Basis",
    "ContinuityCorrection",
    "Discrepancy",
    "Kind",
    "Outcome",
    "PlotFormat",
    "PoolInput",
    "PoolResult",
    "PredictionInterval",
    "QuoteCheck",
    "RecomputedRow",
    "ReviewText",
    "Severity",
    "StudyData",
    "StudyEstimate",
    "SubgroupResult",
    "Subset",
    "TauMethod",
    "Transform",
    "check_quotes",
    "forest_plot",
    "leave_one_out",
    "pool",
    "pool_inputs",
    "recomputed",
    "register",
    "route_group",
    "subgroups",
    "table",
]
