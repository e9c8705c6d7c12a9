"""The numerical core: metafor's ``rma.uni()`` and ``confint.rma.uni()`` (Q-profile) in numpy.

Models ``y = X b + u + e`` with ``u ~ N(0, tau^2)`` and ``e ~ N(0, v_i)`` (``v_i`` known).
Everything works on arrays; ``X`` is the k x p design (a column of ones for a plain
meta-analysis, intercept plus dummies for a subgroup meta-regression).

Status: verified against R metafor 3.8.1 (``rma()``, ``confint()``, ``predict()``) to 1e-6
absolute by ``tests/evidence/test_meta_reference.py``.

Estimators of tau^2 (``W = diag(1/(v_i + tau^2))``, ``P = W - W X (X'WX)^-1 X'W``):

* DL: ``tau^2 = (Q - (k-p)) / tr(P_0)`` with ``P_0`` at tau^2 = 0, truncated at 0.
* REML: Fisher scoring ``tau^2 += (y'PPy - tr P) / tr(PP)`` from the Hedges (HE) start,
  with step halving to stay >= 0, as metafor does, iterated to full precision (metafor's
  default stops at a change below 1e-5); metafor's check that the likelihood at tau^2 = 0 is
  not higher is kept.
* PM (Paule–Mandel): the root of the generalised ``Q(tau^2) = y'Py = k - p`` (0 if
  ``Q(0) < k - p``), by Brent's method to full precision (metafor: ``uniroot``, tol 1.2e-4,
  on [0, max(100, 10 mad(y)^2)], stopping with an error beyond it; cllcds widens the search).
* REML: where undamped Fisher scoring cycles (metafor stops: "did not converge"), the steps
  are damped by 1/2, 1/4, 1/8 in turn, as metafor's remedy ``control=list(stepadj=0.5)``.
* EE (common effect): tau^2 = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)
_THRESHOLD = 1e-14  # Fisher scoring stops when tau^2 changes by less than this (x max(1, tau^2))
_MAXITER = 1_000
_STEPADJ = (1.0, 0.5, 0.25, 0.125)  # Fisher scoring step factors tried in turn (stepadj)
_LL0_TOL = _EPS**0.25  # metafor's con$tol for the "stuck at a local maximum" check
_LL0_THRESHOLD = 1e-5  # metafor's default con$threshold, used in the same check


def _optimize() -> Any:
    """scipy.optimize, imported on first use: it takes about a second to import, and only pooling
    needs it (the CLI and the web app start without it)."""
    from scipy import optimize  # noqa: PLC0415 - deferred on purpose, see above

    return optimize


def _stats() -> Any:
    """scipy.stats, imported on first use: it takes about a second to import, and only pooling
    needs it (the CLI and the web app start without it)."""
    from scipy import stats  # noqa: PLC0415 - deferred on purpose, see above

    return stats


class Estimator(Enum):
    """tau^2 estimators of the core (mirrors the public ``TauMethod``)."""

    DL = "DL"
    REML = "REML"
    PM = "PM"
    EE = "EE"


class NoConvergenceError(ArithmeticError):
    """An iterative tau^2 estimator did not converge."""


@dataclass(frozen=True, slots=True)
class RmaFit:
    """What ``rma.uni()`` reports (the subset cllcds uses)."""

    k: int
    p: int
    beta: FloatArray
    vb: FloatArray
    se: FloatArray
    tau2: float
    weights: FloatArray
    """``1/(v_i + tau^2)`` (unnormalised)."""
    crit: float
    """Critical value of the CIs: z or, with Knapp–Hartung, t with k - p df."""
    ddf: int | None
    """Denominator df with Knapp–Hartung (k - p), else None."""
    qm: float
    qm_df: tuple[int, int | None]
    qm_p: float
    qe: float
    qe_p: float
    i2: float
    h2: float
    vt: float
    """The 'typical' within-study variance of I^2: (k - p) / tr(P_0)."""


def _p_matrix(w: FloatArray, x: FloatArray) -> FloatArray:
    wx = w[:, None] * x
    return np.asarray(np.diag(w) - wx @ np.linalg.solve(x.T @ wx, wx.T), dtype=np.float64)


def q_gen(tau2: float, y: FloatArray, vi: FloatArray, x: FloatArray) -> float:
    """Generalised Q statistic ``y'P(tau^2)y`` (weighted residual sum of squares)."""
    w = 1.0 / (vi + tau2)
    wx = w[:, None] * x
    beta = np.linalg.solve(x.T @ wx, wx.T @ y)
    r = y - x @ beta
    return float(np.sum(w * r * r))


