"""Forest plots of pooled proportions (matplotlib, imported only when a plot is drawn).

Rows: each study (label, events/n, proportion with CI, weight %, a square sized by weight with
its CI), the pooled estimate as a diamond (its CI), the prediction interval as a bar below
it, an x axis of proportions, and a footer with the model, tau², I², Q and the R call.
Colours are from the Okabe–Ito colour-blind-safe palette. SVG output is deterministic (fixed
``svg.hashsalt``, no date metadata, glyphs as paths), so it can be compared in tests.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cllcds._plotting import PlotFormat, plot_format, render

from ._meta import PoolResult, TauMethod

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe & Ito (2008) colour-blind-safe palette
_BLUE = "#0072B2"
_VERMILLION = "#D55E00"
_GREEN = "#009E73"
_GREY = "#555555"
_BLACK = "#000000"

_ROW_IN = 0.30  # height of one row, inches
_FONT = 9.5


def _format(fmt: PlotFormat | Literal["svg", "png"] | None, path: Path | None) -> PlotFormat:
    return plot_format(fmt, path)


def _num(x: float) -> str:
    text = f"{x:.2f}"
    return "0.00" if text == "-0.00" else text


def _ci(est: float, lo: float, hi: float) -> str:
    return f"{_num(est)} [{_num(lo)}, {_num(hi)}]"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _x_range(result: PoolResult) -> tuple[float, float]:
    """0–1, narrowed to the tenths that hold every interval (at least 0.4 wide)."""
    values = [result.ci_low, result.ci_high, result.estimate]
    values += [v for v in (result.pi_low, result.pi_high) if v is not None]
    for s in result.studies:
        values += [s.ci_low, s.ci_high, s.estimate]
    finite = [min(1.0, max(0.0, v)) for v in values if math.isfinite(v)]
    lo = math.floor(min(finite) * 10 + 1e-9) / 10
    hi = math.ceil(max(finite) * 10 - 1e-9) / 10
    while hi - lo < 0.4 - 1e-9:
        lo, hi = max(0.0, lo - 0.1), min(1.0, hi + 0.1)
    return lo, hi


def _whisker(
    ax: Axes, lo: float, hi: float, y: float, *, xlim: tuple[float, float], gid: str
) -> None:
    """A CI line clipped to the axis, with an arrow head where it runs off the axis."""
    a, b = max(lo, xlim[0]), min(hi, xlim[1])
    ax.plot([a, b], [y, y], color=_BLACK, linewidth=1.0, solid_capstyle="butt", gid=gid)
    if lo < xlim[0]:
        ax.plot([a], [y], marker="<", markersize=4, color=_BLACK)
    if hi > xlim[1]:
        ax.plot([b], [y], marker=">", markersize=4, color=_BLACK)


def _footer(result: PoolResult) -> list[str]:
    model = (
        "Common-effect model"
        if result.method is TauMethod.FIXED
        else f"Random-effects model ({result.method.label} τ²)"
    )
    kh = ", Knapp–Hartung" if result.knha else ""
    lines = [f"{model}{kh}; {result.transform.label} transformation; k = {result.k}"]
    het = []
    if result.method is not TauMethod.FIXED:
        tau2 = f"τ² = {result.tau2:.4f}"
        if result.tau2_ci is not None:
            tau2 += f" [{result.tau2_ci[0]:.4f}, {result.tau2_ci[1]:.4f}]"
        het.append(tau2)
    i2 = f"I² = {result.i2:.1f}%"
    if result.i2_ci is not None:
        i2 += f" [{result.i2_ci[0]:.1f}, {result.i2_ci[1]:.1f}]"
    het.append(i2)
    het.append(f"Q = {result.q:.2f} (df = {result.q_df}, {_p(result.q_p)})")
    lines.append("Heterogeneity: " + "; ".join(het))
    if any(s.corrected for s in result.studies):
        lines.append(
            f"† {result.add:g} added to the events and non-events of this study "
            f'(continuity correction, metafor escalc(add={result.add:g}, to="{result.to.value}"))'
        )
    r_calls = [
        line.split("  #")[0]
        for line in result.methods.splitlines()
        if line.startswith(("dat <- escalc(", "res <- rma(", "predict("))
    ]
    lines += ["R (metafor): " + r_calls[0], *("             " + c for c in r_calls[1:])]
    return lines


def _draw(result: PoolResult, title: str) -> Figure:
    from matplotlib import transforms  # noqa: PLC0415 - optional dependency, loaded lazily
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.patches import Polygon  # noqa: PLC0415

    k = result.k
    footer = _footer(result)
    has_pi = result.pi_low is not None and result.pi_high is not None
    rows = k + 2 + (1 if has_pi else 0) + 1.5  # header, studies, pooled, PI, axis gap
    top_in = 0.45 if title else 0.15
    axis_in = 0.55  # x axis ticks and label
    foot_in = 0.2 + 0.19 * len(footer)
    height = top_in + rows * _ROW_IN + axis_in + foot_in
    width = 11.0
    fig = Figure(figsize=(width, height), dpi=100)
    left, right = 0.40, 0.68
    bottom = (axis_in + foot_in) / height
    ax = fig.add_axes((left, bottom, right - left, rows * _ROW_IN / height))

    # rows, top to bottom: header k + 1, studies k .. 1, pooled -0.2, prediction -1.2
    y_head, y_pool, y_pi = k + 1.0, -0.2, -1.2
    ax.set_ylim((y_pi if has_pi else y_pool) - 0.9, y_head + 0.6)
    xlim = _x_range(result)
    ax.set_xlim(xlim)
    text = transforms.blended_transform_factory(fig.transFigure, ax.transData)

    def put(x: float, y: float, s: str, ha: str = "left", **kw: object) -> None:
        ax.text(x, y, s, transform=text, ha=ha, va="center", fontsize=_FONT, **kw)  # type: ignore[arg-type]

    level = f"{100 * result.level:g}%"
    for x, head, ha in (
        (0.015, "Study", "left"),
        (0.37, "Events / n", "right"),
        (0.70, f"Proportion [{level} CI]", "left"),
        (0.985, "Weight", "right"),
    ):
        put(x, y_head, head, ha, fontweight="bold")

    w_max = max(s.weight_pct for s in result.studies)
    for i, s in enumerate(result.studies):
        y = float(k - i)
        put(0.015, y, s.label)
        put(0.37, y, f"{s.events} / {s.n}", "right")
        if s.corrected:
            put(0.372, y, "†")
        put(0.70, y, _ci(s.estimate, s.ci_low, s.ci_high))
        put(0.985, y, f"{s.weight_pct:.1f}%", "right")
        _whisker(ax, s.ci_low, s.ci_high, y, xlim=xlim, gid=f"study-ci-{i}")
        if xlim[0] <= s.estimate <= xlim[1]:
            size = 4.0 + 9.0 * math.sqrt(s.weight_pct / w_max)  # area ∝ weight
            ax.plot(
                [s.estimate],
                [y],
                marker="s",
                markersize=size,
                color=_BLUE,
                markeredgecolor=_BLUE,
                linestyle="none",
                gid=f"study-square-{i}",
            )

    # pooled estimate: diamond spanning the CI
    lo, hi = max(result.ci_low, xlim[0]), min(result.ci_high, xlim[1])
    diamond = Polygon(
        [
            (lo, y_pool),
            (result.estimate, y_pool + 0.38),
            (hi, y_pool),
            (result.estimate, y_pool - 0.38),
        ],
        closed=True,
        facecolor=_VERMILLION,
        edgecolor=_VERMILLION,
        gid="pooled-diamond",
    )
    ax.add_patch(diamond)
    pooled_name = (
        "Common-effect estimate" if result.method is TauMethod.FIXED else "Pooled (random effects)"
    )
    put(0.015, y_pool, pooled_name, fontweight="bold")
    put(
        0.37,
        y_pool,
        f"{sum(s.events for s in result.studies)} / {sum(s.n for s in result.studies)}",
        "right",
    )
    put(0.70, y_pool, _ci(result.estimate, result.ci_low, result.ci_high), fontweight="bold")
    put(0.985, y_pool, "100%", "right")
    ax.axvline(result.estimate, color=_VERMILLION, linewidth=0.8, linestyle=(0, (4, 3)), zorder=0)

    if has_pi and result.pi_low is not None and result.pi_high is not None:
        plo, phi = max(result.pi_low, xlim[0]), min(result.pi_high, xlim[1])
        ax.plot(
            [plo, phi],
            [y_pi, y_pi],
            color=_GREEN,
            linewidth=5,
            solid_capstyle="butt",
            gid="prediction-interval",
        )
        kind = "HTS" if result.pi_type.value == "hts" else "metafor"
        put(0.015, y_pi, f"Prediction interval ({kind})", color=_GREY)
        put(0.70, y_pi, f"[{_num(result.pi_low)}, {_num(result.pi_high)}]", color=_GREY)

    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_yticks([])
    ax.set_xlabel("Proportion", fontsize=_FONT)
    ax.tick_params(axis="x", labelsize=_FONT - 0.5)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6, zorder=-1)
    ax.set_axisbelow(True)
    if title:
        fig.text(
            0.015, 1 - 0.25 / height, title, fontsize=_FONT + 2, fontweight="bold", va="center"
        )
    for j, line in enumerate(footer):
        fig.text(
            0.015,
            (foot_in - 0.2 - 0.19 * j) / height,
            line,
            fontsize=_FONT - 1.5,
            family="DejaVu Sans Mono" if line.startswith(("R (", "    ")) else "DejaVu Sans",
            color=_GREY if line.startswith(("R (", " ")) else _BLACK,
            va="center",
        )
    return fig


def forest_plot(
    result: PoolResult,
    path: Path | None = None,
    *,
    fmt: PlotFormat | Literal["svg", "png"] | None = None,
    title: str = "",
) -> bytes:
    """Draw a forest plot of a pooled analysis; return it as SVG or PNG bytes.

    Parameters
    ----------
    result
        From :func:`pool` (or one row of :func:`leave_one_out`, a subgroup of
        :func:`subgroups`).
    path
        If given, the plot is also written there.
    fmt
        ``PlotFormat.SVG`` or ``PNG`` (or ``"svg"``/``"png"``); default: from the suffix of
        ``path``, else SVG.
    title
        Printed above the plot.

    Notes
    -----
    Needs matplotlib (``pip install 'cllcds[plot]'``). Study CIs are the transformed-scale
    Wald CIs back-transformed, as metafor's ``forest()`` shows them; the squares' areas are
    proportional to the weights. SVG output is byte-for-byte reproducible.

    Examples
    --------
    >>> from cllcds.evidence import StudyData, pool, forest_plot
    >>> res = pool([StudyData("A", 12, 29), StudyData("B", 8, 24), StudyData("C", 31, 93)])
    >>> forest_plot(res).startswith(b"<?xml")
    True
    """
    kind = _format(fmt, path)
    return render(lambda: _draw(result, title), salt="cllcds-forest", kind=kind, dpi=150, path=path)
