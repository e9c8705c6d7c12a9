"""Output helpers shared by the CLI commands: formats, JSON, CSV, rich tables, errors."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cllcds.domain import InputError


class Format(StrEnum):
    """Output formats most commands accept (``--format``)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def console() -> Console:
    """A console writing to stdout (plain when not a terminal, so pipes get clean text)."""
    return Console(soft_wrap=False, width=160 if not sys.stdout.isatty() else None)


def to_jsonable(obj: Any) -> Any:
    """Convert enums, tuples and paths recursively to JSON-ready values."""
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and math.isnan(obj):  # NaN is not JSON
        return None
    return obj


def emit_json(obj: Any) -> None:
    """Print an object as indented JSON on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False) + "\n")


def emit_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Print rows as CSV with a header on stdout."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: to_jsonable(row.get(k)) for k in columns})
    sys.stdout.write(buf.getvalue())


def emit_table(
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> None:
    """Print rows as a rich table on stdout."""
    table = Table(title=title, caption=caption, show_lines=False, caption_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console().print(table)


def fail(message: str, code: int = 2) -> None:
    """Print a one-line user error on stderr and exit with ``code``."""
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(code)


def input_error(exc: InputError) -> None:
    """Report an :class:`InputError` in one line and exit 2."""
    fail(str(exc))
