"""Vectorised, event-aware integration of the Mould 2007 model over many patients at once.

Method
------
All virtual patients are advanced together, as arrays of length ``n`` per state, by a
4th-order Rosenbrock method with an embedded 3rd-order error estimate (Shampine 1982
parameter set, as in Press et al., *Numerical Recipes* 2nd ed. §16.6, routine ``stiff``). A
Rosenbrock (linearly implicit) method is used because the model is stiff for some virtual
patients: with the published inter-individual variability a few patients in 10⁵ have WBC-loss
rates Kout·Emax of several hundred per hour while the whole schedule lasts thousands of hours.
The linear systems ``(I/(γh) − J) g = b`` have an arrowhead structure (A1 couples to A2, W and
the SC depot, which do not couple to one another), so they are solved in closed form,
elementwise, without a matrix factorisation.

The schedule is cut into segments at every dose start and infusion end (the input rate is
discontinuous there), and each segment is integrated with a step shared by all patients and
chosen so that every patient's local error meets ``rtol``/``atol`` (max norm over patients and
states). Between events the right-hand side is autonomous. Output times and summaries are taken
from the steps (cubic Hermite interpolation between step ends, which uses the exact derivatives
at both ends), so no time point is stored unless asked.

Accuracy: compared with ``scipy.integrate.solve_ivp(method="Radau", rtol=1e-10, atol=1e-12)``
per patient, concentrations and WBC agree to well within 1 % (tests/pk, scripts/pk_reference.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cllcds.domain import InputError

from ._doses import DoseRoute, DoseTable
from ._model import WBC_REFERENCE, FloatArray, Individuals

IntArray = npt.NDArray[np.intp]

# Shampine (1982) Rosenbrock 4(3) parameters, as printed in Numerical Recipes (§16.6, `stiff`).
_GAM = 1.0 / 2.0
_A21 = 2.0
_A31 = 48.0 / 25.0
_A32 = 6.0 / 25.0
_C21 = -8.0
_C31 = 372.0 / 25.0
_C32 = 12.0 / 5.0
_C41 = -112.0 / 125.0
_C42 = -54.0 / 125.0
_C43 = -2.0 / 5.0
_B1 = 19.0 / 9.0
_B2 = 1.0 / 2.0
_B3 = 25.0 / 108.0
_B4 = 125.0 / 108.0
_E1 = 17.0 / 54.0
_E2 = 7.0 / 36.0
_E4 = 125.0 / 108.0

DEFAULT_RTOL = 1e-6
"""Local relative tolerance per step; gives global errors far below 1 % (see tests/pk)."""
DEFAULT_ATOL = (1e-7, 1e-7, 1e-6, 1e-7)
"""Absolute tolerances for A1 (mg), A2 (mg), W (10⁹/L), SC depot (mg)."""
_SAFETY = 0.9
_MAX_GROW = 4.0
_MIN_SHRINK = 0.2
_H_RESTART = 0.05
"""First step (h) after the first event of a kind that changes the input (see :data:`_PHASES`)."""
_PHASES = 4
"""Kinds of input change, each with its own remembered first step: the segment after the change
has an infusion running or not (``rate > 0``) and starts with an SC dose or not. After an input
change a patient's step is the smaller of its current step and the step its controller proposed
after the first accepted step of the last segment that began with a change of the same kind
(:data:`_H_RESTART` before any): the schedule repeats, so the previous dose's start is a good
guess; each step is still accepted only if its local error meets the tolerance."""
_MAX_STEPS = 2_000_000
_NEG_AMOUNTS = 10.0
"""A step is rejected when an amount ends below −10·atol."""
_W_FLOOR = 1e-12

# x**a from IEEE-754 basic operations only (x = m·2**e by frexp, a table of m_j**a at 256 cells
# of [0.5, 1), a table of 2**(a·e), and the binomial series of (m/m_j)**a with |m/m_j - 1| ≤
# 1/512, 7 terms: within a few units in the last place, tests/pk/test_power.py). Library
# `pow`/`cbrt` differ between NumPy (SIMD, e.g. AVX-512 SVML) and C (numba) in the last bit on
# some machines; with this the NumPy path and the compiled kernel compute every number
# identically on every machine.
_POW_CELLS = 256
_POW_TERMS = 7
_POW_EMIN = -64
_POW_EMAX = 1000
_POW_INV = _POW_TERMS
_POW_MANT = _POW_INV + _POW_CELLS
_POW_EXP = _POW_MANT + _POW_CELLS
_POW_SIZE = _POW_EXP + _POW_EMAX - _POW_EMIN + 1
_POW_SMALLEST = 2.0 ** (_POW_EMIN - 1)
_POW_LARGEST = 2.0 ** (_POW_EMAX - 1)
"""Arguments outside [smallest, largest) (or NaN) give NaN (never reached by the model)."""


def power_table(a: float) -> FloatArray:
    """The table with which :func:`_power` computes ``x**a`` (series coefficients, 1/m_j,
    m_j**a, 2**(a·e))."""
    t = np.empty(_POW_SIZE)
    coef = 1.0
    for k in range(_POW_TERMS):
        t[k] = coef  # binomial coefficient (a choose k)
        coef *= (a - k) / (k + 1)
    centre = 0.5 + (np.arange(_POW_CELLS) + 0.5) / (2 * _POW_CELLS)
    t[_POW_INV:_POW_MANT] = 1.0 / centre
    with np.errstate(over="ignore", under="ignore"):
        t[_POW_MANT:_POW_EXP] = centre**a
        t[_POW_EXP:] = np.exp2(a * np.arange(_POW_EMIN, _POW_EMAX + 1, dtype=np.float64))
    return t


def _power(x: FloatArray, table: FloatArray) -> FloatArray:
    """``x**a`` elementwise for the ``a`` of ``table`` (:func:`power_table`), by the same
    operations as the compiled kernel's ``_power``."""
    ok = (x >= _POW_SMALLEST) & (x < _POW_LARGEST)
    m, e = np.frexp(np.where(ok, x, 1.0))
    j = ((m - 0.5) * (2 * _POW_CELLS)).astype(np.intp)
    u = m * table[_POW_INV + j] - 1.0
    s = np.full(u.shape, table[_POW_TERMS - 1])
    for k in range(_POW_TERMS - 2, -1, -1):
        s = s * u + table[k]
    r: FloatArray = table[_POW_MANT + j] * table[_POW_EXP - _POW_EMIN + e] * s
    return np.where(ok, r, np.nan)


