"""What the pages show, computed from a stored course: timeline, charts, badges, due items."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cllcds.domain import CmvPcr, DoseGiven, LabCode, LabEvent
from cllcds.services import lab_grades, load_course

from . import _charts
from ._forms import STOP_REASON_LABELS

#: (status in the state, badge text, CSS class, icon). Text and icon, never colour alone.
STATUS_BADGES = {
    "active": ("Active", "ok", "▶"),
    "on_hold": ("On hold", "hold", "‖"),
    "discontinued": ("Discontinued", "stop", "■"),
    "completed": ("Completed", "done", "✓"),
    "cannot_assess": ("Cannot assess", "crit", "?"),
    "registered": ("Registered, no course", "reg", "○"),
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
    "treatment_stopped": ("Treatment stopped", "■"),
}
UNITS = {"10*9/L": "×10⁹/L", "/uL": "cells/µL", "g/dL": "g/dL", "[IU]/mL": "IU/mL"}
#: Monitoring the next actions name, as the overdue line calls it.
OVERDUE_NAMES = {
    "cmv-surveillance": "CMV PCR",
    "blood-count": "Full blood count",
    "blood-count-recovery": "Repeat blood count",
    "cd4": "CD4 count",
}


def fmt(v: Any) -> str:
    """A stored number without float artefacts; anything else as text."""
    if isinstance(v, float):
        return _charts.num(v)
    return "" if v is None else str(v)


def unit(u: Any) -> str:
    """A UCUM unit as the pages write it."""
    return UNITS.get(str(u), str(u or ""))


def overdue(state: Mapping[str, Any], today: dt.date) -> list[str]:
    """Monitoring that is past due: "CMV PCR overdue since 2026-11-30 (6 days)"."""
    out = []
    for action in state.get("next_actions") or []:
        due = str(action.get("due") or "")
        if not due or due >= today.isoformat() or action.get("code") == "dose":
            continue
        name = OVERDUE_NAMES.get(str(action.get("code")), str(action.get("action", "")))
        days = (today - dt.date.fromisoformat(due[:10])).days
        plural = "s" if days != 1 else ""
        out.append(f"{name.split(':')[0]} overdue since {due} ({days} day{plural})")
    cmv_due = str((state.get("cmv") or {}).get("next_test_due") or "")
    if cmv_due and cmv_due < today.isoformat() and not any(o.startswith("CMV PCR") for o in out):
        days = (today - dt.date.fromisoformat(cmv_due[:10])).days
        out.append(f"CMV PCR overdue since {cmv_due} ({days} day{'s' if days != 1 else ''})")
    return out


def local_zone() -> str:
    """The server's local time zone, named with its UTC offset."""
    now = dt.datetime.now().astimezone()
    offset = now.strftime("%z")
    return f"{now.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def local_now() -> str:
    """Now in the server's local time zone, ISO, with the zone named."""
    now = dt.datetime.now().astimezone()
    return f"{now.strftime('%Y-%m-%d %H:%M')} {now.tzname()} (UTC{now.strftime('%z')})"


@dataclass(frozen=True, slots=True)
class LabRow:
    """The latest value of a lab with its grades and the worst grade of the course."""

    code: str
    title: str
    value: str
    unit: str
    date: str
    ctcae: int | None
    iwcll: int | None
    worst_ctcae: str
    worst_iwcll: str
    source: str


def lab_rows(
    doc: Mapping[str, Any],
    state: Mapping[str, Any],
    graded: Mapping[str, Any] | None = None,
) -> list[LabRow]:
    """Latest ANC, PLT, HGB, ALC with CTCAE (and, where chosen, iwCLL) grade and worst grade."""
    graded = graded if graded is not None else lab_grades(doc)
    latest: dict[str, Mapping[str, Any]] = {}
    for r in graded["results"]:
        latest[r["code"]] = r
    out = []
    for code, title, shown in CHARTED_LABS:
        r = latest.get(code.value)
        w = graded["worst"].get(code.value, {})
        if r is None:
            continue
        worst_c = (
            f"G{w['ctcae']} ({fmt(w['ctcae_value'])} on {w['ctcae_date']})" if "ctcae" in w else "—"
        )
        worst_i = (
            f"G{w['iwcll']} ({fmt(w['iwcll_value'])} on {w['iwcll_date']})" if "iwcll" in w else "—"
        )
        out.append(
            LabRow(
                code.value,
                title,
                fmt(r["value"]),
                shown,
                r["date"],
                r.get("ctcae"),
                r.get("iwcll"),
                worst_c,
                worst_i,
                str(r.get("ctcae_source", "")),
            )
        )
    return out


