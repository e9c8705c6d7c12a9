"""Small server-side SVG charts: a value over time, with grade bands and threshold lines.

No JavaScript and no third-party library: the page gets finished SVG markup. Each chart is
accessible (``role="img"``, ``<title>`` and ``<desc>``) and is followed in the page by a data
table, so a screen reader or a print-out loses nothing. Colours are from the Okabe-Ito palette
(distinguishable with the common colour-vision deficiencies) and every coloured thing also has
a text label (grade names on the bands, "hold"/"resume" on the lines) and a line style.

Grade bands come from :func:`cllcds.knowledge.grading_table` and the hold/resume lines from
:func:`cllcds.knowledge.dose_modification_rules`, so the picture can never disagree with the
rules that decide.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from cllcds.domain import LabCode
from cllcds.knowledge import dose_modification_rules, grading_table

# Okabe & Ito (2008) palette.
BLUE = "#0072B2"
VERMILLION = "#D55E00"
GREEN = "#009E73"
ORANGE = "#E69F00"
SKY = "#56B4E9"
YELLOW = "#F0E442"
PURPLE = "#CC79A7"
GREY = "#595959"
# Band tints: light to dark with grade, one hue (lightness carries the order, not hue).
BAND_FILLS = {1: "#fdf3d7", 2: "#fbe2b0", 3: "#f6c48a", 4: "#eea26a", 5: "#e07f4f"}

WIDTH = 560
HEIGHT = 230
PAD_L, PAD_R, PAD_T, PAD_B = 52, 70, 24, 30


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded horizontal band (a toxicity grade), ``None`` for an open end."""

    low: float | None
    high: float | None
    label: str
    grade: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A horizontal threshold line."""

    value: float
    label: str
    kind: str  # "hold" (dashed vermillion) or "resume" (dash-dot green)


@dataclass(frozen=True, slots=True)
class Chart:
    """What a chart shows: points in time, the unit, bands and threshold lines."""

    key: str
    title: str
    unit: str
    points: tuple[tuple[dt.date, float], ...]
    bands: tuple[Band, ...] = ()
    rules: tuple[Rule, ...] = ()
    log: bool = False
    markers: tuple[tuple[dt.date, str], ...] = ()  # (date, label): vertical ticks (doses)
    not_detected: tuple[dt.date, ...] = ()  # tests with no measurable value ("not detected")


def num(v: float) -> str:
    """A number as a person writes it: no float artefacts (11.600000000000001 → 11.6)."""
    text = f"{v:.6g}"
    if "e" in text:  # very small or large: plain digits still
        text = f"{v:.10f}".rstrip("0").rstrip(".") if abs(v) < 1 else f"{v:.0f}"
    return text


def lab_bands(lab: LabCode, scale: str = "ctcae-5") -> tuple[Band, ...]:
    """The grade bands of ``lab`` on ``scale`` (absolute-count scales only)."""
    try:
        table = grading_table(scale)
    except Exception:  # relative scales (iwCLL 2008) have no absolute bands to draw
        return ()
    grading = table.labs.get(lab)
    if grading is None:
        return ()
    return tuple(
        Band(b.lower, None if b.upper_is_lln else b.upper, f"G{b.grade.value}", b.grade.value)
        for b in grading.bands
        if b.grade.value >= 2 or not b.upper_is_lln
    )


def lab_rules(lab: LabCode, label_rule_set: str) -> tuple[Rule, ...]:
    """The hold (trigger) and resume thresholds of ``lab`` in a label rule set."""
    for rule_set, rules in dose_modification_rules().items():
        if rule_set.value != label_rule_set:
            continue
        out = [Rule(t.value, f"hold {t.text()}", "hold") for t in rules.trigger if t.lab is lab]
        out += [Rule(t.value, f"resume {t.text()}", "resume") for t in rules.resume if t.lab is lab]
        return tuple(out)
    return ()


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def render(chart: Chart, start: dt.date, end: dt.date) -> str:
    """The chart as an inline ``<svg>`` element, x from ``start`` to ``end``."""
    if end <= start:
        end = start + dt.timedelta(days=1)
    x0, x1 = PAD_L, WIDTH - PAD_R
    y0, y1 = HEIGHT - PAD_B, PAD_T
    values = [v for _, v in chart.points]
    refs = [r.value for r in chart.rules] + [
        b for band in chart.bands for b in (band.low, band.high) if b is not None
    ]
    if chart.log:
        pos = [v for v in [*values, *refs] if v > 0] or [100.0]
        lo = 10 ** math.floor(math.log10(min(pos)))
        hi = 10 ** math.ceil(math.log10(max(pos) * 1.01))
        if hi <= lo:
            hi = lo * 10

        def ymap(v: float) -> float:
            v = max(v, lo)
            return y0 + (y1 - y0) * (math.log10(v) - math.log10(lo)) / (
                math.log10(hi) - math.log10(lo)
            )

        decades = [10.0**k for k in range(round(math.log10(lo)), round(math.log10(hi)) + 1)]
        ticks = decades
        if len(decades) <= 3:  # few decades: 1-2-5 ticks so that values can be read
            ticks = sorted({t * m for t in decades for m in (1, 2, 5) if lo <= t * m <= hi})
    else:
        lo = 0.0
        top = max([*values, *refs, 0.0]) if values else max([*refs, 1.0])
        # Keep the bands and thresholds legible: do not let one huge value flatten them.
        ref_top = max(refs) * 2.2 if refs else top
        hi = min(top, ref_top) * 1.08 if values and max(values) > ref_top else top * 1.1
        hi = hi or 1.0
        ticks = _nice_ticks(lo, hi)

        def ymap(v: float) -> float:
            v = min(max(v, lo), hi)
            return y0 + (y1 - y0) * (v - lo) / (hi - lo)

    days = (end - start).days

    def xmap(d: dt.date) -> float:
        return x0 + (x1 - x0) * (d - start).days / days

    title = f"{chart.title} ({chart.unit})"
    desc = _describe(chart)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="c-{chart.key}-t c-{chart.key}-d" data-chart="{escape(chart.key)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="c-{chart.key}-t">{escape(title)}</title>',
        f'<desc id="c-{chart.key}-d">{escape(desc)}</desc>',
    ]
    # Grade bands (light to dark with grade) with their labels on the right.
    for band in chart.bands:
        b_lo = lo if band.low is None else band.low
        b_hi = hi if band.high is None else band.high
        if b_hi <= lo or b_lo >= hi:
            continue
        ya, yb = ymap(min(b_hi, hi)), ymap(max(b_lo, lo))
        fill = BAND_FILLS.get(band.grade, "#eee")
        out.append(
            f'<rect class="band" data-grade="{band.grade}" x="{x0}" y="{ya:.1f}" '
            f'width="{x1 - x0}" height="{max(yb - ya, 0):.1f}" fill="{fill}"/>'
        )
        if yb - ya >= 9:
            out.append(
                f'<text x="{x1 - 4}" y="{(ya + yb) / 2 + 4:.1f}" text-anchor="end" '
                f'class="band-label">{escape(band.label)}</text>'
            )
    # Axes, grid and ticks.
    out.append(f'<g class="axis" stroke="{GREY}" stroke-width="1">')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}"/>')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}"/></g>')
    for t in ticks:
        y = ymap(t)
        out.append(
            f'<line class="grid" x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    scale_note = " log scale" if chart.log else ""
    out.append(
        f'<text class="unit-label" x="{x0 - 6}" y="{y1 - 12}" text-anchor="end">'
        f"{escape(chart.unit)}</text>"
        f'<text class="unit-label" x="{x0 + 4}" y="{y1 + 10}">{escape(scale_note.strip())}</text>'
    )
    for d in _date_ticks(start, end):
        x = xmap(d)
        out.append(
            f'<line class="grid" x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}"/>'
            f'<text class="tick" x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">'
            f"{d.isoformat()}</text>"
        )
    for d, label in chart.markers:
        if start <= d <= end:
            x = xmap(d)
            out.append(
                f'<line class="dose-tick" x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 - 6}" '
                f'stroke="{PURPLE}" stroke-width="2"><title>{escape(label)}</title></line>'
            )
    # Threshold lines: hold dashed vermillion, resume dash-dot green, each labelled.
    for rule in chart.rules:
        if not lo <= rule.value <= hi:
            continue
        y = ymap(rule.value)
        colour, dash = (VERMILLION, "6 4") if rule.kind == "hold" else (GREEN, "10 3 2 3")
        out.append(
            f'<line class="threshold threshold-{rule.kind}" data-value="{rule.value}" '
            f'x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="2" stroke-dasharray="{dash}"/>'
            f'<text class="rule-label" x="{x1 + 4}" y="{y + 4:.1f}" fill="{colour}">'
            f"{escape(rule.label.split(' ')[0])}</text>"
        )
    # The series.
    pts = sorted((d, v) for d, v in chart.points if start <= d <= end)
    if pts:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{xmap(d):.1f},{ymap(v):.1f}" for i, (d, v) in enumerate(pts)
        )
        out.append(
            f'<path class="series" d="{path}" fill="none" stroke="{BLUE}" stroke-width="2"/>'
        )
        for d, v in pts:
            if not chart.log and v > hi:
                # Off the scale: a marker at the top edge that says the value.
                x = xmap(d)
                out.append(
                    f'<path class="point point-offscale" d="M{x - 6:.1f},{y1 + 10:.1f} '
                    f'L{x:.1f},{y1:.1f} L{x + 6:.1f},{y1 + 10:.1f} Z" fill="{BLUE}" '
                    f'stroke="#000" data-date="{d.isoformat()}" data-value="{num(v)}">'
                    f"<title>{d.isoformat()}: {num(v)} {escape(chart.unit)} (above the axis)"
                    f"</title></path>"
                    f'<text class="offscale-label" x="{x + 8:.1f}" y="{y1 + 10:.1f}">'
                    f"{num(v)}</text>"
                )
                continue
            below = any(r.kind == "hold" and v < r.value for r in chart.rules)
            cls = "point point-hold" if below else "point"
            shape = (
                f'<rect x="{xmap(d) - 4.5:.1f}" y="{ymap(v) - 4.5:.1f}" width="9" height="9" '
                f'fill="{VERMILLION}" stroke="#000" stroke-width="1"'
                if below
                else f'<circle cx="{xmap(d):.1f}" cy="{ymap(v):.1f}" r="4" fill="{BLUE}" '
                f'stroke="#fff" stroke-width="1"'
            )
            out.append(
                f'{shape} class="{cls}" data-date="{d.isoformat()}" data-value="{num(v)}">'
                f"<title>{d.isoformat()}: {num(v)} {escape(chart.unit)}</title>"
                f"{'</rect>' if below else '</circle>'}"
            )
    for d in chart.not_detected:
        if start <= d <= end:
            x = xmap(d)
            out.append(
                f'<circle class="point point-nd" cx="{x:.1f}" cy="{y0 - 6:.1f}" r="4" '
                f'fill="#fff" stroke="{BLUE}" stroke-width="2" data-date="{d.isoformat()}" '
                f'data-value="not detected"><title>{d.isoformat()}: not detected</title></circle>'
                f'<text class="nd-label" x="{x:.1f}" y="{y0 - 13:.1f}" text-anchor="middle">'
                "ND</text>"
            )
    if not pts and not chart.not_detected:
        out.append(
            f'<text x="{(x0 + x1) / 2}" y="{(y0 + y1) / 2}" text-anchor="middle" class="empty">'
            "no results yet</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _describe(chart: Chart) -> str:
    n = len(chart.points)
    parts = [f"{n} result{'s' if n != 1 else ''}"]
    if chart.not_detected:
        parts.append(f"{len(chart.not_detected)} not detected")
    if chart.log:
        parts.append("logarithmic scale")
    if chart.points:
        d, v = max(chart.points)
        parts.append(f"latest {num(v)} {chart.unit} on {d.isoformat()}")
    parts += [r.label for r in chart.rules]
    return "; ".join(parts) + "."


def _date_ticks(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (end - start).days
    step = next(s for s in (1, 2, 7, 14, 28, 56, 91, 182, 365, 10_000) if days / s <= 7)
    out = []
    d = start
    if step >= 7:  # align weekly ticks to Mondays
        d = start + dt.timedelta(days=(7 - start.weekday()) % 7)
    while d <= end:
        out.append(d)
        d += dt.timedelta(days=step)
    return out


def chart_range(dates: Sequence[dt.date], today: dt.date) -> tuple[dt.date, dt.date]:
    """A common x range for a course's charts: first result to today (a day of margin)."""
    if not dates:
        return today - dt.timedelta(days=14), today + dt.timedelta(days=1)
    first = min(dates)
    last = max(*dates, today)
    return first - dt.timedelta(days=1), last + dt.timedelta(days=1)
