"""Concentration and WBC over time (matplotlib, imported only when a plot is drawn).

Two panels sharing a time axis in days: alemtuzumab concentration (log scale, with the Mould
2007 maximum-trough threshold of 13.2 µg/mL) and WBC (log scale). The typical patient is a line;
a population is its median with the 25–75th and 5–95th percentile bands. Doses are ticks at the
top. The approximations in force (SC absorption) are printed under the plot. Colours are from
the Okabe–Ito palette. SVG output is deterministic (fixed ``svg.hashsalt``, no date metadata,
glyphs as paths).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cllcds._plotting import PlotFormat, plot_format, render

from ._doses import DoseRoute
from ._model import KNOWN_LIMITS, THRESHOLD_TROUGH_MG_PER_L, FloatArray
from ._population import PkResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_BLUE = "#0072B2"
_VERMILLION = "#D55E00"
_GREEN = "#009E73"
_ORANGE = "#E69F00"
_GREY = "#555555"
_FLOOR_C = 1e-3
"""Lowest concentration drawn on the log axis (µg/mL)."""
_FLOOR_W = 0.1


def _format(fmt: PlotFormat | str | None, path: Path | None) -> PlotFormat:
    return plot_format(fmt, path, "--plot")


def _series(result: PkResult, what: str, key: str) -> FloatArray:
    return np.array([p[what].get(key, np.nan) for p in result.profile], dtype=np.float64)


def _panel(ax: Axes, result: PkResult, what: str, colour: str, floor: float) -> None:
    days = np.asarray(result.times_h) / 24.0
    if result.n == 1:
        y = np.maximum(_series(result, what, "value"), floor)
        ax.plot(days, y, color=colour, lw=1.6, label="typical patient" if result.typical else "")
    else:
        lo5, lo25 = _series(result, what, "p5"), _series(result, what, "p25")
        med = _series(result, what, "p50")
        hi75, hi95 = _series(result, what, "p75"), _series(result, what, "p95")
        ax.fill_between(
            days,
            np.maximum(lo5, floor),
            np.maximum(hi95, floor),
            color=colour,
            alpha=0.15,
            lw=0,
            label="5th–95th percentile",
        )
        ax.fill_between(
            days,
            np.maximum(lo25, floor),
            np.maximum(hi75, floor),
            color=colour,
            alpha=0.30,
            lw=0,
            label="25th–75th percentile",
        )
        ax.plot(days, np.maximum(med, floor), color=colour, lw=1.6, label="median")
    ax.set_yscale("log")
    from matplotlib.ticker import (  # noqa: PLC0415 - optional dependency, loaded lazily
        FuncFormatter,
        LogLocator,
        NullFormatter,
    )

    lo, hi = ax.get_ylim()
    if hi / max(lo, 1e-12) < 300:  # under ~2.5 decades: label 1-2-5 steps too
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", color="#dddddd", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _draw(result: PkResult, title: str | None) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415 - optional dependency, loaded lazily

    # The approximations in force, then the first known limits; all of them are in the
    # text outputs and docs.
    shown = [n for n in result.notes if n not in KNOWN_LIMITS]
    shown += [n for n in result.notes if n in KNOWN_LIMITS][: max(1, 3 - len(shown))]
    footer = "\n".join(textwrap.fill(n, 140) for n in shown[:3])
    lines = footer.count("\n") + 1
    fig = Figure(figsize=(8.0, 6.2 + 0.12 * lines))
    bottom = (0.62 + 0.12 * lines) / (6.2 + 0.12 * lines)
    gs = fig.add_gridspec(2, 1, height_ratios=(1.25, 1.0), hspace=0.1, bottom=bottom, top=0.9)
    ax_c = fig.add_subplot(gs[0])
    ax_w = fig.add_subplot(gs[1], sharex=ax_c)
    _panel(ax_c, result, "concentration", _BLUE, _FLOOR_C)
    _panel(ax_w, result, "wbc", _GREEN, _FLOOR_W)
    top = max(float(np.nanmax(_series_max(result))), THRESHOLD_TROUGH_MG_PER_L) * 1.8
    ax_c.set_ylim(_FLOOR_C, top)
    ax_c.axhline(THRESHOLD_TROUGH_MG_PER_L, color=_VERMILLION, lw=1.0, ls="--")
    ax_c.text(
        0.01,
        THRESHOLD_TROUGH_MG_PER_L / 1.12,
        "max-trough threshold 13.2 µg/mL (≥ 50% CR/PR, Mould 2007; association only)",
        transform=ax_c.get_yaxis_transform(),
        ha="left",
        va="top",
        fontsize=7.5,
        color=_VERMILLION,
    )
    for d in result.doses.doses:
        mark = "v" if d.route is DoseRoute.SC else "|"
        ax_c.plot(
            [d.time_h / 24.0],
            [top / 1.25],
            marker=mark,
            color=_ORANGE if d.route is DoseRoute.SC else _GREY,
            ms=5,
            lw=0,
        )
    ax_c.text(
        0.995,
        top / 1.25,
        "doses ",
        transform=ax_c.get_yaxis_transform(),
        ha="right",
        va="center",
        fontsize=7,
        color=_GREY,
    )
    ax_c.set_ylabel("alemtuzumab (µg/mL)")
    ax_w.set_ylabel("WBC (×10⁹/L)")
    ax_w.set_xlabel("time from first dose (days)")
    ax_c.tick_params(labelbottom=False)
    ax_c.legend(loc="lower right", fontsize=7.5, frameon=False)
    who = (
        "typical patient (all η = 0)"
        if result.typical
        else f"{result.n} virtual patients (seed {result.seed})"
        if result.n > 1
        else "one virtual patient"
    )
    fig.suptitle(
        title or f"Alemtuzumab — {result.doses.source or 'dose table'}", fontsize=11, y=0.97
    )
    ax_c.set_title(
        f"Mould 2007 PK/PD model; {who}"
        + (f"; baseline WBC {result.wbc0:g}" if result.wbc0 else ""),
        fontsize=8.5,
        color=_GREY,
    )
    fig.text(0.02, 0.012, footer, fontsize=6.3, color=_GREY, va="bottom", ha="left")
    return fig


def _series_max(result: PkResult) -> FloatArray:
    key = "value" if result.n == 1 else "p95"
    out: FloatArray = np.maximum(_series(result, "concentration", key), _FLOOR_C)
    return out


def pk_plot(
    result: PkResult,
    path: Path | None = None,
    *,
    fmt: PlotFormat | str | None = None,
    title: str | None = None,
) -> bytes:
    """Draw concentration and WBC over time; return the SVG or PNG bytes.

    Needs matplotlib (``pip install 'cllcds[plot]'``). SVG output is byte-for-byte
    reproducible.
    """
    kind = _format(fmt, path)
    return render(lambda: _draw(result, title), salt="cllcds-pk", kind=kind, dpi=130, path=path)
