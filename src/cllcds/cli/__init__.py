"""The ``cllcds`` command line (Typer + Rich).

Each command group lives in its own private module exposing ``register(app)``. A module is
imported only when its command runs: ``cllcds course assess FILE`` loads the course group (and
the course engine), never the store, the API, SciPy or the cohorts, and ``cllcds --help`` loads
no group at all, listing the commands from :data:`COMMANDS` (a test checks that this table
matches what the groups register). User errors print one line on stderr and exit with status 2;
a traceback is a bug.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from typing import Annotated

import typer

from cllcds import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "plan": (
        "_plan",
        "Plan a regimen from a start date: every dose, premedication, prophylaxis, monitoring.",
    ),
    "serve": ("_service", "Run the REST API (uvicorn)."),
    "audit": ("_service", "The audit log: a course's writes (--course), or verify the hash chain."),
    "evidence": (
        "_evidence",
        "The review's evidence: studies, Tables 1-2, contradictions, pooled estimates.",
    ),
    "regimens": ("_regimens", "The regimens of the review, as data with provenance and status."),
    "course": ("_course", "Replay a treatment course and say what to do next."),
    "response": ("_course", "Judge the response to treatment."),
    "users": ("_service", "Manage accounts."),
    "db": ("_service", "Database maintenance."),
    "fhir": (
        "_fhir",
        "FHIR R4 interchange: import a Bundle, export a course, regimens as PlanDefinition.",
    ),
    "pk": ("_pk", "Alemtuzumab PK/PD (Mould 2007 model): exposure and WBC for a schedule."),
    "cohort": (
        "_cohort",
        "Virtual cohorts: outcomes of alemtuzumab scenarios from the evidence base.",
    ),
}
"""Top-level command → (the module that registers it, its help as ``--help`` lists it)."""
_GROUPS = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))
"""Command-group modules, each exposing ``register(app: typer.Typer) -> None``."""
_SINGLE = frozenset({"plan", "serve", "audit"})
"""Top-level commands that are commands, not groups of sub-commands."""
_COMPLETE_VAR = "_CLLCDS_COMPLETE"
EXTRAS: dict[str, str] = {
    **dict.fromkeys(
        (
            "sqlalchemy",
            "alembic",
            "psycopg",
            "fastapi",
            "starlette",
            "multipart",
            "python_multipart",
            "uvicorn",
            "argon2",
            "platformdirs",
            "fhir",
            "pydantic",
        ),
        "server",
    ),
    "matplotlib": "plot",
    "numba": "pk",
    **dict.fromkeys(("lifelines", "dask", "distributed", "pandas"), "cohort"),
}
"""Top-level package → the extra of ``pyproject.toml`` that installs it."""


def _show_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit


def _requested(argv: list[str]) -> str | None:
    """The top-level command in ``argv`` (the first word that is not an option), if known."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _words(argv: list[str] | None) -> list[str]:
    """The words after the program name: ``argv``, or while the shell asks for completions
    the words typed so far (Typer's completion protocol passes them in the environment)."""
    if os.environ.get(_COMPLETE_VAR):
        typed = os.environ.get("_TYPER_COMPLETE_ARGS") or os.environ.get("COMP_WORDS", "")
        try:
            return shlex.split(typed)[1:]
        except ValueError:
            return typed.split()[1:]
    return list(sys.argv[1:] if argv is None else argv)


def _build(argv: list[str] | None = None, *, everything: bool = False) -> typer.Typer:
    """The app, with the real command groups for the command ``argv`` names (every group when
    ``everything``); for ``--help`` and unknown commands, listing entries from
    :data:`COMMANDS` stand in for the groups so that nothing heavy is imported."""
    app = typer.Typer(
        name="cllcds",
        help="Clinical decision support for alemtuzumab in relapsed and refractory CLL.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root(
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                callback=_show_version,
                is_eager=True,
                help="Print the cllcds version and exit.",
            ),
        ] = False,
    ) -> None:
        """Clinical decision support for alemtuzumab in relapsed and refractory CLL."""

    @app.command("version")
    def version() -> None:
        """Print the cllcds version."""
        typer.echo(__version__)

    wanted = None if everything else _requested(_words(argv))
    if everything or wanted is not None:
        modules = _GROUPS if everything else (COMMANDS[str(wanted)][0],)
        for name in modules:
            importlib.import_module(f"{__name__}.{name}").register(app)
        return app
    for name, (_, text) in COMMANDS.items():
        if name in _SINGLE:
            app.command(name, help=text, add_help_option=False)(_listed)
        else:
            app.add_typer(typer.Typer(help=text), name=name)
    return app


def _listed() -> None:  # pragma: no cover - never runs: a named command loads its group
    raise typer.Exit(2)


def _missing_extra(exc: ImportError) -> str | None:
    """The one-line error for a package of an uninstalled extra (None: not such a case)."""
    package = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(package)
    if extra is not None:
        package = "fhir.resources" if package == "fhir" else package
        return (
            f"this command needs {package}, from the '{extra}' extra: pip install 'cllcds[{extra}]'"
        )
    if "cllcds[" in str(exc):
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cllcds`` console script."""
    try:
        app = _build(argv)
        app(args=argv, prog_name="cllcds", standalone_mode=True)
    except ImportError as exc:
        message = _missing_extra(exc)
        if message is None:
            raise
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(1) from None
    except Exception as exc:
        # The domain's errors can only occur once a command has imported the domain.
        domain = sys.modules.get("cllcds.domain")
        if domain is None or not isinstance(exc, domain.CllcdsError):
            raise
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2 if isinstance(exc, domain.InputError) else 1) from None


__all__ = ["main"]
