"""The compiled per-patient kernel (numba): the same method as :mod:`cllcds.pk._simulate`.

:func:`cllcds.pk._simulate.integrate` advances all patients together with NumPy array
operations; each patient's trajectory depends only on that patient (its own step size, its own
accept/reject decisions), so the same computation can run patient by patient in compiled code,
in parallel over patients (``numba.prange``), with the arithmetic written in the same order.
This module is that translation:

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


def _patient_impl(
    i: int,
    par: FloatArray,
    wexp: float,
    wpow: FloatArray,
    f_sc: float,
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
) -> int:
    """One patient through the chunk's segments; returns a status (0 = fine)."""
    p = par[i]
    inv_v1 = p[0]
    q_v1 = p[1]
    q_v2 = p[2]
    ka = p[9]
    a1 = y[0, i]
    a2 = y[1, i]
    w = y[2, i]
    asc = y[3, i]
    h = hv[i]
    floor = -_NEG_AMOUNTS * atol[0]
    # Per-patient accumulators live in locals (registers) and are stored once at the end.
    n_acc = 0
    n_rej = 0
    n_all = counts[2, i]
    auc_i = auc[i]
    ivl_i = ivl[i]
    cmax_i = cmax[i]
    tmax_i = tmax[i]
    nadir_i = nadir[i]
    tnad_i = t_nadir[i]
    status = _OK
    for k in range(seg_t0.size):
        out_c[k, i] = a1 * inv_v1
        out_w[k, i] = w
        out_ivl[k, i] = ivl_i
        if seg_reset[k] != 0:
            ivl_i = 0.0
        if seg_sc[k] > 0:
            asc += f_sc * seg_sc[k]
        # After an input change: the remembered first step of this kind of change
        # (_simulate._PHASES), until the first accepted step updates it.
        first = seg_restart[k] != 0
        phase = int(seg_phase[k])
        if first:
            h = min(h, h_mem[phase, i])
        rate = seg_rate[k]
        depot = asc != 0.0  # otherwise it stays exactly 0 through the segment
        f0, f1, f2, f3, vm0 = _rhs(a1, a2, w, asc, rate, p, wpow)
        t = seg_t0[k]
        t1 = seg_t1[k]
        tol_t = 1e-12 * max(1.0, t1)
        n_try = 0
        while True:
            n_try += 1
            n_all += 1
            if n_all > _MAX_STEPS:
                status = _ITERATIONS
                break
            hs = min(h, h_max)
            last = t + hs >= t1 - 1e-9 * max(1.0, t1)
            if last:
                hs = t1 - t
            if not hs > tol_t:
                hs = tol_t
            # -- one Rosenbrock step (the same operations as _simulate._rosenbrock_step) --
            c = a1 * inv_v1
            cp = 0.0 if c < 0.0 else c
            wpos = _W_FLOOR if w < _W_FLOOR else w
            vm = vm0  # Vmax(W) at the step's start, as the right-hand side computed it
            den = p[4] + cp
            den50 = p[6] + cp
            r = 1.0 / (den * den50)
            iden = den50 * r
            iden50 = den * r
            j11 = -vm * p[4] * inv_v1 * iden * iden - q_v1
            j13 = -wexp * vm * c * iden / wpos
            j31 = -p[8] * p[5] * p[6] * inv_v1 * iden50 * iden50 * w if c > 0 else 0.0
            j33 = -p[8] * (1.0 + p[5] * cp * iden50)
            inv_h = 1.0 / hs
            d = inv_h * (1.0 / _GAM)
            dq = d + q_v2
            dj = d - j33
            pq = 1.0 / (dq * dj)
            p2 = dj * pq
            p3 = dq * pq
            # Without SC drug in the depot its terms are exactly 0 (as in the NumPy path).
            p4 = 1.0 / (d + ka) if depot else 0.0
            u2 = q_v2 * p2
            u3 = j13 * p3
            sv = 1.0 / (d - j11 - q_v2 * q_v1 * p2 - j13 * j31 * p3)
            # g1 = solve(f)
            b0, b1, b2, b3 = f0, f1, f2, f3
            g13 = b3 * p4
            g10 = sv * (b0 + ka * g13 + u2 * b1 + u3 * b2)
            g11 = p2 * (b1 + q_v1 * g10)
            g12 = p3 * (b2 + j31 * g10)
            e0, e1, e2, e3, _ = _rhs(
                a1 + _A21 * g10, a2 + _A21 * g11, w + _A21 * g12, asc + _A21 * g13, rate, p, wpow
            )
            ch = _C21 * inv_h
            b0 = e0 + ch * g10
            b1 = e1 + ch * g11
            b2 = e2 + ch * g12
            b3 = e3 + ch * g13
            g23 = b3 * p4
            g20 = sv * (b0 + ka * g23 + u2 * b1 + u3 * b2)
            g21 = p2 * (b1 + q_v1 * g20)
            g22 = p3 * (b2 + j31 * g20)
            e0, e1, e2, e3, _ = _rhs(
                a1 + _A31 * g10 + _A32 * g20,
                a2 + _A31 * g11 + _A32 * g21,
                w + _A31 * g12 + _A32 * g22,
                asc + _A31 * g13 + _A32 * g23,
                rate,
                p,
                wpow,
            )
            b0 = e0 + inv_h * (_C31 * g10 + _C32 * g20)
            b1 = e1 + inv_h * (_C31 * g11 + _C32 * g21)
            b2 = e2 + inv_h * (_C31 * g12 + _C32 * g22)
            b3 = e3 + inv_h * (_C31 * g13 + _C32 * g23)
            g33 = b3 * p4
            g30 = sv * (b0 + ka * g33 + u2 * b1 + u3 * b2)
            g31 = p2 * (b1 + q_v1 * g30)
            g32 = p3 * (b2 + j31 * g30)
            b0 = e0 + inv_h * (_C41 * g10 + _C42 * g20 + _C43 * g30)
            b1 = e1 + inv_h * (_C41 * g11 + _C42 * g21 + _C43 * g31)
            b2 = e2 + inv_h * (_C41 * g12 + _C42 * g22 + _C43 * g32)
            b3 = e3 + inv_h * (_C41 * g13 + _C42 * g23 + _C43 * g33)
            g43 = b3 * p4
            g40 = sv * (b0 + ka * g43 + u2 * b1 + u3 * b2)
            g41 = p2 * (b1 + q_v1 * g40)
            g42 = p3 * (b2 + j31 * g40)
            n0 = a1 + _B1 * g10 + _B2 * g20 + _B3 * g30 + _B4 * g40
            n1 = a2 + _B1 * g11 + _B2 * g21 + _B3 * g31 + _B4 * g41
            n2 = w + _B1 * g12 + _B2 * g22 + _B3 * g32 + _B4 * g42
            n3 = asc + _B1 * g13 + _B2 * g23 + _B3 * g33 + _B4 * g43
            r0 = abs(_E1 * g10 + _E2 * g20 + _E4 * g40) / (atol[0] + rtol * max(abs(a1), abs(n0)))
            r1 = abs(_E1 * g11 + _E2 * g21 + _E4 * g41) / (atol[1] + rtol * max(abs(a2), abs(n1)))
            r2 = abs(_E1 * g12 + _E2 * g22 + _E4 * g42) / (atol[2] + rtol * max(abs(w), abs(n2)))
            r3 = (
                abs(_E1 * g13 + _E2 * g23 + _E4 * g43) / (atol[3] + rtol * max(abs(asc), abs(n3)))
                if depot
                else 0.0
            )
            if (
                math.isfinite(r0)
                and math.isfinite(r1)
                and math.isfinite(r2)
                and math.isfinite(r3)
                and not (n0 < floor or n1 < floor or n2 <= 0)
            ):
                e = max(r0, r1, r2, r3)
            else:
                e = 1e10
            accepted = e <= 1.0
            if accepted:
                n_acc += 1
                k0, k1, k2, k3, vm1 = _rhs(n0, n1, n2, n3, rate, p, wpow)
                # -- the streamed per-step summaries (Summariser.on_step) --
                c0 = a1 * inv_v1
                c1 = n0 * inv_v1
                dc0 = f0 * inv_v1
                dc1 = k0 * inv_v1
                ts = t + hs
                piece = hs * (c0 + c1) / 2 + hs * hs * (dc0 - dc1) / 12
                auc_i += piece
                ivl_i += piece
                if c1 > cmax_i:
                    cmax_i = c1
                    tmax_i = ts
                if dc0 > 0 and dc1 < 0:
                    val, s = _interior_extreme(hs, c0, c1, dc0, dc1)
                    if val > cmax_i:
                        cmax_i = val
                        tmax_i = t + s * hs
                if n2 < nadir_i:
                    nadir_i = n2
                    tnad_i = ts
                for j in range(thresholds.size):
                    level = thresholds[j]
                    above0 = c0 >= level
                    above1 = c1 >= level
                    if above0 and above1:
                        time_above[j, i] += hs
                    elif above1:
                        s = _crossing(hs, c0, c1, dc0, dc1, level, True)
                        time_above[j, i] += (1 - s) * hs
                    elif above0:
                        s = _crossing(hs, c0, c1, dc0, dc1, level, False)
                        time_above[j, i] += s * hs
                for j in range(targets.size):
                    level = targets[j]
                    if c1 >= level and math.isnan(time_to[j, i]):
                        if c0 >= level:
                            time_to[j, i] = t
                        else:
                            s = _crossing(hs, c0, c1, dc0, dc1, level, True)
                            time_to[j, i] = t + s * hs
                a1, a2, w, asc = n0, n1, n2, n3
                f0, f1, f2, f3, vm0 = k0, k1, k2, k3, vm1
                t = t1 if last else t + hs
            else:
                n_rej += 1
            inv_e = 1.0 / max(e, 1e-12)
            if accepted:
                grow = min(_MAX_GROW, _SAFETY * math.sqrt(math.sqrt(inv_e)))
                proposal = hs * grow
                if first:
                    h_mem[phase, i] = proposal
                    first = False
                h = max(h, proposal) if last else proposal
                if last:
                    break
            else:
                h = hs * max(_MIN_SHRINK, _SAFETY * _power(max(inv_e, _SHRINK_CLIP), CUBE_ROOT))
                if h < 1e-12:
                    status = _UNDERFLOW
                    break
        attempts[k, i] = n_try
        if status != _OK:
            break
    counts[0, i] += n_acc
    counts[1, i] += n_rej
    counts[2, i] = n_all
    auc[i] = auc_i
    ivl[i] = ivl_i
    cmax[i] = cmax_i
    tmax[i] = tmax_i
    nadir[i] = nadir_i
    t_nadir[i] = tnad_i
    y[0, i] = a1
    y[1, i] = a2
    y[2, i] = w
    y[3, i] = asc
    hv[i] = h
    return status


_patient = _jit(_patient_impl)


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
    for i in numba.prange(hv.size):
        status[i] = _patient(
            i,
            par,
            wexp,
            wpow,
            f_sc[i],
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
        )


_run: Any = numba.njit(cache=True, error_model="numpy", parallel=True)(_run_impl)

_KERNELS: tuple[Any, ...] = (
    _power,
    _rhs,
    _hermite,
    _crossing,
    _interior_extreme,
    _patient,
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
