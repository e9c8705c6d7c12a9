"""Per-patient reference solution with SciPy, for verification and benchmarks.

Each patient is solved on its own with :func:`scipy.integrate.solve_ivp` (LSODA by default, or
Radau, at ``rtol=1e-10``, ``atol=1e-12``), piecewise between the same event times as the
vectorised integrator (infusion starts and stops, SC doses), carrying the state across. This is
the "tight-tolerance reference solution" the vectorised simulator is checked against
(``pk-model.md`` §6); it is slow (about 0.2 s per patient for the 12-week label schedule).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ._doses import DoseTable
from ._model import WBC_REFERENCE, FloatArray, Individuals
from ._simulate import _segments


def reference_profiles(
    ind: Individuals,
    doses: DoseTable,
    times_h: Sequence[float],
    *,
    method: str = "LSODA",
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> tuple[FloatArray, FloatArray]:
    """Concentration (mg/L) and WBC (10⁹/L) at ``times_h`` for every patient, one at a time.

    Returns two arrays of shape ``(n, len(times_h))``. A time that falls exactly on an event
    gets the value just before the event (the dose has not yet acted).
    """
    from scipy.integrate import solve_ivp  # noqa: PLC0415 - only the reference needs SciPy

    times = np.asarray(times_h, dtype=np.float64)
    t_end = float(times.max()) if times.size else 0.0
    segs = _segments(doses, max(t_end, 1e-9))
    conc = np.empty((ind.n, times.size))
    wbc = np.empty((ind.n, times.size))
    for i in range(ind.n):
        one = ind.take(slice(i, i + 1))
        y = np.array([0.0, 0.0, float(one.wbc0[0]), 0.0])
        out_c = np.full(times.size, np.nan)
        out_w = np.full(times.size, np.nan)
        at_zero = times <= 0.0
        out_c[at_zero] = 0.0
        out_w[at_zero] = y[2]
        for seg in segs:
            if seg.sc_mg > 0:
                y[3] += float(one.f_sc[0]) * seg.sc_mg
            f, jac = _scalar_model(one, seg.rate_mg_per_h)

            inside = (times > seg.t0) & (times <= seg.t1)
            t_eval = np.unique(np.append(times[inside], seg.t1))
            sol = solve_ivp(
                f,
                (seg.t0, seg.t1),
                y,
                method=method,
                rtol=rtol,
                atol=atol,
                t_eval=t_eval,
                jac=jac,
            )
            if not sol.success:  # pragma: no cover - a solver failure is a bug to report
                raise RuntimeError(f"reference solve failed for patient {i}: {sol.message}")
            if inside.any():
                idx = np.searchsorted(t_eval, times[inside])
                out_c[inside] = sol.y[0, idx] / float(one.v1_l[0])
                out_w[inside] = sol.y[2, idx]
            y = sol.y[:, -1].copy()
        conc[i] = out_c
        wbc[i] = out_w
    return conc, wbc


RHS = Callable[[float, FloatArray], list[float]]
JAC = Callable[[float, FloatArray], list[list[float]]]


def _scalar_model(one: Individuals, rate: float) -> tuple[RHS, JAC]:
    """Plain-float right-hand side and Jacobian of one patient (fast for per-patient solvers)."""
    v1 = float(one.v1_l[0])
    q_v1 = float(one.q_l_per_h[0]) / v1
    q_v2 = float(one.q_l_per_h[0]) / float(one.v2_l[0])
    vmax = float(one.vmax_mg_per_h[0])
    km = float(one.km_mg_per_l[0])
    emax = float(one.emax[0])
    ec50 = float(one.ec50_mg_per_l[0])
    kin = float(one.kin_1e9_per_l_h[0])
    kout = float(one.kout_per_h[0])
    ka = float(one.ka_per_h[0])
    wexp = one.wbc_exponent

    def f(_t: float, y: FloatArray) -> list[float]:
        a1, a2, w, asc = float(y[0]), float(y[1]), float(y[2]), float(y[3])
        c = a1 / v1
        cp = max(c, 0.0)  # as in the vectorised model: identical for C >= 0
        vm = vmax * math.pow(max(w, 1e-12) / WBC_REFERENCE, wexp)
        elim = vm * c / (km + cp)
        return [
            rate + ka * asc - elim - q_v1 * a1 + q_v2 * a2,
            q_v1 * a1 - q_v2 * a2,
            kin - kout * (1.0 + emax * cp / (ec50 + cp)) * w,
            -ka * asc,
        ]

    def jac(_t: float, y: FloatArray) -> list[list[float]]:
        a1, w = float(y[0]), float(y[2])
        c = a1 / v1
        cp = max(c, 0.0)
        wp = max(w, 1e-12)
        vm = vmax * math.pow(wp / WBC_REFERENCE, wexp)
        den = km + cp
        den50 = ec50 + cp
        j31 = -kout * emax * ec50 / v1 / (den50 * den50) * w if c > 0 else 0.0
        return [
            [-vm * km / v1 / (den * den) - q_v1, q_v2, -wexp * vm * c / den / wp, ka],
            [q_v1, -q_v2, 0.0, 0.0],
            [j31, 0.0, -kout * (1 + emax * cp / den50), 0.0],
            [0.0, 0.0, 0.0, -ka],
        ]

    return f, jac


DESOLVE_COLUMNS = ("vmax", "km", "v1", "v2", "q", "emax", "ec50", "kin", "kout", "ka", "f", "wexp")
"""Parameter columns read by ``scripts/r/pk_desolve.R``."""


def write_desolve_inputs(
    ind: Individuals, doses: DoseTable, times_h: Sequence[float], folder: Path
) -> tuple[Path, Path, Path]:
    """Write the patients, the dose table and the output times as ``pk_desolve.R`` reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    params = folder / "params.csv"
    cols = np.column_stack(
        [
            ind.vmax_mg_per_h,
            ind.km_mg_per_l,
            ind.v1_l,
            ind.v2_l,
            ind.q_l_per_h,
            ind.emax,
            ind.ec50_mg_per_l,
            ind.kin_1e9_per_l_h,
            ind.kout_per_h,
            ind.ka_per_h,
            ind.f_sc,
            np.full(ind.n, ind.wbc_exponent),
        ]
    )
    lines = [",".join(DESOLVE_COLUMNS)]
    lines += [",".join(repr(float(v)) for v in row) for row in cols]
    params.write_text("\n".join(lines) + "\n")
    dose_file = folder / "doses.csv"
    dose_lines = ["time_h,dose_mg,route,duration_h"]
    dose_lines += [
        f"{d.time_h!r},{d.dose_mg!r},{d.route.value},{d.duration_h!r}" for d in doses.doses
    ]
    dose_file.write_text("\n".join(dose_lines) + "\n")
    times = folder / "times.csv"
    times.write_text("time_h\n" + "\n".join(repr(float(t)) for t in times_h) + "\n")
    return params, dose_file, times


def read_desolve_output(
    path: Path, n: int, times_h: Sequence[float]
) -> tuple[FloatArray, FloatArray]:
    """Read ``pk_desolve.R`` output into (concentration, WBC) arrays of shape (n, times)."""
    data = np.genfromtxt(path, delimiter=",", names=True)
    times = np.unique(np.asarray(times_h, dtype=np.float64))
    conc = np.asarray(data["conc_mg_per_l"], dtype=np.float64).reshape(n, times.size)
    wbc = np.asarray(data["wbc"], dtype=np.float64).reshape(n, times.size)
    return conc, wbc
