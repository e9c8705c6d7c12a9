"""Transformations of single-arm proportions and their inverses, as R metafor computes them.

Status: verified against R metafor 3.8.1 (``escalc()``, ``transf.ilogit``, ``transf.ipft``,
``transf.ipft.hm``, ``transf.iarcsin``) by ``tests/evidence/test_meta_reference.py``.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class Transform(Enum):
    """The scale on which proportions are pooled (metafor's ``measure``).

    The value is the short name used by cllcds; :attr:`measure` is metafor's name.
    """

    RAW = "raw"
    """Raw proportion, metafor ``"PR"``: y = x/n, v = y(1-y)/n."""
    LOGIT = "logit"
    """Log odds, metafor ``"PLO"``: y = log(x/(n-x)), v = 1/x + 1/(n-x)."""
    FREEMAN_TUKEY = "ft"
    """Freeman–Tukey double arcsine, metafor ``"PFT"``: v = 1/(4n+2)."""
    ARCSINE = "arcsine"
    """Arcsine square root, metafor ``"PAS"``: y = asin(sqrt(x/n)), v = 1/(4n)."""

    @property
    def measure(self) -> str:
        """metafor's ``measure=`` for this transformation."""
        return _MEASURE[self]

    @property
    def label(self) -> str:
        """A human-readable name (for plots and reports)."""
        return _LABEL[self]

    @property
    def default_add(self) -> float:
        """metafor's default continuity correction for this measure.

        ``escalc()`` uses ``add=1/2`` for ``"PR"`` and ``"PLO"`` but silently switches to
        ``add=0`` for ``"PFT"`` and ``"PAS"`` when ``add`` is not given (these transforms are
        finite at 0 and n events).
        """
        return 0.5 if self in (Transform.RAW, Transform.LOGIT) else 0.0


_MEASURE = {
    Transform.RAW: "PR",
    Transform.LOGIT: "PLO",
    Transform.FREEMAN_TUKEY: "PFT",
    Transform.ARCSINE: "PAS",
}
_LABEL = {
    Transform.RAW: "raw proportion",
    Transform.LOGIT: "logit",
    Transform.FREEMAN_TUKEY: "Freeman–Tukey double arcsine",
    Transform.ARCSINE: "arcsine square root",
}


class ContinuityCorrection(Enum):
    """Which studies get the continuity correction ``add`` (metafor ``escalc(to=)``)."""

    ONLY0 = "only0"
    """Only studies with 0 events or 0 non-events (metafor's default)."""
    ALL = "all"
    """Every study."""
    IF0ALL = "if0all"
    """Every study, if any study has 0 events or 0 non-events."""
    NONE = "none"
    """No study."""


def corrected(
    events: npt.NDArray[np.int64], n: npt.NDArray[np.int64], to: ContinuityCorrection
) -> npt.NDArray[np.bool_]:
    """Which studies ``escalc(to=)`` adds the continuity correction to."""
    zero = (events == 0) | (events == n)
    if to is ContinuityCorrection.ALL or (to is ContinuityCorrection.IF0ALL and bool(zero.any())):
        return np.ones(events.shape, dtype=np.bool_)
    if to is ContinuityCorrection.ONLY0:
        return np.asarray(zero, dtype=np.bool_)
    return np.zeros(events.shape, dtype=np.bool_)


def escalc(
    events: npt.NDArray[np.int64],
    n: npt.NDArray[np.int64],
    transform: Transform,
    add: float,
    to: ContinuityCorrection,
) -> tuple[FloatArray, FloatArray]:
    """Observed outcomes and sampling variances, as metafor ``escalc()`` computes them.

    With ``x`` events and ``m = n - x`` non-events, corrected to ``x + add`` and ``m + add``
    where ``to`` says, ``n' = x + m`` and ``p = x/n'``:

    ========  ===============================================  =================
    measure   y                                                v
    ========  ===============================================  =================
    PR        p                                                p(1-p)/n'
    PLO       log(p/(1-p))                                     1/x + 1/m
    PAS       asin(sqrt(p))                                    1/(4n')
    PFT       (asin(sqrt(x/(n'+1))) + asin(sqrt((x+1)/(n'+1))))/2   1/(4n'+2)
    ========  ===============================================  =================

    Status: verified against R metafor 3.8.1 ``escalc(measure, xi, ni, add, to)``.

    Examples
    --------
    >>> import numpy as np
    >>> yi, vi = escalc(np.array([0, 3]), np.array([12, 10]), Transform.LOGIT, 0.5,
    ...                 ContinuityCorrection.ONLY0)
    >>> [round(float(v), 4) for v in yi]
    [-3.2189, -0.8473]
    """
    x = events.astype(np.float64)
    m = n.astype(np.float64) - x
    fix = corrected(events, n, to)
    x, m = x + add * fix, m + add * fix
    nn = x + m
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / nn
        if transform is Transform.RAW:
            return p, p * (1.0 - p) / nn
        if transform is Transform.LOGIT:
            # metafor: log(pri/(1 - pri)) and 1/xi + 1/mi (same operations, same rounding)
            return np.log(p / (1.0 - p)), 1.0 / x + 1.0 / m
        if transform is Transform.ARCSINE:
            return np.arcsin(np.sqrt(p)), 1.0 / (4.0 * nn)
        yi = 0.5 * (np.arcsin(np.sqrt(x / (nn + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (nn + 1.0))))
        return yi, 1.0 / (4.0 * nn + 2.0)


def pft(p: FloatArray, n: FloatArray | float) -> FloatArray:
    """Freeman–Tukey transform of a proportion (metafor ``transf.pft``)."""
    x = p * n
    return np.asarray(
        0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0)))),
        dtype=np.float64,
    )


