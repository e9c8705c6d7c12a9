"""``cllcds fhir``: FHIR R4 import and export of courses, regimens as PlanDefinitions."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cllcds import fhir as fhir_io
from cllcds import services
from cllcds.domain import InputError

from ._output import emit_json

OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the JSON here instead of stdout.")
]


AllowLoss = Annotated[
    bool,
    typer.Option(
        "--allow-loss", help="Drop what cannot be carried over, listing every dropped item."
    ),
]


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(what, str(path), f"give a readable file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name} line {exc.lineno} column {exc.colno}", exc.msg, "fix the JSON syntax"
        ) from None


def _write(obj: Any, out: Path | None) -> None:
    if out is None:
        emit_json(obj)
        return
    try:
        out.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError("--out", str(out), f"give a writable path ({exc.strerror})") from None


def _warn(lines: list[str]) -> None:
    for line in lines:
        sys.stderr.write(f"warning: {line}\n")


def register(app: typer.Typer) -> None:
    """Add the ``fhir`` command group to ``app``."""
    fhir = typer.Typer(
        help="FHIR R4 interchange: import a Bundle, export a course, regimens as PlanDefinition.",
        no_args_is_help=True,
    )
    app.add_typer(fhir, name="fhir")

    @fhir.command("import")
    def import_cmd(
        bundle: Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON).")],
        regimen: Annotated[
            str | None,
            typer.Option(help="Regimen id (cllcds regimens list); default: the bundle's CarePlan."),
        ] = None,
        start: Annotated[
            str | None,
            typer.Option(help="Start date YYYY-MM-DD; default: the first alemtuzumab dose."),
        ] = None,
        allow_loss: AllowLoss = False,
        out: OutOpt = None,
    ) -> None:
        """Read a Bundle into a course document (warnings and assumptions on stderr).

        Exits 2, listing each, when a resource is not used or cannot be represented, unless
        --allow-loss (then every dropped item is listed on stderr)."""
        start_day = None if start is None else services.parse_date(start, "--start")
        result = fhir_io.bundle_to_course(
            _read_json(bundle, "BUNDLE"), regimen=regimen, start=start_day, allow_loss=allow_loss
        )
        _warn(
            [f"assumed: {a}" for a in result.assumptions]
            + list(result.warnings)
            + [f"dropped (not used): {x}" for x in result.ignored]
            + [f"dropped (lost): {x}" for x in result.lost]
        )
        _write(result.course, out)

    @fhir.command("export")
    def export_cmd(
        course: Annotated[Path, typer.Argument(help="A course document (cllcds.course/1).")],
        as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate on this date.")] = None,
        bundle_type: Annotated[
            str,
            typer.Option(
                "--type", help="collection, or transaction (POST entries with urn:uuid fullUrls)."
            ),
        ] = "collection",
        allow_loss: AllowLoss = False,
        out: OutOpt = None,
    ) -> None:
        """Write a course as a FHIR R4 Bundle with its plan (CarePlan/RequestGroup) and alerts.

        Exits 2, listing each, when something of the course cannot be carried, unless
        --allow-loss (then every dropped item is listed on stderr)."""
        day: dt.date | None = None if as_of is None else services.parse_date(as_of, "--as-of")
        result = fhir_io.course_to_bundle(
            services.read_course_file(course),
            as_of=day,
            bundle_type=bundle_type,
            allow_loss=allow_loss,
        )
        _warn(list(result.warnings))
        _write(result.bundle, out)

    @fhir.command("plandefinition")
    def plandefinition_cmd(
        regimen_id: Annotated[str, typer.Argument(help="Regimen id (cllcds regimens list).")],
        out: OutOpt = None,
    ) -> None:
        """A regimen as a FHIR R4 PlanDefinition with contained ActivityDefinitions."""
        _write(fhir_io.regimen_to_plandefinition(regimen_id), out)
