"""What the pages show, computed from a stored course: timeline, charts, badges, due items."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cllcds.domain import CmvPcr, DoseGiven, LabCode, LabEvent
from cllcds.services import load_course

from . import _charts

#: (status in the state, badge text, CSS class, icon). Text and icon, never colour alone.
STATUS_BADGES = {
    "active": ("Active", "ok", "▶"),
    "on_hold": ("On hold", "hold", "‖"),
    "discontinued": ("Discontinued", "stop", "■"),
    "completed": ("Completed", "done", "✓"),
    "cannot_assess": ("Cannot assess", "crit", "?"),
}
CHARTED_LABS = (
    (LabCode.ANC, "Neutrophils (ANC)", "×10⁹/L"),
    (LabCode.PLT, "Platelets", "×10⁹/L"),
    (LabCode.HGB, "Haemoglobin", "g/dL"),
    (LabCode.ALC, "Lymphocytes (ALC)", "×10⁹/L"),
)
EVENT_LABELS = {
    "dose": ("Dose", "◆"),
    "dose_held": ("Dose held", "‖"),
    "lab": ("Lab", "▪"),
    "cmv_pcr": ("CMV PCR", "✚"),
    "cmv_antigenemia": ("CMV antigenaemia", "✚"),
    "infusion_reaction": ("Infusion reaction", "▲"),
    "fever": ("Fever", "▲"),
    "infection": ("Infection", "▲"),
    "autoimmune_cytopenia": ("Autoimmune cytopenia", "■"),
    "antiviral": ("Antiviral", "◇"),
    "growth_factor": ("Growth factor", "◇"),
    "transfusion": ("Transfusion", "◇"),
    "assessment": ("Assessment", "□"),
    "note": ("Note", "✎"),
}


def badges(state: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The badges of a course: (text, css class, icon)."""
    out = [STATUS_BADGES.get(str(state.get("status")), (str(state.get("status")), "", "•"))]
    cmv = (state.get("cmv") or {}).get("status")
    if cmv in {"positive", "on_treatment"}:
        text = "CMV positive" if cmv == "positive" else "CMV on treatment"
        out.append((text, "cmv", "✚"))
    if any(a.get("severity") == "critical" for a in state.get("alerts") or []):
        out.append(("Critical alert", "crit", "!"))
    return out


def due_today(state: Mapping[str, Any], today: dt.date) -> list[str]:
    """What is due today or overdue: the next dose and the next actions."""
    out = []
    dose = state.get("next_dose")
    if dose and dose.get("date") and dose["date"] <= today.isoformat():
        out.append(f"Alemtuzumab {dose.get('dose_mg')} mg {str(dose.get('route', '')).upper()}")
    for action in state.get("next_actions") or []:
        due = action.get("due")
        if due and due <= today.isoformat() and action.get("code") != "dose":
            overdue = " (overdue)" if due < today.isoformat() else ""
            out.append(str(action.get("action", "")).split(":")[0] + overdue)
    return out


def _event_summary(e: Mapping[str, Any]) -> str:
    t = e.get("type")
    if t == "dose":
        route = str(e.get("route", "")).upper()
        return f"{e.get('drug', 'alemtuzumab')} {e.get('dose_mg')} mg {route}"
    if t == "lab":
        return f"{e.get('code')} {e.get('value')} {e.get('unit', '')}"
    if t == "cmv_pcr":
        if e.get("result"):
            return str(e["result"])
        return f"{e.get('value')} {e.get('unit', '')}"
    if t == "cmv_antigenemia":
        return f"{e.get('value')} positive cells per 2×10⁵ leukocytes"
    if t in {"infusion_reaction", "infection"}:
        extra = f" — {e['description']}" if e.get("description") else ""
        serious = " (serious)" if e.get("serious") else ""
        return f"grade {e.get('grade')}{extra}{serious}"
    if t == "fever":
        return f"{e.get('temperature_c')} °C"
    if t == "autoimmune_cytopenia":
        return str(e.get("kind", ""))
    if t == "dose_held":
        return str(e.get("reason", ""))
    if t == "antiviral":
        return f"{e.get('drug')} {e.get('dose_mg', '')} mg from {e.get('start', e.get('date'))}"
    if t == "assessment":
        nodes = e.get("lymph_nodes") or []
        parts = [f"{len(nodes)} node(s)"]
        if e.get("spleen_cm") is not None:
            parts.append(f"spleen {e['spleen_cm']} cm")
        if e.get("marrow"):
            parts.append(f"marrow {e['marrow'].get('lymphocytes_pct')}% lymphocytes")
        return ", ".join(parts)
    if t == "note":
        return str(e.get("text", ""))
    return ", ".join(f"{k} {v}" for k, v in e.items() if k not in {"date", "type", "id"})


