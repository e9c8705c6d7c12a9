"""``cllcds plan``: a regimen laid out for one patient from a start date, in any export format."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cllcds import services
from cllcds.domain import InputError, Plan

from ._output import console, emit_table

# Input names used by the planning service -> the options a CLI user typed.
_FLAGS = {
    "regimen": "--regimen",
    "start": "--start",
    "height_cm": "--height-cm",
    "weight_kg": "--weight-kg",
    "rule_set": "--rule-set",
    "bsa_formula": "--bsa-formula",
    "BSA cap": "--bsa-cap",
    "rounding_mode": "--rounding",
    "rounding increment": "--round-mg",
    "oral rounding increment": "--oral-round-mg",
    "tiw_weekdays": "--tiw-days",
    "TIW weekdays": "--tiw-days",
    "prophylaxis start day": "--prophylaxis-start-day",
    "CMV PCR interval": "--cmv-interval-days",
    "CD4 interval": "--cd4-interval-days",
    "cycles": "--cycles",
    "override": "--override",
    "birth_date": "--birth-date",
}


class PlanFormat(StrEnum):
    """Output formats of ``cllcds plan``."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    ICS = "ics"
    HTML = "html"
    PDF = "pdf"


def _flag_error(exc: InputError) -> InputError:
    """The same error, naming the command-line option the value came from."""
    field = exc.field
    flag = _FLAGS.get(field)
    if flag is None and field.endswith(" override"):
        flag = "--override"
    if flag is None:
        return exc
    return type(exc)(flag, exc.value, exc.fix)


def _print_table(plan: Plan) -> None:
    doc = services.plan_document(plan)
    p = doc["patient"]
    who = " ".join(x for x in (plan.patient.name, plan.patient.identifier) if x) or "patient"
    typer.echo(
        f"{plan.regimen.name} [{plan.regimen.status.value}] for {who}: "
        f"{p['height_cm']:g} cm, {p['weight_kg']:g} kg, BSA {plan.bsa_m2:.2f} m2 "
        f"({p['bsa_formula']}); label rule set {plan.rule_set.value}"
    )
    typer.echo(
        f"Start {plan.start.isoformat()}, last dose {plan.end.isoformat()}, "
        f"{len(plan.administrations)} administrations"
    )
    emit_table(
        [
            [
                a["date"],
                a["day"],
                "run-in" if a["cycle"] == 0 else a["cycle"],
                a["cycle_day"],
                a["drug"],
                f"{a['dose_mg']:g}",
                a["route"],
                a["dose"]["formula"],
                "" if a["premedication"] is None else a["premedication"]["reason"],
            ]
            for a in doc["administrations"]
        ],
        ["Date", "Day", "Cycle", "C.day", "Drug", "mg", "Route", "Calculation", "Premedication"],
        title="Administrations",
    )
    for pr in plan.prophylaxis:
        drugs = "; ".join(d.text() for d in pr.drugs)
        typer.echo(
            f"{pr.kind.value.upper()} prophylaxis: {drugs} from {pr.start_date.isoformat()}; "
            f"stop: {pr.stop_condition}"
        )
    kinds: dict[str, list[str]] = {}
    for m in plan.monitoring:
        kinds.setdefault(m.kind.value, []).append(m.date.isoformat())
    for kind, dates in kinds.items():
        span = dates[0] if len(dates) == 1 else f"{dates[0]} .. {dates[-1]} ({len(dates)})"
        typer.echo(f"Monitoring {kind}: {span}")
    out = console()
    for n in plan.notes:
        if n.level.value == "warning":
            out.print(f"[bold red]WARNING[/]: {n.text}", highlight=False)
    typer.echo(f"{len(plan.notes)} notes; full sheet: --format html or pdf")


