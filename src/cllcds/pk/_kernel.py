"""The compiled per-patient kernel (numba): the same method as :mod:`cllcds.pk._simulate`.

:func:`cllcds.pk._simulate.integrate` advances all patients together with NumPy array
operations; each patient's trajectory depends only on that patient (its own step size, its own
accept/reject decisions), so the same computation can run patient by patient in compiled code,
in parallel over patients, with the arithmetic written in the same order. Each thread takes
blocks of patients and advances :data:`_LANES` of them side by side, one per "lane": every step
attempt is computed for all lanes in loops over the lanes, so the processor overlaps the
patients' long chains of dependent operations (about 1.5-2× less time per step than one patient
at a time); a lane whose patient has finished takes the block's next one, so lanes do not wait
for one another. This module is that translation:

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
  and running interval AUC of every patient at every segment start.

The results equal the NumPy path's to round-off (tests/pk/test_kernel.py checks 1e-12). The
segments are processed in chunks so that the per-event arrays stay within
:data:`CHUNK_VALUES` values whatever the number of patients. Compilation is cached on disk
(``cache=True``), so only the first run on a machine pays for it. numba keys that cache on
this file and the kernels' bytecode only, so :func:`_drop_stale_cache` empties it whenever
the modules whose constants the kernels read have changed.

Importing this module imports numba; :mod:`cllcds.pk._population` imports it only when the
compiled path is used (``backend="compiled"``, or ``"auto"`` with numba installed).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from ._summaries import _BISECT, Summariser

CHUNK_VALUES = 4_000_000
"""Largest number of (patient, segment) pairs whose event values are held at once (3 arrays
of float64: concentration, WBC, interval AUC; 96 MB)."""

_LAUNCH = threading.Lock()
"""One parallel kernel at a time per process: numba's ``workqueue`` threading layer (used when
neither OpenMP nor TBB is available) aborts on concurrent launches, e.g. from the API's thread
pool; the kernel uses every core anyway."""

_OK = 0
_UNDERFLOW = 1
_ITERATIONS = 2

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)

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


_power = _jit(_power_impl)


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


_rhs = _jit(_rhs_impl)


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


_LANES = 64
"""Patients advanced side by side in one thread (one "lane" each): every step attempt is
computed for all lanes in a loop over the lanes, so the processor overlaps the lanes' long
dependency chains (and vectorises parts); a lane whose patient is done takes the next one."""
_BLOCKS = 64
"""Blocks of patients handed to the threads (at least 16 patients per lane each)."""


def _lanes_rhs_impl(
    a1: FloatArray,
    a2: FloatArray,
    w: FloatArray,
    asc: FloatArray,
    rate: FloatArray,
    p: FloatArray,
    wpow: FloatArray,
    x: FloatArray,
    bits: IntArray,
    mant: IntArray,
    f0: FloatArray,
    f1: FloatArray,
    f2: FloatArray,
    f3: FloatArray,
    vm: FloatArray,
) -> None:
    # _rhs for every lane (p[:, l]: lane l's parameters), _power written out with frexp from
    # the IEEE-754 bits (x is normal and positive where it is valid; elsewhere NaN, as _power).
    mf = mant.view(np.float64)
    for lane in range(_LANES):
        wl = w[lane]
        wf = _W_FLOOR if wl < _W_FLOOR else wl
        xl = wf / WBC_REFERENCE
        x[lane] = xl if (xl >= _POW_SMALLEST and xl < _POW_LARGEST) else 1.0
    for lane in range(_LANES):
        b = bits[lane]
        mant[lane] = (b & _MANT_BITS) | _HALF_BITS
        bits[lane] = ((b >> 52) & 0x7FF) - 1022
    for lane in range(_LANES):  # the table look-ups (x**a = vm / Vmax)
        m = mf[lane]
        j = int((m - 0.5) * (2 * _POW_CELLS))
        u = m * wpow[_POW_INV + j] - 1.0
        s = float(wpow[_POW_TERMS - 1])
        for k in range(_POW_TERMS - 2, -1, -1):
            s = s * u + wpow[k]
        vm[lane] = wpow[_POW_MANT + j] * wpow[_POW_EXP - _POW_EMIN + bits[lane]] * s
    for lane in range(_LANES):  # the arithmetic, in a loop of its own
        wl = w[lane]
        wf = _W_FLOOR if wl < _W_FLOOR else wl
        xl = wf / WBC_REFERENCE
        pw = vm[lane] if (xl >= _POW_SMALLEST and xl < _POW_LARGEST) else math.nan
        c = a1[lane] * p[0, lane]
        cp = 0.0 if c < 0.0 else c
        v = p[3, lane] * pw
        den = p[4, lane] + cp
        den50 = p[6, lane] + cp
        r = 1.0 / (den * den50)
        elim = v * c * den50 * r
        absorbed = p[9, lane] * asc[lane]
        f0[lane] = rate[lane] + absorbed - elim - p[1, lane] * a1[lane] + p[2, lane] * a2[lane]
        f1[lane] = p[1, lane] * a1[lane] - p[2, lane] * a2[lane]
        f2[lane] = p[7, lane] - p[8, lane] * (1.0 + p[5, lane] * cp * den * r) * w[lane]
        f3[lane] = -absorbed
        vm[lane] = v


_lanes_rhs = _jit(_lanes_rhs_impl)


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
    p = np.empty((10, nl))
    pat = np.full(nl, -1, dtype=np.int64)
    kseg = np.zeros(nl, dtype=np.int64)
    phase = np.zeros(nl, dtype=np.int64)
    n_try = np.zeros(nl, dtype=np.int64)
    n_all = np.zeros(nl)
    n_acc = np.zeros(nl)
    n_rej = np.zeros(nl)
    first = np.zeros(nl, dtype=np.bool_)
    depot = np.zeros(nl, dtype=np.bool_)
    last = np.zeros(nl, dtype=np.bool_)
    a1 = np.zeros(nl)
    a2 = np.zeros(nl)
    w = np.ones(nl)
    asc = np.zeros(nl)
    f0 = np.zeros(nl)
    f1 = np.zeros(nl)
    f2 = np.zeros(nl)
    f3 = np.zeros(nl)
    vm0 = np.zeros(nl)
    t = np.zeros(nl)
    t1 = np.ones(nl)
    tol_t = np.full(nl, 1e-12)
    h = np.ones(nl)
    hs = np.ones(nl)
    rate = np.zeros(nl)
    auc_l = np.zeros(nl)
    ivl_l = np.zeros(nl)
    cmax_l = np.zeros(nl)
    tmax_l = np.zeros(nl)
    nadir_l = np.zeros(nl)
    tnad_l = np.zeros(nl)
    # the step's intermediate values, lane by lane
    g = np.zeros((16, nl))
    sol = np.zeros((8, nl))
    xs = np.zeros((4, nl))
    e0 = np.zeros(nl)
    e1 = np.zeros(nl)
    e2 = np.zeros(nl)
    e3 = np.zeros(nl)
    vmx = np.zeros(nl)
    k0 = np.zeros(nl)
    k1 = np.zeros(nl)
    k2 = np.zeros(nl)
    k3 = np.zeros(nl)
    vm1 = np.zeros(nl)
    err = np.zeros(nl)
    xp = np.zeros(nl)
    bits = xp.view(np.int64)
    mant = np.zeros(nl, dtype=np.int64)
    for q in range(10):
        for lane in range(nl):
            p[q, lane] = par[lo, q] if lo < hi else 1.0
    nxt = lo
    live = 0
    for lane in range(nl):
        if nxt < hi:
            pat[lane] = nxt
            nxt += 1
            live += 1
    start = np.ones(nl, dtype=np.bool_)  # the lane has just taken a new patient
    begin = np.zeros(nl, dtype=np.bool_)  # the lane starts segment kseg
    while live > 0:
        # -- take a new patient, start segments (lane by lane, as the NumPy path does) --
        for lane in range(nl):
            i = pat[lane]
            if i < 0:
                continue
            if start[lane]:
                start[lane] = False
                for q in range(10):
                    p[q, lane] = par[i, q]
                a1[lane] = y[0, i]
                a2[lane] = y[1, i]
                w[lane] = y[2, i]
                asc[lane] = y[3, i]
                h[lane] = hv[i]
                n_all[lane] = counts[2, i]
                n_acc[lane] = 0.0
                n_rej[lane] = 0.0
                auc_l[lane] = auc[i]
                ivl_l[lane] = ivl[i]
                cmax_l[lane] = cmax[i]
                tmax_l[lane] = tmax[i]
                nadir_l[lane] = nadir[i]
                tnad_l[lane] = t_nadir[i]
                kseg[lane] = 0
                begin[lane] = True
            if begin[lane]:
                begin[lane] = False
                k = kseg[lane]
                out_c[k, i] = a1[lane] * p[0, lane]
                out_w[k, i] = w[lane]
                out_ivl[k, i] = ivl_l[lane]
                if seg_reset[k] != 0:
                    ivl_l[lane] = 0.0
                if seg_sc[k] > 0:
                    asc[lane] += f_sc[i] * seg_sc[k]
                first[lane] = seg_restart[k] != 0
                phase[lane] = int(seg_phase[k])
                if first[lane]:
                    h[lane] = min(h[lane], h_mem[phase[lane], i])
                rate[lane] = seg_rate[k]
                depot[lane] = asc[lane] != 0.0
                f0[lane], f1[lane], f2[lane], f3[lane], vm0[lane] = _rhs(
                    a1[lane], a2[lane], w[lane], asc[lane], rate[lane], par[i], wpow
                )
                t[lane] = seg_t0[k]
                t1[lane] = seg_t1[k]
                tol_t[lane] = 1e-12 * max(1.0, seg_t1[k])
                n_try[lane] = 0
        # -- one Rosenbrock step attempt in every lane (_simulate._rosenbrock_step) --
        for lane in range(nl):
            tl = t[lane]
            t1l = t1[lane]
            hl = min(h[lane], h_max)
            la = tl + hl >= t1l - 1e-9 * max(1.0, t1l)
            if la:
                hl = t1l - tl
            if not hl > tol_t[lane]:
                hl = tol_t[lane]
            hs[lane] = hl
            last[lane] = la
            inv_v1 = p[0, lane]
            q_v1 = p[1, lane]
            q_v2 = p[2, lane]
            ka = p[9, lane]
            wl = w[lane]
            c = a1[lane] * inv_v1
            cp = 0.0 if c < 0.0 else c
            wpos = _W_FLOOR if wl < _W_FLOOR else wl
            vm = vm0[lane]
            den = p[4, lane] + cp
            den50 = p[6, lane] + cp
            r = 1.0 / (den * den50)
            iden = den50 * r
            iden50 = den * r
            j11 = -vm * p[4, lane] * inv_v1 * iden * iden - q_v1
            j13 = -wexp * vm * c * iden / wpos
            j31 = (
                -p[8, lane] * p[5, lane] * p[6, lane] * inv_v1 * iden50 * iden50 * wl
                if c > 0
                else 0.0
            )
            j33 = -p[8, lane] * (1.0 + p[5, lane] * cp * iden50)
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
            sol[0, lane] = inv_h
            sol[1, lane] = p2
            sol[2, lane] = p3
            sol[3, lane] = p4
            sol[4, lane] = u2
            sol[5, lane] = u3
            sol[6, lane] = sv
            sol[7, lane] = j31
            b0, b1, b2, b3 = f0[lane], f1[lane], f2[lane], f3[lane]
            g13 = b3 * p4
            g10 = sv * (b0 + ka * g13 + u2 * b1 + u3 * b2)
            g11 = p2 * (b1 + q_v1 * g10)
            g12 = p3 * (b2 + j31 * g10)
            g[0, lane] = g10
            g[1, lane] = g11
            g[2, lane] = g12
            g[3, lane] = g13
            xs[0, lane] = a1[lane] + _A21 * g10
            xs[1, lane] = a2[lane] + _A21 * g11
            xs[2, lane] = wl + _A21 * g12
            xs[3, lane] = asc[lane] + _A21 * g13
        _lanes_rhs(xs[0], xs[1], xs[2], xs[3], rate, p, wpow, xp, bits, mant, e0, e1, e2, e3, vmx)
        for lane in range(nl):
            inv_h = sol[0, lane]
            p2 = sol[1, lane]
            p3 = sol[2, lane]
            p4 = sol[3, lane]
            u2 = sol[4, lane]
            u3 = sol[5, lane]
            sv = sol[6, lane]
            j31 = sol[7, lane]
            q_v1 = p[1, lane]
            ka = p[9, lane]
            g10, g11, g12, g13 = g[0, lane], g[1, lane], g[2, lane], g[3, lane]
            ch = _C21 * inv_h
            b0 = e0[lane] + ch * g10
            b1 = e1[lane] + ch * g11
            b2 = e2[lane] + ch * g12
            b3 = e3[lane] + ch * g13
            g23 = b3 * p4
            g20 = sv * (b0 + ka * g23 + u2 * b1 + u3 * b2)
            g21 = p2 * (b1 + q_v1 * g20)
            g22 = p3 * (b2 + j31 * g20)
            g[4, lane] = g20
            g[5, lane] = g21
            g[6, lane] = g22
            g[7, lane] = g23
            xs[0, lane] = a1[lane] + _A31 * g10 + _A32 * g20
            xs[1, lane] = a2[lane] + _A31 * g11 + _A32 * g21
            xs[2, lane] = w[lane] + _A31 * g12 + _A32 * g22
            xs[3, lane] = asc[lane] + _A31 * g13 + _A32 * g23
        _lanes_rhs(xs[0], xs[1], xs[2], xs[3], rate, p, wpow, xp, bits, mant, e0, e1, e2, e3, vmx)
        for lane in range(nl):
            inv_h = sol[0, lane]
            p2 = sol[1, lane]
            p3 = sol[2, lane]
            p4 = sol[3, lane]
            u2 = sol[4, lane]
            u3 = sol[5, lane]
            sv = sol[6, lane]
            j31 = sol[7, lane]
            q_v1 = p[1, lane]
            ka = p[9, lane]
            g10, g11, g12, g13 = g[0, lane], g[1, lane], g[2, lane], g[3, lane]
            g20, g21, g22, g23 = g[4, lane], g[5, lane], g[6, lane], g[7, lane]
            ea, eb, ec, ed = e0[lane], e1[lane], e2[lane], e3[lane]
            b0 = ea + inv_h * (_C31 * g10 + _C32 * g20)
            b1 = eb + inv_h * (_C31 * g11 + _C32 * g21)
            b2 = ec + inv_h * (_C31 * g12 + _C32 * g22)
            b3 = ed + inv_h * (_C31 * g13 + _C32 * g23)
            g33 = b3 * p4
            g30 = sv * (b0 + ka * g33 + u2 * b1 + u3 * b2)
            g31 = p2 * (b1 + q_v1 * g30)
            g32 = p3 * (b2 + j31 * g30)
            b0 = ea + inv_h * (_C41 * g10 + _C42 * g20 + _C43 * g30)
            b1 = eb + inv_h * (_C41 * g11 + _C42 * g21 + _C43 * g31)
            b2 = ec + inv_h * (_C41 * g12 + _C42 * g22 + _C43 * g32)
            b3 = ed + inv_h * (_C41 * g13 + _C42 * g23 + _C43 * g33)
            g43 = b3 * p4
            g40 = sv * (b0 + ka * g43 + u2 * b1 + u3 * b2)
            g41 = p2 * (b1 + q_v1 * g40)
            g42 = p3 * (b2 + j31 * g40)
            y0, y1, y2, y3 = a1[lane], a2[lane], w[lane], asc[lane]
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
                err[lane] = max(r0, r1, r2, r3)
            else:
                err[lane] = 1e10
            xs[0, lane] = n0
            xs[1, lane] = n1
            xs[2, lane] = n2
            xs[3, lane] = n3
        # the right-hand side at the new points (used where the step is accepted)
        _lanes_rhs(xs[0], xs[1], xs[2], xs[3], rate, p, wpow, xp, bits, mant, k0, k1, k2, k3, vm1)
        # -- accept or reject, the streamed per-step summaries, step size (lane by lane) --
        for lane in range(nl):
            i = pat[lane]
            if i < 0:
                continue
            n_try[lane] += 1
            n_all[lane] += 1
            done = False
            if n_all[lane] > _MAX_STEPS:  # the NumPy path stops before this attempt
                status[i] = _ITERATIONS
                done = True
            else:
                e = err[lane]
                hl = hs[lane]
                la = last[lane]
                accepted = e <= 1.0
                if accepted:
                    n_acc[lane] += 1
                    inv_v1 = p[0, lane]
                    tl = t[lane]
                    n0 = xs[0, lane]
                    n2 = xs[2, lane]
                    c0 = a1[lane] * inv_v1
                    c1 = n0 * inv_v1
                    dc0 = f0[lane] * inv_v1
                    dc1 = k0[lane] * inv_v1
                    ts = tl + hl
                    piece = hl * (c0 + c1) / 2 + hl * hl * (dc0 - dc1) / 12
                    auc_l[lane] += piece
                    ivl_l[lane] += piece
                    if c1 > cmax_l[lane]:
                        cmax_l[lane] = c1
                        tmax_l[lane] = ts
                    if dc0 > 0 and dc1 < 0:
                        val, s = _interior_extreme(hl, c0, c1, dc0, dc1)
                        if val > cmax_l[lane]:
                            cmax_l[lane] = val
                            tmax_l[lane] = tl + s * hl
                    if n2 < nadir_l[lane]:
                        nadir_l[lane] = n2
                        tnad_l[lane] = ts
                    for j in range(thresholds.size):
                        level = thresholds[j]
                        above0 = c0 >= level
                        above1 = c1 >= level
                        if above0 and above1:
                            time_above[j, i] += hl
                        elif above1:
                            s = _crossing(hl, c0, c1, dc0, dc1, level, True)
                            time_above[j, i] += (1 - s) * hl
                        elif above0:
                            s = _crossing(hl, c0, c1, dc0, dc1, level, False)
                            time_above[j, i] += s * hl
                    for j in range(targets.size):
                        level = targets[j]
                        if c1 >= level and math.isnan(time_to[j, i]):
                            if c0 >= level:
                                time_to[j, i] = tl
                            else:
                                s = _crossing(hl, c0, c1, dc0, dc1, level, True)
                                time_to[j, i] = tl + s * hl
                    a1[lane] = n0
                    a2[lane] = xs[1, lane]
                    w[lane] = n2
                    asc[lane] = xs[3, lane]
                    f0[lane] = k0[lane]
                    f1[lane] = k1[lane]
                    f2[lane] = k2[lane]
                    f3[lane] = k3[lane]
                    vm0[lane] = vm1[lane]
                    t[lane] = t1[lane] if la else tl + hl
                else:
                    n_rej[lane] += 1
                inv_e = 1.0 / max(e, 1e-12)
                if accepted:
                    grow = min(_MAX_GROW, _SAFETY * math.sqrt(math.sqrt(inv_e)))
                    proposal = hl * grow
                    if first[lane]:
                        h_mem[phase[lane], i] = proposal
                        first[lane] = False
                    h[lane] = max(h[lane], proposal) if la else proposal
                    if la:
                        k = kseg[lane]
                        attempts[k, i] = n_try[lane]
                        if k + 1 < n_seg:
                            kseg[lane] = k + 1
                            begin[lane] = True
                        else:
                            done = True
                else:
                    shrink = _power(max(inv_e, _SHRINK_CLIP), CUBE_ROOT)
                    h[lane] = hl * max(_MIN_SHRINK, _SAFETY * shrink)
                    if h[lane] < 1e-12:
                        status[i] = _UNDERFLOW
                        done = True
            if done:
                if status[i] != _OK:
                    attempts[kseg[lane], i] = n_try[lane]
                counts[0, i] += n_acc[lane]
                counts[1, i] += n_rej[lane]
                counts[2, i] = n_all[lane]
                auc[i] = auc_l[lane]
                ivl[i] = ivl_l[lane]
                cmax[i] = cmax_l[lane]
                tmax[i] = tmax_l[lane]
                nadir[i] = nadir_l[lane]
                t_nadir[i] = tnad_l[lane]
                y[0, i] = a1[lane]
                y[1, i] = a2[lane]
                y[2, i] = w[lane]
                y[3, i] = asc[lane]
                hv[i] = h[lane]
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
            h_mem,
            rtol,
            atol,
            h_max,
            thresholds,
            targets,
            out_c,
            out_w,
            out_ivl,
            attempts,
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

_KERNELS: tuple[Any, ...] = (
    _power,
    _rhs,
    _hermite,
    _crossing,
    _interior_extreme,
    _lanes_rhs,
    _block,
    _run,
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
    chunk = max(1, min(len(segs), CHUNK_VALUES // max(n, 1)))
    iterations = 0
    for lo in range(0, len(segs), chunk):
        hi = min(len(segs), lo + chunk)
        m = hi - lo
        out_c = np.empty((m, n))
        out_w = np.empty((m, n))
        out_ivl = np.empty((m, n))
        attempts = np.zeros((m, n))
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
        iterations += int(attempts.max(axis=1).sum()) if n else 0
        for k in range(m):
            seg = segs[lo + k]
            summ._interval_auc = out_ivl[k]
            summ.on_event(seg.t0, seg.t1, out_c[k], out_w[k], seg.dose_starts)
    summ._interval_auc = ivl
    summ.on_event(t_end, t_end, y[0] * par[:, 0], y[2].copy(), 0)
    stats = IntegrationStats(int(counts[0].sum()), int(counts[1].sum()), iterations, len(segs), n)
    return y, stats
