"""``cllcds pk``: alemtuzumab concentration and WBC over time for a schedule."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

# The lead exports these from cllcds.services; the CLI imports the module directly so it does
# not depend on the order in which the package __init__ is edited.
from cllcds import services
from cllcds.domain import InputError

from ._output import Format, emit_csv, emit_json, emit_table

FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="Output format: table, json or csv.")
]


class Backend(StrEnum):
    """The PK integrator (cllcds.pk BACKENDS)."""

    AUTO = "auto"
    COMPILED = "compiled"
    NUMPY = "numpy"


_STATS = ("p5", "p25", "p50", "p75", "p95")


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    v = float(x)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InputError("--start", text, "give the date as YYYY-MM-DD") from None


def _overrides(items: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError("--param", item, "write NAME=VALUE, e.g. vmax_scale=0.3") from None
    return out


def register(app: typer.Typer) -> None:
    """Add the ``pk`` command group to ``app``."""
    grp = typer.Typer(
        help="Alemtuzumab PK/PD (Mould 2007 model): exposure and WBC for a schedule.",
        no_args_is_help=True,
    )
    app.add_typer(grp, name="pk")

    @grp.command("simulate")
    def simulate_cmd(
        regimen: Annotated[
            str | None,
            typer.Option(help="Regimen id from the library (or 'label-iv', built in)."),
        ] = None,
        start: Annotated[
            str | None, typer.Option(help="Date of the first dose, YYYY-MM-DD.")
        ] = None,
        doses: Annotated[
            Path | None,
            typer.Option(help="CSV dose table: time_h,dose_mg,route(iv|sc),duration_h."),
        ] = None,
        wbc0: Annotated[
            float | None, typer.Option(help="Baseline WBC (10^9/L); default 53.8 (Kin/Kout).")
        ] = None,
        typical: Annotated[
            bool, typer.Option("--typical", help="The typical patient (all random effects 0).")
        ] = False,
        n: Annotated[int | None, typer.Option("--n", help="Number of virtual patients.")] = None,
        seed: Annotated[int | None, typer.Option(help="Seed of the virtual patients.")] = None,
        times: Annotated[
            str | None,
            typer.Option(help="Output times: start:stop:step hours, or a list 2,6,24."),
        ] = None,
        t_end: Annotated[
            float | None, typer.Option("--t-end", help="End of the simulation (h).")
        ] = None,
        target: Annotated[
            float, typer.Option(help="Report the first time C reaches this (ug/mL).")
        ] = 1.0,
        residual_error: Annotated[
            bool,
            typer.Option("--residual-error", help="Add Mould's residual error to the profile."),
        ] = False,
        param: Annotated[
            list[str] | None,
            typer.Option(help="Override a parameter, NAME=VALUE (see 'pk parameters')."),
        ] = None,
        plot: Annotated[Path | None, typer.Option(help="Write a plot (.svg or .png).")] = None,
        fmt: FormatOpt = Format.TABLE,
        backend: Annotated[
            Backend,
            typer.Option(
                help="Integrator: auto (compiled when numba is installed), compiled (numba, "
                "the 'pk' extra) or numpy; the results are the same."
            ),
        ] = Backend.AUTO,
    ) -> None:
        """Concentration and WBC over time, Cmax, AUC, troughs, time above thresholds, nadir."""
        if typical and (n is not None or seed is not None):
            raise InputError("--typical", True, "give either --typical or --n N --seed S")
        if n is not None and n > 1 and seed is None:
            raise InputError("--seed", None, "give a seed with --n so the run is reproducible")
        doc = services.pk_simulate(
            regimen=regimen,
            start=_date(start),
            doses_csv=doses,
            wbc0=wbc0,
            n=n or 1,
            seed=seed,
            typical=True if typical or (n is None and seed is None) else None,
            times=times,
            t_end_h=t_end,
            target_ug_per_ml=target,
            residual_error=residual_error,
            plot=plot,
            overrides=_overrides(param),
            backend=backend.value,
        )
        if fmt is Format.JSON:
            emit_json(doc)
        elif fmt is Format.CSV:
            _emit_profile_csv(doc)
            # The CSV holds numbers only; the approximations in force go to stderr.
            for note in doc["approximations"]:
                typer.echo(f"APPROXIMATION: {note}", err=True)
        else:
            _print(doc)

    @grp.command("parameters")
    def parameters_cmd(fmt: FormatOpt = Format.TABLE) -> None:
        """The model's parameters with their sources (override with --param NAME=VALUE)."""
        rows = services.pk_parameters()
        if fmt is Format.JSON:
            emit_json(rows)
        elif fmt is Format.CSV:
            emit_csv(rows, ["name", "value", "source", "locator", "note"])
        else:
            emit_table(
                [
                    [r["name"], _num(r["value"], 4), f"{r['source']}, {r['locator']}", r["note"]]
                    for r in rows
                ],
                ["Parameter", "Value", "Source", "Note"],
                title="Alemtuzumab PK/PD parameters (units in the names)",
            )


