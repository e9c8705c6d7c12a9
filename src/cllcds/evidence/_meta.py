"""Meta-analysis of single-arm proportions (response rates), equal to R metafor.

``pool`` transforms each study's events/n (``escalc``), fits a random-effects (or
common-effect) model (``rma``), back-transforms the pooled estimate, its CI and prediction
interval (``predict(..., transf=)``), and gives the Q-profile CIs of tau^2, I^2 and H^2
(``confint``), the weights (``weights``), each study's CIs, and the R code that reproduces
the analysis. ``leave_one_out`` and ``subgroups`` repeat it as ``leave1out()`` and a
subgroup analysis (separate fits, the ``mods = ~ factor(group)`` model, Q-between) do.

Status: verified against R metafor 3.8.1 to 1e-6 absolute for every combination of
transform x method x Knapp–Hartung on eight data sets (``tests/evidence/test_meta_reference.py``
and ``scripts/r/metafor_reference.R``).

References
----------
Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw 2010;36(3).
Miller JJ. The inverse of the Freeman–Tukey double arcsine transformation. Am Stat 1978;32:138.
Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects meta-analysis.
J R Stat Soc A 2009;172:137–59.
Knapp G, Hartung J. Improved tests for a random effects meta-regression with a single
covariate. Stat Med 2003;22:2693–710.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from cllcds.domain import InputError

from . import _rma
from ._transforms import (
    ContinuityCorrection,
    FloatArray,
    Transform,
    back_transform,
    back_transform_each,
    corrected,
    escalc,
)

IntArray = npt.NDArray[np.int64]

METAFOR_VERSION = "3.8.1"
"""The metafor version the results were verified against (and the ``methods`` text names)."""


def _stats() -> Any:
    """scipy.stats, imported on first use: it takes about a second to import, and only pooling
    needs it (the CLI and the web app start without it)."""
    from scipy import stats  # noqa: PLC0415 - deferred on purpose, see above

    return stats


class TauMethod(Enum):
    """Estimator of the between-study variance tau^2 (metafor ``method=``)."""

    DL = "DL"
    """DerSimonian–Laird (method of moments, closed form)."""
    REML = "REML"
    """Restricted maximum likelihood (Fisher scoring)."""
    PM = "PM"
    """Paule–Mandel (generalised Q equal to its expectation k - 1)."""
    FIXED = "EE"
    """Common-effect ("fixed-effect") model: tau^2 = 0 (metafor ``"EE"``)."""

    @property
    def label(self) -> str:
        """A human-readable name (for plots and reports)."""
        return _METHOD_LABEL[self]


_METHOD_LABEL = {
    TauMethod.DL: "DerSimonian–Laird",
    TauMethod.REML: "REML",
    TauMethod.PM: "Paule–Mandel",
    TauMethod.FIXED: "common effect",
}
_ESTIMATOR = {
    TauMethod.DL: _rma.Estimator.DL,
    TauMethod.REML: _rma.Estimator.REML,
    TauMethod.PM: _rma.Estimator.PM,
    TauMethod.FIXED: _rma.Estimator.EE,
}


class PredictionInterval(Enum):
    """How the prediction interval is computed."""

    METAFOR = "metafor"
    """As ``predict.rma()``: ``est ± c sqrt(tau^2 + SE^2)``, c from z, or from t with k - 1
    df with Knapp–Hartung."""
    HTS = "hts"
    """Higgins–Thompson–Spiegelhalter (2009): t with k - 2 df, ``sqrt(tau^2 + SE^2)``
    (SE Knapp–Hartung-scaled when ``knha``); undefined for k < 3."""


@dataclass(frozen=True, slots=True)
class StudyData:
    """One study's response count: ``events`` of ``n`` evaluable patients.

    Raises
    ------
    InputError
        If the label is empty, a count is not a whole number, ``events < 0``, ``n < 1`` or
        ``events > n``; the error names the study and the field.

    Examples
    --------
    >>> StudyData("Keating 2002", 31, 93).n
    93
    """

    label: str
    events: int
    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise InputError("label", self.label, "give each study a non-empty name")
        for name in ("events", "n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise InputError(
                    f"{self.label}: {name}", value, f"give {name} as a whole number (a count)"
                )
        if self.n < 1:
            raise InputError(f"{self.label}: n", self.n, "give the number of patients (n >= 1)")
        if self.events < 0:
            raise InputError(
                f"{self.label}: events", self.events, "give the number of events (>= 0)"
            )
        if self.events > self.n:
            raise InputError(
                f"{self.label}: events",
                self.events,
                f"events cannot exceed n = {self.n}; check the counts",
            )


@dataclass(frozen=True, slots=True)
class StudyEstimate:
    """One study's row of a pooled analysis."""

    label: str
    events: int
    n: int
    yi: float
    """Observed outcome on the transformed scale (after any continuity correction)."""
    vi: float
    """Its sampling variance."""
    weight_pct: float
    """Weight in the pooled estimate, % (``weights(res)``: sums to 100)."""
    proportion: float
    """``events / n`` (uncorrected)."""
    cp_low: float
    """Exact Clopper–Pearson lower limit (``binom.test``)."""
    cp_high: float
    """Exact Clopper–Pearson upper limit."""
    estimate: float
    """``yi`` back-transformed (Freeman–Tukey with the study's own n)."""
    ci_low: float
    """``yi - z sqrt(vi)`` back-transformed (``summary(escalc, transf=)``)."""
    ci_high: float
    """``yi + z sqrt(vi)`` back-transformed."""
    corrected: bool
    """Whether the continuity correction was added to this study's counts (``add > 0``)."""


