"""``cllcds regimens``: the regimen library (list, show)."""

from __future__ import annotations

from typing import Annotated

import typer

from cllcds import services

from ._output import Format, emit_csv, emit_json, emit_table

FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="Output format: table, json or csv.")
]


def register(app: typer.Typer) -> None:
    """Add the ``regimens`` command group to ``app``."""
    rg = typer.Typer(
        help="The regimens of the review, as data with provenance and status.",
        no_args_is_help=True,
    )
    app.add_typer(rg, name="regimens")

    @rg.command("list")
    def list_cmd(fmt: FormatOpt = Format.TABLE) -> None:
        """List every regimen: id, status (label / trial / historical), drugs, cycles, studies."""
        rows = [services.regimen_summary(r) for r in services.regimen_list()]
        if fmt is Format.JSON:
            emit_json(rows)
            return
        if fmt is Format.CSV:
            flat = [
                {**r, "drugs": " ".join(r["drugs"]), "studies": " ".join(r["studies"])}
                for r in rows
            ]
            emit_csv(
                flat,
                [
                    "id",
                    "status",
                    "name",
                    "drugs",
                    "cycles",
                    "cycle_length_days",
                    "studies",
                    "variant_of",
                ],
            )
            return
        emit_table(
            [
                [
                    r["id"],
                    r["status"],
                    ", ".join(r["drugs"]),
                    f"{r['cycles']} × {r['cycle_length_days']} d",
                    ", ".join(r["studies"]),
                    r["name"],
                ]
                for r in rows
            ],
            ["Id", "Status", "Drugs", "Cycles", "Studies", "Name"],
            title="Regimens",
            caption="Plan one with: cllcds plan --regimen ID --start YYYY-MM-DD "
            "--height-cm H --weight-kg W",
        )

    @rg.command("show")
    def show_cmd(regimen_id: str, fmt: FormatOpt = Format.TABLE) -> None:
        """Everything about one regimen: doses, days, cycles, sources, conflicts, assumptions."""
        d = services.regimen_detail(regimen_id)
        if fmt is Format.JSON:
            emit_json(d)
            return
        rules = [*d["run_in"], *d["components"]]
        if fmt is Format.CSV:
            emit_csv(
                [
                    {
                        **r,
                        "dose": r["dose"]
                        if r["dose_high"] is None
                        else f"{r['dose']}-{r['dose_high']}",
                        "days": r["days_text"],
                        "cycles": "all" if r["cycles"] is None else " ".join(map(str, r["cycles"])),
                        "source": r["citation"]["source"],
                        "locator": r["citation"]["locator"],
                    }
                    for r in rules
                ],
                [
                    "drug",
                    "dose",
                    "basis",
                    "route",
                    "phase",
                    "days",
                    "cycles",
                    "optional",
                    "source",
                    "locator",
                ],
            )
            return
        typer.echo(f"{d['id']} [{d['status']}] - {d['name']}")
        typer.echo(d["summary"])
        typer.echo(
            f"Cycles: {d['cycles']} × {d['cycle_length_days']} days (at most {d['max_cycles']})"
            + (f"; run-in {d['run_in_days']} days" if d["run_in_days"] else "")
        )
        typer.echo(f"Studies: {', '.join(d['studies']) or '-'}")
        emit_table(
            [
                [
                    ("run-in " if r in d["run_in"] else "") + r["drug"],
                    (
                        f"{r['dose']:g}"
                        if r["dose_high"] is None
                        else f"{r['dose']:g}-{r['dose_high']:g}"
                    )
                    + f" {r['basis']}",
                    r["route"],
                    r["days_text"],
                    "all" if r["cycles"] is None else ", ".join(map(str, r["cycles"])),
                    r["phase"] + (" (optional)" if r["optional"] else ""),
                    f"{r['citation']['source']}, {r['citation']['locator']}",
                ]
                for r in rules
            ],
            ["Drug", "Dose", "Route", "Days", "Cycles", "Phase", "Source"],
        )
        for title, key in (
            ("Conflicts", "conflicts"),
            ("Assumptions", "assumptions"),
            ("Notes", "notes"),
        ):
            if d[key]:
                typer.echo(f"{title}:")
                for text in d[key]:
                    typer.echo(f"  - {text}")
        typer.echo("Sources:")
        for c in d["provenance"]:
            extra = c.get("quote") or c.get("note") or ""
            typer.echo(f"  - {c['source']}, {c['locator']}" + (f": {extra}" if extra else ""))
