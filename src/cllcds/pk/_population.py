"""The simulation API: one call for the typical patient or a virtual population."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from cllcds.domain import InputError

from ._doses import DoseTable
from ._model import (
    KNOWN_LIMITS,
    SC_APPROXIMATION,
    THRESHOLD_AUC_MG_H_PER_L,
    THRESHOLD_TROUGH_MG_PER_L,
    FloatArray,
    Individuals,
    PkParameters,
    individuals,
)
from ._simulate import IntegrationStats, integrate
from ._summaries import Summariser, WeekTroughs, population_stats_rows

DEFAULT_RTOL_SIM = 3e-3
"""Default local tolerance of :func:`simulate`: the 4th-order solution is propagated while the
step is controlled by the 3rd-order estimate, so global errors stay far below 1 %
(measured against LSODA at rtol 1e-10 in tests/pk)."""
DEFAULT_ATOL_SIM = (1e-5, 1e-5, 1e-5, 1e-5)
"""Absolute tolerances for A1 (mg), A2 (mg), W (10⁹/L), depot (mg) used by :func:`simulate`."""
WASHOUT_H = 14 * 24.0
"""Default time simulated after the last administration ends (14 days)."""
MAX_GRID = 20_000
DEFAULT_GRID_POINTS = 240
_NICE_STEPS = (0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0)
MAX_PATIENTS = 2_000_000

Backend = Literal["auto", "compiled", "numpy"]
BACKENDS: tuple[str, ...] = ("auto", "compiled", "numpy")
"""How :func:`simulate` integrates: ``compiled`` runs the numba kernel
(:mod:`cllcds.pk._kernel`, the ``pk`` extra: ``pip install 'cllcds[pk]'``), ``numpy`` the
vectorised NumPy integrator; ``auto`` (default) the compiled kernel when numba is installed and
there are at least :data:`AUTO_COMPILED_MIN_PATIENTS` patients. Both give the same results to
round-off."""
AUTO_COMPILED_MIN_PATIENTS = 32
"""Below this many patients ``auto`` runs NumPy: importing numba and loading the cached kernel
(about 0.5-1 s of CPU) costs more than it saves (docs/performance.md, PK)."""


def compiled_available() -> bool:
    """Whether numba is installed, so the compiled kernel can run."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):
        return False


def resolve_backend(backend: str, n: int = AUTO_COMPILED_MIN_PATIENTS) -> str:
    """``compiled`` or ``numpy`` for a requested backend and ``n`` patients; fails closed on an
    unknown name or a compiled request without numba."""
    if backend not in BACKENDS:
        raise InputError("backend", backend, f"use one of {', '.join(BACKENDS)}")
    if backend == "auto":
        big = n >= AUTO_COMPILED_MIN_PATIENTS
        return "compiled" if big and compiled_available() else "numpy"
    if backend == "compiled" and not compiled_available():
        raise InputError(
            "backend",
            backend,
            "the compiled PK kernel needs numba: pip install 'cllcds[pk]' (or use numpy)",
        )
    return backend


SUMMARY_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("cmax", "ug/mL", "highest concentration"),
    ("tmax", "h", "time of the highest concentration"),
    ("auc", "ug.h/mL", "AUC over the whole simulation"),
    ("auc_tau_max", "ug.h/mL", "largest AUC over one dosing interval"),
    ("max_trough", "ug/mL", "highest pre-dose concentration"),
    ("t_trough_threshold", "h", "first dose with pre-dose C >= 13.2 ug/mL"),
    ("t_auc_threshold", "h", "start of the first interval with AUC(0-tau) >= 484"),
    ("wbc_nadir", "10^9/L", "lowest WBC"),
    ("t_nadir", "h", "time of the lowest WBC"),
    ("c_end", "ug/mL", "concentration at the end"),
    ("wbc_end", "10^9/L", "WBC at the end"),
)