CUBE_ROOT = power_table(1.0 / 3.0)
"""x**(1/3), for the step-size reduction after a rejected step."""
_SHRINK_CLIP = 1e-3
"""1/e below this gives the smallest reduction anyway (0.9·0.1 < :data:`_MIN_SHRINK`)."""


class StepObserver(Protocol):
    """Receives the solution step by step (see :mod:`cllcds.pk._summaries`)."""

    def on_event(
        self, t: float, t_next: float, c: FloatArray, w: FloatArray, dose_starts: int
    ) -> None:
        """All patients are at ``t`` (before any dose starting at ``t`` acts); the next
        synchronisation point is ``t_next`` (equal to ``t`` at the end)."""

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
        """After accepted steps of the patients ``idx``, each from ``t0`` to ``t0 + h``
        (``c``/``w`` concentration and WBC at both ends, ``dc``/``dw`` their derivatives)."""


@dataclass(frozen=True, slots=True)
class _Segment:
    t0: float
    t1: float
    rate_mg_per_h: float
    sc_mg: float
    """SC amount given at t0 (before bioavailability)."""
    dose_starts: int
    """Number of dose rows starting at t0."""
    input_changes: bool

    @property
    def phase(self) -> int:
        """Which remembered first step applies after an input change (:data:`_PHASES`)."""
        return (1 if self.rate_mg_per_h > 0 else 0) + (2 if self.sc_mg > 0 else 0)


def _segments(doses: DoseTable, t_end: float, sync: Sequence[float] = ()) -> list[_Segment]:
    points = {0.0, t_end, *(float(x) for x in sync if 0 < x < t_end)}
    for d in doses.doses:
        if d.time_h < t_end:
            points.add(d.time_h)
        if d.route is DoseRoute.IV and d.end_h < t_end:
            points.add(d.end_h)
    bps = sorted(p for p in points if p <= t_end)
    segs: list[_Segment] = []
    prev_rate = 0.0
    for t0, t1 in itertools.pairwise(bps):
        rate = sum(
            d.dose_mg / d.duration_h
            for d in doses.doses
            if d.route is DoseRoute.IV and d.time_h <= t0 < d.end_h
        )
        starts = [d for d in doses.doses if d.time_h == t0]
        sc = sum(d.dose_mg for d in starts if d.route is DoseRoute.SC)
        segs.append(_Segment(t0, t1, rate, sc, len(starts), rate != prev_rate or sc > 0))
        prev_rate = rate
    return segs