@dataclass(frozen=True, slots=True)
class PoolResult:
    """A pooled proportion, its heterogeneity and its studies.

    Proportion-scale values are metafor's back-transforms (raw proportions are not clamped,
    so a raw CI may leave [0, 1] exactly as in R). ``pi_low``/``pi_high`` are None for the
    common-effect model and for the HTS interval when k < 3; the tau^2, tau, I^2 and H^2 CIs
    (Q-profile) are None for the common-effect model.
    """

    k: int
    transform: Transform
    method: TauMethod
    knha: bool
    level: float
    pi_type: PredictionInterval
    add: float
    """Continuity correction actually used (metafor's default for the transform if not given)."""
    to: ContinuityCorrection
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float | None
    pi_high: float | None
    est_t: float
    """Pooled estimate on the transformed scale."""
    se_t: float
    """Its standard error (Knapp–Hartung-scaled if ``knha``)."""
    ci_low_t: float
    ci_high_t: float
    pi_low_t: float | None
    pi_high_t: float | None
    df: int | None
    """Degrees of freedom of the t distribution with Knapp–Hartung (k - 1), else None."""
    tau2: float
    tau: float
    tau2_ci: tuple[float, float] | None
    tau_ci: tuple[float, float] | None
    i2: float
    """I^2, % (metafor: 100 tau^2 / (tau^2 + typical within-study variance))."""
    i2_ci: tuple[float, float] | None
    h2: float
    h2_ci: tuple[float, float] | None
    q: float
    """Cochran's Q (fixed-effect weights)."""
    q_df: int
    q_p: float
    studies: tuple[StudyEstimate, ...]
    methods: str
    """How to reproduce the analysis in R (metafor), with the data."""


@dataclass(frozen=True, slots=True)
class SubgroupResult:
    """Subgroup analysis: one pooled result per group and tests for subgroup differences.

    (a) The mixed-effects meta-regression ``rma(yi, vi, mods = ~ factor(group))``: its
    omnibus test QM of the group coefficients (chi-square with ``qm_df1`` df, or with
    Knapp–Hartung an F test with ``qm_df1``, ``qm_df2`` df) and its residual heterogeneity
    (``tau2_residual``, ...). (b) Q-between: the fixed-effect Q of the separate subgroup
    estimates, ``sum w_g (est_g - est_w)^2`` with ``w_g = 1/SE_g^2`` and G - 1 df.
    """

    transform: Transform
    method: TauMethod
    knha: bool
    level: float
    subgroups: tuple[tuple[str, PoolResult], ...]
    """(group, its pooled result), groups in order of first appearance."""
    qm: float
    qm_df1: int
    qm_df2: int | None
    """Denominator df of the F test with Knapp–Hartung (k - G), else None (chi-square)."""
    qm_p: float
    tau2_residual: float
    i2_residual: float
    h2_residual: float
    qe_residual: float
    qe_residual_df: int
    qe_residual_p: float
    q_between: float
    q_between_df: int
    q_between_p: float
    methods: str