def _tau2_dl(y: FloatArray, vi: FloatArray, x: FloatArray) -> float:
    k, p = x.shape
    pm = _p_matrix(1.0 / vi, x)
    rss = float(y @ pm @ y)
    return max(0.0, (rss - float(k - p)) / float(np.trace(pm)))


def _tau2_pm(y: FloatArray, vi: FloatArray, x: FloatArray) -> float:
    k, p = x.shape
    target = float(k - p)
    if q_gen(0.0, y, vi, x) < target:
        return 0.0
    hi = 100.0
    while q_gen(hi, y, vi, x) > target:
        hi *= 10.0
        if hi > 1e12:
            raise NoConvergenceError("Paule-Mandel: no root of Q(tau^2) = k - p below 1e12")
    root = _optimize().brentq(
        lambda t: q_gen(t, y, vi, x) - target, 0.0, hi, xtol=1e-15, rtol=4 * _EPS, maxiter=1000
    )
    return float(root)


def _reml_ll(tau2: float, y: FloatArray, vi: FloatArray, x: FloatArray) -> float:
    k, p = x.shape
    w = 1.0 / (vi + tau2)
    xtwx = x.T @ (w[:, None] * x)
    rss = q_gen(tau2, y, vi, x)
    return float(
        -0.5 * (k - p) * np.log(2 * np.pi)
        - 0.5 * np.sum(np.log(vi + tau2))
        - 0.5 * np.linalg.slogdet(xtwx)[1]
        - 0.5 * rss
    )


def _reml_step(tau2: float, y: FloatArray, vi: FloatArray, x: FloatArray) -> float:
    """Fisher scoring step of REML: (y'PPy - tr P) / tr(PP)."""
    pm = _p_matrix(1.0 / (vi + tau2), x)
    py = pm @ y
    adj = (float(py @ py) - float(np.trace(pm))) / float(np.sum(pm * pm))
    return adj if math.isfinite(adj) else 0.0


def _fisher_scoring(
    tau2: float, yc: FloatArray, vi: FloatArray, x: FloatArray, stepadj: float
) -> float | None:
    """metafor's REML iteration from ``tau2``; None if it does not settle."""
    change = math.inf
    for _ in range(_MAXITER):
        adj = _reml_step(tau2, yc, vi, x) * stepadj
        while tau2 + adj < 0.0:  # step halving keeps tau^2 >= 0
            adj /= 2.0
        old, tau2 = tau2, tau2 + adj
        change = abs(old - tau2)
        if change <= _THRESHOLD * max(1.0, tau2):
            return tau2
    return tau2 if change <= 1e-9 else None  # stalled at rounding level is converged


def _tau2_reml(y: FloatArray, vi: FloatArray, x: FloatArray) -> float:
    k, p = x.shape
    # Hedges (HE) starting value, as metafor: (y'P_ols y - tr(P_ols V)) / (k - p)
    p_ols = np.eye(k) - x @ np.linalg.solve(x.T @ x, x.T)
    yc = y - y.mean()  # metafor centres y here (Ymc); P annihilates the intercept anyway
    start = max(0.0, (float(yc @ p_ols @ yc) - float(np.sum(np.diag(p_ols) * vi))) / (k - p))
    # Undamped Fisher scoring can cycle (metafor then stops with "did not converge" and
    # suggests control=list(stepadj=0.5)): damp the steps as that remedy does.
    for stepadj in _STEPADJ:
        found = _fisher_scoring(start, yc, vi, x, stepadj)
        if found is not None:
            tau2 = found
            break
    else:
        raise NoConvergenceError("REML: Fisher scoring did not converge")
    # At the boundary the steps only halve towards 0: the maximiser is exactly 0 when the
    # score there is not positive.
    if tau2 < 1e-10 and _reml_step(0.0, yc, vi, x) <= 0.0:
        tau2 = 0.0
    # metafor: if the (restricted) likelihood at tau^2 = 0 beats the solution, use 0
    if tau2 > _LL0_THRESHOLD and _reml_ll(0.0, y, vi, x) - _reml_ll(tau2, y, vi, x) > _LL0_TOL:
        tau2 = 0.0
    return max(0.0, float(tau2))


def estimate_tau2(estimator: Estimator, y: FloatArray, vi: FloatArray, x: FloatArray) -> float:
    """tau^2 by the chosen estimator (truncated at 0 as metafor does)."""
    if estimator is Estimator.DL:
        return _tau2_dl(y, vi, x)
    if estimator is Estimator.REML:
        return _tau2_reml(y, vi, x)
    if estimator is Estimator.PM:
        return _tau2_pm(y, vi, x)
    return 0.0


