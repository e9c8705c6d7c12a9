"""PK/PD use cases: simulate alemtuzumab exposure and WBC for a schedule.

Everything returns plain JSON-ready data, so the CLI, the API and the web app show the same
thing; every output carries the model's approximations and known limits.
"""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

from cllcds import knowledge, pk
from cllcds.course import plan
from cllcds.domain import BodyMeasures, InputError

MODEL = (
    "Mould 2007 two-compartment PK with WBC-dependent Michaelis-Menten elimination, coupled "
    "to an indirect-response WBC model (Br J Clin Pharmacol 2007;64:278-291; parameters as "
    "transcribed in nlmixr2lib; shared/reference/pk-model.md)"
)
_PLAN_BODY = BodyMeasures(170.0, 70.0)
"""Body size used to lay out a regimen: alemtuzumab doses are flat (mg), so it only matters
for the other drugs of a combination, which the PK model ignores."""
BUILTIN_LABEL = "label-iv"
"""Regimen id of the built-in label schedule of pk-model.md §4 (38 doses, 1093 mg)."""


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _clean(d: dict[str, float]) -> dict[str, float | None]:
    return {k: _finite(v) for k, v in d.items()}


def pk_doses(
    *,
    regimen: str | None = None,
    start: date | None = None,
    doses_csv: Path | str | None = None,
) -> tuple[pk.DoseTable, dict[str, Any]]:
    """The dose table for a regimen from the library (laid out from ``start`` by the course
    planner), the built-in label schedule (``label-iv``), or a CSV dose table.

    Returns the table and a JSON-ready description of where it came from.
    """
    if (regimen is None) == (doses_csv is None):
        raise InputError(
            "--regimen/--doses", None, "give either --regimen ID --start DATE or --doses FILE.csv"
        )
    if doses_csv is not None:
        table = pk.read_dose_csv(doses_csv)
        return table, {"kind": "dose table", "file": str(doses_csv)}
    assert regimen is not None
    if regimen == BUILTIN_LABEL:
        table = pk.label_iv_schedule()
        return table, {
            "kind": "built-in label schedule",
            "id": BUILTIN_LABEL,
            "start": start.isoformat() if start else None,
            "citation": table.citation.short() if table.citation else "",
        }
    if start is None:
        raise InputError("--start", None, "give the date of the first dose (YYYY-MM-DD)")
    reg = knowledge.regimen(regimen)
    laid_out = plan(_PLAN_BODY, reg, start)
    table = pk.doses_from_administrations(
        laid_out.administrations, start, source=f"regimen {regimen} from {start.isoformat()}"
    )
    return table, {
        "kind": "regimen",
        "id": regimen,
        "start": start.isoformat(),
        "note": "laid out by the course planner; only alemtuzumab administrations are modelled",
    }


def pk_parameters() -> list[dict[str, Any]]:
    """The model's parameters, their values and where each comes from."""
    p = pk.PkParameters()
    rows = []
    for f in fields(p):
        cit = pk.PARAMETER_SOURCES[f.name]
        rows.append(
            {
                "name": f.name,
                "value": getattr(p, f.name),
                "source": cit.source,
                "locator": cit.locator,
                "note": cit.note,
            }
        )
    return rows


