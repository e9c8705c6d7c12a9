"""``cllcds course`` and ``cllcds response``: replay a course document, judge the response."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cllcds import services
from cllcds.domain import InputError, ResponseCriteria

from . import _batch
from ._output import Format, console, emit_json, emit_table


class AssessFormat(StrEnum):
    """Output formats of ``course assess`` (csv is refused: a state is a document)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    NDJSON = "ndjson"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
AssessFormatOpt = Annotated[
    AssessFormat | None,
    typer.Option(
        "--format",
        "-f",
        help="table or json for one FILE (default table); ndjson (default), json or table "
        "for a batch.",
    ),
]
FileArg = Annotated[Path, typer.Argument(help="A course document (cllcds.course/1, JSON).")]
FilesArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Course documents (cllcds.course/1, JSON): files, directories (their *.json), "
        "*.ndjson files, or - for NDJSON on stdin (also when no FILE is given).",
        show_default=False,
        metavar="[FILE]...",
    ),
]


def _date(text: str | None, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(field, text, "give a date as YYYY-MM-DD") from None


def _json_only(fmt: Format) -> None:
    if fmt is Format.CSV:
        raise InputError("--format", "csv", "a course state is a document: use table or json")


def register(app: typer.Typer) -> None:
    """Add the ``course`` and ``response`` command groups to ``app``."""
    course = typer.Typer(
        help="Replay a treatment course and say what to do next.", no_args_is_help=True
    )
    app.add_typer(course, name="course")
    response = typer.Typer(help="Judge the response to treatment.", no_args_is_help=True)
    app.add_typer(response, name="response")

    @course.command("assess")
    def assess_cmd(
        files: FilesArg = None,
        as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate on this date.")] = None,
        fmt: AssessFormatOpt = None,
        jobs: Annotated[
            int | None,
            typer.Option(
                "--jobs",
                "-j",
                min=1,
                help="Processes assessing a batch (default: the number of CPUs; 1: in process).",
            ),
        ] = None,
        progress: Annotated[
            bool | None,
            typer.Option(
                "--progress/--no-progress",
                help="A progress bar on stderr for a batch (default: when stderr is a terminal).",
            ),
        ] = None,
    ) -> None:
        """Where the course stands: status, next dose, holds, alerts and due actions.

        One FILE: the bedside view (table) or the cllcds.state/1 document (json).

        Many courses: files, directories, *.ndjson, or NDJSON on stdin (- or no FILE).
        One record per course, in input order, with its source and line: ndjson
        (default), json (one array) or table (one row per course). A bad course never
        stops a batch: the exit status is 2 if any course was invalid.
        """
        paths = list(files or [])
        if not _batch.wants_batch(paths, None if fmt is None else fmt.value):
            _json_only(Format(fmt.value) if fmt is not None else Format.TABLE)
            doc = services.read_course_file(paths[0])
            state = services.assess_course(doc, as_of=_date(as_of, "--as-of"))
            if fmt is AssessFormat.JSON:
                emit_json(state)
                return
            _bedside(state)
            return
        if fmt is AssessFormat.CSV:
            raise InputError(
                "--format", "csv", "a course state is a document: use ndjson, json or table"
            )
        if not paths and sys.stdin.isatty():
            raise InputError(
                "FILE", "", "give course document files, or pipe NDJSON (one course per line)"
            )
        code = _batch.run(
            paths,
            fmt=(fmt or AssessFormat.NDJSON).value,
            as_of=_date(as_of, "--as-of"),
            jobs=jobs or _batch.cpus(),
            progress=sys.stderr.isatty() if progress is None else progress,
        )
        if code:
            raise typer.Exit(code)

    @course.command("schema")
    def schema_cmd() -> None:
        """The JSON Schema of the course document (cllcds.course/1)."""
        emit_json(services.course_schema_document())

    @response.command("assess")
    def response_cmd(
        file: FileArg,
        criteria: Annotated[
            ResponseCriteria, typer.Option(help="Response criteria and version.")
        ] = ResponseCriteria.IWCLL_2018,
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        """The response of the course's latest assessment against its baseline."""
        _json_only(fmt)
        doc = services.read_course_file(file)
        result = services.assess_response_document(doc, criteria)
        if fmt is Format.JSON:
            emit_json(result)
            return
        out = console()
        out.print(
            f"[bold]Response ({result['criteria']}): {result['category']}[/bold]"
            + (" (provisional: needs confirmation after 2 months)" if result["provisional"] else "")
        )
        out.print(result["rationale"])
        if result["mrd_negative"] is not None:
            out.print(f"MRD negative (< 1e-4): {'yes' if result['mrd_negative'] else 'no'}")
        if result["by_compartment"]:
            emit_table(sorted(result["by_compartment"].items()), ["Compartment", "Response"])
        if result["inputs_missing"]:
            out.print("Missing: " + ", ".join(result["inputs_missing"]))
        out.print(f"[dim]{result['citation']}[/dim]")


def _bedside(state: dict[str, Any]) -> None:
    out = console()
    status = state["status"].replace("_", " ")
    colour = {
        "active": "green",
        "on hold": "yellow",
        "discontinued": "red",
        "completed": "blue",
    }.get(status, "white")
    out.print(
        f"[bold]Course status on {state['as_of']}:[/bold] [{colour}]{status.upper()}[/{colour}]"
        f"   regimen {state['regimen']}   rule sets "
        + ", ".join(f"{k} {v}" for k, v in state["rule_sets"].items())
    )
    nd = state["next_dose"]
    if nd:
        out.print(
            f"[bold]Next dose:[/bold] {nd['date']}  alemtuzumab {nd['dose_mg']} mg "
            f"{nd['route'].upper()} ({nd['phase']})"
        )
        out.print(f"  why: {nd['rationale']}  [dim]({nd['citation']})[/dim]")
        if nd["premedication"]:
            out.print(f"  premedication: {nd['premedication']}")
    else:
        out.print("[bold]Next dose:[/bold] none due")
    if state["hold"]:
        h = state["hold"]
        out.print(
            f"[bold yellow]On hold since {h['since']}:[/bold yellow] " + "; ".join(h["reasons"])
        )
        out.print(f"  resume when: {h['resume_when']}")
    if state["discontinued"]:
        d = state["discontinued"]
        out.print(f"[bold red]Discontinued {d['date']}:[/bold red] {d['reason']}")
    out.print(
        f"Cumulative alemtuzumab {state['cumulative_dose_mg']} mg; last 7 days "
        f"{state['dose_last_7_days_mg']} mg; cytopenia occurrences "
        f"{state['haematologic_toxicity_occurrences']}"
    )
    cmv = state["cmv"]
    out.print(
        f"CMV ({cmv['policy']}): {cmv['status'].replace('_', ' ')}"
        + (f", last {cmv['last_result']} on {cmv['last_test']}" if cmv["last_test"] else "")
        + f". {cmv['action']}"
    )
    if state["alerts"]:
        emit_table(
            [
                [a["severity"].upper(), a["date"] or "", a["message"], a["citation"]]
                for a in state["alerts"]
            ],
            ["Severity", "Date", "Alert", "Source"],
            title="Alerts",
        )
    if state["next_actions"]:
        emit_table(
            [[a["due"], a["action"], a["citation"]] for a in state["next_actions"]],
            ["Due", "Action", "Source"],
            title="Due actions",
        )
    if state["grades"]:
        emit_table(
            [
                [
                    lab,
                    g["date"],
                    f"{g['value']} {g['unit']}",
                    "n/e" if g["grade"] is None else g["grade"],
                ]
                for lab, g in state["grades"].items()
            ],
            ["Lab", "Date", "Latest", f"Grade ({next(iter(state['grades'].values()))['scale']})"],
            title="Toxicity grades",
        )
    pro = state["prophylaxis"]
    if pro:
        emit_table(
            [
                [k, "yes" if p["active"] else "no", "; ".join(p["drugs"]), p["condition"]]
                for k, p in pro.items()
            ],
            ["Prophylaxis", "Active", "Drugs", "Stop rule"],
        )
    r = state["response"]
    if r["category"] != "not_evaluable" or r["date"]:
        out.print(
            f"Response ({r['criteria']}): {r['category']}"
            + (" (provisional)" if r["provisional"] else "")
        )