def fit(
    y: FloatArray,
    vi: FloatArray,
    x: FloatArray,
    estimator: Estimator,
    *,
    knha: bool,
    level: float,
) -> RmaFit:
    """Fit ``rma(yi, vi, mods=X[, -1], method=estimator, test="knha" or "z")``.

    ``beta = (X'WX)^-1 X'Wy`` and ``Var(beta) = (X'WX)^-1``; with Knapp–Hartung,
    ``Var(beta)`` is multiplied by ``s^2 = sum w_i (y_i - x_i'beta)^2 / (k - p)`` (metafor
    3.8 does not truncate s^2 at 1: that is its ``test="adhoc"``) and t with k - p df is used.
    The omnibus test QM covers the coefficients after the intercept (the intercept itself if
    p = 1): chi-square with m df, or F(m, k - p) as QM/m with Knapp–Hartung.
    """
    k, p = x.shape
    tau2 = estimate_tau2(estimator, y, vi, x)
    w = 1.0 / (vi + tau2)
    wx = w[:, None] * x
    vb = np.asarray(np.linalg.inv(x.T @ wx), dtype=np.float64)
    beta = vb @ (wx.T @ y)
    alpha = 1.0 - level
    ddf: int | None = None
    if knha:
        r = y - x @ beta
        rss = float(np.sum(w * r * r))
        s2w = 0.0 if rss <= _EPS else rss / (k - p)
        vb = vb * s2w
        ddf = k - p
    se = np.sqrt(np.diag(vb))
    btt = np.arange(1, p) if p > 1 else np.arange(1)
    m = len(btt)
    b = beta[btt]
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            qm = float(b @ np.linalg.solve(vb[np.ix_(btt, btt)], b))
        except np.linalg.LinAlgError:
            qm = float("nan")
    if ddf is not None:
        qm /= m
        qm_df: tuple[int, int | None] = (m, ddf)
        qm_p = float(_stats().f.sf(qm, m, ddf))
        crit = float(_stats().t.isf(alpha / 2, ddf))
    else:
        qm_df = (m, None)
        qm_p = float(_stats().chi2.sf(qm, m))
        crit = float(_stats().norm.isf(alpha / 2))
    # Heterogeneity: Q_E with the fixed-effect weights, I^2 and H^2 via the typical variance
    if k > p:
        p0 = _p_matrix(1.0 / vi, x)
        qe = max(0.0, float(y @ p0 @ y))
        qe_p = float(_stats().chi2.sf(qe, k - p))
        vt = (k - p) / float(np.trace(p0))
        if estimator is Estimator.EE:
            # metafor: max(0, 100 (QE - df)/QE), which is max(0, -Inf) = 0 when QE = 0
            i2 = max(0.0, 100.0 * (qe - (k - p)) / qe) if qe > 0 else 0.0
            h2 = qe / (k - p)
        else:
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
    else:
        qe, qe_p, i2, h2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    return RmaFit(
        k=k,
        p=p,
        beta=beta,
        vb=vb,
        se=se,
        tau2=tau2,
        weights=w,
        crit=crit,
        ddf=ddf,
        qm=qm,
        qm_df=qm_df,
        qm_p=qm_p,
        qe=qe,
        qe_p=qe_p,
        i2=i2,
        h2=h2,
        vt=vt,
    )


def q_profile(
    y: FloatArray, vi: FloatArray, x: FloatArray, tau2: float, level: float
) -> tuple[float, float]:
    """Q-profile confidence interval for tau^2 (Viechtbauer 2007), as ``confint.rma.uni()``.

    The bounds solve ``Q(tau^2) = chi^2_{k-p; 1-alpha/2}`` (lower) and
    ``Q(tau^2) = chi^2_{k-p; alpha/2}`` (upper) on ``[0, max(100, 10 tau^2)]``; a bound is 0
    when Q(0) is already below its critical value and the search limit when Q at the limit
    is still above it (metafor's rules).
    """
    k, p = x.shape
    alpha = 1.0 - level
    crit_u = float(_stats().chi2.isf(alpha / 2, k - p))
    crit_l = float(_stats().chi2.ppf(alpha / 2, k - p))
    lo_lim, hi_lim = 0.0, max(100.0, 10.0 * tau2)
    q_lo = q_gen(lo_lim, y, vi, x)
    q_hi = q_gen(hi_lim, y, vi, x)

    def root(target: float) -> float:
        return float(
            _optimize().brentq(
                lambda t: q_gen(t, y, vi, x) - target,
                lo_lim,
                hi_lim,
                xtol=1e-15,
                rtol=4 * _EPS,
                maxiter=1000,
            )
        )

    # the two blocks of confint.rma.uni(), in its order (the second may overwrite the first)
    ub = lo_lim if q_lo < crit_l else hi_lim if q_hi > crit_l else root(crit_l)
    if q_hi > crit_u:
        lb = ub = hi_lim
    else:
        lb = lo_lim if q_lo < crit_u else root(crit_u)
    return lb, ub