class _Model:
    """Right-hand side and Jacobian pieces, vectorised over patients."""

    def __init__(self, ind: Individuals) -> None:
        self.inv_v1 = 1.0 / ind.v1_l
        self.q_v1 = ind.q_l_per_h / ind.v1_l
        self.q_v2 = ind.q_l_per_h / ind.v2_l
        self.vmax = ind.vmax_mg_per_h
        self.km = ind.km_mg_per_l
        self.emax = ind.emax
        self.ec50 = ind.ec50_mg_per_l
        self.kin = ind.kin_1e9_per_l_h
        self.kout = ind.kout_per_h
        self.ka = ind.ka_per_h
        self.wexp = ind.wbc_exponent
        self.wpow = power_table(ind.wbc_exponent)

    def rhs(self, y: FloatArray, rate: float) -> FloatArray:
        a1, a2, w, asc = y
        c = a1 * self.inv_v1
        # C⁺ in the saturable terms: a round-off undershoot below 0 then decays linearly
        # instead of meeting the poles at C = −Km and C = −EC50 (identical for C ≥ 0).
        cp = np.maximum(c, 0.0)
        vm = self.vmax * _power(np.maximum(w, _W_FLOOR) / WBC_REFERENCE, self.wpow)
        # One division for both saturable terms: 1/((Km + C⁺)(EC50 + C⁺)).
        den = self.km + cp
        den50 = self.ec50 + cp
        r = 1.0 / (den * den50)
        elim = vm * c * den50 * r
        f = np.empty_like(y)
        absorbed = self.ka * asc
        f[0] = rate + absorbed - elim - self.q_v1 * a1 + self.q_v2 * a2
        f[1] = self.q_v1 * a1 - self.q_v2 * a2
        f[2] = self.kin - self.kout * (1.0 + self.emax * cp * den * r) * w
        f[3] = -absorbed
        return f

    def jacobian(self, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """The state-dependent entries j11, j13, j31, j33 (the others are constants)."""
        a1, _, w, _ = y
        c = a1 * self.inv_v1
        cp = np.maximum(c, 0.0)
        wpos = np.maximum(w, _W_FLOOR)
        vm = self.vmax * _power(wpos / WBC_REFERENCE, self.wpow)
        den = self.km + cp
        den50 = self.ec50 + cp
        r = 1.0 / (den * den50)
        iden = den50 * r  # 1/(Km + C⁺)
        iden50 = den * r  # 1/(EC50 + C⁺)
        j11 = -vm * self.km * self.inv_v1 * iden * iden - self.q_v1
        j13 = -self.wexp * vm * c * iden / wpos
        j31 = np.where(
            c > 0, -self.kout * self.emax * self.ec50 * self.inv_v1 * iden50 * iden50 * w, 0.0
        )
        j33 = -self.kout * (1.0 + self.emax * cp * iden50)
        return j11, j13, j31, j33


class _Solver:
    """Solves (I/(γh) − J) x = b for the arrowhead Jacobian of the model, elementwise."""

    def __init__(self, m: _Model, y: FloatArray, h: FloatArray) -> None:
        j11, j13, j31, j33 = m.jacobian(y)
        self.inv_h = 1.0 / h
        d = self.inv_h * (1.0 / _GAM)  # 1/(γh), exact (γ = 1/2)
        dq = d + m.q_v2  # j22 = -Q/V2
        dj = d - j33
        pq = 1.0 / (dq * dj)
        self.p2 = dj * pq
        self.p3 = dq * pq
        self.p4 = 1.0 / (d + m.ka)  # j44 = -ka
        self.j21 = m.q_v1
        self.j31 = j31
        self.ka = m.ka
        self.u2 = m.q_v2 * self.p2  # j12 = Q/V2
        self.u3 = j13 * self.p3
        self.s = 1.0 / (d - j11 - m.q_v2 * m.q_v1 * self.p2 - j13 * j31 * self.p3)

    def solve(self, b: FloatArray) -> FloatArray:
        x = np.empty_like(b)
        x[3] = b[3] * self.p4
        x[0] = self.s * (b[0] + self.ka * x[3] + self.u2 * b[1] + self.u3 * b[2])
        x[1] = self.p2 * (b[1] + self.j21 * x[0])
        x[2] = self.p3 * (b[2] + self.j31 * x[0])
        return x


@dataclass(frozen=True, slots=True)
class IntegrationStats:
    """How much work the integration took."""

    steps: int
    """Accepted patient-steps (summed over patients)."""
    rejected: int
    """Rejected patient-steps."""
    iterations: int
    """Vectorised iterations (each advances every unfinished patient by one step)."""
    segments: int
    patients: int


class _Work:
    """The patients still integrating in a segment, with gathered copies of their arrays."""

    def __init__(
        self,
        idx: IntArray,
        ind: Individuals,
        y: FloatArray,
        f: FloatArray,
        t: FloatArray,
        h: FloatArray,
        first: npt.NDArray[np.bool_],
    ) -> None:
        self.idx = idx
        self.model = _Model(ind.take(idx))
        self.y = y[:, idx]
        self.f = f[:, idx]
        self.t = t[idx]
        self.h = h[idx]
        self.first = first[idx]
        self.active = np.ones(idx.size, dtype=bool)

    def store(
        self,
        y: FloatArray,
        f: FloatArray,
        t: FloatArray,
        h: FloatArray,
        first: npt.NDArray[np.bool_],
    ) -> None:
        y[:, self.idx] = self.y
        f[:, self.idx] = self.f
        t[self.idx] = self.t
        h[self.idx] = self.h
        first[self.idx] = self.first


def integrate(
    ind: Individuals,
    doses: DoseTable,
    t_end: float,
    observer: StepObserver,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: Sequence[float] = DEFAULT_ATOL,
    h_max: float = 24.0,
    sync: Sequence[float] = (),
) -> tuple[FloatArray, IntegrationStats]:
    """Integrate all patients from 0 to ``t_end`` and feed ``observer``; return the final state.

    Every patient has its own step size (a patient with fast dynamics takes more, shorter
    steps without slowing the others); all patients meet at every event (dose start,
    infusion end) and at the extra ``sync`` times, where ``observer.on_event`` is called.

    Parameters
    ----------
    ind
        Per-patient parameters (length ``n``).
    doses
        The schedule (shared by all patients).
    t_end
        End of the simulation (h).
    observer
        Receives every event and every accepted step.
    rtol, atol
        Local error tolerances (relative; absolute per state A1, A2, W, depot).
    h_max
        Largest step (h).
    sync
        Extra times at which all patients are brought together.

    Returns
    -------
    y, stats
        The state at ``t_end`` (shape ``(4, n)``: A1 mg, A2 mg, W 10⁹/L, depot mg) and the
        work done.
    """
    if not (math.isfinite(t_end) and t_end > 0):
        raise InputError("t_end", t_end, "give a positive end time in hours")
    if not (0 < rtol < 1):
        raise InputError("rtol", rtol, "give a relative tolerance in (0, 1)")
    full = _Model(ind)
    n = ind.n
    y = np.zeros((4, n))
    y[2] = ind.wbc0
    f = np.zeros((4, n))
    t = np.zeros(n)
    h = np.full(n, _H_RESTART)
    h_mem = np.full((_PHASES, n), _H_RESTART)
    first = np.zeros(n, dtype=bool)  # no step accepted yet since the input changed
    atol_v = np.asarray(atol, dtype=np.float64).reshape(4, 1)
    steps = rejected = iterations = 0
    segs = _segments(doses, t_end, sync)
    everyone = np.arange(n)
    for seg in segs:
        observer.on_event(seg.t0, seg.t1, y[0] * full.inv_v1, y[2].copy(), seg.dose_starts)
        if seg.sc_mg > 0:
            y[3] += ind.f_sc * seg.sc_mg
        phase = seg.phase
        if seg.input_changes:
            np.minimum(h, h_mem[phase], out=h)
        first.fill(seg.input_changes)
        rate = seg.rate_mg_per_h
        f = full.rhs(y, rate)
        t.fill(seg.t0)
        work = _Work(everyone, ind, y, f, t, h, first) if n else None
        t1 = seg.t1
        tol_t = 1e-12 * max(1.0, t1)
        while work is not None:
            iterations += 1
            if iterations > _MAX_STEPS:
                raise RuntimeError("pk integration did not finish (iteration limit)")
            act = work.active
            hs = np.minimum(work.h, h_max)
            last = work.t + hs >= t1 - 1e-9 * max(1.0, t1)
            hs = np.where(last, t1 - work.t, hs)
            hs = np.where(act & (hs > tol_t), hs, np.where(act, tol_t, 1.0))
            m = work.model
            # A too-long trial step of a stiff patient may overflow; it is then rejected.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                y1, err = _rosenbrock_step(m, work.y, work.f, hs, rate)
                scale = atol_v + rtol * np.maximum(np.abs(work.y), np.abs(y1))
                e = np.max(np.abs(err) / scale, axis=0)
            # A step that leaves the physical region (amounts well below 0, WBC not positive)
            # is rejected like an inaccurate one, so instabilities cannot start.
            floor = -_NEG_AMOUNTS * atol_v[0, 0]
            unphysical = (y1[0] < floor) | (y1[1] < floor) | (y1[2] <= 0)
            e = np.where(np.isfinite(e) & ~unphysical, e, 1e10)
            acc = act & (e <= 1.0)
            rej = act & ~acc
            n_acc = int(np.count_nonzero(acc))
            steps += n_acc
            rejected += int(np.count_nonzero(rej))
            if n_acc:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    f1 = m.rhs(y1, rate)  # rejected patients' values are discarded
                iv1 = m.inv_v1
                if n_acc == work.idx.size:  # everyone accepted: no gathering needed
                    sel: IntArray | slice = slice(None)
                    ya, fa, y1a, f1a, iv1a = work.y, work.f, y1, f1, iv1
                else:
                    sel = np.flatnonzero(acc)
                    ya, fa = work.y[:, sel], work.f[:, sel]
                    y1a, f1a, iv1a = y1[:, sel], f1[:, sel], iv1[sel]
                observer.on_step(
                    work.idx[sel],
                    work.t[sel],
                    hs[sel],
                    ya[0] * iv1a,
                    y1a[0] * iv1a,
                    fa[0] * iv1a,
                    f1a[0] * iv1a,
                    ya[2],
                    y1a[2],
                    fa[2],
                    f1a[2],
                )
                lasta = last[sel]
                if isinstance(sel, slice):
                    work.y, work.f = y1, f1
                    work.t = np.where(lasta, t1, work.t + hs)
                    work.active = work.active & ~lasta
                else:
                    work.y[:, sel] = y1a
                    work.f[:, sel] = f1a
                    work.t[sel] = np.where(lasta, t1, work.t[sel] + hs[sel])
                    work.active[sel[lasta]] = False
            inv_e = 1.0 / np.maximum(e, 1e-12)
            grow = np.minimum(_MAX_GROW, _SAFETY * np.sqrt(np.sqrt(inv_e)))  # 0.9·e^(-1/4)
            # 0.9·e^(-1/3), at least 0.2 (reached for e > 91, hence the clip at e = 1000)
            cube = _power(np.maximum(inv_e, _SHRINK_CLIP), CUBE_ROOT)
            shrink = np.maximum(_MIN_SHRINK, _SAFETY * cube)
            proposal = hs * grow
            remember = acc & work.first
            if remember.any():
                h_mem[phase, work.idx[remember]] = proposal[remember]
                work.first = work.first & ~acc
            # After a final (clipped) step keep the larger of the proposal and the old step.
            new_acc = np.where(last, np.maximum(work.h, proposal), proposal)
            work.h = np.where(acc, new_acc, np.where(rej, hs * shrink, work.h))
            if rej.any() and float(np.min(work.h[rej])) < 1e-12:
                raise RuntimeError("pk integration step size underflow")
            n_act = int(np.count_nonzero(work.active))
            if n_act == 0:
                work.store(y, f, t, h, first)
                work = None
            elif n_act < 0.5 * work.idx.size and work.idx.size > 16:
                work.store(y, f, t, h, first)
                work = _Work(work.idx[work.active], ind, y, f, t, h, first)
    observer.on_event(t_end, t_end, y[0] * full.inv_v1, y[2].copy(), 0)
    return y, IntegrationStats(steps, rejected, iterations, len(segs), n)


def _rosenbrock_step(
    m: _Model, y0: FloatArray, f0: FloatArray, h: FloatArray, rate: float
) -> tuple[FloatArray, FloatArray]:
    sol = _Solver(m, y0, h)
    g1 = sol.solve(f0)
    f = m.rhs(y0 + _A21 * g1, rate)
    inv_h = sol.inv_h
    g2 = sol.solve(f + (_C21 * inv_h) * g1)
    f = m.rhs(y0 + _A31 * g1 + _A32 * g2, rate)
    g3 = sol.solve(f + inv_h * (_C31 * g1 + _C32 * g2))
    g4 = sol.solve(f + inv_h * (_C41 * g1 + _C42 * g2 + _C43 * g3))
    y1 = y0 + _B1 * g1 + _B2 * g2 + _B3 * g3 + _B4 * g4
    err = _E1 * g1 + _E2 * g2 + _E4 * g4
    return y1, err