@dataclass(frozen=True)
class PkResult:
    """What one simulation produced. Concentrations in µg/mL (= mg/L), times in h.

    ``per_patient`` holds one array per summary (length ``n``); ``summary`` their population
    statistics; ``profile`` the concentration and WBC at each output time (a value for the
    typical patient, population statistics otherwise); ``weekly_troughs`` the lowest and
    highest pre-dose concentration of each week. ``notes`` are the approximations and known
    limits every output must carry.
    """

    doses: DoseTable
    params: PkParameters
    n: int
    typical: bool
    seed: int | None
    wbc0: float | None
    t_end_h: float
    residual_error: bool
    times_h: tuple[float, ...]
    profile: tuple[dict[str, dict[str, float]], ...]
    per_patient: dict[str, FloatArray]
    summary: dict[str, dict[str, float]]
    fractions: dict[str, float]
    weekly_troughs: tuple[WeekTroughs, ...]
    thresholds_mg_per_l: tuple[float, ...]
    targets_mg_per_l: tuple[float, ...]
    notes: tuple[str, ...]
    stats: IntegrationStats
    patient_profiles: tuple[FloatArray, FloatArray] | None = field(default=None, repr=False)
    """(concentration, WBC), each of shape (n, len(times_h)), only when asked."""
    interval_auc: tuple[tuple[float, ...], FloatArray] | None = field(default=None, repr=False)
    """(start time of each dosing interval, AUC of shape (n, intervals)), only when asked."""


def default_grid(t_end: float, doses: DoseTable | None = None) -> FloatArray:
    """Default output times: a regular grid from 0 to ``t_end`` at the finest 'nice' spacing
    giving at most :data:`DEFAULT_GRID_POINTS` points, plus every dose start (troughs) and
    infusion end (IV peaks), where all patients are synchronised anyway."""
    step = next(
        (s for s in _NICE_STEPS if t_end / s <= DEFAULT_GRID_POINTS),
        24.0 * math.ceil(t_end / DEFAULT_GRID_POINTS / 24),
    )
    grid = np.arange(0.0, t_end + 1e-9, step)
    if doses is not None:
        events = [d.time_h for d in doses.doses] + [d.end_h for d in doses.doses]
        grid = np.union1d(grid, [e for e in events if e <= t_end])
    return grid


def parse_times(spec: str) -> FloatArray:
    """Parse an output grid: ``start:stop:step`` (h) or a comma list of hours.

    Examples
    --------
    >>> parse_times("0:6:2").tolist()
    [0.0, 2.0, 4.0, 6.0]
    >>> parse_times("2, 6,24").tolist()
    [2.0, 6.0, 24.0]
    """
    text = spec.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
                raise ValueError
            count = math.floor((parts[1] - parts[0]) / parts[2] + 1e-9) + 1
            if count > MAX_GRID:
                raise InputError("--times", spec, f"use at most {MAX_GRID} output times")
            arr = parts[0] + parts[2] * np.arange(count)
        else:
            arr = np.array([float(p) for p in text.split(",") if p.strip()])
    except ValueError:
        raise InputError(
            "--times", spec, "give start:stop:step in hours (e.g. 0:2016:6) or a list (2,6,24)"
        ) from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InputError("--times", spec, "give non-negative hours")
    if arr.size > MAX_GRID:
        raise InputError("--times", spec, f"use at most {MAX_GRID} output times")
    return np.unique(arr)


def notes_for(doses: DoseTable, params: PkParameters) -> tuple[str, ...]:
    """The approximation labels and known limits that go with every output."""
    notes: list[str] = []
    if doses.has_sc:
        notes.append(SC_APPROXIMATION.format(ka_per_day=params.ka_per_h * 24, f_sc=params.f_sc))
    if params.vmax_scale != 1.0:
        notes.append(
            f"Vmax is scaled by S = {params.vmax_scale:g} (APPROXIMATION A2, pk-model.md §5); "
            "S != 1 breaks the IV label half-lives."
        )
    if any(d.duration_h >= 24 for d in doses.doses):
        notes.append(
            "Continuous infusion: no published PK comparator (pk-model.md §5 A4); unvalidated."
        )
    notes.extend(KNOWN_LIMITS)
    return tuple(notes)


