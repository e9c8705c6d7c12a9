"""Rendering matplotlib figures to reproducible SVG or PNG bytes (shared by the forest, PK and
cohort plots).

matplotlib is imported only when a plot is drawn, so nothing else pays for it. SVG output is
byte-for-byte reproducible: a fixed hash salt for element ids, glyphs drawn as paths (the same
drawing on every machine), no date or software metadata.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from cllcds.domain import InputError


class PlotFormat(Enum):
    """Output format of a plot."""

    SVG = "svg"
    PNG = "png"


def plot_format(fmt: PlotFormat | str | None, path: Path | None, field: str = "fmt") -> PlotFormat:
    """The format asked for, else the one the file name's suffix says, else SVG."""
    if isinstance(fmt, PlotFormat):
        return fmt
    if fmt is None:
        if path is None:
            return PlotFormat.SVG
        fmt = path.suffix.lower().lstrip(".")
        field = "path"
    try:
        return PlotFormat(str(fmt).lower())
    except ValueError:
        raise InputError(
            field, str(path or fmt), "name a .svg or .png file (or give svg/png)"
        ) from None


def render(
    draw: Callable[[], Any], *, salt: str, kind: PlotFormat, dpi: int, path: Path | None
) -> bytes:
    """Draw a figure with ``draw()`` and save it as ``kind``; write it to ``path`` if given."""
    try:
        from matplotlib import rc_context  # noqa: PLC0415 - matplotlib costs time to import
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'cllcds[plot]'") from exc
    with rc_context(
        {
            "svg.hashsalt": salt,  # deterministic ids in the SVG
            "svg.fonttype": "path",  # glyphs as paths: the same drawing on every machine
            "font.family": "DejaVu Sans",  # shipped with matplotlib
            "path.simplify": False,
        }
    ):
        fig = draw()
        buf = io.BytesIO()
        if kind is PlotFormat.SVG:
            fig.savefig(buf, format="svg", metadata={"Date": None})
        else:
            fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    data = buf.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data
