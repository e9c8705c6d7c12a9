"""Exposure summaries computed while the integrator runs (no time series kept unless asked).

Within each accepted step ``[t0, t0 + h]`` the concentration is the cubic Hermite polynomial
through the step's end values and exact derivatives (third-order accurate; the integrator's
steps are short enough for this to be far inside 1 %):

::

    p(s) = h00(s)·c0 + h10(s)·h·c0' + h01(s)·c1 + h11(s)·h·c1',    s = (t − t0)/h ∈ [0, 1]
    h00 = 2s³ − 3s² + 1,  h10 = s³ − 2s² + s,  h01 = −2s³ + 3s²,  h11 = s³ − s²

and its integral over the step is ``h·(c0 + c1)/2 + h²·(c0' − c1')/12``. From it:

* ``auc``: ∫ C dt over the whole simulation (mg·h/L = µg·h/mL).
* ``auc_tau_max``: the largest AUC over one dosing interval (from one dose start to the next; a
  single-dose schedule uses the dose to the end of the simulation), compared with Mould's
  AUC(0–τ) threshold of 484 µg·h/mL.
* ``cmax``/``tmax``, ``wbc_nadir``/``t_nadir``: extremes at step ends and inside steps.
* Pre-dose concentrations (troughs): the concentration at each dose start (before the dose acts;
  an infusion or depot does not change C instantly). ``max_trough`` is the highest, compared with
  Mould's maximum-trough threshold of 13.2 µg/mL; weekly troughs are the lowest and highest
  pre-dose concentration of each week of the schedule, the very first dose excluded.
* ``time_above[x]``: total time with C ≥ x; ``time_to[x]``: first time C reaches x (NaN if never).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ._model import FloatArray

IntArray = npt.NDArray[np.intp]

PERCENTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)
"""Population percentiles reported everywhere."""
WEEK_H = 168.0
_BISECT = 30


def hermite(
    s: FloatArray | float,
    h: FloatArray | float,
    y0: FloatArray,
    y1: FloatArray,
    d0: FloatArray,
    d1: FloatArray,
) -> FloatArray:
    """The cubic Hermite interpolant at ``s ∈ [0, 1]`` (vectorised over patients)."""
    s2 = np.multiply(s, s)
    s3 = s2 * s
    out: FloatArray = (
        (2 * s3 - 3 * s2 + 1) * y0
        + (s3 - 2 * s2 + s) * h * d0
        + (-2 * s3 + 3 * s2) * y1
        + (s3 - s2) * h * d1
    )
    return out


def _interior_extreme(
    h: FloatArray, y0: FloatArray, y1: FloatArray, d0: FloatArray, d1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Value and position s of the interior extremum of the interpolant.

    Only for patients whose end slopes have opposite signs, so the derivative (a quadratic
    ``a·s² + b·s + c``) has exactly one root in (0, 1); it is taken from the numerically stable
    form of the quadratic formula.
    """
    dy = y0 - y1
    a = 6 * dy + 3 * h * (d0 + d1)
    b = -6 * dy - 4 * h * d0 - 2 * h * d1
    c = h * d0
    disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
    q = -0.5 * (b + np.where(b >= 0, disc, -disc))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(q != 0, c / q, np.nan)
        r2 = np.where(a != 0, q / a, np.nan)
    ok1 = (r1 >= 0) & (r1 <= 1)
    s = np.clip(np.where(ok1, r1, np.where(np.isfinite(r2), r2, 0.5)), 0.0, 1.0)
    return hermite(s, h, y0, y1, d0, d1), s


def _crossing(
    h: FloatArray,
    y0: FloatArray,
    y1: FloatArray,
    d0: FloatArray,
    d1: FloatArray,
    level: float,
    *,
    rising: bool,
) -> FloatArray:
    """Position s ∈ [0, 1] where the interpolant crosses ``level`` (bisection)."""
    lo = np.zeros_like(y0)
    hi = np.ones_like(y0)
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        above = hermite(mid, h, y0, y1, d0, d1) >= level
        before = ~above if rising else above
        lo = np.where(before, mid, lo)
        hi = np.where(before, hi, mid)
    out: FloatArray = 0.5 * (lo + hi)
    return out


def population_stats(values: FloatArray) -> dict[str, float]:
    """Mean and :data:`PERCENTILES` of finite values (NaN when none), plus the count of finite."""
    finite = values[np.isfinite(values)]
    out: dict[str, float] = {"n": float(finite.size)}
    if finite.size == 0:
        out["mean"] = math.nan
        out.update({f"p{p:g}": math.nan for p in PERCENTILES})
        return out
    out["mean"] = float(finite.mean())
    qs = np.percentile(finite, PERCENTILES)
    out.update({f"p{p:g}": float(q) for p, q in zip(PERCENTILES, qs, strict=True)})
    return out


