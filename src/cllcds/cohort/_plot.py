"""Scenario comparison plot: Kaplan–Meier curves and response/CMV rates with intervals.

Three panels: overall survival and treatment-free survival (Kaplan–Meier with 95 % Greenwood
bands, one colour per arm), and the rates of response, CR, MRD negativity, symptomatic CMV and
CMV holds with their intervals. Okabe–Ito colours; deterministic SVG (fixed ``svg.hashsalt``,
no date, glyphs as paths).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cllcds._plotting import plot_format, render

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_GREY = "#555555"
_BARS = (
    ("orr", "response"),
    ("cr", "CR"),
    ("mrd_negative", "MRD−"),
    ("cmv_symptomatic", "symptomatic CMV"),
    ("cmv_holds", "CMV hold"),
)


def _km(ax: Axes, doc: dict[str, Any], key: str, title: str) -> None:
    for i, arm in enumerate(doc["arms"]):
        km = arm[key]
        curve = km["curve"]
        colour = _COLOURS[i % len(_COLOURS)]
        ax.step(
            curve["time_months"],
            curve["survival"],
            where="post",
            color=colour,
            lw=1.6,
            label=arm["label"],
        )
        ax.fill_between(
            curve["time_months"],
            curve["lower"],
            curve["upper"],
            step="post",
            color=colour,
            alpha=0.15,
            lw=0,
        )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, doc["scenario"]["follow_up_months"])
    ax.set_xlabel("months from the start of alemtuzumab")
    ax.set_ylabel("proportion")
    ax.set_title(title, fontsize=10)
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _bars(ax: Axes, doc: dict[str, Any]) -> None:
    arms = doc["arms"]
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        xs = [k + (i - (len(arms) - 1) / 2) * width for k in range(len(_BARS))]
        rates = [arm["rates"][key] for key, _ in _BARS]
        ys = [100 * r["rate"] for r in rates]
        err = [
            [100 * (r["rate"] - r["low"]) for r in rates],
            [100 * (r["high"] - r["rate"]) for r in rates],
        ]
        ax.bar(xs, ys, width=width * 0.92, color=_COLOURS[i % len(_COLOURS)], alpha=0.85)
        ax.errorbar(xs, ys, yerr=err, fmt="none", ecolor="#333333", elinewidth=0.9, capsize=2)
    ax.set_xticks(range(len(_BARS)), [label for _, label in _BARS], fontsize=8.5)
    ax.set_ylabel("% of virtual patients (95% interval)")
    ax.set_ylim(0, 100)
    ax.grid(True, axis="y", color="#e5e5e5", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Response and CMV", fontsize=10)


def _draw(doc: dict[str, Any]) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415 - optional dependency, loaded lazily

    fig = Figure(figsize=(11.0, 7.4))
    gs = fig.add_gridspec(
        2,
        2,
        height_ratios=(1.0, 1.0),
        hspace=0.42,
        wspace=0.22,
        bottom=0.13,
        top=0.86,
        left=0.07,
        right=0.98,
    )
    _km(fig.add_subplot(gs[0, 0]), doc, "overall_survival", "Overall survival")
    _km(fig.add_subplot(gs[0, 1]), doc, "treatment_free_survival", "Treatment-free survival")
    ax = fig.add_subplot(gs[1, :])
    _bars(ax, doc)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=min(3, len(labels)),
        fontsize=8.5,
        frameon=False,
        bbox_to_anchor=(0.5, 0.95),
    )
    sc = doc["scenario"]
    fig.suptitle(sc["name"], fontsize=12, y=0.995)
    foot = (
        f"{doc['n']:,} virtual patients per arm (seed {doc['seed']}, {doc['replicates']} "
        f"replicates). Intervals: {doc['intervals']}. Survival given response and MRD status "
        "from Moreton 2005 (exponential), the same in every arm. " + doc["limits"][0]
    )
    fig.text(0.02, 0.012, textwrap.fill(foot, 185), fontsize=6.8, color=_GREY, va="bottom")
    return fig


def cohort_plot(doc: dict[str, Any], path: Path | None = None, *, fmt: str | None = None) -> bytes:
    """Draw the comparison of a :func:`cllcds.cohort.report` document; return SVG/PNG bytes."""
    kind = plot_format(fmt, path, "--plot")
    return render(lambda: _draw(doc), salt="cllcds-cohort", kind=kind, dpi=110, path=path)