@dataclass(frozen=True, slots=True)
class TimelineDay:
    """One day of the timeline: its date and its events (label, icon, text, css class)."""

    date: str
    items: tuple[tuple[str, str, str, str], ...]


def timeline(doc: Mapping[str, Any], newest_first: bool = True) -> list[TimelineDay]:
    """The course's events grouped by day; lab results of a day become one line."""
    events = list(doc.get("events") or [])
    superseded = {str(e["supersedes"]) for e in events if e.get("supersedes") is not None}
    by_day: dict[str, list[tuple[str, str, str, str]]] = {}
    labs: dict[str, list[str]] = {}
    for e in events:
        if e.get("id") is not None and str(e["id"]) in superseded:
            continue
        day = str(e.get("date", ""))[:10]
        t = str(e.get("type"))
        if t == "lab":
            labs.setdefault(day, []).append(f"{e.get('code')} {e.get('value')}")
            continue
        label, icon = EVENT_LABELS.get(t, (t, "•"))
        by_day.setdefault(day, []).append((label, icon, _event_summary(e), f"ev-{t}"))
    for day, results in labs.items():
        by_day.setdefault(day, []).append(("Labs", "▪", ", ".join(results), "ev-lab"))
    days = sorted(by_day, reverse=newest_first)
    return [TimelineDay(d, tuple(by_day[d])) for d in days]


@dataclass(frozen=True, slots=True)
class ChartView:
    """A rendered chart and its data table rows."""

    key: str
    title: str
    unit: str
    svg: str
    rows: tuple[tuple[str, str], ...]
    rules: tuple[str, ...]


def charts(doc: Mapping[str, Any], state: Mapping[str, Any], today: dt.date) -> list[ChartView]:
    """The lab and CMV charts of a course, on a common time axis."""
    course = load_course(dict(doc))
    superseded = {e.supersedes for e in course.events if e.supersedes is not None}
    series: dict[LabCode, list[tuple[dt.date, float]]] = {code: [] for code, _, _ in CHARTED_LABS}
    cmv: list[tuple[dt.date, float]] = []
    doses: list[tuple[dt.date, str]] = []
    if course.baseline is not None:
        for lab in course.baseline.labs:
            if lab.code in series and lab.date is not None:
                series[lab.code].append((lab.date, lab.value))
    for ev in course.events:
        if ev.id is not None and ev.id in superseded:
            continue
        if isinstance(ev, LabEvent) and ev.result.code in series:
            series[ev.result.code].append((ev.date, ev.result.value))
        elif isinstance(ev, CmvPcr) and ev.value is not None:
            cmv.append((ev.date, float(ev.value)))
        elif isinstance(ev, DoseGiven):
            doses.append((ev.date, f"{ev.date.isoformat()}: {ev.dose_mg:g} mg"))
    all_dates = [d for pts in series.values() for d, _ in pts] + [d for d, _ in cmv]
    start, end = _charts.chart_range(all_dates + [d for d, _ in doses], today)
    rule_sets = state.get("rule_sets") or {}
    label = str(rule_sets.get("label", "us-2007"))
    scale = str(rule_sets.get("toxicity", "ctcae-5"))
    out = []
    for code, title, unit in CHARTED_LABS:
        chart = _charts.Chart(
            key=code.value,
            title=title,
            unit=unit,
            points=tuple(sorted(series[code])),
            bands=_charts.lab_bands(code, scale),
            rules=_charts.lab_rules(code, label),
            markers=tuple(doses),
        )
        out.append(_view(chart, start, end))
    chart = _charts.Chart(
        key="CMV",
        title="CMV viral load (PCR)",
        unit="IU/mL",
        points=tuple(sorted(cmv)),
        log=True,
        markers=tuple(doses),
    )
    out.append(_view(chart, start, end))
    return out


def _view(chart: _charts.Chart, start: dt.date, end: dt.date) -> ChartView:
    rows = tuple((d.isoformat(), f"{v:g}") for d, v in chart.points)
    return ChartView(
        chart.key,
        chart.title,
        chart.unit,
        _charts.render(chart, start, end),
        rows,
        tuple(r.label for r in chart.rules),
    )


def decision_for(alert: Mapping[str, Any], decisions: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The decision behind an alert or action (same citation; code matched to the rule name)."""
    code = str(alert.get("code", ""))
    stem = code.split("-", maxsplit=1)[0]
    same = [d for d in decisions if d.get("citation") == alert.get("citation")]
    for d in same:
        if stem and stem in str(d.get("rule", "")):
            return d
    return same[0] if same else {}