@dataclass(frozen=True, slots=True)
class _Options:
    transform: Transform
    method: TauMethod
    knha: bool
    level: float
    pi: PredictionInterval
    add: float
    add_given: bool
    to: ContinuityCorrection


def _enum(field: str, value: object, cls: type[Enum]) -> None:
    if not isinstance(value, cls):
        valid = ", ".join(f"{cls.__name__}.{m.name}" for m in cls)
        raise InputError(field, value, f"use one of {valid}")


def _real(value: object) -> float | None:
    """The value as a finite float if it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _options(
    *,
    transform: Transform,
    method: TauMethod,
    knha: bool,
    level: float,
    pi: PredictionInterval,
    add: float | None,
    to: ContinuityCorrection,
) -> _Options:
    _enum("transform", transform, Transform)
    _enum("method", method, TauMethod)
    _enum("pi", pi, PredictionInterval)
    _enum("to", to, ContinuityCorrection)
    if not isinstance(knha, bool):
        raise InputError("knha", knha, "use True (Knapp–Hartung) or False")
    lv = _real(level)
    if lv is None or not 0.0 < lv < 1.0:
        raise InputError("level", level, "give a confidence level between 0 and 1, e.g. 0.95")
    cc = None if add is None else _real(add)
    if add is not None and (cc is None or cc < 0):
        raise InputError("add", add, "give a continuity correction >= 0 (e.g. 0.5) or None")
    return _Options(
        transform=transform,
        method=method,
        knha=knha,
        level=lv,
        pi=pi,
        add=transform.default_add if cc is None else cc,
        add_given=add is not None,
        to=to,
    )


def _studies(data: Sequence[StudyData], minimum: int, why: str) -> tuple[StudyData, ...]:
    studies = tuple(data)
    for i, s in enumerate(studies):
        if not isinstance(s, StudyData):
            raise InputError(f"studies[{i}]", s, "give each study as StudyData(label, events, n)")
    if len(studies) < minimum:
        raise InputError("studies", len(studies), why)
    return studies


def _transformed(
    studies: tuple[StudyData, ...], opts: _Options
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    events = np.fromiter((s.events for s in studies), dtype=np.int64, count=len(studies))
    n = np.fromiter((s.n for s in studies), dtype=np.int64, count=len(studies))
    yi, vi = escalc(events, n, opts.transform, opts.add, opts.to)
    bad = ~(np.isfinite(yi) & np.isfinite(vi) & (vi > 0))
    if bool(bad.any()):
        names = ", ".join(s.label for s, b in zip(studies, bad, strict=True) if b)
        raise InputError(
            "to",
            opts.to.value,
            f"studies with 0 or n events ({names}) have an infinite or zero-variance "
            f"{opts.transform.label}: use a continuity correction "
            "(to=ContinuityCorrection.ONLY0 with add > 0) or transform=Transform.FREEMAN_TUKEY",
        )
    return events, n, yi, vi


# -- R code ------------------------------------------------------------------------------


def _r_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _r_num(x: float) -> str:
    return f"{x:g}"


_R_TRANSF = {
    Transform.RAW: "",
    Transform.LOGIT: ", transf=transf.ilogit",
    Transform.FREEMAN_TUKEY: ", transf=transf.ipft.hm, targs=list(ni={ni})",
    Transform.ARCSINE: ", transf=transf.iarcsin",
}
_R_STUDY_TRANSF = {
    Transform.RAW: "",
    Transform.LOGIT: ", transf=transf.ilogit",
    Transform.FREEMAN_TUKEY: ", transf=transf.ipft, ni=dat$ni",
    Transform.ARCSINE: ", transf=transf.iarcsin",
}


def _r_prelude(
    studies: tuple[StudyData, ...], opts: _Options, groups: Sequence[str] | None = None
) -> list[str]:
    cols = [
        "study=c(" + ", ".join(_r_str(s.label) for s in studies) + ")",
        "xi=c(" + ", ".join(str(s.events) for s in studies) + ")",
        "ni=c(" + ", ".join(str(s.n) for s in studies) + ")",
    ]
    if groups is not None:
        cols.append("group=c(" + ", ".join(_r_str(g) for g in groups) + ")")
    cc = ""
    if opts.add_given:
        cc += f", add={_r_num(opts.add)}"
    if opts.to is not ContinuityCorrection.ONLY0:
        cc += f", to={_r_str(opts.to.value)}"
    return [
        "library(metafor)",
        "dat <- data.frame(" + ", ".join(cols) + ")",
        f'dat <- escalc(measure="{opts.transform.measure}", xi=xi, ni=ni, data=dat, '
        f"slab=study{cc})",
    ]


def _r_rma(opts: _Options, extra: str = "", name: str = "res") -> str:
    test = ', test="knha"' if opts.knha else ""
    return (
        f"{name} <- rma(yi, vi{extra}, data=dat, method={_r_str(opts.method.value)}"
        f"{test}, level={_r_num(100 * opts.level)})"
    )


def _r_pool_code(opts: _Options, ni: str, k: int) -> list[str]:
    transf = _R_TRANSF[opts.transform].format(ni=ni)
    lines = [f"predict(res{transf})  # pooled proportion, CI and prediction interval"]
    if opts.pi is PredictionInterval.HTS and opts.method is not TauMethod.FIXED and k >= 3:
        q = _r_num(1 - (1 - opts.level) / 2)
        hts = f"c(res$b) + c(-1, 1) * qt({q}, df=res$k - 2) * sqrt(res$tau2 + res$se^2)"
        if opts.transform is Transform.RAW:
            lines.append(f"{hts}  # HTS prediction interval (by hand)")
        else:
            fn = _R_TRANSF[opts.transform].format(ni=ni).split("transf=")[1].split(",")[0]
            targs = f", targs=list(ni={ni})" if opts.transform is Transform.FREEMAN_TUKEY else ""
            lines.append(f"{fn}({hts}{targs})  # HTS prediction interval (by hand)")
    if opts.method is not TauMethod.FIXED:
        lines.append("confint(res)  # Q-profile CIs of tau^2, I^2, H^2")
    lines.append("weights(res)")
    return lines


def _methods(head: str, opts: _Options, code: list[str]) -> str:
    model = (
        "Common-effect"
        if opts.method is TauMethod.FIXED
        else f"Random-effects ({opts.method.label} tau²)"
    )
    kh = ", Knapp–Hartung t test" if opts.knha else ""
    cc = (
        f"continuity correction {_r_num(opts.add)} ({opts.to.value})"
        if opts.add > 0 and opts.to is not ContinuityCorrection.NONE
        else "no continuity correction"
    )
    text = (
        f"{head} {model} meta-analysis of proportions on the {opts.transform.label} scale{kh}, "
        f"{cc}, {_r_num(100 * opts.level)}% intervals; computed by cllcds, verified against "
        f"R metafor {METAFOR_VERSION}. Reproduce in R (to agree beyond 4-5 digits, give rma() "
        "control=list(threshold=1e-14, maxiter=10000, tol=1e-12)):"
    )
    return text + "\n" + "\n".join(code)


# -- pooling -----------------------------------------------------------------------------


def _clopper_pearson(events: IntArray, n: IntArray, level: float) -> tuple[FloatArray, FloatArray]:
    alpha = 1.0 - level
    x = events.astype(np.float64)
    nn = n.astype(np.float64)
    lo = _stats().beta.ppf(alpha / 2, np.maximum(x, 1.0), nn - x + 1.0)
    hi = _stats().beta.isf(alpha / 2, x + 1.0, np.maximum(nn - x, 1.0))
    return (
        np.asarray(np.where(x == 0, 0.0, lo), dtype=np.float64),
        np.asarray(np.where(x == nn, 1.0, hi), dtype=np.float64),
    )


def _pool_arrays(
    studies: tuple[StudyData, ...],
    *,
    events: IntArray,
    n: IntArray,
    yi: FloatArray,
    vi: FloatArray,
    opts: _Options,
    methods: str,
) -> PoolResult:
    k = len(studies)
    x = np.ones((k, 1))
    try:
        fit = _rma.fit(yi, vi, x, _ESTIMATOR[opts.method], knha=opts.knha, level=opts.level)
    except _rma.NoConvergenceError as exc:
        raise InputError(
            "method", opts.method.value, f"{exc}; try method=TauMethod.DL or TauMethod.PM"
        ) from None
    b, se, tau2 = float(fit.beta[0]), float(fit.se[0]), fit.tau2
    nf = n.astype(np.float64)
    ci_t = (b - fit.crit * se, b + fit.crit * se)
    pi_t: tuple[float, float] | None = None
    if opts.method is not TauMethod.FIXED:
        spread = math.sqrt(tau2 + se * se)
        if opts.pi is PredictionInterval.METAFOR:
            pi_t = (b - fit.crit * spread, b + fit.crit * spread)
        elif k >= 3:
            c = float(_stats().t.isf((1.0 - opts.level) / 2, k - 2))
            pi_t = (b - c * spread, b + c * spread)
    pooled_t = np.array([b, *ci_t, *(pi_t or (math.nan, math.nan))])
    pooled = back_transform(opts.transform, pooled_t, nf)

    tau2_ci = tau_ci = i2_ci = h2_ci = None
    if opts.method is not TauMethod.FIXED:
        lb, ub = _rma.q_profile(yi, vi, x, tau2, opts.level)
        tau2_ci = (lb, ub)
        tau_ci = (math.sqrt(lb), math.sqrt(ub))
        i2_ci = (100.0 * lb / (fit.vt + lb), 100.0 * ub / (fit.vt + ub))
        h2_ci = (lb / fit.vt + 1.0, ub / fit.vt + 1.0)

    weight_pct = 100.0 * fit.weights / float(np.sum(fit.weights))
    z = float(_stats().norm.isf((1.0 - opts.level) / 2))
    half = z * np.sqrt(vi)
    est_s = back_transform_each(opts.transform, yi, nf)
    lo_s = back_transform_each(opts.transform, yi - half, nf)
    hi_s = back_transform_each(opts.transform, yi + half, nf)
    cp_lo, cp_hi = _clopper_pearson(events, n, opts.level)
    fixed = corrected(events, n, opts.to) & (opts.add > 0)
    rows = tuple(
        StudyEstimate(
            label=s.label,
            events=s.events,
            n=s.n,
            yi=float(yi[i]),
            vi=float(vi[i]),
            weight_pct=float(weight_pct[i]),
            proportion=s.events / s.n,
            cp_low=float(cp_lo[i]),
            cp_high=float(cp_hi[i]),
            estimate=float(est_s[i]),
            ci_low=float(min(lo_s[i], hi_s[i])),
            ci_high=float(max(lo_s[i], hi_s[i])),
            corrected=bool(fixed[i]),
        )
        for i, s in enumerate(studies)
    )
    return PoolResult(
        k=k,
        transform=opts.transform,
        method=opts.method,
        knha=opts.knha,
        level=opts.level,
        pi_type=opts.pi,
        add=opts.add,
        to=opts.to,
        estimate=float(pooled[0]),
        ci_low=float(pooled[1]),
        ci_high=float(pooled[2]),
        pi_low=None if pi_t is None else float(pooled[3]),
        pi_high=None if pi_t is None else float(pooled[4]),
        est_t=b,
        se_t=se,
        ci_low_t=ci_t[0],
        ci_high_t=ci_t[1],
        pi_low_t=None if pi_t is None else pi_t[0],
        pi_high_t=None if pi_t is None else pi_t[1],
        df=fit.ddf,
        tau2=tau2,
        tau=math.sqrt(tau2),
        tau2_ci=tau2_ci,
        tau_ci=tau_ci,
        i2=fit.i2,
        i2_ci=i2_ci,
        h2=fit.h2,
        h2_ci=h2_ci,
        q=fit.qe,
        q_df=k - 1,
        q_p=fit.qe_p,
        studies=rows,
        methods=methods,
    )


def pool(
    data: Sequence[StudyData],
    *,
    transform: Transform = Transform.LOGIT,
    method: TauMethod = TauMethod.REML,
    knha: bool = False,
    level: float = 0.95,
    pi: PredictionInterval = PredictionInterval.METAFOR,
    add: float | None = None,
    to: ContinuityCorrection = ContinuityCorrection.ONLY0,
) -> PoolResult:
    r"""Pool single-arm proportions as R metafor does.

    Each study's ``y_i`` and ``v_i`` come from :func:`escalc` (metafor ``escalc()``),
    then, with ``w_i = 1/(v_i + \hat\tau^2)``:

    .. math::

        \hat\mu = \frac{\sum w_i y_i}{\sum w_i}, \qquad
        SE(\hat\mu) = \Big(\sum w_i\Big)^{-1/2} \;\; \Big(\times\; s
        \text{ with Knapp–Hartung, } s^2 = \tfrac{\sum w_i (y_i - \hat\mu)^2}{k-1}\Big)

    CI ``mu ± c SE``, prediction interval ``mu ± c' sqrt(tau^2 + SE^2)`` (see
    :class:`PredictionInterval`), all back-transformed: logit by ``transf.ilogit``,
    Freeman–Tukey by ``transf.ipft.hm`` (Miller's inversion at the harmonic mean of the
    n's), arcsine by ``transf.iarcsin``; values outside the transform's range are set to 0
    or 1 as metafor does. ``I^2 = 100 tau^2/(tau^2 + s^2)`` with the typical within-study
    variance ``s^2 = (k-1)/tr(P)`` (for the common-effect model ``max(0, (Q-(k-1))/Q)``).

    Parameters
    ----------
    data
        At least 2 studies.
    transform, method, knha, level, pi
        Scale, tau^2 estimator, Knapp–Hartung test, interval level, prediction interval.
    add
        Continuity correction; None (default) is metafor's default for the transform:
        1/2 for raw and logit, 0 for Freeman–Tukey and arcsine (``escalc()`` switches to
        ``add=0`` for ``"PFT"``/``"PAS"`` unless ``add`` is given explicitly).
    to
        Which studies get ``add`` (metafor ``to=``; default: those with 0 or n events).

    Raises
    ------
    InputError
        Fewer than 2 studies, an option of the wrong kind, or 0/n-event studies that cannot
        be analysed without a continuity correction.

    Notes
    -----
    Status: verified against R metafor 3.8.1 (``escalc``, ``rma``, ``predict``,
    ``confint``, ``weights``) to 1e-6 absolute; see ``scripts/r/metafor_reference.R``.

    Examples
    --------
    >>> from cllcds.evidence import StudyData, pool
    >>> res = pool([StudyData("Osterborg 1997", 12, 29), StudyData("Rai 2002", 8, 24),
    ...             StudyData("Keating 2002", 31, 93), StudyData("McCune 2002", 9, 17)])
    >>> round(res.estimate, 4), round(res.ci_low, 4), round(res.ci_high, 4)
    (0.3691, 0.298, 0.4465)
    >>> round(sum(s.weight_pct for s in res.studies), 10)
    100.0
    """
    opts = _options(
        transform=transform, method=method, knha=knha, level=level, pi=pi, add=add, to=to
    )
    studies = _studies(data, 2, "pool needs at least 2 studies")
    events, n, yi, vi = _transformed(studies, opts)
    code = [
        *_r_prelude(studies, opts),
        _r_rma(opts),
        *_r_pool_code(opts, "dat$ni", len(studies)),
        f"summary(dat{_R_STUDY_TRANSF[opts.transform]})  # study estimates and CIs",
    ]
    head = f"{len(studies)} studies."
    return _pool_arrays(
        studies, events=events, n=n, yi=yi, vi=vi, opts=opts, methods=_methods(head, opts, code)
    )


def leave_one_out(
    data: Sequence[StudyData],
    *,
    transform: Transform = Transform.LOGIT,
    method: TauMethod = TauMethod.REML,
    knha: bool = False,
    level: float = 0.95,
    pi: PredictionInterval = PredictionInterval.METAFOR,
    add: float | None = None,
    to: ContinuityCorrection = ContinuityCorrection.ONLY0,
) -> tuple[tuple[str, PoolResult], ...]:
    """Pool the studies once without each study, as metafor ``leave1out()``.

    As ``leave1out()``, the outcomes are computed once on all studies (this matters only
    for ``to=IF0ALL``) and each fit leaves one out; Freeman–Tukey back-transforms use the
    harmonic mean of the remaining n's.

    Status: verified against R metafor 3.8.1 ``leave1out(res)`` (estimate, CI, tau^2, I^2,
    H^2, Q) and refits ``rma(..., subset=-i)`` + ``predict(transf=)`` to 1e-6 absolute.

    Returns
    -------
    tuple of (omitted study's label, result without it), in the order of ``data``.

    Examples
    --------
    >>> from cllcds.evidence import StudyData, leave_one_out
    >>> rows = leave_one_out([StudyData("A", 12, 29), StudyData("B", 8, 24),
    ...                       StudyData("C", 31, 93)])
    >>> [(label, r.k) for label, r in rows]
    [('A', 2), ('B', 2), ('C', 2)]
    """
    opts = _options(
        transform=transform, method=method, knha=knha, level=level, pi=pi, add=add, to=to
    )
    studies = _studies(data, 3, "leave-one-out needs at least 3 studies")
    events, n, yi, vi = _transformed(studies, opts)
    prelude = _r_prelude(studies, opts)
    out: list[tuple[str, PoolResult]] = []
    for i, study in enumerate(studies):
        keep = np.arange(len(studies)) != i
        code = [
            *prelude,
            _r_rma(opts, extra=f", subset=-{i + 1}"),
            *_r_pool_code(opts, f"dat$ni[-{i + 1}]", len(studies) - 1),
        ]
        head = f"{len(studies) - 1} studies (leave-one-out: without {study.label})."
        out.append(
            (
                study.label,
                _pool_arrays(
                    tuple(s for s, kept in zip(studies, keep, strict=True) if kept),
                    events=events[keep],
                    n=n[keep],
                    yi=yi[keep],
                    vi=vi[keep],
                    opts=opts,
                    methods=_methods(head, opts, code),
                ),
            )
        )
    return tuple(out)


def subgroups(
    data: Sequence[StudyData],
    groups: Sequence[str],
    *,
    transform: Transform = Transform.LOGIT,
    method: TauMethod = TauMethod.REML,
    knha: bool = False,
    level: float = 0.95,
    pi: PredictionInterval = PredictionInterval.METAFOR,
    add: float | None = None,
    to: ContinuityCorrection = ContinuityCorrection.ONLY0,
) -> SubgroupResult:
    r"""Pool each subgroup separately and test for subgroup differences.

    (a) The mixed-effects model ``rma(yi, vi, mods = ~ factor(group))`` (same ``method``,
    ``test``): ``QM = b' V^{-1} b`` over the group contrasts, chi-square with G - 1 df, or
    with Knapp–Hartung ``QM/(G-1)`` against F(G - 1, k - G); its tau^2 is the residual
    heterogeneity. (b) Q-between of the separate subgroup estimates,
    ``Q_b = \sum w_g (\hat\mu_g - \bar\mu)^2``, ``w_g = 1/SE_g^2``, chi-square with G - 1 df
    (``rma(est, sei=se, method="EE")$QE`` in R).

    Status: verified against R metafor 3.8.1 to 1e-6 absolute.

    Parameters
    ----------
    groups
        One group name per study (same order as ``data``); at least 2 groups, each with at
        least 2 studies.

    Examples
    --------
    >>> from cllcds.evidence import StudyData, subgroups
    >>> data = [StudyData("A", 12, 29), StudyData("B", 8, 24), StudyData("C", 31, 93),
    ...         StudyData("D", 18, 50), StudyData("E", 8, 16)]
    >>> res = subgroups(data, ["iv", "iv", "iv", "sc", "sc"])
    >>> [g for g, _ in res.subgroups], res.qm_df1
    (['iv', 'sc'], 1)
    """
    opts = _options(
        transform=transform, method=method, knha=knha, level=level, pi=pi, add=add, to=to
    )
    studies = _studies(data, 4, "a subgroup analysis needs at least 4 studies (2 groups of 2)")
    labels = tuple(groups)
    if len(labels) != len(studies):
        raise InputError("groups", len(labels), f"give one group per study ({len(studies)} groups)")
    for i, g in enumerate(labels):
        if not isinstance(g, str) or not g.strip():
            raise InputError(f"groups[{i}]", g, "give each study's group as a non-empty name")
    order = tuple(dict.fromkeys(labels))
    g_arr = np.array(labels, dtype=object)
    if len(order) < 2:
        raise InputError("groups", order, "give at least 2 different groups")
    for g in order:
        size = int(np.sum(g_arr == g))
        if size < 2:
            raise InputError(f"groups: {g}", size, "each group needs at least 2 studies")
    events, n, yi, vi = _transformed(studies, opts)
    prelude = _r_prelude(studies, opts, labels)

    pooled: list[tuple[str, PoolResult]] = []
    for g in order:
        keep = g_arr == g
        code = [
            *prelude,
            _r_rma(opts, extra=f", subset=group=={_r_str(g)}"),
            *_r_pool_code(opts, f"dat$ni[dat$group=={_r_str(g)}]", int(keep.sum())),
        ]
        head = f"Subgroup {g}: {int(keep.sum())} studies."
        pooled.append(
            (
                g,
                _pool_arrays(
                    tuple(s for s, kept in zip(studies, keep, strict=True) if kept),
                    events=events[keep],
                    n=n[keep],
                    yi=yi[keep],
                    vi=vi[keep],
                    opts=opts,
                    methods=_methods(head, opts, code),
                ),
            )
        )

    levels = sorted(order)  # R's factor() levels; QM and tau^2 do not depend on the reference
    design = np.column_stack(
        [np.ones(len(studies))] + [(g_arr == lv).astype(np.float64) for lv in levels[1:]]
    )
    try:
        mod = _rma.fit(yi, vi, design, _ESTIMATOR[opts.method], knha=opts.knha, level=opts.level)
    except _rma.NoConvergenceError as exc:
        raise InputError(
            "method", opts.method.value, f"{exc}; try method=TauMethod.DL or TauMethod.PM"
        ) from None
    est = np.array([r.est_t for _, r in pooled])
    se2 = np.array([r.se_t**2 for _, r in pooled])
    with np.errstate(divide="ignore", invalid="ignore"):
        between = _rma.fit(
            est, se2, np.ones((len(est), 1)), _rma.Estimator.EE, knha=False, level=opts.level
        )
    code = [
        *prelude,
        _r_rma(opts, extra=", mods = ~ factor(group)", name="mod"),
        "mod  # test of moderators (QM) and residual heterogeneity",
        "sub <- lapply(split(dat, dat$group), function(d) "
        + _r_rma(opts, name="r").split(" <- ", 1)[1].replace("data=dat", "data=d")
        + ")",
        'rma(sapply(sub, coef), sei=sapply(sub, function(r) r$se), method="EE")  # Q-between',
    ]
    head = f"Subgroup analysis of {len(studies)} studies in {len(order)} groups."
    return SubgroupResult(
        transform=opts.transform,
        method=opts.method,
        knha=opts.knha,
        level=opts.level,
        subgroups=tuple(pooled),
        qm=mod.qm,
        qm_df1=mod.qm_df[0],
        qm_df2=mod.qm_df[1],
        qm_p=mod.qm_p,
        tau2_residual=mod.tau2,
        i2_residual=mod.i2,
        h2_residual=mod.h2,
        qe_residual=mod.qe,
        qe_residual_df=mod.k - mod.p,
        qe_residual_p=mod.qe_p,
        q_between=between.qe,
        q_between_df=len(order) - 1,
        q_between_p=between.qe_p,
        methods=_methods(head, opts, code),
    )