def value_grades(
    doc: Mapping[str, Any], graded: Mapping[str, Any] | None = None
) -> dict[tuple[str, str, str], str]:
    """(code, date, value) → "CTCAE G3" (and ", iwCLL G2") for every graded lab value."""
    out = {}
    for r in (graded if graded is not None else lab_grades(doc))["results"]:
        parts = []
        if r.get("ctcae") is not None:
            parts.append(f"CTCAE G{r['ctcae']}")
        if r.get("iwcll") is not None:
            parts.append(f"iwCLL G{r['iwcll']}")
        out[(r["code"], r["date"], _charts.num(r["value"]))] = ", ".join(parts)
    return out


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


def group_alerts(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The course's alerts with one line per cause (code): the latest message, and the dates
    of the earlier ones as ``also``."""
    groups: dict[str, dict[str, Any]] = {}
    for a in state.get("alerts") or []:
        code = str(a.get("code"))
        g = groups.get(code)
        if g is None:
            groups[code] = {**a, "also": []}
        else:
            if a.get("date"):
                g["also"].append(g.get("date"))
            g.update({k: v for k, v in a.items() if k != "also"})
    return list(groups.values())


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
        return f"{e.get('code')} {fmt(e.get('value'))} {unit(e.get('unit', ''))}"
    if t == "cmv_pcr":
        if e.get("result"):
            return str(e["result"])
        return f"{fmt(e.get('value'))} {unit(e.get('unit', ''))}"
    if t == "cmv_antigenemia":
        return f"{e.get('value')} positive cells per 2×10⁵ leukocytes"
    if t in {"growth_factor", "transfusion"}:
        return str(e.get("drug") or e.get("product") or "")
    if t in {"infusion_reaction", "infection"}:
        extra = f" — {e['description']}" if e.get("description") else ""
        serious = " (serious)" if e.get("serious") else ""
        return f"grade {e.get('grade')}{extra}{serious}"
    if t == "fever":
        return f"{fmt(e.get('temperature_c'))} °C"
    if t == "autoimmune_cytopenia":
        return str(e.get("kind", ""))
    if t == "dose_held":
        return str(e.get("reason", ""))
    if t == "antiviral":
        dose = f" {fmt(e['dose_mg'])} mg" if e.get("dose_mg") is not None else ""
        stop = f" to {e['stop']}" if e.get("stop") else ""
        return f"{e.get('drug')}{dose} from {e.get('start', e.get('date'))}{stop}"
    if t == "infection" and e.get("resolved"):
        serious = " (serious)" if e.get("serious") else ""
        what = f"{e.get('description', '')}{serious}"
        return f"grade {e.get('grade')} — {what}, resolved {e['resolved']}"
    if t == "assessment":
        nodes = e.get("lymph_nodes") or []
        parts = [f"{len(nodes)} node(s)"]
        if e.get("spleen_cm") is not None:
            parts.append(f"spleen {e['spleen_cm']} cm")
        if e.get("marrow"):
            parts.append(f"marrow {e['marrow'].get('lymphocytes_pct')}% lymphocytes")
        if e.get("mrd"):
            parts.append(f"MRD {fmt(e['mrd'].get('level'))} ({e['mrd'].get('sample')})")
        return ", ".join(parts)
    if t == "note":
        return str(e.get("text", ""))
    if t == "treatment_stopped":
        return _stopped_text(e)
    return ", ".join(
        f"{k.replace('_', ' ')} {fmt(v)}"
        for k, v in e.items()
        if k not in {"date", "type", "id", "supersedes"}
    )


def _stopped_text(e: Mapping[str, Any]) -> str:
    """A clinician's stop in plain words: the reason, then the details."""
    reason = str(e.get("reason", ""))
    words = {r.value: label for r, label in STOP_REASON_LABELS.items()}.get(reason, reason)
    if reason == "other":
        words = "Other reason"
    text = str(e.get("text") or "").strip()
    return f"clinician decision — {words}" + (f": {text}" if text else "")


def event_text(e: Mapping[str, Any]) -> str:
    """One line for an entry: its label, what it says, its date and id."""
    label, _icon = EVENT_LABELS.get(str(e.get("type")), (str(e.get("type")), "•"))
    return f"{label}: {_event_summary(e)} ({e.get('date')}, entry {e.get('id')})"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the timeline: one entry (or a day's lab panel), who recorded it, and whether
    it was corrected or retracted (then it stays, struck through, with the reason)."""

    label: str
    icon: str
    text: str
    css: str
    ids: tuple[tuple[str, str], ...]  # (event id, short text) of the entries on this line
    superseded_by: str = ""
    note: str = ""
    time: str = ""


@dataclass(frozen=True, slots=True)
class TimelineDay:
    """One day of the timeline: its date and its entries."""

    date: str
    items: tuple[Entry, ...]


def audit_notes(entries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per event id: who recorded it and when, and a correction's or override's reason."""
    out: dict[str, dict[str, Any]] = {}
    for a in entries:
        if not str(a.get("action", "")).startswith("event."):
            continue
        after = a.get("after") or {}
        event = after.get("event") or {}
        if event.get("id") is None:
            continue
        out[str(event["id"])] = {
            "by": a.get("actor"),
            "at": str(a.get("at", ""))[:16].replace("T", " "),
            "reason": after.get("reason", ""),
            "override": (after.get("override") or {}).get("reason", ""),
        }
    return out


def timeline(
    doc: Mapping[str, Any],
    newest_first: bool = True,
    notes: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[TimelineDay]:
    """The course's entries by day; a day's lab results make one line. Corrected and retracted
    entries stay, marked, next to the entry that replaced them."""
    notes = notes or {}
    events = list(doc.get("events") or [])
    superseded = {
        str(e["supersedes"]): str(e.get("id")) for e in events if e.get("supersedes") is not None
    }
    by_day: dict[str, list[Entry]] = {}
    labs: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for e in events:
        raw = str(e.get("date", ""))
        day, clock = raw[:10], raw[11:16]
        eid = str(e.get("id"))
        t = str(e.get("type"))
        if t == "lab" and eid not in superseded:
            labs.setdefault((day, clock), []).append(e)
            continue
        label, icon = EVENT_LABELS.get(t, (t.replace("_", " ").capitalize(), "•"))
        by_day.setdefault(day, []).append(_entry(e, label, icon, clock, superseded, notes))
    for (day, clock), results in labs.items():
        text = ", ".join(
            f"{r.get('code')} {fmt(r.get('value'))} {unit(r.get('unit'))}" for r in results
        )
        ids = tuple((str(r.get("id")), f"{r.get('code')} {fmt(r.get('value'))}") for r in results)
        who = notes.get(ids[0][0], {})
        parts = [f"recorded by {who['by']} {who['at']} UTC"] if who else []
        for r in results:
            if r.get("supersedes") is not None:
                why = notes.get(str(r.get("id")), {}).get("reason", "")
                reason = f": {why}" if why else ""
                parts.append(f"{r.get('code')} corrects entry {r['supersedes']}{reason}")
        note = "; ".join(parts)
        by_day.setdefault(day, []).append(Entry("Labs", "▪", text, "ev-lab", ids, "", note, clock))
    days = sorted(by_day, reverse=newest_first)
    return [TimelineDay(d, tuple(sorted(by_day[d], key=lambda x: x.time))) for d in days]


def _entry(
    e: Mapping[str, Any],
    label: str,
    icon: str,
    clock: str,
    superseded: Mapping[str, str],
    notes: Mapping[str, Mapping[str, Any]],
) -> Entry:
    eid = str(e.get("id"))
    t = str(e.get("type"))
    parts = []
    who = notes.get(eid, {})
    if who:
        parts.append(f"recorded by {who['by']} {who['at']} UTC")
    if e.get("supersedes") is not None:
        verb = (
            "retracts"
            if t == "note" and str(e.get("text", "")).startswith("Retracted")
            else ("corrects")
        )
        reason = f": {who['reason']}" if who.get("reason") else ""
        parts.append(f"{verb} entry {e['supersedes']}{reason}")
    if who.get("override"):
        parts.append(f"safety check overridden: {who['override']}")
    by = superseded.get(eid, "")
    css = f"ev-{t}" + (" superseded" if by else "")
    return Entry(label, icon, _event_summary(e), css, ((eid, label),), by, "; ".join(parts), clock)


@dataclass(frozen=True, slots=True)
class ChartView:
    """A rendered chart and its data table rows."""

    key: str
    title: str
    unit: str
    svg: str
    rows: tuple[tuple[str, str, str], ...]  # date, value, grade
    rules: tuple[str, ...]


def charts(
    doc: Mapping[str, Any],
    state: Mapping[str, Any],
    today: dt.date,
    graded: Mapping[str, Any] | None = None,
) -> list[ChartView]:
    """The lab and CMV charts of a course, on a common time axis."""
    course = load_course(dict(doc))
    superseded = {e.supersedes for e in course.events if e.supersedes is not None}
    series: dict[LabCode, list[tuple[dt.date, float]]] = {code: [] for code, _, _ in CHARTED_LABS}
    cmv: list[tuple[dt.date, float]] = []
    cmv_nd: list[dt.date] = []
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
        elif isinstance(ev, CmvPcr):
            cmv_nd.append(ev.date)
        elif isinstance(ev, DoseGiven):
            doses.append((ev.date, f"{ev.date.isoformat()}: {ev.dose_mg:g} mg"))
    all_dates = [d for pts in series.values() for d, _ in pts] + [d for d, _ in cmv] + cmv_nd
    start, end = _charts.chart_range(all_dates + [d for d, _ in doses], today)
    rule_sets = state.get("rule_sets") or {}
    label = str(rule_sets.get("label", "us-2007"))
    scale = str(rule_sets.get("toxicity", "ctcae-5"))
    out = []
    grades = value_grades(doc, graded)
    for code, title, unit in CHARTED_LABS:
        chart = _charts.Chart(
            key=code.value,
            title=title,
            unit=unit,
            points=tuple(sorted(series[code])),
            bands=_charts.lab_bands(code, scale),
            rules=_charts.lab_rules(code, label),
            markers=tuple(doses),
            log=code is LabCode.ALC,  # lymphocytes span 0.1 to 100+: only a log axis shows both
        )
        out.append(_view(chart, start, end, grades))
    chart = _charts.Chart(
        key="CMV",
        title="CMV viral load (PCR)",
        unit="IU/mL",
        points=tuple(sorted(cmv)),
        log=True,
        markers=tuple(doses),
        not_detected=tuple(sorted(cmv_nd)),
    )
    out.append(_view(chart, start, end))
    return out


def _view(
    chart: _charts.Chart,
    start: dt.date,
    end: dt.date,
    grades: Mapping[tuple[str, str, str], str] | None = None,
) -> ChartView:
    grades = grades or {}

    def row(d: dt.date, v: float) -> tuple[str, str, str]:
        shown = _charts.num(v)
        return (d.isoformat(), shown, grades.get((chart.key, d.isoformat(), shown), ""))

    rows = tuple(
        sorted(
            [row(d, v) for d, v in chart.points]
            + [(d.isoformat(), "not detected", "") for d in chart.not_detected]
        )
    )
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


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class PlanGap:
    """Days of a plan without alemtuzumab, between two administrations, with the reason."""

    date: dt.date
    last: dt.date
    kind: str
    title: str
    detail: str
    cycle: None = None
    day: None = None


def plan_gaps(items: Sequence[Any], tiw_weekdays: Sequence[int]) -> list[Any]:
    """The plan's items with a row for every run of days without a dose, saying why (the
    schedule's rest days, or the regimen's interval), so an absent dose is never a mystery."""
    doses = sorted({i.date for i in items if i.kind == "administration"})
    tiw = ", ".join(WEEKDAYS[d] for d in tiw_weekdays)
    gaps: list[Any] = []
    for a, b in itertools.pairwise(doses):
        if (b - a).days <= 1:
            continue
        first, last = a + dt.timedelta(days=1), b - dt.timedelta(days=1)
        days = (last - first).days + 1
        if tiw and all((first + dt.timedelta(days=k)).weekday() not in tiw_weekdays
                       for k in range(days)):  # fmt: skip
            why = f"rest day{'s' if days > 1 else ''} of the three-times-weekly schedule ({tiw})"
        else:
            why = f"the regimen gives no dose for {days} day{'s' if days > 1 else ''}"
        span = first.isoformat() if days == 1 else f"{first.isoformat()} to {last.isoformat()}"
        gaps.append(PlanGap(first, last, "no-dose", f"No alemtuzumab {span}", why))
    return sorted([*items, *gaps], key=lambda i: (i.date, i.kind != "no-dose"))
