"""The ``cllcds`` command line (Typer + Rich).

Each command group lives in its own private module and registers itself on the root app in
:func:`_build`. User errors print one line on stderr and exit with status 2; a traceback is a bug.
"""

from __future__ import annotations

import importlib
import sys

import typer

from cllcds import __version__
from cllcds.domain import CllcdsError, InputError

# Command-group modules, each exposing ``register(app: typer.Typer) -> None``.
_GROUPS = ("_evidence", "_regimens", "_plan", "_course", "_service", "_fhir", "_pk", "_cohort")


def _build() -> typer.Typer:
    app = typer.Typer(
        name="cllcds",
        help="Clinical decision support for alemtuzumab in relapsed and refractory CLL.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.command("version")
    def version() -> None:
        """Print the cllcds version."""
        typer.echo(__version__)

    for name in _GROUPS:
        importlib.import_module(f"{__name__}.{name}").register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cllcds`` console script."""
    app = _build()
    try:
        app(args=argv, prog_name="cllcds", standalone_mode=True)
    except InputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    except CllcdsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from None


__all__ = ["main"]