def ipft(y: FloatArray, n: FloatArray | float) -> FloatArray:
    """Inverse Freeman–Tukey transform, Miller (1978) (metafor ``transf.ipft``).

    ``p = (1 - sign(cos 2y) sqrt(1 - (sin 2y + (sin 2y - 1/sin 2y)/n)^2))/2``, set to 0
    below ``pft(0, n)`` and to 1 above ``pft(1, n)``, as metafor does; where the formula has
    no real value inside that range the result is NaN (metafor: NA).
    """
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(2.0 * y)
        z = 0.5 * (1.0 - np.sign(np.cos(2.0 * y)) * np.sqrt(1.0 - (s + (s - 1.0 / s) / n) ** 2))
    z = np.where(y > pft(np.ones_like(y), n), 1.0, z)
    return np.asarray(np.where(y < pft(np.zeros_like(y), n), 0.0, z), dtype=np.float64)


def ipft_hm(y: FloatArray, n: FloatArray) -> FloatArray:
    """Inverse Freeman–Tukey transform with the harmonic mean of the n's (``transf.ipft.hm``).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(ipft_hm(np.array([0.5]), np.array([10.0, 30.0]))[0]), 6)  # R: 0.2126347
    0.212635
    """
    nhm = 1.0 / float(np.mean(1.0 / n))
    return ipft(y, nhm)


def iarcsin(y: FloatArray) -> FloatArray:
    """Inverse arcsine square root, ``sin(y)^2``, clamped to [0, 1] outside [0, pi/2]."""
    y = np.asarray(y, dtype=np.float64)
    z = np.where(y < 0.0, 0.0, np.sin(y) ** 2)
    return np.asarray(np.where(y > np.arcsin(1.0), 1.0, z), dtype=np.float64)


def ilogit(y: FloatArray) -> FloatArray:
    """Inverse logit (``plogis``)."""
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(y, dtype=np.float64))), dtype=np.float64)


def back_transform(transform: Transform, y: FloatArray, n: FloatArray) -> FloatArray:
    """Back to the proportion scale as metafor's ``transf=`` does for pooled values.

    Freeman–Tukey uses the harmonic mean of ``n`` (``transf.ipft.hm``); raw proportions are
    returned as they are (metafor does not clamp them to [0, 1]).
    """
    y = np.asarray(y, dtype=np.float64)
    if transform is Transform.LOGIT:
        return ilogit(y)
    if transform is Transform.FREEMAN_TUKEY:
        return ipft_hm(y, n)
    if transform is Transform.ARCSINE:
        return iarcsin(y)
    return y


def back_transform_each(transform: Transform, y: FloatArray, n: FloatArray) -> FloatArray:
    """Back-transform study values, Freeman–Tukey with each study's own ``n`` (``transf.ipft``)."""
    if transform is Transform.FREEMAN_TUKEY:
        return ipft(y, n)
    return back_transform(transform, y, n)