def pk_simulate(
    *,
    regimen: str | None = None,
    start: date | None = None,
    doses_csv: Path | str | None = None,
    doses: pk.DoseTable | None = None,
    wbc0: float | None = None,
    n: int = 1,
    seed: int | None = None,
    typical: bool | None = None,
    times: str | None = None,
    t_end_h: float | None = None,
    target_ug_per_ml: float = 1.0,
    residual_error: bool = False,
    plot: Path | None = None,
    overrides: dict[str, float] | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """Simulate a schedule for the typical patient or ``n`` virtual patients.

    Parameters
    ----------
    regimen, start, doses_csv, doses
        The schedule: a regimen id from the library and the first dose's date, ``label-iv``
        (the built-in label schedule), a CSV dose table (``time_h,dose_mg,route,duration_h``),
        or a :class:`cllcds.pk.DoseTable`.
    wbc0
        Baseline WBC (10⁹/L); default the model's Kin/Kout (53.8 for the typical patient).
    n, seed, typical
        ``typical`` (all η = 0) or ``n`` virtual patients drawn with ``seed``.
    times
        Output grid: ``start:stop:step`` hours or a comma list.
    t_end_h
        End of the simulation (default: 14 days after the last dose ends).
    target_ug_per_ml
        Concentration whose first attainment is reported (default 1 µg/mL, Hale 2004).
    residual_error
        Add Mould's residual error to the output profile.
    plot
        Write a plot (``.svg`` or ``.png``).
    overrides
        Parameter overrides (e.g. ``{"ka_per_h": 0.02, "vmax_scale": 0.3}``).
    backend
        ``auto``, ``compiled`` (numba) or ``numpy``: same results, different speed.

    Returns
    -------
    dict
        JSON-ready: schedule, patients, summary (with units), fractions reaching the
        exposure-response thresholds, weekly troughs, the profile, notes (approximations and
        known limits) and the integration work.
    """
    if doses is None:
        table, schedule = pk_doses(regimen=regimen, start=start, doses_csv=doses_csv)
    else:
        table, schedule = doses, {"kind": "dose table", "source": doses.source}
    params = pk.PkParameters()
    if overrides:
        params = params.with_overrides(**overrides)
    grid = pk.parse_times(times) if times else None
    if typical is None:
        typical = seed is None and n == 1
    result = pk.simulate(
        table,
        params=params,
        n=n,
        seed=seed,
        typical=typical,
        wbc0=wbc0,
        times_h=None if grid is None else grid.tolist(),
        t_end_h=t_end_h,
        targets_mg_per_l=(target_ug_per_ml,),
        residual_error=residual_error,
        backend=backend,
    )
    out = pk_result_document(result)
    out["schedule"] = {**schedule, **out["schedule"]}
    if plot is not None:
        pk.pk_plot(result, plot)
        out["plot"] = str(plot)
    return out


def pk_result_document(result: pk.PkResult) -> dict[str, Any]:
    """A :class:`cllcds.pk.PkResult` as JSON-ready data (units in the keys or alongside)."""
    units = {name: (unit, desc) for name, unit, desc in pk.SUMMARY_FIELDS}
    summary: dict[str, Any] = {}
    for name, stats in result.summary.items():
        unit, desc = units.get(name, ("", ""))
        if name.startswith("time_above_"):
            unit, desc = "h", f"time with C >= {name.removeprefix('time_above_')} ug/mL"
        elif name.startswith("time_to_"):
            unit, desc = "h", f"first time C >= {name.removeprefix('time_to_')} ug/mL"
        elif name == "wbc0":
            unit, desc = "10^9/L", "baseline WBC"
        summary[name] = {"unit": unit, "description": desc, **_clean(stats)}
    profile = [
        {
            "time_h": t,
            "concentration_ug_per_ml": _clean(p["concentration"]),
            "wbc_1e9_per_l": _clean(p["wbc"]),
        }
        for t, p in zip(result.times_h, result.profile, strict=True)
    ]
    weeks = [
        {
            "week": w.week,
            "doses": w.doses,
            "lowest_trough_ug_per_ml": _clean(w.lowest),
            "highest_trough_ug_per_ml": _clean(w.highest),
        }
        for w in result.weekly_troughs
    ]
    return {
        "model": MODEL,
        "schedule": {
            "source": result.doses.source,
            "doses": result.doses.rows(),
            "n_doses": len(result.doses),
            "total_mg": result.doses.total_mg,
            "sc": result.doses.has_sc,
        },
        "patients": {
            "n": result.n,
            "typical": result.typical,
            "seed": result.seed,
            "wbc0": result.wbc0,
            "residual_error": result.residual_error,
        },
        "t_end_h": result.t_end_h,
        "thresholds": {
            "max_trough_ug_per_ml": pk.THRESHOLD_TROUGH_MG_PER_L,
            "auc_tau_ug_h_per_ml": pk.THRESHOLD_AUC_MG_H_PER_L,
            "source": pk.THRESHOLD_SOURCE.short(),
            "note": pk.THRESHOLD_SOURCE.note,
        },
        "summary": summary,
        "fractions": result.fractions,
        "weekly_troughs": weeks,
        "profile": profile,
        "approximations": [n for n in result.notes if "APPROXIMATION" in n],
        "notes": list(result.notes),
        "integration": {
            "method": "vectorised Rosenbrock 4(3), per-patient steps, events exact",
            "patient_steps": result.stats.steps,
            "rejected": result.stats.rejected,
            "iterations": result.stats.iterations,
        },
    }