def population_stats_rows(rows: FloatArray) -> list[dict[str, float]]:
    """:func:`population_stats` of every row of a 2-D array (the NumPy reference).

    The compiled kernel's :func:`cllcds.pk._kernel.population_stats_rows` gives the same
    numbers, bit for bit, in parallel over the rows.
    """
    return [population_stats(row) for row in rows]


RowsStats = Callable[[FloatArray], list[dict[str, float]]]
"""Population statistics of every row of a 2-D array (:func:`population_stats_rows`)."""

PENDING_VALUES = 2_000_000
"""Values (patients × rows, 16 MB) a :class:`Summariser` holds before it computes their
population statistics in one batch."""


def _value(values: FloatArray) -> dict[str, float]:
    return {"value": float(values[0])}


@dataclass
class WeekTroughs:
    """Population statistics of one week's lowest and highest pre-dose concentration."""

    week: int
    doses: int
    lowest: dict[str, float]
    highest: dict[str, float]


@dataclass
class Summariser:
    """A :class:`~cllcds.pk._simulate.StepObserver` that streams the exposure summaries.

    Parameters
    ----------
    n
        Number of patients.
    dose_times
        Start time of every dose (sorted; shared by all patients).
    thresholds
        Concentrations (mg/L) for ``time_above``.
    targets
        Concentrations (mg/L) for ``time_to``.
    auc_threshold
        AUC(0–τ) (mg·h/L) for ``t_auc_threshold``.
    trough_threshold
        Pre-dose concentration (mg/L) for ``t_trough_threshold``.
    grid
        Output times (h, sorted); at each, ``on_grid`` is called with C and W of every patient.
    """

    n: int
    dose_times: Sequence[float]
    thresholds: Sequence[float]
    targets: Sequence[float]
    auc_threshold: float
    trough_threshold: float
    grid: Sequence[float] = ()
    keep_profiles: bool = False
    keep_intervals: bool = False
    """Also keep every patient's AUC of every dosing interval (memory ∝ patients × doses)."""
    residual: tuple[np.random.Generator, float, float, float] | None = None
    """(rng, proportional SD, additive SD mg/L, WBC additive SD) to add residual error at the
    output times."""
    rows_stats: RowsStats = population_stats_rows
    """How the population statistics of the output rows and weekly troughs are computed, in
    batches of up to :data:`PENDING_VALUES` values; their dictionaries are filled in when a
    batch is full and at :meth:`finish`."""

    cmax: FloatArray = field(init=False)
    tmax: FloatArray = field(init=False)
    auc: FloatArray = field(init=False)
    auc_tau_max: FloatArray = field(init=False)
    t_auc_threshold: FloatArray = field(init=False)
    max_trough: FloatArray = field(init=False)
    t_trough_threshold: FloatArray = field(init=False)
    wbc_nadir: FloatArray = field(init=False)
    t_nadir: FloatArray = field(init=False)
    time_above: list[FloatArray] = field(init=False)
    time_to: list[FloatArray] = field(init=False)
    weeks: list[WeekTroughs] = field(init=False)
    grid_times: list[float] = field(init=False)
    grid_stats: list[dict[str, dict[str, float]]] = field(init=False)
    profiles_c: list[FloatArray] = field(init=False)
    profiles_w: list[FloatArray] = field(init=False)
    c_end: FloatArray = field(init=False)
    w_end: FloatArray = field(init=False)
    interval_auc: list[FloatArray] = field(init=False)
    interval_start: list[float] = field(init=False)

    def __post_init__(self) -> None:
        n = self.n
        nan = np.full(n, np.nan)
        self.cmax = np.zeros(n)
        self.tmax = np.zeros(n)
        self.auc = np.zeros(n)
        self.auc_tau_max = np.zeros(n)
        self.t_auc_threshold = nan.copy()
        self.max_trough = np.zeros(n)
        self.t_trough_threshold = nan.copy()
        self.wbc_nadir = np.full(n, np.inf)
        self.t_nadir = np.zeros(n)
        self.time_above = [np.zeros(n) for _ in self.thresholds]
        self.time_to = [nan.copy() for _ in self.targets]
        self.weeks = []
        self.grid_times = []
        self.grid_stats = []
        self.profiles_c = []
        self.profiles_w = []
        self.c_end = np.zeros(n)
        self.w_end = np.zeros(n)
        self.interval_auc = []
        self.interval_start = []
        self._grid = np.asarray(self.grid, dtype=np.float64)
        self._gi = 0
        self._dose_times = np.asarray(self.dose_times, dtype=np.float64)
        self._first_dose = float(self._dose_times[0]) if self._dose_times.size else 0.0
        self._distinct = np.unique(self._dose_times)
        self._interval_auc = np.zeros(n)
        self._interval_start: float | None = None
        self._week: int | None = None
        self._week_doses = 0
        self._week_low = np.full(n, np.inf)
        self._week_high = np.full(n, -np.inf)
        self._seen_first = False
        self._pending = np.empty((max(1, min(256, PENDING_VALUES // max(n, 1))), n))
        self._pending_slots: list[dict[str, float]] = []

    # -- population statistics, in batches ---------------------------------------------------
    def _stats_later(self, values: FloatArray) -> dict[str, float]:
        """The population statistics of ``values`` (copied), filled in by :meth:`flush_stats`."""
        if self.n == 1:
            return _value(values)
        if len(self._pending_slots) == self._pending.shape[0]:
            self.flush_stats()
        self._pending[len(self._pending_slots)] = values
        slot: dict[str, float] = {}
        self._pending_slots.append(slot)
        return slot

    def flush_stats(self) -> None:
        """Compute the statistics of every row held by :meth:`_stats_later`."""
        k = len(self._pending_slots)
        if k == 0:
            return
        for slot, stats in zip(
            self._pending_slots, self.rows_stats(self._pending[:k]), strict=True
        ):
            slot.update(stats)
        self._pending_slots = []

    # -- observer protocol -------------------------------------------------------------------
    def on_event(
        self, t: float, t_next: float, c: FloatArray, w: FloatArray, dose_starts: int
    ) -> None:
        """All patients at ``t``: record output rows and pre-dose troughs, close intervals."""
        self._emit_grid_at(t, c, w)
        if not self._seen_first:
            self.wbc_nadir = np.minimum(self.wbc_nadir, w)
            self._seen_first = True
            self._update_cmax(np.arange(self.n), c, np.zeros(self.n))
        if dose_starts:
            self._close_interval(t)
            self._interval_start = t
            self._trough(t, c)
        self.c_end = np.maximum(c, 0.0)
        self.w_end = w

    def needs(self, t: float, dose_starts: int) -> bool:
        """Whether :meth:`on_event` at ``t`` uses C and W (an output time or a dose start);
        elsewhere it may be skipped (the compiled kernel then keeps no values there)."""
        if dose_starts:
            return True
        return bool(np.any(np.abs(self._grid - t) <= 1e-9 * max(1.0, t)))

    def on_step(
        self,
        idx: IntArray,
        t0: FloatArray,
        h: FloatArray,
        c0: FloatArray,
        c1: FloatArray,
        dc0: FloatArray,
        dc1: FloatArray,
        w0: FloatArray,
        w1: FloatArray,
        dw0: FloatArray,
        dw1: FloatArray,
    ) -> None:
        """Accumulate AUC, extremes, times above thresholds and first crossings."""
        t1 = t0 + h
        piece = h * (c0 + c1) / 2 + h * h * (dc0 - dc1) / 12
        self.auc[idx] += piece
        self._interval_auc[idx] += piece
        self._update_cmax(idx, c1, t1)
        peak = (dc0 > 0) & (dc1 < 0)
        if peak.any():
            j = np.flatnonzero(peak)
            val, s = _interior_extreme(h[j], c0[j], c1[j], dc0[j], dc1[j])
            self._update_cmax(idx[j], val, t0[j] + s * h[j])
        # WBC nadir at step ends only: W can be stiff, and a polynomial through its end
        # slopes is then unreliable inside the step (steps are short near a nadir).
        self._update_nadir(idx, w1, t1)
        for k, level in enumerate(self.thresholds):
            self._time_above(k, level, idx, h, c0, c1, dc0, dc1)
        for k, level in enumerate(self.targets):
            self._time_to(k, level, idx, t0, h, c0, c1, dc0, dc1)

    # -- pieces ------------------------------------------------------------------------------
    def _update_cmax(self, idx: IntArray, c: FloatArray, t: FloatArray) -> None:
        higher = c > self.cmax[idx]
        if higher.any():
            j = idx[higher]
            self.cmax[j] = c[higher]
            self.tmax[j] = t[higher]

    def _update_nadir(self, idx: IntArray, w: FloatArray, t: FloatArray) -> None:
        lower = w < self.wbc_nadir[idx]
        if lower.any():
            j = idx[lower]
            self.wbc_nadir[j] = w[lower]
            self.t_nadir[j] = t[lower]

    def _close_interval(self, t: float) -> None:
        if self._interval_start is None or t <= self._interval_start:
            return
        self._finish_interval(self._interval_start)

    def _finish_interval(self, start: float) -> None:
        auc = self._interval_auc
        self.auc_tau_max = np.maximum(self.auc_tau_max, auc)
        hit = (auc >= self.auc_threshold) & np.isnan(self.t_auc_threshold)
        self.t_auc_threshold[hit] = start
        if self.keep_intervals:
            self.interval_auc.append(auc)
            self.interval_start.append(start)
        self._interval_auc = np.zeros(self.n)

    def finish(self) -> None:
        """Close the last week and, for a single-dose schedule, the only interval; compute the
        population statistics still pending."""
        if self._distinct.size == 1 and self._interval_start is not None:
            self._finish_interval(self._interval_start)
        self._close_week()
        self.flush_stats()

    def _trough(self, t: float, c: FloatArray) -> None:
        week = math.floor((t - self._first_dose) / WEEK_H + 1e-9)
        if self._week is not None and week != self._week:
            self._close_week()
        self._week = week
        first = t == self._first_dose
        if first:
            return
        self._week_doses += 1
        self._week_low = np.minimum(self._week_low, c)
        self._week_high = np.maximum(self._week_high, c)
        self.max_trough = np.maximum(self.max_trough, c)
        hit = (c >= self.trough_threshold) & np.isnan(self.t_trough_threshold)
        self.t_trough_threshold[hit] = t

    def _close_week(self) -> None:
        if self._week is None or self._week_doses == 0:
            return
        self.weeks.append(
            WeekTroughs(
                week=self._week + 1,
                doses=self._week_doses,
                lowest=self._stats_later(self._week_low),
                highest=self._stats_later(self._week_high),
            )
        )
        self._week_doses = 0
        self._week_low = np.full(self.n, np.inf)
        self._week_high = np.full(self.n, -np.inf)

    def _time_above(
        self,
        k: int,
        level: float,
        idx: IntArray,
        h: FloatArray,
        c0: FloatArray,
        c1: FloatArray,
        dc0: FloatArray,
        dc1: FloatArray,
    ) -> None:
        a0 = c0 >= level
        a1 = c1 >= level
        if not (a0.any() or a1.any()):
            return
        acc = self.time_above[k]
        both = a0 & a1
        acc[idx[both]] += h[both]
        cross = a0 != a1
        if cross.any():
            j = np.flatnonzero(cross)
            for rising in (True, False):
                sel = j[a1[j]] if rising else j[a0[j]]
                if sel.size:
                    s = _crossing(
                        h[sel], c0[sel], c1[sel], dc0[sel], dc1[sel], level, rising=rising
                    )
                    acc[idx[sel]] += ((1 - s) if rising else s) * h[sel]

    def _time_to(
        self,
        k: int,
        level: float,
        idx: IntArray,
        t0: FloatArray,
        h: FloatArray,
        c0: FloatArray,
        c1: FloatArray,
        dc0: FloatArray,
        dc1: FloatArray,
    ) -> None:
        reached = c1 >= level
        if not reached.any():
            return
        out = self.time_to[k]
        j = np.flatnonzero(reached)
        j = j[np.isnan(out[idx[j]])]
        if not j.size:
            return
        s = _crossing(h[j], c0[j], c1[j], dc0[j], dc1[j], level, rising=True)
        out[idx[j]] = np.where(c0[j] >= level, t0[j], t0[j] + s * h[j])

    # -- output grid -------------------------------------------------------------------------
    def _emit_grid_at(self, t: float, c: FloatArray, w: FloatArray) -> None:
        """Output times are synchronisation points: every patient has a step end there."""
        g = self._grid
        while self._gi < g.size and g[self._gi] <= t + 1e-9 * max(1.0, t):
            if abs(g[self._gi] - t) <= 1e-9 * max(1.0, t):
                self._record(float(g[self._gi]), c, w)
            self._gi += 1

    def _record(self, t: float, c: FloatArray, w: FloatArray) -> None:
        if self.grid_times and t == self.grid_times[-1]:
            return
        c = np.maximum(c, 0.0)  # round-off can leave -1e-16 where the drug is gone
        if self.residual is not None:
            rng, prop, add, wadd = self.residual
            c = c * (1 + rng.normal(0.0, prop, c.size)) + rng.normal(0.0, add, c.size)
            w = w + rng.normal(0.0, wadd, w.size)
        self.grid_times.append(t)
        if self.keep_profiles:
            self.profiles_c.append(np.array(c, copy=True))
            self.profiles_w.append(np.array(w, copy=True))
        self.grid_stats.append({"concentration": self._stats_later(c), "wbc": self._stats_later(w)})