def _emit_profile_csv(doc: dict[str, Any]) -> None:
    typical = doc["patients"]["n"] == 1
    keys = ("value",) if typical else ("mean", *_STATS)
    cols = ["time_h"]
    cols += [f"concentration_ug_per_ml_{k}" for k in keys]
    cols += [f"wbc_1e9_per_l_{k}" for k in keys]
    rows = []
    for p in doc["profile"]:
        row: dict[str, Any] = {"time_h": p["time_h"]}
        for k in keys:
            row[f"concentration_ug_per_ml_{k}"] = p["concentration_ug_per_ml"].get(k)
            row[f"wbc_1e9_per_l_{k}"] = p["wbc_1e9_per_l"].get(k)
        rows.append(row)
    emit_csv(rows, cols)


def _print(doc: dict[str, Any]) -> None:
    pts = doc["patients"]
    typical = pts["n"] == 1
    sched = doc["schedule"]
    who = (
        "typical patient (all random effects 0)"
        if pts["typical"]
        else f"{pts['n']} virtual patients, seed {pts['seed']}"
    )
    typer.echo(f"Model: {doc['model']}")
    typer.echo(
        f"Schedule: {sched['source']} - {sched['n_doses']} doses, {sched['total_mg']:g} mg"
        + (" (SC doses: APPROXIMATION)" if sched["sc"] else "")
    )
    typer.echo(
        f"Patients: {who}; baseline WBC "
        + (f"{pts['wbc0']:g}" if pts["wbc0"] else "from the model (Kin/Kout)")
        + f"; simulated to {doc['t_end_h']:g} h"
    )
    for a in doc["approximations"]:
        typer.echo(f"APPROXIMATION: {a}")
    summ = doc["summary"]
    if typical:
        rows = [
            [name, s["unit"], _num(s.get("value")), s["description"]] for name, s in summ.items()
        ]
        emit_table(rows, ["Measure", "Unit", "Value", "Meaning"], title="Exposure summary")
    else:
        rows = [
            [name, s["unit"], *(_num(s.get(k)) for k in ("p5", "p50", "p95", "mean")), s["n"]]
            for name, s in summ.items()
        ]
        emit_table(
            rows,
            ["Measure", "Unit", "P5", "Median", "P95", "Mean", "n (finite)"],
            title="Exposure summary (population)",
            caption="Times to a threshold count only the patients who reach it (n finite).",
        )
    thr = doc["thresholds"]
    fr = doc["fractions"]
    typer.echo(
        f"Reaching max trough >= {thr['max_trough_ug_per_ml']:g} ug/mL: "
        f"{100 * fr['max_trough_ge_13.2']:.1f}%; AUC(0-tau) >= {thr['auc_tau_ug_h_per_ml']:g} "
        f"ug.h/mL: {100 * fr['auc_tau_ge_484']:.1f}% "
        f"({thr['source']}; {thr['note']})"
    )
    key = "value" if typical else "p50"
    emit_table(
        [
            [
                w["week"],
                w["doses"],
                _num(w["lowest_trough_ug_per_ml"].get(key)),
                _num(w["highest_trough_ug_per_ml"].get(key)),
            ]
            for w in doc["weekly_troughs"]
        ],
        ["Week", "Doses", "Lowest trough", "Highest trough"],
        title="Pre-dose concentrations by week (ug/mL" + ("" if typical else ", median") + ")",
    )
    typer.echo("Known limits:")
    for note in doc["notes"]:
        if note not in doc["approximations"]:
            typer.echo(f"  - {note}")
    if "plot" in doc:
        typer.echo(f"Plot written to {doc['plot']}")
