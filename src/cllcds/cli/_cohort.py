"""``cllcds cohort``: virtual cohorts and scenario comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# The lead exports these from cllcds.services; the CLI imports the module directly so it does
# not depend on the order in which the package __init__ is edited.
from cllcds import services
from cllcds.domain import InputError

from ._output import Format, emit_json, emit_table


def _pct(r: dict[str, Any]) -> str:
    return f"{100 * r['rate']:.1f} ({100 * r['low']:.1f}-{100 * r['high']:.1f})"


def _count_pct(r: dict[str, Any]) -> str:
    return f"{r['count']:,} ({_pct(r)})"


def _months(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.1f}"


def register(app: typer.Typer) -> None:
    """Add the ``cohort`` command group to ``app``."""
    grp = typer.Typer(
        help="Virtual cohorts: outcomes of alemtuzumab scenarios from the evidence base.",
        no_args_is_help=True,
    )
    app.add_typer(grp, name="cohort")

    @grp.command("simulate")
    def simulate_cmd(
        scenario: Annotated[
            str, typer.Option(help="Scenario YAML file, or builtin:NAME (see 'cohort examples').")
        ],
        n: Annotated[int, typer.Option("--n", help="Virtual patients (each under every arm).")],
        seed: Annotated[int, typer.Option(help="Seed (results do not depend on workers).")],
        scheduler: Annotated[
            str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786.")
        ] = None,
        workers: Annotated[
            int | None, typer.Option(help="Local worker processes (default: one per CPU).")
        ] = None,
        plot: Annotated[Path | None, typer.Option(help="Write a plot (.svg or .png).")] = None,
        curves: Annotated[
            bool, typer.Option("--curves", help="Include Kaplan-Meier curves in the JSON.")
        ] = False,
        progress: Annotated[
            bool | None,
            typer.Option(
                "--progress/--no-progress",
                help="Progress bar on stderr (default: when stderr is a terminal).",
            ),
        ] = None,
        fmt: Annotated[
            Format, typer.Option("--format", "-f", help="table or json.")
        ] = Format.TABLE,
    ) -> None:
        """Simulate a scenario and compare its arms: response with intervals, Kaplan-Meier,
        CMV events and holds."""
        if fmt is Format.CSV:
            raise InputError("--format", "csv", "use table or json")
        err = Console(stderr=True)
        show = err.is_terminal if progress is None else progress
        with Progress(
            TextColumn("replicates"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not show,
            transient=err.is_terminal,
        ) as bar:
            task = bar.add_task("simulate", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            doc = services.cohort_simulate(
                scenario,
                n=n,
                seed=seed,
                scheduler=scheduler,
                workers=workers,
                plot=plot,
                curves=curves,
                progress=tick,
            )
        if fmt is Format.JSON:
            emit_json(doc)
            return
        _print(doc)

    @grp.command("examples")
    def examples_cmd(
        fmt: Annotated[
            Format, typer.Option("--format", "-f", help="table or json.")
        ] = Format.TABLE,
    ) -> None:
        """The built-in example scenarios."""
        if fmt is Format.CSV:
            raise InputError("--format", "csv", "use table or json")
        rows = services.cohort_examples()
        if fmt is Format.JSON:
            emit_json(rows)
            return
        emit_table(
            [[r["name"], r["title"], ", ".join(r["arms"])] for r in rows],
            ["Scenario", "Title", "Arms"],
        )


def _print(doc: dict[str, Any]) -> None:
    sc = doc["scenario"]
    typer.echo(f"Scenario: {sc['name']} ({sc['file']})")
    typer.echo(
        f"{doc['n']:,} virtual patients per arm, seed {doc['seed']}, {doc['replicates']} "
        f"replicates on {doc['backend']}; follow-up {sc['follow_up_months']:g} months"
    )
    arms = doc["arms"]
    rows = []
    for a in arms:
        r = a["rates"]
        rows.append(
            [
                a["id"],
                a["response_study"],
                a["cmv_strategy"],
                _pct(r["orr"]),
                _pct(r["cr"]),
                _pct(r["mrd_negative"]),
                _months(a["overall_survival"]["median_months"]),
                _months(a["treatment_free_survival"]["median_months"]),
            ]
        )
    emit_table(
        rows,
        [
            "Arm",
            "Response from",
            "CMV",
            "ORR %",
            "CR %",
            "MRD- %",
            "OS median (mo)",
            "TFS median (mo)",
        ],
        title="Response and survival",
        caption=f"Intervals: {doc['intervals']}.",
    )
    emit_table(
        [
            [
                a["id"],
                _count_pct(a["rates"]["cmv_symptomatic"]),
                f"{a['rates']['cmv_detected']['count']:,}",
                _count_pct(a["rates"]["cmv_holds"]),
                f"{a['rates']['cmv_discontinued']['count']:,}",
                f"{a['rates']['infection_g34']['count']:,}",
            ]
            for a in arms
        ],
        [
            "Arm",
            "Symptomatic CMV (%)",
            "CMV found",
            "Holds for CMV (%)",
            "Stopped for CMV",
            "Grade 3-4 infection",
        ],
        title="CMV events, holds and infections (counts of virtual patients)",
    )
    for a in arms[1:]:
        d = a["vs_first_arm"]
        typer.echo(
            f"{a['id']} vs {arms[0]['id']}: ORR difference {100 * d['orr']['difference']:+.1f} "
            f"points ({100 * d['orr']['low']:+.1f} to {100 * d['orr']['high']:+.1f}); "
            f"CMV holds {100 * d['cmv_holds']['difference']:+.1f} points; "
            f"OS log-rank p = {d['os_logrank_p']:.3g} (simulation, not a trial)"
        )
    for row in sc["population"]:
        mark = " [overridden]" if row["overridden"] else ""
        where = f"{row['source']}, {row['locator']}"
        typer.echo(f"Population {row['name']} = {row['value']:.3g}: {where}{mark}")
    typer.echo("Assumptions (first arm; 'cllcds cohort simulate --format json' lists all):")
    for row in arms[0]["assumptions"]:
        mark = " [overridden]" if row["overridden"] else ""
        typer.echo(
            f"  - {row['name']} = {row['value']:.4g}: {row['source']}, {row['locator']}{mark}"
        )
    typer.echo("Limits:")
    for lim in doc["limits"]:
        typer.echo(f"  - {lim}")
    if "plot" in doc:
        typer.echo(f"Plot written to {doc['plot']}")