def simulate(
    doses: DoseTable,
    *,
    params: PkParameters | None = None,
    n: int = 1,
    seed: int | None = None,
    typical: bool | None = None,
    wbc0: float | None = None,
    times_h: Sequence[float] | None = None,
    t_end_h: float | None = None,
    thresholds_mg_per_l: Sequence[float] = (THRESHOLD_TROUGH_MG_PER_L,),
    targets_mg_per_l: Sequence[float] = (1.0,),
    residual_error: bool = False,
    keep_profiles: bool = False,
    keep_interval_auc: bool = False,
    rtol: float = DEFAULT_RTOL_SIM,
    atol: Sequence[float] = DEFAULT_ATOL_SIM,
    individuals_override: Individuals | None = None,
    backend: Backend | str = "auto",
) -> PkResult:
    """Simulate the typical patient or ``n`` virtual patients on one dose table.

    Parameters
    ----------
    doses
        The schedule (see :func:`dose_table`, :func:`label_iv_schedule`).
    params
        Model parameters (default: Mould 2007 as transcribed, with the SC approximations).
    n, seed
        Number of virtual patients and the seed of their random effects (and residual errors).
    typical
        Simulate the typical patient (all η = 0); the default when ``n == 1`` and no seed.
    wbc0
        Baseline WBC (10⁹/L) of every patient; default Kin/Kout (53.8 for the typical patient).
    times_h
        Output times; default :func:`default_grid` up to ``t_end_h``. Every output time is a
        step end of every patient (exact, not interpolated), so a dense grid costs time.
    t_end_h
        End of the simulation; default the last administration's end + 14 days, or the last
        output time if later.
    thresholds_mg_per_l, targets_mg_per_l
        Concentrations for the time above (default 13.2 µg/mL) and the time to reach
        (default 1 µg/mL, Hale 2004's landmark).
    residual_error
        Add Mould's residual error (proportional 37.2 %, additive 0.0647 µg/mL; WBC additive
        15.6) to the output profile (not to the summaries).
    keep_profiles
        Also return every patient's concentration and WBC at the output times.
    keep_interval_auc
        Also return every patient's AUC over every dosing interval.
    rtol, atol
        Local tolerances of the integrator (atol per state: A1, A2 mg; W 10⁹/L; depot mg).
    individuals_override
        Use these patients instead of drawing them (tests, benchmarks).
    backend
        ``auto`` (the compiled kernel when numba is installed and there are at least
        :data:`AUTO_COMPILED_MIN_PATIENTS` patients, else NumPy), ``compiled`` or ``numpy``
        (:data:`BACKENDS`); the results are the same to round-off.

    Examples
    --------
    >>> from cllcds.pk import label_iv_schedule
    >>> r = simulate(label_iv_schedule(), t_end_h=84 * 24)
    >>> round(r.summary["cmax"]["value"], 2)
    2.68
    """
    params = params or PkParameters()
    size = individuals_override.n if individuals_override is not None else n
    engine = resolve_backend(backend, size)
    if typical is None:
        typical = n == 1 and seed is None and individuals_override is None
    if not 1 <= n <= MAX_PATIENTS:
        raise InputError("n", n, f"simulate 1 to {MAX_PATIENTS} patients")
    if typical and n != 1:
        raise InputError("n", n, "the typical patient is one patient: use n = 1 or give a seed")
    ss = np.random.SeedSequence(seed)
    eta_seed, eps_seed = ss.spawn(2)
    if individuals_override is not None:
        ind = individuals_override
    elif typical:
        ind = individuals(params, 1, wbc0=wbc0)
    else:
        ind = individuals(params, n, rng=np.random.default_rng(eta_seed), wbc0=wbc0)
    grid = None if times_h is None else np.unique(np.asarray(times_h, dtype=np.float64))
    if t_end_h is None:
        t_end_h = doses.end_h + WASHOUT_H
        if grid is not None and grid.size:
            t_end_h = max(t_end_h, float(grid.max()))
    if not (math.isfinite(t_end_h) and t_end_h > 0):
        raise InputError("t_end_h", t_end_h, "give a positive end time in hours")
    if grid is None:
        grid = default_grid(t_end_h, doses)
    grid = grid[grid <= t_end_h + 1e-9]
    for v in (*thresholds_mg_per_l, *targets_mg_per_l):
        if not (math.isfinite(v) and v > 0):
            raise InputError("threshold", v, "give a positive concentration in µg/mL")
    residual = None
    if residual_error:
        residual = (
            np.random.default_rng(eps_seed),
            params.prop_sd,
            params.add_sd_mg_per_l,
            params.wbc_add_sd_1e9_per_l,
        )
    rows_stats = population_stats_rows
    if engine == "compiled":
        from ._kernel import population_stats_rows as rows_stats  # noqa: PLC0415

    summ = Summariser(
        n=ind.n,
        dose_times=[d.time_h for d in doses.doses],
        thresholds=tuple(thresholds_mg_per_l),
        targets=tuple(targets_mg_per_l),
        auc_threshold=THRESHOLD_AUC_MG_H_PER_L,
        trough_threshold=THRESHOLD_TROUGH_MG_PER_L,
        grid=tuple(grid.tolist()),
        keep_profiles=keep_profiles,
        keep_intervals=keep_interval_auc,
        residual=residual,
        rows_stats=rows_stats,
    )
    # Output times are step ends of every patient: exact values, no interpolation of the
    # (possibly stiff) WBC inside a step.
    sync = grid
    if engine == "compiled":
        from ._kernel import integrate_compiled  # noqa: PLC0415 (numba only when used)

        _, stats = integrate_compiled(
            ind, doses, t_end_h, summ, rtol=rtol, atol=atol, sync=tuple(sync)
        )
    else:
        _, stats = integrate(ind, doses, t_end_h, summ, rtol=rtol, atol=atol, sync=tuple(sync))
    summ.finish()
    per: dict[str, FloatArray] = {
        "cmax": summ.cmax,
        "tmax": summ.tmax,
        "auc": summ.auc,
        "auc_tau_max": summ.auc_tau_max,
        "max_trough": summ.max_trough,
        "t_trough_threshold": summ.t_trough_threshold,
        "t_auc_threshold": summ.t_auc_threshold,
        "wbc_nadir": summ.wbc_nadir,
        "t_nadir": summ.t_nadir,
        "c_end": summ.c_end,
        "wbc_end": summ.w_end,
        "wbc0": ind.wbc0,
    }
    for level, arr in zip(thresholds_mg_per_l, summ.time_above, strict=True):
        per[f"time_above_{level:g}"] = arr
    for level, arr in zip(targets_mg_per_l, summ.time_to, strict=True):
        per[f"time_to_{level:g}"] = arr
    if ind.n == 1:
        summary = {k: _typical_value(v) for k, v in per.items()}
    else:
        rows = np.array([np.asarray(v, dtype=np.float64) for v in per.values()])
        summary = dict(zip(per, rows_stats(rows), strict=True))
    fractions = {
        "max_trough_ge_13.2": float(np.mean(summ.max_trough >= THRESHOLD_TROUGH_MG_PER_L)),
        "auc_tau_ge_484": float(np.mean(summ.auc_tau_max >= THRESHOLD_AUC_MG_H_PER_L)),
    }
    for level, arr in zip(targets_mg_per_l, summ.time_to, strict=True):
        fractions[f"reached_{level:g}"] = float(np.mean(np.isfinite(arr)))
    profiles = None
    if keep_profiles:
        profiles = (np.array(summ.profiles_c).T.copy(), np.array(summ.profiles_w).T.copy())
    return PkResult(
        doses=doses,
        params=params,
        n=ind.n,
        typical=bool(typical),
        seed=seed,
        wbc0=wbc0,
        t_end_h=float(t_end_h),
        residual_error=residual_error,
        times_h=tuple(summ.grid_times),
        profile=tuple(summ.grid_stats),
        per_patient=per,
        summary=summary,
        fractions=fractions,
        weekly_troughs=tuple(summ.weeks),
        thresholds_mg_per_l=tuple(thresholds_mg_per_l),
        targets_mg_per_l=tuple(targets_mg_per_l),
        notes=notes_for(doses, params),
        stats=stats,
        patient_profiles=profiles,
        interval_auc=(
            (tuple(summ.interval_start), np.array(summ.interval_auc).T.copy())
            if keep_interval_auc
            else None
        ),
    )


def _typical_value(values: FloatArray) -> dict[str, Any]:
    v = float(values[0])
    return {"value": v if math.isfinite(v) else math.nan}