def register(app: typer.Typer) -> None:
    """Add the ``plan`` command to ``app``."""

    @app.command("plan")
    def plan_cmd(
        *,
        regimen: Annotated[
            str, typer.Option("--regimen", "-r", help="Regimen id (cllcds regimens list).")
        ],
        start: Annotated[str, typer.Option("--start", help="Day 1, YYYY-MM-DD.")],
        height_cm: Annotated[str, typer.Option("--height-cm", metavar="CM", help="Height, cm.")],
        weight_kg: Annotated[str, typer.Option("--weight-kg", metavar="KG", help="Weight, kg.")],
        rule_set: Annotated[
            list[str] | None,
            typer.Option(
                "--rule-set", help="label=us-2007 (default), label=us-2001 or label=eu-smpc."
            ),
        ] = None,
        fmt: Annotated[
            PlanFormat,
            typer.Option(
                "--format", "-f", help="Output format: table, json, csv, ics, html or pdf."
            ),
        ] = (PlanFormat.TABLE),
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write to this file, not stdout.")
        ] = None,
        bsa_formula: Annotated[
            str, typer.Option("--bsa-formula", help="mosteller (default), dubois or haycock.")
        ] = "mosteller",
        bsa_cap: Annotated[
            float | None, typer.Option("--bsa-cap", help="Cap BSA for mg/m2 doses, m2.")
        ] = None,
        round_mg: Annotated[
            float, typer.Option("--round-mg", help="Rounding increment, IV/SC doses (mg).")
        ] = 1.0,
        oral_round_mg: Annotated[
            float, typer.Option("--oral-round-mg", help="Rounding increment, oral doses (mg).")
        ] = 1.0,
        rounding: Annotated[
            str, typer.Option("--rounding", help="nearest (default), down or up.")
        ] = "nearest",
        tiw_days: Annotated[
            str | None, typer.Option("--tiw-days", help="TIW weekdays (default mon,wed,fri).")
        ] = None,
        prophylaxis_start_day: Annotated[
            int | None,
            typer.Option("--prophylaxis-start-day", help="Course day (default: rule set / 8)."),
        ] = None,
        cmv_interval_days: Annotated[
            int, typer.Option("--cmv-interval-days", help="CMV PCR interval (default 7).")
        ] = 7,
        cd4_interval_days: Annotated[
            int, typer.Option("--cd4-interval-days", help="CD4 interval after therapy.")
        ] = 28,
        cycles: Annotated[
            int | None, typer.Option("--cycles", help="Number of cycles (default: regimen's).")
        ] = None,
        with_optional: Annotated[
            bool, typer.Option("--with-optional", help="Plan optional components too.")
        ] = False,
        override: Annotated[
            list[str] | None,
            typer.Option(
                "--override", help="drug=amount or drug=amount@cycles, e.g. rituximab=500@2-6."
            ),
        ] = None,
        patient_name: Annotated[str, typer.Option("--patient-name", help="For the sheet.")] = "",
        patient_id: Annotated[str, typer.Option("--patient-id", help="For the sheet.")] = "",
        birth_date: Annotated[
            str | None, typer.Option("--birth-date", help="YYYY-MM-DD, for the sheet.")
        ] = None,
    ) -> None:
        """Plan a regimen from a start date: every dose, premedication, prophylaxis, monitoring."""
        try:
            plan = services.make_plan(
                regimen,
                start,
                height_cm,
                weight_kg,
                rule_sets=rule_set,
                bsa_formula=bsa_formula.strip().lower(),
                bsa_cap_m2=bsa_cap,
                rounding_increment_mg=round_mg,
                oral_rounding_increment_mg=oral_round_mg,
                rounding_mode=rounding.strip().lower(),
                tiw_weekdays=tiw_days,
                prophylaxis_start_day=prophylaxis_start_day,
                cmv_pcr_interval_days=cmv_interval_days,
                cd4_interval_days=cd4_interval_days,
                cycles=cycles,
                include_optional=with_optional,
                overrides=override,
                patient_name=patient_name,
                patient_id=patient_id,
                birth_date=birth_date,
            )
        except InputError as exc:
            raise _flag_error(exc) from None
        if fmt is PlanFormat.TABLE:
            if out is not None:
                raise InputError(
                    "--out", str(out), "use --format json|csv|ics|html|pdf to write a file"
                )
            _print_table(plan)
            return
        data: bytes
        if fmt is PlanFormat.PDF:
            data = services.plan_pdf(plan)
        elif fmt is PlanFormat.ICS:
            data = services.plan_ics(plan).encode("utf-8")
        elif fmt is PlanFormat.JSON:
            data = services.plan_json(plan).encode("utf-8")
        elif fmt is PlanFormat.CSV:
            data = services.plan_csv(plan).encode("utf-8")
        else:
            data = services.plan_html(plan).encode("utf-8")
        if out is None:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        try:
            out.write_bytes(data)
        except OSError as exc:
            raise InputError(
                "--out", str(out), f"give a writable file path ({exc.strerror})"
            ) from None
        typer.echo(f"wrote {out} ({fmt.value}, {len(plan.administrations)} administrations)")
