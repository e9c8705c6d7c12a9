"""The compiled per-patient kernel (numba): the same method as :mod:`cllcds.pk._simulate`.

:func:`cllcds.pk._simulate.integrate` advances all patients together with NumPy array
operations; each patient's trajectory depends only on that patient (its own step size, its own
accept/reject decisions), so the same computation can run patient by patient in compiled code,
in parallel over patients, with the arithmetic written in the same order. Each thread takes
blocks of patients and advances :data:`_LANES` of them side by side, one per "lane": every step
attempt is computed for all lanes in loops over the lanes, which the compiler vectorises (the
lanes' numbers are rows of one array, :data:`_ROWS`) and the processor overlaps; a lane whose
patient has finished takes the block's next one, so lanes do not wait for one another. What
differs between lanes (accepting a step, its per-step summaries and new state, the next step
size) is computed for all lanes too, as selects, and only what is rare (a rejection, a
threshold crossed or a peak inside a step, a segment's end) lane by lane. This takes about 6×
less CPU per step than one patient at a time (docs/performance.md). This module is that
translation:

* the same Rosenbrock 4(3) method (Shampine 1982), the same closed-form arrowhead solve, the
  same error norm, rejection of unphysical steps, step-size controller, first step after an
  input change (remembered per kind of change, :data:`cllcds.pk._simulate._PHASES`) and
  ``h_max``; the same ``x**a`` from basic operations (:func:`cllcds.pk._simulate._power`), so
  the two paths agree bit for bit on every machine;
* the same segments (every dose start, infusion end and output time);
* the same streamed summaries: the per-step ones (AUC, Cmax with the interior extreme of the
  cubic Hermite interpolant, WBC nadir, time above thresholds, time to targets) are updated
  inside the kernel with the formulas of :mod:`cllcds.pk._summaries`; the per-event ones
  (output grid, pre-dose troughs by week, dosing-interval AUCs, residual error) are left to the
  unchanged :class:`~cllcds.pk._summaries.Summariser`, which receives the concentration, WBC
  and running interval AUC of every patient at every segment start where it uses them
  (:meth:`~cllcds.pk._summaries.Summariser.needs`: output times and dose starts);
* the same population statistics: :func:`population_stats_rows` computes the percentiles of
  the Summariser's output rows, weekly troughs and per-patient summaries in parallel over the
  rows, exactly as ``numpy.percentile`` does (the same order statistics, found by selection,
  and NumPy's own interpolation), and their means with NumPy.

The results equal the NumPy path's (tests/pk/test_kernel.py: exactly, and to 1e-12 where
schedules are compared field by field). The segments are processed in chunks so that the
per-event arrays stay within :data:`CHUNK_VALUES` values whatever the number of patients.
Compilation is cached on disk (``cache=True``), so only the first run on a machine pays for
it. numba keys that cache on this file and the kernels' bytecode only, so
:func:`_drop_stale_cache` empties it whenever the modules whose constants the kernels read
have changed.

Importing this module imports numba; :mod:`cllcds.pk._population` imports it only when the
compiled path is used (``backend="compiled"``, or ``"auto"`` with numba installed).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The kernels' threads sleep between launches instead of spinning for the next one (GNU
# OpenMP's default), so that the Summariser's Python work between chunks does not keep a second
# core busy; read when numba first starts its threads. A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba
import numpy as np

from cllcds.domain import InputError

from ._doses import DoseTable
from ._model import WBC_REFERENCE, FloatArray, Individuals
from ._simulate import (
    _A21,
    _A31,
    _A32,
    _B1,
    _B2,
    _B3,
    _B4,
    _C21,
    _C31,
    _C32,
    _C41,
    _C42,
    _C43,
    _E1,
    _E2,
    _E4,
    _GAM,
    _H_RESTART,
    _MAX_GROW,
    _MAX_STEPS,
    _MIN_SHRINK,
    _NEG_AMOUNTS,
    _PHASES,
    _POW_CELLS,
    _POW_EMIN,
    _POW_EXP,
    _POW_INV,
    _POW_LARGEST,
    _POW_MANT,
    _POW_SMALLEST,
    _POW_TERMS,
    _SAFETY,
    _SHRINK_CLIP,
    _W_FLOOR,
    CUBE_ROOT,
    IntArray,
    IntegrationStats,
    _segments,
    power_table,
)
from ._summaries import _BISECT, PERCENTILES, Summariser
from ._summaries import population_stats_rows as _numpy_stats_rows

CHUNK_VALUES = 4_000_000
"""Largest number of (patient, segment) pairs in one chunk; their event values (concentration
and WBC where the Summariser uses them, interval AUC at dose starts; float64) take at most
96 MB."""

_LAUNCH = threading.Lock()
"""One parallel kernel at a time per process: numba's ``workqueue`` threading layer (used when
neither OpenMP nor TBB is available) aborts on concurrent launches, e.g. from the API's thread
pool; the kernel uses every core anyway."""

_OK = 0
_UNDERFLOW = 1
_ITERATIONS = 2

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)
_jit_inline = numba.njit(cache=True, error_model="numpy", nogil=True, inline="always")
"""For the small functions of the hot loops: inlined where they are called."""

_MANT_BITS = (1 << 52) - 1
_HALF_BITS = 1022 << 52
"""IEEE-754 binary64: the fraction bits, and the exponent bits of a number in [0.5, 1)."""


def _power_impl(x: float, table: FloatArray) -> float:
    # _simulate._power for one number, operation for operation.
    if not (x >= _POW_SMALLEST and x < _POW_LARGEST):
        return math.nan
    m, e = math.frexp(x)
    j = int((m - 0.5) * (2 * _POW_CELLS))
    u = m * table[_POW_INV + j] - 1.0
    s = float(table[_POW_TERMS - 1])
    for k in range(_POW_TERMS - 2, -1, -1):
        s = s * u + table[k]
    return float(table[_POW_MANT + j] * table[_POW_EXP - _POW_EMIN + e] * s)


_power = _jit_inline(_power_impl)


def _rhs_impl(
    a1: float,
    a2: float,
    w: float,
    asc: float,
    rate: float,
    p: FloatArray,
    wpow: FloatArray,
) -> tuple[float, float, float, float, float]:
    # p: inv_v1, q_v1, q_v2, vmax, km, emax, ec50, kin, kout, ka (one patient)
    c = a1 * p[0]
    cp = 0.0 if c < 0.0 else c
    wf = _W_FLOOR if w < _W_FLOOR else w
    vm = p[3] * _power(wf / WBC_REFERENCE, wpow)
    den = p[4] + cp
    den50 = p[6] + cp
    r = 1.0 / (den * den50)
    elim = vm * c * den50 * r
    absorbed = p[9] * asc
    f0 = rate + absorbed - elim - p[1] * a1 + p[2] * a2
    f1 = p[1] * a1 - p[2] * a2
    f2 = p[7] - p[8] * (1.0 + p[5] * cp * den * r) * w
    return f0, f1, f2, -absorbed, vm


_rhs = _jit_inline(_rhs_impl)


def _hermite_impl(s: float, h: float, y0: float, y1: float, d0: float, d1: float) -> float:
    s2 = s * s
    s3 = s2 * s
    return (
        (2 * s3 - 3 * s2 + 1) * y0
        + (s3 - 2 * s2 + s) * h * d0
        + (-2 * s3 + 3 * s2) * y1
        + (s3 - s2) * h * d1
    )


_hermite = _jit(_hermite_impl)


def _crossing_impl(
    h: float, y0: float, y1: float, d0: float, d1: float, level: float, rising: bool
) -> float:
    lo = 0.0
    hi = 1.0
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        above = _hermite(mid, h, y0, y1, d0, d1) >= level
        before = (not above) if rising else above
        if before:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


_crossing = _jit(_crossing_impl)


def _interior_extreme_impl(
    h: float, y0: float, y1: float, d0: float, d1: float
) -> tuple[float, float]:
    dy = y0 - y1
    a = 6 * dy + 3 * h * (d0 + d1)
    b = -6 * dy - 4 * h * d0 - 2 * h * d1
    c = h * d0
    disc2 = b * b - 4 * a * c
    disc = math.sqrt(disc2 if disc2 > 0.0 else 0.0)
    q = -0.5 * (b + (disc if b >= 0 else -disc))
    r1 = c / q if q != 0 else math.nan
    r2 = q / a if a != 0 else math.nan
    if r1 >= 0 and r1 <= 1:
        s = r1
    elif math.isfinite(r2):
        s = r2
    else:
        s = 0.5
    s = min(max(s, 0.0), 1.0)
    return _hermite(s, h, y0, y1, d0, d1), s


_interior_extreme = _jit(_interior_extreme_impl)


_U_INV = np.uint64(_POW_INV)
_U_MANT = np.uint64(_POW_MANT)
_LANES = 32
"""Patients advanced side by side in one thread (one "lane" each): every step attempt is
computed for all lanes in loops over the lanes (vectorised by the compiler); a lane whose
patient is done takes the next one. 32 keeps the lanes' array (:data:`_ROWS` × 32 numbers) in
the L1 cache; 16, 64 and 128 measured 5-10 % slower."""
_BLOCKS = 64
"""Blocks of patients handed to the threads (at least 16 patients per lane each)."""


_R_P = 0
_R_G = 10
_R_SOL = 26
_R_XS = 34
_R_A1 = 38
_R_A2 = 39
_R_W = 40
_R_ASC = 41
_R_F0 = 42
_R_F1 = 43
_R_F2 = 44
_R_F3 = 45
_R_VM0 = 46
_R_T = 47
_R_T1 = 48
_R_TOL_T = 49
_R_H = 50
_R_HS = 51
_R_RATE = 52
_R_AUC_L = 53
_R_IVL_L = 54
_R_CMAX_L = 55
_R_TMAX_L = 56
_R_NADIR_L = 57
_R_TNAD_L = 58
_R_E0 = 59
_R_E1 = 60
_R_E2 = 61
_R_E3 = 62
_R_VMX = 63
_R_K0 = 64
_R_K1 = 65
_R_K2 = 66
_R_K3 = 67
_R_VM1 = 68
_R_ERR = 69
_R_N_ALL = 70
_R_N_ACC = 71
_R_N_REJ = 72
_R_INV_E = 73
_R_GROWN = 74
_ROWS = 75
"""Rows of the lanes' array in :func:`_block_impl`: 10 parameters, 16 stage values, 8 solver
coefficients, 4 stage points, then one row per quantity (the last two: the inverse of the
attempt's error and the step its controller proposes if the attempt is accepted); one array
with rows at constant offsets, so that the compiler sees that the loops over the lanes do not
overlap and vectorises them."""


def _lanes_rhs_impl(
    ln: FloatArray,
    a1: int,
    a2: int,
    w: int,
    asc: int,
    f0: int,
    f1: int,
    f2: int,
    f3: int,
    vm: int,
    wpow: FloatArray,
    x: FloatArray,
    bits: IntArray,
    mant: IntArray,
    look: FloatArray,
) -> None:
    # _rhs for every lane, reading rows a1, a2, w, asc of ln and writing rows f0-f3 and vm
    # (ln: the lanes' values, :data:`_ROWS`), _power written out with frexp from
    # the IEEE-754 bits (x is normal and positive where it is valid; elsewhere NaN, as _power).
    mf = mant.view(np.float64)
    for lane in range(_LANES):
        wl = ln[w * _LANES + lane]
        wf = _W_FLOOR if wl < _W_FLOOR else wl
        xl = wf / WBC_REFERENCE
        x[lane] = xl if (xl >= _POW_SMALLEST and xl < _POW_LARGEST) else 1.0
    for lane in range(_LANES):
        b = bits[lane]
        mant[lane] = (b & _MANT_BITS) | _HALF_BITS
        bits[lane] = ((b >> 52) & 0x7FF) - 1022 + (_POW_EXP - _POW_EMIN)  # where 2**(a*e) is
    for lane in range(_LANES):  # the table look-ups, loads only (unsigned indices: numba
        # checks signed ones for wrap-around)
        j = np.uint64((mf[lane] - 0.5) * (2 * _POW_CELLS))
        look[lane] = wpow[_U_INV + j]
        look[_LANES + lane] = wpow[_U_MANT + j]
        look[2 * _LANES + lane] = wpow[np.uint64(bits[lane])]
    for lane in range(_LANES):  # the series (x**a = vm / Vmax), vectorised
        u = mf[lane] * look[lane] - 1.0
        s = float(wpow[_POW_TERMS - 1])
        for k in range(_POW_TERMS - 2, -1, -1):
            s = s * u + wpow[k]
        ln[vm * _LANES + lane] = look[_LANES + lane] * look[2 * _LANES + lane] * s
    for lane in range(_LANES):  # the arithmetic, in a loop of its own
        wl = ln[w * _LANES + lane]
        wf = _W_FLOOR if wl < _W_FLOOR else wl
        xl = wf / WBC_REFERENCE
        pw = ln[vm * _LANES + lane] if (xl >= _POW_SMALLEST and xl < _POW_LARGEST) else math.nan
        c = ln[a1 * _LANES + lane] * ln[_R_P * _LANES + lane]
        cp = 0.0 if c < 0.0 else c
        v = ln[(_R_P + 3) * _LANES + lane] * pw
        den = ln[(_R_P + 4) * _LANES + lane] + cp
        den50 = ln[(_R_P + 6) * _LANES + lane] + cp
        r = 1.0 / (den * den50)
        elim = v * c * den50 * r
        absorbed = ln[(_R_P + 9) * _LANES + lane] * ln[asc * _LANES + lane]
        ln[f0 * _LANES + lane] = (
            ln[_R_RATE * _LANES + lane]
            + absorbed
            - elim
            - ln[(_R_P + 1) * _LANES + lane] * ln[a1 * _LANES + lane]
            + ln[(_R_P + 2) * _LANES + lane] * ln[a2 * _LANES + lane]
        )
        ln[f1 * _LANES + lane] = (
            ln[(_R_P + 1) * _LANES + lane] * ln[a1 * _LANES + lane]
            - ln[(_R_P + 2) * _LANES + lane] * ln[a2 * _LANES + lane]
        )
        ln[f2 * _LANES + lane] = (
            ln[(_R_P + 7) * _LANES + lane]
            - ln[(_R_P + 8) * _LANES + lane]
            * (1.0 + ln[(_R_P + 5) * _LANES + lane] * cp * den * r)
            * ln[w * _LANES + lane]
        )
        ln[f3 * _LANES + lane] = -absorbed
        ln[vm * _LANES + lane] = v


_lanes_rhs = _jit_inline(_lanes_rhs_impl)


def _rows4_impl(ln: FloatArray, row: int, lane: int) -> tuple[float, float, float, float]:
    # The lane's values in rows row .. row + 3 (a state, a right-hand side or a stage).
    return (
        ln[row * _LANES + lane],
        ln[(row + 1) * _LANES + lane],
        ln[(row + 2) * _LANES + lane],
        ln[(row + 3) * _LANES + lane],
    )


_rows4 = _jit_inline(_rows4_impl)


def _solver_impl(
    ln: FloatArray, lane: int
) -> tuple[float, float, float, float, float, float, float, float, float, float]:
    # The lane's closed-form solve of this attempt (rows _R_SOL, written by its first stage):
    # 1/h, p2, p3, p4, u2, u3, sv, j31, and the parameters q_v1 and ka it also needs.
    return (
        ln[_R_SOL * _LANES + lane],
        ln[(_R_SOL + 1) * _LANES + lane],
        ln[(_R_SOL + 2) * _LANES + lane],
        ln[(_R_SOL + 3) * _LANES + lane],
        ln[(_R_SOL + 4) * _LANES + lane],
        ln[(_R_SOL + 5) * _LANES + lane],
        ln[(_R_SOL + 6) * _LANES + lane],
        ln[(_R_SOL + 7) * _LANES + lane],
        ln[(_R_P + 1) * _LANES + lane],
        ln[(_R_P + 9) * _LANES + lane],
    )


_solver = _jit_inline(_solver_impl)


def _arrow_solve_impl(
    b0: float,
    b1: float,
    b2: float,
    b3: float,
    p2: float,
    p3: float,
    p4: float,
    u2: float,
    u3: float,
    sv: float,
    j31: float,
    q_v1: float,
    ka: float,
) -> tuple[float, float, float, float]:
    # (I/(h·γ) − J) g = b for the arrowhead Jacobian, in closed form (_simulate's solve).
    g3 = b3 * p4
    g0 = sv * (b0 + ka * g3 + u2 * b1 + u3 * b2)
    return g0, p2 * (b1 + q_v1 * g0), p3 * (b2 + j31 * g0), g3


_arrow_solve = _jit_inline(_arrow_solve_impl)


def _stage_rhs_impl(
    ln: FloatArray,
    wpow: FloatArray,
    x: FloatArray,
    bits: IntArray,
    mant: IntArray,
    look: FloatArray,
) -> None:
    # _lanes_rhs at the stage point (rows _R_XS) into rows _R_E0 .. _R_E3 and _R_VMX.
    _lanes_rhs(
        ln,
        _R_XS,
        _R_XS + 1,
        _R_XS + 2,
        _R_XS + 3,
        _R_E0,
        _R_E1,
        _R_E2,
        _R_E3,
        _R_VMX,
        wpow,
        x,
        bits,
        mant,
        look,
    )


_stage_rhs = _jit_inline(_stage_rhs_impl)


def _attempted_impl(ln: FloatArray, lane: int) -> tuple[float, float, float, float, float]:
    # The lane's attempted step before its state is updated: its length, and the concentration
    # and its derivative at both ends (the cubic Hermite data of the per-step summaries).
    inv_v1 = ln[_R_P * _LANES + lane]
    return (
        ln[_R_HS * _LANES + lane],
        ln[_R_A1 * _LANES + lane] * inv_v1,
        ln[_R_XS * _LANES + lane] * inv_v1,
        ln[_R_F0 * _LANES + lane] * inv_v1,
        ln[_R_K0 * _LANES + lane] * inv_v1,
    )


_attempted = _jit_inline(_attempted_impl)


def _block_impl(
    lo: int,
    hi: int,
    par: FloatArray,
    wexp: float,
    wpow: FloatArray,
    f_sc: FloatArray,
    y: FloatArray,
    hv: FloatArray,
    seg_t0: FloatArray,
    seg_t1: FloatArray,
    seg_rate: FloatArray,
    seg_sc: FloatArray,
    seg_restart: FloatArray,
    seg_phase: FloatArray,
    seg_reset: FloatArray,
    seg_row: IntArray,
    seg_ivl_row: IntArray,
    h_mem: FloatArray,
    rtol: float,
    atol: FloatArray,
    h_max: float,
    thresholds: FloatArray,
    targets: FloatArray,
    out_c: FloatArray,
    out_w: FloatArray,
    out_ivl: FloatArray,
    attempts: FloatArray,
    ivl: FloatArray,
    auc: FloatArray,
    cmax: FloatArray,
    tmax: FloatArray,
    nadir: FloatArray,
    t_nadir: FloatArray,
    time_above: FloatArray,
    time_to: FloatArray,
    counts: FloatArray,
    status: FloatArray,
) -> None:
    """Patients ``lo`` to ``hi - 1`` through the chunk's segments, :data:`_LANES` at a time.

    Each lane runs one patient exactly as the NumPy path does (the same operations in the same
    order, so the same numbers); only the interleaving of patients differs.
    """
    n_seg = seg_t0.size
    floor = -_NEG_AMOUNTS * atol[0]
    nl = _LANES
    ln = np.zeros(_ROWS * nl)  # the lanes' numbers, row by row (_R_*)
    for row in (_R_W, _R_T1, _R_H, _R_HS):
        ln[row * nl : (row + 1) * nl] = 1.0
    ln[_R_TOL_T * nl : (_R_TOL_T + 1) * nl] = 1e-12
    pat = np.full(nl, -1, dtype=np.int64)
    kseg = np.zeros(nl, dtype=np.int64)
    phase = np.zeros(nl, dtype=np.int64)
    n_try = np.zeros(nl, dtype=np.int64)
    first = np.zeros(nl, dtype=np.bool_)
    depot = np.zeros(nl, dtype=np.bool_)
    last = np.zeros(nl, dtype=np.bool_)
    # the step's intermediate values, lane by lane
    xp = np.zeros(nl)
    bits = xp.view(np.int64)
    mant = np.zeros(nl, dtype=np.int64)
    look = np.zeros(3 * nl)  # the power's three table values per lane
    # time above each threshold and time to each target, lane by lane (j * nl + lane)
    n_thr = thresholds.size
    n_tar = targets.size
    above = np.zeros(n_thr * nl)
    reach = np.full(n_tar * nl, np.nan)
    cross = np.zeros(nl, dtype=np.bool_)
    acc = np.zeros(nl, dtype=np.bool_)  # the lane's step will be accepted
    peak = np.zeros(nl, dtype=np.bool_)  # ... and its concentration peaks inside the step
    for q in range(10):
        for lane in range(nl):
            ln[(_R_P + q) * _LANES + lane] = par[lo, q] if lo < hi else 1.0
    nxt = lo
    live = 0
    for lane in range(nl):
        if nxt < hi:
            pat[lane] = nxt
            nxt += 1
            live += 1
    start = np.ones(nl, dtype=np.bool_)  # the lane has just taken a new patient
    begin = np.zeros(nl, dtype=np.bool_)  # the lane starts segment kseg
    fresh = np.zeros(nl, dtype=np.bool_)  # rows F and VM0 hold the rhs of its current state
    while live > 0:
        # -- take a new patient, start segments (lane by lane, as the NumPy path does) --
        for lane in range(nl):
            i = pat[lane]
            if i < 0:
                continue
            if start[lane]:
                start[lane] = False
                for q in range(10):
                    ln[(_R_P + q) * _LANES + lane] = par[i, q]
                ln[_R_A1 * _LANES + lane] = y[0, i]
                ln[_R_A2 * _LANES + lane] = y[1, i]
                ln[_R_W * _LANES + lane] = y[2, i]
                ln[_R_ASC * _LANES + lane] = y[3, i]
                ln[_R_H * _LANES + lane] = hv[i]
                ln[_R_N_ALL * _LANES + lane] = counts[2, i]
                ln[_R_N_ACC * _LANES + lane] = 0.0
                ln[_R_N_REJ * _LANES + lane] = 0.0
                ln[_R_AUC_L * _LANES + lane] = auc[i]
                ln[_R_IVL_L * _LANES + lane] = ivl[i]
                ln[_R_CMAX_L * _LANES + lane] = cmax[i]
                ln[_R_TMAX_L * _LANES + lane] = tmax[i]
                ln[_R_NADIR_L * _LANES + lane] = nadir[i]
                ln[_R_TNAD_L * _LANES + lane] = t_nadir[i]
                for j in range(n_thr):
                    above[j * nl + lane] = time_above[j, i]
                for j in range(n_tar):
                    reach[j * nl + lane] = time_to[j, i]
                kseg[lane] = 0
                begin[lane] = True
                fresh[lane] = False
            if begin[lane]:
                begin[lane] = False
                k = kseg[lane]
                row = seg_row[k]
                if row >= 0:  # kept only where the Summariser uses them
                    out_c[row, i] = ln[_R_A1 * _LANES + lane] * ln[_R_P * _LANES + lane]
                    out_w[row, i] = ln[_R_W * _LANES + lane]
                row = seg_ivl_row[k]
                if row >= 0:
                    out_ivl[row, i] = ln[_R_IVL_L * _LANES + lane]
                if seg_reset[k] != 0:
                    ln[_R_IVL_L * _LANES + lane] = 0.0
                if seg_sc[k] > 0:
                    ln[_R_ASC * _LANES + lane] += f_sc[i] * seg_sc[k]
                first[lane] = seg_restart[k] != 0
                phase[lane] = int(seg_phase[k])
                if first[lane]:
                    ln[_R_H * _LANES + lane] = min(ln[_R_H * _LANES + lane], h_mem[phase[lane], i])
                # The right-hand side at the segment's start: where neither the state nor the
                # input has changed since the last accepted step of this chunk, rows F and VM0
                # already hold it (_lanes_rhs there does _rhs's operations: the same numbers).
                same = fresh[lane] and seg_sc[k] <= 0 and seg_rate[k] == ln[_R_RATE * _LANES + lane]
                fresh[lane] = True
                ln[_R_RATE * _LANES + lane] = seg_rate[k]
                depot[lane] = ln[_R_ASC * _LANES + lane] != 0.0
                if not same:
                    (
                        ln[_R_F0 * _LANES + lane],
                        ln[_R_F1 * _LANES + lane],
                        ln[_R_F2 * _LANES + lane],
                        ln[_R_F3 * _LANES + lane],
                        ln[_R_VM0 * _LANES + lane],
                    ) = _rhs(
                        ln[_R_A1 * _LANES + lane],
                        ln[_R_A2 * _LANES + lane],
                        ln[_R_W * _LANES + lane],
                        ln[_R_ASC * _LANES + lane],
                        ln[_R_RATE * _LANES + lane],
                        par[i],
                        wpow,
                    )
                ln[_R_T * _LANES + lane] = seg_t0[k]
                ln[_R_T1 * _LANES + lane] = seg_t1[k]
                ln[_R_TOL_T * _LANES + lane] = 1e-12 * max(1.0, seg_t1[k])
                n_try[lane] = 0
        # -- one Rosenbrock step attempt in every lane (_simulate._rosenbrock_step) --
        for lane in range(nl):
            tl = ln[_R_T * _LANES + lane]
            t1l = ln[_R_T1 * _LANES + lane]
            hl = min(ln[_R_H * _LANES + lane], h_max)
            la = tl + hl >= t1l - 1e-9 * max(1.0, t1l)
            if la:
                hl = t1l - tl
            if not hl > ln[_R_TOL_T * _LANES + lane]:
                hl = ln[_R_TOL_T * _LANES + lane]
            ln[_R_HS * _LANES + lane] = hl
            last[lane] = la
            inv_v1 = ln[_R_P * _LANES + lane]
            q_v1 = ln[(_R_P + 1) * _LANES + lane]
            q_v2 = ln[(_R_P + 2) * _LANES + lane]
            ka = ln[(_R_P + 9) * _LANES + lane]
            wl = ln[_R_W * _LANES + lane]
            c = ln[_R_A1 * _LANES + lane] * inv_v1
            cp = 0.0 if c < 0.0 else c
            wpos = _W_FLOOR if wl < _W_FLOOR else wl
            vm = ln[_R_VM0 * _LANES + lane]
            den = ln[(_R_P + 4) * _LANES + lane] + cp
            den50 = ln[(_R_P + 6) * _LANES + lane] + cp
            r = 1.0 / (den * den50)
            iden = den50 * r
            iden50 = den * r
            j11 = -vm * ln[(_R_P + 4) * _LANES + lane] * inv_v1 * iden * iden - q_v1
            j13 = -wexp * vm * c * iden / wpos
            j31 = (
                -ln[(_R_P + 8) * _LANES + lane]
                * ln[(_R_P + 5) * _LANES + lane]
                * ln[(_R_P + 6) * _LANES + lane]
                * inv_v1
                * iden50
                * iden50
                * wl
                if c > 0
                else 0.0
            )
            j33 = -ln[(_R_P + 8) * _LANES + lane] * (
                1.0 + ln[(_R_P + 5) * _LANES + lane] * cp * iden50
            )
            inv_h = 1.0 / hl
            d = inv_h * (1.0 / _GAM)
            dq = d + q_v2
            dj = d - j33
            pq = 1.0 / (dq * dj)
            p2 = dj * pq
            p3 = dq * pq
            p4 = 1.0 / (d + ka) if depot[lane] else 0.0
            u2 = q_v2 * p2
            u3 = j13 * p3
            sv = 1.0 / (d - j11 - q_v2 * q_v1 * p2 - j13 * j31 * p3)
            ln[_R_SOL * _LANES + lane] = inv_h
            ln[(_R_SOL + 1) * _LANES + lane] = p2
            ln[(_R_SOL + 2) * _LANES + lane] = p3
            ln[(_R_SOL + 3) * _LANES + lane] = p4
            ln[(_R_SOL + 4) * _LANES + lane] = u2
            ln[(_R_SOL + 5) * _LANES + lane] = u3
            ln[(_R_SOL + 6) * _LANES + lane] = sv
            ln[(_R_SOL + 7) * _LANES + lane] = j31
            b0, b1, b2, b3 = _rows4(ln, _R_F0, lane)
            g10, g11, g12, g13 = _arrow_solve(b0, b1, b2, b3, p2, p3, p4, u2, u3, sv, j31, q_v1, ka)
            ln[_R_G * _LANES + lane] = g10
            ln[(_R_G + 1) * _LANES + lane] = g11
            ln[(_R_G + 2) * _LANES + lane] = g12
            ln[(_R_G + 3) * _LANES + lane] = g13
            ln[_R_XS * _LANES + lane] = ln[_R_A1 * _LANES + lane] + _A21 * g10
            ln[(_R_XS + 1) * _LANES + lane] = ln[_R_A2 * _LANES + lane] + _A21 * g11
            ln[(_R_XS + 2) * _LANES + lane] = wl + _A21 * g12
            ln[(_R_XS + 3) * _LANES + lane] = ln[_R_ASC * _LANES + lane] + _A21 * g13
        _stage_rhs(ln, wpow, xp, bits, mant, look)
        for lane in range(nl):
            inv_h, p2, p3, p4, u2, u3, sv, j31, q_v1, ka = _solver(ln, lane)
            g10, g11, g12, g13 = _rows4(ln, _R_G, lane)
            ch = _C21 * inv_h
            b0 = ln[_R_E0 * _LANES + lane] + ch * g10
            b1 = ln[_R_E1 * _LANES + lane] + ch * g11
            b2 = ln[_R_E2 * _LANES + lane] + ch * g12
            b3 = ln[_R_E3 * _LANES + lane] + ch * g13
            g20, g21, g22, g23 = _arrow_solve(b0, b1, b2, b3, p2, p3, p4, u2, u3, sv, j31, q_v1, ka)
            ln[(_R_G + 4) * _LANES + lane] = g20
            ln[(_R_G + 5) * _LANES + lane] = g21
            ln[(_R_G + 6) * _LANES + lane] = g22
            ln[(_R_G + 7) * _LANES + lane] = g23
            ln[_R_XS * _LANES + lane] = ln[_R_A1 * _LANES + lane] + _A31 * g10 + _A32 * g20
            ln[(_R_XS + 1) * _LANES + lane] = ln[_R_A2 * _LANES + lane] + _A31 * g11 + _A32 * g21
            ln[(_R_XS + 2) * _LANES + lane] = ln[_R_W * _LANES + lane] + _A31 * g12 + _A32 * g22
            ln[(_R_XS + 3) * _LANES + lane] = ln[_R_ASC * _LANES + lane] + _A31 * g13 + _A32 * g23
        _stage_rhs(ln, wpow, xp, bits, mant, look)
        for lane in range(nl):
            inv_h, p2, p3, p4, u2, u3, sv, j31, q_v1, ka = _solver(ln, lane)
            g10, g11, g12, g13 = _rows4(ln, _R_G, lane)
            g20, g21, g22, g23 = _rows4(ln, _R_G + 4, lane)
            ea, eb, ec, ed = _rows4(ln, _R_E0, lane)
            b0 = ea + inv_h * (_C31 * g10 + _C32 * g20)
            b1 = eb + inv_h * (_C31 * g11 + _C32 * g21)
            b2 = ec + inv_h * (_C31 * g12 + _C32 * g22)
            b3 = ed + inv_h * (_C31 * g13 + _C32 * g23)
            g30, g31, g32, g33 = _arrow_solve(b0, b1, b2, b3, p2, p3, p4, u2, u3, sv, j31, q_v1, ka)
            b0 = ea + inv_h * (_C41 * g10 + _C42 * g20 + _C43 * g30)
            b1 = eb + inv_h * (_C41 * g11 + _C42 * g21 + _C43 * g31)
            b2 = ec + inv_h * (_C41 * g12 + _C42 * g22 + _C43 * g32)
            b3 = ed + inv_h * (_C41 * g13 + _C42 * g23 + _C43 * g33)
            g40, g41, g42, g43 = _arrow_solve(b0, b1, b2, b3, p2, p3, p4, u2, u3, sv, j31, q_v1, ka)
            y0, y1, y2, y3 = _rows4(ln, _R_A1, lane)
            n0 = y0 + _B1 * g10 + _B2 * g20 + _B3 * g30 + _B4 * g40
            n1 = y1 + _B1 * g11 + _B2 * g21 + _B3 * g31 + _B4 * g41
            n2 = y2 + _B1 * g12 + _B2 * g22 + _B3 * g32 + _B4 * g42
            n3 = y3 + _B1 * g13 + _B2 * g23 + _B3 * g33 + _B4 * g43
            r0 = abs(_E1 * g10 + _E2 * g20 + _E4 * g40) / (atol[0] + rtol * max(abs(y0), abs(n0)))
            r1 = abs(_E1 * g11 + _E2 * g21 + _E4 * g41) / (atol[1] + rtol * max(abs(y1), abs(n1)))
            r2 = abs(_E1 * g12 + _E2 * g22 + _E4 * g42) / (atol[2] + rtol * max(abs(y2), abs(n2)))
            r3 = (
                abs(_E1 * g13 + _E2 * g23 + _E4 * g43) / (atol[3] + rtol * max(abs(y3), abs(n3)))
                if depot[lane]
                else 0.0
            )
            if (
                math.isfinite(r0)
                and math.isfinite(r1)
                and math.isfinite(r2)
                and math.isfinite(r3)
                and not (n0 < floor or n1 < floor or n2 <= 0)
            ):
                ln[_R_ERR * _LANES + lane] = max(r0, r1, r2, r3)
            else:
                ln[_R_ERR * _LANES + lane] = 1e10
            ln[_R_XS * _LANES + lane] = n0
            ln[(_R_XS + 1) * _LANES + lane] = n1
            ln[(_R_XS + 2) * _LANES + lane] = n2
            ln[(_R_XS + 3) * _LANES + lane] = n3
        # the right-hand side at the new points (used where the step is accepted)
        _lanes_rhs(
            ln,
            _R_XS,
            _R_XS + 1,
            _R_XS + 2,
            _R_XS + 3,
            _R_K0,
            _R_K1,
            _R_K2,
            _R_K3,
            _R_VM1,
            wpow,
            xp,
            bits,
            mant,
            look,
        )
        # -- time above the thresholds and time to the targets over the steps that will be
        # accepted, in loops over the lanes (vectorised; the rare crossing inside a step lane by
        # lane after each), each lane adding what the NumPy path adds for its patient --
        for lane in range(nl):
            acc[lane] = (
                (pat[lane] >= 0)
                & (ln[_R_N_ALL * _LANES + lane] + 1 <= _MAX_STEPS)
                & (ln[_R_ERR * _LANES + lane] <= 1.0)
            )
        for j in range(n_thr):
            level = thresholds[j]
            for lane in range(nl):
                inv_v1 = ln[_R_P * _LANES + lane]
                above0 = ln[_R_A1 * _LANES + lane] * inv_v1 >= level
                above1 = ln[_R_XS * _LANES + lane] * inv_v1 >= level
                both = acc[lane] & above0 & above1
                above[j * nl + lane] += ln[_R_HS * _LANES + lane] if both else 0.0
                cross[lane] = acc[lane] & (above0 != above1)
            for lane in range(nl):
                if cross[lane]:
                    hl, c0, c1, dc0, dc1 = _attempted(ln, lane)
                    if c1 >= level:
                        s = _crossing(hl, c0, c1, dc0, dc1, level, True)
                        above[j * nl + lane] += (1 - s) * hl
                    else:
                        s = _crossing(hl, c0, c1, dc0, dc1, level, False)
                        above[j * nl + lane] += s * hl
        for j in range(n_tar):
            level = targets[j]
            for lane in range(nl):
                inv_v1 = ln[_R_P * _LANES + lane]
                new = (
                    acc[lane]
                    & (ln[_R_XS * _LANES + lane] * inv_v1 >= level)
                    & math.isnan(reach[j * nl + lane])
                )
                at_start = new & (ln[_R_A1 * _LANES + lane] * inv_v1 >= level)
                if at_start:
                    reach[j * nl + lane] = ln[_R_T * _LANES + lane]
                cross[lane] = new & (not at_start)
            for lane in range(nl):
                if cross[lane]:
                    hl, c0, c1, dc0, dc1 = _attempted(ln, lane)
                    s = _crossing(hl, c0, c1, dc0, dc1, level, True)
                    reach[j * nl + lane] = ln[_R_T * _LANES + lane] + s * hl
        # -- the accepted steps' per-step summaries, in a loop over the lanes (vectorised: a
        # select per quantity, each lane computing what the NumPy path computes for its
        # patient); an interior peak of the concentration, lane by lane after it --
        for lane in range(nl):
            ok = acc[lane]
            inv_v1 = ln[_R_P * _LANES + lane]
            hl = ln[_R_HS * _LANES + lane]
            ts = ln[_R_T * _LANES + lane] + hl
            n2 = ln[(_R_XS + 2) * _LANES + lane]
            c0 = ln[_R_A1 * _LANES + lane] * inv_v1
            c1 = ln[_R_XS * _LANES + lane] * inv_v1
            dc0 = ln[_R_F0 * _LANES + lane] * inv_v1
            dc1 = ln[_R_K0 * _LANES + lane] * inv_v1
            piece = hl * (c0 + c1) / 2 + hl * hl * (dc0 - dc1) / 12
            auc_l = ln[_R_AUC_L * _LANES + lane]
            ivl_l = ln[_R_IVL_L * _LANES + lane]
            ln[_R_AUC_L * _LANES + lane] = auc_l + piece if ok else auc_l
            ln[_R_IVL_L * _LANES + lane] = ivl_l + piece if ok else ivl_l
            top = ok & (c1 > ln[_R_CMAX_L * _LANES + lane])
            cmax_l = ln[_R_CMAX_L * _LANES + lane]
            tmax_l = ln[_R_TMAX_L * _LANES + lane]
            ln[_R_CMAX_L * _LANES + lane] = c1 if top else cmax_l
            ln[_R_TMAX_L * _LANES + lane] = ts if top else tmax_l
            low = ok & (n2 < ln[_R_NADIR_L * _LANES + lane])
            nadir_l = ln[_R_NADIR_L * _LANES + lane]
            tnad_l = ln[_R_TNAD_L * _LANES + lane]
            ln[_R_NADIR_L * _LANES + lane] = n2 if low else nadir_l
            ln[_R_TNAD_L * _LANES + lane] = ts if low else tnad_l
            peak[lane] = ok & (dc0 > 0) & (dc1 < 0)
        for lane in range(nl):
            if peak[lane]:
                hl, c0, c1, dc0, dc1 = _attempted(ln, lane)
                val, s = _interior_extreme(hl, c0, c1, dc0, dc1)
                if val > ln[_R_CMAX_L * _LANES + lane]:
                    ln[_R_CMAX_L * _LANES + lane] = val
                    ln[_R_TMAX_L * _LANES + lane] = ln[_R_T * _LANES + lane] + s * hl
        # -- the new state where accepted (vectorised selects) --
        for lane in range(nl):
            ok = acc[lane]
            a1 = ln[_R_A1 * _LANES + lane]
            a2 = ln[_R_A2 * _LANES + lane]
            wl = ln[_R_W * _LANES + lane]
            asc = ln[_R_ASC * _LANES + lane]
            ln[_R_A1 * _LANES + lane] = ln[_R_XS * _LANES + lane] if ok else a1
            ln[_R_A2 * _LANES + lane] = ln[(_R_XS + 1) * _LANES + lane] if ok else a2
            ln[_R_W * _LANES + lane] = ln[(_R_XS + 2) * _LANES + lane] if ok else wl
            ln[_R_ASC * _LANES + lane] = ln[(_R_XS + 3) * _LANES + lane] if ok else asc
            f0 = ln[_R_F0 * _LANES + lane]
            f1 = ln[_R_F1 * _LANES + lane]
            f2 = ln[_R_F2 * _LANES + lane]
            f3 = ln[_R_F3 * _LANES + lane]
            vm0 = ln[_R_VM0 * _LANES + lane]
            ln[_R_F0 * _LANES + lane] = ln[_R_K0 * _LANES + lane] if ok else f0
            ln[_R_F1 * _LANES + lane] = ln[_R_K1 * _LANES + lane] if ok else f1
            ln[_R_F2 * _LANES + lane] = ln[_R_K2 * _LANES + lane] if ok else f2
            ln[_R_F3 * _LANES + lane] = ln[_R_K3 * _LANES + lane] if ok else f3
            ln[_R_VM0 * _LANES + lane] = ln[_R_VM1 * _LANES + lane] if ok else vm0
            tl = ln[_R_T * _LANES + lane]
            t_new = ln[_R_T1 * _LANES + lane] if last[lane] else tl + ln[_R_HS * _LANES + lane]
            ln[_R_T * _LANES + lane] = t_new if ok else tl
        # -- the controller's step after an accepted attempt, in a loop over the lanes (a
        # division and two square roots in a row: too slow lane by lane) --
        for lane in range(nl):
            inv_e = 1.0 / max(ln[_R_ERR * _LANES + lane], 1e-12)
            ln[_R_INV_E * _LANES + lane] = inv_e
            ln[_R_GROWN * _LANES + lane] = ln[_R_HS * _LANES + lane] * min(
                _MAX_GROW, _SAFETY * math.sqrt(math.sqrt(inv_e))
            )
        # -- accept or reject, step size, segment ends (lane by lane) --
        for lane in range(nl):
            i = pat[lane]
            if i < 0:
                continue
            n_try[lane] += 1
            ln[_R_N_ALL * _LANES + lane] += 1
            done = False
            if (
                ln[_R_N_ALL * _LANES + lane] > _MAX_STEPS
            ):  # the NumPy path stops before this attempt
                status[i] = _ITERATIONS
                done = True
            else:
                e = ln[_R_ERR * _LANES + lane]
                hl = ln[_R_HS * _LANES + lane]
                la = last[lane]
                accepted = e <= 1.0
                if accepted:
                    ln[_R_N_ACC * _LANES + lane] += 1
                else:
                    ln[_R_N_REJ * _LANES + lane] += 1
                inv_e = ln[_R_INV_E * _LANES + lane]
                if accepted:
                    proposal = ln[_R_GROWN * _LANES + lane]
                    if first[lane]:
                        h_mem[phase[lane], i] = proposal
                        first[lane] = False
                    ln[_R_H * _LANES + lane] = (
                        max(ln[_R_H * _LANES + lane], proposal) if la else proposal
                    )
                    if la:
                        k = kseg[lane]
                        attempts[k] = max(attempts[k], n_try[lane])
                        if k + 1 < n_seg:
                            kseg[lane] = k + 1
                            begin[lane] = True
                        else:
                            done = True
                else:
                    shrink = _power(max(inv_e, _SHRINK_CLIP), CUBE_ROOT)
                    ln[_R_H * _LANES + lane] = hl * max(_MIN_SHRINK, _SAFETY * shrink)
                    if ln[_R_H * _LANES + lane] < 1e-12:
                        status[i] = _UNDERFLOW
                        done = True
            if done:
                if status[i] != _OK:
                    attempts[kseg[lane]] = max(attempts[kseg[lane]], n_try[lane])
                counts[0, i] += ln[_R_N_ACC * _LANES + lane]
                counts[1, i] += ln[_R_N_REJ * _LANES + lane]
                counts[2, i] = ln[_R_N_ALL * _LANES + lane]
                auc[i] = ln[_R_AUC_L * _LANES + lane]
                ivl[i] = ln[_R_IVL_L * _LANES + lane]
                cmax[i] = ln[_R_CMAX_L * _LANES + lane]
                tmax[i] = ln[_R_TMAX_L * _LANES + lane]
                nadir[i] = ln[_R_NADIR_L * _LANES + lane]
                t_nadir[i] = ln[_R_TNAD_L * _LANES + lane]
                for j in range(n_thr):
                    time_above[j, i] = above[j * nl + lane]
                for j in range(n_tar):
                    time_to[j, i] = reach[j * nl + lane]
                y[0, i] = ln[_R_A1 * _LANES + lane]
                y[1, i] = ln[_R_A2 * _LANES + lane]
                y[2, i] = ln[_R_W * _LANES + lane]
                y[3, i] = ln[_R_ASC * _LANES + lane]
                hv[i] = ln[_R_H * _LANES + lane]
                if nxt < hi:
                    pat[lane] = nxt
                    nxt += 1
                    start[lane] = True
                else:
                    pat[lane] = -1
                    live -= 1


_block = _jit(_block_impl)


def _run_impl(
    par: FloatArray,
    wexp: float,
    wpow: FloatArray,
    f_sc: FloatArray,
    y: FloatArray,
    hv: FloatArray,
    seg_t0: FloatArray,
    seg_t1: FloatArray,
    seg_rate: FloatArray,
    seg_sc: FloatArray,
    seg_restart: FloatArray,
    seg_phase: FloatArray,
    seg_reset: FloatArray,
    seg_row: IntArray,
    seg_ivl_row: IntArray,
    h_mem: FloatArray,
    rtol: float,
    atol: FloatArray,
    h_max: float,
    thresholds: FloatArray,
    targets: FloatArray,
    out_c: FloatArray,
    out_w: FloatArray,
    out_ivl: FloatArray,
    attempts: FloatArray,
    ivl: FloatArray,
    auc: FloatArray,
    cmax: FloatArray,
    tmax: FloatArray,
    nadir: FloatArray,
    t_nadir: FloatArray,
    time_above: FloatArray,
    time_to: FloatArray,
    counts: FloatArray,
    status: FloatArray,
) -> None:
    n = hv.size
    size = max(16 * _LANES, -(-n // _BLOCKS))
    blocks = -(-n // size)
    for b in numba.prange(blocks):
        _block(
            b * size,
            min(n, (b + 1) * size),
            par,
            wexp,
            wpow,
            f_sc,
            y,
            hv,
            seg_t0,
            seg_t1,
            seg_rate,
            seg_sc,
            seg_restart,
            seg_phase,
            seg_reset,
            seg_row,
            seg_ivl_row,
            h_mem,
            rtol,
            atol,
            h_max,
            thresholds,
            targets,
            out_c,
            out_w,
            out_ivl,
            attempts[b],
            ivl,
            auc,
            cmax,
            tmax,
            nadir,
            t_nadir,
            time_above,
            time_to,
            counts,
            status,
        )


_run: Any = numba.njit(cache=True, error_model="numpy", parallel=True)(_run_impl)

# -- population percentiles (Summariser.rows_stats), in parallel over rows -----------------

_QUANTILES = np.true_divide(np.asarray(PERCENTILES, dtype=np.float64), 100)
"""The quantiles as ``numpy.percentile`` computes them from :data:`PERCENTILES`."""
_SMALL = 4096
"""Rows with at most this many values are selected from directly; longer rows first bracket
each order statistic between two values of a sample."""
_SAMPLE = 1024
"""Values sampled (at a fixed stride) from a long row to bracket its order statistics."""


def _select_impl(buf: FloatArray, m: int, k: int) -> float:
    # The k-th smallest (0-based) of buf[:m], which is reordered so that buf[k] is that value
    # and buf[k + 1 : m] are not smaller: quickselect with a median-of-3 pivot and a
    # branch-free partition (what is below the pivot to the front); when nothing is below it,
    # the values equal to it are split off the same way, so ties cannot stall it. A range that
    # does not shrink fast enough is sorted instead.
    lo = 0
    hi = m - 1
    rounds = 0
    limit = 2 * int(math.log2(m + 1)) + 8
    while hi > lo:
        rounds += 1
        if rounds > limit:
            buf[lo : hi + 1].sort()
            break
        a = buf[lo]
        b = buf[(lo + hi) >> 1]
        c = buf[hi]
        if a > b:
            a, b = b, a
        pivot = max(a, min(b, c))  # the median of the three
        store = lo
        for i in range(lo, hi + 1):
            x = buf[i]
            buf[i] = buf[store]
            buf[store] = x
            store += 1 if x < pivot else 0
        if k < store:
            hi = store - 1
            continue
        if store > lo:
            lo = store
            continue
        for i in range(lo, hi + 1):  # nothing below the pivot: it is the smallest here
            x = buf[i]
            buf[i] = buf[store]
            buf[store] = x
            store += 1 if x <= pivot else 0
        if k < store:
            return float(pivot)
        lo = store
    return float(buf[k])


_select = _jit(_select_impl)


def _order_pair_impl(
    vals: FloatArray,
    k: int,
    r: int,
    pair: bool,
    sample: FloatArray,
    ns: int,
    cand: FloatArray,
) -> tuple[float, float]:
    # The r-th smallest of vals[:k] and, if pair, the (r + 1)-th (0-based). A long row is
    # scanned once for the values between two sample values that should bracket rank r; if
    # they do not, every value is a candidate. Exact either way: the sample only saves time.
    r2 = r + 1 if pair else r
    below = 0
    m = 0
    if ns > 0:
        p = r / (k - 1)
        centre = int(p * (ns - 1))
        d = int(4.0 * math.sqrt(ns * p * (1.0 - p))) + 4
        lo = -math.inf if centre - d < 0 else _select(sample, ns, centre - d)
        hi = math.inf if centre + d + 1 >= ns else _select(sample, ns, centre + d + 1)
        for t in range(k):
            x = vals[t]
            below += 1 if x < lo else 0
            cand[m] = x
            m += 1 if (x >= lo and x <= hi) else 0
    if not (below <= r and r2 < below + m):
        below = 0
        m = k
        cand[:k] = vals[:k]
    a = _select(cand, m, r - below)
    if not pair:
        return a, a
    b = cand[r - below + 1]
    for t in range(r - below + 2, m):
        b = min(b, cand[t])
    return a, b


_order_pair = _jit(_order_pair_impl)


def _row_quantiles_impl(
    row: FloatArray,
    q: FloatArray,
    out: FloatArray,
    vals: FloatArray,
    cand: FloatArray,
    sample: FloatArray,
) -> int:
    # numpy.percentile(row[isfinite(row)], 100 * q) ("linear") into out, bit for bit: the same
    # order statistics and numpy's own interpolation (_lerp) with its indices and weights
    # (_get_indexes, _get_gamma); returns the number of finite values.
    k = 0
    for t in range(row.size):
        x = row[t]
        vals[k] = x
        k += 1 if math.isfinite(x) else 0
    if k == 0:
        for j in range(q.size):
            out[j] = math.nan
        return 0
    ns = 0
    if k > _SMALL:
        ns = _SAMPLE
        stride = k // ns
        for t in range(ns):
            sample[t] = vals[t * stride]
    for j in range(q.size):
        v = (k - 1) * q[j]
        if v >= k - 1:  # numpy: both indices -1 (the largest value)
            r = k - 1
            gamma = v - (-1.0)
            pair = False
        else:
            r = math.floor(v)
            gamma = v - float(r)
            pair = True
        a, b = _order_pair(vals, k, r, pair, sample, ns, cand)
        diff = b - a
        res = a + diff * gamma
        if gamma >= 0.5:
            res = b - diff * (1 - gamma)
        out[j] = res
    return k


_row_quantiles = _jit(_row_quantiles_impl)


def _quantile_rows_impl(
    rows: FloatArray, q: FloatArray, out: FloatArray, counts: IntArray, parts: int
) -> None:
    # _row_quantiles of every row, the rows dealt out in parts (scratch space once per part).
    m, n = rows.shape
    for part in numba.prange(parts):
        vals = np.empty(n)
        cand = np.empty(n)
        sample = np.empty(_SAMPLE)
        for i in range(part, m, parts):
            counts[i] = _row_quantiles(rows[i], q, out[i], vals, cand, sample)


_quantile_rows: Any = numba.njit(cache=True, error_model="numpy", parallel=True)(
    _quantile_rows_impl
)


COMPILED_STATS_MIN_VALUES = 4096
"""Rows shorter than this are left to NumPy (the same numbers): they are quick there, and a
small simulation then does not pay for compiling the percentile kernels (about 6 s, once per
machine)."""


def population_stats_rows(rows: FloatArray) -> list[dict[str, float]]:
    """:func:`cllcds.pk._summaries.population_stats_rows`, the percentiles compiled and in
    parallel over the rows (the same numbers, bit for bit; the means by NumPy)."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if rows.shape[1] < COMPILED_STATS_MIN_VALUES:
        return _numpy_stats_rows(rows)
    m = rows.shape[0]
    qv = np.empty((m, _QUANTILES.size))
    counts = np.zeros(m, dtype=np.int64)
    if m and rows.shape[1]:
        with _LAUNCH:
            _quantile_rows(rows, _QUANTILES, qv, counts, min(m, 2 * numba.get_num_threads()))
    out: list[dict[str, float]] = []
    for i in range(m):
        k = int(counts[i])
        stats: dict[str, float] = {"n": float(k)}
        if k == 0:
            stats["mean"] = math.nan
            stats.update({f"p{p:g}": math.nan for p in PERCENTILES})
        else:
            row = rows[i] if k == rows.shape[1] else rows[i][np.isfinite(rows[i])]
            stats["mean"] = float(row.mean())
            stats.update({f"p{p:g}": float(v) for p, v in zip(PERCENTILES, qv[i], strict=True)})
        out.append(stats)
    return out


_KERNELS: tuple[Any, ...] = (
    _power,
    _rhs,
    _hermite,
    _crossing,
    _interior_extreme,
    _lanes_rhs,
    _rows4,
    _solver,
    _arrow_solve,
    _stage_rhs,
    _attempted,
    _block,
    _run,
    _select,
    _order_pair,
    _row_quantiles,
    _quantile_rows,
)
_CONSTANT_SOURCES = ("_simulate.py", "_summaries.py", "_model.py", "_doses.py")
"""The modules whose constants the kernels freeze when they are compiled."""


def _drop_stale_cache() -> None:
    """Forget cached machine code compiled against other constants.

    numba keys its on-disk cache on this file's time stamp and on the kernels' bytecode, not on
    the module-level constants they read from the modules of :data:`_CONSTANT_SOURCES`; after
    one of those changes alone (a development checkout, an in-place upgrade) the cache would
    load machine code with the old constants. The digest of those sources is kept beside the
    cache; when it differs, every kernel's cache index is emptied, so they are compiled again.
    """
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _CONSTANT_SOURCES:
        digest.update((here / name).read_bytes())
    stamp = digest.hexdigest()
    marker = Path(_run._cache.cache_path) / "_kernel.constants.sha256"
    try:
        if marker.read_text(encoding="ascii") == stamp:
            return
    except OSError:
        pass
    try:
        for kernel in _KERNELS:
            kernel._cache.flush()
        marker.write_text(stamp, encoding="ascii")
    except OSError:
        pass  # a read-only cache: numba cannot write there either


_drop_stale_cache()


def _parameters(ind: Individuals) -> FloatArray:
    par = np.empty((ind.n, 10))  # one contiguous row per patient
    par[:, 0] = 1.0 / ind.v1_l
    par[:, 1] = ind.q_l_per_h / ind.v1_l
    par[:, 2] = ind.q_l_per_h / ind.v2_l
    par[:, 3] = ind.vmax_mg_per_h
    par[:, 4] = ind.km_mg_per_l
    par[:, 5] = ind.emax
    par[:, 6] = ind.ec50_mg_per_l
    par[:, 7] = ind.kin_1e9_per_l_h
    par[:, 8] = ind.kout_per_h
    par[:, 9] = ind.ka_per_h
    return par


def integrate_compiled(
    ind: Individuals,
    doses: DoseTable,
    t_end: float,
    summ: Summariser,
    *,
    rtol: float,
    atol: Sequence[float],
    h_max: float = 24.0,
    sync: Sequence[float] = (),
) -> tuple[FloatArray, IntegrationStats]:
    """:func:`cllcds.pk._simulate.integrate` with the compiled kernel, feeding ``summ``.

    Same arguments and results (to round-off); the observer must be a
    :class:`~cllcds.pk._summaries.Summariser`, whose per-step arrays the kernel updates in
    place.
    """
    if not (math.isfinite(t_end) and t_end > 0):
        raise InputError("t_end", t_end, "give a positive end time in hours")
    if not (0 < rtol < 1):
        raise InputError("rtol", rtol, "give a relative tolerance in (0, 1)")
    n = ind.n
    par = _parameters(ind)
    f_sc = np.ascontiguousarray(ind.f_sc, dtype=np.float64)
    y = np.zeros((4, n))
    y[2] = ind.wbc0
    hv = np.full(n, _H_RESTART)
    h_mem = np.full((_PHASES, n), _H_RESTART)
    atol_v = np.ascontiguousarray(atol, dtype=np.float64)
    segs = _segments(doses, t_end, sync)
    # Which dose starts close a dosing interval (Summariser._close_interval): the kernel
    # restarts its running interval AUC exactly there.
    reset = np.zeros(len(segs))
    start: float | None = None
    for k, seg in enumerate(segs):
        if seg.dose_starts:
            reset[k] = 1.0 if start is not None and seg.t0 > start else 0.0
            start = seg.t0
    seg_t0 = np.array([s.t0 for s in segs])
    seg_t1 = np.array([s.t1 for s in segs])
    seg_rate = np.array([s.rate_mg_per_h for s in segs])
    seg_sc = np.array([s.sc_mg for s in segs])
    seg_restart = np.array([1.0 if s.input_changes else 0.0 for s in segs])
    seg_phase = np.array([float(s.phase) for s in segs])
    thresholds = np.asarray(summ.thresholds, dtype=np.float64)
    targets = np.asarray(summ.targets, dtype=np.float64)
    time_above = np.zeros((thresholds.size, n))
    time_to = np.full((targets.size, n), np.nan)
    summ.time_above = list(time_above)
    summ.time_to = list(time_to)
    # The first event (Summariser.on_event at t = 0) before any step: C = 0, W = baseline.
    summ.wbc_nadir = np.minimum(summ.wbc_nadir, y[2])
    summ._seen_first = True
    ivl = np.zeros(n)
    counts = np.zeros((3, n))
    status = np.zeros(n)
    # The rows of C and W the Summariser uses (output times, dose starts) and of the interval
    # AUC (dose starts): the kernel keeps only those.
    needed = np.array([summ.needs(s.t0, s.dose_starts) for s in segs], dtype=bool)
    starts = np.array([s.dose_starts > 0 for s in segs], dtype=bool)
    chunk = max(1, min(len(segs), CHUNK_VALUES // max(n, 1)))
    iterations = 0
    for lo in range(0, len(segs), chunk):
        hi = min(len(segs), lo + chunk)
        m = hi - lo
        seg_row = np.where(needed[lo:hi], np.cumsum(needed[lo:hi]) - 1, -1)
        seg_ivl_row = np.where(starts[lo:hi], np.cumsum(starts[lo:hi]) - 1, -1)
        out_c = np.empty((int(needed[lo:hi].sum()), n))
        out_w = np.empty_like(out_c)
        out_ivl = np.empty((int(starts[lo:hi].sum()), n))
        attempts = np.zeros((_BLOCKS, m))  # per block of patients: the most attempts
        with _LAUNCH:
            _run(
                par,
                ind.wbc_exponent,
                power_table(ind.wbc_exponent),
                f_sc,
                y,
                hv,
                seg_t0[lo:hi],
                seg_t1[lo:hi],
                seg_rate[lo:hi],
                seg_sc[lo:hi],
                seg_restart[lo:hi],
                seg_phase[lo:hi],
                reset[lo:hi],
                seg_row,
                seg_ivl_row,
                h_mem,
                rtol,
                atol_v,
                h_max,
                thresholds,
                targets,
                out_c,
                out_w,
                out_ivl,
                attempts,
                ivl,
                summ.auc,
                summ.cmax,
                summ.tmax,
                summ.wbc_nadir,
                summ.t_nadir,
                time_above,
                time_to,
                counts,
                status,
            )
        if np.any(status == _UNDERFLOW):
            raise RuntimeError("pk integration step size underflow")
        if np.any(status == _ITERATIONS):
            raise RuntimeError("pk integration did not finish (iteration limit)")
        iterations += int(attempts.max(axis=0).sum()) if n else 0
        for k in range(m):
            if seg_row[k] < 0:
                continue
            seg = segs[lo + k]
            if seg_ivl_row[k] >= 0:
                summ._interval_auc = out_ivl[seg_ivl_row[k]]
            summ.on_event(seg.t0, seg.t1, out_c[seg_row[k]], out_w[seg_row[k]], seg.dose_starts)
    summ._interval_auc = ivl
    summ.on_event(t_end, t_end, y[0] * par[:, 0], y[2].copy(), 0)
    stats = IntegrationStats(int(counts[0].sum()), int(counts[1].sum()), iterations, len(segs), n)
    return y, stats
